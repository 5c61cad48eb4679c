//! Making proofs (RFC 9449 §4.2): the client's side of DPoP.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::alg::JwsAlgorithm;
use crate::clock::UnixTime;
use crate::jwk::Jwk;
use crate::jws::{self, JwsError};
use crate::keys::{KeyError, SigningKey};

/// The algorithms a [`DpopKey`] may use: ES256 (the default) and EdDSA.
pub const DPOP_KEY_ALGS: [JwsAlgorithm; 2] = [JwsAlgorithm::ES256, JwsAlgorithm::EdDSA];

/// A key that signs DPoP proofs, with its public JWK and RFC 7638
/// thumbprint (`jkt`, what the provider binds tokens to).
///
/// Cheap to clone. `Debug` shows the algorithm and the thumbprint, never the
/// private key.
///
/// ```
/// use sesame_core::dpop::{DpopCheck, DpopKey, ProofTarget, verify_proof};
///
/// let key = DpopKey::generate()?;
/// let target = ProofTarget::new("GET", "https://api.example/v1/me?x=1").with_access_token("at-1");
/// let proof = key.proof(&target, 1_000)?;
/// let check = DpopCheck::new("GET", "https://api.example/v1/me", 1_000).with_access_token("at-1");
/// assert_eq!(verify_proof(&proof, &check)?.jkt, key.thumbprint());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct DpopKey {
    key: Arc<SigningKey>,
    jwk: Value,
    jkt: String,
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey")
            .field("alg", &self.key.alg())
            .field("jkt", &self.jkt)
            .finish_non_exhaustive()
    }
}

/// The request a proof is made for.
#[derive(Debug, Clone, Copy)]
pub struct ProofTarget<'a> {
    /// The HTTP method (`htm`).
    pub method: &'a str,
    /// The URL (`htu`; its query and fragment are left out).
    pub url: &'a str,
    /// The access token sent with the request (`ath`), at a resource.
    pub access_token: Option<&'a str>,
    /// The server's last `DPoP-Nonce` (`nonce`).
    pub nonce: Option<&'a str>,
}

impl<'a> ProofTarget<'a> {
    /// A proof for `method` on `url`, without access token or nonce.
    pub fn new(method: &'a str, url: &'a str) -> Self {
        Self {
            method,
            url,
            access_token: None,
            nonce: None,
        }
    }

    /// The access token the proof is bound to (its hash becomes `ath`).
    #[must_use]
    pub fn with_access_token(mut self, token: &'a str) -> Self {
        self.access_token = Some(token);
        self
    }

    /// The server-provided nonce to carry.
    #[must_use]
    pub fn with_nonce(mut self, nonce: Option<&'a str>) -> Self {
        self.nonce = nonce;
        self
    }
}

impl DpopKey {
    /// A fresh ES256 key.
    ///
    /// # Errors
    /// A failure of the crypto library.
    pub fn generate() -> Result<Self, KeyError> {
        Self::generate_for(JwsAlgorithm::ES256)
    }

    /// A fresh key for `alg` (one of [`DPOP_KEY_ALGS`]).
    ///
    /// # Errors
    /// [`KeyError::Rejected`] for another algorithm, or a crypto failure.
    pub fn generate_for(alg: JwsAlgorithm) -> Result<Self, KeyError> {
        if !DPOP_KEY_ALGS.contains(&alg) {
            return Err(KeyError::Rejected(alg));
        }
        Self::from_signing_key(SigningKey::generate(alg)?)
    }

    /// Wraps an existing ES256 or EdDSA key (a per-app key from configuration).
    ///
    /// # Errors
    /// [`KeyError::Rejected`] for another algorithm, [`KeyError::Symmetric`] for HMAC.
    pub fn from_signing_key(key: SigningKey) -> Result<Self, KeyError> {
        if !DPOP_KEY_ALGS.contains(&key.alg()) {
            return Err(KeyError::Rejected(key.alg()));
        }
        let public: Jwk = key.public_jwk()?;
        let jkt = public
            .thumbprint()
            .map_err(|_| KeyError::Rejected(key.alg()))?;
        // The key members only: no kid, use or alg in a proof's header.
        let bare = Jwk {
            kid: None,
            use_: None,
            key_ops: None,
            alg: None,
            x5c: None,
            ..public
        };
        let jwk = serde_json::to_value(&bare).map_err(|_| KeyError::Rejected(key.alg()))?;
        Ok(Self {
            key: Arc::new(key),
            jwk,
            jkt,
        })
    }

    /// Reads a key written by [`DpopKey::to_pkcs8_pem`] for `alg`.
    ///
    /// # Errors
    /// A malformed key, or an algorithm outside [`DPOP_KEY_ALGS`].
    pub fn from_pkcs8_pem(alg: JwsAlgorithm, pem: &str) -> Result<Self, KeyError> {
        if !DPOP_KEY_ALGS.contains(&alg) {
            return Err(KeyError::Rejected(alg));
        }
        Self::from_signing_key(SigningKey::from_pkcs8_pem(alg, pem)?)
    }

