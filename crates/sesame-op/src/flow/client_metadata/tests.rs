use serde_json::{Value, json};
use sesame_core::{ClientId, ErrorCode, JwkSet, JwsAlgorithm, SigningKey};

use super::*;

const CB: &str = "https://rp.example/cb";

fn check(v: Value) -> Result<Metadata, OAuthError> {
    let Value::Object(m) = v else {
        panic!("not an object")
    };
    parse(&m, &Settings::default(), &ScopeClaims::default())
}

/// The request is refused with `code`, and the description mentions `needle`.
fn refused(v: Value, code: ErrorCode, needle: &str) {
    let shown = v.to_string();
    let e = check(v).expect_err(&shown);
    assert_eq!(e.code, code, "{shown}: {}", e.description);
    assert!(
        e.description.contains(needle),
        "{shown}: {:?} should mention {needle:?}",
        e.description
    );
}

fn public_jwks() -> Value {
    let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
    json!(JwkSet {
        keys: vec![key.public_jwk().unwrap()]
    })
}

#[test]
fn defaults_follow_the_specifications() {
    let m = check(json!({"redirect_uris": [CB]})).unwrap();
    assert_eq!(m.response_types, ["code"]);
    assert_eq!(m.grant_types, [GrantType::AuthorizationCode]);
    assert_eq!(m.token_endpoint_auth_method, AuthMethod::ClientSecretBasic);
    assert_eq!(m.id_token_signed_response_alg, JwsAlgorithm::RS256);
    assert_eq!(m.application_type, ApplicationType::Web);
    assert_eq!(m.scope, None);
    assert!(m.jwks.is_none() && m.backchannel_logout_uri.is_none());
}

#[test]
fn null_members_are_absent() {
    let m = check(json!({"redirect_uris": [CB], "client_name": null, "jwks": null})).unwrap();
    assert_eq!(m.client_name, None);
}

#[test]
fn redirect_uris_are_required_for_redirect_flows() {
    refused(json!({}), ErrorCode::InvalidRedirectUri, "redirect_uris");
    refused(
        json!({"redirect_uris": []}),
        ErrorCode::InvalidRedirectUri,
        "redirect_uris",
    );
    // Not for a client that only uses client_credentials.
    let m = check(json!({"grant_types": ["client_credentials"]})).unwrap();
    assert!(m.redirect_uris.is_empty() && m.response_types.is_empty());
}

#[test]
fn redirect_uris_must_be_absolute_without_fragment() {
    for bad in [
        "/relative",
        "https://rp.example/cb#frag",
        "https://user:pw@rp.example/cb",
        "javascript:alert(1)",
    ] {
        refused(
            json!({"redirect_uris": [CB, bad]}),
            ErrorCode::InvalidRedirectUri,
            "redirect_uris",
        );
    }
    refused(
        json!({"redirect_uris": CB}),
        ErrorCode::InvalidClientMetadata,
        "array of strings",
    );
    refused(
        json!({"redirect_uris": [CB, 7]}),
        ErrorCode::InvalidClientMetadata,
        "array of strings",
    );
}

#[test]
fn redirect_schemes_depend_on_the_application_type() {
    // Web: https, or http on loopback for development.
    assert!(check(json!({"redirect_uris": ["http://127.0.0.1:8080/cb"]})).is_ok());
    assert!(check(json!({"redirect_uris": ["http://localhost/cb"]})).is_ok());
    assert!(check(json!({"redirect_uris": ["http://[::1]/cb"]})).is_ok());
    refused(
        json!({"redirect_uris": ["http://rp.example/cb"]}),
        ErrorCode::InvalidRedirectUri,
        "loopback",
    );
    refused(
        json!({"redirect_uris": ["com.example.app:/cb"]}),
        ErrorCode::InvalidRedirectUri,
        "native",
    );
    // Native: custom schemes, loopback http, claimed https.
    let native = |uri: &str| json!({"application_type": "native", "redirect_uris": [uri]});
    assert!(check(native("com.example.app:/cb")).is_ok());
    assert!(check(native("http://127.0.0.1:51000/cb")).is_ok());
    assert!(check(native("https://app.example/cb")).is_ok());
    refused(
        native("http://app.example/cb"),
        ErrorCode::InvalidRedirectUri,
        "loopback",
    );
    refused(
        json!({"application_type": "desktop", "redirect_uris": [CB]}),
        ErrorCode::InvalidClientMetadata,
        "application_type",
    );
}

