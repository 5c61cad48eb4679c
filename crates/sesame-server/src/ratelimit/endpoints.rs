//! The rate limits in front of the provider's endpoints: failed client
//! authentication per address at every endpoint that authenticates clients,
//! the token endpoint's per-client limit, the device page and registration.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sesame_core::Clock;

use super::{Counters, RateLimiter, TrustedProxies, blocked, limit_device_page, limit_key, peer};
use crate::connections::BODY_LIMIT;

/// Set by the password authenticator when the login queue was full, so
/// that the token layer answers 503 rather than the provider's 429.
#[derive(Debug, Clone, Default)]
pub(crate) struct LoginBusy(pub(crate) Arc<std::sync::atomic::AtomicBool>);

pub(crate) struct TokenLimit {
    /// Per client, counted only for requests whose client authenticated.
    per_client: RateLimiter,
    registrations: RateLimiter,
    proxies: TrustedProxies,
    counters: Counters,
    failures_per_ip: u32,
    device_failures_per_ip: u32,
    clock: Arc<dyn Clock>,
}

impl TokenLimit {
    pub(crate) fn new(
        limits: &crate::config::RateLimits,
        proxies: TrustedProxies,
        counters: Counters,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            per_client: RateLimiter::per_second(limits.token_per_client_per_second),
            registrations: RateLimiter::per_minute(limits.register_per_ip_per_minute),
            proxies,
            counters,
            failures_per_ip: limits.token_failures_per_ip_per_minute,
            device_failures_per_ip: limits.device_failures_per_ip_per_minute,
            clock,
        }
    }
}

fn oauth_refusal(status: StatusCode, retry: Duration, description: &str) -> Response {
    let mut r = (
        status,
        axum::Json(serde_json::json!({"error": "temporarily_unavailable", "error_description": description})),
    )
        .into_response();
    r.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(retry.as_secs().max(1)),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The client id a token request names, unauthenticated: from Basic
/// credentials, else from the form's `client_id` (the body is read here,
/// within the route's body limit, and handed on unchanged).
async fn named_client(request: Request) -> Result<(Request, Option<String>), Response> {
    let basic = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(id, _)| id.to_owned()));
    if basic.is_some() {
        return Ok((request, basic));
    }
    let form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return Ok((request, None));
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            let mut too_large = false;
            while let Some(err) = source {
                too_large |= err.is::<http_body_util::LengthLimitError>();
                source = err.source();
            }
            return Err(if too_large {
                (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response()
            } else {
                (
                    StatusCode::BAD_REQUEST,
                    "the request body could not be read",
                )
                    .into_response()
            });
        }
    };
    let client = url::form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "client_id")
        .map(|(_, v)| v.into_owned());
    Ok((
        Request::from_parts(parts, axum::body::Body::from(bytes)),
        client,
    ))
}

/// The key failed client authentication is counted under, for the
/// request's client address: one budget for every endpoint that
/// authenticates clients.
fn failure_key(limit: &TokenLimit, request: &Request) -> String {
    let ip = limit.proxies.client_ip(peer(request), request.headers());
    limit_key("token-ip", &ip)
}

/// 429 when the address is past `token_failures_per_ip_per_minute`.
async fn refused_address(limit: &TokenLimit, ip_key: &str, now: i64) -> Option<Response> {
    match limit.counters.read(&[ip_key]).await {
        Ok(c) => c.first().and_then(|c| blocked(c, now)).map(|retry| {
            oauth_refusal(
                StatusCode::TOO_MANY_REQUESTS,
                retry,
                "too many failed client authentications; try again later",
            )
        }),
        Err(e) => {
            tracing::error!(error = %e, "rate-limit counters unavailable: request not limited");
            None
        }
    }
}

async fn count_failure(limit: &TokenLimit, ip_key: &str, now: i64) {
    if let Err(e) = limit
        .counters
        .fail_with_limit(ip_key, now, 60, limit.failures_per_ip)
        .await
    {
        tracing::error!(error = %e, "rate-limit counters unavailable: failure not counted");
    }
}

/// The other endpoints that authenticate clients (introspection,
/// revocation, pushed authorization requests, device authorization): their
/// failed client authentication (401) counts against the same per-address
/// budget as the token endpoint's, so wrong secrets cannot be tried there
/// without limit.
async fn limit_client_authentication(limit: &TokenLimit, request: Request, next: Next) -> Response {
    let ip_key = failure_key(limit, &request);
    let now = limit.clock.now();
    if let Some(refused) = refused_address(limit, &ip_key, now).await {
        return refused;
    }
    let response = next.run(request).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        count_failure(limit, &ip_key, now).await;
    }
    response
}

/// The token endpoint's limits. Failed client authentication (401) is
/// counted per address, in the shared counters; an address past
/// `token_failures_per_ip_per_minute` is refused until the minute ends. The
/// per-client limit counts only requests that were not 401 (the client
/// authenticated), so requests with another client's id and wrong secrets
/// never spend that client's budget (M1/S7).
async fn limit_token_endpoint(limit: &TokenLimit, request: Request, next: Next) -> Response {
    let ip_key = failure_key(limit, &request);
    let now = limit.clock.now();
    if let Some(refused) = refused_address(limit, &ip_key, now).await {
        return refused;
    }
    let (mut request, client) = match named_client(request).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let client_key = client.map(|c| limit_key("token-client", &c));
    if let Some(k) = &client_key
        && let Err(retry) = limit.per_client.peek(k)
    {
        return oauth_refusal(StatusCode::TOO_MANY_REQUESTS, retry, "rate limit exceeded");
    }
    let busy = LoginBusy::default();
    request.extensions_mut().insert(busy.clone());
    let response = next.run(request).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        count_failure(limit, &ip_key, now).await;
    } else if let Some(k) = &client_key {
        limit.per_client.take(k);
    }
    if busy.0.load(Ordering::Acquire) {
        return oauth_refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(1),
            "the server is busy; try again in a moment",
        );
    }
    response
}

pub(crate) async fn limit_token(
    State(limit): State<Arc<TokenLimit>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if path == sesame_op::paths::TOKEN {
        return limit_token_endpoint(&limit, request, next).await;
    }
    if [
        sesame_op::paths::INTROSPECT,
        sesame_op::paths::REVOKE,
        sesame_op::paths::PAR,
        sesame_op::paths::DEVICE_AUTHORIZATION,
    ]
    .contains(&path)
    {
        return limit_client_authentication(&limit, request, next).await;
    }
    if path == sesame_op::paths::DEVICE && request.method() == axum::http::Method::POST {
        let ip = limit.proxies.client_ip(peer(&request), request.headers());
        let budget = (&limit.counters, limit.device_failures_per_ip);
        return limit_device_page(&ip, budget, limit.clock.now(), request, next).await;
    }
    if path == sesame_op::paths::REGISTER
        || path.starts_with(&format!("{}/", sesame_op::paths::REGISTER))
    {
        // Registration (open or by token) and RFC 7592 management, per address.
        let ip = limit.proxies.client_ip(peer(&request), request.headers());
        if let Err(retry) = limit.registrations.check(&ip) {
            return oauth_refusal(StatusCode::TOO_MANY_REQUESTS, retry, "rate limit exceeded");
        }
    }
    next.run(request).await
}
