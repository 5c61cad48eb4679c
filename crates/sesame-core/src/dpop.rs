//! DPoP proofs (RFC 9449 §4): a JWT the client signs with a key it holds,
//! whose public half rides in the header, for one HTTP request.
//!
//! [`verify_proof`] checks everything a proof carries — `typ`, the
//! algorithm (the caller's allowlist; never `none` or HMAC), a public `jwk`
//! and the signature with it, `htm`, `htu` (compared without query and
//! fragment), `iat` within a window, `jti`, and `ath` when an access token
//! comes with it — and gives back the key's RFC 7638 thumbprint (`jkt`),
//! which tokens are bound to. Replay of `jti` is the caller's to refuse
//! (a store shared by every instance).
//!
//! ```
//! use sesame_core::dpop::{DpopCheck, verify_proof};
//! use sesame_core::{JwsAlgorithm, SigningKey, jws};
//!
//! let key = SigningKey::generate(JwsAlgorithm::ES256)?;
//! let header = serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk()?});
//! let claims = serde_json::json!({"jti": "j-1", "htm": "POST", "htu": "https://op.example/token", "iat": 1_000});
//! let proof = jws::sign_with_header(&key, &header, &claims)?;
//! let check = DpopCheck::new("POST", "https://op.example/token", 1_010);
//! let verified = verify_proof(&proof, &check)?;
//! assert_eq!(verified.jkt, key.public_jwk()?.thumbprint()?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use subtle::ConstantTimeEq;

use crate::alg::JwsAlgorithm;
use crate::clock::UnixTime;
use crate::jwk::{Jwk, JwkSet, KeySet};
use crate::jws::UnverifiedJws;

mod key;
pub use key::{DPOP_KEY_ALGS, DpopKey, ProofTarget, access_token_hash};

/// The `typ` of a proof.
pub const PROOF_TYP: &str = "dpop+jwt";
/// The request header that carries a proof (RFC 9449 §4.1).
pub const DPOP_HEADER: &str = "DPoP";
/// The response header that carries a server-provided nonce (RFC 9449 §8).
pub const DPOP_NONCE_HEADER: &str = "DPoP-Nonce";
/// The `Authorization` scheme and the `token_type` of a DPoP-bound token.
pub const DPOP_SCHEME: &str = "DPoP";
/// The discovery member listing the proof algorithms a server accepts.
pub const DPOP_SIGNING_ALGS_METADATA: &str = "dpop_signing_alg_values_supported";

/// The algorithms a proof may use unless the caller narrows them: every
/// asymmetric one Sesame verifies.
pub const DPOP_ALGS: [JwsAlgorithm; 7] = [
    JwsAlgorithm::ES256,
    JwsAlgorithm::ES384,
    JwsAlgorithm::EdDSA,
    JwsAlgorithm::PS256,
    JwsAlgorithm::RS256,
    JwsAlgorithm::RS384,
    JwsAlgorithm::RS512,
];

/// The longest proof accepted.
const MAX_PROOF: usize = 8 * 1024;
/// The longest `jti` accepted.
const MAX_JTI: usize = 256;

/// What one request's proof must match.
#[derive(Debug, Clone)]
pub struct DpopCheck<'a> {
    /// The request's method (`htm`).
    pub method: &'a str,
    /// The request's URL (`htu`; query and fragment are ignored).
    pub url: &'a str,
    /// Now.
    pub now: UnixTime,
    /// How old `iat` may be, in seconds (default 300).
    pub max_age: i64,
    /// How far in the future `iat` may be, in seconds (default 60).
    pub leeway: i64,
    /// The access token sent with the proof, whose hash `ath` must be.
    pub access_token: Option<&'a str>,
    /// The algorithms accepted (default [`DPOP_ALGS`]).
    pub algorithms: &'a [JwsAlgorithm],
}

impl<'a> DpopCheck<'a> {
    /// A check of a proof for `method` on `url` at `now`, with the defaults.
    pub fn new(method: &'a str, url: &'a str, now: UnixTime) -> Self {
        Self {
            method,
            url,
            now,
            max_age: 300,
            leeway: 60,
            access_token: None,
            algorithms: &DPOP_ALGS,
        }
    }

    /// The access token the proof must be bound to (`ath`).
    #[must_use]
    pub fn with_access_token(mut self, token: &'a str) -> Self {
        self.access_token = Some(token);
        self
    }
}

/// A verified proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopProof {
    /// The RFC 7638 thumbprint of the proof's key: what tokens bind to.
    pub jkt: String,
    /// The proof's unique id (refuse a second use).
    pub jti: String,
    /// When it was made.
    pub iat: UnixTime,
    /// The server-provided nonce it carries, if any.
    pub nonce: Option<String>,
}

