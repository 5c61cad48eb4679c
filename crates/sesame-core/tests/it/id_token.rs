//! Every ID token rule, each with a token that breaks only that rule.

use aws_lc_rs::hmac;
use serde_json::json;
use sesame_core::{
    AccessToken, AuthorizationCode, Expected, JwsAlgorithm, JwsError, KeySet, Nonce, SigningKey,
    ValidationError, token_hash,
};

use crate::support::*;

const ASYMMETRIC: [JwsAlgorithm; 4] = [
    JwsAlgorithm::RS256,
    JwsAlgorithm::ES256,
    JwsAlgorithm::ES384,
    JwsAlgorithm::EdDSA,
];

fn nonce() -> Nonce {
    Nonce::new("n-0S6_WzA2Mj")
}

/// Validates `token` against `key`'s public key with the defaults of a login
/// that sent `nonce()`.
fn check(alg: JwsAlgorithm, token: &str) -> Result<sesame_core::ValidatedIdToken, ValidationError> {
    let n = nonce();
    validator(alg).validate(
        token,
        &keyset(&[key(alg)]),
        NOW,
        &Expected {
            nonce: Some(&n),
            ..Expected::default()
        },
    )
}

#[test]
fn baseline_is_accepted_for_every_algorithm() {
    for alg in ASYMMETRIC {
        let t = signed(key(alg), &claims());
        let v = check(alg, &t).unwrap();
        assert_eq!(v.claims.sub.as_str(), "user-1");
        assert_eq!(v.header.alg, alg);
    }
}

#[test]
fn bad_signature_is_refused() {
    for alg in [
        JwsAlgorithm::RS256,
        JwsAlgorithm::ES256,
        JwsAlgorithm::EdDSA,
    ] {
        // Signed by another key that claims the trusted key's kid.
        let header = json!({"alg": alg.as_str(), "kid": key(alg).kid()});
        let t = forge(&header, &claims(), |m| other_key(alg).sign(m).unwrap());
        assert_eq!(
            check(alg, &t).unwrap_err(),
            ValidationError::Jws(JwsError::InvalidSignature),
            "{alg}"
        );
        // A valid token whose payload was altered after signing.
        let good = signed(key(alg), &claims());
        let mut parts: Vec<&str> = good.split('.').collect();
        let altered = b64(claims_with(json!({"sub": "admin"})).to_string().as_bytes());
        parts[1] = &altered;
        assert_eq!(
            check(alg, &parts.join(".")).unwrap_err(),
            ValidationError::Jws(JwsError::InvalidSignature),
            "{alg}"
        );
    }
}

#[test]
fn alg_none_is_refused() {
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg});
        let t = forge(&header, &claims(), |_| Vec::new());
        assert_eq!(
            check(JwsAlgorithm::RS256, &t).unwrap_err(),
            ValidationError::Jws(JwsError::AlgorithmNone)
        );
    }
}

#[test]
fn algorithm_outside_the_allowlist_is_refused() {
    // Correctly signed with ES256, but the client only accepts RS256.
    let t = signed(key(JwsAlgorithm::ES256), &claims());
    let keys = keyset(&[key(JwsAlgorithm::RS256), key(JwsAlgorithm::ES256)]);
    let err = validator(JwsAlgorithm::RS256)
        .validate(&t, &keys, NOW, &Expected::default())
        .unwrap_err();
    assert_eq!(
        err,
        ValidationError::Jws(JwsError::AlgorithmNotAllowed(JwsAlgorithm::ES256))
    );
}

