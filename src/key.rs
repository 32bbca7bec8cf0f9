//! One key: parsed from PEM (five forms) or JWK into public and secret parts; its JWK members,
//! DER encodings (SPKI, PKCS#8) and fingerprints (RFC 7638 thumbprint, SPKI SHA-256).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use der::asn1::{BitStringRef, Null, ObjectIdentifier, UintRef};
use der::{Decode, Encode};

use crate::jose::{Curve, Kty};

const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_DSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10040.4.1");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");
const OID_X25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.110");
const OID_SECP256K1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.10");

/// Smallest RSA modulus accepted, in bits.
pub const RSA_MIN_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits (the limit of the verifiers we test against).
pub const RSA_MAX_BITS: usize = 8192;

/// The public half of a key, in the integers JWK publishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKey {
    /// RSA modulus and public exponent, big-endian without leading zeros.
    Rsa {
        /// Modulus.
        n: Vec<u8>,
        /// Public exponent.
        e: Vec<u8>,
    },
    /// EC point, coordinates fixed-length big-endian.
    Ec {
        /// Curve.
        crv: Curve,
        /// X coordinate.
        x: Vec<u8>,
        /// Y coordinate.
        y: Vec<u8>,
    },
}

/// The secret half of a key. Its `Debug` prints no key material.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(Secret);

#[derive(Clone, PartialEq, Eq)]
enum Secret {
    Rsa { d: Vec<u8>, p: Vec<u8>, q: Vec<u8>, dp: Vec<u8>, dq: Vec<u8>, qi: Vec<u8> },
    Ec { d: Vec<u8> },
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Secret::Rsa { .. } => f.write_str("SecretKey(RSA, redacted)"),
            Secret::Ec { .. } => f.write_str("SecretKey(EC, redacted)"),
        }
    }
}

/// A parsed key: always a public part, a secret part when the file held one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyMaterial {
    /// Public part.
    pub public: PublicKey,
    /// Secret part, when known.
    pub secret: Option<SecretKey>,
}

