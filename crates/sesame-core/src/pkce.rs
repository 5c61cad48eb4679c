//! Proof Key for Code Exchange (RFC 7636).

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::random::{self, RandomError};
use crate::types::{CodeChallenge, CodeVerifier};

/// The `code_challenge_method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PkceMethod {
    /// `S256`: the challenge is `BASE64URL(SHA256(verifier))`. The default, and
    /// the only method Sesame accepts unless `plain` is explicitly allowed.
    S256,
    /// `plain`: the challenge is the verifier. Offers no protection against an
    /// attacker who can read the authorization request.
    #[serde(rename = "plain")]
    Plain,
}

impl PkceMethod {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::S256 => "S256",
            Self::Plain => "plain",
        }
    }

    /// Parses the wire name (case-sensitive, as RFC 7636 defines it).
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "S256" => Some(Self::S256),
            "plain" => Some(Self::Plain),
            _ => None,
        }
    }
}

/// Why a PKCE verification failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PkceError {
    /// The verifier is not 43–128 characters of `[A-Za-z0-9-._~]`.
    #[error("code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]")]
    MalformedVerifier,
    /// `plain` was used where it is not allowed.
    #[error("the plain code_challenge_method is not allowed")]
    PlainNotAllowed,
    /// The verifier does not match the challenge.
    #[error("code_verifier does not match the code_challenge")]
    Mismatch,
}

/// Whether `value` is a syntactically valid verifier (RFC 7636 §4.1) — the
/// same grammar applies to a challenge.
pub fn is_valid_verifier(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

impl CodeVerifier {
    /// A fresh verifier: 32 random bytes, base64url — 43 characters, 256 bits.
    ///
    /// # Errors
    /// When the OS random source fails.
    pub fn random() -> Result<Self, RandomError> {
        random::token().map(Self::new)
    }

    /// The challenge for this verifier.
    pub fn challenge(&self, method: PkceMethod) -> CodeChallenge {
        match method {
            PkceMethod::S256 => CodeChallenge::new(s256(self.secret())),
            PkceMethod::Plain => CodeChallenge::new(self.secret()),
        }
    }
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
}

/// Checks `verifier` against a stored `challenge` (RFC 7636 §4.6), in constant time.
///
/// # Errors
/// A malformed verifier, `plain` when `allow_plain` is false, or a mismatch.
pub fn verify(
    verifier: &str,
    challenge: &CodeChallenge,
    method: PkceMethod,
    allow_plain: bool,
) -> Result<(), PkceError> {
    if !is_valid_verifier(verifier) {
        return Err(PkceError::MalformedVerifier);
    }
    let computed = match method {
        PkceMethod::S256 => s256(verifier),
        PkceMethod::Plain if allow_plain => verifier.to_owned(),
        PkceMethod::Plain => return Err(PkceError::PlainNotAllowed),
    };
    if bool::from(computed.as_bytes().ct_eq(challenge.as_str().as_bytes())) {
        Ok(())
    } else {
        Err(PkceError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b() {
        let verifier = CodeVerifier::new(RFC_VERIFIER);
        assert_eq!(verifier.challenge(PkceMethod::S256).as_str(), RFC_CHALLENGE);
        verify(
            RFC_VERIFIER,
            &CodeChallenge::new(RFC_CHALLENGE),
            PkceMethod::S256,
            false,
        )
        .unwrap();
    }

    #[test]
    fn wrong_verifier_is_refused() {
        let other = CodeVerifier::random().unwrap();
        assert_eq!(
            verify(
                other.secret(),
                &CodeChallenge::new(RFC_CHALLENGE),
                PkceMethod::S256,
                false
            ),
            Err(PkceError::Mismatch)
        );
    }

    #[test]
    fn plain_only_when_allowed() {
        let v = CodeVerifier::random().unwrap();
        let c = v.challenge(PkceMethod::Plain);
        assert_eq!(
            verify(v.secret(), &c, PkceMethod::Plain, false),
            Err(PkceError::PlainNotAllowed)
        );
        verify(v.secret(), &c, PkceMethod::Plain, true).unwrap();
    }

    #[test]
    fn malformed_verifiers() {
        let c = CodeChallenge::new(RFC_CHALLENGE);
        for bad in ["short", &"a".repeat(129), &format!("{}!", "a".repeat(43))] {
            assert_eq!(
                verify(bad, &c, PkceMethod::S256, false),
                Err(PkceError::MalformedVerifier)
            );
        }
    }

    #[test]
    fn random_verifier_is_valid() {
        assert!(is_valid_verifier(CodeVerifier::random().unwrap().secret()));
    }
}
