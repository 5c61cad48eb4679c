//! Signing in, per provider: each one's login (and consent) forms differ.
//!
//! A virtual user signs in once; its cookie jar then carries the provider's session to every
//! authorization request it makes.

use clap::ValueEnum;

use crate::error::{Error, Result, err};
use crate::form::{self, Form};
use crate::oidc::{self, ClientConfig, Discovery, truncate};

/// The providers the driver knows how to sign in to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Peer {
    /// Sesame's built-in login page (`GET /login`: `csrf_token` + `sesame_csrf` cookie).
    Sesame,
    /// panva's oidc-provider with its development interactions (`login`, `password`).
    NodeOidcProvider,
    /// django-oidc-provider behind Django's `LoginView` (`csrfmiddlewaretoken`).
    DjangoOidcProvider,
}

/// The end user's credentials.
#[derive(Debug, Clone)]
pub(crate) struct Credentials {
    pub(crate) username: String,
    pub(crate) password: String,
}

impl Peer {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Peer::Sesame => "sesame",
            Peer::NodeOidcProvider => "node-oidc-provider",
            Peer::DjangoOidcProvider => "django-oidc-provider",
        }
    }

    /// The login form's username field.
    fn username_field(self) -> &'static str {
        match self {
            Peer::Sesame | Peer::DjangoOidcProvider => "username",
            Peer::NodeOidcProvider => "login",
        }
    }

    /// Signs the virtual user in; afterwards an authorization request gets a code directly.
    pub(crate) async fn login(
        self,
        http: &reqwest::Client,
        d: &Discovery,
        c: &ClientConfig,
        who: &Credentials,
    ) -> Result<()> {
        match self {
            Peer::Sesame => sesame_login(http, d, who).await,
            // Their login pages belong to an authorization request: start one and follow it
            // through the login (and any consent) pages until it comes back with a code.
            Peer::NodeOidcProvider | Peer::DjangoOidcProvider => {
                let pending = oidc::authorization_request(d, c)?;
                let to = self.walk(http, &pending.url, c, who).await?;
                oidc::code_from_redirect(&to, c, &pending.state).map(|_| ())
            }
        }
    }

    /// Follows redirects and submits forms from `start` until redirected to the client.
    async fn walk(
        self,
        http: &reqwest::Client,
        start: &str,
        c: &ClientConfig,
        who: &Credentials,
    ) -> Result<url::Url> {
        let mut request = http.get(start);
        for _ in 0..12 {
            let response = request.send().await?;
            let status = response.status();
            if status.is_redirection() {
                let to = oidc::location(&response)?;
                let _ = response.bytes().await?;
                if to.as_str().starts_with(&c.redirect_uri) {
                    return Ok(to);
                }
                request = http.get(to);
                continue;
            }
            let page = response.url().clone();
            let html = response.text().await?;
            if !status.is_success() {
                return err(format!(
                    "sign-in: HTTP {status} at {page}: {}",
                    truncate(&html, 200)
                ));
            }
            let forms = form::forms(&html);
            let chosen = forms
                .iter()
                .find(|f| f.has_password())
                .or_else(|| forms.iter().find(|f| f.method == "post"))
                .ok_or_else(|| Error(format!("sign-in: no form to submit at {page}")))?;
            let action = page.join(&chosen.action)?;
            request = http.post(action).form(&self.fill(chosen, who));
        }
        err("sign-in: too many steps without reaching the client")
    }

    /// The fields to submit: hidden fields as given, the credentials, and an `allow` button.
    fn fill(self, f: &Form, who: &Credentials) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for field in &f.fields {
            let value = match field.kind.as_str() {
                "hidden" => field.value.clone(),
                "password" => who.password.clone(),
                "text" | "email" if field.name == self.username_field() => who.username.clone(),
                "submit" if field.name == "allow" => field.value.clone(),
                _ => continue,
            };
            out.push((field.name.clone(), value));
        }
        out
    }
}

/// Sesame: `GET /login` gives the form (a `csrf_token` field and the `sesame_csrf` cookie);
/// `POST /login` with `username`, `password`, `csrf_token`, `return_to` sets the session cookie.
async fn sesame_login(http: &reqwest::Client, d: &Discovery, who: &Credentials) -> Result<()> {
    let issuer = d.issuer.trim_end_matches('/');
    let return_to = format!("{issuer}/");
    let page = http
        .get(format!("{issuer}/login"))
        .query(&[("return_to", return_to.as_str())])
        .send()
        .await?;
    let status = page.status();
    let html = page.text().await?;
    if !status.is_success() {
        return err(format!("GET /login: HTTP {status}"));
    }
    let forms = form::forms(&html);
    let login = forms
        .iter()
        .find(|f| f.has_password())
        .ok_or_else(|| Error("GET /login: no login form".into()))?;
    let csrf = login
        .value("csrf_token")
        .ok_or_else(|| Error("GET /login: the form has no csrf_token".into()))?;
    let action = url::Url::parse(&format!("{issuer}/login"))?.join(&login.action)?;
    let response = http
        .post(action)
        .form(&[
            ("username", who.username.as_str()),
            ("password", who.password.as_str()),
            ("csrf_token", csrf),
            ("return_to", return_to.as_str()),
        ])
        .send()
        .await?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status != reqwest::StatusCode::SEE_OTHER {
        return err(format!(
            "POST /login: HTTP {status} (wrong password, or rate-limited?): {}",
            truncate(&body, 160)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_each_peers_form() {
        let who = Credentials {
            username: "bench".into(),
            password: "pw".into(),
        };
        let node = &form::forms(
            r#"<form action="/interaction/u1/login" method="post">
            <input type="hidden" name="prompt" value="login"/>
            <input required type="text" name="login" placeholder="Enter any login">
            <input required type="password" name="password">
            <button type="submit" class="login">Sign-in</button></form>"#,
        )[0];
        assert_eq!(
            Peer::NodeOidcProvider.fill(node, &who),
            vec![
                ("prompt".into(), "login".into()),
                ("login".into(), "bench".into()),
                ("password".into(), "pw".into())
            ]
        );
        let django = &form::forms(
            r#"<form method="post" action="/accounts/login/">
            <input type="hidden" name="csrfmiddlewaretoken" value="tok">
            <input type="text" name="username"><input type="password" name="password">
            <input type="hidden" name="next" value="/openid/authorize?a=1&amp;b=2"></form>"#,
        )[0];
        assert_eq!(
            Peer::DjangoOidcProvider.fill(django, &who),
            vec![
                ("csrfmiddlewaretoken".into(), "tok".into()),
                ("username".into(), "bench".into()),
                ("password".into(), "pw".into()),
                ("next".into(), "/openid/authorize?a=1&b=2".into())
            ]
        );
        let consent = &form::forms(
            r#"<form method="post" action="/consent"><input type="hidden" name="csrf_token" value="c">
            <button type="submit" name="allow" value="yes">Allow</button>
            <button type="submit" name="deny" value="yes">Deny</button></form>"#,
        )[0];
        assert_eq!(
            Peer::Sesame.fill(consent, &who),
            vec![
                ("csrf_token".into(), "c".into()),
                ("allow".into(), "yes".into())
            ]
        );
    }
}