/// A JWK member name and its base64url value, in publication order.
pub type Members = Vec<(&'static str, String)>;

/// base64url without padding.
pub fn b64u(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn strip_zeros(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes[start..].to_vec()
}

fn bit_len(bytes: &[u8]) -> usize {
    let b = strip_zeros(bytes);
    match b.first() {
        None => 0,
        Some(top) => b.len() * 8 - top.leading_zeros() as usize,
    }
}

fn left_pad(bytes: &[u8], len: usize) -> Option<Vec<u8>> {
    let b = strip_zeros(bytes);
    if b.len() > len {
        return None;
    }
    let mut out = vec![0u8; len - b.len()];
    out.extend_from_slice(&b);
    Some(out)
}

impl PublicKey {
    /// Key type.
    pub fn kty(&self) -> Kty {
        match self {
            PublicKey::Rsa { .. } => Kty::Rsa,
            PublicKey::Ec { .. } => Kty::Ec,
        }
    }

    /// Curve, for EC keys.
    pub fn curve(&self) -> Option<Curve> {
        match self {
            PublicKey::Ec { crv, .. } => Some(*crv),
            PublicKey::Rsa { .. } => None,
        }
    }

    /// Modulus size in bits, for RSA keys.
    pub fn rsa_bits(&self) -> Option<usize> {
        match self {
            PublicKey::Rsa { n, .. } => Some(bit_len(n)),
            PublicKey::Ec { .. } => None,
        }
    }

    /// A short description such as `RSA-2048` or `EC P-256`.
    pub fn describe(&self) -> String {
        match self {
            PublicKey::Rsa { n, .. } => format!("RSA-{}", bit_len(n)),
            PublicKey::Ec { crv, .. } => format!("EC {}", crv.name()),
        }
    }

    /// Builds an RSA key from big-endian integers, checking size and exponent.
    pub fn rsa(n: &[u8], e: &[u8]) -> Result<Self, String> {
        let (n, e) = (strip_zeros(n), strip_zeros(e));
        let bits = bit_len(&n);
        if bits < RSA_MIN_BITS {
            return Err(format!(
                "RSA key of {bits} bits is too small (at least {RSA_MIN_BITS} bits); generate a new key with `jwksmith rotate`"
            ));
        }
        if bits > RSA_MAX_BITS {
            return Err(format!("RSA key of {bits} bits is too large (at most {RSA_MAX_BITS} bits)"));
        }
        if n.last().is_some_and(|b| b % 2 == 0) {
            return Err("RSA modulus is even: this is not a valid RSA key".into());
        }
        if e.len() > 8 || e.last().is_none_or(|b| b % 2 == 0) || e.as_slice() == [1] {
            return Err("RSA public exponent must be odd and greater than 1 (usually 65537)".into());
        }
        if e.len() < 3 {
            return Err(format!(
                "RSA public exponent {} is too small: jwksmith accepts 65537 or larger, as most verifiers do",
                e.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b))
            ));
        }
        Ok(PublicKey::Rsa { n, e })
    }

    /// Builds an EC key from an uncompressed SEC1 point (`04 || x || y`), checking it is on the curve.
    pub fn ec_point(crv: Curve, point: &[u8]) -> Result<Self, String> {
        let len = crv.coordinate_len();
        match point.first() {
            Some(4) if point.len() == 1 + 2 * len => {}
            Some(2 | 3) => {
                return Err("compressed EC points are not supported; export the key with an uncompressed point".into());
            }
            _ => {
                return Err(format!("EC public point is not a valid uncompressed {} point", crv.name()));
            }
        }
        let key = PublicKey::Ec { crv, x: point[1..1 + len].to_vec(), y: point[1 + len..].to_vec() };
        check_on_curve(crv, point)?;
        Ok(key)
    }

    /// Builds an EC key from coordinates (left-padded to the curve's length).
    pub fn ec(crv: Curve, x: &[u8], y: &[u8]) -> Result<Self, String> {
        let len = crv.coordinate_len();
        let bad = || format!("EC coordinate is longer than {len} bytes for {}", crv.name());
        let mut point = vec![4u8];
        point.extend(left_pad(x, len).ok_or_else(bad)?);
        point.extend(left_pad(y, len).ok_or_else(bad)?);
        PublicKey::ec_point(crv, &point)
    }

    /// The uncompressed SEC1 point of an EC key.
    pub fn ec_point_bytes(&self) -> Option<Vec<u8>> {
        match self {
            PublicKey::Ec { x, y, .. } => {
                let mut p = vec![4u8];
                p.extend_from_slice(x);
                p.extend_from_slice(y);
                Some(p)
            }
            PublicKey::Rsa { .. } => None,
        }
    }

    /// The public JWK members after `kty, kid, use, alg`: `n, e` or `crv, x, y`.
    pub fn members(&self) -> Members {
        match self {
            PublicKey::Rsa { n, e } => vec![("n", b64u(n)), ("e", b64u(e))],
            PublicKey::Ec { crv, x, y } => vec![("crv", crv.name().to_string()), ("x", b64u(x)), ("y", b64u(y))],
        }
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url).
    pub fn thumbprint(&self) -> String {
        let canonical = match self {
            PublicKey::Rsa { n, e } => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, b64u(e), b64u(n)),
            PublicKey::Ec { crv, x, y } => {
                format!(r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#, crv.name(), b64u(x), b64u(y))
            }
        };
        b64u(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()).as_ref())
    }

    /// base64url SHA-256 of the DER SubjectPublicKeyInfo (the `spki-sha256` kid).
    pub fn spki_sha256(&self) -> String {
        b64u(ring::digest::digest(&ring::digest::SHA256, &self.spki_der()).as_ref())
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Vec<u8> {
        let encoded = match self {
            PublicKey::Rsa { n, e } => {
                let pkcs1 = rsa_public_der(n, e);
                let spki = spki::SubjectPublicKeyInfo {
                    algorithm: spki::AlgorithmIdentifier { oid: OID_RSA, parameters: Some(Null) },
                    subject_public_key: bit_string(&pkcs1),
                };
                spki.to_der()
            }
            PublicKey::Ec { crv, .. } => {
                let point = self.ec_point_bytes().unwrap_or_default();
                let spki = spki::SubjectPublicKeyInfo {
                    algorithm: spki::AlgorithmIdentifier { oid: OID_EC, parameters: Some(crv.oid()) },
                    subject_public_key: bit_string(&point),
                };
                spki.to_der()
            }
        };
        encoded.expect("SPKI of validated integers encodes")
    }

    /// `-----BEGIN PUBLIC KEY-----` PEM with `\n` line ends.
    pub fn spki_pem(&self) -> String {
        pem_lf("PUBLIC KEY", self.spki_der())
    }
}

