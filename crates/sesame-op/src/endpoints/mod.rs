//! Thin axum handlers: extract, call a `flow`, map the outcome.

mod authorize;
mod device;
mod discovery;
mod end_session;
mod par;
mod register;
mod token;
mod userinfo;

use axum::Router;
use axum::body::Bytes;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use sesame_core::{ErrorCode, UnixTime};

use crate::authn::EndUser;
use crate::flow::interaction::{self, Refused};
use crate::flow::{FlowError, OAuthError, Params};
use crate::model::{Interaction, InteractionKind};
use crate::pages::PAGE_CSP;
use crate::paths;
use crate::provider::NonceCheck;
use crate::provider::Provider;

/// The largest form body accepted (64 KiB).
const MAX_FORM: usize = 64 * 1024;

impl Provider {
    /// The provider's routes, mounted at the issuer's path. Merge it into
    /// your app's router; paths are in [`crate::paths`]. The registration
    /// routes ([`crate::paths::REGISTER`], [`crate::paths::REGISTER_CLIENT`])
    /// are mounted only when [`crate::Settings::registration`] enables them.
    pub fn router(&self) -> Router {
        let mut router = Router::new();
        if self.inner.settings.registration.is_enabled() {
            router = router
                .route(paths::REGISTER, post(register::register))
                .route(
                    paths::REGISTER_CLIENT,
                    get(register::read)
                        .put(register::update)
                        .delete(register::delete),
                );
        }
        router
            .route(paths::DISCOVERY, get(discovery::discovery))
            .route(paths::JWKS, get(discovery::jwks))
            .route(paths::AUTHORIZE, get(authorize::get).post(authorize::post))
            .route(paths::CONSENT, post(authorize::consent))
            .route(paths::TOKEN, post(token::token))
            .route(paths::PAR, post(par::push))
            .route(paths::DEVICE_AUTHORIZATION, post(device::authorize))
            .route(paths::DEVICE, get(device::page).post(device::submit))
            .route(paths::DEVICE_CONSENT, post(device::consent))
            .route(
                paths::USERINFO,
                get(userinfo::userinfo).post(userinfo::userinfo),
            )
            .route(paths::INTROSPECT, post(token::introspect))
            .route(paths::REVOKE, post(token::revoke))
            .route(
                paths::END_SESSION,
                get(end_session::get).post(end_session::post),
            )
            .layer(axum::extract::DefaultBodyLimit::max(MAX_FORM))
            .with_state(self.clone())
    }
}

/// Parses a query string into parameters.
/// A value a caller chose (an unauthenticated `client_id`), cut to at most
/// 128 bytes for a span attribute, so a trace holds O(1) of it.
pub(crate) fn span_value(value: &str) -> &str {
    let mut end = value.len().min(128);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

/// The `grant_type` for a span attribute: one of the names the provider
/// knows, else `unsupported` (never the caller's text).
pub(crate) fn span_grant_type(value: Option<&str>) -> &'static str {
    const KNOWN: [&str; 6] = [
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "password",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    ];
    value
        .and_then(|v| KNOWN.into_iter().find(|k| *k == v))
        .unwrap_or("unsupported")
}

pub(crate) fn parse_query(query: Option<&str>) -> Params {
    Params(
        url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    )
}

/// Parses a form body, insisting on the form content type.
pub(crate) fn parse_form(headers: &HeaderMap, body: &Bytes) -> Result<Params, OAuthError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    if !is_form {
        return Err(OAuthError::new(
            ErrorCode::InvalidRequest,
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| OAuthError::new(ErrorCode::InvalidRequest, "the body is not valid UTF-8"))?;
    Ok(parse_query(Some(text)))
}

/// A JSON error answer for the back-channel endpoints (RFC 6749 §5.2).
pub(crate) fn json_error(e: &OAuthError, issuer: &str) -> Response {
    let status = StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (
        status,
        axum::Json(json!({
            "error": e.code.as_str(),
            "error_description": sesame_core::sanitize_description(&e.description),
        })),
    )
        .into_response();
    no_store(response.headers_mut());
    if e.code == ErrorCode::InvalidClient
        && let Ok(v) = HeaderValue::from_str(&format!("Basic realm=\"{issuer}\""))
    {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    response
}

/// Maps a flow failure for a JSON endpoint: protocol errors as such,
/// internal ones as `server_error` with the detail only in the log.
pub(crate) fn flow_error(e: FlowError, issuer: &str) -> Response {
    match e {
        FlowError::OAuth(e) => json_error(&e, issuer),
        FlowError::RateLimited { retry_after } => {
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({
                    "error": ErrorCode::TemporarilyUnavailable.as_str(),
                    "error_description": "too many attempts; try again later",
                })),
            )
                .into_response();
            no_store(response.headers_mut());
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
            response
        }
        FlowError::Internal(detail) => {
            tracing::error!(%detail, "internal error");
            json_error(
                &OAuthError::new(
                    ErrorCode::ServerError,
                    "the server failed to handle the request",
                ),
                issuer,
            )
        }
    }
}

