//! Bad inputs: every one makes `build` and `check` exit 1, name the file and the problem, and
//! leave the previous `out/` (and the rest of the project) untouched, bytes and mtimes.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::common::{NOW, Project, tool};

/// Keys and PEM files made with openssl at test time (never committed).
struct Fixture {
    /// Directory holding the generated files (outside every project).
    dir: tempfile::TempDir,
    /// RSA-2048, PKCS#8.
    rsa: String,
    /// RSA-1024, PKCS#8.
    rsa1024: String,
    /// EC P-256 key A, PKCS#8.
    ec_a: String,
    /// Public key of A, SPKI.
    ec_a_pub: String,
    /// Public key of another P-256 key B, SPKI.
    ec_b_pub: String,
    /// EC secp256k1, PKCS#8.
    k1: String,
    /// DSA-2048, PKCS#8.
    dsa: String,
    /// Ed25519, PKCS#8.
    ed25519: String,
    /// EC P-256, encrypted PKCS#8 (passphrase `x`).
    encrypted: String,
    /// A self-signed certificate of key A.
    cert: String,
}

fn openssl(dir: &Path, args: &[&str]) -> String {
    String::from_utf8(tool("openssl", args, dir)).expect("openssl writes text")
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        let genpkey = |args: &[&str]| openssl(d, &[&["genpkey"], args].concat());
        let ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
        let rsa = genpkey(&["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]);
        let rsa1024 = genpkey(&["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"]);
        let ec_a = genpkey(&ec);
        let ec_b = genpkey(&ec);
        fs::write(d.join("ec_a.pem"), &ec_a).unwrap();
        fs::write(d.join("ec_b.pem"), &ec_b).unwrap();
        let ec_a_pub = openssl(d, &["pkey", "-in", "ec_a.pem", "-pubout"]);
        let ec_b_pub = openssl(d, &["pkey", "-in", "ec_b.pem", "-pubout"]);
        let k1 = genpkey(&["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1"]);
        openssl(
            d,
            &[
                "genpkey",
                "-genparam",
                "-algorithm",
                "DSA",
                "-pkeyopt",
                "dsa_paramgen_bits:2048",
                "-out",
                "dsa_params.pem",
            ],
        );
        let dsa = genpkey(&["-paramfile", "dsa_params.pem"]);
        let ed25519 = genpkey(&["-algorithm", "ED25519"]);
        let encrypted = genpkey(&[&ec[..], &["-aes256", "-pass", "pass:x"]].concat());
        let cert =
            openssl(d, &["req", "-x509", "-new", "-key", "ec_a.pem", "-subj", "/CN=jwksmith test", "-days", "1"]);
        for (what, pem, tag) in [
            ("rsa", &rsa, "BEGIN PRIVATE KEY"),
            ("ec_a_pub", &ec_a_pub, "BEGIN PUBLIC KEY"),
            ("dsa", &dsa, "BEGIN PRIVATE KEY"),
            ("encrypted", &encrypted, "BEGIN ENCRYPTED PRIVATE KEY"),
            ("cert", &cert, "BEGIN CERTIFICATE"),
        ] {
            assert!(pem.contains(tag), "{what}: openssl did not write {tag}");
        }
        Fixture { dir, rsa, rsa1024, ec_a, ec_a_pub, ec_b_pub, k1, dsa, ed25519, encrypted, cert }
    }
}

/// One bad input.
struct Case {
    /// Row name.
    name: &'static str,
    /// File names (any one) that stderr must mention.
    names: &'static [&'static str],
    /// Words (any one, case-insensitive) that stderr must contain besides the file name.
    words: &'static [&'static str],
    /// Extra arguments for `build` and `check`.
    args: &'static [&'static str],
    /// Introduces the bad input into a copy of the good project.
    setup: fn(&Fixture, &Path),
}

fn put(root: &Path, rel: &str, bytes: impl AsRef<[u8]>) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

/// An RSA PKCS#1 public key PEM with the modulus of `private_pem` and exponent `e`.
fn rsa_public_with_exponent(private_pem: &str, e: &[u8]) -> String {
    use der::Encode;
    let der = pem::parse(private_pem).unwrap().into_contents();
    let info = pkcs8::PrivateKeyInfoRef::try_from(der.as_slice()).unwrap();
    let key = pkcs1::RsaPrivateKeyRef::try_from(info.private_key.as_bytes()).unwrap();
    let public = pkcs1::RsaPublicKey { modulus: key.modulus, public_exponent: der::asn1::UintRef::new(e).unwrap() };
    pem::encode(&pem::Pem::new("RSA PUBLIC KEY", public.to_der().unwrap()))
}