fn bit_string(bytes: &[u8]) -> BitStringRef<'_> {
    BitStringRef::from_bytes(bytes).expect("byte-aligned bit string")
}

fn uint(bytes: &[u8]) -> UintRef<'_> {
    UintRef::new(bytes).expect("unsigned integer encodes")
}

fn rsa_public_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    pkcs1::RsaPublicKey { modulus: uint(n), public_exponent: uint(e) }.to_der().expect("RSA public key encodes")
}

/// PEM with `\n` line ends and 64-column lines.
pub fn pem_lf(tag: &str, der: Vec<u8>) -> String {
    pem_rfc7468::encode_string(tag, pem_rfc7468::LineEnding::LF, &der).expect("a PEM label of capitals encodes")
}

fn check_on_curve(crv: Curve, point: &[u8]) -> Result<(), String> {
    use aws_lc_rs::signature as sig;
    let alg: &'static dyn sig::VerificationAlgorithm = match crv {
        Curve::P256 => &sig::ECDSA_P256_SHA256_FIXED,
        Curve::P384 => &sig::ECDSA_P384_SHA384_FIXED,
        Curve::P521 => &sig::ECDSA_P521_SHA512_FIXED,
    };
    sig::ParsedPublicKey::new(alg, point)
        .map(|_| ())
        .map_err(|_| format!("EC public point is not on curve {}", crv.name()))
}

fn derive_ec_point(crv: Curve, d: &[u8]) -> Result<Vec<u8>, String> {
    use aws_lc_rs::agreement as ag;
    let alg = match crv {
        Curve::P256 => &ag::ECDH_P256,
        Curve::P384 => &ag::ECDH_P384,
        Curve::P521 => &ag::ECDH_P521,
    };
    let private = ag::PrivateKey::from_private_key(alg, d)
        .map_err(|_| format!("EC private scalar is not valid for {}", crv.name()))?;
    let public = private.compute_public_key().map_err(|_| "EC public point cannot be computed".to_string())?;
    Ok(public.as_ref().to_vec())
}

impl SecretKey {
    /// The private JWK members: RSA `d, p, q, dp, dq, qi`; EC a fixed-length `d`.
    pub fn members(&self) -> Members {
        match &self.0 {
            Secret::Rsa { d, p, q, dp, dq, qi } => vec![
                ("d", b64u(d)),
                ("p", b64u(p)),
                ("q", b64u(q)),
                ("dp", b64u(dp)),
                ("dq", b64u(dq)),
                ("qi", b64u(qi)),
            ],
            Secret::Ec { d } => vec![("d", b64u(d))],
        }
    }
}

impl KeyMaterial {
    /// The unencrypted PKCS#8 DER of the private key, if the secret part is known.
    pub fn pkcs8_der(&self) -> Option<Vec<u8>> {
        let secret = self.secret.as_ref()?;
        let der = match (&self.public, &secret.0) {
            (PublicKey::Rsa { n, e }, Secret::Rsa { d, p, q, dp, dq, qi }) => {
                let inner = pkcs1::RsaPrivateKey {
                    modulus: uint(n),
                    public_exponent: uint(e),
                    private_exponent: uint(d),
                    prime1: uint(p),
                    prime2: uint(q),
                    exponent1: uint(dp),
                    exponent2: uint(dq),
                    coefficient: uint(qi),
                    other_prime_infos: None,
                }
                .to_der()
                .ok()?;
                pkcs8_wrap(OID_RSA, None, inner)
            }
            (PublicKey::Ec { crv, .. }, Secret::Ec { d }) => {
                let point = self.public.ec_point_bytes()?;
                let inner =
                    sec1::EcPrivateKey { private_key: d, parameters: None, public_key: Some(&point) }.to_der().ok()?;
                pkcs8_wrap(OID_EC, Some(&crv.oid()), inner)
            }
            _ => return None,
        };
        Some(der)
    }

