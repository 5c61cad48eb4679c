//! ID tokens: as raw tokens (parse + signature), and as payloads signed with
//! the trusted HS256 key, so the claim rules see hostile JSON.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sesame_core::{Expected, Nonce, jws};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (_, keys) = sesame_fuzz::key();
    let hmac = sesame_fuzz::hmac_key();
    let validator = sesame_fuzz::validator();
    let nonce = Nonce::new("n-0S6_WzA2Mj");
    let expected = Expected {
        nonce: Some(&nonce),
        max_age: Some(300),
        ..Default::default()
    };
    let token = if mode & 1 == 0 {
        match std::str::from_utf8(rest) {
            Ok(t) => t.to_owned(),
            Err(_) => return,
        }
    } else {
        let typ = if mode & 2 == 0 { Some("JWT") } else { None };
        match jws::sign_bytes(hmac, typ, rest) {
            Ok(t) => t,
            Err(_) => return,
        }
    };
    let _ = validator.validate(&token, keys, sesame_fuzz::now(), &expected);
});