/// Writes `keys/<to>.meta.json`: the metadata of `keys/<from>.meta.json` with `edit` applied.
fn meta_from(root: &Path, from: &str, to: &str, edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) {
    let text = fs::read(root.join(format!("keys/{from}.meta.json"))).unwrap();
    let mut value: serde_json::Value = serde_json::from_slice(&text).unwrap();
    let map = value.as_object_mut().expect("meta.json is an object");
    edit(map);
    put(root, &format!("keys/{to}.meta.json"), serde_json::to_vec(&value).unwrap());
}

/// Metadata for a new, unmanaged EC signing key `extra-001` (a copy of ec256-sig-001's).
fn extra_meta(root: &Path) {
    meta_from(root, "ec256-sig-001", "extra-001", |m| {
        m.insert("kid".into(), "extra-001".into());
        m.insert("label".into(), "extra-001".into());
        m.insert("id".into(), "6f1c1f5e-1d7c-4d8e-9a55-00000000e001".into());
        m.insert("spec".into(), serde_json::Value::Null);
    });
}

fn edit_rsa_sig_meta(root: &Path, edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) {
    meta_from(root, "rsa-sig-001", "rsa-sig-001", edit);
}

fn keyset(root: &Path, text: &str) {
    put(root, "keys/keyset.toml", text);
}

