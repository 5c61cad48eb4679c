//! DPoP proof validation (RFC 9449 §4.3) against the raw ES256 verification inside it.
//!
//! `cargo bench -p sesame-core --bench dpop` prints criterion's timings, then the
//! throughput of `dpop::verify_proof` (header and key parsing, the thumbprint,
//! the signature, every claim, `ath` at a resource) as a share of raw ES256
//! verifications per second with aws-lc-rs on the same key and message
//! (issue 16's goal: at least 50%). The replay check (`jti`) is the store's and
//! is not counted here.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, ParsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group};
use serde_json::json;
use sesame_core::dpop::{DpopCheck, verify_proof};
use sesame_core::jws::sign_with_header;
use sesame_core::{JwsAlgorithm, SigningKey};

const NOW: i64 = 1_700_000_000;
const URL: &str = "https://op.example/userinfo";
const TOKEN: &str = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";

struct Case {
    /// A proof for a token endpoint (no `ath`).
    token_proof: String,
    /// A proof for a resource, carrying `ath` of [`TOKEN`].
    resource_proof: String,
    raw_public: ParsedPublicKey,
    message: Vec<u8>,
    signature: Vec<u8>,
}

fn case() -> Case {
    let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
    let header = json!({"typ": "dpop+jwt", "jwk": key.public_jwk().unwrap()});
    let token_proof = sign_with_header(
        &key,
        &header,
        &json!({"jti": "e1j3V_bKic8-LAEB", "htm": "POST", "htu": "https://op.example/token", "iat": NOW}),
    )
    .unwrap();
    let ath = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        TOKEN.as_bytes(),
    ));
    let resource_proof = sign_with_header(
        &key,
        &header,
        &json!({"jti": "e1j3V_bKic8-LAEC", "htm": "GET", "htu": URL, "iat": NOW, "ath": ath}),
    )
    .unwrap();
    let der = key.to_pkcs8_der().unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &der).unwrap();
    let public = sig::KeyPair::public_key(&pair).as_ref().to_vec();
    let raw_public = ParsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, &public).unwrap();
    let (message, signature) = resource_proof.rsplit_once('.').unwrap();
    Case {
        message: message.as_bytes().to_vec(),
        signature: URL_SAFE_NO_PAD.decode(signature).unwrap(),
        token_proof,
        resource_proof,
        raw_public,
    }
}

fn verify_token(case: &Case) {
    let check = DpopCheck::new("POST", "https://op.example/token", NOW);
    verify_proof(black_box(&case.token_proof), &check).unwrap();
}

fn verify_resource(case: &Case) {
    let check = DpopCheck::new("GET", URL, NOW).with_access_token(TOKEN);
    verify_proof(black_box(&case.resource_proof), &check).unwrap();
}

fn raw(case: &Case) {
    case.raw_public
        .verify_sig(black_box(&case.message), &case.signature)
        .unwrap();
}

fn bench(c: &mut Criterion) {
    let case = case();
    let mut g = c.benchmark_group("dpop-ES256");
    g.bench_function("verify/raw-aws-lc-rs", |b| b.iter(|| raw(&case)));
    g.bench_function("verify_proof/token-endpoint", |b| {
        b.iter(|| verify_token(&case))
    });
    g.bench_function("verify_proof/resource-with-ath", |b| {
        b.iter(|| verify_resource(&case))
    });
    g.finish();
}

/// Median per-operation time of `f` over `rounds` rounds of `iters` calls.
fn per_op(iters: u32, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed() / iters
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ratios() {
    let case = case();
    let (mut raw_t, mut token_t, mut resource_t) = (vec![], vec![], vec![]);
    for _ in 0..15 {
        raw_t.push(per_op(2_000, || raw(&case)));
        token_t.push(per_op(2_000, || verify_token(&case)));
        resource_t.push(per_op(2_000, || verify_resource(&case)));
    }
    let raw_t = median(raw_t);
    println!(
        "\nDPoP proof validation over raw ES256 verification, same key (median of 15 interleaved rounds)"
    );
    println!(
        "{:<34} {:>10} {:>12} {:>9}",
        "operation", "per op", "per second", "of raw"
    );
    let row = |op: &str, t: Duration| {
        println!(
            "{:<34} {:>8.1}µs {:>12.0} {:>8.1}%",
            op,
            t.as_secs_f64() * 1e6,
            1.0 / t.as_secs_f64(),
            100.0 * raw_t.as_secs_f64() / t.as_secs_f64()
        );
    };
    row("raw ES256 verify (aws-lc-rs)", raw_t);
    row("verify_proof, token endpoint", median(token_t));
    row("verify_proof, resource with ath", median(resource_t));
    println!("goal: verify_proof at least 50% of raw verifications per second");
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    targets = bench
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratios();
}
