//! The authorization endpoint (OIDC Core §3.1.2, §3.2.2, §3.3.2).

use serde_json::Value;
use sesame_core::{
    ClientId, CodeChallenge, ErrorCode, Nonce, PkceMethod, Prompt, PromptError, RedirectUri,
    ResponseMode, ResponseType, Scopes, UnixTime, is_valid_verifier,
};

use super::interaction;
use super::issue::{self, IdTokenInput};
use super::{FlowError, OAuthError, Params};
use crate::authn::{EndUser, LoginRequest};
use crate::model::{Client, CodeRecord, Consent, Grant, GrantType, InteractionKind, PkceChallenge};
use crate::provider::Provider;

mod acr;
mod checks;
mod denied;
use acr::AcrDecision;
pub(crate) use checks::{describe_claim, describe_scope, verify_hint};
use checks::{pkce_required, request_object_error};
pub(crate) use denied::access_denied;

/// Where and how to send the browser back to the client.
#[derive(Clone)]
pub(crate) struct ClientRedirect {
    pub(crate) redirect_uri: RedirectUri,
    pub(crate) mode: ResponseMode,
    pub(crate) params: Vec<(String, String)>,
}

pub(crate) enum AuthorizeOutcome {
    /// No trustworthy redirect_uri: show an error page, never redirect.
    ErrorPage(OAuthError),
    /// Success or error, back to the client.
    Redirect(ClientRedirect),
    /// Send the browser to the host app's login.
    Login(String),
    /// Ask the user.
    Consent {
        interaction: String,
        csrf: String,
        client_name: String,
        /// How to name the signed-in user (name, username or subject).
        user: String,
        scopes: Vec<String>,
        /// The client's redirect origin (allowed as a form target by the page's CSP).
        redirect_origin: String,
        /// The client registered itself (dynamic registration): its name was
        /// chosen by the registrant, and the page says so.
        self_registered: bool,
    },
}

/// Parameter names only: the values carry codes and tokens.
impl std::fmt::Debug for ClientRedirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRedirect")
            .field("redirect_uri", &self.redirect_uri)
            .field("mode", &self.mode)
            .field(
                "params",
                &self.params.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl std::fmt::Debug for AuthorizeOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ErrorPage(e) => f.debug_tuple("ErrorPage").field(e).finish(),
            Self::Redirect(r) => f.debug_tuple("Redirect").field(r).finish(),
            Self::Login(_) => f.write_str("Login"),
            Self::Consent {
                client_name,
                scopes,
                ..
            } => f
                .debug_struct("Consent")
                .field("client_name", client_name)
                .field("scopes", scopes)
                .finish_non_exhaustive(),
        }
    }
}

struct Request {
    client: Client,
    redirect: ClientRedirect,
}

impl Request {
    fn error(&self, code: ErrorCode, description: &str) -> AuthorizeOutcome {
        let mut redirect = self.redirect.clone();
        redirect.params.push(("error".into(), code.as_str().into()));
        redirect.params.push((
            "error_description".into(),
            sesame_core::sanitize_description(description),
        ));
        AuthorizeOutcome::Redirect(redirect)
    }
}