fn cases() -> Vec<Case> {
    vec![
        // ---- PEM files ----
        Case {
            name: "truncated PEM (file cut in half)",
            names: &["truncated.pem"],
            words: &["truncated", "invalid", "no pem block", "not a valid"],
            args: &[],
            setup: |f, p| put(p, "keys/truncated.pem", &f.rsa.as_bytes()[..f.rsa.len() / 2]),
        },
        Case {
            name: "truncated PEM body (END line kept)",
            names: &["truncated.pem"],
            words: &["truncated", "damaged", "invalid"],
            args: &[],
            setup: |f, p| {
                let lines: Vec<&str> = f.rsa.lines().collect();
                let body = &lines[1..lines.len() - 1];
                let kept = [&[lines[0]], &body[..body.len() / 2], &[lines[lines.len() - 1]]].concat();
                put(p, "keys/truncated.pem", kept.join("\n") + "\n");
            },
        },
        Case {
            name: "empty .pem file",
            names: &["empty.pem"],
            words: &["empty"],
            args: &[],
            setup: |_, p| put(p, "keys/empty.pem", ""),
        },
        Case {
            name: "PEM with trailing garbage after END",
            names: &["trailing.pem"],
            words: &["after", "trailing", "unexpected"],
            args: &[],
            setup: |f, p| put(p, "keys/trailing.pem", format!("{}garbage after the key\n", f.ec_a)),
        },
        Case {
            name: "two keys in one PEM file",
            names: &["two.pem"],
            words: &["one key", "2 pem blocks", "two"],
            args: &[],
            setup: |f, p| put(p, "keys/two.pem", format!("{}{}", f.ec_a, f.rsa)),
        },
        Case {
            name: "not-PEM text",
            names: &["notes.pem"],
            words: &["no pem block", "not a pem", "not a valid pem"],
            args: &[],
            setup: |_, p| put(p, "keys/notes.pem", "these are my notes, not a key\n"),
        },
        Case {
            name: "certificate in a .pem",
            names: &["cert.pem"],
            words: &["certificate"],
            args: &[],
            setup: |f, p| put(p, "keys/cert.pem", &f.cert),
        },
        // ---- key types ----
        Case {
            name: "RSA-1024 key",
            names: &["small.pem"],
            words: &["too small", "1024", "2048"],
            args: &[],
            setup: |f, p| put(p, "keys/small.pem", &f.rsa1024),
        },
        Case {
            name: "secp256k1 EC key",
            names: &["k1.pem"],
            words: &["secp256k1"],
            args: &[],
            setup: |f, p| put(p, "keys/k1.pem", &f.k1),
        },
        Case {
            name: "DSA key",
            names: &["dsa.pem"],
            words: &["dsa"],
            args: &[],
            setup: |f, p| put(p, "keys/dsa.pem", &f.dsa),
        },
        Case {
            name: "Ed25519 key",
            names: &["ed.pem"],
            words: &["ed25519", "okp"],
            args: &[],
            setup: |f, p| put(p, "keys/ed.pem", &f.ed25519),
        },
        Case {
            name: "encrypted PKCS#8",
            names: &["locked.pem"],
            words: &["encrypted", "passphrase"],
            args: &[],
            setup: |f, p| put(p, "keys/locked.pem", &f.encrypted),
        },
        // ---- managed pairs ----
        Case {
            name: "mismatched pair (key.pem of A, pub.pem of B, meta present)",
            names: &["extra-001.key.pem", "extra-001.pub.pem"],
            words: &["do not match", "mismatch", "does not match"],
            args: &[],
            setup: |f, p| {
                put(p, "keys/extra-001.key.pem", &f.ec_a);
                put(p, "keys/extra-001.pub.pem", &f.ec_b_pub);
                extra_meta(p);
            },
        },
        Case {
            name: ".pub.pem holding a private key",
            names: &["extra-001.pub.pem"],
            words: &["private"],
            args: &[],
            setup: |f, p| {
                put(p, "keys/extra-001.pub.pem", &f.ec_a);
                extra_meta(p);
            },
        },
        Case {
            name: ".key.pem holding only a public key",
            names: &["extra-001.key.pem"],
            words: &["public key", "not a private", "no private"],
            args: &[],
            setup: |f, p| {
                put(p, "keys/extra-001.key.pem", &f.ec_a_pub);
                extra_meta(p);
            },
        },
        Case {
            name: "duplicate kid: hand-dropped foo.pem beside managed foo.pub.pem + foo.meta.json",
            names: &["rsa-sig-001.pem"],
            words: &["twice", "duplicate", "unique"],
            args: &[],
            setup: |f, p| put(p, "keys/rsa-sig-001.pem", &f.rsa),
        },
        // ---- keyset.toml ----
        Case {
            name: "keyset.toml: TOML syntax error",
            names: &["keyset.toml"],
            words: &["parse", "syntax", "expected", "invalid"],
            args: &[],
            setup: |_, p| keyset(p, "service_id = \"example\"\npretty = \n[rotation\n"),
        },
        Case {
            name: "keyset.toml: unknown top-level field",
            names: &["keyset.toml"],
            words: &["sevice_id"],
            args: &[],
            setup: |_, p| keyset(p, "sevice_id = \"example\"\n"),
        },
        Case {
            name: "keyset.toml: unknown field in [rotation]",
            names: &["keyset.toml"],
            words: &["rotate_evry"],
            args: &[],
            setup: |_, p| keyset(p, "[rotation]\nrotate_evry = \"90d\"\n"),
        },
        Case {
            name: "keyset.toml: bad duration \"ninety days\"",
            names: &["keyset.toml"],
            words: &["ninety days", "duration"],
            args: &[],
            setup: |_, p| keyset(p, "[rotation]\nrotate_every = \"ninety days\"\n"),
        },
        Case {
            name: "keyset.toml: cache_max_age >= publish_ahead",
            names: &["keyset.toml"],
            words: &["cache_max_age"],
            args: &[],
            setup: |_, p| keyset(p, "[rotation]\npublish_ahead = \"1d\"\ncache_max_age = \"1d\"\n"),
        },
        Case {
            name: "keyset.toml: unsupported RSA size 1024",
            names: &["keyset.toml"],
            words: &["1024"],
            args: &[],
            setup: |_, p| keyset(p, "[[key]]\nspec = \"rsa-sig\"\nkty = \"RSA\"\nsize = 1024\n"),
        },
        Case {
            name: "keyset.toml: unknown alg",
            names: &["keyset.toml"],
            words: &["hs256"],
            args: &[],
            setup: |_, p| keyset(p, "[[key]]\nspec = \"rsa-sig\"\nkty = \"RSA\"\nalg = \"HS256\"\n"),
        },
        Case {
            name: "keyset.toml: alg that does not fit kty/crv",
            names: &["keyset.toml"],
            words: &["es384"],
            args: &[],
            setup: |_, p| keyset(p, "[[key]]\nspec = \"ec256-sig\"\nkty = \"EC\"\ncrv = \"P-256\"\nalg = \"ES384\"\n"),
        },
        // ---- meta.json ----
        Case {
            name: "meta.json: invalid JSON",
            names: &["rsa-sig-001.meta.json"],
            words: &["json", "eof", "metadata"],
            args: &[],
            setup: |_, p| put(p, "keys/rsa-sig-001.meta.json", "{\"kid\": \"rsa-sig-001\", "),
        },
        Case {
            name: "meta.json: kid differs from the file name",
            names: &["rsa-sig-001.meta.json"],
            words: &["rsa-sig-999"],
            args: &[],
            setup: |_, p| {
                edit_rsa_sig_meta(p, |m| {
                    m.insert("kid".into(), "rsa-sig-999".into());
                })
            },
        },
        Case {
            name: "meta.json: retires before activates",
            names: &["rsa-sig-001.meta.json"],
            words: &["order", "before", "after"],
            args: &[],
            setup: |_, p| {
                edit_rsa_sig_meta(p, |m| {
                    m.insert("retires".into(), "2025-06-01T00:00:00Z".into());
                })
            },
        },
        Case {
            name: "meta.json: unknown member",
            names: &["rsa-sig-001.meta.json"],
            words: &["colour"],
            args: &[],
            setup: |_, p| {
                edit_rsa_sig_meta(p, |m| {
                    m.insert("colour".into(), "red".into());
                })
            },
        },
        Case {
            name: "meta.json: alg ES256 on an RSA key",
            names: &["rsa-sig-001.meta.json"],
            words: &["es256"],
            args: &[],
            setup: |_, p| {
                edit_rsa_sig_meta(p, |m| {
                    m.insert("alg".into(), "ES256".into());
                })
            },
        },
        Case {
            name: "meta.json with no key file beside it",
            names: &["orphan-001.meta.json"],
            words: &["no key file", "missing", "not found"],
            args: &[],
            setup: |_, p| {
                meta_from(p, "rsa-sig-001", "orphan-001", |m| {
                    m.insert("kid".into(), "orphan-001".into());
                    m.insert("label".into(), "orphan-001".into());
                    m.insert("spec".into(), serde_json::Value::Null);
                })
            },
        },
        // ---- paths ----
        Case {
            name: "symlink in keys/ pointing outside keys/",
            names: &["linked.pem"],
            words: &["symlink", "link"],
            args: &[],
            setup: |f, p| std::os::unix::fs::symlink(f.dir.path().join("ec_a.pem"), p.join("keys/linked.pem")).unwrap(),
        },
        Case {
            name: "dangling symlink (an unreadable key file)",
            names: &["gone.pem"],
            words: &["points to nothing", "symlink"],
            args: &[],
            setup: |_, p| std::os::unix::fs::symlink(p.join("keys/no-such-target"), p.join("keys/gone.pem")).unwrap(),
        },
        Case {
            name: "non-UTF-8 file name",
            names: &["\u{FFFD}"],
            words: &["utf-8"],
            args: &[],
            setup: |f, p| {
                use std::os::unix::ffi::OsStrExt;
                let name = std::ffi::OsStr::from_bytes(b"bad-\xff.pem");
                fs::write(p.join("keys").join(name), &f.ec_a).unwrap();
            },
        },
        Case {
            name: "out/public is a file",
            names: &["public"],
            words: &["directory"],
            args: &[],
            setup: |_, p| {
                fs::remove_dir_all(p.join("out/public")).unwrap();
                put(p, "out/public", "not a directory\n");
            },
        },
        Case {
            name: "--keys is a file",
            names: &["keyset.toml"],
            words: &["directory"],
            args: &["--keys", "keys/keyset.toml"],
            setup: |_, _| {},
        },
        Case {
            name: "RSA public exponent 1",
            names: &["e1.pem"],
            words: &["exponent"],
            args: &[],
            setup: |f, p| put(p, "keys/e1.pem", rsa_public_with_exponent(&f.rsa, &[1])),
        },
        Case {
            name: "RSA public exponent even (65536)",
            names: &["even.pem"],
            words: &["exponent"],
            args: &[],
            setup: |f, p| put(p, "keys/even.pem", rsa_public_with_exponent(&f.rsa, &[1, 0, 0])),
        },
        Case {
            name: "EC point not on the curve",
            names: &["offcurve.pem"],
            words: &["not on curve", "curve"],
            args: &[],
            setup: |f, p| {
                let mut der = pem::parse(&f.ec_a_pub).unwrap().into_contents();
                let last = der.len() - 1;
                der[last] ^= 1;
                put(p, "keys/offcurve.pem", pem::encode(&pem::Pem::new("PUBLIC KEY", der)));
            },
        },
        Case {
            name: "--out is a regular file",
            names: &["out.txt"],
            words: &["directory"],
            args: &["--out", "out.txt"],
            setup: |_, p| put(p, "out.txt", "a regular file, not a directory\n"),
        },
        // ---- issue 12: validation (tests/validation.rs has FIFOs, sockets and devices) ----
        Case {
            name: "RSA private key whose d is wrong (p, q, dp, dq, qi right)",
            names: &["wrong-d.pem"],
            words: &["inconsistent"],
            args: &[],
            setup: |f, p| put(p, "keys/wrong-d.pem", rsa_with_wrong_d(&f.rsa)),
        },
        Case {
            name: "meta.json: id in braces",
            names: &["rsa-sig-001.meta.json"],
            words: &["canonical"],
            args: &[],
            setup: |_, p| {
                edit_rsa_sig_meta(p, |m| {
                    let id = format!("{{{}}}", m["id"].as_str().unwrap());
                    m.insert("id".into(), id.into());
                })
            },
        },
        Case {
            name: "meta.json: id in upper case",
            names: &["rsa-sig-001.meta.json"],
            words: &["canonical"],
            args: &[],
            setup: |_, p| {
                edit_rsa_sig_meta(p, |m| {
                    let id = m["id"].as_str().unwrap().to_uppercase();
                    m.insert("id".into(), id.into());
                })
            },
        },
        Case {
            name: "meta.json: created after now",
            names: &["rsa-sig-001.meta.json"],
            words: &["after now"],
            args: &[],
            setup: |_, p| {
                edit_rsa_sig_meta(p, |m| {
                    m.insert("created".into(), "2026-06-01T00:00:00Z".into());
                    m.insert("activates".into(), "2026-06-01T00:00:00Z".into());
                })
            },
        },
        Case {
            name: "sparse 2 MiB .pem",
            names: &["sparse.pem"],
            words: &["1 mib"],
            args: &[],
            setup: |_, p| fs::File::create(p.join("keys/sparse.pem")).unwrap().set_len(2 << 20).unwrap(),
        },
        Case {
            name: "/dev/zero symlinked in as big.pem",
            names: &["big.pem"],
            words: &["outside"],
            args: &[],
            setup: |_, p| std::os::unix::fs::symlink("/dev/zero", p.join("keys/big.pem")).unwrap(),
        },
        Case {
            name: "symlink loop",
            names: &["loop-a.pem", "loop-b.pem"],
            words: &["loop"],
            args: &[],
            setup: |_, p| {
                std::os::unix::fs::symlink("loop-b.pem", p.join("keys/loop-a.pem")).unwrap();
                std::os::unix::fs::symlink("loop-a.pem", p.join("keys/loop-b.pem")).unwrap();
            },
        },
        Case {
            name: "file name with a terminal escape sequence",
            names: &[r"evil\x1b[31m.pem"],
            words: &["no pem block", "not a pem"],
            args: &[],
            setup: |_, p| put(p, "keys/evil\x1b[31m.pem", "not a key\n"),
        },
        Case {
            name: "FIFO named *.pem",
            names: &["pipe.pem"],
            words: &["fifo"],
            args: &[],
            setup: |_, p| mkfifo(&p.join("keys/pipe.pem")),
        },
        Case {
            name: "FIFO as keyset.toml",
            names: &["keyset.toml"],
            words: &["fifo"],
            args: &[],
            setup: |_, p| {
                fs::remove_file(p.join("keys/keyset.toml")).unwrap();
                mkfifo(&p.join("keys/keyset.toml"));
            },
        },
        Case {
            name: "Unix socket named *.pem",
            names: &["sock.pem"],
            words: &["socket"],
            args: &[],
            setup: |_, p| drop(std::os::unix::net::UnixListener::bind(p.join("keys/sock.pem")).unwrap()),
        },
        Case {
            name: "FIFO template",
            names: &["site-template/index.html"],
            words: &["fifo"],
            args: &[],
            setup: |_, p| {
                fs::create_dir_all(p.join("site-template")).unwrap();
                mkfifo(&p.join("site-template/index.html"));
            },
        },
        Case {
            name: "sparse 2 MiB template",
            names: &["site-template/index.html"],
            words: &["1 mib"],
            args: &[],
            setup: |_, p| {
                fs::create_dir_all(p.join("site-template")).unwrap();
                fs::File::create(p.join("site-template/index.html")).unwrap().set_len(2 << 20).unwrap();
            },
        },
        // ---- issue 14: the issuer ----
        Case {
            name: "keyset.toml: issuer over http:// on a public host",
            names: &["keyset.toml"],
            words: &["loopback"],
            args: &[],
            setup: |_, p| keyset(p, "issuer = \"http://keys.example.com\"\n"),
        },
        Case {
            name: "keyset.toml: issuer that is not a URL",
            names: &["keyset.toml"],
            words: &["not an https:// url"],
            args: &[],
            setup: |_, p| keyset(p, "issuer = \"keys.example.com/tenants/acme\"\n"),
        },
        Case {
            name: "keyset.toml: issuer with a query",
            names: &["keyset.toml"],
            words: &["query"],
            args: &[],
            setup: |_, p| keyset(p, "issuer = \"https://keys.example.com/?tenant=acme\"\n"),
        },
        Case {
            name: "keyset.toml: issuer in [discovery]",
            names: &["keyset.toml"],
            words: &["[discovery] issuer"],
            args: &[],
            setup: |_, p| {
                keyset(
                    p,
                    "issuer = \"https://keys.example.com\"\n[discovery]\nissuer = \"https://other.example.com\"\n",
                )
            },
        },
        Case {
            name: "keyset.toml: unknown relying party",
            names: &["keyset.toml"],
            words: &["okta"],
            args: &[],
            setup: |_, p| keyset(p, "relying_parties = [\"aws\", \"okta\"]\n"),
        },
        Case {
            name: "keyset.toml: [discovery] without issuer",
            names: &["keyset.toml"],
            words: &["`issuer` is not set"],
            args: &[],
            setup: |_, p| keyset(p, "[discovery]\ntoken_endpoint = \"https://keys.example.com/token\"\n"),
        },
    ]
}

