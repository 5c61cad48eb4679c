//! Server-rendered pages: consent, logout confirmation, errors, form_post,
//! and the kit other pages are made with.
//!
//! [`Page`] is how every HTML page of the provider, the `sesame` server's
//! login and home pages and its demo app are answered: a minijinja template
//! rendered with a context, the status, the CSP and the headers every page
//! carries ([`page_headers`]), and any cookies.
//!
//! ```
//! use axum::http::StatusCode;
//! use minijinja::Environment;
//! use sesame_op::pages::{PAGE_CSP, Page};
//!
//! let mut env = Environment::new();
//! env.add_template("hello.html", "<p>Hello, {{ name }}</p>").unwrap();
//! let response = Page::new(&env, "hello.html")
//!     .with_status(StatusCode::OK)
//!     .render(serde_json::json!({"name": "<b>you</b>"}));
//! assert_eq!(response.headers()["content-security-policy"], PAGE_CSP);
//! assert_eq!(response.headers()["x-frame-options"], "DENY");
//! ```

use std::borrow::Cow;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::Environment;
use serde::Serialize;

/// The embedded stylesheet, shared with applications that want the same look.
pub const STYLESHEET: &str = include_str!("../templates/base.css");

const BUILTIN: [(&str, &str); 7] = [
    ("consent.html", include_str!("../templates/consent.html")),
    ("logout.html", include_str!("../templates/logout.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("device.html", include_str!("../templates/device.html")),
    (
        "device_consent.html",
        include_str!("../templates/device_consent.html"),
    ),
    (
        "device_done.html",
        include_str!("../templates/device_done.html"),
    ),
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
        Page::new(&self.env, name)
            .with_status(status)
            .with_csp(csp)
            .render(ctx)
    }
}

/// An HTML page to answer: a template of `env`, rendered with a context.
///
/// The defaults are `200 OK` and [`PAGE_CSP`]. The response carries
/// [`page_headers`]; a template that fails to render is logged and answered
/// with a bare 500 (never the error's text).
#[derive(Debug)]
#[must_use = "a page does nothing until it is rendered"]
pub struct Page<'a> {
    env: &'a Environment<'a>,
    name: &'a str,
    status: StatusCode,
    csp: Cow<'a, str>,
    headers: HeaderMap,
}

impl<'a> Page<'a> {
    /// The page rendered from template `name` of `env`.
    pub fn new(env: &'a Environment<'a>, name: &'a str) -> Self {
        Self {
            env,
            name,
            status: StatusCode::OK,
            csp: Cow::Borrowed(PAGE_CSP),
            headers: HeaderMap::new(),
        }
    }

    /// The status (default `200 OK`).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// The `Content-Security-Policy` (default [`PAGE_CSP`]).
    pub fn with_csp(mut self, csp: impl Into<Cow<'a, str>>) -> Self {
        self.csp = csp.into();
        self
    }

    /// Adds a `Set-Cookie` header.
    pub fn with_cookie(mut self, cookie: HeaderValue) -> Self {
        self.headers.append(header::SET_COOKIE, cookie);
        self
    }

    /// Renders the template with `ctx` into the response.
    pub fn render(self, ctx: impl Serialize) -> Response {
        let html = self
            .env
            .get_template(self.name)
            .and_then(|t| t.render(minijinja::value::Serde(ctx)));
        match html {
            Ok(html) => {
                let mut response = (self.status, html).into_response();
                let h = response.headers_mut();
                page_headers(h, &self.csp);
                for (name, value) in &self.headers {
                    h.append(name, value.clone());
                }
                response
            }
            Err(e) => {
                tracing::error!(template = self.name, error = %e, "rendering failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "page rendering failed").into_response()
            }
        }
    }
}

/// The headers every HTML page carries: content type, the given CSP,
/// `X-Frame-Options: DENY`, `nosniff`, `Referrer-Policy: no-referrer`, `no-store`.
pub fn page_headers(h: &mut HeaderMap, csp: &str) {
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
/// of the redirect chain, so the client's origin must be listed. Targets that
/// could change the policy (quotes, `;`, spaces) are left out.
///
/// ```
/// let csp = sesame_op::pages::csp_with_form_targets(&["https://rp.example".into(), "x; script-src *".into()]);
/// assert!(csp.contains("form-action 'self' https://rp.example;"));
/// assert!(!csp.contains("script-src"));
/// ```
pub fn csp_with_form_targets(targets: &[String]) -> String {
    let extra: String = targets
        .iter()
        .filter(|t| !t.is_empty() && t.as_str() != "null" && !t.contains(['\'', ';', ' ', '\n']))
        .map(|t| format!(" {t}"))
        .collect();
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'{extra}; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// A URL's origin for CSP (`scheme://host:port`, or `scheme:` for custom
/// schemes; empty for what is not a URL).
pub fn csp_origin(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match u.origin() {
            url::Origin::Tuple(..) => u.origin().ascii_serialization(),
            url::Origin::Opaque(_) => format!("{}:", u.scheme()),
        },
        Err(_) => String::new(),
    }
}

/// The CSP of ordinary pages: no scripts, inline styles, forms to self only, no framing.
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

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