    /// `-----BEGIN PRIVATE KEY-----` (PKCS#8) PEM, if the secret part is known.
    pub fn pkcs8_pem(&self) -> Option<String> {
        self.pkcs8_der().map(|der| pem_lf("PRIVATE KEY", der))
    }

    /// This key with its secret part dropped.
    pub fn public_only(&self) -> KeyMaterial {
        KeyMaterial { public: self.public.clone(), secret: None }
    }
}

fn pkcs8_wrap(oid: ObjectIdentifier, params: Option<&ObjectIdentifier>, inner: Vec<u8>) -> Vec<u8> {
    let parameters = match params {
        Some(curve) => der::asn1::AnyRef::new(der::Tag::ObjectIdentifier, curve.as_bytes()).expect("OID value"),
        None => der::asn1::AnyRef::NULL,
    };
    let key = der::asn1::OctetStringRef::new(&inner).expect("octet string");
    let info = pkcs8::PrivateKeyInfoRef::new(spki::AlgorithmIdentifier { oid, parameters: Some(parameters) }, key);
    info.to_der().expect("PKCS#8 encodes")
}

/// Parses a PEM file holding one key in any of the five forms jwksmith reads:
/// PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY`, SEC1 `EC PRIVATE KEY`, SPKI `PUBLIC KEY`,
/// PKCS#1 `RSA PUBLIC KEY`.
pub fn parse_pem(bytes: &[u8]) -> Result<KeyMaterial, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not a PEM file (not text)".to_string())?;
    if text.trim().is_empty() {
        return Err("file is empty; it should hold one PEM key".into());
    }
    if let Some(end) = text.rfind("-----END ")
        && let Some(close) = text[end + 9..].find("-----")
        && !text[end + 9 + close + 5..].trim().is_empty()
    {
        return Err("unexpected text after the PEM block; keep one key per file".into());
    }
    if text.contains("-----BEGIN ") && !text.contains("-----END ") {
        return Err("the PEM block has no END line: the file is truncated".into());
    }
    let (tag, der) = match plain_block(text) {
        Some(block) => block,
        None => {
            let blocks = pem::parse_many(text).map_err(|e| format!("not a valid PEM file ({e})"))?;
            let mut blocks: Vec<_> = blocks.into_iter().filter(|b| b.tag() != "EC PARAMETERS").collect();
            let block = match blocks.len() {
                0 => {
                    return Err(
                        "no PEM block found: expected one key in PEM form (PKCS#8, PKCS#1, SEC1 or SPKI)".into()
                    );
                }
                1 => blocks.remove(0),
                many => {
                    return Err(format!("file holds {many} PEM blocks; put exactly one key in each file"));
                }
            };
            if block.headers().get("Proc-Type").is_some_and(|v| v.contains("ENCRYPTED")) {
                return Err(encrypted_problem());
            }
            (block.tag().to_string(), block.into_contents())
        }
    };
    let der = der.as_slice();
    match tag.as_str() {
        "PRIVATE KEY" => parse_pkcs8(der),
        "RSA PRIVATE KEY" => parse_pkcs1_private(der),
        "EC PRIVATE KEY" => parse_sec1(der, None),
        "PUBLIC KEY" => parse_spki(der),
        "RSA PUBLIC KEY" => parse_pkcs1_public(der),
        "ENCRYPTED PRIVATE KEY" => Err(encrypted_problem()),
        "CERTIFICATE" => Err("this is a certificate, not a key; drop the key itself (PKCS#8 or SPKI PEM)".into()),
        other => {
            Err(format!("unsupported PEM block `{other}`: expected one key in PEM form (PKCS#8, PKCS#1, SEC1 or SPKI)"))
        }
    }
}

