//! Subject identifiers (OIDC Core §8): the `sub` a client sees is the user's
//! own identifier (public), or one derived for the client's sector (pairwise).

use std::fmt;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sesame_core::Subject;

use crate::model::{Client, SubjectType};

/// The secret salt of pairwise subject identifiers (OIDC Core §8.1). At least
/// 16 bytes; [`PairwiseSalt::generate`] makes 32 random ones.
///
/// The salt also fixes how subjects are hashed ([`PairwiseHash`]): a salt
/// made by [`PairwiseSalt::generate`] or [`PairwiseSalt::new_v2`] starts with
/// the marker `sesame-pairwise-v2:` and uses the length-prefixed
/// [`PairwiseHash::V2`]; any other bytes — every salt stored by an earlier
/// version — keep [`PairwiseHash::V1`], so existing pairwise `sub`s do not
/// change (S25). Store [`PairwiseSalt::as_bytes`] whole, marker included.
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

/// How a pairwise `sub` is computed from (sector, local subject, salt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PairwiseHash {
    /// `base64url(SHA-256(sector || local || salt))`: the formula of Sesame
    /// before S25, kept for salts stored by those versions. Without
    /// separators, ("rp.ex", "ample1") and ("rp.example", "1") give the same
    /// `sub`: harmless when every local subject has one length (the 32-hex
    /// subjects of `sesame serve`), not otherwise.
    V1,
    /// `base64url(SHA-256(len(sector) || sector || len(local) || local || salt))`,
    /// each length 8 bytes big-endian: no two (sector, local) pairs share an input.
    V2,
}

/// What starts a salt that selects [`PairwiseHash::V2`].
const V2_MARKER: &[u8] = b"sesame-pairwise-v2:";

impl PairwiseSalt {
    /// The shortest salt [`crate::ProviderBuilder::build`] accepts (not
    /// counting the `V2` marker).
    pub const MIN_LEN: usize = 16;

    /// A salt from stored bytes (checked for length when the provider is
    /// built). Bytes that start with the `V2` marker select
    /// [`PairwiseHash::V2`]; any others [`PairwiseHash::V1`].
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// A [`PairwiseHash::V2`] salt from secret random bytes: the marker, then `secret`.
    pub fn new_v2(secret: &[u8]) -> Self {
        let mut bytes = V2_MARKER.to_vec();
        bytes.extend_from_slice(secret);
        Self(bytes)
    }

    /// A fresh random salt (32 random bytes, [`PairwiseHash::V2`]): generate
    /// it once and store [`PairwiseSalt::as_bytes`].
    ///
    /// # Errors
    /// When the OS random source fails.
    pub fn generate() -> Result<Self, sesame_core::random::RandomError> {
        let mut secret = [0u8; 32];
        sesame_core::random::fill(&mut secret)?;
        Ok(Self::new_v2(&secret))
    }

    /// The salt's bytes, for storing it (the marker included).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// How this salt's subjects are hashed.
    pub fn hash(&self) -> PairwiseHash {
        if self.0.starts_with(V2_MARKER) {
            PairwiseHash::V2
        } else {
            PairwiseHash::V1
        }
    }

    /// The length of the secret part.
    pub(crate) fn len(&self) -> usize {
        match self.hash() {
            PairwiseHash::V2 => self.0.len() - V2_MARKER.len(),
            _ => self.0.len(),
        }
    }
}

/// The pairwise `sub` (OIDC Core §8.1) by the salt's [`PairwiseHash`].
pub(crate) fn pairwise(sector: &str, local: &Subject, salt: &PairwiseSalt) -> Subject {
    let mut sha = digest::Context::new(&digest::SHA256);
    let local = local.as_str().as_bytes();
    match salt.hash() {
        PairwiseHash::V1 => {
            sha.update(sector.as_bytes());
            sha.update(local);
        }
        _ => {
            for part in [sector.as_bytes(), local] {
                sha.update(&(part.len() as u64).to_be_bytes());
                sha.update(part);
            }
        }
    }
    sha.update(&salt.0);
    Subject::new(URL_SAFE_NO_PAD.encode(sha.finish()))
}