pub(crate) fn no_store(h: &mut HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// An RFC 6750 §3 answer for a Bearer-protected endpoint: `None` when the
/// request carried no token (a bare challenge, no error code).
pub(crate) fn bearer_error(p: &Provider, e: Option<&OAuthError>) -> Response {
    let realm = p.inner.issuer.as_str();
    let (status, challenge) = match e {
        None => (
            StatusCode::UNAUTHORIZED,
            format!("Bearer realm=\"{realm}\""),
        ),
        Some(e) => {
            let status = match e.code {
                ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
                ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
                ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::UNAUTHORIZED,
            };
            let description = sesame_core::sanitize_description(&e.description);
            (
                status,
                format!(
                    "Bearer realm=\"{realm}\", error=\"{}\", error_description=\"{description}\"",
                    e.code
                ),
            )
        }
    };
    // With an error code, the body says it too (as JSON), for clients that
    // read the body and not the challenge (pyoidc at /register).
    let mut r = match e {
        None => status.into_response(),
        Some(e) => (
            status,
            axum::Json(serde_json::json!({
                "error": e.code.as_str(),
                "error_description": sesame_core::sanitize_description(&e.description),
            })),
        )
            .into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    no_store(r.headers_mut());
    r
}

/// An error page (never a redirect), for browser-facing endpoints.
pub(crate) fn error_page(p: &Provider, status: StatusCode, e: &OAuthError) -> Response {
    p.inner.templates.render(
        "error.html",
        status,
        json!({
            "css": crate::pages::STYLESHEET,
            "issuer": p.inner.issuer.as_str(),
            "error": e.code.as_str(),
            "description": e.description,
        }),
        PAGE_CSP,
    )
}

/// A 400 error page with `invalid_request`: a browser form the provider
/// cannot act on.
pub(crate) fn bad_form(p: &Provider, description: &str) -> Response {
    error_page(
        p,
        StatusCode::BAD_REQUEST,
        &OAuthError::new(ErrorCode::InvalidRequest, description),
    )
}

/// A confirmation form (consent, device consent, sign-out) and what its
/// error pages say.
pub(crate) struct ConfirmForm {
    /// The interaction kind the form answers.
    pub(crate) kind: InteractionKind,
    /// The form lacks its `interaction` or `csrf_token`.
    pub(crate) incomplete: &'static str,
    /// Its interaction expired or was already answered.
    pub(crate) expired: &'static str,
}

/// The interaction a submitted confirmation form names (single use, its kind
/// and CSRF token checked), or the error page to answer with.
pub(crate) async fn redeem_form(
    p: &Provider,
    form: &Params,
    f: &ConfirmForm,
    now: UnixTime,
) -> Result<Interaction, Response> {
    let (Some(id), Some(csrf)) = (form.get("interaction"), form.get("csrf_token")) else {
        return Err(bad_form(p, f.incomplete));
    };
    match interaction::redeem(p, id, csrf, f.kind, now).await {
        Ok(Ok(i)) => Ok(i),
        Ok(Err(Refused::Expired)) => Err(bad_form(p, f.expired)),
        Ok(Err(Refused::BadCsrf)) => Err(bad_form(p, "the form's CSRF token is invalid")),
        Ok(Err(_)) => Err(bad_form(p, "this form does not belong here")),
        Err(e) => Err(page_flow_error(p, e)),
    }
}

/// The user a consent form is answered by: still signed in as the one who
/// was asked, or the error page.
pub(crate) async fn asked_user(
    p: &Provider,
    parts: &Parts,
    asked: &Interaction,
) -> Result<EndUser, Response> {
    match p.inner.authn.current_user(parts).await {
        Ok(Some(u)) if u.subject == asked.subject => Ok(u),
        Ok(_) => Err(bad_form(
            p,
            "you are no longer signed in as the user who was asked",
        )),
        Err(e) => Err(page_flow_error(p, FlowError::Internal(e.to_string()))),
    }
}

/// Internal failures on browser-facing endpoints.
pub(crate) fn page_flow_error(p: &Provider, e: FlowError) -> Response {
    match e {
        FlowError::OAuth(e) => error_page(p, StatusCode::BAD_REQUEST, &e),
        FlowError::RateLimited { .. } => error_page(
            p,
            StatusCode::TOO_MANY_REQUESTS,
            &OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "too many attempts; try again later",
            ),
        ),
        FlowError::Internal(detail) => {
            tracing::error!(%detail, "internal error");
            error_page(
                p,
                StatusCode::INTERNAL_SERVER_ERROR,
                &OAuthError::new(
                    ErrorCode::ServerError,
                    "the server failed to handle the request",
                ),
            )
        }
    }
}

/// A 303 redirect.
pub(crate) fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut r = StatusCode::SEE_OTHER.into_response();
            r.headers_mut().insert(header::LOCATION, v);
            no_store(r.headers_mut());
            r
        }
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "bad redirect").into_response(),
    }
}