/// What a path in the project is: kind, content, inode, mode, mtime.
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    kind: &'static str,
    content: Vec<u8>,
    ino: u64,
    mode: u32,
    mtime: SystemTime,
}

/// Every path under `root` (links not followed): what it is and when it last changed.
fn state(root: &Path) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry.unwrap();
        let md = fs::symlink_metadata(entry.path()).unwrap();
        let (kind, content) = if md.file_type().is_symlink() {
            let target = fs::read_link(entry.path()).unwrap();
            ("link", target.to_string_lossy().as_bytes().to_vec())
        } else if md.is_dir() {
            ("dir", Vec::new())
        } else if md.is_file() {
            ("file", fs::read(entry.path()).unwrap())
        } else {
            // A FIFO or socket of a case: opening it could block.
            ("special", Vec::new())
        };
        let rel = entry.path().strip_prefix(root).unwrap().to_string_lossy().to_string();
        out.insert(rel, Entry { kind, content, ino: md.ino(), mode: md.mode(), mtime: md.modified().unwrap() });
    }
    out
}

/// The paths whose entries differ between two states (contents are not printed: keys/ holds
/// private keys).
fn differences(before: &BTreeMap<String, Entry>, after: &BTreeMap<String, Entry>) -> Vec<String> {
    let mut diffs = Vec::new();
    for (path, b) in before {
        match after.get(path) {
            None => diffs.push(format!("removed {path}")),
            Some(a) if a.content != b.content => diffs.push(format!("changed bytes {path}")),
            Some(a) if a.mtime != b.mtime => diffs.push(format!("changed mtime {path}")),
            Some(a) if a.ino != b.ino => diffs.push(format!("replaced {path}")),
            Some(a) if a.mode != b.mode => diffs.push(format!("changed mode {path}")),
            Some(_) => {}
        }
    }
    for path in after.keys().filter(|p| !before.contains_key(*p)) {
        diffs.push(format!("created {path}"));
    }
    diffs
}