/// The tag and contents of `text` when it is exactly one strict RFC 7468 block (every key
/// jwksmith or openssl writes): the fast path. `None` sends anything else (explanatory text,
/// headers, several blocks) to the lenient `pem` crate, which reads it or names the problem.
fn plain_block(text: &str) -> Option<(String, Vec<u8>)> {
    let (tag, der) = pem_rfc7468::decode_vec(text.trim_end().as_bytes()).ok()?;
    (tag != "EC PARAMETERS").then(|| (tag.to_string(), der))
}

fn encrypted_problem() -> String {
    "the private key is encrypted; jwksmith runs unattended and takes no passphrase: decrypt it with `openssl pkey -in FILE -out FILE.pem`".into()
}

fn der_problem(what: &str, e: der::Error) -> String {
    format!("invalid {what} ({e}); the file may be truncated or damaged")
}

fn unsupported_algorithm(oid: &ObjectIdentifier, params: Option<ObjectIdentifier>) -> String {
    if *oid == OID_EC && params == Some(OID_SECP256K1) {
        return "curve secp256k1 is not supported (use P-256, P-384 or P-521)".into();
    }
    if *oid == OID_EC {
        return match params {
            Some(p) => format!("EC curve {p} is not supported (use P-256, P-384 or P-521)"),
            None => "EC key without a named curve is not supported (use P-256, P-384 or P-521)".into(),
        };
    }
    let name = match *oid {
        o if o == OID_DSA => "DSA",
        o if o == OID_ED25519 => "Ed25519 (OKP)",
        o if o == OID_ED448 => "Ed448 (OKP)",
        o if o == OID_X25519 => "X25519 (OKP)",
        _ => return format!("key algorithm {oid} is not supported; jwksmith publishes RSA and EC keys only"),
    };
    format!("{name} keys are not supported; jwksmith publishes RSA and EC (P-256/384/521) keys only")
}

/// Parses unencrypted PKCS#8 DER (RSA or EC).
pub fn parse_pkcs8(der: &[u8]) -> Result<KeyMaterial, String> {
    let info = pkcs8::PrivateKeyInfoRef::from_der(der).map_err(|e| der_problem("PKCS#8 private key", e))?;
    let oid = info.algorithm.oid;
    let inner = info.private_key.as_bytes();
    if oid == OID_RSA || oid == OID_RSA_PSS {
        return parse_pkcs1_private(inner);
    }
    let params = info.algorithm.parameters.and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    if oid == OID_EC
        && let Some(crv) = params.as_ref().and_then(Curve::from_oid)
    {
        let outer_public = info.public_key.as_ref().and_then(|b| b.as_bytes()).map(<[u8]>::to_vec);
        return parse_sec1_with(inner, Some(crv), outer_public);
    }
    Err(unsupported_algorithm(&oid, params))
}

fn parse_pkcs1_private(der: &[u8]) -> Result<KeyMaterial, String> {
    let key = pkcs1::RsaPrivateKeyRef::from_der(der).map_err(|e| der_problem("PKCS#1 RSA private key", e))?;
    if key.other_prime_infos.is_some() {
        return Err("multi-prime RSA keys are not supported".into());
    }
    let public = PublicKey::rsa(key.modulus.as_bytes(), key.public_exponent.as_bytes())?;
    let secret = Secret::Rsa {
        d: strip_zeros(key.private_exponent.as_bytes()),
        p: strip_zeros(key.prime1.as_bytes()),
        q: strip_zeros(key.prime2.as_bytes()),
        dp: strip_zeros(key.exponent1.as_bytes()),
        dq: strip_zeros(key.exponent2.as_bytes()),
        qi: strip_zeros(key.coefficient.as_bytes()),
    };
    check_rsa_private(&public, &secret)?;
    Ok(KeyMaterial { public, secret: Some(SecretKey(secret)) })
}

