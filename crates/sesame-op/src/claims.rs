//! Claims about users, by scope.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{Map, Value};
use sesame_core::{Scopes, Subject};

/// Where the provider gets a user's claims.
#[async_trait]
pub trait ClaimsSource: Send + Sync + 'static {
    /// Every claim the application has for `subject` (`name`, `email`,
    /// `email_verified`, app-defined ones …). The provider releases only what
    /// the granted scopes and the `claims` request allow. `Ok(None)`: the user
    /// no longer exists (their tokens stop working).
    async fn claims(&self, subject: &Subject) -> Result<Option<Map<String, Value>>, ClaimsError>;
}

/// Looking up claims failed.
#[derive(Debug, thiserror::Error)]
#[error("claims backend error: {0}")]
pub struct ClaimsError(pub String);

/// A claims source that knows only `sub`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoClaims;

#[async_trait]
impl ClaimsSource for NoClaims {
    async fn claims(&self, _subject: &Subject) -> Result<Option<Map<String, Value>>, ClaimsError> {
        Ok(Some(Map::new()))
    }
}

/// Which claims each scope releases (OIDC Core §5.4), plus app-defined scopes
/// (the counterpart of django-oidc-provider's `scope_<name>` methods).
#[derive(Debug, Clone)]
pub struct ScopeClaims {
    map: BTreeMap<String, Vec<String>>,
}

impl Default for ScopeClaims {
    fn default() -> Self {
        let mut map = BTreeMap::new();
        let mut add = |scope: &str, claims: &[&str]| {
            map.insert(
                scope.to_owned(),
                claims.iter().map(|c| (*c).to_owned()).collect(),
            );
        };
        add(
            "profile",
            &[
                "name",
                "family_name",
                "given_name",
                "middle_name",
                "nickname",
                "preferred_username",
                "profile",
                "picture",
                "website",
                "gender",
                "birthdate",
                "zoneinfo",
                "locale",
                "updated_at",
            ],
        );
        add("email", &["email", "email_verified"]);
        add("address", &["address"]);
        add("phone", &["phone_number", "phone_number_verified"]);
        add("openid", &[]);
        add(sesame_core::OFFLINE_ACCESS, &[]);
        Self { map }
    }
}

impl ScopeClaims {
    /// Adds (or replaces) a scope and the claims it releases.
    pub fn insert(&mut self, scope: &str, claims: impl IntoIterator<Item = impl Into<String>>) {
        self.map.insert(
            scope.to_owned(),
            claims.into_iter().map(Into::into).collect(),
        );
    }

    /// Whether the provider knows this scope.
    pub fn knows(&self, scope: &str) -> bool {
        self.map.contains_key(scope)
    }

    /// Every known scope.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    /// Every claim some scope releases.
    pub fn claim_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.map.values().flatten().map(String::as_str).collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The claims a `claims` request parameter (OIDC Core §5.5) names in its
    /// `id_token` and `userinfo` members that the provider knows (some
    /// scope can release them) and that `scopes` do not release already:
    /// what the user must consent to one by one. Bounded by the known
    /// claims, whatever the request's size.
    pub fn asked_individually(&self, request: Option<&Value>, scopes: &Scopes) -> Vec<String> {
        let Some(request) = request else {
            return Vec::new();
        };
        let known = self.claim_names();
        let released: Vec<&str> = scopes
            .iter()
            .filter_map(|s| self.map.get(s.as_str()))
            .flatten()
            .map(String::as_str)
            .collect();
        let mut out: Vec<String> = Vec::new();
        for member in ["id_token", "userinfo"] {
            let Some(asked) = request.get(member).and_then(Value::as_object) else {
                continue;
            };
            for name in known.iter().filter(|k| asked.contains_key(**k)) {
                if *name != "sub" && !released.contains(name) && !out.iter().any(|o| o == name) {
                    out.push((*name).to_owned());
                }
            }
        }
        out.sort_unstable();
        out
    }

    /// `claims` filtered to what the granted (and consented) `scopes` release.
    /// The `claims` request parameter can choose where a released claim goes
    /// (ID token or UserInfo), never widen what is released.
    pub fn release(&self, claims: &Map<String, Value>, scopes: &Scopes) -> Map<String, Value> {
        let mut out = Map::new();
        for scope in scopes.iter() {
            for name in self.map.get(scope.as_str()).into_iter().flatten() {
                if let Some(v) = claims.get(name) {
                    out.insert(name.clone(), v.clone());
                }
            }
        }
        out.remove("sub");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_claims_parameter_cannot_widen_what_scopes_release() {
        let scopes = ScopeClaims::default();
        let claims: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "email": "a@example.com", "phone_number": "+1", "roles": ["admin"], "name": "A"
        }))
        .unwrap_or_default();
        let granted = Scopes::parse("openid email").unwrap_or_default();
        let out = scopes.release(&claims, &granted);
        assert_eq!(out.len(), 1);
        assert!(out.contains_key("email"));
    }
}