#[test]
fn implicit_web_clients_need_https_off_loopback() {
    let implicit = |uri: &str| json!({"redirect_uris": [uri], "response_types": ["id_token"], "grant_types": ["implicit"]});
    assert!(check(implicit(CB)).is_ok());
    refused(
        implicit("http://127.0.0.1/cb"),
        ErrorCode::InvalidRedirectUri,
        "https",
    );
    refused(
        implicit("https://localhost/cb"),
        ErrorCode::InvalidRedirectUri,
        "loopback",
    );
}

#[test]
fn response_and_grant_types_must_agree() {
    let both = |rt: Value, gt: Value| json!({"redirect_uris": [CB], "response_types": rt, "grant_types": gt});
    refused(
        both(json!(["code id_token"]), json!(["authorization_code"])),
        ErrorCode::InvalidClientMetadata,
        "implicit",
    );
    refused(
        both(json!(["code"]), json!(["implicit"])),
        ErrorCode::InvalidClientMetadata,
        "authorization_code",
    );
    refused(
        both(
            json!(["id_token"]),
            json!(["authorization_code", "implicit"]),
        ),
        ErrorCode::InvalidClientMetadata,
        "authorization_code grant type needs",
    );
    refused(
        both(json!(["code"]), json!(["authorization_code", "implicit"])),
        ErrorCode::InvalidClientMetadata,
        "implicit grant type needs",
    );
    refused(
        both(json!([]), json!([])),
        ErrorCode::InvalidClientMetadata,
        "grant_types",
    );
    // Omitted grant types are derived from the response types.
    let m = check(json!({"redirect_uris": [CB], "response_types": ["id_token code"]})).unwrap();
    assert_eq!(m.response_types, ["code id_token"]);
    assert_eq!(
        m.grant_types,
        [GrantType::AuthorizationCode, GrantType::Implicit]
    );
    let m = check(both(
        json!(["code"]),
        json!(["authorization_code", "refresh_token"]),
    ))
    .unwrap();
    assert_eq!(
        m.grant_types,
        [GrantType::AuthorizationCode, GrantType::RefreshToken]
    );
}

#[test]
fn unknown_or_disabled_flows_are_refused() {
    refused(
        json!({"redirect_uris": [CB], "grant_types": ["authorization_code", "password"]}),
        ErrorCode::InvalidClientMetadata,
        "password",
    );
    refused(
        json!({"redirect_uris": [CB], "grant_types": ["urn:ietf:params:oauth:grant-type:device_code"]}),
        ErrorCode::InvalidClientMetadata,
        "device_code",
    );
    refused(
        json!({"redirect_uris": [CB], "response_types": ["code code_token"]}),
        ErrorCode::InvalidClientMetadata,
        "response_type",
    );
}

#[test]
fn token_endpoint_auth_method_must_be_supported() {
    refused(
        json!({"redirect_uris": [CB], "token_endpoint_auth_method": "tls_client_auth"}),
        ErrorCode::InvalidClientMetadata,
        "tls_client_auth",
    );
    refused(
        json!({"token_endpoint_auth_method": "none", "grant_types": ["client_credentials"]}),
        ErrorCode::InvalidClientMetadata,
        "client_credentials",
    );
    for &method in AuthMethod::ALL {
        let mut v = json!({"redirect_uris": [CB], "token_endpoint_auth_method": method.as_str()});
        if method == AuthMethod::PrivateKeyJwt {
            v["jwks"] = public_jwks();
        }
        assert_eq!(check(v).unwrap().token_endpoint_auth_method, method);
    }
}

