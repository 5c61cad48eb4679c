//! Request objects (OIDC Core §6, RFC 9101): the authorization request's
//! parameters in a JWT, sent by value (`request`) or by reference
//! (`request_uri`, served by the router at `/request-object/{id}`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use sesame_core::{ProviderMetadata, SigningKey, UnixTime, jws};

/// How the authorization request is sent (see
/// [`OidcClientBuilder::with_request_object`](crate::OidcClientBuilder::with_request_object)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestObject {
    /// `request=`: a JWT signed with the client's key.
    Signed,
    /// `request_uri=`: the signed JWT, served once by the router.
    SignedByReference,
    /// `request=`: an unsigned JWT (`alg: none`), for providers that ask for one.
    Unsigned,
    /// `request_uri=`: an unsigned JWT, served once by the router.
    UnsignedByReference,
}

impl RequestObject {
    /// Whether the object is signed.
    pub fn is_signed(self) -> bool {
        matches!(self, Self::Signed | Self::SignedByReference)
    }

    /// Whether it is sent by reference (`request_uri`).
    pub fn by_reference(self) -> bool {
        matches!(self, Self::SignedByReference | Self::UnsignedByReference)
    }
}

/// The route serving request objects by reference, under the router's base.
pub(crate) const PATH: &str = "/request-object/{id}";
/// How long a request object may wait for the provider to fetch it.
pub(crate) const TTL: i64 = 120;
/// How many request objects may wait at once (the oldest go first).
pub(crate) const MAX_STORED: usize = 1024;
/// How long a request object is valid (`exp` - `iat`).
const LIFETIME: i64 = 300;
/// The parameters left in the query beside `request`/`request_uri`
/// (OIDC Core §6.1: `response_type`, `client_id` and `scope` must be).
const OUTER: [&str; 4] = ["response_type", "client_id", "scope", "redirect_uri"];

/// The request objects waiting to be fetched: id → (JWT, created).
#[derive(Clone, Default)]
pub(crate) struct Stored(Arc<Mutex<HashMap<String, (String, UnixTime)>>>);

impl Stored {
    fn put(&self, id: String, jwt: String, now: UnixTime) {
        let mut map = match self.0.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        map.retain(|_, (_, at)| now.saturating_sub(*at) < TTL);
        while map.len() >= MAX_STORED {
            let Some(oldest) = map
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            map.remove(&oldest);
        }
        map.insert(id, (jwt, now));
    }

    /// The object under `id`, removed (one read), if it has not expired.
    fn take(&self, id: &str, now: UnixTime) -> Option<String> {
        let mut map = match self.0.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        map.remove(id)
            .filter(|(_, at)| now.saturating_sub(*at) < TTL)
            .map(|(jwt, _)| jwt)
    }
}

/// The request object settings of one client.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) mode: RequestObject,
    pub(crate) key: Option<Arc<SigningKey>>,
    pub(crate) stored: Stored,
}

/// The settings checked against the provider's metadata at `build()`.
pub(crate) fn settings(
    mode: Option<RequestObject>,
    key: Option<Arc<SigningKey>>,
    metadata: &ProviderMetadata,
) -> Result<Option<Settings>, String> {
    let Some(mode) = mode else {
        return Ok(None);
    };
    let alg = match (&key, mode.is_signed()) {
        (Some(k), true) => k.alg().as_str(),
        (None, true) => {
            return Err(
                "signed request objects need with_request_object_key or with_private_key".into(),
            );
        }
        (_, false) => "none",
    };
    if let Some(algs) = &metadata.request_object_signing_alg_values_supported
        && !algs.iter().any(|a| a == alg)
    {
        return Err(format!(
            "the provider does not accept request objects signed with {alg}"
        ));
    }
    if mode.by_reference() && metadata.request_uri_parameter_supported == Some(false) {
        return Err("the provider does not support request_uri".into());
    }
    if !mode.by_reference() && metadata.request_parameter_supported != Some(true) {
        return Err("the provider does not announce request_parameter_supported".into());
    }
    Ok(Some(Settings {
        mode,
        key: key.filter(|_| mode.is_signed()),
        stored: Stored::default(),
    }))
}

/// Who the request object is from and for, and where the router is.
pub(crate) struct Client<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) issuer: &'a str,
    /// The redirect URI, and the callback path the router serves it at.
    pub(crate) redirect_uri: &'a str,
    pub(crate) callback_path: &'a str,
}

