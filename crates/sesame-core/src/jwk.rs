//! JSON Web Keys (RFC 7517), thumbprints (RFC 7638) and verification-key selection.

use std::fmt;
use std::sync::{Arc, OnceLock};

use aws_lc_rs::digest;
use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::alg::{Curve, JwsAlgorithm, KeyFamily};

/// A JSON Web Key, public members only.
///
/// Private members (`d`, `p`, `q` …) are dropped on parsing: a JWKS is public,
/// and a key set that leaks private material is not made worse by Sesame
/// keeping it in memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Jwk {
    /// `kty`: `RSA`, `EC`, `OKP` or `oct`.
    pub kty: String,
    /// `kid`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// `use`: `sig` or `enc`.
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// `key_ops`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    /// `alg`: many providers (Entra ID among them) omit it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// RSA modulus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Curve (`P-256`, `P-384`, `Ed25519`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// EC/OKP x coordinate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// X.509 chain, kept for peers that use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x5c: Option<Vec<String>>,
}

impl Jwk {
    /// The RFC 7638 thumbprint (SHA-256, base64url): Sesame's `kid` for its own keys.
    ///
    /// # Errors
    /// When a member the thumbprint needs is missing.
    pub fn thumbprint(&self) -> Result<String, JwkError> {
        // Members in lexicographic order, no whitespace (RFC 7638 §3.2).
        let canonical = match self.kty.as_str() {
            "RSA" => {
                serde_json::json!({"e": req(&self.e, "e")?, "kty": "RSA", "n": req(&self.n, "n")?})
            }
            "EC" => serde_json::json!({
                "crv": req(&self.crv, "crv")?, "kty": "EC",
                "x": req(&self.x, "x")?, "y": req(&self.y, "y")?
            }),
            "OKP" => {
                serde_json::json!({"crv": req(&self.crv, "crv")?, "kty": "OKP", "x": req(&self.x, "x")?})
            }
            other => return Err(JwkError::UnsupportedKeyType(other.to_owned())),
        };
        // serde_json's map is ordered by key, so this is the canonical form.
        let bytes = serde_json::to_vec(&canonical).map_err(|_| JwkError::Missing("json"))?;
        Ok(URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, &bytes)))
    }
}

fn req<'a>(value: &'a Option<String>, name: &'static str) -> Result<&'a str, JwkError> {
    value.as_deref().ok_or(JwkError::Missing(name))
}

/// A JWK Set document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    /// Parses a JWKS document, keeping every member of `keys` that is a
    /// well-formed JWK object and skipping the others (a provider that adds a
    /// key type Sesame does not know must not break sign-in with the keys it does).
    ///
    /// # Errors
    /// When the document is not JSON or has no `keys` array.
    pub fn from_json(bytes: &[u8]) -> Result<Self, JwkError> {
        #[derive(Deserialize)]
        struct Raw {
            keys: Vec<Value>,
        }
        let raw: Raw = serde_json::from_slice(bytes).map_err(|e| JwkError::Json(e.to_string()))?;
        let keys = raw
            .keys
            .into_iter()
            .filter_map(|v| serde_json::from_value::<Jwk>(v).ok())
            .collect();
        Ok(Self { keys })
    }
}