/// A request's verified DPoP proof.
#[derive(Debug)]
pub(crate) struct Proof {
    /// The RFC 7638 thumbprint of its key.
    pub(crate) jkt: String,
    /// A newer server nonce to send back in `DPoP-Nonce` (the proof carried
    /// the previous window's).
    pub(crate) renew_nonce: Option<String>,
}

/// The request's DPoP proof (RFC 9449 §4), verified for this endpoint's
/// method and URL (and `access_token`'s hash, at a resource), with the
/// server's nonce when [`crate::Settings::dpop_nonce`] requires one
/// (`use_dpop_nonce` otherwise), its `jti` remembered so that it works
/// once; `None` when the request has no `DPoP` header.
pub(crate) async fn dpop_proof(
    p: &Provider,
    parts: &axum::http::request::Parts,
    path: &str,
    access_token: Option<&str>,
) -> Result<Option<Proof>, crate::flow::FlowError> {
    spend(p, unspent_dpop_proof(p, parts, path, access_token)?).await
}

/// Spends `proof`, if there is one ([`UnspentProof::spend`]).
pub(crate) async fn spend(
    p: &Provider,
    proof: Option<UnspentProof>,
) -> Result<Option<Proof>, crate::flow::FlowError> {
    match proof {
        Some(proof) => proof.spend(p).await.map(Some),
        None => Ok(None),
    }
}

/// A DPoP proof checked in every way but replay: its `jti` is not yet
/// remembered. The token and PAR endpoints check the proof (and its nonce)
/// before they authenticate the client and spend it after, so that a
/// `use_dpop_nonce` refusal does not spend the client's assertion.
pub(crate) struct UnspentProof {
    proof: Proof,
    key: String,
    until: sesame_core::UnixTime,
}

impl UnspentProof {
    /// Remembers the proof's `jti` (across instances, through the store);
    /// a proof seen before is refused.
    pub(crate) async fn spend(self, p: &Provider) -> Result<Proof, crate::flow::FlowError> {
        let fresh = p.inner.store.remember_jti(&self.key, self.until).await?;
        if !fresh {
            return Err(crate::flow::FlowError::OAuth(OAuthError::new(
                ErrorCode::InvalidDpopProof,
                "the DPoP proof was already used (jti)",
            )));
        }
        Ok(self.proof)
    }
}

/// The request's DPoP proof verified as [`dpop_proof`] does, without the
/// replay check ([`UnspentProof::spend`]).
pub(crate) fn unspent_dpop_proof(
    p: &Provider,
    parts: &axum::http::request::Parts,
    path: &str,
    access_token: Option<&str>,
) -> Result<Option<UnspentProof>, crate::flow::FlowError> {
    let bad =
        |d: String| crate::flow::FlowError::OAuth(OAuthError::new(ErrorCode::InvalidDpopProof, d));
    let mut proofs = parts.headers.get_all("dpop").iter();
    let Some(proof) = proofs.next() else {
        return Ok(None);
    };
    if proofs.next().is_some() {
        return Err(bad("send one DPoP header".into()));
    }
    let proof = proof
        .to_str()
        .map_err(|_| bad("the DPoP header is not text".into()))?;
    let now = p.now();
    let url = p.inner.issuer.join(path);
    let mut check = sesame_core::dpop::DpopCheck::new(parts.method.as_str(), &url, now);
    if let Some(token) = access_token {
        check = check.with_access_token(token);
    }
    let verified =
        sesame_core::dpop::verify_proof(proof, &check).map_err(|e| bad(e.to_string()))?;
    // Before the jti is remembered: the retry with the nonce is a new proof anyway.
    let renew_nonce = match p.check_dpop_nonce(verified.nonce.as_deref(), now) {
        NonceCheck::Accepted { renew } => renew,
        NonceCheck::Refused { why } => {
            return Err(crate::flow::FlowError::OAuth(OAuthError::new(
                ErrorCode::UseDpopNonce,
                why,
            )));
        }
    };
    let key = format!(
        "dpop:{}",
        crate::secrets::token_key(&format!("{}:{}", verified.jkt, verified.jti))
    );
    Ok(Some(UnspentProof {
        proof: Proof {
            jkt: verified.jkt,
            renew_nonce,
        },
        // Kept past the oldest iat accepted, so a replay within the window is seen.
        until: now + check.max_age + check.leeway,
        key,
    }))
}

/// The `DPoP-Nonce` to send with a refusal of a DPoP request (RFC 9449
/// §8.1, §9): the current nonce when the refusal is `use_dpop_nonce`.
pub(crate) fn nonce_for(p: &Provider, e: &FlowError) -> Option<String> {
    match e {
        FlowError::OAuth(e) if e.code == ErrorCode::UseDpopNonce => p.dpop_nonce(p.now()),
        _ => None,
    }
}

/// Adds `nonce`, if any, as the `DPoP-Nonce` header.
pub(crate) fn with_dpop_nonce(mut r: Response, nonce: Option<&str>) -> Response {
    if let Some(v) = nonce.and_then(|n| HeaderValue::from_str(n).ok()) {
        r.headers_mut().insert("dpop-nonce", v);
    }
    r
}
