//! The protocol's enumerated words, defined once for both sides.
//!
//! Every enum here is what the specs spell on the wire: `as_str` gives the
//! exact spelling, `parse` reads it back (`None` for anything else), `Display`
//! prints it and serde uses it. The provider, the relying party, discovery and
//! the CLI all read these, so the two sides cannot drift apart.
//!
//! ```
//! use sesame_core::{GrantType, ResponseType};
//!
//! assert_eq!(GrantType::parse("refresh_token"), Some(GrantType::RefreshToken));
//! assert_eq!(GrantType::RefreshToken.to_string(), "refresh_token");
//! // the words of a response type may come in any order
//! assert_eq!(ResponseType::parse("id_token code"), Some(ResponseType::CodeIdToken));
//! assert_eq!(ResponseType::CodeIdToken.as_str(), "code id_token");
//! ```

/// Defines a fieldless enum of wire names with `as_str`, `parse`, `ALL`,
/// `Display` and string serde. `parse` reads the exact wire name, unless the
/// enum is declared `pub enum Name with custom parse { .. }` and writes its own.
/// A default value is marked `#[default]` under a `#[derive(Default)]`.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident with custom parse { $($body:tt)* }
    ) => {
        wire_enum!(@define $(#[$meta])* $name { $($body)* });
    };
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $($body:tt)* }
    ) => {
        wire_enum!(@define $(#[$meta])* $name { $($body)* });

        impl $name {
            /// Parses the wire name.
            pub fn parse(value: &str) -> Option<Self> {
                Self::parse_exact(value)
            }
        }
    };
    (
        @define
        $(#[$meta:meta])*
        $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $wire:literal
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $(
                $(#[$vmeta])*
                $variant,
            )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$(Self::$variant),+];

            /// The wire spelling.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $wire,)+
                }
            }

            /// Parses the exact wire spelling.
            pub fn parse_exact(value: &str) -> Option<Self> {
                match value {
                    $($wire => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                Self::parse(&s).ok_or_else(|| {
                    ::serde::de::Error::custom(format_args!(
                        concat!("unknown ", stringify!($name), " {:?}"),
                        s
                    ))
                })
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::UnknownWord;
            fn from_str(s: &str) -> Result<Self, $crate::UnknownWord> {
                Self::parse(s).ok_or_else(|| $crate::UnknownWord {
                    kind: stringify!($name),
                    value: s.chars().take(64).collect(),
                })
            }
        }
    };
}

mod auth_method;
mod grant_type;
mod misc;
mod profile;
mod response_type;

pub use auth_method::ClientAuthMethod;
pub use grant_type::GrantType;
pub use misc::{ApplicationType, Prompt, PromptError, ResponseMode, SubjectType, TokenTypeHint};
pub use profile::SecurityProfile;
pub use response_type::ResponseType;

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE_JWT_BEARER: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A value that is not one of an enum's wire names (from `FromStr`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownWord {
    /// The enum's name.
    pub kind: &'static str,
    /// The value given (its first 64 characters).
    pub value: String,
}

#[cfg(test)]
mod tests;