/// Runs the authorization endpoint.
///
/// `consent_given`: the user just allowed this request on the consent page.
/// `auth_after`: from the server-side interaction this request comes back
/// from (a login it asked for), never from the request.
pub(crate) async fn authorize(
    p: &Provider,
    params: &Params,
    user: Option<EndUser>,
    consent_given: bool,
    auth_after: Option<UnixTime>,
    now: UnixTime,
) -> Result<AuthorizeOutcome, FlowError> {
    let page = |code: ErrorCode, d: &str| Ok(AuthorizeOutcome::ErrorPage(OAuthError::new(code, d)));

    // 1. Client and redirect_uri: until both check out, errors go to a page.
    if let Some(name @ ("client_id" | "redirect_uri")) = params.duplicate() {
        return page(
            ErrorCode::InvalidRequest,
            &format!("{name} was given more than once"),
        );
    }
    let Some(client_id) = params.get("client_id") else {
        return page(ErrorCode::InvalidRequest, "client_id is missing");
    };
    let Some(client) = p.inner.store.find_client(&ClientId::new(client_id)).await? else {
        return page(ErrorCode::InvalidClient, "unknown client_id");
    };
    // A pushed request (RFC 9126): only its stored parameters count. A
    // request object: its parameters, checked, win over the query's.
    let resolved;
    let pushed = params
        .get("request_uri")
        .is_some_and(|u| u.starts_with(super::par::REQUEST_URI_PREFIX));
    let params = if pushed {
        let uri = params.get("request_uri").unwrap_or_default();
        match super::par::take(p, client.client_id.as_str(), uri, now).await {
            Ok(stored) => {
                resolved = stored;
                &resolved
            }
            Err(FlowError::OAuth(e)) => return Ok(request_object_error(params, &client, p, e)),
            Err(e) => return Err(e),
        }
    } else if params.get("request").is_some() || params.get("request_uri").is_some() {
        match super::request_object::resolve(p, &client, params, now).await {
            Ok(merged) => {
                resolved = merged;
                &resolved
            }
            Err(e) => return Ok(request_object_error(params, &client, p, e)),
        }
    } else {
        params
    };
    if params.get("client_id") != Some(client.client_id.as_str()) {
        return page(
            ErrorCode::InvalidRequest,
            "client_id differs between the query and the request object",
        );
    }
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return page(ErrorCode::InvalidRequest, "redirect_uri is missing");
    };
    let Some(redirect_uri) = client
        .redirect_uris
        .iter()
        .find(|r| r.as_str() == redirect_uri)
        .cloned()
    else {
        return page(
            ErrorCode::InvalidRequest,
            "redirect_uri is not registered for this client (it must match exactly)",
        );
    };

    // 2. From here on, errors go back to the client.
    let response_type = params.get("response_type").and_then(ResponseType::parse);
    let default_mode = response_type.map_or(ResponseMode::Query, ResponseType::default_mode);
    let mut redirect = ClientRedirect {
        redirect_uri,
        mode: default_mode,
        params: Vec::new(),
    };
    if let Some(state) = params.get("state") {
        redirect.params.push(("state".into(), state.into()));
    }
    redirect
        .params
        .push(("iss".into(), p.inner.issuer.as_str().into()));
    let mut req = Request { client, redirect };
    if let Some(name) = params.duplicate() {
        return Ok(req.error(
            ErrorCode::InvalidRequest,
            &format!("{name} was given more than once"),
        ));
    }
    // RFC 9126 §5/§6. A consent answer resumes a request checked before.
    if !pushed && !consent_given && (p.inner.settings.require_par || req.client.require_par) {
        return Ok(req.error(
            ErrorCode::InvalidRequest,
            "authorization requests must be pushed first (PAR, RFC 9126): POST them to the pushed_authorization_request_endpoint",
        ));
    }
    match params.get("response_mode").map(ResponseMode::parse) {
        None => {}
        Some(Some(ResponseMode::Query)) if default_mode != ResponseMode::Query => {
            return Ok(req.error(
                ErrorCode::InvalidRequest,
                "response_mode=query cannot carry tokens; use fragment or form_post",
            ));
        }
        Some(Some(mode)) => req.redirect.mode = mode,
        Some(None) => return Ok(req.error(ErrorCode::InvalidRequest, "unsupported response_mode")),
    }
    let Some(response_type) = response_type else {
        return Ok(if params.get("response_type").is_none() {
            req.error(ErrorCode::InvalidRequest, "response_type is missing")
        } else {
            req.error(
                ErrorCode::UnsupportedResponseType,
                "unsupported response_type",
            )
        });
    };
    if !req
        .client
        .response_types
        .iter()
        .any(|t| ResponseType::parse(t) == Some(response_type))
    {
        return Ok(req.error(
            ErrorCode::UnauthorizedClient,
            &format!("the client is not registered for response_type={response_type}"),
        ));
    }
    let wants_code = response_type.has_code();
    let wants_id_token = response_type.has_id_token();
    let wants_token = response_type.has_token();

    // 3. Scope.
    let Ok(requested) = Scopes::parse(params.get("scope").unwrap_or("")) else {
        return Ok(req.error(ErrorCode::InvalidScope, "scope contains invalid characters"));
    };
    if !requested.contains(sesame_core::OPENID) {
        return Ok(req.error(ErrorCode::InvalidScope, "the openid scope is required"));
    }
    if let Some(allowed) = &req.client.allowed_scopes
        && let Some(bad) = requested
            .iter()
            .find(|s| !allowed.contains(s.as_str()) && s.as_str() != sesame_core::OPENID)
    {
        return Ok(req.error(
            ErrorCode::InvalidScope,
            &format!("the client may not request scope {bad}"),
        ));
    }
    // RFC 8707: the resource servers the tokens are for, registered for the client.
    let resources = match super::resource::requested(&req.client, params) {
        Ok(r) => r,
        Err(FlowError::OAuth(e)) => return Ok(req.error(e.code, &e.description)),
        Err(e) => return Err(e),
    };
    let prompt = match Prompt::parse_list(params.get("prompt").unwrap_or("")) {
        Ok(p) => p,
        Err(PromptError::NoneWithOthers) => {
            return Ok(req.error(
                ErrorCode::InvalidRequest,
                "prompt=none cannot be combined with other values",
            ));
        }
        Err(_) => return Ok(req.error(ErrorCode::InvalidRequest, "unsupported prompt value")),
    };
    // Unknown scopes are ignored. offline_access (OIDC Core §11) is granted
    // only with the user's explicit consent on this request — the consent
    // page is shown even if an older consent exists — or to a first-party
    // (skip_consent) client; silent requests (prompt=none) never get it.
    let offline = requested.contains(sesame_core::OFFLINE_ACCESS)
        && req.client.allows_grant(GrantType::RefreshToken)
        && wants_code
        && !prompt.contains(&Prompt::None);
    let mut scopes = Scopes::new();
    for s in requested.iter() {
        let known = p.inner.scopes.knows(s.as_str());
        if known && (s.as_str() != sesame_core::OFFLINE_ACCESS || offline) {
            scopes.insert(s.clone());
        }
    }

    // 4. Nonce, PKCE, max_age, claims.
    let nonce = params.get("nonce").map(Nonce::new);
    if wants_id_token && nonce.is_none() {
        return Ok(req.error(
            ErrorCode::InvalidRequest,
            "nonce is required when an ID token is returned from the authorization endpoint",
        ));
    }
    let pkce = match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (None, Some(_)) => {
            return Ok(req.error(
                ErrorCode::InvalidRequest,
                "code_challenge_method without code_challenge",
            ));
        }
        (None, None) => None,
        (Some(challenge), method) => {
            let method = match method.map(PkceMethod::parse) {
                Some(Some(m)) => m,
                None => PkceMethod::Plain,
                Some(None) => {
                    return Ok(req.error(
                        ErrorCode::InvalidRequest,
                        "unsupported code_challenge_method",
                    ));
                }
            };
            if method == PkceMethod::Plain && !p.inner.settings.allow_plain_pkce {
                return Ok(req.error(
                    ErrorCode::InvalidRequest,
                    "code_challenge_method must be S256",
                ));
            }
            if !is_valid_verifier(challenge) {
                return Ok(req.error(ErrorCode::InvalidRequest, "code_challenge is malformed"));
            }
            Some(PkceChallenge {
                challenge: CodeChallenge::new(challenge),
                method,
            })
        }
    };
    if wants_code
        && pkce.is_none()
        && let Some(why) = pkce_required(p, &req.client, nonce.is_some())
    {
        return Ok(req.error(ErrorCode::InvalidRequest, why));
    }
    let max_age = match params.get("max_age").map(str::parse::<i64>) {
        None => None,
        Some(Ok(v)) if v >= 0 => Some(v),
        Some(_) => {
            return Ok(req.error(
                ErrorCode::InvalidRequest,
                "max_age must be a non-negative integer",
            ));
        }
    };
    let claims_request = match params.get("claims").map(serde_json::from_str::<Value>) {
        None => None,
        Some(Ok(v @ Value::Object(_))) => Some(v),
        Some(_) => return Ok(req.error(ErrorCode::InvalidRequest, "claims must be a JSON object")),
    };

    // 5. Authentication.
    let hint_sub = match params.get("id_token_hint") {
        None => None,
        Some(hint) => match verify_hint(p, hint, &req.client.client_id, now).await {
            Some(sub) => Some(sub),
            None => {
                return Ok(req.error(
                    ErrorCode::InvalidRequest,
                    "id_token_hint is not a valid ID token from this provider for this client",
                ));
            }
        },
    };
    // The hint carries the `sub` this client knows (pairwise or public):
    // compare it with the logged-in user's, mapped the same way.
    let hint_other_user = match (&hint_sub, &user) {
        (Some(hint), Some(u)) => p.subject_for(&req.client, &u.subject)?.as_str() != hint,
        _ => false,
    };
    let acr_request = acr::requested(params.get("acr_values"), claims_request.as_ref());
    let acr_decision = user.as_ref().map(|u| {
        let just_logged_in = auth_after.is_some_and(|t| u.auth_time >= t);
        let supported = &p.inner.settings.acr_values_supported;
        acr::decide(
            supported,
            u.acr.as_deref(),
            acr_request.as_ref(),
            just_logged_in,
        )
    });
    if acr_decision == Some(AcrDecision::Deny) {
        return Ok(req.error(
            ErrorCode::AccessDenied,
            "the authentication cannot satisfy the essential acr the request asks for",
        ));
    }
    let needs_login = match &user {
        None => true,
        Some(u) => {
            (prompt.contains(&Prompt::Login) && auth_after.is_none_or(|t| u.auth_time < t))
                || auth_after.is_some_and(|t| u.auth_time < t)
                || (max_age.is_some_and(|m| now - u.auth_time > m)
                    // Coming back from the login this request asked for: done,
                    // even if a clock second passed (max_age=0 must not loop).
                    && auth_after.is_none_or(|t| u.auth_time < t))
                || hint_other_user
                || acr_decision == Some(AcrDecision::Login)
        }
    };
    if needs_login {
        if prompt.contains(&Prompt::None) {
            return Ok(req.error(ErrorCode::LoginRequired, "the user must log in"));
        }
        let force = user.is_some();
        let mut back: Vec<(String, String)> = params
            .0
            .iter()
            .filter(|(k, _)| k != "prompt")
            .cloned()
            .collect();
        let rest: Vec<&str> = prompt
            .iter()
            .filter(|v| **v != Prompt::Login)
            .map(|v| v.as_str())
            .collect();
        if !rest.is_empty() {
            back.push(("prompt".into(), rest.join(" ")));
        }
        // Marks the return, server-side, so that the login it asks for
        // satisfies prompt=login and max_age.
        let subject = user
            .as_ref()
            .map_or_else(|| sesame_core::Subject::new(""), |u| u.subject.clone());
        // A pushed request goes through the login pushed again, so that it
        // comes back as one (and its parameters stay off the URL).
        if pushed {
            let uri = super::par::store(p, back, p.inner.settings.interaction_ttl, now).await?;
            back = vec![
                ("client_id".into(), req.client.client_id.as_str().to_owned()),
                ("request_uri".into(), uri),
            ];
        }
        let started = interaction::start(
            p,
            InteractionKind::Login,
            back.clone(),
            subject,
            Some(now),
            now,
        )
        .await?;
        back.push((interaction::LOGIN_HANDLE.into(), started.handle));
        let return_to = format!(
            "{}?{}",
            p.inner.issuer.join(crate::paths::AUTHORIZE),
            serde_urlencoded::to_string(&back).unwrap_or_default()
        );
        let login = LoginRequest {
            return_to,
            login_hint: params.get("login_hint").map(str::to_owned),
            ui_locales: params.get("ui_locales").map(str::to_owned),
            acr_values: params.get("acr_values").map(str::to_owned),
            force,
            client_name: req.client.display_name().to_owned(),
        };
        return Ok(AuthorizeOutcome::Login(p.inner.authn.login_url(&login)));
    }
    let Some(user) = user else {
        return Err(FlowError::Internal(
            "unreachable: no user after login check".into(),
        ));
    };

    // 6. Consent: to the scopes, and to each claim the claims parameter
    // asks for beyond them.
    let asked_claims = p
        .inner
        .scopes
        .asked_individually(claims_request.as_ref(), &scopes);
    let consented = req.client.skip_consent
        || consent_given
        || (!prompt.contains(&Prompt::Consent)
            && !offline
            && p.inner
                .store
                .find_consent(&user.subject, &req.client.client_id, now)
                .await?
                .is_some_and(|c| {
                    scopes.is_subset_of(&c.scopes)
                        && asked_claims.iter().all(|a| c.claims.contains(a))
                }));
    if !consented {
        if prompt.contains(&Prompt::None) {
            return Ok(req.error(ErrorCode::ConsentRequired, "the user must consent"));
        }
        let interaction::Started {
            handle: interaction,
            csrf,
        } = interaction::start(
            p,
            InteractionKind::Consent,
            params.0.clone(),
            user.subject.clone(),
            auth_after,
            now,
        )
        .await?;
        let display = p
            .inner
            .claims
            .claims(&user.subject)
            .await
            .ok()
            .flatten()
            .and_then(|c| {
                ["name", "preferred_username", "email"]
                    .iter()
                    .find_map(|k| c.get(*k).and_then(Value::as_str).map(str::to_owned))
            })
            .unwrap_or_else(|| user.subject.as_str().to_owned());
        return Ok(AuthorizeOutcome::Consent {
            interaction,
            csrf,
            client_name: req.client.display_name().to_owned(),
            user: display,
            scopes: scopes
                .iter()
                .map(|s| describe_scope(s.as_str()))
                .chain(asked_claims.iter().map(|c| describe_claim(c)))
                .collect(),
            redirect_origin: crate::pages::csp_origin(req.redirect.redirect_uri.as_str()),
            self_registered: req.client.registration_access_token_hash.is_some(),
        });
    }
    if consent_given {
        p.inner
            .store
            .save_consent(&Consent {
                subject: user.subject.clone(),
                client_id: req.client.client_id.clone(),
                scopes: scopes.clone(),
                claims: asked_claims.clone(),
                expires_at: now + p.inner.settings.consent_ttl,
            })
            .await?;
    }

    // 7. Issue.
    let grant = Grant {
        grant_id: issue::new_grant_id()?,
        client_id: req.client.client_id.clone(),
        subject: Some(user.subject.clone()),
        scopes,
        auth_time: Some(user.auth_time),
        sid: Some(user.session_id.clone()),
        acr: match acr_decision {
            Some(AcrDecision::Issue(value)) => value,
            _ => user.acr.clone(),
        },
        amr: user.amr.clone(),
        claims_request,
        claims: asked_claims,
        jkt: None,
        resources,
        created_at: now,
    };
    let code = if wants_code {
        let record = CodeRecord {
            grant: grant.clone(),
            redirect_uri: req.redirect.redirect_uri.clone(),
            nonce: nonce.clone(),
            pkce,
            expires_at: now + p.inner.settings.code_ttl,
        };
        Some(issue::mint_code(p, &record).await?)
    } else {
        None
    };
    let access = if wants_token {
        Some(issue::mint_access_token(p, &req.client, &grant, now).await?)
    } else {
        None
    };
    let id_token = if wants_id_token {
        let input = IdTokenInput {
            nonce: nonce.as_ref(),
            access_token: access.as_ref().map(|(t, _)| t),
            code: code.as_ref(),
        };
        Some(issue::mint_id_token(p, &req.client, &grant, input, now).await?)
    } else {
        None
    };
    let out = &mut req.redirect.params;
    if let Some(code) = &code {
        out.push(("code".into(), code.secret().into()));
    }
    if let Some((token, ttl)) = &access {
        out.push(("access_token".into(), token.secret().into()));
        out.push(("token_type".into(), "Bearer".into()));
        out.push(("expires_in".into(), ttl.to_string()));
    }
    if let Some(id_token) = id_token {
        out.push(("id_token".into(), id_token));
    }
    if access.is_some() || code.is_some() {
        // The scope actually granted (it may be narrower than requested).
        out.push(("scope".into(), grant.scopes.to_string()));
    }
    Ok(AuthorizeOutcome::Redirect(req.redirect))
}
