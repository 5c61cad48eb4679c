//! # sesame-server
//!
//! The `sesame` OpenID Provider server as a library: [`server::run`]`(config,
//! listener, shutdown)` is what `sesame serve` calls, so tests start it on
//! `127.0.0.1:0`. The binary is a thin `main` over [`cli::main`].
//!
//! ## Feature flags
//!
//! None.

pub mod admin;
pub mod app;
pub mod cli;
pub mod config;
pub mod connections;
pub mod demo;
pub mod login;
pub mod metrics;
pub mod ratelimit;
pub mod server;
pub mod store;

pub use config::Config;
pub use server::{ServerError, run};
