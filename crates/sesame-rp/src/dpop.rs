//! DPoP on the client side (RFC 9449): which key signs a session's proofs,
//! the servers' nonces, and a request sent with a proof (retried once when
//! the server asks for a nonce).

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sesame_core::dpop::{DPOP_NONCE_HEADER, DPOP_SCHEME};
use sesame_core::{ErrorCode, JwsAlgorithm};

mod request;

/// How many servers' nonces are remembered (one per origin).
pub(crate) const MAX_NONCE_ORIGINS: usize = 64;
/// The longest nonce kept.
const MAX_NONCE_LEN: usize = 512;

/// Which key signs the proofs.
#[derive(Debug)]
pub(crate) enum KeyMode {
    /// One key for every session of this client.
    App(sesame_core::dpop::DpopKey),
    /// A fresh key per login, kept in the session.
    PerSession,
}

/// DPoP settings of a client, and the nonces servers gave it.
#[derive(Debug)]
pub(crate) struct Dpop {
    pub(crate) mode: KeyMode,
    pub(crate) nonces: Nonces,
}

impl Dpop {
    pub(crate) fn new(mode: KeyMode) -> Self {
        Self {
            mode,
            nonces: Nonces::default(),
        }
    }
}

/// The last `DPoP-Nonce` of each server origin, at most [`MAX_NONCE_ORIGINS`]
/// (the one set longest ago goes first).
#[derive(Default)]
pub(crate) struct Nonces(Mutex<(NonceMap, u64)>);

/// Origin → (nonce, when it was set, as a counter).
type NonceMap = HashMap<String, (String, u64)>;

impl fmt::Debug for Nonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Nonces")
    }
}

fn origin(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
}

impl Nonces {
    pub(crate) fn get(&self, url: &str) -> Option<String> {
        let origin = origin(url)?;
        let map = self.0.lock().ok()?;
        map.0.get(&origin).map(|(n, _)| n.clone())
    }

    /// Keeps the `DPoP-Nonce` of a response from `url`, if it has one.
    pub(crate) fn remember(&self, url: &str, headers: &HeaderMap) -> bool {
        let Some(nonce) = headers
            .get(DPOP_NONCE_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|n| !n.is_empty() && n.len() <= MAX_NONCE_LEN)
        else {
            return false;
        };
        let (Some(origin), Ok(mut guard)) = (origin(url), self.0.lock()) else {
            return false;
        };
        let (map, counter) = &mut *guard;
        *counter += 1;
        if !map.contains_key(&origin)
            && map.len() >= MAX_NONCE_ORIGINS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(origin, (nonce.to_owned(), *counter));
        true
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().map(|m| m.0.len()).unwrap_or(0)
    }
}

/// A session's DPoP binding: present when its access token is DPoP-bound.
/// With per-session keys, the key itself (server-side only, like the tokens).
#[derive(Clone, Default, Serialize, Deserialize)]
pub(crate) struct SessionDpop {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) alg: Option<JwsAlgorithm>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pkcs8: Option<String>,
}

impl fmt::Debug for SessionDpop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionDpop")
            .field(
                "per_session_key",
                &self.pkcs8.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// Whether a response asks for a (new) nonce: the token endpoint's 400
/// `use_dpop_nonce`, or a resource's 401 `DPoP error="use_dpop_nonce"`.
pub(crate) fn asks_for_nonce(status: u16, headers: &HeaderMap, body: Option<&[u8]>) -> bool {
    let word = ErrorCode::UseDpopNonce.as_str();
    match status {
        400 => body
            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
            .is_some_and(|v| v.get("error").and_then(Value::as_str) == Some(word)),
        401 => headers.get_all(WWW_AUTHENTICATE).iter().any(|v| {
            v.to_str().is_ok_and(|v| {
                v.trim_start()
                    .get(..DPOP_SCHEME.len())
                    .is_some_and(|s| s.eq_ignore_ascii_case(DPOP_SCHEME))
                    && v.contains(&format!("error=\"{word}\""))
            })
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use reqwest::header::HeaderValue;
    use sesame_core::dpop::DpopKey;

    use super::*;

    fn with_nonce(n: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(DPOP_NONCE_HEADER, HeaderValue::from_str(n).unwrap());
        h
    }

    #[test]
    fn nonces_are_kept_per_origin_and_bounded() {
        let nonces = Nonces::default();
        assert!(!nonces.remember("https://a.example/token", &HeaderMap::new()));
        assert!(nonces.remember("https://a.example/token", &with_nonce("n1")));
        assert_eq!(
            nonces.get("https://a.example/userinfo?x").as_deref(),
            Some("n1")
        );
        assert_eq!(nonces.get("https://a.example:8443/token"), None);
        assert!(!nonces.remember("https://a.example/", &with_nonce(&"x".repeat(600))));
        for i in 0..MAX_NONCE_ORIGINS + 10 {
            nonces.remember(&format!("https://h{i}.example/"), &with_nonce("n"));
        }
        assert_eq!(nonces.len(), MAX_NONCE_ORIGINS);
        // The oldest went first; the newest stay.
        assert_eq!(nonces.get("https://a.example/token"), None);
        let last = format!("https://h{}.example/", MAX_NONCE_ORIGINS + 9);
        assert_eq!(nonces.get(&last).as_deref(), Some("n"));
    }

    #[test]
    fn nonce_challenges_are_recognised() {
        let body = br#"{"error":"use_dpop_nonce","error_description":"x"}"#;
        assert!(asks_for_nonce(400, &HeaderMap::new(), Some(body)));
        assert!(!asks_for_nonce(
            400,
            &HeaderMap::new(),
            Some(br#"{"error":"invalid_grant"}"#)
        ));
        let mut h = HeaderMap::new();
        h.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("DPoP error=\"use_dpop_nonce\", error_description=\"n\""),
        );
        assert!(asks_for_nonce(401, &h, None));
        let mut bearer = HeaderMap::new();
        bearer.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"use_dpop_nonce\""),
        );
        assert!(!asks_for_nonce(401, &bearer, None));
        assert!(!asks_for_nonce(500, &h, Some(body)));
    }

    #[test]
    fn a_session_key_never_shows_in_debug() {
        let key = DpopKey::generate().unwrap();
        let pem = key.to_pkcs8_pem().unwrap().to_string();
        let binding = SessionDpop {
            alg: Some(key.algorithm()),
            pkcs8: Some(pem.clone()),
        };
        let shown = format!("{binding:?}");
        assert!(!shown.contains(&pem[30..60]), "{shown}");
        assert!(shown.contains("[redacted]"));
    }
}
