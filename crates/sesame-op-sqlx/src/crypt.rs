//! Encryption of secrets at rest (AES-256-GCM): signing keys, the pairwise
//! subject salt and `client_secret_jwt` secrets.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

const PREFIX: &str = "aes256gcm:";

/// The key that encrypts signing keys in the database. Keep it out of the
/// database (configuration, a secrets manager, a file beside a SQLite database).
#[derive(Clone)]
pub struct EncryptionKey([u8; 32]);

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey([redacted])")
    }
}

/// A key that is not 32 bytes of base64, or a ciphertext that does not decrypt.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptError {
    /// The configured key is malformed.
    #[error("the encryption key must be 32 bytes, base64-encoded")]
    BadKey,
    /// Decryption failed: wrong key, or tampered data.
    #[error("a stored secret could not be decrypted (wrong encryption key?)")]
    Decrypt,
    /// Encryption failed.
    #[error("encryption failed")]
    Encrypt,
}

impl EncryptionKey {
    /// A fresh random key.
    ///
    /// # Errors
    /// When the OS random source fails.
    pub fn generate() -> Result<Self, CryptError> {
        let mut key = [0u8; 32];
        sesame_core::random::fill(&mut key).map_err(|_| CryptError::Encrypt)?;
        Ok(Self(key))
    }

    /// Parses a base64 (standard alphabet) 32-byte key.
    ///
    /// # Errors
    /// [`CryptError::BadKey`].
    pub fn from_base64(value: &str) -> Result<Self, CryptError> {
        let bytes = STANDARD
            .decode(value.trim())
            .map_err(|_| CryptError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptError::BadKey)?;
        Ok(Self(key))
    }

    /// The key as base64, for writing to configuration.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    fn aead(&self) -> Result<LessSafeKey, CryptError> {
        UnboundKey::new(&AES_256_GCM, &self.0)
            .map(LessSafeKey::new)
            .map_err(|_| CryptError::BadKey)
    }

    /// Encrypts `plaintext`, bound to `context` (the key's kid).
    pub(crate) fn seal(&self, plaintext: &str, context: &str) -> Result<String, CryptError> {
        let mut nonce = [0u8; NONCE_LEN];
        sesame_core::random::fill(&mut nonce).map_err(|_| CryptError::Encrypt)?;
        let mut data = plaintext.as_bytes().to_vec();
        self.aead()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .map_err(|_| CryptError::Encrypt)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    /// Decrypts what [`EncryptionKey::seal`] produced with the same context.
    pub(crate) fn open(&self, sealed: &str, context: &str) -> Result<String, CryptError> {
        let body = sealed.strip_prefix(PREFIX).ok_or(CryptError::Decrypt)?;
        let mut bytes = STANDARD.decode(body).map_err(|_| CryptError::Decrypt)?;
        if bytes.len() < NONCE_LEN {
            return Err(CryptError::Decrypt);
        }
        let mut data = bytes.split_off(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = bytes.try_into().map_err(|_| CryptError::Decrypt)?;
        let plain = self
            .aead()?
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .map_err(|_| CryptError::Decrypt)?;
        String::from_utf8(plain.to_vec()).map_err(|_| CryptError::Decrypt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let k = EncryptionKey::generate().unwrap();
        let sealed = k.seal("secret pem", "kid-1").unwrap();
        assert!(!sealed.contains("secret"));
        assert_eq!(k.open(&sealed, "kid-1").unwrap(), "secret pem");
        assert!(k.open(&sealed, "kid-2").is_err(), "bound to its kid");
        let other = EncryptionKey::generate().unwrap();
        assert!(other.open(&sealed, "kid-1").is_err(), "wrong key");
        let back = EncryptionKey::from_base64(&k.to_base64()).unwrap();
        assert_eq!(back.open(&sealed, "kid-1").unwrap(), "secret pem");
        assert!(EncryptionKey::from_base64("c2hvcnQ=").is_err());
        assert_eq!(format!("{k:?}"), "EncryptionKey([redacted])");
    }
}