#[test]
fn hs256_signed_with_the_public_key_is_refused() {
    // The classic algorithm-confusion attack: use the provider's public key
    // (as PEM and as the JWK's bytes) as an HMAC secret.
    let rsa = key(JwsAlgorithm::RS256);
    let jwk = rsa.public_jwk().unwrap();
    let secrets = [
        serde_json::to_vec(&jwk).unwrap(),
        jwk.n.clone().unwrap().into_bytes(),
    ];
    for secret in secrets {
        let header = json!({"alg": "HS256", "kid": rsa.kid()});
        let t = forge(&header, &claims(), |m| {
            hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &secret), m)
                .as_ref()
                .to_vec()
        });
        // RS256-only client.
        assert_eq!(
            check(JwsAlgorithm::RS256, &t).unwrap_err(),
            ValidationError::Jws(JwsError::AlgorithmNotAllowed(JwsAlgorithm::HS256))
        );
        // Even with HS256 in the list, no configured secret means no HMAC.
        let v = validator(JwsAlgorithm::RS256)
            .with_algorithms([JwsAlgorithm::RS256, JwsAlgorithm::HS256]);
        let err = v
            .validate(&t, &keyset(&[rsa]), NOW, &Expected::default())
            .unwrap_err();
        assert_eq!(
            err,
            ValidationError::Jws(JwsError::AlgorithmNotAllowed(JwsAlgorithm::HS256))
        );
    }
}

#[test]
fn hs256_with_the_configured_client_secret_is_accepted_and_a_wrong_secret_is_not() {
    let secret = b"a-client-secret-of-at-least-32-bytes!";
    let t = signed(
        &SigningKey::hmac(JwsAlgorithm::HS256, secret).unwrap(),
        &claims(),
    );
    let v = validator(JwsAlgorithm::RS256)
        .with_hmac_secret(SigningKey::hmac(JwsAlgorithm::HS256, secret).unwrap());
    v.validate(&t, &KeySet::default(), NOW, &Expected::default())
        .unwrap();
    let wrong = validator(JwsAlgorithm::RS256).with_hmac_secret(
        SigningKey::hmac(JwsAlgorithm::HS256, b"another-client-secret-32-bytes-long").unwrap(),
    );
    assert_eq!(
        wrong
            .validate(&t, &KeySet::default(), NOW, &Expected::default())
            .unwrap_err(),
        ValidationError::Jws(JwsError::InvalidSignature)
    );
}

fn claim_error(alg: JwsAlgorithm, changes: serde_json::Value) -> ValidationError {
    let t = signed(key(alg), &claims_with(changes));
    check(alg, &t).unwrap_err()
}

#[test]
fn wrong_issuer() {
    assert!(matches!(
        claim_error(JwsAlgorithm::RS256, json!({"iss": "https://evil.example"})),
        ValidationError::IssuerMismatch { .. }
    ));
    // Exact match: a trailing slash is another issuer.
    assert!(matches!(
        claim_error(JwsAlgorithm::RS256, json!({"iss": "https://op.example/"})),
        ValidationError::IssuerMismatch { .. }
    ));
    assert_eq!(
        claim_error(JwsAlgorithm::RS256, json!({"iss": null})),
        ValidationError::MissingClaim("iss")
    );
}

#[test]
fn wrong_missing_and_extra_audiences() {
    let alg = JwsAlgorithm::ES256;
    assert_eq!(
        claim_error(alg, json!({"aud": "another-client"})),
        ValidationError::AudienceMismatch
    );
    assert_eq!(
        claim_error(alg, json!({"aud": null})),
        ValidationError::MissingClaim("aud")
    );
    assert_eq!(
        claim_error(
            alg,
            json!({"aud": [CLIENT, "https://api.evil"], "azp": CLIENT})
        ),
        ValidationError::UntrustedAudience("https://api.evil".into())
    );
    // Several audiences, all trusted, but no azp.
    let t = signed(
        key(alg),
        &claims_with(json!({"aud": [CLIENT, "https://api.example"]})),
    );
    let n = nonce();
    let expected = Expected {
        nonce: Some(&n),
        ..Expected::default()
    };
    let trusting = validator(alg).with_trusted_audiences(["https://api.example"]);
    assert_eq!(
        trusting
            .validate(&t, &keyset(&[key(alg)]), NOW, &expected)
            .unwrap_err(),
        ValidationError::MissingAzp
    );
    // With azp naming this client: accepted.
    let t = signed(
        key(alg),
        &claims_with(json!({"aud": [CLIENT, "https://api.example"], "azp": CLIENT})),
    );
    trusting
        .validate(&t, &keyset(&[key(alg)]), NOW, &expected)
        .unwrap();
    // azp naming another client: refused even with a single audience.
    assert_eq!(
        claim_error(alg, json!({"azp": "someone-else"})),
        ValidationError::AzpMismatch("someone-else".into())
    );
}

