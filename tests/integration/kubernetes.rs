//! `init --for P`, `init --set PATH` (SPEC §4 `init`), and the Kubernetes user's path: the
//! known-answer kid of kubernetes/kubernetes `pkg/serviceaccount/keyid_test.go` under
//! `kid = "spki-sha256"`, and `openssl genrsa` → `init --for kubernetes` → `import` → `build`.

use crate::common::{NOW, Project, kids, tool};

/// The RSA-2048 public key of kubernetes/kubernetes pkg/serviceaccount/keyid_test.go.
const K8S_KEY: &str = include_str!("../fixtures/kubernetes-keyid-test.pub.pem");
/// Its key id there (`TestKeyIDStability`): what kube-apiserver puts in the tokens it signs.
const K8S_KID: &str = "JHJehTTTZlsspKHT-GaJxK7Kd1NQgZJu3fyK6K_QDYU";

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn the_keyid_test_go_key_imports_as_its_kubernetes_kid() {
    let p = Project::with_keyset("kid = \"spki-sha256\"\n");
    p.write("ext/sa.pub", K8S_KEY.as_bytes());
    p.ok(&["import", "ext/sa.pub", "--now", NOW]);
    assert_eq!(p.json(&format!("keys/{K8S_KID}.meta.json"))["kid"], K8S_KID);
    p.ok(&["build", "--now", NOW]);
    assert_eq!(kids(&p.json("out/public/jwks.json")), [K8S_KID]);

    // The same key as a JWK without a kid gets the same kid; a hand-dropped PEM keeps its name.
    let q = Project::with_keyset("kid = \"spki-sha256\"\n");
    q.write("keys/cluster.pem", K8S_KEY.as_bytes());
    q.ok(&["build", "--now", NOW]);
    assert_eq!(kids(&q.json("out/public/jwks.json")), ["cluster"]);
    q.ok(&["import", "keys/cluster.pem", "--now", NOW]);
    assert!(q.at("keys/cluster.meta.json").is_file(), "a hand-dropped <name>.pem keeps kid <name>");
    let jwk = q.json("out/public/jwks.json")["keys"][0].clone();
    let r = Project::with_keyset("kid = \"spki-sha256\"\n");
    let bare = serde_json::json!({"kty": "RSA", "n": jwk["n"], "e": jwk["e"]});
    r.write("ext/k8s.jwk.json", bare.to_string().as_bytes());
    r.ok(&["import", "ext/k8s.jwk.json", "--now", NOW]);
    assert!(r.at(&format!("keys/{K8S_KID}.pub.pem")).is_file());
}

#[test]
fn init_for_writes_one_rsa_signing_spec_per_party() {
    for party in ["kubernetes", "aws", "entra", "gcp"] {
        let p = Project::new();
        let out = p.ok(&["init", "--for", party]);
        let keyset = String::from_utf8(p.read("keys/keyset.toml")).unwrap();
        insta::assert_snapshot!(format!("init_for_{party}"), keyset);
        let value: toml::Value = toml::from_str(&keyset).unwrap();
        assert_eq!(value["key"].as_array().unwrap().len(), 1, "{party}: exactly one [[key]]");
        assert_eq!(value["relying_parties"].as_array().unwrap()[0].as_str(), Some(party));
        assert_eq!(value["kid"].as_str(), Some("spki-sha256"));
        assert!(value.get("issuer").is_none() && keyset.contains("\n# issuer = \"https://"), "{party}");
        assert!(p.at("site-template/README").is_file() && p.at(".gitignore").is_file(), "{party}");
        assert!(stdout_of(&out).contains("created ./keys/keyset.toml"), "{party}");
    }
    let p = Project::new();
    let stderr = p.fails(&["init", "--for", "okta"], 2);
    assert!(stderr.contains("possible values: kubernetes, aws, entra, gcp"), "{stderr}");
    assert!(!p.at("keys").exists(), "a usage error writes nothing");
}

#[test]
fn init_set_makes_a_new_set_and_refuses_an_existing_one() {
    let p = Project::new();
    p.ok(&["init"]);
    let out = p.ok(&["init", "--set", "tenants/acme", "--for", "kubernetes"]);
    insta::assert_snapshot!("init_set_stdout", stdout_of(&out));
    let acme = String::from_utf8(p.read("keys/tenants/acme/keyset.toml")).unwrap();
    assert!(acme.contains("relying_parties = [\"kubernetes\"]"));
    p.ok(&["init", "--set", "tenants/globex"]);
    assert_eq!(p.read("keys/tenants/globex/keyset.toml"), p.read("keys/keyset.toml"), "the default keyset");

    let before = p.snapshot("keys");
    let stderr = p.fails(&["init", "--set", "tenants/acme"], 1);
    insta::assert_snapshot!("init_set_existing", stderr);
    p.fails(&["init", "--set", "."], 1);
    // A directory of key files without keyset.toml is a set too.
    p.write("keys/partner/partner.pem", K8S_KEY.as_bytes());
    let stderr = p.fails(&["init", "--set", "partner"], 1);
    assert!(stderr.contains("keys/partner"), "{stderr}");
    assert_eq!(p.snapshot("keys").len(), before.len() + 1, "nothing else written");

    // `--set` writes the keyset only: no site-template, no .gitignore.
    let q = Project::new();
    q.ok(&["init", "--set", "tenants/acme"]);
    assert!(q.at("keys/tenants/acme/keyset.toml").is_file());
    assert!(!q.at("site-template").exists() && !q.at(".gitignore").exists() && !q.at("keys/keyset.toml").exists());
}

#[test]
fn the_kubernetes_path_from_openssl_genrsa_to_build() {
    let p = Project::new();
    tool("openssl", &["genrsa", "-out", "sa.key", "2048"], p.path());
    p.ok(&["init", "--for", "kubernetes"]);
    let imported = p.ok(&["import", "sa.key", "--now", NOW]);
    let built = p.ok(&["build", "--now", NOW]);
    let stderr = String::from_utf8_lossy(&built.stderr);
    assert_eq!(stderr, "", "no warning: {stderr}\nimport said: {}", stdout_of(&imported));

    let der = tool("openssl", &["pkey", "-in", "sa.key", "-pubout", "-outform", "DER"], p.path());
    let kid = base64_url(&sha256(&der, &p));
    assert_eq!(kids(&p.json("out/public/jwks.json")), std::slice::from_ref(&kid), "exactly one key, kid = spki-sha256");
    assert_eq!(p.json(&format!("keys/{kid}.meta.json"))["spec"], "rsa-sig");
    let signer = tool("openssl", &["pkey", "-in", "out/private/rsa-sig.pem", "-pubout", "-outform", "DER"], p.path());
    assert_eq!(signer, der, "--service-account-signing-key-file out/private/rsa-sig.pem is sa.key");
}

fn sha256(bytes: &[u8], p: &Project) -> Vec<u8> {
    p.write("ext/spki.der", bytes);
    tool("openssl", &["dgst", "-sha256", "-binary", "ext/spki.der"], p.path())
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
