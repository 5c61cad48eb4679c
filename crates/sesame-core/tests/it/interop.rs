//! Cross-checks with an independent JOSE implementation (`jsonwebtoken`):
//! what Sesame signs, it verifies; what it signs, Sesame verifies.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};
use sesame_core::{Expected, JwsAlgorithm, jws};

use crate::support::*;

fn theirs(alg: JwsAlgorithm) -> Algorithm {
    match alg {
        JwsAlgorithm::RS256 => Algorithm::RS256,
        JwsAlgorithm::ES256 => Algorithm::ES256,
        JwsAlgorithm::ES384 => Algorithm::ES384,
        JwsAlgorithm::EdDSA => Algorithm::EdDSA,
        other => panic!("not used here: {other}"),
    }
}

const ALGS: [JwsAlgorithm; 4] = [
    JwsAlgorithm::RS256,
    JwsAlgorithm::ES256,
    JwsAlgorithm::ES384,
    JwsAlgorithm::EdDSA,
];

#[test]
fn jsonwebtoken_verifies_sesame_tokens_with_the_published_jwk() {
    for alg in ALGS {
        let key = key(alg);
        let token = jws::sign(key, Some("JWT"), &claims()).unwrap();
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(serde_json::to_value(key.public_jwk().unwrap()).unwrap())
                .unwrap();
        let decoding = DecodingKey::from_jwk(&jwk).unwrap();
        let mut validation = Validation::new(theirs(alg));
        validation.set_audience(&[CLIENT]);
        validation.set_issuer(&[ISS]);
        validation.validate_exp = false; // fixed test time in the past
        let data = jsonwebtoken::decode::<Value>(&token, &decoding, &validation).unwrap();
        assert_eq!(data.claims["sub"], "user-1", "{alg}");
        assert_eq!(data.header.kid.as_deref(), Some(key.kid()));
    }
}

#[test]
fn sesame_verifies_jsonwebtoken_tokens_from_the_same_pkcs8_key() {
    for alg in ALGS {
        let key = key(alg);
        let pem = key.to_pkcs8_pem().unwrap();
        let encoding = match alg {
            JwsAlgorithm::RS256 => EncodingKey::from_rsa_pem(pem.as_bytes()),
            JwsAlgorithm::EdDSA => EncodingKey::from_ed_pem(pem.as_bytes()),
            _ => EncodingKey::from_ec_pem(pem.as_bytes()),
        }
        .unwrap();
        let mut header = Header::new(theirs(alg));
        header.kid = Some(key.kid().to_owned());
        let token = jsonwebtoken::encode(&header, &claims(), &encoding).unwrap();
        let nonce = sesame_core::Nonce::new("n-0S6_WzA2Mj");
        let validated = validator(alg)
            .validate(
                &token,
                &keyset(&[key]),
                NOW,
                &Expected {
                    nonce: Some(&nonce),
                    ..Expected::default()
                },
            )
            .unwrap();
        assert_eq!(validated.claims.sub.as_str(), "user-1", "{alg}");
    }
}

#[test]
fn thumbprints_agree() {
    for alg in ALGS {
        let key = key(alg);
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(json!(key.public_jwk().unwrap())).unwrap();
        assert_eq!(
            jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
                .unwrap(),
            key.kid(),
            "{alg}"
        );
    }
}