#[test]
fn assertion_signing_alg_must_fit_the_method() {
    let with = |method: &str, alg: &str| {
        json!({"redirect_uris": [CB], "token_endpoint_auth_method": method,
               "token_endpoint_auth_signing_alg": alg, "jwks": public_jwks()})
    };
    assert_eq!(
        check(with("client_secret_jwt", "HS512"))
            .unwrap()
            .token_endpoint_auth_signing_alg,
        Some(JwsAlgorithm::HS512)
    );
    assert!(check(with("private_key_jwt", "ES256")).is_ok());
    refused(
        with("client_secret_jwt", "RS256"),
        ErrorCode::InvalidClientMetadata,
        "token_endpoint_auth_signing_alg",
    );
    refused(
        with("private_key_jwt", "HS256"),
        ErrorCode::InvalidClientMetadata,
        "token_endpoint_auth_signing_alg",
    );
    refused(
        with("client_secret_basic", "HS256"),
        ErrorCode::InvalidClientMetadata,
        "token_endpoint_auth_signing_alg",
    );
}

#[test]
fn private_key_jwt_needs_public_keys_inline_or_by_uri() {
    let pkj = json!({"redirect_uris": [CB], "token_endpoint_auth_method": "private_key_jwt"});
    refused(pkj.clone(), ErrorCode::InvalidClientMetadata, "jwks");
    let mut with_uri = pkj.clone();
    with_uri["jwks_uri"] = json!("https://rp.example/jwks");
    assert_eq!(
        check(with_uri.clone()).unwrap().jwks_uri.as_deref(),
        Some("https://rp.example/jwks")
    );
    let mut both = with_uri.clone();
    both["jwks"] = public_jwks();
    refused(both, ErrorCode::InvalidClientMetadata, "not both");
    with_uri["jwks_uri"] = json!("http://rp.example/jwks");
    refused(with_uri, ErrorCode::InvalidClientMetadata, "jwks_uri");
    let mut ok = pkj.clone();
    ok["jwks"] = public_jwks();
    assert_eq!(check(ok).unwrap().jwks.unwrap().keys.len(), 1);
    // A private key, a symmetric key, or nothing usable.
    let mut private = public_jwks();
    private["keys"][0]["d"] = json!("c2VjcmV0");
    for (jwks, needle) in [
        (private, "public keys only"),
        (
            json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}),
            "public keys only",
        ),
        (json!({"keys": []}), "no usable"),
        (json!({"keys": [{"kty": "RSA", "n": "AQAB"}]}), "no usable"),
        (json!([]), "JWK Set"),
    ] {
        let mut v = pkj.clone();
        v["jwks"] = jwks;
        refused(v, ErrorCode::InvalidClientMetadata, needle);
    }
}

#[test]
fn response_signing_algs_come_from_the_provider_settings() {
    let m = check(
        json!({"redirect_uris": [CB], "id_token_signed_response_alg": "ES256",
                         "userinfo_signed_response_alg": "EdDSA"}),
    )
    .unwrap();
    assert_eq!(m.id_token_signed_response_alg, JwsAlgorithm::ES256);
    assert_eq!(m.userinfo_signed_response_alg, Some(JwsAlgorithm::EdDSA));
    for alg in ["none", "HS256", "PS384", "nonsense"] {
        refused(
            json!({"redirect_uris": [CB], "id_token_signed_response_alg": alg}),
            ErrorCode::InvalidClientMetadata,
            "id_token_signed_response_alg",
        );
        refused(
            json!({"redirect_uris": [CB], "userinfo_signed_response_alg": alg}),
            ErrorCode::InvalidClientMetadata,
            "userinfo_signed_response_alg",
        );
        refused(
            json!({"redirect_uris": [CB], "authorization_signed_response_alg": alg}),
            ErrorCode::InvalidClientMetadata,
            "authorization_signed_response_alg",
        );
    }
    let m = check(json!({"redirect_uris": [CB], "authorization_signed_response_alg": "ES256"}))
        .unwrap();
    assert_eq!(
        m.authorization_signed_response_alg,
        Some(JwsAlgorithm::ES256)
    );
    assert_eq!(
        check(json!({"redirect_uris": [CB]}))
            .unwrap()
            .authorization_signed_response_alg,
        None
    );
    // Without RS256 keys, the default is the provider's first algorithm.
    let settings = Settings {
        signing_algs: vec![JwsAlgorithm::ES256],
        ..Settings::default()
    };
    let Value::Object(req) = json!({"redirect_uris": [CB]}) else {
        unreachable!()
    };
    let m = parse(&req, &settings, &ScopeClaims::default()).unwrap();
    assert_eq!(m.id_token_signed_response_alg, JwsAlgorithm::ES256);
}

