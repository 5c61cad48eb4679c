//! OpenID Connect Front-Channel Logout 1.0: the provider's logout page frames
//! `GET {frontchannel_logout}?iss=…&sid=…` in the user's browser, and the
//! relying party ends the sessions of that provider session.
//!
//! A framed request is cross-site: with `SameSite=Lax` cookies it carries no
//! session cookie in today's browsers, so the logout is recorded in the
//! [`LogoutRegistry`](crate::LogoutRegistry) by `(iss, sid)`, as a
//! back-channel logout is, and every session with that `sid` ends on its next
//! request (only for a `sid` this app has signed a session in with:
//! [`LogoutRegistry::knows_sid`](crate::LogoutRegistry::knows_sid)). When the browser does send the session cookie and that session has
//! this `sid`, it ends at once.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use crate::builder::OidcClientBuilder;
use crate::client::OidcClient;
use crate::page::escape_html;
use crate::session::{AUTH_KEY, AuthSession};

/// Longest `sid` taken (a provider's session id; longer is not one).
const MAX_SID: usize = 512;

impl OidcClientBuilder {
    /// Whether the front-channel logout URI requires `iss` and `sid` (the
    /// `frontchannel_logout_session_required` registered at the provider).
    /// Default `true`: a request without them is refused (400), so a plain
    /// link cannot log a user out. With `false`, a request without them ends
    /// the session whose cookie the browser sends (a framed request sends it
    /// only where third-party cookies are allowed).
    #[must_use]
    pub fn with_frontchannel_logout_session_required(mut self, required: bool) -> Self {
        self.frontchannel_sid_optional = !required;
        self
    }
}

/// What a front-channel logout request asks for.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    /// `iss` and `sid`.
    Session { iss: String, sid: String },
    /// Neither: the browser's own session.
    Browser,
}

/// Why a request is refused (the page says it; the provider does not read it).
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// `iss` without `sid` or the other way round, a repeated or oversized one.
    Malformed,
    /// Neither, although they are required.
    SessionRequired,
    /// `iss` is not this provider.
    OtherIssuer,
}

fn parse(query: &str) -> Result<Request, Refusal> {
    let mut iss = None;
    let mut sid = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let slot = match k.as_ref() {
            "iss" => &mut iss,
            "sid" => &mut sid,
            _ => continue,
        };
        if slot.is_some() || v.is_empty() || v.len() > MAX_SID {
            return Err(Refusal::Malformed);
        }
        *slot = Some(v.into_owned());
    }
    match (iss, sid) {
        (Some(iss), Some(sid)) => Ok(Request::Session { iss, sid }),
        (None, None) => Ok(Request::Browser),
        _ => Err(Refusal::Malformed),
    }
}

/// The origins that may frame the page: the issuer's and the end-session
/// endpoint's (the page that frames it), as CSP sources.
fn frame_ancestors(client: &OidcClient) -> String {
    let mut origins: Vec<String> = Vec::new();
    let metadata = client.metadata();
    for u in [
        Some(client.issuer().as_str()),
        metadata.end_session_endpoint.as_deref(),
    ]
    .into_iter()
    .flatten()
    {
        if let Ok(u) = url::Url::parse(u)
            && matches!(u.scheme(), "https" | "http")
        {
            let origin = u.origin().ascii_serialization();
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
    }
    if origins.is_empty() {
        "'none'".into()
    } else {
        origins.join(" ")
    }
}

/// The small page the provider frames: `no-store`, no script, framable by
/// the provider's origins only.
fn page(client: &OidcClient, status: StatusCode, message: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Front-channel logout</title></head>\n<body><p>{}</p></body></html>\n",
        escape_html(message)
    );
    let csp = format!(
        "default-src 'none'; frame-ancestors {}; base-uri 'none'",
        frame_ancestors(client)
    );
    let mut r = (status, html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
}

pub(crate) async fn frontchannel_logout(
    State(client): State<OidcClient>,
    session: Session,
    RawQuery(q): RawQuery,
) -> Response {
    frontchannel_logout_with(&client, &session, q.as_deref().unwrap_or("")).await
}

/// GET front-channel logout: checks `iss` and `sid`, records the logout and
/// ends the browser's session if it is that one.
#[tracing::instrument(name = "sesame_rp.frontchannel_logout", skip_all, fields(provider = %client.name()))]
pub(crate) async fn frontchannel_logout_with(
    client: &OidcClient,
    session: &Session,
    query: &str,
) -> Response {
    let request = parse(query).and_then(|r| match r {
        Request::Browser if !client.inner.frontchannel_sid_optional => {
            Err(Refusal::SessionRequired)
        }
        Request::Session { iss, .. } if iss != client.issuer().as_str() => {
            Err(Refusal::OtherIssuer)
        }
        r => Ok(r),
    });
    let request = match request {
        Ok(r) => r,
        Err(why) => {
            tracing::warn!(reason = ?why, "front-channel logout refused");
            let message = match why {
                Refusal::Malformed => "A front-channel logout takes one iss and one sid.",
                Refusal::SessionRequired => "A front-channel logout needs iss and sid.",
                Refusal::OtherIssuer => "This logout is from another provider.",
            };
            return page(client, StatusCode::BAD_REQUEST, message);
        }
    };
    let auth: Option<AuthSession> = session.get(AUTH_KEY).await.ok().flatten();
    let ours = auth.as_ref().is_some_and(|a| {
        a.provider == client.name()
            && a.issuer == client.issuer().as_str()
            && match &request {
                Request::Session { sid, .. } => a.sid.as_deref() == Some(sid.as_str()),
                Request::Browser => true,
            }
    });
    // Only a `sid` this app signed a session in with is recorded: made-up
    // ones (the request is unauthenticated) cannot fill the registry.
    let registry = &client.inner.logouts;
    let recorded = match &request {
        Request::Session { iss, sid } if registry.knows_sid(iss, sid).await => {
            registry.record(iss, Some(sid), None, client.now()).await;
            true
        }
        _ => false,
    };
    if ours && let Err(e) = session.remove_value(AUTH_KEY).await {
        tracing::error!(error = %e, "could not end the session");
        return page(
            client,
            StatusCode::INTERNAL_SERVER_ERROR,
            "The logout could not be completed.",
        );
    }
    // The provider's `sid` is not logged (see the back-channel logout).
    tracing::info!(
        by_sid = recorded,
        this_browser = ours,
        "front-channel logout"
    );
    page(client, StatusCode::OK, "You have been signed out.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iss_and_sid_come_together_once_each() {
        assert_eq!(
            parse("iss=https%3A%2F%2Fop&sid=s1&x=y"),
            Ok(Request::Session {
                iss: "https://op".into(),
                sid: "s1".into()
            })
        );
        assert_eq!(parse(""), Ok(Request::Browser));
        assert_eq!(parse("x=1"), Ok(Request::Browser));
        for bad in [
            "iss=https%3A%2F%2Fop",
            "sid=s1",
            "iss=a&sid=s1&sid=s2",
            "iss=a&iss=a&sid=s1",
            "iss=&sid=s1",
        ] {
            assert_eq!(parse(bad), Err(Refusal::Malformed), "{bad}");
        }
        let long = format!("iss=a&sid={}", "s".repeat(MAX_SID + 1));
        assert_eq!(parse(&long), Err(Refusal::Malformed));
    }
}
