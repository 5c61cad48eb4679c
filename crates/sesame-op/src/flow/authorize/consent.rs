//! Step 6 of the authorization endpoint: consent to the scopes, and to each
//! claim the claims parameter asks for beyond them.

use sesame_core::{ErrorCode, Prompt};

use super::checks::{describe_claim, describe_scope};
use super::parameters::Asked;
use super::{AuthorizeOutcome, Context, Request, Stop};
use crate::authn::EndUser;
use crate::flow::{Params, interaction};
use crate::model::{Consent, InteractionKind};
use crate::provider::Provider;

/// The claims asked for individually, consented to (saved when the user just
/// answered the consent page); otherwise the consent page, or
/// `consent_required` for a silent request.
pub(super) async fn obtain(
    p: &Provider,
    req: &Request,
    params: &Params,
    asked: &Asked,
    user: &EndUser,
    at: Context,
) -> Result<Vec<String>, Stop> {
    let now = at.now;
    let asked_claims = p
        .inner
        .scopes
        .asked_individually(asked.claims_request.as_ref(), &asked.scopes);
    let consented = req.client.skip_consent
        || at.consent_given
        || (!asked.prompt.contains(&Prompt::Consent)
            && !asked.offline
            && p.inner
                .store
                .find_consent(&user.subject, &req.client.client_id, now)
                .await?
                .is_some_and(|c| {
                    asked.scopes.is_subset_of(&c.scopes)
                        && asked_claims.iter().all(|a| c.claims.contains(a))
                }));
    if !consented {
        if asked.prompt.contains(&Prompt::None) {
            return Err(req.stop(ErrorCode::ConsentRequired, "the user must consent"));
        }
        return Err(page(p, req, params, asked, &asked_claims, user, at)
            .await?
            .into());
    }
    if at.consent_given {
        p.inner
            .store
            .save_consent(&Consent {
                subject: user.subject.clone(),
                client_id: req.client.client_id.clone(),
                scopes: asked.scopes.clone(),
                claims: asked_claims.clone(),
                expires_at: now + p.inner.settings.consent_ttl,
            })
            .await?;
    }
    Ok(asked_claims)
}

/// The consent page, for an interaction that resumes this request.
async fn page(
    p: &Provider,
    req: &Request,
    params: &Params,
    asked: &Asked,
    asked_claims: &[String],
    user: &EndUser,
    at: Context,
) -> Result<AuthorizeOutcome, Stop> {
    let interaction::Started {
        handle: interaction,
        csrf,
    } = interaction::start(
        p,
        InteractionKind::Consent,
        params.0.clone(),
        user.subject.clone(),
        at.auth_after,
        at.now,
    )
    .await?;
    let display = super::checks::display_name(p, &user.subject).await;
    Ok(AuthorizeOutcome::Consent {
        interaction,
        csrf,
        client_name: req.client.display_name().to_owned(),
        user: display,
        scopes: asked
            .scopes
            .iter()
            .map(|s| describe_scope(s.as_str()))
            .chain(asked_claims.iter().map(|c| describe_claim(c)))
            .collect(),
        redirect_origin: crate::pages::csp_origin(req.redirect.redirect_uri.as_str()),
        self_registered: req.client.registration_access_token_hash.is_some(),
    })
}
