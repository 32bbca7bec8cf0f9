//! `Debug` of every type that holds key material prints no secret: the loaded model (sets,
//! keys, key material, secret keys) and freshly generated keys.

use crate::common::{NOW, Project};
use jwksmith::config::KeysetConfig;
use jwksmith::keydir::discover;
use jwksmith::selftest::{SelfTested, read_set_tested};
use jwksmith::shapes::private_jwk;

fn assert_redacted(debug: &str, secrets: &[String], what: &str) {
    assert!(!debug.contains("PRIVATE KEY"), "{what} Debug prints a PEM private key");
    for secret in secrets {
        assert!(!debug.contains(secret.as_str()), "{what} Debug prints private member {secret}");
    }
}

#[test]
fn debug_output_never_contains_private_key_material() {
    let p = Project::with_keyset("[[key]]\nspec = \"rs\"\nkty = \"RSA\"\n[[key]]\nspec = \"es\"\nkty = \"EC\"\n");
    p.ok(&["rotate", "--now", NOW]);
    let dirs = discover(&p.at("keys")).unwrap();
    let (set, _) = read_set_tested(&dirs[0], &SelfTested::default()).unwrap();
    assert_eq!(set.keys.len(), 2);
    let mut secrets = Vec::new();
    for key in &set.keys {
        let jwk = private_jwk(key, false).expect("private part loaded");
        for (name, value) in &jwk.0 {
            if ["d", "p", "q", "dp", "dq", "qi"].contains(name) {
                secrets.push(value.as_str().unwrap().to_string());
            }
        }
        let secret = key.material.secret.as_ref().unwrap();
        assert_redacted(&format!("{secret:?}"), &secrets, "SecretKey");
        assert_redacted(&format!("{:?}", key.material), &secrets, "KeyMaterial");
        assert_redacted(&format!("{key:?} {key:#?}"), &secrets, "Key");
    }
    assert_eq!(secrets.len(), 7, "six RSA members and one EC d");
    assert_redacted(&format!("{set:?} {set:#?}"), &secrets, "KeySet");

    let spec = &KeysetConfig::default().keys[2];
    let generated = jwksmith::generate::generate(spec).unwrap();
    let pem = generated.material.pkcs8_pem().unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let debug = format!("{generated:?}");
    assert!(!debug.contains(&body[..40]) && !debug.contains("PRIVATE KEY"), "Generated Debug: {debug}");
}