#[test]
fn time_rules() {
    let alg = JwsAlgorithm::EdDSA;
    // Expired beyond the 60 s leeway.
    assert!(matches!(
        claim_error(alg, json!({"exp": NOW - 61})),
        ValidationError::Expired { .. }
    ));
    assert!(matches!(
        claim_error(alg, json!({"exp": NOW - 60})),
        ValidationError::Expired { .. }
    ));
    // Within the leeway: accepted.
    check(
        alg,
        &signed(key(alg), &claims_with(json!({"exp": NOW - 59}))),
    )
    .unwrap();
    assert_eq!(
        claim_error(alg, json!({"exp": null})),
        ValidationError::MissingClaim("exp")
    );
    assert_eq!(
        claim_error(alg, json!({"iat": null})),
        ValidationError::MissingClaim("iat")
    );
    assert!(matches!(
        claim_error(alg, json!({"iat": NOW + 61})),
        ValidationError::IssuedInFuture { .. }
    ));
    check(
        alg,
        &signed(key(alg), &claims_with(json!({"iat": NOW + 60}))),
    )
    .unwrap();
    assert!(matches!(
        claim_error(alg, json!({"nbf": NOW + 61})),
        ValidationError::NotYetValid { .. }
    ));
    check(alg, &signed(key(alg), &claims_with(json!({"nbf": NOW})))).unwrap();
}

#[test]
fn leeway_is_bounded() {
    assert!(validator(JwsAlgorithm::RS256).with_leeway(301).is_err());
    assert!(validator(JwsAlgorithm::RS256).with_leeway(-1).is_err());
    let v = validator(JwsAlgorithm::RS256).with_leeway(0).unwrap();
    let t = signed(
        key(JwsAlgorithm::RS256),
        &claims_with(json!({"iat": NOW + 1})),
    );
    assert!(matches!(
        v.validate(
            &t,
            &keyset(&[key(JwsAlgorithm::RS256)]),
            NOW,
            &Expected::default()
        ),
        Err(ValidationError::IssuedInFuture { .. })
    ));
}

#[test]
fn subject_rules() {
    assert_eq!(
        claim_error(JwsAlgorithm::RS256, json!({"sub": null})),
        ValidationError::MissingClaim("sub")
    );
    assert_eq!(
        claim_error(JwsAlgorithm::RS256, json!({"sub": ""})),
        ValidationError::MissingClaim("sub")
    );
}

#[test]
fn nonce_rules() {
    assert_eq!(
        claim_error(JwsAlgorithm::RS256, json!({"nonce": "something-else"})),
        ValidationError::NonceMismatch
    );
    assert_eq!(
        claim_error(JwsAlgorithm::RS256, json!({"nonce": null})),
        ValidationError::MissingNonce
    );
    // No nonce was sent (e.g. a refreshed ID token): none is required.
    let t = signed(
        key(JwsAlgorithm::RS256),
        &claims_with(json!({"nonce": null})),
    );
    validator(JwsAlgorithm::RS256)
        .validate(
            &t,
            &keyset(&[key(JwsAlgorithm::RS256)]),
            NOW,
            &Expected::default(),
        )
        .unwrap();
}

#[test]
fn max_age_and_auth_time() {
    let alg = JwsAlgorithm::RS256;
    let keys = keyset(&[key(alg)]);
    let expected = |max_age| Expected {
        max_age: Some(max_age),
        ..Expected::default()
    };
    let t = signed(key(alg), &claims_with(json!({"auth_time": NOW - 1000})));
    assert!(matches!(
        validator(alg).validate(&t, &keys, NOW, &expected(600)),
        Err(ValidationError::AuthTooOld { .. })
    ));
    validator(alg)
        .validate(&t, &keys, NOW, &expected(1000))
        .unwrap();
    let t = signed(key(alg), &claims_with(json!({"auth_time": null})));
    assert_eq!(
        validator(alg)
            .validate(&t, &keys, NOW, &expected(600))
            .unwrap_err(),
        ValidationError::MissingAuthTime
    );
}