/// Why a JWK could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwkError {
    /// The document is not valid JSON of the expected shape.
    #[error("malformed JWKS: {0}")]
    Json(String),
    /// A required member is absent.
    #[error("the JWK lacks the {0:?} member")]
    Missing(&'static str),
    /// A `kty` Sesame does not verify with.
    #[error("unsupported key type {0:?}")]
    UnsupportedKeyType(String),
    /// A `crv` Sesame does not verify with.
    #[error("unsupported curve {0:?}")]
    UnsupportedCurve(String),
    /// An `alg` Sesame does not implement.
    #[error("unsupported algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// A member is not valid base64url.
    #[error("the JWK member {0:?} is not base64url")]
    Base64(&'static str),
    /// The key material is not a valid public key.
    #[error("the JWK is not a valid public key")]
    InvalidKey,
}

/// Decoded public key material.
#[derive(Clone, PartialEq, Eq)]
enum Material {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ec { curve: Curve, point: Vec<u8> },
    Ed25519 { x: Vec<u8> },
}

/// A public key ready to verify signatures, parsed from a [`Jwk`].
///
/// The parsed form is cached per algorithm, so verifying many tokens with
/// one key parses it once.
pub struct VerifyingKey {
    kid: Option<String>,
    alg: Option<JwsAlgorithm>,
    for_signatures: bool,
    material: Material,
    parsed: [OnceLock<Option<ParsedPublicKey>>; JwsAlgorithm::ALL.len()],
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("family", &self.family())
            .finish()
    }
}

fn b64(value: &Option<String>, name: &'static str) -> Result<Vec<u8>, JwkError> {
    URL_SAFE_NO_PAD
        .decode(req(value, name)?.trim_end_matches('='))
        .map_err(|_| JwkError::Base64(name))
}

impl VerifyingKey {
    /// Builds a verifying key from a public JWK.
    ///
    /// # Errors
    /// An unsupported `kty`/`crv`/`alg`, a missing or malformed member, or
    /// material that is not a valid public key.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, JwkError> {
        let alg = match &jwk.alg {
            None => None,
            Some(a) => Some(
                JwsAlgorithm::parse(a).ok_or_else(|| JwkError::UnsupportedAlgorithm(a.clone()))?,
            ),
        };
        let material = match jwk.kty.as_str() {
            "RSA" => {
                let n = b64(&jwk.n, "n")?;
                let e = b64(&jwk.e, "e")?;
                if n.is_empty() || e.is_empty() {
                    return Err(JwkError::InvalidKey);
                }
                Material::Rsa { n, e }
            }
            "EC" => {
                let curve = match jwk.crv.as_deref() {
                    Some("P-256") => Curve::P256,
                    Some("P-384") => Curve::P384,
                    Some(other) => return Err(JwkError::UnsupportedCurve(other.to_owned())),
                    None => return Err(JwkError::Missing("crv")),
                };
                let x = b64(&jwk.x, "x")?;
                let y = b64(&jwk.y, "y")?;
                if x.len() != curve.coordinate_len() || y.len() != curve.coordinate_len() {
                    return Err(JwkError::InvalidKey);
                }
                let mut point = Vec::with_capacity(1 + x.len() + y.len());
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Material::Ec { curve, point }
            }
            "OKP" => match jwk.crv.as_deref() {
                Some("Ed25519") => {
                    let x = b64(&jwk.x, "x")?;
                    if x.len() != 32 {
                        return Err(JwkError::InvalidKey);
                    }
                    Material::Ed25519 { x }
                }
                Some(other) => return Err(JwkError::UnsupportedCurve(other.to_owned())),
                None => return Err(JwkError::Missing("crv")),
            },
            // Never verify with a shared secret published in a key set.
            other => return Err(JwkError::UnsupportedKeyType(other.to_owned())),
        };
        let for_signatures = jwk.use_.as_deref().is_none_or(|u| u == "sig")
            && jwk
                .key_ops
                .as_ref()
                .is_none_or(|ops| ops.iter().any(|o| o == "verify"));
        let key = Self {
            kid: jwk.kid.clone(),
            alg,
            for_signatures,
            material,
            parsed: Default::default(),
        };
        if let Some(alg) = alg
            && !key.is_compatible(alg)
        {
            return Err(JwkError::InvalidKey);
        }
        // Parse once now so a malformed key is refused when the set is loaded,
        // not when a token arrives.
        let probe = alg.unwrap_or(match key.family() {
            KeyFamily::Rsa => JwsAlgorithm::RS256,
            KeyFamily::Ec(Curve::P256) => JwsAlgorithm::ES256,
            KeyFamily::Ec(Curve::P384) => JwsAlgorithm::ES384,
            KeyFamily::Ed25519 | KeyFamily::Hmac => JwsAlgorithm::EdDSA,
        });
        if key.parsed_for(probe).is_none() {
            return Err(JwkError::InvalidKey);
        }
        Ok(key)
    }

    /// The key's `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The key's `alg`, when the JWK names one.
    pub fn alg(&self) -> Option<JwsAlgorithm> {
        self.alg
    }

    /// The key type.
    pub fn family(&self) -> KeyFamily {
        match &self.material {
            Material::Rsa { .. } => KeyFamily::Rsa,
            Material::Ec { curve, .. } => KeyFamily::Ec(*curve),
            Material::Ed25519 { .. } => KeyFamily::Ed25519,
        }
    }

    /// Whether this key may verify a signature made with `alg`: its `use` and
    /// `key_ops` allow verification, its type fits, and its own `alg`, if any, is `alg`.
    pub fn can_verify(&self, alg: JwsAlgorithm) -> bool {
        self.for_signatures && self.is_compatible(alg) && self.alg.is_none_or(|a| a == alg)
    }

    fn is_compatible(&self, alg: JwsAlgorithm) -> bool {
        alg.family() == self.family()
    }

    fn parsed_for(&self, alg: JwsAlgorithm) -> Option<&ParsedPublicKey> {
        self.parsed[alg.index()]
            .get_or_init(|| match &self.material {
                Material::Rsa { n, e } => RsaPublicKeyComponents { n, e }
                    .to_parsed_public_key(alg.rsa_parameters()?)
                    .ok(),
                Material::Ec { point: bytes, .. } | Material::Ed25519 { x: bytes } => {
                    ParsedPublicKey::new(alg.verification()?, bytes).ok()
                }
            })
            .as_ref()
    }

    /// Verifies `signature` over `message` with `alg`.
    ///
    /// Returns `false` for a wrong signature and for an algorithm this key
    /// cannot verify (see [`VerifyingKey::can_verify`]).
    pub fn verify(&self, alg: JwsAlgorithm, message: &[u8], signature: &[u8]) -> bool {
        if !self.can_verify(alg) {
            return false;
        }
        self.parsed_for(alg)
            .is_some_and(|key| key.verify_sig(message, signature).is_ok())
    }
}

