//! # sesame-server
//!
//! The `sesame` OpenID Provider server as a library: [`server::run`]`(config,
//! listener, shutdown)` is what `sesame serve` calls, so tests start it on
//! `127.0.0.1:0`. The binary is a thin `main` over [`cli::main`].
//!
//! ## Feature flags
//!
//! - `otlp` (default): OpenTelemetry trace export over OTLP/HTTP
//!   (`otlp_endpoint`, `sesame app --otlp-endpoint`; module [`otlp`]).

mod account;
pub mod accounts;
pub mod admin;
pub mod app;
pub mod cli;
pub mod config;
pub mod connections;
pub mod demo;
mod key_rotation;
pub mod login;
pub mod metrics;
#[cfg(feature = "otlp")]
pub mod otlp;
pub mod ratelimit;
pub mod server;
pub mod store;
mod tasks;

pub use config::Config;
pub use server::{ServerError, run};
