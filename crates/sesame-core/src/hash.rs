//! `at_hash`, `c_hash` and `s_hash` (OIDC Core §3.1.3.6, §3.3.2.11).

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

use crate::alg::JwsAlgorithm;

/// The left-most half of the hash of `value` under the hash of the ID
/// token's `alg`, base64url-encoded: SHA-256 for *256, SHA-384 for *384,
/// SHA-512 for *512 and for EdDSA (Ed25519).
///
/// ```
/// use sesame_core::{token_hash, JwsAlgorithm};
/// assert_eq!(token_hash(JwsAlgorithm::RS256, "access-token").len(), 22);
/// ```
pub fn token_hash(alg: JwsAlgorithm, value: &str) -> String {
    let hash = digest::digest(alg.half_hash(), value.as_bytes());
    let bytes = hash.as_ref();
    URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() / 2])
}

/// Whether `claimed` is the [`token_hash`] of `value` (constant time).
pub fn verify_token_hash(alg: JwsAlgorithm, value: &str, claimed: &str) -> bool {
    token_hash(alg, value)
        .as_bytes()
        .ct_eq(claimed.as_bytes())
        .into()
}
