//! JWS sign and verify through sesame-core against raw aws-lc-rs on the same key.
//!
//! `cargo bench -p sesame-core --bench jws` prints criterion's timings, then a
//! ratio table: sesame-core's cost over the crypto library's own cost for the
//! same operation on the same key (target: verify ≤ 1.1×).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::type_complexity,
    clippy::print_stdout,
    missing_docs
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self as sig, EcdsaKeyPair, Ed25519KeyPair, ParsedPublicKey, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group};
use serde_json::json;
use sesame_core::{
    ClientId, Expected, IdTokenValidator, Issuer, JwsAlgorithm, KeySet, SigningKey, jws,
};

const NOW: i64 = 1_700_000_000;

struct Case {
    alg: JwsAlgorithm,
    key: SigningKey,
    keys: KeySet,
    token: String,
    raw_sign: Box<dyn Fn(&[u8]) -> Vec<u8>>,
    raw_public: ParsedPublicKey,
    message: Vec<u8>,
    signature: Vec<u8>,
}

fn claims() -> serde_json::Value {
    json!({
        "iss": "https://op.example", "sub": "248289761001", "aud": "s6BhdRkqt3",
        "nonce": "n-0S6_WzA2Mj", "exp": NOW + 3600, "iat": NOW, "auth_time": NOW,
        "email": "janedoe@example.com", "email_verified": true, "name": "Jane Doe"
    })
}

fn case(alg: JwsAlgorithm) -> Case {
    let key = SigningKey::generate(alg).unwrap();
    let der = key.to_pkcs8_der().unwrap();
    let rng = SystemRandom::new();
    let (raw_sign, public): (Box<dyn Fn(&[u8]) -> Vec<u8>>, Vec<u8>) = match alg {
        JwsAlgorithm::RS256 => {
            let pair = RsaKeyPair::from_pkcs8(&der).unwrap();
            let public = sig::KeyPair::public_key(&pair).as_ref().to_vec();
            (
                Box::new(move |m| {
                    let mut out = vec![0; pair.public_modulus_len()];
                    pair.sign(&sig::RSA_PKCS1_SHA256, &rng, m, &mut out)
                        .unwrap();
                    out
                }),
                public,
            )
        }
        JwsAlgorithm::ES256 => {
            let pair =
                EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &der).unwrap();
            let public = sig::KeyPair::public_key(&pair).as_ref().to_vec();
            (
                Box::new(move |m| pair.sign(&rng, m).unwrap().as_ref().to_vec()),
                public,
            )
        }
        _ => {
            let pair = Ed25519KeyPair::from_pkcs8(&der).unwrap();
            let public = sig::KeyPair::public_key(&pair).as_ref().to_vec();
            (Box::new(move |m| pair.sign(m).as_ref().to_vec()), public)
        }
    };
    let verification: &'static dyn sig::VerificationAlgorithm = match alg {
        JwsAlgorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
        JwsAlgorithm::ES256 => &sig::ECDSA_P256_SHA256_FIXED,
        _ => &sig::ED25519,
    };
    let raw_public = ParsedPublicKey::new(verification, &public).unwrap();
    let token = jws::sign(&key, Some("JWT"), &claims()).unwrap();
    let (message, signature) = token.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    Case {
        alg,
        keys: KeySet::from_keys([key.verifying_key().unwrap()]),
        key,
        message: message.as_bytes().to_vec(),
        token,
        raw_sign,
        raw_public,
        signature,
    }
}

fn validator(alg: JwsAlgorithm) -> IdTokenValidator {
    IdTokenValidator::new(
        Issuer::new("https://op.example").unwrap(),
        ClientId::new("s6BhdRkqt3"),
    )
    .with_algorithms([alg])
}

fn cases() -> Vec<Case> {
    [
        JwsAlgorithm::RS256,
        JwsAlgorithm::ES256,
        JwsAlgorithm::EdDSA,
    ]
    .into_iter()
    .map(case)
    .collect()
}

fn bench(c: &mut Criterion) {
    for case in cases() {
        let mut g = c.benchmark_group(case.alg.as_str());
        g.bench_function("sign/raw-aws-lc-rs", |b| {
            b.iter(|| (case.raw_sign)(black_box(&case.message)))
        });
        g.bench_function("sign/sesame-jws", |b| {
            b.iter(|| jws::sign(&case.key, Some("JWT"), black_box(&claims())).unwrap())
        });
        g.bench_function("verify/raw-aws-lc-rs", |b| {
            b.iter(|| {
                case.raw_public
                    .verify_sig(black_box(&case.message), &case.signature)
                    .unwrap()
            })
        });
        g.bench_function("verify/sesame-jws", |b| {
            b.iter(|| jws::verify(black_box(&case.token), &case.keys, &[case.alg], None).unwrap())
        });
        let v = validator(case.alg);
        g.bench_function("verify/sesame-id-token", |b| {
            b.iter(|| {
                v.validate(
                    black_box(&case.token),
                    &case.keys,
                    NOW,
                    &Expected::default(),
                )
                .unwrap()
            })
        });
        g.finish();
    }
}

/// Median per-operation time of `f` over interleaved rounds.
fn per_op(rounds: usize, iters: u32, mut f: impl FnMut()) -> Vec<Duration> {
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed() / iters
        })
        .collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ratios() {
    println!("\nsesame-core over raw aws-lc-rs, same key (median of 15 interleaved rounds)");
    println!(
        "{:<7} {:<22} {:>12} {:>12} {:>7}",
        "alg", "operation", "sesame", "raw", "ratio"
    );
    for case in cases() {
        let v = validator(case.alg);
        let iters = if case.alg == JwsAlgorithm::RS256 {
            40
        } else {
            200
        };
        let (mut a, mut b, mut c, mut d, mut e) = (vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..15 {
            a.extend(per_op(1, iters, || {
                black_box(jws::sign(&case.key, Some("JWT"), &claims()).unwrap());
            }));
            b.extend(per_op(1, iters, || {
                black_box((case.raw_sign)(&case.message));
            }));
            c.extend(per_op(1, iters * 10, || {
                jws::verify(black_box(&case.token), &case.keys, &[case.alg], None).unwrap();
            }));
            d.extend(per_op(1, iters * 10, || {
                case.raw_public
                    .verify_sig(black_box(&case.message), &case.signature)
                    .unwrap();
            }));
            e.extend(per_op(1, iters * 10, || {
                v.validate(
                    black_box(&case.token),
                    &case.keys,
                    NOW,
                    &Expected::default(),
                )
                .unwrap();
            }));
        }
        let (sign, raw_sign, verify, raw_verify, validate) =
            (median(a), median(b), median(c), median(d), median(e));
        let row = |op: &str, ours: Duration, raw: Duration| {
            println!(
                "{:<7} {:<22} {:>10.1}µs {:>10.1}µs {:>6.3}×",
                case.alg.as_str(),
                op,
                ours.as_secs_f64() * 1e6,
                raw.as_secs_f64() * 1e6,
                ours.as_secs_f64() / raw.as_secs_f64()
            );
        };
        row("sign (JWS)", sign, raw_sign);
        row("verify (JWS)", verify, raw_verify);
        row("validate ID token", validate, raw_verify);
    }
    println!("target: verify ≤ 1.1× the raw signature verification");
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
