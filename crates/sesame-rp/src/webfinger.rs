//! Issuer discovery with WebFinger (OIDC Discovery §2, RFC 7033): from what
//! a user types (`acct:joe@example.com`, `joe@example.com`, or a URL such as
//! `https://example.com/joe`) to the provider's issuer.

use std::time::Duration;

use serde_json::Value;
use sesame_core::Issuer;

use crate::outbound::{HttpError, default_client};

/// The link relation of an OpenID Connect issuer (OIDC Discovery §2).
pub const ISSUER_REL: &str = "http://openid.net/specs/connect/1.0/issuer";
/// The largest JRD document read (a WebFinger answer is a few hundred bytes).
pub const MAX_JRD: usize = 64 * 1024;
/// How long a lookup may take in all (connect, send, read).
const TIMEOUT: Duration = Duration::from_secs(5);

/// Why a WebFinger lookup found no issuer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebFingerError {
    /// The identifier is not an `acct:` URI, an e-mail-like `user@host` or a URL.
    #[error("not a WebFinger identifier: {0}")]
    Input(String),
    /// The request failed or answered outside 2xx.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The host took longer than the time limit.
    #[error("the WebFinger lookup at {0} timed out")]
    Timeout(String),
    /// The answer is larger than [`MAX_JRD`].
    #[error("the WebFinger answer from {0} is larger than {MAX_JRD} bytes")]
    TooLarge(String),
    /// The answer is not a JRD document.
    #[error("the WebFinger answer is not a JRD document: {0}")]
    NotJrd(String),
    /// No link with the issuer relation.
    #[error("the WebFinger answer has no {ISSUER_REL} link")]
    NoIssuer,
    /// The linked issuer is not an acceptable issuer URL (https, no query or fragment).
    #[error("the WebFinger answer names an unacceptable issuer {0:?}: {1}")]
    BadIssuer(String, String),
}

/// A WebFinger resolver.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let issuer = sesame_rp::WebFinger::new().resolve("acct:joe@example.com").await?;
/// let oidc = sesame_rp::OidcClient::builder(issuer, "my-client")
///     .with_client_secret("secret")
///     .with_redirect_uri("https://app.example/callback".parse()?)
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct WebFinger {
    http: Option<reqwest::Client>,
    insecure_loopback: bool,
    timeout: Option<Duration>,
}

/// The resource to ask about and the host to ask (`host[:port]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// The normalised identifier (`acct:…` or a URL without fragment).
    pub resource: String,
    /// Where the WebFinger endpoint is.
    pub host: String,
}

impl WebFinger {
    /// A resolver with the default outbound client (no redirects), https only.
    pub fn new() -> Self {
        Self::default()
    }

