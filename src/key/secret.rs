//! The secret half of a key: its integers, a `Debug` that prints none of them, its private JWK
//! members (derived once), and the consistency check of an RSA private key's members.

use std::fmt;
use std::sync::OnceLock;

use super::Members;
use super::encode::b64u;
use super::public::{PublicKey, PublicParts};

/// The secret half of a key. Its `Debug` prints no key material.
#[derive(Clone)]
pub struct SecretKey {
    parts: SecretParts,
    members: OnceLock<Members>,
}

/// The integers of a secret key.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum SecretParts {
    /// RSA private exponent and CRT members, big-endian without leading zeros.
    Rsa { d: Vec<u8>, p: Vec<u8>, q: Vec<u8>, dp: Vec<u8>, dq: Vec<u8>, qi: Vec<u8> },
    /// EC private scalar, fixed-length big-endian.
    Ec { d: Vec<u8> },
}

impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        self.parts == other.parts
    }
}

impl Eq for SecretKey {}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.parts {
            SecretParts::Rsa { .. } => f.write_str("SecretKey(RSA, redacted)"),
            SecretParts::Ec { .. } => f.write_str("SecretKey(EC, redacted)"),
        }
    }
}

impl SecretKey {
    pub(super) fn new(parts: SecretParts) -> Self {
        SecretKey { parts, members: OnceLock::new() }
    }

    /// The integers.
    pub(crate) fn parts(&self) -> &SecretParts {
        &self.parts
    }

    /// The private JWK members: RSA `d, p, q, dp, dq, qi`; EC a fixed-length `d`.
    pub fn members(&self) -> Members {
        self.members_ref().clone()
    }

    /// [`SecretKey::members`], borrowed from the key.
    pub(crate) fn members_ref(&self) -> &Members {
        self.members.get_or_init(|| match &self.parts {
            SecretParts::Rsa { d, p, q, dp, dq, qi } => vec![
                ("d", b64u(d)),
                ("p", b64u(p)),
                ("q", b64u(q)),
                ("dp", b64u(dp)),
                ("dq", b64u(dq)),
                ("qi", b64u(qi)),
            ],
            SecretParts::Ec { d } => vec![("d", b64u(d))],
        })
    }
}

/// Checks that an RSA private key is consistent in every member it carries: `n = p·q`,
/// `d·e ≡ 1` mod λ(n) (checked mod `p−1` and mod `q−1`, which is the same as mod their lcm),
/// `dp = d mod (p−1)`, `dq = d mod (q−1)`, `qi = q⁻¹ mod p`. Signing uses only the CRT
/// members, so a wrong `d` signs and verifies; but `out/private/jwks.json` publishes `d`.
///
/// The arithmetic is not constant-time: it runs once per read of a key, on the machine that
/// holds the key file, where timing tells nothing the file does not.
pub(super) fn check_rsa_private(public: &PublicKey, secret: &SecretParts) -> Result<(), String> {
    use num_bigint::BigUint;
    let (PublicParts::Rsa { n, e }, SecretParts::Rsa { d, p, q, dp, dq, qi }) = (public.parts(), secret) else {
        return Ok(());
    };
    let big = |bytes: &[u8]| BigUint::from_bytes_be(bytes);
    let (n, e, d, p, q, dp, dq, qi) = (big(n), big(e), big(d), big(p), big(q), big(dp), big(dq), big(qi));
    let one = BigUint::from(1u8);
    let wrong = |relation: &str, member: &str| {
        format!(
            "the RSA private key is inconsistent: {relation} does not hold, so its {member} is wrong (a damaged or hand-edited key)"
        )
    };
    if p <= one || q <= one || &p * &q != n {
        return Err(wrong("n = p·q", "`n`, `p` or `q`"));
    }
    let (p1, q1) = (&p - &one, &q - &one);
    let de = &d * &e;
    if &de % &p1 != one || &de % &q1 != one {
        return Err(wrong("d·e ≡ 1 mod λ(n)", "`d`"));
    }
    if dp != &d % &p1 {
        return Err(wrong("dp = d mod (p−1)", "`dp`"));
    }
    if dq != &d % &q1 {
        return Err(wrong("dq = d mod (q−1)", "`dq`"));
    }
    if qi >= p || (&qi * &q) % &p != one {
        return Err(wrong("qi = q⁻¹ mod p", "`qi`"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::parse_pkcs8;

    /// Every RSA member is checked against the others: a key with any one of them changed is
    /// refused, whichever member it is (signing with the CRT members alone would not notice `d`).
    #[test]
    fn inconsistent_rsa_members_are_refused() {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let der = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap();
        let key = parse_pkcs8(der.as_ref()).unwrap();
        let (PublicParts::Rsa { n, e }, Some(SecretParts::Rsa { d, p, q, dp, dq, qi })) =
            (key.public.parts(), key.secret.as_ref().map(SecretKey::parts))
        else {
            panic!("an RSA key")
        };
        let flip = |v: &[u8]| {
            let mut v = v.to_vec();
            let last = v.len() - 1;
            v[last] ^= 2;
            v
        };
        let secret = |d: &[u8], p: &[u8], q: &[u8], dp: &[u8], dq: &[u8], qi: &[u8]| SecretParts::Rsa {
            d: d.to_vec(),
            p: p.to_vec(),
            q: q.to_vec(),
            dp: dp.to_vec(),
            dq: dq.to_vec(),
            qi: qi.to_vec(),
        };
        assert_eq!(check_rsa_private(&key.public, &secret(d, p, q, dp, dq, qi)), Ok(()));
        let wrong = [
            ("`d`", secret(&flip(d), p, q, dp, dq, qi)),
            ("`n`, `p` or `q`", secret(d, &flip(p), q, dp, dq, qi)),
            ("`n`, `p` or `q`", secret(d, p, &flip(q), dp, dq, qi)),
            ("`dp`", secret(d, p, q, &flip(dp), dq, qi)),
            ("`dq`", secret(d, p, q, dp, &flip(dq), qi)),
            ("`qi`", secret(d, p, q, dp, dq, &flip(qi))),
            ("`qi`", secret(d, q, p, dq, dp, qi)),
        ];
        for (member, s) in &wrong {
            let problem = check_rsa_private(&key.public, s).expect_err(member);
            assert!(
                problem.contains("inconsistent") && problem.contains(&format!("its {member} is wrong")),
                "{member}: {problem}"
            );
        }
        let other_n = PublicKey::new(PublicParts::Rsa { n: flip(n), e: e.clone() });
        assert!(check_rsa_private(&other_n, &secret(d, p, q, dp, dq, qi)).unwrap_err().contains("n = p·q"));
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = SecretKey::new(SecretParts::Ec { d: vec![7; 32] });
        assert_eq!(format!("{s:?}"), "SecretKey(EC, redacted)");
    }
}
