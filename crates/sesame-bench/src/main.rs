//! `sesame-bench`: a load driver for OpenID Providers.
//!
//! - `sesame-bench run --mode flow …` drives C virtual users for T seconds against any provider:
//!   complete authorization-code flows (authorize → token → userinfo, PKCE S256, state, nonce),
//!   or one endpoint at a time (`token-cc`, `token-code`, `userinfo`, `introspect`, `jwks`),
//!   or sign-ins through the login form (`login`).
//!   Each virtual user signs in once through the provider's own login form (`--peer` picks how).
//! - `sesame-bench sign-bound` measures the single-core RS256/ES256 signing rate through
//!   aws-lc-rs: the physical limit of a provider that signs one ID token per flow.
//! - `sesame-bench report` turns the JSON of several runs into the comparison table and an SVG chart.
//!
//! See `bench/compare.sh` for the whole comparison in one run.

mod error;
mod form;
mod load;
mod oidc;
mod out;
mod peer;
mod report;
mod sign;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::peer::Peer;

#[derive(Debug, Parser)]
#[command(
    name = "sesame-bench",
    version,
    about = "Load driver and benchmarks for OpenID Providers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Drive C virtual users for T seconds against a provider.
    Run(Box<RunArgs>),
    /// Single-core signing rate through aws-lc-rs (RS256 2048-bit, ES256 P-256, EdDSA).
    SignBound {
        /// Seconds per algorithm.
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
        /// Write the result as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Compare runs: a table (markdown) and an SVG chart against the signing bound.
    Report {
        /// The `sign-bound --json` output.
        #[arg(long)]
        sign: PathBuf,
        /// A `run --json` output (repeat, in the order to show).
        #[arg(long = "run", required = true)]
        runs: Vec<PathBuf>,
        /// A single-endpoint `run --json` output (repeat): a second table, per request.
        #[arg(long = "endpoint-run")]
        endpoint_runs: Vec<PathBuf>,
        /// Write the markdown table here too.
        #[arg(long)]
        markdown: Option<PathBuf>,
        /// Write the SVG chart here.
        #[arg(long)]
        svg: Option<PathBuf>,
    },
}

/// What each virtual user repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Mode {
    /// Complete flows: GET /authorize → POST /token (code) → GET /userinfo.
    Flow,
    /// client_credentials at /token.
    TokenCc,
    /// Redeem codes minted before the clock starts.
    TokenCode,
    /// GET /userinfo with one access token per virtual user.
    Userinfo,
    /// POST /introspect with one access token per virtual user.
    Introspect,
    /// GET the JWKS.
    Jwks,
    /// Sign-ins through the provider's login form, each with a fresh cookie jar (one password
    /// check each: the Argon2 path, its throughput and the memory it leaves behind).
    Login,
}

impl Mode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Mode::Flow => "flow",
            Mode::TokenCc => "token-cc",
            Mode::TokenCode => "token-code",
            Mode::Userinfo => "userinfo",
            Mode::Introspect => "introspect",
            Mode::Jwks => "jwks",
            Mode::Login => "login",
        }
    }

    /// Whether each virtual user must sign in first.
    pub(crate) fn needs_login(self) -> bool {
        matches!(
            self,
            Mode::Flow | Mode::TokenCode | Mode::Userinfo | Mode::Introspect
        )
    }
}

/// `sesame-bench run`
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RunArgs {
    /// What to measure.
    #[arg(long, value_enum, default_value = "flow")]
    pub(crate) mode: Mode,
    /// The provider's issuer (discovery is read from ISSUER/.well-known/openid-configuration).
    #[arg(long)]
    pub(crate) issuer: String,
    /// Which provider: decides how the virtual users sign in.
    #[arg(long, value_enum, default_value = "sesame")]
    pub(crate) peer: Peer,
    /// The client id (a confidential client using client_secret_basic).
    #[arg(long)]
    pub(crate) client_id: String,
    /// The client secret.
    #[arg(long, env = "SESAME_BENCH_CLIENT_SECRET")]
    pub(crate) client_secret: String,
    /// A registered redirect URI (never contacted: the driver reads the code from the redirect).
    #[arg(long, default_value = "http://127.0.0.1:9/callback")]
    pub(crate) redirect_uri: String,
    /// The user each virtual user signs in as.
    #[arg(long, default_value = "bench")]
    pub(crate) username: String,
    /// The user's password.
    #[arg(long, env = "SESAME_BENCH_PASSWORD", default_value = "")]
    pub(crate) password: String,
    /// Scopes for the authorization requests.
    #[arg(long, default_value = "openid profile email")]
    pub(crate) scope: String,
    /// Virtual users (concurrent connections).
    #[arg(short = 'c', long, default_value_t = 16)]
    pub(crate) concurrency: usize,
    /// Seconds measured.
    #[arg(short = 't', long, default_value_t = 10.0)]
    pub(crate) seconds: f64,
    /// Seconds run before measuring (not counted).
    #[arg(long, default_value_t = 1.0)]
    pub(crate) warmup: f64,
    /// token-code mode: codes each virtual user mints before the clock starts.
    #[arg(long, default_value_t = 1000)]
    pub(crate) codes_per_vu: usize,
    /// A name for this run in reports (default: PEER MODE).
    #[arg(long)]
    pub(crate) label: Option<String>,
    /// DPoP-bound flows (RFC 9449): every token request and userinfo call carries a fresh ES256
    /// proof of one key per run, and the tokens must come back `token_type: DPoP` (the client
    /// needs `--dpop` at Sesame; server nonces are not answered, so `dpop_nonce = "off"`).
    #[arg(long)]
    pub(crate) dpop: bool,
    /// The provider's process id(s): their resident memory and CPU time are sampled (Linux /proc).
    #[arg(long = "pid")]
    pub(crate) pids: Vec<u32>,
    /// Another origin serving the same issuer (repeat; e.g. a second instance on one PostgreSQL
    /// database): virtual user i authorizes at instance i and redeems at instance i+1.
    #[arg(long = "instance")]
    pub(crate) instances: Vec<String>,
    /// Write the result as JSON to this file.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => load::main(*args),
        Command::SignBound { seconds, json } => sign::main(seconds, json.as_deref()),
        Command::Report {
            sign,
            runs,
            endpoint_runs,
            markdown,
            svg,
        } => report::main(
            &sign,
            &runs,
            &endpoint_runs,
            markdown.as_deref(),
            svg.as_deref(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            out::eprintln(&format!("sesame-bench: {e}"));
            ExitCode::FAILURE
        }
    }
}
