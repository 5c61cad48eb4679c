//! The parsers never panic, whatever they are given.

use proptest::prelude::*;
use serde_json::json;
use sesame_core::{Expected, JwkSet, JwsAlgorithm, KeySet, ProviderMetadata, UnverifiedJws, jws};

use crate::support::*;

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,20}".prop_map(serde_json::Value::String),
        prop::sample::select(vec![
            "iss", "aud", "sub", "exp", "RS256", "none", "kid", "keys"
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "iss",
                    "sub",
                    "aud",
                    "exp",
                    "iat",
                    "nbf",
                    "nonce",
                    "azp",
                    "alg",
                    "kid",
                    "typ",
                    "crit",
                    "keys",
                    "kty",
                    "n",
                    "e",
                    "crv",
                    "x",
                    "y",
                    "use",
                    "issuer",
                    "jwks_uri",
                    "events",
                    "sid",
                    "at_hash",
                    "c_hash",
                    "auth_time",
                ])
                .prop_map(str::to_owned),
                inner,
                0..8
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn jws_parser_never_panics(token in ".{0,300}") {
        let _ = UnverifiedJws::parse(&token);
        let _ = jws::verify(&token, &KeySet::default(), &[JwsAlgorithm::RS256], None);
    }

    #[test]
    fn structured_tokens_never_panic(header in json_value(), payload in json_value(), sig in prop::collection::vec(any::<u8>(), 0..80)) {
        let token = format!(
            "{}.{}.{}",
            b64(header.to_string().as_bytes()),
            b64(payload.to_string().as_bytes()),
            b64(&sig)
        );
        let alg = JwsAlgorithm::ES256;
        let keys = keyset(&[key(alg)]);
        let _ = validator(alg).validate(&token, &keys, NOW, &Expected::default());
        let _ = validator(alg).validate_logout_token(&token, &keys, NOW);
    }

    #[test]
    fn signed_arbitrary_claims_never_panic(payload in json_value()) {
        // Correctly signed, so the claim checks themselves see the junk.
        let alg = JwsAlgorithm::EdDSA;
        let token = signed(key(alg), &payload);
        let keys = keyset(&[key(alg)]);
        let _ = validator(alg).validate(&token, &keys, NOW, &Expected::default());
        let _ = validator(alg).validate_logout_token(&token, &keys, NOW);
    }

    #[test]
    fn jwks_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400), doc in json_value()) {
        if let Ok(set) = JwkSet::from_json(&bytes) { let _ = KeySet::from_jwks(&set); }
        let wrapped = json!({"keys": [doc.clone(), doc]}).to_string();
        if let Ok(set) = JwkSet::from_json(wrapped.as_bytes()) {
            let keys = KeySet::from_jwks(&set);
            let _ = keys.select(Some("kid"), JwsAlgorithm::RS256);
        }
    }

    #[test]
    fn discovery_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400), doc in json_value()) {
        let iss = sesame_core::Issuer::new(ISS).unwrap();
        if let Ok(m) = ProviderMetadata::from_json(&bytes) { let _ = m.validate(&iss); }
        if let Ok(m) = ProviderMetadata::from_json(doc.to_string().as_bytes()) { let _ = m.validate(&iss); }
    }
}
