//! sesame-rp integration tests: against sesame-op in-process, and against a
//! hostile provider that injects faults. Every server is a real listener on 127.0.0.1:0.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    unreachable_pub
)]

mod support;

mod against_op;
#[cfg(feature = "axum-login")]
mod axum_login;
mod bearer;
mod bearer_dpop;
mod device;
mod dpop;
mod extract;
mod fapi2;
mod frontchannel;
mod hostile;
mod jarm;
mod observability;
mod par;
mod providers;
mod refresh;
mod register;
mod request_object;
mod webfinger;
