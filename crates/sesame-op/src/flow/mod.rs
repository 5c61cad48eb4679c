//! Framework-free grant logic. Each flow takes the provider and plain
//! request data (with the time read once, from the provider's clock) and
//! returns a plain outcome; `endpoints` turns outcomes into HTTP.

pub(crate) mod authorize;
pub(crate) mod client_auth;
pub(crate) mod client_metadata;
pub(crate) mod device;
pub(crate) mod end_session;
pub(crate) mod grant;
pub(crate) mod interaction;
pub(crate) mod issue;
pub(crate) mod par;
pub(crate) mod register;
pub(crate) mod request_object;
pub(crate) mod resource;
pub(crate) mod tokens_info;

use sesame_core::ErrorCode;

use crate::store::StoreError;

/// A protocol error: the code and a description safe to show the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OAuthError {
    pub(crate) code: ErrorCode,
    pub(crate) description: String,
}

impl OAuthError {
    pub(crate) fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }
}

/// A flow failed: the client's fault (a protocol error), too many attempts,
/// or ours (storage, keys).
#[derive(Debug)]
pub(crate) enum FlowError {
    OAuth(OAuthError),
    /// A rate limit refused the attempt: 429 with `Retry-After` (seconds).
    RateLimited {
        retry_after: u64,
    },
    Internal(String),
}

/// An OAuth error answer (RFC 6749 §5.2 and the like).
pub(crate) fn err(code: ErrorCode, description: &str) -> FlowError {
    FlowError::OAuth(OAuthError::new(code, description))
}

impl From<OAuthError> for FlowError {
    fn from(e: OAuthError) -> Self {
        Self::OAuth(e)
    }
}

/// `From` conversions of infrastructure errors into [`FlowError::Internal`]:
/// their text goes to `tracing`, never to the client.
macro_rules! internal_from {
    ($($e:ty),+ $(,)?) => {$(
        impl From<$e> for FlowError {
            fn from(e: $e) -> Self {
                Self::Internal(e.to_string())
            }
        }
    )+};
}

internal_from!(
    StoreError,
    crate::keys::KeysError,
    crate::subject::SubjectError,
    sesame_core::random::RandomError,
);

/// The most parameters a request may carry.
pub(crate) const MAX_PARAMS: usize = 100;

/// Request parameters, each name at most once (RFC 6749 §3.1).
#[derive(Clone, Default)]
pub(crate) struct Params(pub(crate) Vec<(String, String)>);

/// Names only: values include secrets (client_secret, code, code_verifier …).
impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| k))
            .finish()
    }
}

impl Params {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// The parameter `name`, or `invalid_request` saying it is missing.
    pub(crate) fn required(&self, name: &str) -> Result<&str, FlowError> {
        self.get(name)
            .ok_or_else(|| err(ErrorCode::InvalidRequest, &format!("{name} is missing")))
    }

    /// The first parameter given more than once (`resource` may repeat), or
    /// `"(too many parameters)"` past [`MAX_PARAMS`].
    pub(crate) fn duplicate(&self) -> Option<&str> {
        if self.0.len() > MAX_PARAMS {
            return Some("(too many parameters)");
        }
        let mut seen = std::collections::HashSet::with_capacity(self.0.len());
        self.0
            .iter()
            .filter(|(k, _)| k != "resource")
            .find(|(k, _)| !seen.insert(k.as_str()))
            .map(|(k, _)| k.as_str())
    }
}
