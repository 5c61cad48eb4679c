//! Back-channel logout tokens, raw and as signed hostile payloads.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sesame_core::jws;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (_, keys) = sesame_fuzz::key();
    let hmac = sesame_fuzz::hmac_key();
    let validator = sesame_fuzz::validator();
    let token = if mode & 1 == 0 {
        match std::str::from_utf8(rest) {
            Ok(t) => t.to_owned(),
            Err(_) => return,
        }
    } else {
        match jws::sign_bytes(hmac, Some("logout+jwt"), rest) {
            Ok(t) => t,
            Err(_) => return,
        }
    };
    let _ = validator.validate_logout_token(&token, keys, sesame_fuzz::now());
});