/// Sets the mtime of every file and directory under `root` to a fixed past instant, so that
/// any rewrite shows as a changed mtime whatever the file system's timestamp granularity.
fn freeze_mtimes(root: &Path) {
    let past = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    for entry in walkdir::WalkDir::new(root) {
        let entry = entry.unwrap();
        // Links are not followed; a FIFO or socket of a case is not opened (it could block).
        if entry.path_is_symlink() || !(entry.file_type().is_file() || entry.file_type().is_dir()) {
            continue;
        }
        let file = fs::File::open(entry.path()).unwrap();
        file.set_modified(past).unwrap();
    }
}

/// Copies a directory tree (files with their permissions, links as links).
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if kind.is_dir() {
            copy_tree(&src, &dst);
        } else {
            fs::copy(&src, &dst).unwrap();
        }
    }
    let mode = fs::metadata(from).unwrap().permissions().mode();
    fs::set_permissions(to, fs::Permissions::from_mode(mode)).unwrap();
}

/// Checks one command's failure; returns the problems found.
fn judge(cmd: &str, case: &Case, code: Option<i32>, stderr: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if code != Some(1) {
        problems.push(format!("{cmd}: exit {code:?}, expected 1"));
    }
    if stderr.contains("panicked") {
        problems.push(format!("{cmd}: panicked"));
    }
    if !case.names.iter().any(|n| stderr.contains(n)) {
        problems.push(format!("{cmd}: stderr names none of {:?}", case.names));
    }
    let mut rest = stderr.to_lowercase();
    for name in case.names {
        rest = rest.replace(&name.to_lowercase(), "");
    }
    if !case.words.iter().any(|w| rest.contains(w)) {
        problems.push(format!("{cmd}: stderr says none of {:?}", case.words));
    }
    problems
}