/// Checks that an RSA private key is consistent in every member it carries: `n = p·q`,
/// `d·e ≡ 1` mod λ(n) (checked mod `p−1` and mod `q−1`, which is the same as mod their lcm),
/// `dp = d mod (p−1)`, `dq = d mod (q−1)`, `qi = q⁻¹ mod p`. Signing uses only the CRT
/// members, so a wrong `d` signs and verifies; but `out/private/jwks.json` publishes `d`.
///
/// The arithmetic is not constant-time: it runs once per read of a key, on the machine that
/// holds the key file, where timing tells nothing the file does not.
fn check_rsa_private(public: &PublicKey, secret: &Secret) -> Result<(), String> {
    use num_bigint::BigUint;
    let (PublicKey::Rsa { n, e }, Secret::Rsa { d, p, q, dp, dq, qi }) = (public, secret) else {
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

fn parse_sec1(der: &[u8], outer: Option<Curve>) -> Result<KeyMaterial, String> {
    parse_sec1_with(der, outer, None)
}

fn parse_sec1_with(der: &[u8], outer: Option<Curve>, outer_public: Option<Vec<u8>>) -> Result<KeyMaterial, String> {
    let key = sec1::EcPrivateKey::from_der(der).map_err(|e| der_problem("SEC1 EC private key", e))?;
    let inner_oid = key.parameters.and_then(|p| p.named_curve());
    let crv = match (outer, inner_oid) {
        (Some(c), None) => c,
        (Some(c), Some(o)) if c.oid() == o => c,
        (Some(_), Some(_)) => return Err("EC key names two different curves".into()),
        (None, Some(o)) => Curve::from_oid(&o).ok_or_else(|| unsupported_algorithm(&OID_EC, Some(o)))?,
        (None, None) => return Err(unsupported_algorithm(&OID_EC, None)),
    };
    let d = left_pad(key.private_key, crv.coordinate_len())
        .ok_or_else(|| format!("EC private scalar is too long for {}", crv.name()))?;
    let point = match key.public_key.map(<[u8]>::to_vec).or(outer_public) {
        Some(p) => p,
        None => derive_ec_point(crv, &d)?,
    };
    let public = PublicKey::ec_point(crv, &point)?;
    Ok(KeyMaterial { public, secret: Some(SecretKey(Secret::Ec { d })) })
}

fn parse_spki(der: &[u8]) -> Result<KeyMaterial, String> {
    let info =
        spki::SubjectPublicKeyInfoRef::from_der(der).map_err(|e| der_problem("SubjectPublicKeyInfo public key", e))?;
    let oid = info.algorithm.oid;
    let bits =
        info.subject_public_key.as_bytes().ok_or_else(|| "public key bit string is not byte-aligned".to_string())?;
    if oid == OID_RSA || oid == OID_RSA_PSS {
        return parse_pkcs1_public(bits);
    }
    let params = info.algorithm.parameters.and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    if oid == OID_EC
        && let Some(crv) = params.as_ref().and_then(Curve::from_oid)
    {
        return Ok(KeyMaterial { public: PublicKey::ec_point(crv, bits)?, secret: None });
    }
    Err(unsupported_algorithm(&oid, params))
}

fn parse_pkcs1_public(der: &[u8]) -> Result<KeyMaterial, String> {
    let key = pkcs1::RsaPublicKeyRef::from_der(der).map_err(|e| der_problem("PKCS#1 RSA public key", e))?;
    let public = PublicKey::rsa(key.modulus.as_bytes(), key.public_exponent.as_bytes())?;
    Ok(KeyMaterial { public, secret: None })
}

/// A JWK's own `kid`, `use` and `alg` members, when present.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JwkHints {
    /// `kid` member.
    pub kid: Option<String>,
    /// `use` member.
    pub key_use: Option<String>,
    /// `alg` member.
    pub alg: Option<String>,
}

/// Parses a JWK (or a JWK Set holding exactly one key) of type RSA or EC.
pub fn parse_jwk(bytes: &[u8]) -> Result<(KeyMaterial, JwkHints), String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON ({e})"))?;
    let jwk = match value.get("keys").and_then(|k| k.as_array()) {
        Some(keys) if keys.len() == 1 => &keys[0],
        Some(keys) => return Err(format!("JWK Set holds {} keys; import one key at a time", keys.len())),
        None => &value,
    };
    let obj = jwk.as_object().ok_or("a JWK must be a JSON object")?;
    let text = |name: &str| obj.get(name).and_then(|v| v.as_str()).map(str::to_string);
    let bytes = |name: &str| -> Result<Vec<u8>, String> {
        let v = text(name).ok_or_else(|| format!("JWK member `{name}` is missing"))?;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(v.trim_end_matches('='))
            .map_err(|_| format!("JWK member `{name}` is not base64url"))
    };
    let hints = JwkHints { kid: text("kid"), key_use: text("use"), alg: text("alg") };
    let has_private = obj.contains_key("d");
    let material = match text("kty").as_deref() {
        Some("RSA") => {
            let public = PublicKey::rsa(&bytes("n")?, &bytes("e")?)?;
            let secret = if has_private {
                if obj.contains_key("oth") {
                    return Err("multi-prime RSA keys (`oth`) are not supported".into());
                }
                let secret = Secret::Rsa {
                    d: strip_zeros(&bytes("d")?),
                    p: strip_zeros(&bytes("p")?),
                    q: strip_zeros(&bytes("q")?),
                    dp: strip_zeros(&bytes("dp")?),
                    dq: strip_zeros(&bytes("dq")?),
                    qi: strip_zeros(&bytes("qi")?),
                };
                check_rsa_private(&public, &secret)?;
                Some(SecretKey(secret))
            } else {
                None
            };
            KeyMaterial { public, secret }
        }
        Some("EC") => {
            let crv: Curve = text("crv").ok_or("JWK member `crv` is missing")?.parse()?;
            let public = PublicKey::ec(crv, &bytes("x")?, &bytes("y")?)?;
            let secret = if has_private {
                let d =
                    left_pad(&bytes("d")?, crv.coordinate_len()).ok_or("JWK member `d` is too long for its curve")?;
                if derive_ec_point(crv, &d)? != public.ec_point_bytes().unwrap_or_default() {
                    return Err("JWK private `d` does not match its public `x`/`y`".into());
                }
                Some(SecretKey(Secret::Ec { d }))
            } else {
                None
            };
            KeyMaterial { public, secret }
        }
        Some(other) => {
            return Err(format!("JWK kty `{other}` is not supported; jwksmith publishes RSA and EC keys only"));
        }
        None => return Err("JWK member `kty` is missing".into()),
    };
    Ok((material, hints))
}

