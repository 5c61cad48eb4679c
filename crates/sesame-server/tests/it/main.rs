//! sesame-server tests: the real `sesame` binary and `run()` on real listeners.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    missing_docs,
    unreachable_pub
)]

mod support;

mod account;
mod app;
mod app_fapi2;
mod app_request;
mod app_sessions;
mod browser;
mod claims;
mod cli;
mod client_auth_limits;
mod connections;
mod demo;
mod device;
mod dpop_nonce;
mod failover;
mod interop_openidconnect;
mod key_rotation;
mod login_page;
mod memory;
#[cfg(feature = "otlp")]
mod otlp;
mod pairwise;
mod passkeys;
mod password_grant;
mod rate_limits;
mod registration;
mod serve;
mod storage;
mod totp;
mod upstream;
mod upstream_faults;
