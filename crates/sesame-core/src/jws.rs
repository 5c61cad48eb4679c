//! JSON Web Signatures, compact serialization (RFC 7515) — sign and verify.
//!
//! Verification is driven by the caller's algorithm allowlist, never by the
//! token: the header's `alg` must be in the list, `none` cannot even be
//! parsed, HMAC algorithms need an explicitly supplied secret, and the key is
//! chosen by (kid, kty, alg, use) from the caller's [`KeySet`].

use std::borrow::Cow;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};

use crate::alg::JwsAlgorithm;
use crate::jwk::{KeySelection, KeySet};
use crate::keys::SigningKey;

/// The longest token Sesame will look at (64 KiB): bounds the work an
/// attacker can make a verifier do.
pub const MAX_JWS_LEN: usize = 64 * 1024;

/// The protected header members Sesame reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwsHeader {
    /// `alg`
    pub alg: JwsAlgorithm,
    /// `kid`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// `typ` (`JWT`, `at+jwt`, `logout+jwt` …)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
}

/// Why a JWS was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwsError {
    /// Not three base64url parts with a JSON object header.
    #[error("malformed JWS: {0}")]
    Malformed(&'static str),
    /// Longer than [`MAX_JWS_LEN`].
    #[error("the token is longer than {MAX_JWS_LEN} bytes")]
    TooLarge,
    /// Five parts: an encrypted JWT, which Sesame does not decrypt.
    #[error("encrypted tokens (JWE) are not supported")]
    Encrypted,
    /// `alg: none`: an unsecured token. Never accepted.
    #[error("unsecured tokens (alg \"none\") are never accepted")]
    AlgorithmNone,
    /// An `alg` Sesame does not implement.
    #[error("unsupported algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// An algorithm outside the caller's allowlist (or HMAC without a configured secret).
    #[error("algorithm {0} is not allowed here")]
    AlgorithmNotAllowed(JwsAlgorithm),
    /// A `crit` header: an extension the verifier must understand, and Sesame understands none.
    #[error("critical header extensions are not supported")]
    CriticalHeader,
    /// The `kid` is not in the key set (a relying party refetches the JWKS once and retries).
    #[error("no key with kid {0:?}")]
    UnknownKid(String),
    /// No key in the set can verify this algorithm.
    #[error("no key fits the token's algorithm")]
    NoMatchingKey,
    /// The signature does not verify with any candidate key.
    #[error("invalid signature")]
    InvalidSignature,
    /// The payload is not the JSON expected.
    #[error("malformed payload: {0}")]
    Payload(String),
    /// Signing failed.
    #[error("signing failed")]
    Signing,
}

/// The header as parsed: borrowed where the JSON allows, every member
/// optional so that each absence gets its own error.
#[derive(Deserialize)]
struct RawHeader<'h> {
    #[serde(borrow, default)]
    alg: Option<Cow<'h, str>>,
    #[serde(borrow, default)]
    kid: Option<Cow<'h, str>>,
    #[serde(borrow, default)]
    typ: Option<Cow<'h, str>>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

/// A parsed, not yet verified JWS.
#[derive(Debug, Clone)]
pub struct UnverifiedJws<'a> {
    header: JwsHeader,
    signing_input: &'a str,
    payload_b64: &'a str,
    signature: Vec<u8>,
}

/// A JWS whose signature has been verified: the header and the payload bytes.
#[derive(Debug, Clone)]
pub struct VerifiedJws {
    /// The protected header.
    pub header: JwsHeader,
    /// The decoded payload.
    pub payload: Vec<u8>,
}

impl VerifiedJws {
    /// Deserializes the payload.
    ///
    /// # Errors
    /// [`JwsError::Payload`] when it is not the expected JSON.
    pub fn claims<T: DeserializeOwned>(&self) -> Result<T, JwsError> {
        serde_json::from_slice(&self.payload).map_err(|e| JwsError::Payload(e.to_string()))
    }
}