/// Why a client's `sub` could not be computed: a configuration fault of the
/// provider or the client, never the user's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SubjectError {
    /// The client is pairwise and the provider has no salt.
    NoSalt(String),
    /// The client is pairwise and its redirect URIs do not share one host.
    NoSector(String),
    /// The client's `subject_type` is one this provider does not implement.
    Unsupported(String, SubjectType),
}

impl fmt::Display for SubjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSalt(id) => write!(
                f,
                "client {id} wants pairwise subjects but the provider has no pairwise_salt"
            ),
            Self::NoSector(id) => write!(
                f,
                "client {id} wants pairwise subjects but its redirect URIs do not share one host"
            ),
            Self::Unsupported(id, other) => write!(
                f,
                "client {id} has a subject_type this provider does not implement: {other}"
            ),
        }
    }
}

impl std::error::Error for SubjectError {}

/// The `sub` that `client` sees for the user whose own identifier is
/// `local`: `local` itself for public clients, the pairwise identifier (with
/// the provider's `salt`) for clients registered with `subject_type`
/// pairwise.
///
/// A pairwise client without a sector, or without a salt, is an error —
/// never a silent fallback to the public identifier.
pub(crate) fn subject_for(
    client: &Client,
    local: &Subject,
    salt: Option<&PairwiseSalt>,
) -> Result<Subject, SubjectError> {
    let id = || client.client_id.as_str().to_owned();
    match client.subject_type {
        SubjectType::Public => Ok(local.clone()),
        SubjectType::Pairwise => {
            let salt = salt.ok_or_else(|| SubjectError::NoSalt(id()))?;
            let sector = client
                .sector_identifier()
                .ok_or_else(|| SubjectError::NoSector(id()))?;
            Ok(pairwise(&sector, local, salt))
        }
        other => Err(SubjectError::Unsupported(id(), other)),
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

    /// S25: existing salts (any bytes without the marker, as stored by
    /// earlier versions) keep the v1 formula, pinned to a value computed
    /// before the change; `generate` makes v2 salts, where the old collision
    /// is gone.
    #[test]
    fn stored_salts_keep_their_subjects_and_new_salts_are_length_prefixed() {
        let old = PairwiseSalt::new(*b"0123456789abcdef");
        assert_eq!(old.hash(), PairwiseHash::V1);
        assert_eq!(
            pairwise("rp.example", &Subject::new("alice"), &old).as_str(),
            "wfBlzF5MGYdo-Cul1gS9m1O_nPFP2BSB04txUau9KKk",
            "a pairwise sub issued before S25 is unchanged"
        );
        // The v1 collision: two sectors, one input.
        assert_eq!(
            pairwise("rp.ex", &Subject::new("ample1"), &old),
            pairwise("rp.example", &Subject::new("1"), &old)
        );

        let new = PairwiseSalt::generate().unwrap();
        assert_eq!(new.hash(), PairwiseHash::V2);
        assert_eq!(new.len(), 32);
        assert_eq!(
            PairwiseSalt::new(new.as_bytes().to_vec()),
            new,
            "stored and read back"
        );
        assert_ne!(
            pairwise("rp.ex", &Subject::new("ample1"), &new),
            pairwise("rp.example", &Subject::new("1"), &new)
        );
        let v2 = PairwiseSalt::new_v2(b"0123456789abcdef");
        let mut input = Vec::new();
        for part in [&b"rp.example"[..], b"alice"] {
            input.extend_from_slice(&(part.len() as u64).to_be_bytes());
            input.extend_from_slice(part);
        }
        input.extend_from_slice(b"sesame-pairwise-v2:0123456789abcdef");
        assert_eq!(
            pairwise("rp.example", &Subject::new("alice"), &v2).as_str(),
            URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, &input).as_ref())
        );
    }
}