    /// The outbound HTTP client (give it timeouts and no redirects).
    #[must_use]
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The time limit of one lookup (default 5 s).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Tests and local setups: for a loopback host (`127.0.0.1`, `[::1]`,
    /// `localhost`) ask over plain http, and accept an http issuer on a
    /// loopback host. Other hosts stay https-only.
    #[must_use]
    pub fn allow_insecure_loopback(mut self) -> Self {
        self.insecure_loopback = true;
        self
    }

    /// The issuer `input` names.
    ///
    /// # Errors
    /// A [`WebFingerError`] for a bad identifier, a failed or oversized
    /// lookup, or an answer without an acceptable issuer link.
    #[tracing::instrument(name = "sesame_rp.webfinger", skip_all)]
    pub async fn resolve(&self, input: &str) -> Result<Issuer, WebFingerError> {
        let target = normalize(input)?;
        let scheme = if self.insecure_loopback && is_loopback(&target.host) {
            "http"
        } else {
            "https"
        };
        let mut url = url::Url::parse(&format!("{scheme}://{}/.well-known/webfinger", target.host))
            .map_err(|e| WebFingerError::Input(e.to_string()))?;
        url.query_pairs_mut()
            .append_pair("resource", &target.resource)
            .append_pair("rel", ISSUER_REL);
        let url = url.to_string();
        let bytes = tokio::time::timeout(self.timeout.unwrap_or(TIMEOUT), self.fetch(&url))
            .await
            .map_err(|_| WebFingerError::Timeout(target.host.clone()))??;
        let issuer = issuer_link(&bytes)?;
        self.acceptable(&issuer)
    }

    /// What a user typed, as an issuer: an `acct:` URI or `user@host` is
    /// looked up with WebFinger; a URL is the issuer itself unless its
    /// discovery document answers 4xx (then it is looked up with WebFinger).
    /// Any other answer, or none, leaves the discovery of the issuer (which
    /// checks the document) to report.
    ///
    /// # Errors
    /// As [`WebFinger::resolve`].
    pub async fn discover_issuer(&self, input: &str) -> Result<Issuer, WebFingerError> {
        let input = input.trim();
        if !input.contains("://") {
            return self.resolve(input).await;
        }
        let Ok(issuer) = Issuer::new(input) else {
            return self.resolve(input).await;
        };
        let url = sesame_core::discovery_url(&issuer);
        match tokio::time::timeout(self.timeout.unwrap_or(TIMEOUT), self.fetch(&url)).await {
            Ok(Err(WebFingerError::Http(HttpError::Status { status, .. })))
                if (400..500).contains(&status) =>
            {
                self.resolve(input).await
            }
            _ => Ok(issuer),
        }
    }

    async fn fetch(&self, url: &str) -> Result<Vec<u8>, WebFingerError> {
        let http = match &self.http {
            Some(h) => h.clone(),
            None => default_client().map_err(|e| WebFingerError::Input(e.to_string()))?,
        };
        let transport = |source| HttpError::Transport {
            url: url.to_owned(),
            source,
        };
        let mut response = http
            .get(url)
            .header(
                reqwest::header::ACCEPT,
                "application/jrd+json, application/json",
            )
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        if response
            .content_length()
            .is_some_and(|l| l > MAX_JRD as u64)
        {
            return Err(WebFingerError::TooLarge(url.to_owned()));
        }
        let mut out = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if out.len() + chunk.len() > MAX_JRD {
                return Err(WebFingerError::TooLarge(url.to_owned()));
            }
            out.extend_from_slice(&chunk);
        }
        if !(200..300).contains(&status) {
            return Err(crate::outbound::status_error(url, status, &out).into());
        }
        Ok(out)
    }

    /// An https issuer (http on loopback with the insecure switch), as [`Issuer`] checks it.
    fn acceptable(&self, href: &str) -> Result<Issuer, WebFingerError> {
        let bad =
            |why: &str| WebFingerError::BadIssuer(href.chars().take(200).collect(), why.into());
        let url = url::Url::parse(href).map_err(|e| bad(&e.to_string()))?;
        let loopback = url
            .host_str()
            .is_some_and(|h| is_loopback(&format!("{h}:")));
        match url.scheme() {
            "https" => {}
            "http" if self.insecure_loopback && loopback => {}
            _ => return Err(bad("not https")),
        }
        Issuer::new(href).map_err(|e| bad(&e.to_string()))
    }
}

/// OIDC Discovery §2.1 normalisation: `acct:` URIs as given, `user@host`
/// (no scheme) as `acct:user@host`, anything else a URL (`https://` added
/// when it has no scheme) without its fragment.
///
/// # Errors
/// [`WebFingerError::Input`] when no host can be found.
pub fn normalize(input: &str) -> Result<Resource, WebFingerError> {
    let input = input.trim();
    let bad = || WebFingerError::Input(input.chars().take(200).collect());
    if input.is_empty() || input.len() > 1024 || input.chars().any(char::is_whitespace) {
        return Err(bad());
    }
    let has_scheme = input.contains("://");
    let acct = if let Some(rest) = input.strip_prefix("acct:") {
        Some(rest)
    } else if !has_scheme && input.contains('@') && !input.contains(['/', '?', '#']) {
        Some(input)
    } else {
        None
    };
    if let Some(rest) = acct {
        let (user, host) = rest.rsplit_once('@').ok_or_else(bad)?;
        if user.is_empty() || !valid_host(host) {
            return Err(bad());
        }
        return Ok(Resource {
            resource: format!("acct:{rest}"),
            host: host.to_owned(),
        });
    }
    let with_scheme = if has_scheme {
        input.to_owned()
    } else {
        format!("https://{input}")
    };
    let mut url = url::Url::parse(&with_scheme).map_err(|_| bad())?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(bad());
    }
    url.set_fragment(None);
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => return Err(bad()),
    };
    if !valid_host(&host) {
        return Err(bad());
    }
    Ok(Resource {
        resource: url.to_string(),
        host,
    })
}

