//! Outbound HTTP: timeouts, no redirects, a response size limit.

use std::time::Duration;

use serde::de::DeserializeOwned;

/// Largest response body accepted from a provider (1 MiB).
pub const MAX_RESPONSE: usize = 1024 * 1024;

/// The default outbound client: 5 s to connect, 10 s in all, no redirects
/// (a provider endpoint that redirects is misconfigured or compromised).
///
/// # Errors
/// When the TLS backend cannot be initialised.
pub fn default_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("sesame-rp/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// An outbound call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// Connecting, sending or reading failed (including timeouts).
    #[error("request to {url} failed: {source}")]
    Transport {
        /// The URL.
        url: String,
        /// The cause.
        source: reqwest::Error,
    },
    /// The body was larger than [`MAX_RESPONSE`].
    #[error("response from {0} is larger than {MAX_RESPONSE} bytes")]
    TooLarge(String),
    /// A status outside 2xx (with the body, if it was an OAuth error).
    #[error("{url} answered {status}: {body}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
        /// The body, truncated.
        body: String,
    },
    /// A fetch of {url} failed moments ago and is not retried yet (the
    /// provider's JWKS while no key set is cached: REVIEW S26).
    #[error("{url} failed less than {seconds} s ago; not retried yet")]
    Backoff {
        /// The URL.
        url: String,
        /// The back-off.
        seconds: i64,
    },
    /// The body was not the JSON expected.
    #[error("response from {url} is not the expected JSON: {message}")]
    Json {
        /// The URL.
        url: String,
        /// The parser's message.
        message: String,
    },
}

/// Reads a response body up to [`MAX_RESPONSE`].
pub(crate) async fn body(
    url: &str,
    response: reqwest::Response,
) -> Result<(u16, Vec<u8>), HttpError> {
    body_up_to(url, response, MAX_RESPONSE).await
}

/// Reads a response body up to `limit` bytes (at most [`MAX_RESPONSE`]).
pub(crate) async fn body_up_to(
    url: &str,
    mut response: reqwest::Response,
    limit: usize,
) -> Result<(u16, Vec<u8>), HttpError> {
    let limit = limit.min(MAX_RESPONSE);
    let status = response.status().as_u16();
    if response.content_length().is_some_and(|l| l > limit as u64) {
        return Err(HttpError::TooLarge(url.to_owned()));
    }
    let mut out = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|source| HttpError::Transport {
            url: url.to_owned(),
            source,
        })?
    {
        if out.len() + chunk.len() > limit {
            return Err(HttpError::TooLarge(url.to_owned()));
        }
        out.extend_from_slice(&chunk);
    }
    Ok((status, out))
}

/// Sends a request and parses a 2xx JSON answer; other statuses become
/// [`HttpError::Status`] carrying the body (OAuth errors are JSON).
pub(crate) async fn json<T: DeserializeOwned>(
    url: &str,
    request: reqwest::RequestBuilder,
) -> Result<T, HttpError> {
    let (status, bytes) = body(url, send(url, request).await?).await?;
    parse_json(url, status, &bytes)
}

/// Sends a request to `url`; a failure to reach it is [`HttpError::Transport`].
pub(crate) async fn send(
    url: &str,
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, HttpError> {
    request.send().await.map_err(|source| HttpError::Transport {
        url: url.to_owned(),
        source,
    })
}

/// A non-2xx answer from `url`, with the start of its body.
pub(crate) fn status_error(url: &str, status: u16, bytes: &[u8]) -> HttpError {
    HttpError::Status {
        url: url.to_owned(),
        status,
        body: String::from_utf8_lossy(bytes).chars().take(300).collect(),
    }
}

/// A 2xx JSON answer parsed; other statuses become [`HttpError::Status`].
pub(crate) fn parse_json<T: DeserializeOwned>(
    url: &str,
    status: u16,
    bytes: &[u8],
) -> Result<T, HttpError> {
    if !(200..300).contains(&status) {
        return Err(status_error(url, status, bytes));
    }
    serde_json::from_slice(bytes).map_err(|e| HttpError::Json {
        url: url.to_owned(),
        message: e.to_string(),
    })
}

/// GET `url` as raw bytes (2xx only).
pub(crate) async fn get_bytes(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, HttpError> {
    let request = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json");
    let (status, bytes) = body(url, send(url, request).await?).await?;
    if !(200..300).contains(&status) {
        return Err(status_error(url, status, &bytes));
    }
    Ok(bytes)
}

/// Why fetching a discovery document failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DiscoverError {
    /// The request failed.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The document is unusable (e.g. its issuer differs).
    #[error(transparent)]
    Discovery(#[from] sesame_core::DiscoveryError),
}

/// Fetches and validates the issuer's discovery document.
pub(crate) async fn discover(
    http: &reqwest::Client,
    issuer: &sesame_core::Issuer,
) -> Result<sesame_core::ProviderMetadata, DiscoverError> {
    let bytes = get_bytes(http, &sesame_core::discovery_url(issuer)).await?;
    let metadata = sesame_core::ProviderMetadata::from_json(&bytes)?;
    metadata.validate(issuer)?;
    Ok(metadata)
}
