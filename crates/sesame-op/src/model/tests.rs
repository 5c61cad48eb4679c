use super::*;

#[test]
fn clients_stored_before_registration_existed_still_parse() {
    let old = serde_json::json!({
        "client_id": "legacy",
        "client_secret_hash": "sha256$x",
        "redirect_uris": ["https://rp.example/cb"],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
        "id_token_signed_response_alg": "RS256",
        "created_at": 1
    });
    let c: Client = serde_json::from_value(old).unwrap();
    assert_eq!(c.client_secret_jwt_key, None);
    assert_eq!(c.registration_access_token_hash, None);
    assert_eq!(c.token_endpoint_auth_signing_alg, None);
    assert_eq!(c.application_type, ApplicationType::Web);
    assert_eq!(c.subject_type, SubjectType::Public);
    // Absent optional members stay absent when written back.
    let written = serde_json::to_value(&c).unwrap();
    assert!(written.get("client_secret_jwt_key").is_none());
    assert!(written.get("registration_access_token_hash").is_none());
}

#[test]
fn the_client_secret_jwt_key_is_redacted_in_debug() {
    let mut c = Client::new(ClientId::new("c"), Vec::new(), 0);
    c.token_endpoint_auth_method = AuthMethod::ClientSecretJwt;
    c.client_secret_jwt_key = Some(ClientSecret::new("hunter2-shared-hmac-secret"));
    let debug = format!("{c:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("[redacted]"));
    // …but it survives storage as JSON.
    let back: Client = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
}

#[test]
fn the_sector_is_the_one_host_of_the_redirect_uris() {
    let uris = |list: &[&str]| -> Vec<RedirectUri> {
        list.iter().map(|u| RedirectUri::new(*u).unwrap()).collect()
    };
    let mut c = Client::new(
        ClientId::new("c"),
        uris(&["https://rp.example/a", "https://rp.example:8443/b"]),
        0,
    );
    assert_eq!(c.sector_identifier().as_deref(), Some("rp.example"));
    c.redirect_uris = uris(&["https://rp.example/a", "https://other.example/b"]);
    assert_eq!(c.sector_identifier(), None, "two hosts");
    c.redirect_uris = uris(&["com.example.app:/cb"]);
    assert_eq!(c.sector_identifier(), None, "no host");
    c.redirect_uris = Vec::new();
    assert_eq!(c.sector_identifier(), None);
    for t in [SubjectType::Public, SubjectType::Pairwise] {
        assert_eq!(SubjectType::parse(t.as_str()), Some(t));
    }
}

#[test]
fn auth_methods_round_trip() {
    for &m in AuthMethod::ALL {
        assert_eq!(AuthMethod::parse(m.as_str()), Some(m));
        assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
    }
    assert!(AuthMethod::ClientSecretJwt.uses_secret());
    assert!(!AuthMethod::PrivateKeyJwt.uses_secret());
}
