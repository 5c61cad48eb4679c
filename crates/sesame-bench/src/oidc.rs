//! The protocol steps a virtual user performs, each one HTTP request.

use std::time::Duration;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::header::{AUTHORIZATION, HeaderValue, LOCATION};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result, err};

/// The endpoints, from the discovery document.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Discovery {
    pub(crate) issuer: String,
    pub(crate) authorization_endpoint: String,
    pub(crate) token_endpoint: String,
    #[serde(default)]
    pub(crate) userinfo_endpoint: Option<String>,
    pub(crate) jwks_uri: String,
    #[serde(default)]
    pub(crate) introspection_endpoint: Option<String>,
}

/// A client for one virtual user: its own cookie jar and one kept-alive HTTP/1.1 connection,
/// redirects not followed (the driver reads them).
pub(crate) fn http_client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .http1_only()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(4)
        .pool_idle_timeout(Duration::from_secs(90))
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// Reads `ISSUER/.well-known/openid-configuration`.
pub(crate) async fn discover(client: &reqwest::Client, issuer: &str) -> Result<Discovery> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let response = client.get(&url).send().await?;
    if !response.status().is_success() {
        return err(format!("{url}: HTTP {}", response.status()));
    }
    let body = response.bytes().await?;
    serde_json::from_slice(&body).map_err(|e| Error(format!("{url}: {e}")))
}

/// What the driver knows about the client it plays.
#[derive(Debug)]
pub(crate) struct ClientConfig {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) scope: String,
    /// `Basic base64(client_id:secret)`, made once (RFC 6749 §2.3.1 form-encodes both parts).
    pub(crate) basic: HeaderValue,
    /// The DPoP key of DPoP-bound runs (`--dpop`).
    pub(crate) dpop: Option<sesame_core::dpop::DpopKey>,
}

impl ClientConfig {
    pub(crate) fn new(
        client_id: &str,
        secret: &str,
        redirect_uri: &str,
        scope: &str,
    ) -> Result<Self> {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let basic = format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", enc(client_id), enc(secret)))
        );
        Ok(Self {
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            scope: scope.to_owned(),
            basic: HeaderValue::from_str(&basic)
                .map_err(|_| Error("the client credentials are not a valid header".into()))?,
            dpop: None,
        })
    }

    /// The same client, proving possession of a fresh ES256 DPoP key.
    pub(crate) fn with_dpop(mut self) -> Result<Self> {
        self.dpop = Some(
            sesame_core::dpop::DpopKey::generate()
                .map_err(|e| Error(format!("no DPoP key: {e}")))?,
        );
        Ok(self)
    }

    /// A fresh DPoP proof for `method` `url` (and `access_token`'s hash), if this is a DPoP run.
    fn proof(&self, method: &str, url: &str, access_token: Option<&str>) -> Result<Option<String>> {
        let Some(key) = &self.dpop else {
            return Ok(None);
        };
        let mut target = sesame_core::dpop::ProofTarget::new(method, url);
        if let Some(token) = access_token {
            target = target.with_access_token(token);
        }
        let now = sesame_core::Clock::now(&sesame_core::SystemClock);
        key.proof(&target, now)
            .map(Some)
            .map_err(|e| Error(format!("DPoP proof: {e}")))
    }
}

fn random_b64(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut buf).map_err(|_| Error("the random source failed".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// One authorization request's secrets.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) verifier: String,
    pub(crate) state: String,
    pub(crate) url: String,
}

/// Builds an authorization request: PKCE S256, a fresh state and nonce.
pub(crate) fn authorization_request(d: &Discovery, c: &ClientConfig) -> Result<Pending> {
    let verifier = random_b64(32)?;
    let challenge = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
    let state = random_b64(16)?;
    let nonce = random_b64(16)?;
    let query = url::form_urlencoded::Serializer::new(String::with_capacity(320))
        .append_pair("response_type", "code")
        .append_pair("client_id", &c.client_id)
        .append_pair("redirect_uri", &c.redirect_uri)
        .append_pair("scope", &c.scope)
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let sep = if d.authorization_endpoint.contains('?') {
        '&'
    } else {
        '?'
    };
    Ok(Pending {
        verifier,
        state,
        url: format!("{}{sep}{query}", d.authorization_endpoint),
    })
}

/// Where a redirect leads: `Location` resolved against the request URL.
pub(crate) fn location(response: &reqwest::Response) -> Result<url::Url> {
    let value = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Error(format!("HTTP {} without a Location", response.status())))?;
    Ok(response.url().join(value)?)
}

