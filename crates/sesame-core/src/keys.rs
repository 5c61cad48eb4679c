//! Signing keys: generation, PKCS#8 import/export, public JWKs.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

use crate::alg::{Curve, JwsAlgorithm, KeyFamily};
use crate::jwk::{Jwk, VerifyingKey};

/// RSA modulus sizes Sesame generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RsaBits {
    /// 2048 bits: the common choice, ~1 ms per signature.
    #[default]
    B2048,
    /// 3072 bits: ~128-bit security, ~3× the signing cost.
    B3072,
}

/// Why a key could not be generated, imported or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Key generation failed in the crypto library.
    #[error("key generation failed")]
    Generation,
    /// The PKCS#8 document is not a key for this algorithm.
    #[error("not a PKCS#8 {0} private key")]
    Rejected(JwsAlgorithm),
    /// The PEM text is malformed.
    #[error("malformed PEM: {0}")]
    Pem(&'static str),
    /// HMAC keys are secrets, not key pairs: they have no PKCS#8 form or public JWK.
    #[error("an HMAC key has no PKCS#8 form or public JWK")]
    Symmetric,
    /// An HMAC secret shorter than the hash output (RFC 7518 §3.2).
    #[error("an HMAC secret must be at least {0} bytes")]
    ShortSecret(usize),
    /// Signing failed in the crypto library.
    #[error("signing failed")]
    Signing,
}

enum Inner {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Hmac(Box<hmac::Key>),
}

/// A private key bound to one JWS algorithm, with its `kid` and public JWK.
///
/// The private key is parsed once and kept ready: signing costs one
/// signature, nothing more. `Debug` shows the algorithm and kid only.
pub struct SigningKey {
    alg: JwsAlgorithm,
    kid: String,
    inner: Inner,
    pkcs8: Zeroizing<Vec<u8>>,
    public: Option<Jwk>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh key for `alg` (RSA keys at 2048 bits).
    ///
    /// ```
    /// use sesame_core::{JwsAlgorithm, SigningKey};
    /// let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
    /// assert_eq!(key.public_jwk().unwrap().crv.as_deref(), Some("P-256"));
    /// ```
    ///
    /// # Errors
    /// [`KeyError::Symmetric`] for HS* (use [`SigningKey::hmac`]), or a crypto failure.
    pub fn generate(alg: JwsAlgorithm) -> Result<Self, KeyError> {
        Self::generate_rsa_sized(alg, RsaBits::default())
    }

    /// Generates a fresh key; `bits` applies to RSA algorithms.
    ///
    /// # Errors
    /// As [`SigningKey::generate`].
    pub fn generate_rsa_sized(alg: JwsAlgorithm, bits: RsaBits) -> Result<Self, KeyError> {
        let der: Vec<u8> = match alg.family() {
            KeyFamily::Rsa => {
                let size = match bits {
                    RsaBits::B2048 => KeySize::Rsa2048,
                    RsaBits::B3072 => KeySize::Rsa3072,
                };
                let pair = RsaKeyPair::generate(size).map_err(|_| KeyError::Generation)?;
                pair.as_der()
                    .map_err(|_| KeyError::Generation)?
                    .as_ref()
                    .to_vec()
            }
            KeyFamily::Ec(curve) => {
                let pair = EcdsaKeyPair::generate(ecdsa_signing(curve))
                    .map_err(|_| KeyError::Generation)?;
                pair.to_pkcs8v1()
                    .map_err(|_| KeyError::Generation)?
                    .as_ref()
                    .to_vec()
            }
            KeyFamily::Ed25519 => {
                let pair = Ed25519KeyPair::generate().map_err(|_| KeyError::Generation)?;
                // PKCS#8 v1, the form every other JOSE library reads.
                pair.to_pkcs8v1()
                    .map_err(|_| KeyError::Generation)?
                    .as_ref()
                    .to_vec()
            }
            KeyFamily::Hmac => return Err(KeyError::Symmetric),
        };
        Self::from_pkcs8_der(alg, &der)
    }

    /// Imports a PKCS#8 DER private key for `alg`.
    ///
    /// # Errors
    /// [`KeyError::Rejected`] when the document is not a key of the algorithm's type.
    pub fn from_pkcs8_der(alg: JwsAlgorithm, der: &[u8]) -> Result<Self, KeyError> {
        let rejected = |_| KeyError::Rejected(alg);
        let inner = match alg.family() {
            KeyFamily::Rsa => Inner::Rsa(RsaKeyPair::from_pkcs8(der).map_err(rejected)?),
            KeyFamily::Ec(curve) => {
                Inner::Ec(EcdsaKeyPair::from_pkcs8(ecdsa_signing(curve), der).map_err(rejected)?)
            }
            KeyFamily::Ed25519 => {
                Inner::Ed25519(Ed25519KeyPair::from_pkcs8(der).map_err(rejected)?)
            }
            KeyFamily::Hmac => return Err(KeyError::Symmetric),
        };
        let mut public = public_jwk(alg, &inner);
        let kid = public.thumbprint().map_err(|_| KeyError::Rejected(alg))?;
        public.kid = Some(kid.clone());
        Ok(Self {
            alg,
            kid,
            inner,
            pkcs8: Zeroizing::new(der.to_vec()),
            public: Some(public),
        })
    }