/// Runs one case on a fresh copy of the good project; returns the problems found and what
/// `build` printed on stderr.
fn run_case(template: &Path, fixture: &Fixture, case: &Case) -> (Vec<String>, String) {
    let p = Project::new();
    copy_tree(template, p.path());
    (case.setup)(fixture, p.path());
    freeze_mtimes(p.path());
    let before = state(p.path());
    let mut problems = Vec::new();
    let mut message = String::new();
    for cmd in ["build", "check"] {
        let args: Vec<&str> = [&[cmd, "--now", NOW][..], case.args].concat();
        let out = p.run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        if cmd == "build" {
            message = stable(&stderr.replace(&p.path().display().to_string(), "[PROJECT]"));
        }
        let found = judge(cmd, case, out.status.code(), &stderr);
        if !found.is_empty() {
            problems.extend(found);
            problems.push(format!("{cmd} stderr: {}", stderr.trim_end()));
        }
        let diffs = differences(&before, &state(p.path()));
        if !diffs.is_empty() {
            problems.push(format!("{cmd} touched the project: {}", diffs.join(", ")));
        }
    }
    (problems, message)
}

/// `text` without what differs from run to run: the random UUIDs of generated keys become
/// `[UUID]`, and the byte offsets in DER errors (keys made at test time differ in length by a
/// byte or two) become `N`.
fn stable(text: &str) -> String {
    let is_uuid = |w: &[u8]| {
        w.len() == 36
            && w.iter().enumerate().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => *c == b'-',
                _ => c.is_ascii_hexdigit(),
            })
    };
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let mut line = line.to_string();
        while let Some(at) = (0..line.len().saturating_sub(35)).find(|&i| is_uuid(&line.as_bytes()[i..i + 36])) {
            line.replace_range(at..at + 36, "[UUID]");
        }
        if line.contains("DER") {
            line = offsets_as_n(&line);
        }
        out.push_str(&line);
    }
    out
}

