//! Step 5 of the authorization endpoint: is the user signed in as this
//! request needs (prompt, max_age, id_token_hint, acr)? If not, the browser
//! goes to the host app's login and comes back to this request.

use sesame_core::{ErrorCode, Prompt};

use super::acr::{self, AcrDecision};
use super::checks::verify_hint;
use super::parameters::Asked;
use super::{AuthorizeOutcome, Context, Request, Stop};
use crate::authn::{EndUser, LoginRequest};
use crate::flow::{FlowError, Params, interaction, par};
use crate::model::InteractionKind;
use crate::provider::Provider;

/// The signed-in user, and what the acr values asked for decided.
pub(super) struct Authenticated {
    pub(super) user: EndUser,
    pub(super) acr: Option<AcrDecision>,
}

pub(super) async fn authenticate(
    p: &Provider,
    req: &Request,
    params: &Params,
    asked: &Asked,
    user: Option<EndUser>,
    at: Context,
) -> Result<Authenticated, Stop> {
    let (auth_after, now) = (at.auth_after, at.now);
    let hint_sub = match params.get("id_token_hint") {
        None => None,
        Some(hint) => match verify_hint(p, hint, &req.client.client_id, now).await {
            Some(sub) => Some(sub),
            None => {
                return Err(req.stop(
                    ErrorCode::InvalidRequest,
                    "id_token_hint is not a valid ID token from this provider for this client",
                ));
            }
        },
    };
    // The hint carries the `sub` this client knows (pairwise or public):
    // compare it with the logged-in user's, mapped the same way.
    let hint_other_user = match (&hint_sub, &user) {
        (Some(hint), Some(u)) => {
            p.subject_for(&req.client, &u.subject)
                .map_err(FlowError::from)?
                .as_str()
                != hint
        }
        _ => false,
    };
    let acr_request = acr::with_required(
        acr::requested(params.get("acr_values"), asked.claims_request.as_ref()),
        req.client.require_acr.as_deref(),
    );
    let supported = &p.inner.settings.acr_values_supported;
    let mut acr_decision = user.as_ref().map(|u| {
        let just_logged_in = auth_after.is_some_and(|t| u.auth_time >= t);
        acr::decide(
            supported,
            u.acr.as_deref(),
            acr_request.as_ref(),
            just_logged_in,
        )
    });
    // Voluntary values (`acr_values`) the session does not meet: a step-up
    // when the host says this user can reach them, once per request.
    // Never with prompt=none: a silent request gets what the session has.
    if let (Some(u), Some(r)) = (&user, &acr_request)
        && !asked.prompt.contains(&Prompt::None)
        && auth_after.is_none_or(|t| u.auth_time < t)
        && acr::voluntary_unmet(supported, u.acr.as_deref(), r)
        && p.inner.authn.can_step_up(u, &r.values).await
    {
        acr_decision = Some(AcrDecision::Login);
    }
    if acr_decision == Some(AcrDecision::Deny) {
        return Err(req.stop(
            ErrorCode::AccessDenied,
            "the authentication cannot satisfy the essential acr the request asks for",
        ));
    }
    let prompt = &asked.prompt;
    // Reasons that need the whole login again, and the one that needs only a
    // stronger authentication context (step-up).
    let needs_fresh_login = match &user {
        None => true,
        Some(u) => {
            (prompt.contains(&Prompt::Login) && auth_after.is_none_or(|t| u.auth_time < t))
                || auth_after.is_some_and(|t| u.auth_time < t)
                || (asked.max_age.is_some_and(|m| now - u.auth_time > m)
                    // Coming back from the login this request asked for: done,
                    // even if a clock second passed (max_age=0 must not loop).
                    && auth_after.is_none_or(|t| u.auth_time < t))
                || hint_other_user
        }
    };
    let step_up = !needs_fresh_login && acr_decision == Some(AcrDecision::Login);
    let needs_login = needs_fresh_login || step_up;
    match user {
        Some(user) if !needs_login => Ok(Authenticated {
            user,
            acr: acr_decision,
        }),
        _ if prompt.contains(&Prompt::None) => {
            Err(req.stop(ErrorCode::LoginRequired, "the user must log in"))
        }
        user => Err(to_login(p, req, params, prompt, user.as_ref(), step_up, at)
            .await?
            .into()),
    }
}

/// Sends the browser to the login, with a way back to this request.
async fn to_login(
    p: &Provider,
    req: &Request,
    params: &Params,
    prompt: &[Prompt],
    user: Option<&EndUser>,
    step_up: bool,
    at: Context,
) -> Result<AuthorizeOutcome, Stop> {
    let now = at.now;
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
    let subject = user.map_or_else(|| sesame_core::Subject::new(""), |u| u.subject.clone());
    // A pushed request goes through the login pushed again, so that it
    // comes back as one (and its parameters stay off the URL).
    if at.pushed {
        if let Some(origin) = &req.pushed_origin {
            par::keep_until_login(p, origin, &mut back, now).await?;
        }
        let uri = par::store(p, back, p.inner.settings.interaction_ttl, now).await?;
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
        force: user.is_some(),
        step_up,
        client_name: req.client.display_name().to_owned(),
    };
    Ok(AuthorizeOutcome::Login(p.inner.authn.login_url(&login)))
}