    /// Imports a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) private key for `alg`.
    ///
    /// # Errors
    /// Malformed PEM, or as [`SigningKey::from_pkcs8_der`].
    pub fn from_pkcs8_pem(alg: JwsAlgorithm, pem: &str) -> Result<Self, KeyError> {
        let der = pem_decode(pem, "PRIVATE KEY")?;
        Self::from_pkcs8_der(alg, &der)
    }

    /// An HMAC key (HS256/384/512) from a shared secret, e.g. a client secret
    /// for `client_secret_jwt`. Its `kid` is empty.
    ///
    /// # Errors
    /// A non-HMAC algorithm, or a secret shorter than the hash (RFC 7518 §3.2).
    pub fn hmac(alg: JwsAlgorithm, secret: &[u8]) -> Result<Self, KeyError> {
        let algorithm = alg.hmac().ok_or(KeyError::Rejected(alg))?;
        let min = alg.half_hash().output_len();
        if secret.len() < min {
            return Err(KeyError::ShortSecret(min));
        }
        Ok(Self {
            alg,
            kid: String::new(),
            inner: Inner::Hmac(Box::new(hmac::Key::new(algorithm, secret))),
            pkcs8: Zeroizing::new(Vec::new()),
            public: None,
        })
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> JwsAlgorithm {
        self.alg
    }

    /// The key ID: the RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK (`kty`, `kid`, `alg`, `use: sig` and the key members).
    ///
    /// # Errors
    /// [`KeyError::Symmetric`] for an HMAC key.
    pub fn public_jwk(&self) -> Result<Jwk, KeyError> {
        self.public.clone().ok_or(KeyError::Symmetric)
    }

    /// A verifying key for this key's signatures.
    ///
    /// # Errors
    /// [`KeyError::Symmetric`] for an HMAC key.
    pub fn verifying_key(&self) -> Result<VerifyingKey, KeyError> {
        let jwk = self.public_jwk()?;
        VerifyingKey::from_jwk(&jwk).map_err(|_| KeyError::Rejected(self.alg))
    }

    /// The private key as PKCS#8 DER. Handle as a secret.
    ///
    /// # Errors
    /// [`KeyError::Symmetric`] for an HMAC key.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        if self.pkcs8.is_empty() {
            return Err(KeyError::Symmetric);
        }
        Ok(self.pkcs8.clone())
    }

    /// The private key as PKCS#8 PEM. Handle as a secret.
    ///
    /// # Errors
    /// [`KeyError::Symmetric`] for an HMAC key.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        let der = self.to_pkcs8_der()?;
        Ok(Zeroizing::new(pem_encode(&der, "PRIVATE KEY")))
    }

    /// Signs `message`, returning the raw JWS signature (fixed-size `r||s` for ECDSA).
    ///
    /// # Errors
    /// A failure in the crypto library.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.inner {
            Inner::Rsa(pair) => {
                let encoding = self.alg.rsa_encoding().ok_or(KeyError::Signing)?;
                let mut out = vec![0; pair.public_modulus_len()];
                pair.sign(encoding, &SystemRandom::new(), message, &mut out)
                    .map_err(|_| KeyError::Signing)?;
                Ok(out)
            }
            Inner::Ec(pair) => Ok(pair
                .sign(&SystemRandom::new(), message)
                .map_err(|_| KeyError::Signing)?
                .as_ref()
                .to_vec()),
            Inner::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            Inner::Hmac(key) => Ok(hmac::sign(key, message).as_ref().to_vec()),
        }
    }

    pub(crate) fn hmac_key(&self) -> Option<&hmac::Key> {
        match &self.inner {
            Inner::Hmac(key) => Some(key),
            _ => None,
        }
    }
}

fn ecdsa_signing(curve: Curve) -> &'static sig::EcdsaSigningAlgorithm {
    match curve {
        Curve::P256 => &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
        Curve::P384 => &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
    }
}