    /// The private key as PKCS#8 PEM, to keep server-side (a session). Handle as a secret.
    ///
    /// # Errors
    /// A failure of the crypto library.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        self.key.to_pkcs8_pem()
    }

    /// The signing algorithm.
    pub fn algorithm(&self) -> JwsAlgorithm {
        self.key.alg()
    }

    /// The RFC 7638 thumbprint of the public key (`jkt`).
    pub fn thumbprint(&self) -> &str {
        &self.jkt
    }

    /// The public key as it rides in a proof's header.
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    /// A fresh proof for `target` made at `now`: `typ` `dpop+jwt`, the
    /// public `jwk`, a random `jti`, `iat`, `htm`, `htu` without query and
    /// fragment, `ath` with an access token and `nonce` with a nonce.
    ///
    /// # Errors
    /// [`JwsError::Signing`] when the crypto library or the system's
    /// randomness fails.
    pub fn proof(&self, target: &ProofTarget<'_>, now: UnixTime) -> Result<String, JwsError> {
        let jti = crate::random::token().map_err(|_| JwsError::Signing)?;
        let mut claims = json!({
            "jti": jti,
            "htm": target.method,
            "htu": htu(target.url),
            "iat": now,
        });
        if let Some(token) = target.access_token {
            claims["ath"] = Value::from(access_token_hash(token));
        }
        if let Some(nonce) = target.nonce {
            claims["nonce"] = Value::from(nonce);
        }
        let header = json!({"typ": super::PROOF_TYP, "jwk": self.jwk});
        jws::sign_with_header(&self.key, &header, &claims)
    }
}

/// `ath`: base64url(SHA-256(access token)) (RFC 9449 §4.2).
pub fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, token.as_bytes()))
}

/// `htu`: the URL without its query and fragment.
fn htu(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => url.split(['?', '#']).next().unwrap_or_default().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::dpop::{DpopCheck, verify_proof};
    use crate::jws::UnverifiedJws;

    fn claims(proof: &str) -> Value {
        let jws = UnverifiedJws::parse(proof).unwrap();
        serde_json::from_slice(&jws.insecure_payload().unwrap()).unwrap()
    }

    #[test]
    fn proofs_verify_and_carry_what_the_request_needs() {
        for alg in DPOP_KEY_ALGS {
            let key = DpopKey::generate_for(alg).unwrap();
            let target = ProofTarget::new("POST", "https://op.example/token?a=1#f")
                .with_nonce(Some("n-1"))
                .with_access_token("at");
            let proof = key.proof(&target, 5_000).unwrap();
            let c = claims(&proof);
            assert_eq!(c["htu"], "https://op.example/token");
            assert_eq!(
                (c["htm"].as_str(), c["iat"].as_i64()),
                (Some("POST"), Some(5_000))
            );
            assert_eq!(c["nonce"], "n-1");
            assert_eq!(c["ath"], access_token_hash("at"));
            let check =
                DpopCheck::new("POST", "https://op.example/token", 5_000).with_access_token("at");
            let verified = verify_proof(&proof, &check).unwrap();
            assert_eq!(verified.jkt, key.thumbprint());
            assert_eq!(verified.nonce.as_deref(), Some("n-1"));
            // Two proofs never share a jti.
            let again = claims(&key.proof(&target, 5_000).unwrap());
            assert_ne!(again["jti"], c["jti"]);
        }
        let bare = DpopKey::generate().unwrap();
        let c = claims(
            &bare
                .proof(&ProofTarget::new("GET", "https://x/"), 1)
                .unwrap(),
        );
        assert!(c.get("ath").is_none() && c.get("nonce").is_none());
    }

    #[test]
    fn keys_round_trip_and_never_show_their_private_part() {
        let key = DpopKey::generate().unwrap();
        let pem = key.to_pkcs8_pem().unwrap();
        let back = DpopKey::from_pkcs8_pem(JwsAlgorithm::ES256, &pem).unwrap();
        assert_eq!(back.thumbprint(), key.thumbprint());
        let shown = format!("{key:?}");
        assert!(shown.contains(key.thumbprint()), "{shown}");
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        assert!(!shown.contains(&body[..20]), "{shown}");
        assert!(key.public_jwk().get("d").is_none());
        assert!(DpopKey::generate_for(JwsAlgorithm::RS256).is_err());
        let hmac = SigningKey::hmac(JwsAlgorithm::HS256, &[7; 32]).unwrap();
        assert!(DpopKey::from_signing_key(hmac).is_err());
    }
}
