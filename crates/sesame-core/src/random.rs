//! Random values for protocol parameters.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Bytes of entropy in every generated state, nonce, code and token: 256 bits,
/// twice the 128-bit floor that RFC 6749 §10.10 and OIDC Core ask for.
pub const TOKEN_BYTES: usize = 32;

/// Fills `buf` from the operating system's CSPRNG.
///
/// # Errors
/// When the operating system has no randomness to give — the caller must
/// refuse to continue rather than issue a guessable value.
pub fn fill(buf: &mut [u8]) -> Result<(), RandomError> {
    getrandom::fill(buf).map_err(|_| RandomError)
}

/// A fresh URL-safe random string carrying [`TOKEN_BYTES`] of entropy
/// (43 base64url characters, no padding).
///
/// # Errors
/// See [`fill`].
pub fn token() -> Result<String, RandomError> {
    let mut bytes = [0u8; TOKEN_BYTES];
    fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A [`token`] that starts with a letter or digit, for identifiers people
/// type: one that starts with `-` reads as a flag to `sesame clients show`
/// and to most other command lines.
///
/// # Errors
/// See [`fill`].
pub fn client_id() -> Result<String, RandomError> {
    loop {
        let t = token()?;
        if t.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Ok(t);
        }
    }
}

/// The operating system's random source failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random number generator failed")]
pub struct RandomError;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_url_safe_and_distinct() {
        let a = token().unwrap();
        let b = token().unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn client_ids_never_read_as_a_flag() {
        // One token in 32 starts with '-' or '_': 1,024 tries see some.
        for _ in 0..1024 {
            let id = client_id().unwrap();
            assert_eq!(id.len(), 43);
            assert!(id.as_bytes()[0].is_ascii_alphanumeric(), "{id}");
        }
        assert_ne!(client_id().unwrap(), client_id().unwrap());
    }
}
