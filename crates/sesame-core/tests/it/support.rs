//! Token forging helpers: build any header and payload, signed by any key.

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sesame_core::{ClientId, IdTokenValidator, Issuer, JwsAlgorithm, KeySet, SigningKey};

pub const ISS: &str = "https://op.example";
pub const CLIENT: &str = "client-1";
pub const NOW: i64 = 1_700_000_000;

/// A cached key per algorithm (RSA generation is slow), plus a second
/// "attacker" key of the same type.
pub fn key(alg: JwsAlgorithm) -> &'static SigningKey {
    static KEYS: OnceLock<Vec<(JwsAlgorithm, SigningKey)>> = OnceLock::new();
    lookup(&KEYS, alg)
}

pub fn other_key(alg: JwsAlgorithm) -> &'static SigningKey {
    static KEYS: OnceLock<Vec<(JwsAlgorithm, SigningKey)>> = OnceLock::new();
    lookup(&KEYS, alg)
}

fn lookup(
    cell: &'static OnceLock<Vec<(JwsAlgorithm, SigningKey)>>,
    alg: JwsAlgorithm,
) -> &'static SigningKey {
    let keys = cell.get_or_init(|| {
        [
            JwsAlgorithm::RS256,
            JwsAlgorithm::ES256,
            JwsAlgorithm::ES384,
            JwsAlgorithm::EdDSA,
        ]
        .into_iter()
        .map(|a| (a, SigningKey::generate(a).unwrap()))
        .collect()
    });
    &keys.iter().find(|(a, _)| *a == alg).unwrap().1
}

pub fn keyset(keys: &[&SigningKey]) -> KeySet {
    KeySet::from_keys(keys.iter().map(|k| k.verifying_key().unwrap()))
}

pub fn validator(alg: JwsAlgorithm) -> IdTokenValidator {
    IdTokenValidator::new(Issuer::new(ISS).unwrap(), ClientId::new(CLIENT)).with_algorithms([alg])
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Signs an arbitrary header and payload with `sign`.
pub fn forge(header: &Value, payload: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    );
    let signature = sign(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

/// Signs `payload` with `key`, with a header naming its alg and kid.
pub fn signed(key: &SigningKey, payload: &Value) -> String {
    let header = json!({"alg": key.alg().as_str(), "kid": key.kid(), "typ": "JWT"});
    forge(&header, payload, |m| key.sign(m).unwrap())
}

/// A valid ID token payload for `CLIENT` from `ISS` at `NOW`.
pub fn claims() -> Value {
    json!({
        "iss": ISS,
        "sub": "user-1",
        "aud": CLIENT,
        "iat": NOW,
        "exp": NOW + 300,
        "nonce": "n-0S6_WzA2Mj",
        "auth_time": NOW - 10,
    })
}

/// `claims()` with `changes` applied; a `null` value removes the member.
pub fn claims_with(changes: Value) -> Value {
    let mut c = claims();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}
