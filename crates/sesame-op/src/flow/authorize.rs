//! The authorization endpoint (OIDC Core §3.1.2, §3.2.2, §3.3.2).

use sesame_core::{ClientId, ErrorCode, JwsAlgorithm, RedirectUri, ResponseMode, UnixTime};

use super::{FlowError, OAuthError, Params};
use crate::authn::EndUser;
use crate::model::Client;
use crate::provider::Provider;

mod acr;
mod authentication;
mod checks;
mod consent;
mod denied;
mod jarm;
mod parameters;
mod respond;
mod target;
pub(crate) use checks::{describe_scope, display_name, verify_hint};
pub(crate) use denied::access_denied;

/// Where and how to send the browser back to the client.
#[derive(Clone)]
pub(crate) struct ClientRedirect {
    pub(crate) redirect_uri: RedirectUri,
    /// As sent: `jwt` is resolved to `query.jwt` or `fragment.jwt`.
    pub(crate) mode: ResponseMode,
    pub(crate) params: Vec<(String, String)>,
    /// The audience of a JWT response (JARM).
    pub(crate) client_id: ClientId,
    /// The client's `authorization_signed_response_alg`.
    pub(crate) signing_alg: Option<JwsAlgorithm>,
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
    /// The client's pushed request, kept while the user signs in.
    pushed_origin: Option<crate::flow::par::Origin>,
}

impl Request {
    /// [`Request::error`] as the reason to stop.
    fn stop(&self, code: ErrorCode, description: &str) -> Stop {
        self.error(code, description).into()
    }

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

/// Why the endpoint stopped before the end: an answer for the browser (an
/// error, the login, the consent page), or a failure of its own.
enum Stop {
    Answer(Box<AuthorizeOutcome>),
    Failed(FlowError),
}

impl From<AuthorizeOutcome> for Stop {
    fn from(outcome: AuthorizeOutcome) -> Self {
        Self::Answer(Box::new(outcome))
    }
}

impl From<FlowError> for Stop {
    fn from(e: FlowError) -> Self {
        Self::Failed(e)
    }
}

impl From<crate::store::StoreError> for Stop {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Failed(e.into())
    }
}

impl From<sesame_core::random::RandomError> for Stop {
    fn from(e: sesame_core::random::RandomError) -> Self {
        Self::Failed(e.into())
    }
}

/// An error page: no trustworthy redirect URI yet.
fn error_page(code: ErrorCode, description: &str) -> Stop {
    AuthorizeOutcome::ErrorPage(OAuthError::new(code, description)).into()
}

/// What the endpoint knows of this request besides its parameters.
#[derive(Clone, Copy)]
struct Context {
    /// The user just allowed this request on the consent page.
    consent_given: bool,
    /// From the server-side interaction this request comes back from (a
    /// login it asked for), never from the request.
    auth_after: Option<UnixTime>,
    /// It came from the pushed authorization request endpoint.
    pushed: bool,
    now: UnixTime,
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
    let outcome = match steps(p, params, user, consent_given, auth_after, now).await {
        Ok(outcome) => outcome,
        Err(Stop::Answer(outcome)) => *outcome,
        Err(Stop::Failed(e)) => return Err(e),
    };
    jarm::seal(p, outcome, now).await
}

async fn steps(
    p: &Provider,
    params: &Params,
    user: Option<EndUser>,
    consent_given: bool,
    auth_after: Option<UnixTime>,
    now: UnixTime,
) -> Result<AuthorizeOutcome, Stop> {
    // 1. The client and its redirect URI: until both check out, errors go to a page.
    let target::Located {
        mut req,
        params,
        pushed,
    } = target::locate(p, params, now).await?;
    let at = Context {
        consent_given,
        auth_after,
        pushed,
        now,
    };
    // 2–4. From here on, errors go back to the client.
    let asked = parameters::check(p, &mut req, &params, pushed, consent_given)?;
    // 5. Authentication.
    let signed_in = authentication::authenticate(p, &req, &params, &asked, user, at).await?;
    // 6. Consent.
    let claims = consent::obtain(p, &req, &params, &asked, &signed_in.user, at).await?;
    // 7. Issue.
    respond::issue(p, req, asked, signed_in, claims, now).await
}