#[test]
fn acr_allowlist() {
    let alg = JwsAlgorithm::RS256;
    let keys = keyset(&[key(alg)]);
    let v = validator(alg).with_acr_values(["urn:mace:incommon:iap:silver"]);
    let t = signed(key(alg), &claims_with(json!({"acr": "0"})));
    assert_eq!(
        v.validate(&t, &keys, NOW, &Expected::default())
            .unwrap_err(),
        ValidationError::AcrNotAccepted(Some("0".into()))
    );
    let t = signed(key(alg), &claims());
    assert_eq!(
        v.validate(&t, &keys, NOW, &Expected::default())
            .unwrap_err(),
        ValidationError::AcrNotAccepted(None)
    );
    let t = signed(
        key(alg),
        &claims_with(json!({"acr": "urn:mace:incommon:iap:silver"})),
    );
    v.validate(&t, &keys, NOW, &Expected::default()).unwrap();
}

#[test]
fn at_hash_and_c_hash_for_rs256_es384_and_eddsa() {
    let access = AccessToken::new("jHkWEdUXMU1BwAsC4vtUsZwnNZtvcQDFYtT");
    let code = AuthorizationCode::new("Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk");
    for alg in [
        JwsAlgorithm::RS256,
        JwsAlgorithm::ES384,
        JwsAlgorithm::EdDSA,
    ] {
        let keys = keyset(&[key(alg)]);
        let hybrid = Expected {
            access_token: Some(&access),
            code: Some(&code),
            require_at_hash: true,
            require_c_hash: true,
            ..Expected::default()
        };
        let good = json!({
            "at_hash": token_hash(alg, access.secret()),
            "c_hash": token_hash(alg, code.secret()),
        });
        let t = signed(key(alg), &claims_with(good.clone()));
        validator(alg).validate(&t, &keys, NOW, &hybrid).unwrap();

        // A SHA-256 half-hash under a SHA-384/512 algorithm is wrong (the
        // openidconnect-rs #209 bug), and so is a hash of something else.
        let wrong_at = if alg == JwsAlgorithm::RS256 {
            token_hash(alg, "another-access-token")
        } else {
            token_hash(JwsAlgorithm::RS256, access.secret())
        };
        let wrong_c = token_hash(alg, "another-code");
        let cases = [
            (
                json!({"at_hash": wrong_at}),
                ValidationError::AtHashMismatch,
            ),
            (json!({"c_hash": wrong_c}), ValidationError::CHashMismatch),
            (json!({"at_hash": null}), ValidationError::MissingAtHash),
            (json!({"c_hash": null}), ValidationError::MissingCHash),
        ];
        for (change, want) in cases {
            let mut payload = claims_with(good.clone());
            for (k, v) in change.as_object().unwrap() {
                if v.is_null() {
                    payload.as_object_mut().unwrap().remove(k);
                } else {
                    payload[k] = v.clone();
                }
            }
            let t = signed(key(alg), &payload);
            assert_eq!(
                validator(alg)
                    .validate(&t, &keys, NOW, &hybrid)
                    .unwrap_err(),
                want,
                "{alg}"
            );
        }
    }
}

