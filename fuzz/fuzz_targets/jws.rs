//! Compact JWS: parse, header, payload, verification against a key set.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sesame_core::{JwsAlgorithm, UnverifiedJws, jws};

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let (_, keys) = sesame_fuzz::key();
    if let Ok(parsed) = UnverifiedJws::parse(token) {
        let _ = parsed.header();
        let _ = parsed.insecure_payload();
        let _ = parsed.verify(keys, &[JwsAlgorithm::ES256, JwsAlgorithm::RS256], None);
    }
    let _ = jws::verify(token, keys, &[JwsAlgorithm::ES256], None);
});
