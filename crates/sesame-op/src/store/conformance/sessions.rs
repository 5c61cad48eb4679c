//! Sessions and JTIs, consents, interactions, sweeping, and the clients of a
//! session kept for back-channel logout.

use sesame_core::{ClientId, Scopes, Subject};

use super::{NOW, code, grant, id};
use crate::model::{AccessTokenRecord, Consent, Interaction};
use crate::store::{SESSION_CLIENT_RETENTION, Store};

pub(super) async fn sessions_and_jtis(store: &dyn Store) {
    let sid = id("sid");
    let (a, b) = (id("client-a"), id("client-b"));
    store
        .save_code(&id("code"), &code(grant(&a, Some(&sid)), NOW + 60))
        .await
        .unwrap();
    store
        .save_access_token(
            &id("at"),
            &AccessTokenRecord {
                grant: grant(&b, Some(&sid)),
                issued_at: NOW,
                expires_at: NOW + 60,
            },
        )
        .await
        .unwrap();
    store
        .save_access_token(
            &id("at"),
            &AccessTokenRecord {
                grant: grant(&b, Some(&sid)),
                issued_at: NOW,
                expires_at: NOW + 60,
            },
        )
        .await
        .unwrap();
    store
        .save_access_token(
            &id("at"),
            &AccessTokenRecord {
                grant: grant("unrelated", Some("other-sid")),
                issued_at: NOW,
                expires_at: NOW + 60,
            },
        )
        .await
        .unwrap();
    let mut clients: Vec<String> = store
        .clients_of_session(&sid)
        .await
        .unwrap()
        .into_iter()
        .map(ClientId::into_string)
        .collect();
    clients.sort();
    let mut want = vec![a, b];
    want.sort();
    assert_eq!(clients, want, "clients of a session, each once");

    let jti = id("jti");
    assert!(
        store.remember_jti(&jti, NOW + 60).await.unwrap(),
        "first jti is new"
    );
    assert!(
        !store.remember_jti(&jti, NOW + 60).await.unwrap(),
        "second jti is a replay"
    );
}

pub(super) async fn consents(store: &dyn Store) {
    let subject = Subject::new(id("user"));
    let client = ClientId::new(id("client"));
    let c = Consent {
        subject: subject.clone(),
        client_id: client.clone(),
        scopes: Scopes::parse("openid email").unwrap(),
        claims: vec!["name".into()],
        expires_at: NOW + 60,
    };
    assert!(
        store
            .find_consent(&subject, &client, NOW)
            .await
            .unwrap()
            .is_none()
    );
    store.save_consent(&c).await.unwrap();
    assert_eq!(
        store.find_consent(&subject, &client, NOW).await.unwrap(),
        Some(c.clone())
    );
    assert!(
        store
            .find_consent(&subject, &client, NOW + 60)
            .await
            .unwrap()
            .is_none(),
        "consent expires"
    );
    let wider = Consent {
        scopes: Scopes::parse("openid email profile").unwrap(),
        ..c.clone()
    };
    store.save_consent(&wider).await.unwrap();
    assert_eq!(
        store.find_consent(&subject, &client, NOW).await.unwrap(),
        Some(wider),
        "save replaces"
    );
    store.revoke_consent(&subject, &client).await.unwrap();
    assert!(
        store
            .find_consent(&subject, &client, NOW)
            .await
            .unwrap()
            .is_none()
    );
}

pub(super) async fn interactions(store: &dyn Store) {
    let key = id("ix");
    let i = Interaction {
        kind: crate::model::InteractionKind::Consent,
        auth_after: None,
        params: vec![
            ("client_id".into(), "c".into()),
            ("scope".into(), "openid".into()),
        ],
        subject: Subject::new("alice"),
        csrf: "x".into(),
        expires_at: NOW + 60,
    };
    store.save_interaction(&key, &i).await.unwrap();
    assert_eq!(
        store.take_interaction(&key, NOW).await.unwrap(),
        Some(i.clone())
    );
    assert!(
        store.take_interaction(&key, NOW).await.unwrap().is_none(),
        "single use"
    );
    let old = id("ix");
    store.save_interaction(&old, &i).await.unwrap();
    assert!(
        store
            .take_interaction(&old, NOW + 60)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
}

pub(super) async fn sweep(store: &dyn Store) {
    let key = id("at");
    store
        .save_access_token(
            &key,
            &AccessTokenRecord {
                grant: grant("c", None),
                issued_at: NOW,
                expires_at: NOW + 1,
            },
        )
        .await
        .unwrap();
    let live = id("at");
    store
        .save_access_token(
            &live,
            &AccessTokenRecord {
                grant: grant("c", None),
                issued_at: NOW,
                expires_at: NOW + 10_000_000,
            },
        )
        .await
        .unwrap();
    let removed = store.sweep(NOW + 100).await.unwrap();
    assert!(removed >= 1, "sweep removes expired records");
    assert!(
        store.find_access_token(&live, NOW).await.unwrap().is_some(),
        "sweep keeps live records"
    );
}

/// S5: the clients of a session are remembered after their codes and tokens
/// are swept (back-channel logout must still reach them), until the retention ends.
pub(super) async fn session_clients_outlive_their_tokens(store: &dyn Store) {
    let sid = id("sid");
    let cid = id("rp");
    store
        .save_code(&id("code"), &code(grant(&cid, Some(&sid)), NOW + 60))
        .await
        .unwrap();
    store.sweep(NOW + 3_600).await.unwrap();
    assert_eq!(
        store.clients_of_session(&sid).await.unwrap(),
        vec![ClientId::new(&cid)],
        "a client whose code was swept is still a client of the session"
    );
    store
        .sweep(NOW + 61 + SESSION_CLIENT_RETENTION)
        .await
        .unwrap();
    assert!(
        store.clients_of_session(&sid).await.unwrap().is_empty(),
        "forgotten after the retention"
    );
}
