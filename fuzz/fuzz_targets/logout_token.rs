//! Back-channel logout tokens, raw and as signed hostile payloads.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some(token) = sesame_fuzz::token_from(mode, rest, Some("logout+jwt")) else {
        return;
    };
    let (_, keys) = sesame_fuzz::key();
    let _ = sesame_fuzz::validator().validate_logout_token(&token, keys, sesame_fuzz::now());
});