/// `host[:port]` with nothing else (no path, query, user info).
fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && !host.contains(['/', '?', '#', '@', '\\'])
        && url::Url::parse(&format!("https://{host}/"))
            .is_ok_and(|u| u.host_str().is_some_and(|h| !h.is_empty()) && u.path() == "/")
}

/// `127.0.0.1[:port]`, `[::1][:port]` or `localhost[:port]`.
fn is_loopback(host: &str) -> bool {
    let name = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default()
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The `href` of the first issuer link of a JRD document (other members ignored).
fn issuer_link(bytes: &[u8]) -> Result<String, WebFingerError> {
    let doc: Value =
        serde_json::from_slice(bytes).map_err(|e| WebFingerError::NotJrd(e.to_string()))?;
    let links = match doc.get("links") {
        Some(Value::Array(l)) => l,
        Some(_) => return Err(WebFingerError::NotJrd("links is not an array".into())),
        None if doc.is_object() => return Err(WebFingerError::NoIssuer),
        None => return Err(WebFingerError::NotJrd("not a JSON object".into())),
    };
    links
        .iter()
        .filter(|l| l.get("rel").and_then(Value::as_str) == Some(ISSUER_REL))
        .find_map(|l| l.get("href").and_then(Value::as_str))
        .map(str::to_owned)
        .ok_or(WebFingerError::NoIssuer)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn r(resource: &str, host: &str) -> Resource {
        Resource {
            resource: resource.into(),
            host: host.into(),
        }
    }

    #[test]
    fn identifiers_are_normalised_as_discovery_says() {
        let n = |s| normalize(s).unwrap();
        assert_eq!(
            n("acct:joe@example.com"),
            r("acct:joe@example.com", "example.com")
        );
        assert_eq!(
            n("joe@example.com"),
            r("acct:joe@example.com", "example.com")
        );
        assert_eq!(
            n("joe@127.0.0.1:8080"),
            r("acct:joe@127.0.0.1:8080", "127.0.0.1:8080")
        );
        assert_eq!(n("example.com"), r("https://example.com/", "example.com"));
        assert_eq!(
            n("https://example.com/joe#x"),
            r("https://example.com/joe", "example.com")
        );
        assert_eq!(
            n("example.com:8080/joe"),
            r("https://example.com:8080/joe", "example.com:8080")
        );
        assert_eq!(
            n("https://joe@example.com/"),
            r("https://joe@example.com/", "example.com")
        );
        for bad in [
            "",
            "acct:@example.com",
            "acct:joe@",
            "acct:joe@ex/ample",
            "ftp://x/",
            "a b@c",
            "acct:joe@h?x",
        ] {
            assert!(normalize(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("127.0.0.1:80"));
        assert!(is_loopback("[::1]:80"));
        assert!(is_loopback("localhost"));
        assert!(!is_loopback("example.com"));
        assert!(!is_loopback("127.0.0.1.example.com"));
    }

    #[test]
    fn the_issuer_link_is_found_and_checked() {
        let doc = br#"{"subject":"acct:a@b","x":1,"links":[{"rel":"other","href":"https://no"},{"rel":"http://openid.net/specs/connect/1.0/issuer","href":"https://op.example"}]}"#;
        assert_eq!(issuer_link(doc).unwrap(), "https://op.example");
        assert!(matches!(issuer_link(b"{}"), Err(WebFingerError::NoIssuer)));
        assert!(matches!(
            issuer_link(b"[1]"),
            Err(WebFingerError::NotJrd(_))
        ));
        assert!(matches!(
            issuer_link(br#"{"links":{}}"#),
            Err(WebFingerError::NotJrd(_))
        ));
        let strict = WebFinger::new();
        assert!(strict.acceptable("https://op.example").is_ok());
        assert!(strict.acceptable("http://127.0.0.1:1").is_err());
        assert!(strict.acceptable("https://op.example/?q=1").is_err());
        let loose = WebFinger::new().allow_insecure_loopback();
        assert!(loose.acceptable("http://127.0.0.1:1").is_ok());
        assert!(loose.acceptable("http://op.example").is_err());
    }
}
