//! `[[upstream]]`: other OpenID Providers people may sign in through.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// One upstream provider (`[[upstream]]`).
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Upstream {
    /// The name in its URLs (`/upstream/{name}/login`): lower-case letters,
    /// digits, `-` and `_`; unique.
    pub name: String,
    /// The text of its button ("Continue with {display_name}").
    pub display_name: String,
    /// Its issuer (discovered at `{issuer}/.well-known/openid-configuration`).
    pub issuer: String,
    /// The client id this server is registered as there, with the redirect
    /// URI `{our issuer}/upstream/{name}/callback`.
    pub client_id: String,
    /// The client secret (or `client_secret_file`; exactly one).
    pub client_secret: Option<String>,
    /// A file holding the client secret.
    pub client_secret_file: Option<PathBuf>,
    /// The scopes asked for (default `openid email profile`).
    pub scopes: Option<String>,
    /// Which upstream claims give the local account's fields.
    pub claims: ClaimMapping,
    /// Only people whose verified email is in one of these domains may sign
    /// in (empty: anyone the upstream signs in).
    pub allowed_email_domains: Vec<String>,
    /// Carry the upstream's `amr` into the local session (default false:
    /// the session's `amr` is `["fed"]`).
    pub trust_amr: bool,
    /// On our end_session, send the browser on to the upstream's
    /// `end_session_endpoint` too (when it has one), with the upstream ID
    /// token as `id_token_hint`; register `{our issuer}/upstream/{name}/logged-out`
    /// as a post-logout redirect URI there.
    pub end_session: bool,
}

/// Which upstream claim gives each field of a local account.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ClaimMapping {
    /// The username (made unique locally; default `preferred_username`,
    /// then the email's local part).
    pub username: String,
    /// The email (default `email`).
    pub email: String,
    /// The display name (default `name`).
    pub name: String,
    /// The groups, a list of strings (default none: no groups are taken).
    pub groups: Option<String>,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self {
            username: "preferred_username".into(),
            email: "email".into(),
            name: "name".into(),
            groups: None,
        }
    }
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upstream")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("client_secret_file", &self.client_secret_file)
            .finish_non_exhaustive()
    }
}

/// The default scopes of an upstream.
pub const DEFAULT_SCOPES: &str = "openid email profile";

impl Upstream {
    /// The scopes asked for.
    pub fn scopes(&self) -> &str {
        self.scopes.as_deref().unwrap_or(DEFAULT_SCOPES)
    }

    /// The client secret, from the configuration or its file (trimmed).
    ///
    /// # Errors
    /// An unreadable or empty file.
    pub fn secret(&self) -> Result<String, ConfigError> {
        let secret = match (&self.client_secret, &self.client_secret_file) {
            (Some(s), None) => s.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| {
                    ConfigError(format!(
                        "upstream {:?}: client_secret_file {}: {e}",
                        self.name,
                        path.display()
                    ))
                })?
                .trim()
                .to_owned(),
            _ => {
                return Err(ConfigError(format!(
                    "upstream {:?}: give exactly one of client_secret and client_secret_file",
                    self.name
                )));
            }
        };
        if secret.is_empty() {
            return Err(ConfigError(format!(
                "upstream {:?}: the client secret is empty",
                self.name
            )));
        }
        Ok(secret)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let name = &self.name;
        let url_safe = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !url_safe {
            return Err(ConfigError(format!(
                "upstream {name:?}: name must be 1 to 64 lower-case letters, digits, '-' or '_' (it is part of /upstream/{{name}}/…)"
            )));
        }
        let fail = |what: &str| Err(ConfigError(format!("upstream {name:?}: {what}")));
        if self.display_name.trim().is_empty() {
            return fail("display_name is missing");
        }
        if self.client_id.is_empty() {
            return fail("client_id is missing");
        }
        if let Err(e) = sesame_core::Issuer::new(self.issuer.clone()) {
            return fail(&format!("issuer {:?}: {e}", self.issuer));
        }
        let https = self.issuer.starts_with("https://");
        let loopback = url::Url::parse(&self.issuer)
            .is_ok_and(|u| matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")));
        if !https && !loopback {
            return fail("issuer must be an https URL (http only on 127.0.0.1 or localhost)");
        }
        self.secret()?;
        if !self.scopes().split(' ').any(|s| s == sesame_core::OPENID) {
            return fail("scopes must include openid");
        }
        for domain in &self.allowed_email_domains {
            if domain.is_empty() || domain.contains('@') || domain.contains(char::is_whitespace) {
                return fail(&format!(
                    "allowed_email_domains: {domain:?} is not a domain (write example.com, not @example.com)"
                ));
            }
        }
        Ok(())
    }
}

/// Checks every entry and that names are unique.
///
/// # Errors
/// The first entry that cannot be used.
pub(super) fn check(upstreams: &[Upstream]) -> Result<(), ConfigError> {
    let mut names = std::collections::BTreeSet::new();
    for u in upstreams {
        u.check()?;
        if !names.insert(u.name.as_str()) {
            return Err(ConfigError(format!(
                "upstream {:?}: the name is used twice",
                u.name
            )));
        }
    }
    Ok(())
}
