//! Reading a PEM file of one key in any of the five forms jwksmith reads, with the fast path
//! for a strict RFC 7468 block and a specific message for every other shape.

use super::KeyMaterial;
use super::asn1::{parse_pkcs1_private, parse_pkcs1_public, parse_pkcs8, parse_sec1, parse_spki};

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
    let (tag, der) = pem_block(text)?;
    parse_block(&tag, &der)
}

/// The one key block of a PEM text (an `EC PARAMETERS` block before it is ignored).
fn pem_block(text: &str) -> Result<(String, Vec<u8>), String> {
    if let Some(block) = plain_block(text) {
        return Ok(block);
    }
    let blocks = pem::parse_many(text).map_err(|e| format!("not a valid PEM file ({e})"))?;
    let mut blocks: Vec<_> = blocks.into_iter().filter(|b| b.tag() != "EC PARAMETERS").collect();
    let block = match blocks.len() {
        0 => return Err("no PEM block found: expected one key in PEM form (PKCS#8, PKCS#1, SEC1 or SPKI)".into()),
        1 => blocks.remove(0),
        many => return Err(format!("file holds {many} PEM blocks; put exactly one key in each file")),
    };
    if block.headers().get("Proc-Type").is_some_and(|v| v.contains("ENCRYPTED")) {
        return Err(encrypted_problem());
    }
    Ok((block.tag().to_string(), block.into_contents()))
}

/// Parses the DER of a PEM block by its label.
fn parse_block(tag: &str, der: &[u8]) -> Result<KeyMaterial, String> {
    match tag {
        "PRIVATE KEY" => parse_pkcs8(der),
        "RSA PRIVATE KEY" => parse_pkcs1_private(der),
        "EC PRIVATE KEY" => parse_sec1(der),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::pem_lf;

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
