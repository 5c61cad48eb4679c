//! Known-answer tests against independently computed values.

use sesame_core::{
    CodeChallenge, CodeVerifier, Jwk, JwsAlgorithm, PkceMethod, pkce_verify, token_hash,
    verify_token_hash,
};

/// RFC 7638 §3.1: the example RSA key's thumbprint.
#[test]
fn rfc7638_thumbprint() {
    let jwk: Jwk = serde_json::from_str(
        r#"{"kty":"RSA","e":"AQAB","alg":"RS256","kid":"2011-04-29",
        "n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}"#,
    )
    .unwrap();
    assert_eq!(
        jwk.thumbprint().unwrap(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

/// RFC 7636 Appendix B.
#[test]
fn rfc7636_appendix_b() {
    let verifier = CodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    let challenge = verifier.challenge(PkceMethod::S256);
    assert_eq!(
        challenge.as_str(),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
    pkce_verify(verifier.secret(), &challenge, PkceMethod::S256, false).unwrap();
    assert!(
        pkce_verify(
            verifier.secret(),
            &CodeChallenge::new("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"),
            PkceMethod::S256,
            false
        )
        .is_err()
    );
}

const ACCESS_TOKEN: &str = "jHkWEdUXMU1BwAsC4vtUsZwnNZtvcQDFYtT";
const CODE: &str = "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk";

/// at_hash/c_hash for each hash family, computed independently with Python's
/// hashlib (left half of the digest, base64url without padding).
#[test]
fn half_hashes_for_every_family() {
    let cases = [
        (
            JwsAlgorithm::RS256,
            "631Tx82mifDmRerWd5_sRA",
            "LDktKdoQak3Pk0cnXxCltA",
        ),
        (
            JwsAlgorithm::ES256,
            "631Tx82mifDmRerWd5_sRA",
            "LDktKdoQak3Pk0cnXxCltA",
        ),
        (
            JwsAlgorithm::ES384,
            "h5dbipPuES8DNI-trgLRR-zVbb9rxIzr",
            "Mq-knyaEMtWGfnBi2POEZb1kiLx10_DF",
        ),
        (
            JwsAlgorithm::PS384,
            "h5dbipPuES8DNI-trgLRR-zVbb9rxIzr",
            "Mq-knyaEMtWGfnBi2POEZb1kiLx10_DF",
        ),
        (
            JwsAlgorithm::RS512,
            "L5cPBykI9uHuoWb-i2qTYhcyMzKugMxdwOz83_42Nfc",
            "E9z1C-c0Az4eTEzE0Nm3OQ3BS2BhMgxuP7x5JAQj1_4",
        ),
        (
            JwsAlgorithm::EdDSA,
            "L5cPBykI9uHuoWb-i2qTYhcyMzKugMxdwOz83_42Nfc",
            "E9z1C-c0Az4eTEzE0Nm3OQ3BS2BhMgxuP7x5JAQj1_4",
        ),
    ];
    for (alg, at_hash, c_hash) in cases {
        assert_eq!(token_hash(alg, ACCESS_TOKEN), at_hash, "at_hash {alg}");
        assert_eq!(token_hash(alg, CODE), c_hash, "c_hash {alg}");
        assert!(verify_token_hash(alg, ACCESS_TOKEN, at_hash));
        assert!(!verify_token_hash(alg, CODE, at_hash));
    }
}