fn public_jwk(alg: JwsAlgorithm, inner: &Inner) -> Jwk {
    let mut jwk = Jwk {
        kty: String::new(),
        kid: None,
        use_: Some("sig".to_owned()),
        key_ops: None,
        alg: Some(alg.as_str().to_owned()),
        n: None,
        e: None,
        crv: None,
        x: None,
        y: None,
        x5c: None,
    };
    match inner {
        Inner::Rsa(pair) => {
            let public = pair.public_key();
            jwk.kty = "RSA".to_owned();
            jwk.n =
                Some(URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()));
            jwk.e =
                Some(URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()));
        }
        Inner::Ec(pair) => {
            let point = pair.public_key().as_ref();
            let len = (point.len().saturating_sub(1)) / 2;
            let curve = if len == 48 { Curve::P384 } else { Curve::P256 };
            jwk.kty = "EC".to_owned();
            jwk.crv = Some(curve.as_str().to_owned());
            jwk.x = point.get(1..1 + len).map(|x| URL_SAFE_NO_PAD.encode(x));
            jwk.y = point.get(1 + len..).map(|y| URL_SAFE_NO_PAD.encode(y));
        }
        Inner::Ed25519(pair) => {
            jwk.kty = "OKP".to_owned();
            jwk.crv = Some("Ed25519".to_owned());
            jwk.x = Some(URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()));
        }
        Inner::Hmac(_) => {}
    }
    jwk
}

/// Encodes DER as PEM with the given label, 64 characters a line.
pub fn pem_encode(der: &[u8], label: &str) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Decodes the first PEM block with the given label.
///
/// # Errors
/// [`KeyError::Pem`] when the markers are missing or the body is not base64.
pub fn pem_decode(pem: &str, label: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin).ok_or(KeyError::Pem("no BEGIN marker"))? + begin.len();
    let stop = pem[start..]
        .find(&end)
        .ok_or(KeyError::Pem("no END marker"))?
        + start;
    let body: Zeroizing<String> = Zeroizing::new(
        pem[start..stop]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect(),
    );
    STANDARD
        .decode(body.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| KeyError::Pem("body is not base64"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_round_trip_through_pem() {
        for alg in [
            JwsAlgorithm::RS256,
            JwsAlgorithm::ES256,
            JwsAlgorithm::ES384,
            JwsAlgorithm::EdDSA,
        ] {
            let key = SigningKey::generate(alg).unwrap();
            let pem = key.to_pkcs8_pem().unwrap();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
            let back = SigningKey::from_pkcs8_pem(alg, &pem).unwrap();
            assert_eq!(back.kid(), key.kid());
            assert_eq!(back.public_jwk().unwrap(), key.public_jwk().unwrap());
            let jwk = key.public_jwk().unwrap();
            assert_eq!(jwk.kid.as_deref(), Some(key.kid()));
            assert_eq!(jwk.thumbprint().unwrap(), key.kid());
            assert_eq!(jwk.alg.as_deref(), Some(alg.as_str()));
            let msg = b"signing input";
            let signature = key.sign(msg).unwrap();
            assert!(key.verifying_key().unwrap().verify(alg, msg, &signature));
            assert!(
                !key.verifying_key()
                    .unwrap()
                    .verify(alg, b"other", &signature)
            );
        }
    }

    #[test]
    fn rsa_3072() {
        let key = SigningKey::generate_rsa_sized(JwsAlgorithm::RS256, RsaBits::B3072).unwrap();
        assert_eq!(key.sign(b"x").unwrap().len(), 384);
    }

    #[test]
    fn wrong_key_type_is_rejected() {
        let ec = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
        let der = ec.to_pkcs8_der().unwrap();
        assert_eq!(
            SigningKey::from_pkcs8_der(JwsAlgorithm::RS256, &der).unwrap_err(),
            KeyError::Rejected(JwsAlgorithm::RS256)
        );
        assert_eq!(
            SigningKey::from_pkcs8_der(JwsAlgorithm::ES384, &der).unwrap_err(),
            KeyError::Rejected(JwsAlgorithm::ES384)
        );
    }

    #[test]
    fn debug_shows_no_key_material() {
        let key = SigningKey::generate(JwsAlgorithm::EdDSA).unwrap();
        let debug = format!("{key:?}");
        assert!(debug.contains("EdDSA"));
        assert!(!debug.contains("pkcs8"));
    }

    #[test]
    fn hmac_secret_length() {
        assert_eq!(
            SigningKey::hmac(JwsAlgorithm::HS256, b"short").unwrap_err(),
            KeyError::ShortSecret(32)
        );
        assert!(SigningKey::hmac(JwsAlgorithm::HS256, &[7; 32]).is_ok());
        assert!(SigningKey::hmac(JwsAlgorithm::RS256, &[7; 32]).is_err());
    }

    #[test]
    fn pem_errors() {
        assert!(pem_decode("nothing", "PRIVATE KEY").is_err());
        assert!(
            pem_decode(
                "-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----",
                "PRIVATE KEY"
            )
            .is_err()
        );
    }
}