/// The keys a verifier trusts, e.g. an issuer's JWKS.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<Arc<VerifyingKey>>,
    skipped: usize,
}

/// Why no key could be chosen for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySelection<'a> {
    /// Try these keys, in order; the first that verifies wins.
    Candidates(Vec<&'a VerifyingKey>),
    /// The token names a `kid` the set does not have: a relying party should
    /// refetch the JWKS (rate-limited) before refusing the token.
    UnknownKid,
    /// No key in the set fits the token's algorithm.
    NoMatchingKey,
}

impl PartialEq for VerifyingKey {
    fn eq(&self, other: &Self) -> bool {
        self.kid == other.kid && self.alg == other.alg && self.material == other.material
    }
}

impl Eq for VerifyingKey {}

impl KeySet {
    /// Builds a key set from a JWKS, skipping keys that cannot verify
    /// signatures (encryption keys, unsupported types, malformed material).
    pub fn from_jwks(jwks: &JwkSet) -> Self {
        let mut set = Self::default();
        for jwk in &jwks.keys {
            match VerifyingKey::from_jwk(jwk) {
                Ok(key) => set.keys.push(Arc::new(key)),
                Err(_) => set.skipped += 1,
            }
        }
        set
    }

    /// A set of the given keys.
    pub fn from_keys(keys: impl IntoIterator<Item = VerifyingKey>) -> Self {
        Self {
            keys: keys.into_iter().map(Arc::new).collect(),
            skipped: 0,
        }
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no usable keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// How many JWKs were skipped as unusable when the set was built.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Whether the set has a key with this `kid`.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid() == Some(kid))
    }