/// Reads the code from a redirect to the client, checking `state`.
pub(crate) fn code_from_redirect(to: &url::Url, c: &ClientConfig, state: &str) -> Result<String> {
    if !to.as_str().starts_with(&c.redirect_uri) {
        return err(format!(
            "redirected to {} instead of the client (not signed in?)",
            truncate(to.as_str(), 160)
        ));
    }
    let (mut code, mut got_state, mut error) = (None, None, None);
    for (k, v) in to.query_pairs() {
        match &*k {
            "code" => code = Some(v.into_owned()),
            "state" => got_state = Some(v.into_owned()),
            "error" => error = Some(v.into_owned()),
            _ => {}
        }
    }
    if let Some(e) = error {
        return err(format!("authorization error: {e}"));
    }
    if got_state.as_deref() != Some(state) {
        return err("the state came back wrong");
    }
    code.ok_or_else(|| Error("a redirect without a code".into()))
}

/// `GET /authorize` with a signed-in session: the code.
pub(crate) async fn authorize(
    http: &reqwest::Client,
    d: &Discovery,
    c: &ClientConfig,
) -> Result<(String, String)> {
    let pending = authorization_request(d, c)?;
    let response = http.get(&pending.url).send().await?;
    if !response.status().is_redirection() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        return err(format!(
            "HTTP {status} instead of a redirect: {}",
            truncate(&body, 160)
        ));
    }
    let to = location(&response)?;
    // Drain the (empty) body so the connection is reused.
    let _ = response.bytes().await?;
    let code = code_from_redirect(&to, c, &pending.state)?;
    Ok((code, pending.verifier))
}

/// The parts of a token response the driver uses.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    #[serde(default)]
    pub(crate) token_type: String,
    #[serde(default)]
    pub(crate) id_token: Option<String>,
}

async fn token_request(
    http: &reqwest::Client,
    d: &Discovery,
    c: &ClientConfig,
    form: &[(&str, &str)],
) -> Result<TokenResponse> {
    let mut request = http
        .post(&d.token_endpoint)
        .header(AUTHORIZATION, c.basic.clone())
        .form(form);
    if let Some(proof) = c.proof("POST", &d.token_endpoint, None)? {
        request = request.header("DPoP", proof);
    }
    let response = request.send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    if !status.is_success() {
        return err(format!(
            "HTTP {status}: {}",
            truncate(&String::from_utf8_lossy(&body), 200)
        ));
    }
    let t: TokenResponse = serde_json::from_slice(&body)?;
    if c.dpop.is_some() && !t.token_type.eq_ignore_ascii_case("DPoP") {
        return err(format!(
            "a DPoP run got token_type {:?} (is the client registered with --dpop?)",
            t.token_type
        ));
    }
    Ok(t)
}

/// `POST /token` redeeming a code (client_secret_basic, PKCE verifier).
pub(crate) async fn redeem(
    http: &reqwest::Client,
    d: &Discovery,
    c: &ClientConfig,
    code: &str,
    verifier: &str,
) -> Result<TokenResponse> {
    let t = token_request(
        http,
        d,
        c,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &c.redirect_uri),
            ("code_verifier", verifier),
        ],
    )
    .await?;
    if t.id_token.is_none() {
        return err("no id_token in the response");
    }
    Ok(t)
}

/// `POST /token` with client_credentials.
pub(crate) async fn client_credentials(
    http: &reqwest::Client,
    d: &Discovery,
    c: &ClientConfig,
) -> Result<TokenResponse> {
    token_request(http, d, c, &[("grant_type", "client_credentials")]).await
}

/// `GET /userinfo` with the access token (`bearer`, or in a DPoP run the
/// `DPoP` scheme and a proof carrying `ath`); checks that a `sub` came back.
pub(crate) async fn userinfo(
    http: &reqwest::Client,
    d: &Discovery,
    c: &ClientConfig,
    access_token: &str,
    bearer: &HeaderValue,
) -> Result<()> {
    let Some(endpoint) = &d.userinfo_endpoint else {
        return err("the provider has no userinfo_endpoint");
    };
    let request = match c.proof("GET", endpoint, Some(access_token))? {
        Some(proof) => http
            .get(endpoint)
            .header(AUTHORIZATION, format!("DPoP {access_token}"))
            .header("DPoP", proof),
        None => http.get(endpoint).header(AUTHORIZATION, bearer.clone()),
    };
    #[derive(Deserialize)]
    struct UserInfo {
        sub: String,
    }
    let info: UserInfo = json_answer(request).await?;
    if info.sub.is_empty() {
        return err("empty sub");
    }
    Ok(())
}

