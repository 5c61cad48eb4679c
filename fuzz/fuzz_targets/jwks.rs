//! JWK sets: parse, import every key, thumbprints, key selection.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sesame_core::{JwkSet, JwsAlgorithm, KeySet, VerifyingKey};

fuzz_target!(|data: &[u8]| {
    let Ok(set) = JwkSet::from_json(data) else {
        return;
    };
    for jwk in &set.keys {
        let _ = jwk.thumbprint();
        if let Ok(key) = VerifyingKey::from_jwk(jwk) {
            let _ = key.verify(JwsAlgorithm::ES256, b"message", &[0; 64]);
            let _ = key.verify(JwsAlgorithm::RS256, b"message", &[0; 256]);
        }
    }
    let keys = KeySet::from_jwks(&set);
    let _ = keys.select(Some("kid"), JwsAlgorithm::ES256);
    let _ = keys.select(None, JwsAlgorithm::EdDSA);
    let _ = keys.merged(&keys);
});
