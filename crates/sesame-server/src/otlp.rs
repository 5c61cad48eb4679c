//! OpenTelemetry traces over OTLP/HTTP (protobuf), `otlp_endpoint` /
//! `sesame app --otlp-endpoint`: the `tracing` spans (protocol steps with the
//! client id, never a secret, code, token or password: the spans record
//! nothing else) exported in batches by the OpenTelemetry SDK.
//!
//! The exporter's HTTP goes through the workspace's reqwest (rustls), run
//! on the server's tokio runtime, so no second HTTP stack is built in.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer;

/// How long one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest collector answer read (an OTLP answer is a few bytes).
const MAX_ANSWER: usize = 64 * 1024;

/// An OTLP exporter that could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("otlp_endpoint: {0}")]
pub struct OtlpError(String);

/// The traces URL for `endpoint`: a collector's base URL gets `/v1/traces`
/// (as `OTEL_EXPORTER_OTLP_ENDPOINT` does); a URL already ending in it is kept.
///
/// # Errors
/// Not an http(s) URL.
pub fn traces_url(endpoint: &str) -> Result<String, OtlpError> {
    let url = url::Url::parse(endpoint)
        .map_err(|e| OtlpError(format!("{endpoint:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(OtlpError(format!(
            "{endpoint:?} is not an http(s) URL like http://127.0.0.1:4318"
        )));
    }
    if url.path().ends_with("/v1/traces") {
        return Ok(url.to_string());
    }
    Ok(format!("{}/v1/traces", url.as_str().trim_end_matches('/')))
}

/// Sends the exporter's requests with reqwest on the tokio runtime (the
/// SDK's batch thread has none of its own).
#[derive(Debug)]
struct Client {
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for Client {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let http = self.http.clone();
        let (parts, body) = request.into_parts();
        let sent = self.runtime.spawn(async move {
            let mut answer = http
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let status = answer.status();
            let mut read = Vec::new();
            while let Some(chunk) = answer.chunk().await? {
                if read.len() + chunk.len() > MAX_ANSWER {
                    break;
                }
                read.extend_from_slice(&chunk);
            }
            Ok::<_, reqwest::Error>((status, read))
        });
        let (status, read) = sent.await??;
        let mut response = Response::new(Bytes::from(read));
        *response.status_mut() = status;
        Ok(response)
    }
}

/// The exporter, flushed and stopped by [`Otlp::shutdown`].
#[derive(Debug)]
pub struct Otlp {
    provider: SdkTracerProvider,
}

impl Otlp {
    /// Exports to `endpoint` as service `service`, on the current tokio
    /// runtime: the exporter and the `tracing` layer that feeds it.
    ///
    /// # Errors
    /// A bad endpoint, or no tokio runtime.
    pub fn start<S>(
        endpoint: &str,
        service: &'static str,
    ) -> Result<(Self, impl Layer<S>), OtlpError>
    where
        S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    {
        let url = traces_url(endpoint)?;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| OtlpError(format!("no runtime: {e}")))?;
        let http = reqwest::Client::builder()
            .timeout(EXPORT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| OtlpError(e.to_string()))?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url)
            .with_timeout(EXPORT_TIMEOUT)
            .with_http_client(Client { http, runtime })
            .build()
            .map_err(|e| OtlpError(e.to_string()))?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                opentelemetry_sdk::Resource::builder()
                    .with_service_name(service)
                    .build(),
            )
            .build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("sesame"));
        Ok((Self { provider }, layer))
    }

    /// Exports the spans still queued, then stops (waits on a blocking
    /// thread: the SDK's shutdown blocks).
    pub async fn shutdown(self) {
        let provider = self.provider;
        match tokio::task::spawn_blocking(move || provider.shutdown()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "exporting the last traces failed"),
            Err(e) => tracing::warn!(error = %e, "exporting the last traces failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn traces_url_appends_the_signal_path_once() {
        assert_eq!(
            super::traces_url("http://127.0.0.1:4318").unwrap_or_default(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            super::traces_url("https://otel.example/base/").unwrap_or_default(),
            "https://otel.example/base/v1/traces"
        );
        assert_eq!(
            super::traces_url("http://c:4318/v1/traces").unwrap_or_default(),
            "http://c:4318/v1/traces"
        );
        for bad in ["127.0.0.1:4318", "ftp://c/", "not a url"] {
            assert!(super::traces_url(bad).is_err(), "{bad}");
        }
    }
}