/// `POST /introspect` (client_secret_basic); checks `active: true`.
pub(crate) async fn introspect(
    http: &reqwest::Client,
    d: &Discovery,
    c: &ClientConfig,
    token: &str,
) -> Result<()> {
    let Some(endpoint) = &d.introspection_endpoint else {
        return err("the provider has no introspection_endpoint");
    };
    let request = http
        .post(endpoint)
        .header(AUTHORIZATION, c.basic.clone())
        .form(&[("token", token)]);
    #[derive(Deserialize)]
    struct Introspection {
        active: bool,
    }
    let i: Introspection = json_answer(request).await?;
    if !i.active {
        return err("active=false");
    }
    Ok(())
}

/// Sends `request` and reads a 2xx answer's JSON body as `T`; any other status is an error.
async fn json_answer<T: DeserializeOwned>(request: reqwest::RequestBuilder) -> Result<T> {
    let response = request.send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    if !status.is_success() {
        return err(format!("HTTP {status}"));
    }
    Ok(serde_json::from_slice(&body)?)
}

/// `GET` the JWKS.
pub(crate) async fn jwks(http: &reqwest::Client, d: &Discovery) -> Result<()> {
    let response = http.get(&d.jwks_uri).send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    if !status.is_success() || body.is_empty() {
        return err(format!("HTTP {status}"));
    }
    Ok(())
}

/// `Bearer TOKEN` as a header value.
pub(crate) fn bearer(token: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| Error("the access token is not a valid header".into()))
}

/// The `alg` in a JWS header.
pub(crate) fn jws_alg(jws: &str) -> Option<String> {
    let header = URL_SAFE_NO_PAD.decode(jws.split('.').next()?).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&header).ok()?;
    v.get("alg")?.as_str().map(str::to_owned)
}

/// At most `max` bytes of `s`, on a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> ClientConfig {
        ClientConfig::new("id 1", "s:ecret", "http://127.0.0.1:9/cb", "openid").unwrap()
    }

    #[test]
    fn basic_credentials_are_form_encoded() {
        // "id+1:s%3Aecret"
        assert_eq!(client().basic, "Basic aWQrMTpzJTNBZWNyZXQ=");
    }

    #[test]
    fn authorization_request_has_pkce_state_nonce() {
        let d = Discovery {
            issuer: "http://op".into(),
            authorization_endpoint: "http://op/authorize".into(),
            token_endpoint: "http://op/token".into(),
            userinfo_endpoint: None,
            jwks_uri: "http://op/jwks".into(),
            introspection_endpoint: None,
        };
        let p = authorization_request(&d, &client()).unwrap();
        let url = url::Url::parse(&p.url).unwrap();
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["state"], p.state);
        assert_eq!(q["client_id"], "id 1");
        let expected =
            URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, p.verifier.as_bytes()));
        assert_eq!(q["code_challenge"], expected);
        assert_eq!(p.verifier.len(), 43);
        assert!(q.contains_key("nonce"));
    }

    #[test]
    fn code_from_redirect_checks_target_and_state() {
        let c = client();
        let ok = url::Url::parse("http://127.0.0.1:9/cb?code=abc&state=s1&iss=x").unwrap();
        assert_eq!(code_from_redirect(&ok, &c, "s1").unwrap(), "abc");
        assert!(code_from_redirect(&ok, &c, "s2").is_err());
        let login = url::Url::parse("http://op/login?return_to=x").unwrap();
        assert!(code_from_redirect(&login, &c, "s1").is_err());
        let denied = url::Url::parse("http://127.0.0.1:9/cb?error=access_denied&state=s1").unwrap();
        assert!(code_from_redirect(&denied, &c, "s1").is_err());
    }

    #[test]
    fn alg_from_header() {
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","typ":"JWT"}"#);
        assert_eq!(jws_alg(&format!("{h}.e30.sig")).as_deref(), Some("ES256"));
        assert_eq!(jws_alg("garbage"), None);
    }
}
