//! How `import` names keys and where it puts them: `--set` stays inside `keys/`, a hand-dropped
//! `<name>.pem` keeps kid `<name>` whatever its characters, `--alg` alone implies its use, and a
//! file name's stem is the kid under the `sequence` strategy.

use crate::common::{NOW, Project, kids, tool};

/// A key made by openssl in the project's `ext/` directory (outside `keys/`), returned as a path
/// relative to the project.
fn openssl_key(p: &Project, name: &str, algorithm: &[&str]) -> String {
    std::fs::create_dir_all(p.at("ext")).unwrap();
    let rel = format!("ext/{name}");
    let mut args = vec!["genpkey"];
    args.extend_from_slice(algorithm);
    args.extend_from_slice(&["-out", &rel]);
    tool("openssl", &args, p.path());
    rel
}

const RSA: [&str; 4] = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"];
const P256: [&str; 4] = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];

/// Every file under the project, except the build record and the generated key sources.
fn files_outside_keys_and_out(p: &Project) -> Vec<String> {
    walkdir::WalkDir::new(p.path())
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(p.path()).unwrap().to_string_lossy().to_string())
        .filter(|rel| !["keys/", "out/", "ext/", ".jwksmith-cache/"].iter().any(|d| rel.starts_with(d)))
        .collect()
}

#[test]
fn a_set_path_that_leaves_keys_is_refused() {
    let p = Project::with_keyset("");
    let key = openssl_key(&p, "k.pem", &P256);
    for set in ["../escaped", "/tmp/jwksmith-escaped", "a/../../b", ".hidden", "a//b"] {
        let stderr = p.fails(&["import", &key, "--set", set, "--now", NOW], 2);
        assert!(stderr.contains("not a publish path"), "{set}: {stderr}");
        assert!(stderr.contains("tenants/acme"), "the error shows what a publish path looks like: {stderr}");
        let stderr = p.fails(&["build", "--set", set, "--now", NOW], 2);
        assert!(stderr.contains("not a publish path"), "{set}: {stderr}");
    }
    assert_eq!(files_outside_keys_and_out(&p), Vec::<String>::new(), "nothing written outside keys/");
    assert!(!p.path().join("escaped").exists());
    p.ok(&["import", &key, "--set", "./tenants/acme/", "--now", NOW]);
    assert!(p.at("keys/tenants/acme/k.meta.json").is_file(), "a new set's directory is made under keys/");
}

#[test]
fn a_hand_dropped_key_keeps_its_name_through_import() {
    let p = Project::with_keyset("");
    let key = openssl_key(&p, "k.pem", &P256);
    std::fs::copy(p.at(&key), p.at("keys/my key.pem")).unwrap();
    let built = p.ok(&["build", "--now", NOW]);
    assert_eq!(kids(&p.json("out/public/jwks.json")), ["my key"]);
    let stderr = String::from_utf8_lossy(&built.stderr);
    assert!(stderr.contains("run `jwksmith import 'keys/my key.pem'`"), "the hint is one shell word: {stderr}");

    p.ok(&["import", "keys/my key.pem", "--now", NOW]);
    assert!(!p.at("keys/my key.pem").exists(), "the hand-dropped file became managed files");
    for managed in ["my key.key.pem", "my key.pub.pem", "my key.meta.json"] {
        assert!(p.at(&format!("keys/{managed}")).is_file(), "{managed}");
    }
    let built = p.ok(&["build", "--now", NOW]);
    assert_eq!(kids(&p.json("out/public/jwks.json")), ["my key"]);
    assert!(!String::from_utf8_lossy(&built.stderr).contains("no creation time"), "it has metadata now");

    // --kid cannot rename a hand-dropped key (its kid is published); its own name is accepted.
    let legacy = openssl_key(&p, "legacy.pem", &P256);
    std::fs::copy(p.at(&legacy), p.at("keys/legacy.pem")).unwrap();
    let before = p.snapshot("keys");
    let stderr = p.fails(&["import", "keys/legacy.pem", "--kid", "renamed", "--now", NOW], 1);
    assert!(stderr.contains("keys/legacy.pem") && stderr.contains("keeps its kid `legacy`"), "{stderr}");
    assert!(stderr.contains("without --kid"), "the error gives the next step: {stderr}");
    assert_eq!(p.snapshot("keys"), before, "nothing changed");
    p.ok(&["import", "keys/legacy.pem", "--kid", "legacy", "--now", NOW]);
    assert!(p.at("keys/legacy.meta.json").is_file() && !p.at("keys/renamed.meta.json").exists());

    // A name given with --kid must still be a plain file name.
    let other = openssl_key(&p, "o.pem", &P256);
    let stderr = p.fails(&["import", &other, "--kid", "your key", "--now", NOW], 2);
    assert!(stderr.contains("--kid your key") && stderr.contains("letters, digits"), "{stderr}");
}

#[test]
fn alg_alone_implies_its_use() {
    let p = Project::with_keyset("");
    let key = openssl_key(&p, "enc.pem", &RSA);
    p.ok(&["import", &key, "--alg", "RSA-OAEP", "--now", NOW]);
    let meta = p.json("keys/enc.meta.json");
    assert_eq!((meta["use"].as_str(), meta["alg"].as_str()), (Some("enc"), Some("RSA-OAEP")));

    let ec = openssl_key(&p, "ec.pem", &P256);
    let stderr = p.fails(&["import", &ec, "--alg", "RS256", "--now", NOW], 2);
    assert!(stderr.contains("leave --alg out for ES256"), "the error gives the next step: {stderr}");
}

#[test]
fn under_sequence_the_kid_is_the_file_name_without_its_key_suffix() {
    let p = Project::with_keyset("");
    let key = openssl_key(&p, "signer.key.pem", &P256);
    p.ok(&["import", &key, "--now", NOW]);
    assert!(p.at("keys/signer.meta.json").is_file());
    p.ok(&["build", "--now", NOW]);
    assert_eq!(kids(&p.json("out/public/jwks.json")), ["signer"]);
}

#[test]
fn a_missing_file_is_named_once_with_the_next_step() {
    let p = Project::with_keyset("");
    let stderr = p.fails(&["import", "missing.pem", "--now", NOW], 1);
    assert!(stderr.contains("missing.pem: file not found"), "{stderr}");
    assert!(stderr.contains("hint: give the path of a PEM or JWK file"), "{stderr}");
    assert!(!stderr.contains("caused by"), "the cause is not repeated: {stderr}");
}
