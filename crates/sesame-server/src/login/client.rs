//! Who a sign-in page is for (the registered client of its `return_to`)
//! and the CSP that follows from it: shared by the login page and the
//! second-step page.

use sesame_op::pages::{PAGE_CSP, csp_origin, csp_with_form_targets};

use super::LoginState;

/// Who a login is for, as far as the store vouches for it.
#[derive(Debug, Default)]
pub(crate) struct LoginClient {
    /// The registered name of the `client_id` in `return_to`.
    pub(crate) name: Option<String>,
    /// The origin of `return_to`'s `redirect_uri`, only when it is registered
    /// for that client: after the login the browser goes on to /authorize and
    /// from there to the client, and browsers check `form-action` on every
    /// redirect.
    pub(crate) origin: Option<String>,
}

/// The client of a login, from the `client_id` of `return_to` (the
/// provider's authorize URL) looked up in the store: never text from the
/// query (S16).
pub(crate) async fn login_client(state: &LoginState, return_to: &str) -> LoginClient {
    use sesame_op::store::ClientStore as _;
    let Some(url) = url::Url::parse(&state.issuer)
        .and_then(|base| base.join(return_to))
        .ok()
    else {
        return LoginClient::default();
    };
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let Some(client_id) = param("client_id") else {
        return LoginClient::default();
    };
    let client = match state
        .store
        .find_client(&sesame_core::ClientId::new(&client_id))
        .await
    {
        Ok(Some(c)) => c,
        Ok(None) => return LoginClient::default(),
        Err(e) => {
            tracing::warn!(error = %e, "client lookup for the login page failed");
            return LoginClient::default();
        }
    };
    let origin = param("redirect_uri")
        .filter(|r| client.redirect_uris.iter().any(|u| u.as_str() == r))
        .map(|r| csp_origin(&r))
        .filter(|o| !o.is_empty());
    LoginClient {
        name: Some(client.display_name().to_owned()),
        origin,
    }
}

/// The CSP of a sign-in page: `form-action` widened to the origin of the
/// client's registered redirect URI (the form's redirect chain ends there,
/// and browsers check `form-action` on every redirect: without it a client
/// that skips consent never gets its response), and, with `script`, the
/// WebAuthn script by its URL.
pub(crate) fn sign_in_csp(state: &LoginState, origin: Option<&String>, script: bool) -> String {
    let mut csp = match origin {
        Some(origin) => csp_with_form_targets(std::slice::from_ref(origin)),
        None => PAGE_CSP.to_owned(),
    };
    if script {
        let base = state.issuer.trim_end_matches('/');
        let script = format!("{base}{}", crate::login::SCRIPT_PATH);
        csp.push_str(&format!("; script-src {script}; connect-src 'self'"));
    }
    csp
}
