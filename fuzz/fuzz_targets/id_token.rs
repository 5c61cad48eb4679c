//! ID tokens: as raw tokens (parse + signature), and as payloads signed with
//! the trusted HS256 key, so the claim rules see hostile JSON.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sesame_core::{Expected, Nonce};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let typ = if mode & 2 == 0 { Some("JWT") } else { None };
    let Some(token) = sesame_fuzz::token_from(mode, rest, typ) else {
        return;
    };
    let nonce = Nonce::new("n-0S6_WzA2Mj");
    let expected = Expected {
        nonce: Some(&nonce),
        max_age: Some(300),
        ..Default::default()
    };
    let (_, keys) = sesame_fuzz::key();
    let _ = sesame_fuzz::validator().validate(&token, keys, sesame_fuzz::now(), &expected);
});
