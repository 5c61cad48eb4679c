use sesame_core::{Issuer, JwkSet, ProviderMetadata};

use crate::support::*;

#[tokio::test]
async fn discovery_document_is_valid_and_points_at_live_endpoints() {
    let h = start().await;
    let r = h
        .http
        .get(h.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let m = ProviderMetadata::from_json(&r.bytes().await.unwrap()).unwrap();
    m.validate(&Issuer::new(h.base.clone()).unwrap()).unwrap();
    assert_eq!(
        m.code_challenge_methods_supported.as_deref(),
        Some(&["S256".to_owned()][..])
    );
    assert_eq!(m.authorization_response_iss_parameter_supported, Some(true));
    assert!(m.scopes_supported.unwrap().contains(&"groups".to_owned()));
    // Every advertised endpoint answers (not 404).
    for url in [m.jwks_uri.unwrap(), m.userinfo_endpoint.unwrap()] {
        let r = h.http.get(&url).send().await.unwrap();
        assert_ne!(r.status(), 404, "{url}");
    }
    for url in [
        m.token_endpoint.unwrap(),
        m.introspection_endpoint.unwrap(),
        m.revocation_endpoint.unwrap(),
    ] {
        let r = h.http.post(&url).form(&[("x", "y")]).send().await.unwrap();
        assert_ne!(r.status(), 404, "{url}");
    }
}

#[tokio::test]
async fn jwks_publishes_active_and_next_keys_with_kid_alg_use() {
    let h = start().await;
    let body = h
        .http
        .get(h.url("/jwks"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let jwks = JwkSet::from_json(&body).unwrap();
    // RS256, ES256, EdDSA: one active and one next key each.
    assert_eq!(jwks.keys.len(), 6);
    for k in &jwks.keys {
        assert!(k.kid.is_some() && k.alg.is_some());
        assert_eq!(k.use_.as_deref(), Some("sig"));
        assert_eq!(k.thumbprint().unwrap(), k.kid.clone().unwrap());
    }
    let raw: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(!raw.to_string().contains("\"d\""), "no private members");
}

#[tokio::test]
async fn rotation_is_staged() {
    let h = start().await;
    let before = JwkSet::from_json(
        &h.http
            .get(h.url("/jwks"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    let client = h.client("rot", |_| {}).await;
    let q = h.code(client.client_id.as_str(), "alice", &[]).await;
    let tokens = json(h.redeem("rot", &q).await).await;
    let old_kid = h
        .validate(
            "rot",
            tokens["id_token"].as_str().unwrap(),
            Some("nonce-123"),
        )
        .await
        .header
        .kid
        .unwrap();

    // Too soon: the next key was published at start-up, caches may not have it yet.
    assert!(matches!(
        h.provider
            .rotate_keys(sesame_core::JwsAlgorithm::RS256)
            .await,
        Err(sesame_op::KeysError::NextKeyTooNew { .. })
    ));
    h.clock.advance(361);
    assert_eq!(
        h.provider
            .rotate_keys(sesame_core::JwsAlgorithm::RS256)
            .await
            .unwrap(),
        sesame_op::Rotation::Promoted
    );
    let after = JwkSet::from_json(
        &h.http
            .get(h.url("/jwks"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    // The old active key is still published (retired), a new next key appeared.
    assert!(
        after
            .keys
            .iter()
            .any(|k| k.kid.as_deref() == Some(old_kid.as_str()))
    );
    assert_eq!(after.keys.len(), before.keys.len() + 1);
    // The key that signs now was published before the rotation.
    let q = h.code("rot", "alice", &[]).await;
    let tokens = json(h.redeem("rot", &q).await).await;
    let new_kid = h
        .validate(
            "rot",
            tokens["id_token"].as_str().unwrap(),
            Some("nonce-123"),
        )
        .await
        .header
        .kid
        .unwrap();
    assert_ne!(new_kid, old_kid);
    assert!(
        before
            .keys
            .iter()
            .any(|k| k.kid.as_deref() == Some(new_kid.as_str()))
    );
}

/// A manual rotation takes the scheduled rotation's lease: while another
/// instance holds it, nothing changes and the caller is told to try again;
/// once it is free, the rotation runs.
#[tokio::test]
async fn a_manual_rotation_waits_for_the_rotation_lease() {
    use sesame_core::Clock as _;
    let h = start().await;
    h.clock.advance(361);
    let now = h.clock.now();
    assert!(
        h.store
            .take_lease("key-rotation", "another-instance", now, 60)
            .await
            .unwrap()
    );
    let before = h.store.list_keys().await.unwrap();
    assert!(matches!(
        h.provider
            .rotate_keys(sesame_core::JwsAlgorithm::RS256)
            .await,
        Err(sesame_op::KeysError::RotationInProgress)
    ));
    let unchanged = h.store.list_keys().await.unwrap();
    let states = |keys: &[sesame_op::model::StoredKey]| {
        let mut v: Vec<_> = keys.iter().map(|k| (k.kid.clone(), k.state)).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    assert_eq!(states(&before), states(&unchanged));
    h.store
        .release_lease("key-rotation", "another-instance")
        .await
        .unwrap();
    assert_eq!(
        h.provider
            .rotate_keys(sesame_core::JwsAlgorithm::RS256)
            .await
            .unwrap(),
        sesame_op::Rotation::Promoted
    );
}