impl Settings {
    /// Moves `params` into a request object: the query keeps [`OUTER`] and
    /// gains `request` or `request_uri`.
    pub(crate) fn wrap(
        &self,
        client: &Client<'_>,
        params: Vec<(String, String)>,
        now: UnixTime,
    ) -> Result<Vec<(String, String)>, String> {
        let settings = self;
        let internal = |e: &dyn std::fmt::Display| e.to_string();
        let mut claims = Map::new();
        for (k, v) in &params {
            claims.insert(k.clone(), claim_value(k, v));
        }
        claims.insert("iss".into(), Value::from(client.client_id));
        claims.insert("aud".into(), Value::from(client.issuer));
        claims.insert("iat".into(), Value::from(now));
        claims.insert("nbf".into(), Value::from(now));
        claims.insert("exp".into(), Value::from(now + LIFETIME));
        let jti = sesame_core::random::token().map_err(|e| internal(&e))?;
        claims.insert("jti".into(), Value::from(jti));
        let jwt = match &settings.key {
            Some(key) => {
                let mut header = serde_json::json!({"typ": "oauth-authz-req+jwt"});
                if !key.kid().is_empty() {
                    header["kid"] = Value::from(key.kid());
                }
                jws::sign_with_header(key, &header, &claims).map_err(|e| internal(&e))?
            }
            None => {
                let payload = serde_json::to_vec(&claims).map_err(|e| internal(&e))?;
                format!(
                    "{}.{}.",
                    URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
                    URL_SAFE_NO_PAD.encode(payload)
                )
            }
        };
        let mut out: Vec<(String, String)> = params
            .into_iter()
            .filter(|(k, _)| OUTER.contains(&k.as_str()))
            .collect();
        if settings.mode.by_reference() {
            let id = sesame_core::random::token().map_err(|e| internal(&e))?;
            let base = base(client.redirect_uri, client.callback_path);
            let uri = format!("{base}{}", PATH.replace("{id}", &id));
            settings.stored.put(id, jwt, now);
            out.push(("request_uri".into(), uri));
        } else {
            out.push(("request".into(), jwt));
        }
        Ok(out)
    }
}

/// Where the router is mounted: the redirect URI without the callback path
/// (its origin when it does not end with it).
fn base(redirect: &str, callback: &str) -> String {
    let redirect = redirect.split(['?', '#']).next().unwrap_or(redirect);
    match redirect.strip_suffix(callback) {
        Some(base) => base.to_owned(),
        None => url::Url::parse(redirect)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default(),
    }
}

/// A parameter's value in the object: `max_age` a number, `claims` a JSON
/// object (OIDC Core §6.1), everything else the string.
fn claim_value(name: &str, value: &str) -> Value {
    match name {
        "max_age" => value
            .trim()
            .parse::<i64>()
            .map_or_else(|_| Value::from(value), Value::from),
        "claims" => match serde_json::from_str::<Value>(value) {
            Ok(v @ Value::Object(_)) => v,
            _ => Value::from(value),
        },
        _ => Value::from(value),
    }
}

/// GET `/request-object/{id}`: the object, once; 404 when unknown, taken or expired.
pub(crate) fn serve(settings: Option<&Settings>, id: &str, now: UnixTime) -> Response {
    let jwt = settings
        .filter(|_| id.len() <= 128)
        .and_then(|s| s.stored.take(id, now));
    match jwt {
        Some(jwt) => {
            let mut r = jwt.into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/oauth-authz-req+jwt"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        None => (StatusCode::NOT_FOUND, "no such request object").into_response(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn stored_objects_are_read_once_expire_and_are_bounded() {
        let s = Stored::default();
        s.put("a".into(), "jwt-a".into(), 1000);
        assert_eq!(s.take("a", 1001).as_deref(), Some("jwt-a"));
        assert_eq!(s.take("a", 1001), None, "one read");
        s.put("b".into(), "jwt-b".into(), 1000);
        assert_eq!(s.take("b", 1000 + TTL), None, "expired");
        s.put("old".into(), "x".into(), 1999);
        for n in 0..MAX_STORED {
            s.put(format!("k{n}"), "x".into(), 2000);
        }
        assert_eq!(s.0.lock().unwrap().len(), MAX_STORED, "bounded");
        assert_eq!(s.take("old", 2000), None, "the oldest went first");
        s.put("new".into(), "x".into(), 2001);
        assert_eq!(s.0.lock().unwrap().len(), MAX_STORED);
        assert!(s.take("new", 2001).is_some());
    }

    #[test]
    fn the_base_is_where_the_router_is() {
        assert_eq!(
            base("https://a.example/app/callback", "/callback"),
            "https://a.example/app"
        );
        assert_eq!(
            base("https://a.example/cb?x=1", "/callback"),
            "https://a.example"
        );
    }

    #[test]
    fn claim_values() {
        assert_eq!(claim_value("max_age", "0"), Value::from(0));
        assert_eq!(claim_value("max_age", "x"), Value::from("x"));
        assert_eq!(
            claim_value("claims", r#"{"userinfo":{}}"#),
            serde_json::json!({"userinfo": {}})
        );
        assert_eq!(claim_value("state", "1"), Value::from("1"));
    }
}