/// Why a proof was refused (`invalid_dpop_proof`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// Not a compact JWS, too large, or a bad header.
    #[error("the DPoP proof is malformed: {0}")]
    Malformed(&'static str),
    /// `typ` is not `dpop+jwt`.
    #[error("the DPoP proof's typ must be dpop+jwt")]
    Type,
    /// An algorithm outside the allowlist.
    #[error("the DPoP proof's algorithm is not accepted")]
    Algorithm,
    /// No usable public `jwk` in the header (or a private one).
    #[error("the DPoP proof's header must carry a public jwk: {0}")]
    Key(&'static str),
    /// The signature does not verify with the header's key.
    #[error("the DPoP proof's signature is invalid")]
    Signature,
    /// A claim is missing or does not match the request.
    #[error("the DPoP proof's {0}")]
    Claim(&'static str),
}

/// Verifies `proof` against `check`; see the module documentation.
///
/// # Errors
/// [`DpopError`], whose message names what failed.
pub fn verify_proof(proof: &str, check: &DpopCheck<'_>) -> Result<DpopProof, DpopError> {
    if proof.len() > MAX_PROOF {
        return Err(DpopError::Malformed("too large"));
    }
    let header_b64 = proof.split('.').next().unwrap_or_default();
    let header: Value = URL_SAFE_NO_PAD
        .decode(header_b64)
        .ok()
        .and_then(|h| serde_json::from_slice(&h).ok())
        .ok_or(DpopError::Malformed("the header is not base64url JSON"))?;
    if header.get("typ").and_then(Value::as_str) != Some(PROOF_TYP) {
        return Err(DpopError::Type);
    }
    let jwk_value = header.get("jwk").ok_or(DpopError::Key("no jwk"))?;
    const PRIVATE: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];
    if PRIVATE.iter().any(|m| jwk_value.get(m).is_some()) {
        return Err(DpopError::Key("the jwk holds a private key"));
    }
    let jwk: Jwk =
        serde_json::from_value(jwk_value.clone()).map_err(|_| DpopError::Key("a malformed jwk"))?;
    let jkt = jwk
        .thumbprint()
        .map_err(|_| DpopError::Key("an unsupported key type"))?;
    let jws = UnverifiedJws::parse(proof).map_err(|_| DpopError::Malformed("not a signed JWS"))?;
    let alg = jws.header().alg;
    if alg.is_symmetric() || !check.algorithms.contains(&alg) {
        return Err(DpopError::Algorithm);
    }
    // The jwk is the only key; a kid in the header (or the jwk) is ignored.
    let mut anonymous = jwk;
    anonymous.kid = None;
    let keys = KeySet::from_jwks(&JwkSet {
        keys: vec![anonymous],
    });
    if keys.is_empty() {
        return Err(DpopError::Key("an unusable jwk"));
    }
    let verified = jws
        .verify(&keys, check.algorithms, None)
        .map_err(|_| DpopError::Signature)?;
    let claims: Value = verified
        .claims()
        .map_err(|_| DpopError::Malformed("the payload is not JSON"))?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let jti = text("jti")
        .filter(|j| !j.is_empty() && j.len() <= MAX_JTI)
        .ok_or(DpopError::Claim("jti is missing"))?;
    if text("htm") != Some(check.method) {
        return Err(DpopError::Claim("htm is not the request's method"));
    }
    let htu = text("htu").ok_or(DpopError::Claim("htu is missing"))?;
    if !same_target(htu, check.url) {
        return Err(DpopError::Claim("htu is not the request's URL"));
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or(DpopError::Claim("iat is missing"))?;
    if iat > check.now + check.leeway {
        return Err(DpopError::Claim("iat is in the future"));
    }
    if iat < check.now - check.max_age {
        return Err(DpopError::Claim("iat is too old"));
    }
    if let Some(token) = check.access_token {
        let expected = access_token_hash(token);
        let ath = text("ath").ok_or(DpopError::Claim("ath is missing"))?;
        if !bool::from(expected.as_bytes().ct_eq(ath.as_bytes())) {
            return Err(DpopError::Claim("ath is not the access token's hash"));
        }
    }
    Ok(DpopProof {
        jkt,
        jti: jti.to_owned(),
        iat,
        nonce: text("nonce").map(str::to_owned),
    })
}

/// Whether two URLs name the same target: scheme, host, port and path,
/// without query and fragment (RFC 9449 §4.3, RFC 3986 §6.2.2 normalised).
fn same_target(a: &str, b: &str) -> bool {
    let (Ok(a), Ok(b)) = (url::Url::parse(a), url::Url::parse(b)) else {
        return false;
    };
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
        && a.path() == b.path()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use aws_lc_rs::digest;
    use serde_json::json;

    use super::*;
    use crate::SigningKey;
    use crate::jws::sign_with_header;

    const URL: &str = "https://op.example/token";

    fn proof(key: &SigningKey, header: Value, claims: Value) -> String {
        sign_with_header(key, &header, &claims).unwrap()
    }

    fn good(key: &SigningKey) -> (Value, Value) {
        (
            json!({"typ": "dpop+jwt", "jwk": key.public_jwk().unwrap()}),
            json!({"jti": "j-1", "htm": "POST", "htu": URL, "iat": 1_000}),
        )
    }

    #[test]
    fn a_good_proof_gives_the_key_thumbprint() {
        let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
        let (h, c) = good(&key);
        let mut c = c;
        c["htu"] = json!("https://OP.example:443/token?x=1#f");
        let p = verify_proof(&proof(&key, h, c), &DpopCheck::new("POST", URL, 1_010)).unwrap();
        assert_eq!(p.jkt, key.public_jwk().unwrap().thumbprint().unwrap());
        assert_eq!((p.jti.as_str(), p.iat), ("j-1", 1_000));
    }

    #[test]
    fn every_fault_is_refused() {
        let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
        let other = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
        let check = DpopCheck::new("POST", URL, 1_010);
        let (h, c) = good(&key);
        let edit = |f: &dyn Fn(&mut Value, &mut Value)| {
            let (mut h, mut c) = (h.clone(), c.clone());
            f(&mut h, &mut c);
            proof(&key, h, c)
        };
        let cases: Vec<(String, DpopError)> = vec![
            (edit(&|h, _| h["typ"] = json!("JWT")), DpopError::Type),
            (
                edit(&|h, _| {
                    h.as_object_mut().unwrap().remove("jwk");
                }),
                DpopError::Key("no jwk"),
            ),
            (
                edit(&|h, _| h["jwk"]["d"] = json!("AAAA")),
                DpopError::Key("the jwk holds a private key"),
            ),
            (
                edit(&|h, _| h["jwk"] = serde_json::to_value(other.public_jwk().unwrap()).unwrap()),
                DpopError::Signature,
            ),
            (
                edit(&|_, c| c["htm"] = json!("GET")),
                DpopError::Claim("htm is not the request's method"),
            ),
            (
                edit(&|_, c| c["htu"] = json!("https://op.example/userinfo")),
                DpopError::Claim("htu is not the request's URL"),
            ),
            (
                edit(&|_, c| c["htu"] = json!("http://op.example/token")),
                DpopError::Claim("htu is not the request's URL"),
            ),
            (
                edit(&|_, c| {
                    c.as_object_mut().unwrap().remove("jti");
                }),
                DpopError::Claim("jti is missing"),
            ),
            (
                edit(&|_, c| c["iat"] = json!(1_010 + 61)),
                DpopError::Claim("iat is in the future"),
            ),
            (
                edit(&|_, c| c["iat"] = json!(1_010 - 301)),
                DpopError::Claim("iat is too old"),
            ),
            (
                "a.b".to_owned(),
                DpopError::Malformed("the header is not base64url JSON"),
            ),
        ];
        for (p, want) in cases {
            assert_eq!(verify_proof(&p, &check), Err(want.clone()), "{want}");
        }
        // HMAC "proofs" and algorithms outside the allowlist.
        let hmac = SigningKey::hmac(JwsAlgorithm::HS256, &[1u8; 32]).unwrap();
        let p = sign_with_header(&hmac, &h, &c).unwrap();
        assert!(verify_proof(&p, &check).is_err());
        let narrow = DpopCheck {
            algorithms: &[JwsAlgorithm::EdDSA],
            ..check.clone()
        };
        assert_eq!(
            verify_proof(&proof(&key, h.clone(), c.clone()), &narrow),
            Err(DpopError::Algorithm)
        );
        // ath: required with an access token, and must be its hash.
        let with_token = check.clone().with_access_token("the-token");
        assert_eq!(
            verify_proof(&proof(&key, h.clone(), c.clone()), &with_token),
            Err(DpopError::Claim("ath is missing"))
        );
        let mut c2 = c.clone();
        c2["ath"] = json!("wrong");
        assert_eq!(
            verify_proof(&proof(&key, h.clone(), c2), &with_token),
            Err(DpopError::Claim("ath is not the access token's hash"))
        );
        let mut c3 = c.clone();
        c3["ath"] = json!(URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, b"the-token")));
        assert!(verify_proof(&proof(&key, h, c3), &with_token).is_ok());
    }
}