fn b64(part: &str, what: &'static str) -> Result<Vec<u8>, JwsError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwsError::Malformed(what))
}

impl<'a> UnverifiedJws<'a> {
    /// Splits and decodes a compact JWS, checking its header.
    ///
    /// # Errors
    /// A malformed or oversized token, `alg: none`, an unsupported algorithm,
    /// a `crit` header, or a JWE.
    pub fn parse(token: &'a str) -> Result<Self, JwsError> {
        if token.len() > MAX_JWS_LEN {
            return Err(JwsError::TooLarge);
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsError::Malformed("expected three dot-separated parts"));
        };
        match parts.count() {
            0 => {}
            2 => return Err(JwsError::Encrypted),
            _ => return Err(JwsError::Malformed("expected three dot-separated parts")),
        }
        let header_bytes = b64(header_b64, "header is not base64url")?;
        let raw: RawHeader<'_> = serde_json::from_slice(&header_bytes)
            .map_err(|_| JwsError::Malformed("header is not a JSON object"))?;
        let alg = raw.alg.ok_or(JwsError::Malformed("header has no alg"))?;
        if alg.eq_ignore_ascii_case("none") {
            return Err(JwsError::AlgorithmNone);
        }
        let alg = JwsAlgorithm::parse(&alg)
            .ok_or_else(|| JwsError::UnsupportedAlgorithm(alg.into_owned()))?;
        if raw.crit.is_some() {
            return Err(JwsError::CriticalHeader);
        }
        let header = JwsHeader {
            alg,
            kid: raw.kid.map(Cow::into_owned),
            typ: raw.typ.map(Cow::into_owned),
        };
        let signature = b64(signature_b64, "signature is not base64url")?;
        let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
        Ok(Self {
            header,
            signing_input,
            payload_b64,
            signature,
        })
    }

    /// The header, before verification: only for choosing keys or issuers.
    pub fn header(&self) -> &JwsHeader {
        &self.header
    }

    /// The payload before verification. Trust nothing in it; some relying
    /// parties read `iss` here to choose among several issuers' key sets.
    ///
    /// # Errors
    /// When the payload is not base64url.
    pub fn insecure_payload(&self) -> Result<Vec<u8>, JwsError> {
        b64(self.payload_b64, "payload is not base64url")
    }

    /// Verifies the signature.
    ///
    /// `allowed` is the caller's allowlist. `hmac_secret` is the only key
    /// HS256/384/512 tokens are checked with, and only when their algorithm is
    /// also in `allowed` — so a token "signed" with a public key as an HMAC
    /// secret is refused.
    ///
    /// # Errors
    /// [`JwsError::AlgorithmNotAllowed`], [`JwsError::UnknownKid`],
    /// [`JwsError::NoMatchingKey`] or [`JwsError::InvalidSignature`].
    pub fn verify(
        self,
        keys: &KeySet,
        allowed: &[JwsAlgorithm],
        hmac_secret: Option<&SigningKey>,
    ) -> Result<VerifiedJws, JwsError> {
        let alg = self.header.alg;
        if !allowed.contains(&alg) {
            return Err(JwsError::AlgorithmNotAllowed(alg));
        }
        let message = self.signing_input.as_bytes();
        let valid = if alg.is_symmetric() {
            let key = hmac_secret
                .filter(|k| k.alg() == alg)
                .and_then(SigningKey::hmac_key)
                .ok_or(JwsError::AlgorithmNotAllowed(alg))?;
            hmac::verify(key, message, &self.signature).is_ok()
        } else {
            match keys.select(self.header.kid.as_deref(), alg) {
                KeySelection::Candidates(candidates) => candidates
                    .iter()
                    .any(|k| k.verify(alg, message, &self.signature)),
                KeySelection::UnknownKid => {
                    return Err(JwsError::UnknownKid(
                        self.header.kid.clone().unwrap_or_default(),
                    ));
                }
                KeySelection::NoMatchingKey => return Err(JwsError::NoMatchingKey),
            }
        };
        if !valid {
            return Err(JwsError::InvalidSignature);
        }
        Ok(VerifiedJws {
            payload: b64(self.payload_b64, "payload is not base64url")?,
            header: self.header,
        })
    }
}

