//! The provider's endpoints in-process: form bodies at /token,
//! /introspect and /revoke, registration metadata at /register, the query
//! of /authorize (with its `claims` parameter) and bearer tokens at
//! /userinfo. A 5xx answer is a crash.
#![no_main]
use std::cell::RefCell;

use axum::body::Body;
use axum::http::{Request, header};
use libfuzzer_sys::fuzz_target;
use sesame_op::paths;

thread_local! {
    static OP: RefCell<sesame_fuzz::Op> = RefCell::new(sesame_fuzz::Op::new());
}

fn form(path: &str, body: &[u8]) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_vec()))
        .expect("request")
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let request = match mode % 6 {
        0 => form(paths::TOKEN, rest),
        1 => form(paths::INTROSPECT, rest),
        2 => form(paths::REVOKE, rest),
        3 => Request::post(paths::REGISTER)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(rest.to_vec()))
            .expect("request"),
        4 => {
            let Ok(query) = std::str::from_utf8(rest) else {
                return;
            };
            match Request::get(format!("{}?{query}", paths::AUTHORIZE)).body(Body::empty()) {
                Ok(r) => r,
                Err(_) => return,
            }
        }
        _ => {
            let Ok(token) = std::str::from_utf8(rest) else {
                return;
            };
            match Request::get(paths::USERINFO)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
            {
                Ok(r) => r,
                Err(_) => return,
            }
        }
    };
    OP.with(|op| op.borrow_mut().send(request));
});
