//! `sesame-bench sign-bound`: how many ID tokens one core can sign through aws-lc-rs.
//!
//! A provider that signs one ID token per authorization-code flow can complete at most this many
//! flows per second per core. The message is the size of a real ID token's signing input; keys are
//! parsed once, as Sesame does.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::out;

/// Signatures per second on one core.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SignBound {
    /// RS256, 2048-bit key (Sesame's default RSA size).
    pub(crate) rs256_per_s: f64,
    /// ES256, P-256.
    pub(crate) es256_per_s: f64,
    /// EdDSA, Ed25519.
    pub(crate) eddsa_per_s: f64,
    /// Bytes signed each time (a JWS signing input the size of an ID token's).
    pub(crate) message_bytes: usize,
    /// Which thread count this ran on (always one).
    pub(crate) threads: usize,
}

/// A JWS signing input the size of Sesame's ID tokens (header + claims, base64url), ~620 bytes.
fn message() -> Vec<u8> {
    let mut m = b"eyJhbGciOiJSUzI1NiIsImtpZCI6IjVhLWJlbmNoLWtpZCIsInR5cCI6IkpXVCJ9.".to_vec();
    while m.len() < 620 {
        m.extend_from_slice(b"eyJpc3MiOiJodHRwOi8vMTI3LjAuMC4xOjgwMDAiLCJzdWIiOiJ");
    }
    m
}

fn rate(seconds: f64, mut op: impl FnMut() -> Result<()>) -> Result<f64> {
    // A short warm-up, then as many operations as fit in `seconds`.
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(100) {
        op()?;
    }
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut n: u64 = 0;
    loop {
        for _ in 0..16 {
            op()?;
        }
        n += 16;
        let elapsed = start.elapsed();
        if elapsed >= budget {
            return Ok(n as f64 / elapsed.as_secs_f64());
        }
    }
}

fn failed(what: &str) -> Error {
    Error(format!("{what} failed in aws-lc-rs"))
}

/// Measures and prints the bound; writes JSON to `json`.
pub(crate) fn main(seconds: f64, json: Option<&Path>) -> Result<()> {
    if seconds <= 0.0 {
        return Err(Error("--seconds must be positive".into()));
    }
    let msg = message();
    let rng = SystemRandom::new();

    let rsa = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| failed("RSA keygen"))?;
    // Parse from PKCS#8 as a provider loading its key would.
    let rsa_der = rsa.as_der().map_err(|_| failed("RSA export"))?;
    let rsa = RsaKeyPair::from_pkcs8(rsa_der.as_ref()).map_err(|_| failed("RSA parse"))?;
    let mut rsa_sig = vec![0u8; rsa.public_modulus_len()];
    let rs256 = rate(seconds, || {
        rsa.sign(&sig::RSA_PKCS1_SHA256, &rng, black_box(&msg), &mut rsa_sig)
            .map_err(|_| failed("RS256 signing"))
    })?;

    let ec = EcdsaKeyPair::generate(&sig::ECDSA_P256_SHA256_FIXED_SIGNING)
        .map_err(|_| failed("P-256 keygen"))?;
    let es256 = rate(seconds, || {
        ec.sign(&rng, black_box(&msg))
            .map(|s| {
                black_box(s);
            })
            .map_err(|_| failed("ES256 signing"))
    })?;

    let ed = Ed25519KeyPair::generate().map_err(|_| failed("Ed25519 keygen"))?;
    let _ = ed.public_key();
    let eddsa = rate(seconds, || {
        black_box(ed.sign(black_box(&msg)));
        Ok(())
    })?;

    let bound = SignBound {
        rs256_per_s: rs256,
        es256_per_s: es256,
        eddsa_per_s: eddsa,
        message_bytes: msg.len(),
        threads: 1,
    };
    out::println(&format!(
        "single-core signing bound (aws-lc-rs, {} byte signing input):",
        bound.message_bytes
    ));
    out::println(&format!(
        "  RS256 (2048-bit) {:>10.0} signatures/s  ({:.3} ms each)",
        rs256,
        1000.0 / rs256
    ));
    out::println(&format!(
        "  ES256 (P-256)    {:>10.0} signatures/s  ({:.3} ms each)",
        es256,
        1000.0 / es256
    ));
    out::println(&format!(
        "  EdDSA (Ed25519)  {:>10.0} signatures/s  ({:.3} ms each)",
        eddsa,
        1000.0 / eddsa
    ));
    if let Some(path) = json {
        std::fs::write(path, serde_json::to_string_pretty(&bound)?)
            .map_err(|e| Error(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}
