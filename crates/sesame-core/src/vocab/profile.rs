//! Security profiles: sets of rules on top of OAuth and OpenID Connect that a
//! provider or one client can be held to, and that a relying party can follow.

use crate::JwsAlgorithm;

wire_enum! {
    /// A security profile, by its name in Sesame's configuration and CLI.
    pub enum SecurityProfile {
        /// The FAPI 2.0 Security Profile (OpenID Foundation, final, 2025).
        Fapi2 = "fapi2",
    }
}

impl SecurityProfile {
    /// The signing algorithms the profile allows for ID tokens, client
    /// assertions, request objects and DPoP proofs.
    pub const fn signing_algs(self) -> &'static [JwsAlgorithm] {
        match self {
            // FAPI 2.0 §5.4.1: PS256, ES256 and EdDSA with Ed25519.
            Self::Fapi2 => &[
                JwsAlgorithm::PS256,
                JwsAlgorithm::ES256,
                JwsAlgorithm::EdDSA,
            ],
        }
    }
}
