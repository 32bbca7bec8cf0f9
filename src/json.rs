//! JSON bytes as jwksmith writes every JSON file: compact or indented, ending with a newline.

use serde::Serialize;

/// Serialises to JSON bytes (indented when `pretty`), ending with a newline.
pub(crate) fn json_bytes<T: Serialize + ?Sized>(value: &T, pretty: bool) -> Vec<u8> {
    let mut bytes = if pretty { serde_json::to_vec_pretty(value) } else { serde_json::to_vec(value) }
        .expect("JSON of plain data serialises");
    bytes.push(b'\n');
    bytes
}
