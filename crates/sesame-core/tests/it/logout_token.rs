//! Back-channel logout token rules.

use serde_json::{Value, json};
use sesame_core::{BACKCHANNEL_LOGOUT_EVENT, JwsAlgorithm, ValidationError};

use crate::support::*;

fn logout_claims() -> Value {
    json!({
        "iss": ISS,
        "aud": CLIENT,
        "iat": NOW,
        "exp": NOW + 120,
        "jti": "bWJq",
        "sid": "08a5019c-17e1-4977-8f42-65a12843ea02",
        "sub": "user-1",
        "events": { BACKCHANNEL_LOGOUT_EVENT: {} }
    })
}

fn logout_with(changes: Value) -> Value {
    let mut c = logout_claims();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn check(payload: &Value, typ: &str) -> Result<sesame_core::LogoutTokenClaims, ValidationError> {
    let alg = JwsAlgorithm::RS256;
    let header = json!({"alg": "RS256", "kid": key(alg).kid(), "typ": typ});
    let t = forge(&header, payload, |m| key(alg).sign(m).unwrap());
    validator(alg).validate_logout_token(&t, &keyset(&[key(alg)]), NOW)
}

#[test]
fn valid_logout_token() {
    let claims = check(&logout_claims(), "logout+jwt").unwrap();
    assert_eq!(
        claims.sid.unwrap().as_str(),
        "08a5019c-17e1-4977-8f42-65a12843ea02"
    );
    // sid alone, or sub alone, is enough.
    check(&logout_with(json!({"sub": null})), "logout+jwt").unwrap();
    check(&logout_with(json!({"sid": null})), "JWT").unwrap();
}

#[test]
fn logout_token_with_nonce_is_refused() {
    assert_eq!(
        check(&logout_with(json!({"nonce": "n"})), "logout+jwt").unwrap_err(),
        ValidationError::LogoutTokenHasNonce
    );
}

#[test]
fn logout_token_without_events_is_refused() {
    assert_eq!(
        check(&logout_with(json!({"events": null})), "logout+jwt").unwrap_err(),
        ValidationError::MissingLogoutEvent
    );
    assert_eq!(
        check(&logout_with(json!({"events": {"other": {}}})), "logout+jwt").unwrap_err(),
        ValidationError::MissingLogoutEvent
    );
    assert_eq!(
        check(
            &logout_with(json!({"events": {BACKCHANNEL_LOGOUT_EVENT: "yes"}})),
            "logout+jwt"
        )
        .unwrap_err(),
        ValidationError::MissingLogoutEvent
    );
}

#[test]
fn logout_token_other_rules() {
    assert_eq!(
        check(
            &logout_with(json!({"sid": null, "sub": null})),
            "logout+jwt"
        )
        .unwrap_err(),
        ValidationError::MissingSidAndSub
    );
    assert_eq!(
        check(&logout_with(json!({"jti": null})), "logout+jwt").unwrap_err(),
        ValidationError::MissingClaim("jti")
    );
    assert_eq!(
        check(&logout_with(json!({"iat": null})), "logout+jwt").unwrap_err(),
        ValidationError::MissingClaim("iat")
    );
    assert!(matches!(
        check(&logout_with(json!({"exp": NOW - 120})), "logout+jwt").unwrap_err(),
        ValidationError::Expired { .. }
    ));
    assert!(matches!(
        check(&logout_with(json!({"iss": "https://evil"})), "logout+jwt").unwrap_err(),
        ValidationError::IssuerMismatch { .. }
    ));
    assert_eq!(
        check(&logout_with(json!({"aud": "other"})), "logout+jwt").unwrap_err(),
        ValidationError::AudienceMismatch
    );
    // An ID token typed as such is not a logout token.
    assert_eq!(
        check(&logout_claims(), "at+jwt").unwrap_err(),
        ValidationError::WrongType("at+jwt".into())
    );
}
