//! Hashes for what the provider must recognise but never keep: codes,
//! tokens and client secrets.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

/// The storage key of a code or token: base64url(SHA-256(token)).
///
/// Codes and tokens carry 256 random bits, so a fast hash is enough: the
/// store never holds a usable credential, and lookups stay cheap.
pub fn token_key(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, token.as_bytes()))
}

const SHA256_PREFIX: &str = "sha256$";

/// Hashes a client secret that the provider generated (256 random bits):
/// `sha256$…`. Verification is then one hash, so client authentication
/// does not dominate the token endpoint's cost.
pub fn hash_generated_secret(secret: &str) -> String {
    format!("{SHA256_PREFIX}{}", token_key(secret))
}

/// Hashes a low-entropy secret or password with Argon2id (PHC string).
///
/// # Errors
/// When the OS random source fails to give a salt.
pub fn hash_password(password: &str) -> Result<String, sesame_core::random::RandomError> {
    let mut salt = [0u8; 16];
    sesame_core::random::fill(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| sesame_core::random::RandomError)?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| sesame_core::random::RandomError)
}

/// Checks a presented secret against a stored hash (either form), in constant time.
pub fn verify_secret(presented: &str, stored: &str) -> bool {
    if let Some(expected) = stored.strip_prefix(SHA256_PREFIX) {
        return token_key(presented)
            .as_bytes()
            .ct_eq(expected.as_bytes())
            .into();
    }
    match PasswordHash::new(stored) {
        Ok(hash) => argon2::Argon2::default()
            .verify_password(presented.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

/// Whether `stored` looks like a hash [`verify_secret`] can check (and not,
/// say, a token pasted in clear).
pub(crate) fn is_secret_hash(stored: &str) -> bool {
    stored
        .strip_prefix(SHA256_PREFIX)
        .is_some_and(|h| h.len() == 43)
        || PasswordHash::new(stored).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secret_round_trip() {
        let h = hash_generated_secret("s3cret");
        assert!(h.starts_with("sha256$"));
        assert!(!h.contains("s3cret"));
        assert!(verify_secret("s3cret", &h));
        assert!(!verify_secret("s3cret!", &h));
    }

    #[test]
    fn argon2_round_trip() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_secret("correct horse", &h));
        assert!(!verify_secret("wrong", &h));
        assert!(!verify_secret("x", "garbage"));
    }

    #[test]
    fn recognises_hashes() {
        assert!(is_secret_hash(&hash_generated_secret("t")));
        assert!(is_secret_hash(&hash_password("t").unwrap()));
        assert!(!is_secret_hash("a-token-in-clear"));
        assert!(!is_secret_hash("sha256$short"));
    }
}