#[test]
fn logout_uris_are_checked() {
    let m = check(json!({"redirect_uris": [CB],
        "post_logout_redirect_uris": ["https://rp.example/bye"],
        "backchannel_logout_uri": "https://rp.example/bc",
        "backchannel_logout_session_required": true}))
    .unwrap();
    assert_eq!(m.post_logout_redirect_uris.len(), 1);
    assert!(m.backchannel_logout_session_required);
    refused(
        json!({"redirect_uris": [CB], "post_logout_redirect_uris": ["https://rp.example/bye#x"]}),
        ErrorCode::InvalidClientMetadata,
        "post_logout_redirect_uris",
    );
    // Loopback and private targets only where the operator allows them
    // (S14): otherwise a registrant could make the provider POST inside.
    let Value::Object(local) =
        json!({"redirect_uris": [CB], "backchannel_logout_uri": "http://127.0.0.1:9000/bc"})
    else {
        unreachable!()
    };
    let private = Settings {
        allow_private_outbound: true,
        ..Settings::default()
    };
    assert!(parse(&local, &private, &ScopeClaims::default()).is_ok());
    assert!(
        parse(&local, &Settings::default(), &ScopeClaims::default()).is_err(),
        "not without the switch"
    );
    for bad in [
        "http://127.0.0.1:9000/bc",
        "https://localhost/bc",
        "https://[::1]:8443/bc",
        "http://rp.example/bc",
        "https://rp.example/bc#frag",
        "ftp://rp.example/bc",
        "/bc",
        "https://u:p@rp.example/bc",
        // S14, REVIEW.md: literals and names that pass a name-only loopback check.
        "https://0.0.0.0/",
        "https://[::ffff:127.0.0.1]/",
        "https://localhost./",
        "https://10.0.0.1/bc",
        "https://169.254.169.254/latest/meta-data",
        "https://[fc00::1]/bc",
        "https://100.64.0.1/bc",
        "https://rp.example./bc",
    ] {
        refused(
            json!({"redirect_uris": [CB], "backchannel_logout_uri": bad}),
            ErrorCode::InvalidClientMetadata,
            "backchannel_logout_uri",
        );
    }
    refused(
        json!({"redirect_uris": [CB], "backchannel_logout_session_required": true}),
        ErrorCode::InvalidClientMetadata,
        "backchannel_logout_uri",
    );
    refused(
        json!({"redirect_uris": [CB], "backchannel_logout_uri": "https://rp.example/bc",
               "backchannel_logout_session_required": "yes"}),
        ErrorCode::InvalidClientMetadata,
        "boolean",
    );
}

#[test]
fn client_name_and_scope() {
    let m = check(json!({"redirect_uris": [CB], "client_name": "  My App ",
                         "scope": "openid email made-up offline_access"}))
    .unwrap();
    assert_eq!(m.client_name.as_deref(), Some("My App"));
    // Unknown scopes are dropped, not registered.
    assert_eq!(m.scope.unwrap().to_string(), "openid email offline_access");
    refused(
        json!({"redirect_uris": [CB], "client_name": "a\u{0}b"}),
        ErrorCode::InvalidClientMetadata,
        "client_name",
    );
    refused(
        json!({"redirect_uris": [CB], "client_name": "x".repeat(201)}),
        ErrorCode::InvalidClientMetadata,
        "client_name",
    );
    refused(
        json!({"redirect_uris": [CB], "client_name": 5}),
        ErrorCode::InvalidClientMetadata,
        "client_name",
    );
    refused(
        json!({"redirect_uris": [CB], "scope": "openid \"x\""}),
        ErrorCode::InvalidClientMetadata,
        "scope",
    );
}

