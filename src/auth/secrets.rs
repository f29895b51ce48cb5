//! Random secrets and keyed hashes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `n` random bytes, base64url without padding.
pub fn random_token(n: usize) -> anyhow::Result<String> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| anyhow::anyhow!("no randomness available: {e}"))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// Lower-case hex SHA-256. Used for high-entropy client secrets (a slow hash adds nothing there)
/// and for request bodies.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// Lower-case hex HMAC-SHA256 of `data` under `key`: matches ID numbers without storing them,
/// and resists brute force of the small ID-number space as long as the key stays secret.
pub fn hmac_hex(key: &[u8], data: &[u8]) -> String {
    match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            hex(&mac.finalize().into_bytes())
        }
        // HMAC accepts keys of any length; this arm is unreachable in practice.
        Err(_) => sha256_hex(&[key, data].concat()),
    }
}

/// Constant-time string comparison.
pub fn eq_ct(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_sized() {
        let a = random_token(32).unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token(32).unwrap());
    }

    #[test]
    fn hashes_are_stable_and_keyed() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(hmac_hex(b"k1", b"id"), hmac_hex(b"k2", b"id"));
        assert_eq!(hmac_hex(b"k1", b"id"), hmac_hex(b"k1", b"id"));
        assert!(eq_ct("a", "a") && !eq_ct("a", "b"));
    }
}
