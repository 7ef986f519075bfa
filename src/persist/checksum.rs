//! The checksum of a model file: CRC32C (Castagnoli, hardware-accelerated
//! by the `crc32c` crate) over a canonical byte string of everything the
//! file says, so a flipped bit in a parameter, a counter or a tensor value
//! is caught, not only damage to the container.
//!
//! The canonical string: every `__metadata__` entry except `checksum`, in
//! byte order of the keys, as (key, value); then each tensor in the order
//! `components`, `components_numerator`, `components_denominator`, as
//! (name, dtype, each dimension as decimal text, data bytes). Every piece is
//! preceded by its length as a little-endian u64, so no two different
//! contents give the same string. The value stored is `crc32c:` followed by
//! 8 lowercase hex digits.
//!
//! CRC32C detects every error of up to 32 consecutive bits and all but
//! 1 in 2^32 others: it guards against damage, not against forgery.

use super::metadata::CHECKSUM;
use std::collections::HashMap;

/// The checksum string of a model's metadata and tensors.
pub fn compute<'a>(
    metadata: &HashMap<String, String>,
    tensors: impl IntoIterator<Item = (&'a str, &'a str, &'a [usize], &'a [u8])>,
) -> String {
    let mut crc = 0u32;
    let mut piece = |bytes: &[u8]| {
        crc = crc32c::crc32c_append(crc, &(bytes.len() as u64).to_le_bytes());
        crc = crc32c::crc32c_append(crc, bytes);
    };
    let mut keys: Vec<&String> = metadata.keys().filter(|k| *k != CHECKSUM).collect();
    keys.sort();
    for k in keys {
        piece(k.as_bytes());
        piece(metadata[k].as_bytes());
    }
    for (name, dtype, shape, data) in tensors {
        piece(name.as_bytes());
        piece(dtype.as_bytes());
        for d in shape {
            piece(d.to_string().as_bytes());
        }
        piece(data);
    }
    format!("crc32c:{crc:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_changes_with_any_piece_and_ignores_itself() {
        let mut m = HashMap::new();
        m.insert("a".to_string(), "1".to_string());
        let data = [1u8, 2, 3];
        let base = compute(&m, [("t", "float32", &[3usize][..], &data[..])]);
        assert!(base.starts_with("crc32c:") && base.len() == 15);
        m.insert(CHECKSUM.to_string(), "whatever".to_string());
        assert_eq!(
            base,
            compute(&m, [("t", "float32", &[3usize][..], &data[..])])
        );
        m.insert("a".to_string(), "2".to_string());
        assert_ne!(
            base,
            compute(&m, [("t", "float32", &[3usize][..], &data[..])])
        );
        m.insert("a".to_string(), "1".to_string());
        assert_ne!(
            base,
            compute(&m, [("t", "float32", &[3usize][..], &[1u8, 2, 4][..])])
        );
        assert_ne!(
            base,
            compute(&m, [("t", "float64", &[3usize][..], &data[..])])
        );
        // Moving bytes between key and value changes it (length prefixes).
        let mut m2 = HashMap::new();
        m2.insert("a1".to_string(), String::new());
        assert_ne!(
            compute(&m2, std::iter::empty()),
            compute(&m, std::iter::empty())
        );
    }
}
