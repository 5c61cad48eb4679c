//! Server-rendered pages: consent, logout confirmation, errors, form_post.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::Environment;
use serde::Serialize;

/// The embedded stylesheet, shared with applications that want the same look.
pub const STYLESHEET: &str = include_str!("../templates/base.css");

const BUILTIN: [(&str, &str); 4] = [
    ("consent.html", include_str!("../templates/consent.html")),
    ("logout.html", include_str!("../templates/logout.html")),
    ("error.html", include_str!("../templates/error.html")),
    (
        "form_post.html",
        include_str!("../templates/form_post.html"),
    ),
];

/// The page templates (minijinja, auto-escaped).
pub(crate) struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates")
    }
}

impl Default for Templates {
    fn default() -> Self {
        let mut env = Environment::new();
        for (name, source) in BUILTIN {
            // The built-in templates are compiled in tests; a failure here is a build bug.
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "built-in template does not compile");
            }
        }
        Self { env }
    }
}

impl Templates {
    pub(crate) fn replace(&mut self, name: &str, source: &str) -> Result<(), minijinja::Error> {
        self.env
            .add_template_owned(name.to_owned(), source.to_owned())
    }

    /// Renders a page with the security headers every page carries.
    pub(crate) fn render(
        &self,
        name: &str,
        status: StatusCode,
        ctx: impl Serialize,
        csp: &str,
    ) -> Response {
        let html = self
            .env
            .get_template(name)
            .and_then(|t| t.render(minijinja::value::Serde(ctx)));
        match html {
            Ok(html) => {
                let mut response = (status, html).into_response();
                page_headers(response.headers_mut(), csp);
                response
            }
            Err(e) => {
                tracing::error!(template = name, error = %e, "rendering failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "page rendering failed").into_response()
            }
        }
    }
}

/// The headers every HTML page carries: content type, the given CSP,
/// `X-Frame-Options: DENY`, `nosniff`, `Referrer-Policy: no-referrer`, `no-store`.
pub fn page_headers(h: &mut axum::http::HeaderMap, csp: &str) {
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// The CSP of a page whose form submission may end in a redirect to
/// `targets` (a client's origin): browsers apply `form-action` to every hop
/// of the redirect chain, so the client's origin must be listed.
pub(crate) fn csp_with_form_targets(targets: &[String]) -> String {
    let extra: String = targets
        .iter()
        .filter(|t| !t.is_empty() && t.as_str() != "null" && !t.contains(['\'', ';', ' ', '\n']))
        .map(|t| format!(" {t}"))
        .collect();
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'{extra}; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// A URL's origin for CSP (`scheme://host:port`, or `scheme:` for custom schemes).
pub(crate) fn csp_origin(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match u.origin() {
            url::Origin::Tuple(..) => u.origin().ascii_serialization(),
            url::Origin::Opaque(_) => format!("{}:", u.scheme()),
        },
        Err(_) => String::new(),
    }
}

/// The CSP of ordinary pages: no scripts, inline styles, forms to self only, no framing.
pub(crate) const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_templates_compile() {
        let t = Templates::default();
        for (name, _) in BUILTIN {
            assert!(t.env.get_template(name).is_ok(), "{name}");
        }
    }
}
