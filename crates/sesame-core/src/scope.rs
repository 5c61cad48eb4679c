//! Scopes (RFC 6749 §3.3).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The `openid` scope, which makes an OAuth request an OpenID Connect one.
pub const OPENID: &str = "openid";
/// `offline_access` (OIDC Core §11): asks for a refresh token.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// One scope token.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(String);

impl Scope {
    /// Checks and wraps one scope token: `1*( %x21 / %x23-5B / %x5D-7E )`.
    ///
    /// # Errors
    /// When the value is empty or contains a space, quote, backslash or non-ASCII character.
    pub fn new(value: impl Into<String>) -> Result<Self, ScopeError> {
        let value = value.into();
        let valid = !value.is_empty()
            && value
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
        if valid {
            Ok(Self(value))
        } else {
            Err(ScopeError(value))
        }
    }

    /// The scope token.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Scope").field(&self.0).finish()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A scope token with a character RFC 6749 §3.3 forbids.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid scope token {0:?}")]
pub struct ScopeError(pub String);

/// A set of scopes in the order first given, without duplicates; written as a
/// space-separated string on the wire.
///
/// ```
/// use sesame_core::Scopes;
/// let scopes: Scopes = "openid  email openid profile".parse().unwrap();
/// assert_eq!(scopes.to_string(), "openid email profile");
/// assert!(scopes.contains("email"));
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// No scopes.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Parses a space-separated list (extra spaces are tolerated).
    ///
    /// # Errors
    /// When a token has a forbidden character.
    pub fn parse(value: &str) -> Result<Self, ScopeError> {
        let mut scopes = Self::new();
        for token in value.split(' ').filter(|t| !t.is_empty()) {
            scopes.insert(Scope::new(token)?);
        }
        Ok(scopes)
    }

    /// Adds a scope unless already present.
    pub fn insert(&mut self, scope: Scope) {
        if !self.0.contains(&scope) {
            self.0.push(scope);
        }
    }

    /// Adds a scope (builder style).
    ///
    /// # Errors
    /// When the token is invalid.
    pub fn with(mut self, scope: &str) -> Result<Self, ScopeError> {
        self.insert(Scope::new(scope)?);
        Ok(self)
    }

    /// Whether `scope` is in the set.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s.0 == scope)
    }

    /// Whether every scope of `self` is in `other`.
    pub fn is_subset_of(&self, other: &Scopes) -> bool {
        self.0.iter().all(|s| other.contains(&s.0))
    }

    /// The scopes of `self` that are also in `other`, in `self`'s order.
    pub fn intersection(&self, other: &Scopes) -> Scopes {
        Scopes(
            self.0
                .iter()
                .filter(|s| other.contains(&s.0))
                .cloned()
                .collect(),
        )
    }

    /// Iterates over the scopes.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    /// Number of scopes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, scope) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(&scope.0)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scopes({self})")
    }
}

impl std::str::FromStr for Scopes {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Scopes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scopes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Self::parse(&value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_dedups_and_keeps_order() {
        let s = Scopes::parse(" profile openid profile ").unwrap();
        assert_eq!(s.to_string(), "profile openid");
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn rejects_bad_characters() {
        assert!(Scopes::parse("openid \"x\"").is_err());
        assert!(Scopes::parse("openid a\\b").is_err());
        assert!(Scopes::parse("openid é").is_err());
        assert!(Scope::new("").is_err());
    }

    #[test]
    fn subset_and_intersection() {
        let all = Scopes::parse("openid email profile").unwrap();
        let some = Scopes::parse("email openid").unwrap();
        assert!(some.is_subset_of(&all));
        assert!(!all.is_subset_of(&some));
        assert_eq!(all.intersection(&some).to_string(), "openid email");
    }

    #[test]
    fn serde_round_trip() {
        let s: Scopes = serde_json::from_str("\"openid email\"").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"openid email\"");
    }
}
