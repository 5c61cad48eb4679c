//! ID token and logout token claims.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::clock::UnixTime;
use crate::types::{Nonce, SessionId, Subject};

/// The `events` member that marks a back-channel logout token.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The `aud` claim: one audience or several (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Audience(Vec<String>);

impl Audience {
    /// A single audience.
    pub fn single(aud: impl Into<String>) -> Self {
        Self(vec![aud.into()])
    }

    /// Several audiences.
    pub fn many(auds: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self(auds.into_iter().map(Into::into).collect())
    }

    /// The audiences.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// Whether `aud` is one of them.
    pub fn contains(&self, aud: &str) -> bool {
        self.0.iter().any(|a| a == aud)
    }
}

impl Serialize for Audience {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => serializer.serialize_str(one),
            many => many.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        Ok(match OneOrMany::deserialize(deserializer)? {
            OneOrMany::One(a) => Self(vec![a]),
            OneOrMany::Many(a) => Self(a),
        })
    }
}

/// `NumericDate`: accepts integers and (truncated) fractional seconds, as some providers send.
pub(crate) mod numeric_date {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
                .map(Some)
                .ok_or_else(|| de::Error::custom("NumericDate out of range")),
            Some(_) => Err(de::Error::custom("NumericDate must be a number")),
        }
    }
}

/// A boolean that some providers send as `"true"`/`"false"` (e.g. `email_verified`).
pub(crate) mod lenient_bool {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(de::Error::custom("expected a boolean")),
        }
    }
}

/// The postal `address` claim (OIDC Core §5.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct AddressClaim {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// The standard claims about the end-user (OIDC Core §5.1), all optional.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct StandardClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_bool::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub email_verified: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthdate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zoneinfo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_bool::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub phone_number_verified: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<AddressClaim>,
    #[serde(
        default,
        deserialize_with = "numeric_date::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<UnixTime>,
}

/// The claims of a validated ID token (OIDC Core §2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// `iss`
    pub iss: String,
    /// `sub`
    pub sub: Subject,
    /// `aud`
    pub aud: Audience,
    /// `exp`
    pub exp: UnixTime,
    /// `iat`
    pub iat: UnixTime,
    /// `nbf`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<UnixTime>,
    /// `auth_time`: when the user last authenticated at the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<UnixTime>,
    /// `nonce`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<Nonce>,
    /// `acr`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// `amr`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// `azp`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// `at_hash`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// `c_hash`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c_hash: Option<String>,
    /// `sid`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<SessionId>,
    /// Standard end-user claims.
    #[serde(flatten)]
    pub profile: StandardClaims,
    /// Every other claim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl IdTokenClaims {
    /// Claims with the required members set and everything else empty.
    pub fn new(
        iss: impl Into<String>,
        sub: Subject,
        aud: Audience,
        iat: UnixTime,
        exp: UnixTime,
    ) -> Self {
        Self {
            iss: iss.into(),
            sub,
            aud,
            exp,
            iat,
            nbf: None,
            auth_time: None,
            nonce: None,
            acr: None,
            amr: None,
            azp: None,
            at_hash: None,
            c_hash: None,
            sid: None,
            profile: StandardClaims::default(),
            extra: Map::new(),
        }
    }
}

/// The same members as [`IdTokenClaims`], each optional, so that a missing
/// one is reported by name rather than as a parse error.
#[derive(Debug, Deserialize)]
pub(crate) struct RawIdTokenClaims {
    pub(crate) iss: Option<String>,
    pub(crate) sub: Option<Subject>,
    pub(crate) aud: Option<Audience>,
    #[serde(default, deserialize_with = "numeric_date::deserialize")]
    pub(crate) exp: Option<UnixTime>,
    #[serde(default, deserialize_with = "numeric_date::deserialize")]
    pub(crate) iat: Option<UnixTime>,
    #[serde(default, deserialize_with = "numeric_date::deserialize")]
    pub(crate) nbf: Option<UnixTime>,
    #[serde(default, deserialize_with = "numeric_date::deserialize")]
    pub(crate) auth_time: Option<UnixTime>,
    pub(crate) nonce: Option<Nonce>,
    pub(crate) acr: Option<String>,
    pub(crate) amr: Option<Vec<String>>,
    pub(crate) azp: Option<String>,
    pub(crate) at_hash: Option<String>,
    pub(crate) c_hash: Option<String>,
    pub(crate) sid: Option<SessionId>,
    #[serde(flatten)]
    pub(crate) profile: StandardClaims,
    #[serde(flatten)]
    pub(crate) extra: Map<String, Value>,
}

/// The claims of a back-channel logout token (Back-Channel Logout 1.0 §2.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogoutTokenClaims {
    /// `iss`
    pub iss: String,
    /// `aud`
    pub aud: Audience,
    /// `iat`
    pub iat: UnixTime,
    /// `exp`
    pub exp: UnixTime,
    /// `jti`: unique per token; receivers may refuse a replay.
    pub jti: String,
    /// `events`: carries the back-channel logout event.
    pub events: Map<String, Value>,
    /// `sub`: the user whose sessions end (with or instead of `sid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<Subject>,
    /// `sid`: the provider session that ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<SessionId>,
}

impl LogoutTokenClaims {
    /// The `events` member for a back-channel logout.
    pub fn logout_events() -> Map<String, Value> {
        let mut events = Map::new();
        events.insert(
            BACKCHANNEL_LOGOUT_EVENT.to_owned(),
            Value::Object(Map::new()),
        );
        events
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawLogoutTokenClaims {
    pub(crate) iss: Option<String>,
    pub(crate) aud: Option<Audience>,
    #[serde(default, deserialize_with = "numeric_date::deserialize")]
    pub(crate) iat: Option<UnixTime>,
    #[serde(default, deserialize_with = "numeric_date::deserialize")]
    pub(crate) exp: Option<UnixTime>,
    pub(crate) jti: Option<String>,
    pub(crate) events: Option<Value>,
    pub(crate) sub: Option<Subject>,
    pub(crate) sid: Option<SessionId>,
    pub(crate) nonce: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audience_one_or_many() {
        let one: Audience = serde_json::from_str("\"a\"").unwrap();
        assert_eq!(one, Audience::single("a"));
        assert_eq!(serde_json::to_string(&one).unwrap(), "\"a\"");
        let many: Audience = serde_json::from_str("[\"a\",\"b\"]").unwrap();
        assert!(many.contains("b"));
        assert_eq!(serde_json::to_string(&many).unwrap(), "[\"a\",\"b\"]");
        assert!(serde_json::from_str::<Audience>("3").is_err());
    }

    #[test]
    fn claims_keep_standard_and_extra_members() {
        let json = serde_json::json!({
            "iss": "https://op", "sub": "s", "aud": "c", "exp": 10, "iat": 5.7,
            "email": "a@example.com", "email_verified": "true",
            "groups": ["admin"], "updated_at": 3
        });
        let raw: RawIdTokenClaims = serde_json::from_value(json).unwrap();
        assert_eq!(raw.iat, Some(5));
        assert_eq!(raw.profile.email.as_deref(), Some("a@example.com"));
        assert_eq!(raw.profile.email_verified, Some(true));
        assert_eq!(raw.profile.updated_at, Some(3));
        assert_eq!(raw.extra.get("groups"), Some(&serde_json::json!(["admin"])));
        assert!(!raw.extra.contains_key("email"));
    }
}
