//! sesame-op integration tests: a real provider on 127.0.0.1:0, driven over HTTP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    unreachable_pub
)]

mod support;

mod acr;
mod authorize;
mod client_keys;
mod conformance;
mod device;
mod discovery;
mod dpop;
mod dpop_jkt;
mod dpop_nonce;
mod fapi2;
mod jarm;
mod logout;
mod pairwise;
mod par;
mod password;
mod register;
mod request_object;
mod resource;
mod token;
