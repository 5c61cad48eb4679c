//! JWS algorithms (RFC 7518 §3, RFC 8037).

use std::fmt;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self as sig, VerificationAlgorithm};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A JWS `alg` Sesame can sign or verify.
///
/// `none` is not a member: an unsecured JWS cannot be represented, so it
/// cannot be accepted by mistake. ES512 is absent because the crypto
/// library does not offer P-521 signatures in the fixed format.
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum JwsAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256. The OIDC default and the most interoperable.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// Ed25519 (RFC 8037).
    EdDSA,
    /// HMAC with SHA-256 (shared secret: the client secret).
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
}

/// The key type an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyFamily {
    /// `kty: RSA`
    Rsa,
    /// `kty: EC` on the given curve.
    Ec(Curve),
    /// `kty: OKP`, `crv: Ed25519`
    Ed25519,
    /// `kty: oct` (a shared secret)
    Hmac,
}

/// An elliptic curve for ECDSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    /// P-256
    P256,
    /// P-384
    P384,
}

impl Curve {
    /// The JWK `crv` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
        }
    }

    /// Length in bytes of one coordinate.
    pub fn coordinate_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
        }
    }
}

impl JwsAlgorithm {
    /// Every algorithm, asymmetric ones first.
    pub const ALL: [JwsAlgorithm; 12] = [
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::EdDSA,
        Self::HS256,
        Self::HS384,
        Self::HS512,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
        }
    }

    /// Parses a wire name; `none` and anything unknown give `None`.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == value)
    }

    /// The key type this algorithm needs.
    pub fn family(self) -> KeyFamily {
        match self {
            Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512 => {
                KeyFamily::Rsa
            }
            Self::ES256 => KeyFamily::Ec(Curve::P256),
            Self::ES384 => KeyFamily::Ec(Curve::P384),
            Self::EdDSA => KeyFamily::Ed25519,
            Self::HS256 | Self::HS384 | Self::HS512 => KeyFamily::Hmac,
        }
    }

    /// Whether this is an HMAC (shared-secret) algorithm.
    pub fn is_symmetric(self) -> bool {
        self.family() == KeyFamily::Hmac
    }

    /// The hash whose left half makes `at_hash`/`c_hash`/`s_hash`
    /// (OIDC Core §3.1.3.6; SHA-512 for Ed25519, per OIDC's EdDSA guidance).
    pub fn half_hash(self) -> &'static digest::Algorithm {
        match self {
            Self::RS256 | Self::PS256 | Self::ES256 | Self::HS256 => &digest::SHA256,
            Self::RS384 | Self::PS384 | Self::ES384 | Self::HS384 => &digest::SHA384,
            Self::RS512 | Self::PS512 | Self::HS512 | Self::EdDSA => &digest::SHA512,
        }
    }

    /// Index into per-algorithm caches.
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    pub(crate) fn verification(self) -> Option<&'static dyn VerificationAlgorithm> {
        if let Some(rsa) = self.rsa_parameters() {
            return Some(rsa);
        }
        Some(match self {
            Self::ES256 => &sig::ECDSA_P256_SHA256_FIXED,
            Self::ES384 => &sig::ECDSA_P384_SHA384_FIXED,
            Self::EdDSA => &sig::ED25519,
            _ => return None,
        })
    }

    pub(crate) fn rsa_parameters(self) -> Option<&'static sig::RsaParameters> {
        Some(match self {
            Self::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
            Self::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
            Self::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
            Self::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
            Self::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
            Self::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }

    pub(crate) fn rsa_encoding(self) -> Option<&'static dyn sig::RsaEncoding> {
        Some(match self {
            Self::RS256 => &sig::RSA_PKCS1_SHA256,
            Self::RS384 => &sig::RSA_PKCS1_SHA384,
            Self::RS512 => &sig::RSA_PKCS1_SHA512,
            Self::PS256 => &sig::RSA_PSS_SHA256,
            Self::PS384 => &sig::RSA_PSS_SHA384,
            Self::PS512 => &sig::RSA_PSS_SHA512,
            _ => return None,
        })
    }

    pub(crate) fn hmac(self) -> Option<aws_lc_rs::hmac::Algorithm> {
        Some(match self {
            Self::HS256 => aws_lc_rs::hmac::HMAC_SHA256,
            Self::HS384 => aws_lc_rs::hmac::HMAC_SHA384,
            Self::HS512 => aws_lc_rs::hmac::HMAC_SHA512,
            _ => return None,
        })
    }
}

impl fmt::Display for JwsAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for JwsAlgorithm {
    type Err = UnsupportedAlgorithm;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| UnsupportedAlgorithm(s.to_owned()))
    }
}

/// An `alg` value Sesame does not implement (or refuses, like `none`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported JWS algorithm {0:?}")]
pub struct UnsupportedAlgorithm(pub String);

impl Serialize for JwsAlgorithm {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for JwsAlgorithm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        value.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_none_is_absent() {
        for alg in JwsAlgorithm::ALL {
            assert_eq!(JwsAlgorithm::parse(alg.as_str()), Some(alg));
            assert_eq!(JwsAlgorithm::ALL[alg.index()], alg);
        }
        assert_eq!(JwsAlgorithm::parse("none"), None);
        assert_eq!(JwsAlgorithm::parse("NONE"), None);
        assert_eq!(JwsAlgorithm::parse("rs256"), None);
        assert!(serde_json::from_str::<JwsAlgorithm>("\"none\"").is_err());
    }

    #[test]
    fn half_hash_per_family() {
        assert_eq!(JwsAlgorithm::RS256.half_hash().output_len(), 32);
        assert_eq!(JwsAlgorithm::ES384.half_hash().output_len(), 48);
        assert_eq!(JwsAlgorithm::PS512.half_hash().output_len(), 64);
        assert_eq!(JwsAlgorithm::EdDSA.half_hash().output_len(), 64);
    }
}
