//! Scopes (RFC 6749 §3.3).

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The `openid` scope, which makes an OAuth request an OpenID Connect one.
pub const OPENID: &str = "openid";
/// `offline_access` (OIDC Core §11): asks for a refresh token.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// The most distinct scope tokens [`Scopes::parse`] accepts in one value.
pub const MAX_SCOPES: usize = 64;
/// The longest `scope` value, in bytes (spaces included), [`Scopes::parse`] accepts.
pub const MAX_SCOPE_LEN: usize = 4096;

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
            Err(ScopeError::Invalid(value))
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

/// Why a scope value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// A scope token with a character RFC 6749 §3.3 forbids.
    #[error("invalid scope token {0:?}")]
    Invalid(String),
    /// More than [`MAX_SCOPES`] distinct tokens.
    #[error("too many scope tokens (at most {max})")]
    TooMany {
        /// The limit.
        max: usize,
    },
    /// A value longer than [`MAX_SCOPE_LEN`] bytes.
    #[error("scope value too long (at most {max} bytes)")]
    TooLong {
        /// The limit, in bytes.
        max: usize,
    },
}

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

    /// Parses a space-separated list (extra spaces are tolerated), in time
    /// linear in its length.
    ///
    /// # Errors
    /// When a token has a forbidden character, the value is longer than
    /// [`MAX_SCOPE_LEN`] bytes, or it holds more than [`MAX_SCOPES`] distinct tokens.
    pub fn parse(value: &str) -> Result<Self, ScopeError> {
        if value.len() > MAX_SCOPE_LEN {
            return Err(ScopeError::TooLong { max: MAX_SCOPE_LEN });
        }
        let mut seen = HashSet::new();
        let mut scopes = Vec::new();
        for token in value.split(' ').filter(|t| !t.is_empty()) {
            let scope = Scope::new(token)?;
            if seen.insert(token) {
                if scopes.len() == MAX_SCOPES {
                    return Err(ScopeError::TooMany { max: MAX_SCOPES });
                }
                scopes.push(scope);
            }
        }
        Ok(Self(scopes))
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
    fn parse_refuses_too_many_tokens_quickly() {
        // 100 000 distinct 3-character tokens: quadratic de-duplication took seconds.
        let many: Vec<String> = (0..100_000).map(|i| format!("{i:x}")).collect();
        let value = many.join(" ");
        let started = std::time::Instant::now();
        let result = Scopes::parse(&value);
        assert!(started.elapsed() < std::time::Duration::from_millis(50));
        assert!(matches!(result, Err(ScopeError::TooLong { .. })));

        let tokens: Vec<String> = (0..=MAX_SCOPES).map(|i| format!("s{i}")).collect();
        let result = Scopes::parse(&tokens.join(" "));
        assert_eq!(result, Err(ScopeError::TooMany { max: MAX_SCOPES }));
        let ok = Scopes::parse(&tokens[..MAX_SCOPES].join(" ")).unwrap();
        assert_eq!(ok.len(), MAX_SCOPES);
    }

    #[test]
    fn parse_counts_distinct_tokens_and_limits_bytes() {
        // Repeats do not count towards the token limit…
        let repeated = vec!["openid"; 500].join(" ");
        assert_eq!(Scopes::parse(&repeated).unwrap().len(), 1);
        // …but the whole value is bounded, spaces included.
        let long = " ".repeat(MAX_SCOPE_LEN + 1);
        assert_eq!(
            Scopes::parse(&long),
            Err(ScopeError::TooLong { max: MAX_SCOPE_LEN })
        );
        assert!(
            Scopes::parse(&" ".repeat(MAX_SCOPE_LEN))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn serde_round_trip() {
        let s: Scopes = serde_json::from_str("\"openid email\"").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"openid email\"");
    }
}