/// Every run of three or more digits in `line` as `N` (byte offsets; `PKCS#8` stays).
fn offsets_as_n(line: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    for c in line.chars().chain(std::iter::once('\0')) {
        if c.is_ascii_digit() {
            run.push(c);
            continue;
        }
        out.push_str(if run.len() >= 3 { "N" } else { &run });
        run.clear();
        if c != '\0' {
            out.push(c);
        }
    }
    out
}

/// The message of a panic (an assertion of the harness, such as its leak scan).
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    match (payload.downcast_ref::<String>(), payload.downcast_ref::<&str>()) {
        (Some(s), _) => s.clone(),
        (_, Some(s)) => s.to_string(),
        _ => "(no message)".into(),
    }
}

#[test]
fn bad_inputs_fail_clearly_and_leave_out_untouched() {
    let fixture = Fixture::new();
    let template = Project::new();
    template.ok(&["init"]);
    template.ok(&["rotate", "--now", NOW]);
    template.ok(&["build", "--now", NOW]);
    template.ok(&["check", "--now", NOW]);
    assert!(template.at("out/public/jwks.json").is_file());

    let cases = cases();
    let results: Vec<(Vec<String>, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = cases.iter().map(|case| s.spawn(|| run_case(template.path(), &fixture, case))).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|payload| (vec![format!("panicked: {}", panic_text(&*payload))], String::new()))
            })
            .collect()
    });

    let mut report = String::new();
    let mut messages = String::new();
    let mut failed = 0;
    for (case, (problems, message)) in cases.iter().zip(&results) {
        messages.push_str(&format!("## {}\n{message}\n", case.name));
        if problems.is_empty() {
            report.push_str(&format!("ok   {}\n", case.name));
        } else {
            failed += 1;
            report.push_str(&format!("FAIL {}\n", case.name));
            for problem in problems {
                report.push_str(&format!("       {}\n", problem.replace('\n', "\n       ")));
            }
        }
    }
    println!("{report}");
    assert_eq!(failed, 0, "{failed} of {} bad inputs mishandled:\n{report}", cases.len());
    // What `build` says about each bad input is part of the interface: a change is a reviewed diff.
    insta::assert_snapshot!("build_messages", messages);
}

