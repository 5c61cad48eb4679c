//! Subject identifiers (OIDC Core §8): the `sub` a client sees is the user's
//! own identifier (public), or one derived for the client's sector (pairwise).

use std::fmt;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sesame_core::Subject;

use crate::flow::FlowError;
use crate::model::{Client, SubjectType};
use crate::provider::Provider;

/// The secret salt of pairwise subject identifiers (OIDC Core §8.1). At least
/// 16 bytes; [`PairwiseSalt::generate`] makes 32 random ones.
///
/// Every pairwise `sub` depends on it: keep it as long as the users' accounts
/// at relying parties matter, share it between instances of one provider, and
/// keep it secret (with it, relying parties of different sectors could
/// correlate users whose local identifiers they can guess). `Debug` prints
/// `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct PairwiseSalt(Vec<u8>);

impl fmt::Debug for PairwiseSalt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PairwiseSalt([redacted])")
    }
}

impl PairwiseSalt {
    /// The shortest salt [`crate::ProviderBuilder::build`] accepts.
    pub const MIN_LEN: usize = 16;

    /// A salt from stored bytes (checked for length when the provider is built).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// A fresh random 32-byte salt: generate it once and store it.
    ///
    /// # Errors
    /// When the OS random source fails.
    pub fn generate() -> Result<Self, sesame_core::random::RandomError> {
        let mut bytes = vec![0u8; 32];
        sesame_core::random::fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// The salt's bytes, for storing it.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// `sub = base64url(SHA-256(sector_host || local_sub || salt))` (OIDC Core §8.1).
pub(crate) fn pairwise(sector: &str, local: &Subject, salt: &PairwiseSalt) -> Subject {
    let mut sha = digest::Context::new(&digest::SHA256);
    sha.update(sector.as_bytes());
    sha.update(local.as_str().as_bytes());
    sha.update(&salt.0);
    Subject::new(URL_SAFE_NO_PAD.encode(sha.finish()))
}

impl Provider {
    /// The `sub` that `client` sees for the user whose own identifier is
    /// `local`: `local` itself for public clients, the pairwise identifier
    /// for clients registered with `subject_type` pairwise. Every `sub` that
    /// leaves the provider for a client goes through here.
    ///
    /// A pairwise client without a sector, or on a provider without a salt,
    /// is an error — never a silent fallback to the public identifier.
    pub(crate) fn subject_for(
        &self,
        client: &Client,
        local: &Subject,
    ) -> Result<Subject, FlowError> {
        match client.subject_type {
            SubjectType::Public => Ok(local.clone()),
            SubjectType::Pairwise => {
                let salt = self.inner.settings.pairwise_salt.as_ref().ok_or_else(|| {
                    FlowError::Internal(format!(
                        "client {} wants pairwise subjects but the provider has no pairwise_salt",
                        client.client_id.as_str()
                    ))
                })?;
                let sector = client.sector_identifier().ok_or_else(|| {
                    FlowError::Internal(format!(
                        "client {} wants pairwise subjects but its redirect URIs do not share one host",
                        client.client_id.as_str()
                    ))
                })?;
                Ok(pairwise(&sector, local, salt))
            }
            other => Err(FlowError::Internal(format!(
                "client {} has a subject_type this provider does not implement: {other}",
                client.client_id.as_str()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_subjects_follow_the_formula() {
        let salt = PairwiseSalt::new(*b"0123456789abcdef");
        let sub = pairwise("rp.example", &Subject::new("alice"), &salt);
        let expected = URL_SAFE_NO_PAD
            .encode(digest::digest(&digest::SHA256, b"rp.examplealice0123456789abcdef").as_ref());
        assert_eq!(sub.as_str(), expected);
        assert_ne!(
            sub,
            pairwise("other.example", &Subject::new("alice"), &salt),
            "per sector"
        );
        assert_ne!(
            sub,
            pairwise("rp.example", &Subject::new("bob"), &salt),
            "per user"
        );
        assert_ne!(
            sub,
            pairwise(
                "rp.example",
                &Subject::new("alice"),
                &PairwiseSalt::new(*b"fedcba9876543210")
            ),
            "per salt"
        );
        assert_eq!(format!("{salt:?}"), "PairwiseSalt([redacted])");
    }
}
