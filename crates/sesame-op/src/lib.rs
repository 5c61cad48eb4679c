#![doc = include_str!("../README.md")]

mod authn;
mod claims;
mod client_keys;
mod endpoints;
mod flow;
mod keys;
pub mod model;
mod notify;
pub(crate) mod outbound;
pub mod pages;
pub mod paths;
pub mod profile;
mod provider;
pub mod secrets;
mod sid;
pub mod store;
mod subject;

pub use authn::{
    Authenticator, AuthnError, EndUser, LoginRequest, PasswordAuthenticator, PasswordCheck,
    PasswordRequest, RequestInfo,
};
pub use claims::{ClaimsError, ClaimsSource, NoClaims, ScopeClaims};
pub use keys::{KeysError, RotatedKeys, Rotation};
pub use model::{ApplicationType, AuthMethod, Client, GrantType, SubjectType};
pub use outbound::PublicAddresses;
pub use pages::{STYLESHEET, page_headers};
pub use provider::{
    BuildError, DPOP_NONCE_WINDOW, DpopNonce, DpopNonceKey, Provider, ProviderBuilder,
    Registration, Settings,
};
pub use store::{IssuedTokens, MemoryStore, Store, StoreError};
pub use subject::{PairwiseHash, PairwiseSalt};