#[test]
fn invalid_now_is_a_usage_error() {
    let p = Project::new();
    let stderr = p.fails(&["build", "--now", "garbage"], 2);
    assert!(stderr.contains("--now") || stderr.contains("garbage"), "{stderr}");
    assert!(!p.at("out").exists());
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let p = Project::new();
    let stderr = p.fails(&["frobnicate"], 2);
    assert!(stderr.contains("frobnicate"), "{stderr}");
}

#[test]
fn import_of_a_jwk_whose_d_does_not_match_x_y_fails() {
    let p = Project::new();
    let jwk = r#"{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","d":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE"}"#;
    p.write("wrong-d.jwk.json", jwk.as_bytes());
    let stderr = p.fails(&["import", "wrong-d.jwk.json", "--now", NOW], 1);
    assert!(stderr.contains("wrong-d.jwk.json") && stderr.contains("does not match"), "{stderr}");
    assert!(!p.at("keys").exists() || fs::read_dir(p.at("keys")).unwrap().next().is_none(), "nothing written");
}

#[test]
fn missing_key_directory_hints_at_init() {
    let p = Project::new();
    let stderr = p.fails(&["build", "--now", NOW], 1);
    assert!(stderr.contains("keys"), "{stderr}");
    assert!(stderr.contains("jwksmith init"), "{stderr}");
    assert!(!p.at("out").exists(), "build created out/ without keys/");
    let stderr = p.fails(&["check", "--now", NOW], 1);
    assert!(stderr.contains("jwksmith init"), "{stderr}");
}

/// Clears the immutable attribute of a tree on drop, so the temp dir can be removed.
struct Immutable<'a>(&'a Path);

impl Drop for Immutable<'_> {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr").args(["-R", "-i"]).arg(self.0).status();
    }
}

/// A read-only `out/` (root ignores mode bits, so the tree is made immutable with chattr).
#[test]
fn read_only_out_fails_clearly() {
    let p = Project::with_keyset("[[key]]\nspec = \"es\"\nkty = \"EC\"\n");
    p.ok(&["rotate", "--now", NOW]);
    p.ok(&["build", "--now", NOW]);
    p.write(
        "keys/extra.pem",
        tool("openssl", &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], p.path()).as_slice(),
    );
    let before = p.snapshot("out");
    let locked = std::process::Command::new("chattr").args(["-R", "+i"]).arg(p.at("out")).status();
    if !locked.is_ok_and(|s| s.success()) {
        assert!(std::env::var_os("CI").is_none(), "CI's temp dir must support chattr +i");
        eprintln!("skipped: chattr +i is not supported here");
        return;
    }
    let _guard = Immutable(&p.at("out"));
    let stderr = p.fails(&["build", "--now", NOW], 1);
    assert!(stderr.contains("out"), "{stderr}");
    assert!(stderr.to_lowercase().contains("not permitted") || stderr.contains("denied"), "{stderr}");
    drop(_guard);
    assert_eq!(p.snapshot("out"), before, "out/ unchanged");
}

/// `private_pem` (PKCS#8 RSA) as PKCS#1 with `d + 2` for `d`: the CRT members stay right, so
/// it signs, but `d·e ≢ 1 mod λ(n)`.
fn rsa_with_wrong_d(private_pem: &str) -> String {
    use der::Encode;
    let der = pem::parse(private_pem).unwrap().into_contents();
    let info = pkcs8::PrivateKeyInfoRef::try_from(der.as_slice()).unwrap();
    let key = pkcs1::RsaPrivateKeyRef::try_from(info.private_key.as_bytes()).unwrap();
    let mut d = key.private_exponent.as_bytes().to_vec();
    let mut add = 2u8;
    for byte in d.iter_mut().rev() {
        let (sum, carry) = byte.overflowing_add(add);
        *byte = sum;
        if !carry {
            break;
        }
        add = 1;
    }
    let wrong = pkcs1::RsaPrivateKey {
        modulus: key.modulus,
        public_exponent: key.public_exponent,
        private_exponent: der::asn1::UintRef::new(&d).unwrap(),
        prime1: key.prime1,
        prime2: key.prime2,
        exponent1: key.exponent1,
        exponent2: key.exponent2,
        coefficient: key.coefficient,
        other_prime_infos: None,
    };
    pem::encode(&pem::Pem::new("RSA PRIVATE KEY", wrong.to_der().unwrap()))
}

fn mkfifo(path: &Path) {
    tool("mkfifo", &[path.to_str().unwrap()], Path::new("."));
}