/// Standard base64 (with padding), as `x5c` needs.
pub fn b64_std(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(s).unwrap()
    }

    /// RFC 7638 §3.1: the example RSA key and its thumbprint.
    #[test]
    fn rfc7638_thumbprint() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let key = PublicKey::rsa(&d(n), &d("AQAB")).unwrap();
        assert_eq!(key.thumbprint(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    /// RFC 7517 Appendix A.1: the EC public key round-trips through SPKI to the same members.
    #[test]
    fn rfc7517_a1_ec_round_trip() {
        let (x, y) = ("MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4", "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM");
        let key = PublicKey::ec(Curve::P256, &d(x), &d(y)).unwrap();
        let back = parse_spki(&key.spki_der()).unwrap();
        assert_eq!(back.public, key);
        assert_eq!(key.members(), vec![("crv", "P-256".into()), ("x", x.into()), ("y", y.into())]);
    }

    #[test]
    fn rejects_off_curve_point() {
        let x = d("MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4");
        let mut y = d("4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM");
        y[31] ^= 1;
        assert!(PublicKey::ec(Curve::P256, &x, &y).unwrap_err().contains("not on curve"));
    }

    #[test]
    fn rejects_bad_exponent_and_small_modulus() {
        let mut n = vec![0xc5u8; 256];
        n[255] = 0x01;
        assert!(PublicKey::rsa(&n, &[1]).is_err());
        assert!(PublicKey::rsa(&n, &[1, 0, 0]).is_err());
        assert!(PublicKey::rsa(&n, &[3]).unwrap_err().contains("exponent 3"));
        assert!(PublicKey::rsa(&n[..128], &[1, 0, 1]).unwrap_err().contains("too small"));
        assert!(PublicKey::rsa(&n, &[1, 0, 1]).is_ok());
    }

    /// Every RSA member is checked against the others: a key with any one of them changed is
    /// refused, whichever member it is (signing with the CRT members alone would not notice `d`).
    #[test]
    fn inconsistent_rsa_members_are_refused() {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let der = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap();
        let key = parse_pkcs8(der.as_ref()).unwrap();
        let (PublicKey::Rsa { n, e }, Some(SecretKey(Secret::Rsa { d, p, q, dp, dq, qi }))) =
            (&key.public, &key.secret)
        else {
            panic!("an RSA key")
        };
        let flip = |v: &[u8]| {
            let mut v = v.to_vec();
            let last = v.len() - 1;
            v[last] ^= 2;
            v
        };
        let secret = |d: &[u8], p: &[u8], q: &[u8], dp: &[u8], dq: &[u8], qi: &[u8]| Secret::Rsa {
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
        let other_n = PublicKey::Rsa { n: flip(n), e: e.clone() };
        assert!(check_rsa_private(&other_n, &secret(d, p, q, dp, dq, qi)).unwrap_err().contains("n = p·q"));
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = SecretKey(Secret::Ec { d: vec![7; 32] });
        assert_eq!(format!("{s:?}"), "SecretKey(EC, redacted)");
    }

    #[test]
    fn pem_lf_writes_what_the_pem_crate_writes() {
        for len in [1, 2, 3, 47, 48, 49, 96, 294, 1218] {
            let der: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
            let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
            let expected = pem::encode_config(&pem::Pem::new("PUBLIC KEY", der.clone()), config);
            assert_eq!(pem_lf("PUBLIC KEY", der), expected, "{len} bytes");
        }
    }

    /// The fast path reads a plain block exactly as the `pem` crate does, and leaves every other
    /// shape to it.
    #[test]
    fn plain_block_agrees_with_pem_crate() {
        let der: Vec<u8> = (0..=255u8).cycle().take(700).collect();
        let lf = pem_lf("PRIVATE KEY", der.clone());
        let crlf = lf.replace('\n', "\r\n");
        let no_final_newline = lf.trim_end().to_string();
        let trailing_space = format!("{lf}\n  \n");
        let explained = format!("An RFC 7468 explanatory text line\n{lf}");
        for text in [&lf, &crlf, &no_final_newline, &trailing_space, &explained] {
            let block = pem::parse(text.as_bytes()).unwrap();
            assert_eq!(plain_block(text), Some((block.tag().to_string(), block.contents().to_vec())), "{text:?}");
            assert_eq!(plain_block(text), Some(("PRIVATE KEY".to_string(), der.clone())));
        }
        let body = lf.lines().nth(1).unwrap();
        for other in [
            format!("{lf}junk\n"),
            format!("{lf}{lf}"),
            lf.replacen('\n', "\nProc-Type: 4,ENCRYPTED\n\n", 1),
            lf.replacen('\n', "\n\n", 1),
            lf.replace("END PRIVATE KEY", "END PUBLIC KEY"),
            lf.replace(body, &body.replace('A', "*")),
            format!("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n{lf}"),
            lf.replace(&body[..4], &body[..3]),
        ] {
            assert_eq!(plain_block(&other), None, "{other:?}");
        }
    }

    #[test]
    fn pem_errors_are_specific() {
        assert!(parse_pem(b"").unwrap_err().contains("empty"));
        assert!(
            parse_pem(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n")
                .unwrap_err()
                .contains("encrypted")
        );
        assert!(parse_pem(b"-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n").is_err());
    }
}