/// Parses and verifies a compact JWS in one step; see [`UnverifiedJws::verify`].
///
/// # Errors
/// As [`UnverifiedJws::parse`] and [`UnverifiedJws::verify`].
pub fn verify(
    token: &str,
    keys: &KeySet,
    allowed: &[JwsAlgorithm],
    hmac_secret: Option<&SigningKey>,
) -> Result<VerifiedJws, JwsError> {
    UnverifiedJws::parse(token)?.verify(keys, allowed, hmac_secret)
}

/// Signs `payload` as a compact JWS with `key`, putting its `kid` (if any)
/// and the given `typ` in the header.
///
/// ```
/// use sesame_core::{jws, JwsAlgorithm, KeySet, SigningKey};
/// let key = SigningKey::generate(JwsAlgorithm::EdDSA).unwrap();
/// let token = jws::sign(&key, Some("JWT"), &serde_json::json!({"sub": "alice"})).unwrap();
/// let keys = KeySet::from_keys([key.verifying_key().unwrap()]);
/// let verified = jws::verify(&token, &keys, &[JwsAlgorithm::EdDSA], None).unwrap();
/// assert_eq!(verified.header.typ.as_deref(), Some("JWT"));
/// ```
///
/// # Errors
/// [`JwsError::Signing`] when the crypto library fails.
pub fn sign<T: Serialize + ?Sized>(
    key: &SigningKey,
    typ: Option<&str>,
    payload: &T,
) -> Result<String, JwsError> {
    let payload = serde_json::to_vec(payload).map_err(|e| JwsError::Payload(e.to_string()))?;
    sign_bytes(key, typ, &payload)
}

/// Signs `payload` under a header of the caller's (for headers with more
/// than `alg`, `kid` and `typ`, such as a DPoP proof's `jwk`). The header's
/// `alg` is set to the key's.
///
/// # Errors
/// [`JwsError::Payload`] for a header that is not a JSON object or a
/// payload that does not serialise, [`JwsError::Signing`] when the crypto
/// library fails.
pub fn sign_with_header<T: Serialize + ?Sized>(
    key: &SigningKey,
    header: &serde_json::Value,
    payload: &T,
) -> Result<String, JwsError> {
    let mut header = header.clone();
    let Some(members) = header.as_object_mut() else {
        return Err(JwsError::Payload("the header must be a JSON object".into()));
    };
    members.insert("alg".into(), serde_json::Value::from(key.alg().as_str()));
    let header = serde_json::to_vec(&header).map_err(|e| JwsError::Payload(e.to_string()))?;
    let payload = serde_json::to_vec(payload).map_err(|e| JwsError::Payload(e.to_string()))?;
    let mut token = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 400);
    URL_SAFE_NO_PAD.encode_string(&header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
    let signature = key.sign(token.as_bytes()).map_err(|_| JwsError::Signing)?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}

/// Signs raw payload bytes; see [`sign`].
///
/// # Errors
/// [`JwsError::Signing`] when the crypto library fails.
pub fn sign_bytes(key: &SigningKey, typ: Option<&str>, payload: &[u8]) -> Result<String, JwsError> {
    let header = JwsHeader {
        alg: key.alg(),
        kid: (!key.kid().is_empty()).then(|| key.kid().to_owned()),
        typ: typ.map(str::to_owned),
    };
    let header = serde_json::to_vec(&header).map_err(|_| JwsError::Signing)?;
    let mut token = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 400);
    URL_SAFE_NO_PAD.encode_string(&header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let signature = key.sign(token.as_bytes()).map_err(|_| JwsError::Signing)?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}
