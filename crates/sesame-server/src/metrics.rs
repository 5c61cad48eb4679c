//! Prometheus metrics: requests by endpoint and status, latency, tokens issued.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The process-wide recorder (installed once; several servers in one process share it).
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ])
                .ok()?
                .install_recorder()
                .ok()
        })
        .as_ref()
}

/// Counts and times every request by route.
pub async fn track(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("sesame_http_requests_total", "endpoint" => endpoint.clone(), "status" => status).increment(1);
    metrics::histogram!("sesame_http_request_duration_seconds", "endpoint" => endpoint.clone())
        .record(start.elapsed().as_secs_f64());
    if endpoint == sesame_op::paths::TOKEN
        && method == axum::http::Method::POST
        && response.status().is_success()
    {
        metrics::counter!("sesame_tokens_issued_total").increment(1);
    }
    response
}

/// `GET /metrics`
pub async fn render() -> String {
    handle().map(PrometheusHandle::render).unwrap_or_default()
}

/// The router of the metrics listener: `GET /metrics` only.
pub fn router() -> axum::Router {
    axum::Router::new().route("/metrics", axum::routing::get(render))
}