#[test]
fn unsupported_features_are_refused_not_ignored() {
    for (name, value) in [
        ("id_token_encrypted_response_alg", json!("RSA-OAEP")),
        ("userinfo_encrypted_response_enc", json!("A128GCM")),
        ("authorization_encrypted_response_alg", json!("RSA-OAEP")),
        ("authorization_encrypted_response_enc", json!("A128GCM")),
    ] {
        let mut v = json!({"redirect_uris": [CB]});
        v[name] = value;
        refused(v, ErrorCode::InvalidClientMetadata, name);
    }
    // Pairwise subjects need a salt in the provider's settings.
    refused(
        json!({"redirect_uris": [CB], "subject_type": "pairwise"}),
        ErrorCode::InvalidClientMetadata,
        "subject_type",
    );
    refused(
        json!({"redirect_uris": [CB], "subject_type": "secret"}),
        ErrorCode::InvalidClientMetadata,
        "subject_type",
    );
    // Members Sesame does not know are ignored (RFC 7591 §2).
    assert!(
        check(
            json!({"redirect_uris": [CB], "logo_uri": "https://rp.example/l.png",
                         "software_id": "x", "request_uris": ["https://rp.example/r"]})
        )
        .is_ok()
    );
}

#[test]
fn metadata_round_trips_through_the_response() {
    let request = json!({
        "redirect_uris": [CB, "http://127.0.0.1/cb"],
        "response_types": ["code", "code id_token"],
        "grant_types": ["authorization_code", "implicit", "refresh_token"],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES256",
        "jwks": public_jwks(),
        "id_token_signed_response_alg": "EdDSA",
        "userinfo_signed_response_alg": "ES256",
        "authorization_signed_response_alg": "EdDSA",
        "post_logout_redirect_uris": ["https://rp.example/bye"],
        "backchannel_logout_uri": "https://rp.example/bc",
        "backchannel_logout_session_required": true,
        "client_name": "Round trip",
        "scope": "openid profile",
    });
    // http on loopback is refused for an implicit web client.
    assert!(check(request.clone()).is_err());
    let mut request = request;
    request["redirect_uris"] = json!([CB]);
    let first = check(request).unwrap();
    let mut client = Client::new(ClientId::new("c"), Vec::new(), 0);
    first.clone().apply(&mut client);
    let echoed = to_json(&client);
    assert_eq!(echoed["subject_type"], "public");
    let again = parse(&echoed, &Settings::default(), &ScopeClaims::default()).unwrap();
    assert_eq!(again, first);
}

fn pairwise_settings() -> Settings {
    Settings {
        pairwise_salt: Some(crate::PairwiseSalt::new(*b"0123456789abcdef")),
        ..Settings::default()
    }
}

fn check_pairwise(v: Value) -> Result<Metadata, OAuthError> {
    let Value::Object(m) = v else {
        panic!("not an object")
    };
    parse(&m, &pairwise_settings(), &ScopeClaims::default())
}

#[test]
fn pairwise_clients_need_one_redirect_host() {
    let m = check_pairwise(json!({
        "redirect_uris": [CB, "https://rp.example:8443/other"],
        "subject_type": "pairwise",
    }))
    .unwrap();
    assert_eq!(m.subject_type, SubjectType::Pairwise);
    let mut client = Client::new(ClientId::new("c"), Vec::new(), 0);
    m.apply(&mut client);
    assert_eq!(client.subject_type, SubjectType::Pairwise);
    assert_eq!(to_json(&client)["subject_type"], "pairwise");
    assert_eq!(
        check_pairwise(json!({"redirect_uris": [CB]}))
            .unwrap()
            .subject_type,
        SubjectType::Public,
        "public stays the default"
    );
    for bad in [
        json!({"redirect_uris": [CB, "https://other.example/cb"], "subject_type": "pairwise"}),
        json!({"redirect_uris": ["com.example.app:/cb"], "application_type": "native",
               "subject_type": "pairwise"}),
    ] {
        let e = check_pairwise(bad).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
        assert!(e.description.contains("one host"), "{}", e.description);
    }
    // A sector_identifier_uri (its document is fetched by the registration
    // flow) lets redirect URIs span hosts; it must be an https URL.
    let m = check_pairwise(json!({"redirect_uris": [CB, "https://other.example/cb"],
                                  "subject_type": "pairwise",
                                  "sector_identifier_uri": "https://rp.example/s.json"}))
    .unwrap();
    assert_eq!(
        m.sector_identifier_uri.as_deref(),
        Some("https://rp.example/s.json")
    );
    let e = check_pairwise(json!({"redirect_uris": [CB], "subject_type": "pairwise",
                                  "sector_identifier_uri": "ftp://rp.example/s.json"}))
    .unwrap_err();
    assert!(
        e.description.contains("sector_identifier_uri"),
        "{}",
        e.description
    );
}