#[test]
fn kid_rules() {
    let alg = JwsAlgorithm::RS256;
    let no_kid = |k: &SigningKey| {
        forge(&json!({"alg": alg.as_str()}), &claims(), |m| {
            k.sign(m).unwrap()
        })
    };
    let n = nonce();
    let expected = Expected {
        nonce: Some(&n),
        ..Expected::default()
    };
    // No kid, one key: used.
    validator(alg)
        .validate(&no_kid(key(alg)), &keyset(&[key(alg)]), NOW, &expected)
        .unwrap();
    // No kid, several keys: each is tried; the second one verifies.
    let both = keyset(&[other_key(alg), key(alg)]);
    validator(alg)
        .validate(&no_kid(key(alg)), &both, NOW, &expected)
        .unwrap();
    // No kid, several keys, none of them the signer: refused.
    let attacker = SigningKey::generate(alg).unwrap();
    assert_eq!(
        validator(alg)
            .validate(&no_kid(&attacker), &both, NOW, &expected)
            .unwrap_err(),
        ValidationError::Jws(JwsError::InvalidSignature)
    );
    // An unknown kid is reported as such (so a relying party refetches the JWKS once).
    let t = signed(&attacker, &claims());
    assert_eq!(
        validator(alg)
            .validate(&t, &both, NOW, &expected)
            .unwrap_err(),
        ValidationError::Jws(JwsError::UnknownKid(attacker.kid().to_owned()))
    );
    // A kid that exists but for another key type: no matching key.
    let header = json!({"alg": "RS256", "kid": key(JwsAlgorithm::ES256).kid()});
    let t = forge(&header, &claims(), |m| key(alg).sign(m).unwrap());
    let mixed = keyset(&[key(JwsAlgorithm::ES256)]);
    assert_eq!(
        validator(alg)
            .validate(&t, &mixed, NOW, &expected)
            .unwrap_err(),
        ValidationError::Jws(JwsError::NoMatchingKey)
    );
}

#[test]
fn token_types_that_are_not_id_tokens_are_refused() {
    let alg = JwsAlgorithm::ES256;
    for typ in ["at+jwt", "logout+jwt"] {
        let header = json!({"alg": alg.as_str(), "kid": key(alg).kid(), "typ": typ});
        let t = forge(&header, &claims(), |m| key(alg).sign(m).unwrap());
        assert_eq!(
            check(alg, &t).unwrap_err(),
            ValidationError::WrongType(typ.into())
        );
    }
    // A logout token's payload presented as an ID token.
    let t = signed(
        key(alg),
        &claims_with(json!({"events": {"http://schemas.openid.net/event/backchannel-logout": {}}})),
    );
    assert_eq!(
        check(alg, &t).unwrap_err(),
        ValidationError::LogoutTokenAsIdToken
    );
}

#[test]
fn malformed_tokens() {
    let alg = JwsAlgorithm::RS256;
    let cases = [
        (
            "",
            JwsError::Malformed("expected three dot-separated parts"),
        ),
        (
            "a.b",
            JwsError::Malformed("expected three dot-separated parts"),
        ),
        (
            "a.b.c.d",
            JwsError::Malformed("expected three dot-separated parts"),
        ),
        ("a.b.c.d.e", JwsError::Encrypted),
        ("!!.e30.", JwsError::Malformed("header is not base64url")),
        ("e30.e30.", JwsError::Malformed("header has no alg")),
    ];
    for (token, want) in cases {
        assert_eq!(
            check(alg, token).unwrap_err(),
            ValidationError::Jws(want),
            "{token:?}"
        );
    }
    let huge = "a".repeat(70_000);
    assert_eq!(
        check(alg, &huge).unwrap_err(),
        ValidationError::Jws(JwsError::TooLarge)
    );
    // crit extensions are refused.
    let header = json!({"alg": "RS256", "kid": key(alg).kid(), "crit": ["exp"], "exp": 1});
    let t = forge(&header, &claims(), |m| key(alg).sign(m).unwrap());
    assert_eq!(
        check(alg, &t).unwrap_err(),
        ValidationError::Jws(JwsError::CriticalHeader)
    );
    // A correctly signed payload that is not a claims object.
    let t = forge(
        &json!({"alg": "RS256", "kid": key(alg).kid()}),
        &json!(["not", "claims"]),
        |m| key(alg).sign(m).unwrap(),
    );
    assert!(matches!(
        check(alg, &t).unwrap_err(),
        ValidationError::Malformed(_)
    ));
}
