//! EC point arithmetic through aws-lc-rs: is a point on its curve, which point a scalar gives.

use crate::jose::Curve;

/// Checks that an uncompressed SEC1 point lies on `crv`.
pub(super) fn check_on_curve(crv: Curve, point: &[u8]) -> Result<(), String> {
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

/// The uncompressed public point of the private scalar `d` on `crv`.
pub(super) fn derive_ec_point(crv: Curve, d: &[u8]) -> Result<Vec<u8>, String> {
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