    /// Chooses the keys to try for a token signed with `alg` that names `kid`
    /// (or none), by (kid, kty, alg, use):
    ///
    /// - with a `kid`: the keys with that `kid` that can verify `alg` (several
    ///   keys may share a kid across types; each is tried); none with that
    ///   `kid` at all → [`KeySelection::UnknownKid`];
    /// - without a `kid`: every key that can verify `alg` (exactly one is the
    ///   common case; several are each tried).
    pub fn select(&self, kid: Option<&str>, alg: JwsAlgorithm) -> KeySelection<'_> {
        let fits = |k: &&Arc<VerifyingKey>| k.can_verify(alg);
        let candidates: Vec<&VerifyingKey> = match kid {
            Some(kid) => {
                if !self.contains_kid(kid) {
                    return KeySelection::UnknownKid;
                }
                self.keys
                    .iter()
                    .filter(|k| k.kid() == Some(kid))
                    .filter(fits)
                    .map(AsRef::as_ref)
                    .collect()
            }
            None => self.keys.iter().filter(fits).map(AsRef::as_ref).collect(),
        };
        if candidates.is_empty() {
            KeySelection::NoMatchingKey
        } else {
            KeySelection::Candidates(candidates)
        }
    }

    /// The union of two sets (for staged rotation: the old keys plus the new),
    /// without duplicates.
    pub fn merged(&self, other: &KeySet) -> KeySet {
        let mut keys = self.keys.clone();
        for k in &other.keys {
            if !keys.iter().any(|have| **have == **k) {
                keys.push(Arc::clone(k));
            }
        }
        KeySet {
            keys,
            skipped: self.skipped + other.skipped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7638 §3.1 example key and thumbprint.
    const RFC7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    #[test]
    fn rfc7638_thumbprint() {
        let jwk: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "RSA", "n": RFC7638_N, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"
        }))
        .unwrap();
        assert_eq!(
            jwk.thumbprint().unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        // And the key itself is a usable RSA verification key.
        let key = VerifyingKey::from_jwk(&jwk).unwrap();
        assert!(key.can_verify(JwsAlgorithm::RS256));
        assert!(!key.can_verify(JwsAlgorithm::RS384)); // its alg is RS256
        assert!(!key.can_verify(JwsAlgorithm::ES256));
    }

    #[test]
    fn jwks_parsing_skips_unknown_keys() {
        let doc = serde_json::json!({"keys": [
            {"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "kid": "a"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"},
            {"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "kid": "enc", "use": "enc"},
            "not an object",
            {"kty": "RSA", "n": "!!!", "e": "AQAB"}
        ]});
        let jwks = JwkSet::from_json(doc.to_string().as_bytes()).unwrap();
        assert_eq!(jwks.keys.len(), 5);
        let set = KeySet::from_jwks(&jwks);
        assert_eq!(set.len(), 2); // "a" and the encryption key (kept but never selected)
        assert_eq!(set.skipped(), 3);
        match set.select(Some("enc"), JwsAlgorithm::RS256) {
            KeySelection::NoMatchingKey => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(
            set.select(Some("zzz"), JwsAlgorithm::RS256),
            KeySelection::UnknownKid
        );
        match set.select(None, JwsAlgorithm::RS256) {
            KeySelection::Candidates(c) => assert_eq!(c.len(), 1),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            set.select(None, JwsAlgorithm::ES256),
            KeySelection::NoMatchingKey
        );
    }

    #[test]
    fn jwks_without_keys_is_an_error() {
        assert!(JwkSet::from_json(b"{}").is_err());
        assert!(JwkSet::from_json(b"not json").is_err());
    }

    #[test]
    fn ec_key_with_wrong_length_is_refused() {
        let jwk: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"
        }))
        .unwrap();
        assert_eq!(
            VerifyingKey::from_jwk(&jwk).unwrap_err(),
            JwkError::InvalidKey
        );
    }
}
