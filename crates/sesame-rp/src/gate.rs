//! The tower plumbing the crate's layers share: [`crate::RequireLogin`],
//! [`crate::SessionRefresh`] and [`crate::BearerAuth`] each say what they do
//! with one request (a [`Gate`]); [`gate_layer!`] writes their `Layer` and
//! `Service` impls once.

use std::future::Future;

use axum::body::Body;
use axum::http::Request;
use axum::response::Response;
use tower::Service;

use crate::next::is_safe_next;

/// What a layer does with one request: answer it, or pass it on to `inner`
/// (the service that was driven to readiness).
pub(crate) trait Gate: Clone + Send + 'static {
    fn serve<S>(
        self,
        req: Request<Body>,
        inner: S,
    ) -> impl Future<Output = Result<Response, S::Error>> + Send
    where
        S: Service<Request<Body>, Response = Response> + Send + 'static,
        S::Future: Send + 'static;
}

/// `impl Layer for $layer` making `$service { inner, $field: $layer }`, and
/// `impl Service for $service` handing each request to `$layer`'s [`Gate`].
macro_rules! gate_layer {
    ($layer:ident => $service:ident { $field:ident }) => {
        impl<S> ::tower::Layer<S> for $layer {
            type Service = $service<S>;

            fn layer(&self, inner: S) -> Self::Service {
                $service {
                    inner,
                    $field: self.clone(),
                }
            }
        }

        impl<S> ::tower::Service<::axum::http::Request<::axum::body::Body>> for $service<S>
        where
            S: ::tower::Service<
                    ::axum::http::Request<::axum::body::Body>,
                    Response = ::axum::response::Response,
                > + Clone
                + Send
                + 'static,
            S::Future: Send + 'static,
        {
            type Response = ::axum::response::Response;
            type Error = S::Error;
            type Future = ::std::pin::Pin<
                Box<dyn ::std::future::Future<Output = Result<Self::Response, S::Error>> + Send>,
            >;

            fn poll_ready(
                &mut self,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<Result<(), S::Error>> {
                self.inner.poll_ready(cx)
            }

            fn call(&mut self, req: ::axum::http::Request<::axum::body::Body>) -> Self::Future {
                // Take the service that was driven to readiness; leave a clone.
                let clone = self.inner.clone();
                let inner = ::std::mem::replace(&mut self.inner, clone);
                Box::pin($crate::gate::Gate::serve(self.$field.clone(), req, inner))
            }
        }
    };
}
pub(crate) use gate_layer;

/// The request's own path and query as a `next` to return to after a login,
/// or `/` when it is not a safe same-origin path.
pub(crate) fn next_of(req: &Request<Body>) -> String {
    let next = req.uri().path_and_query().map_or("/", |p| p.as_str());
    if is_safe_next(next) {
        next.to_owned()
    } else {
        "/".to_owned()
    }
}
