//! Device authorizations (RFC 8628): lookup by user code, one live holder
//! per user code, compare-and-swap updates with one winner, sweeping.

use std::sync::Arc;

use sesame_core::{ClientId, Scopes};

use super::{NOW, grant, id};
use crate::model::{DeviceAuthorization, DeviceState};
use crate::store::{DEVICE_RETENTION, Store};

fn record(user_code_key: &str, expires_at: i64) -> DeviceAuthorization {
    DeviceAuthorization {
        client_id: ClientId::new("tv"),
        scopes: Scopes::parse("openid profile").unwrap(),
        user_code_key: user_code_key.to_owned(),
        user_code: "BCDF-GHJK".into(),
        expires_at,
        interval: 5,
        last_poll: None,
        state: DeviceState::Pending,
        revision: 0,
    }
}

pub(super) async fn device_authorizations(store: &dyn Store) {
    let key = id("device");
    let ucode = id("ucode");
    let r = record(&ucode, NOW + 600);
    assert!(
        store
            .save_device_authorization(&key, &r, NOW)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .find_device_authorization(&key)
            .await
            .unwrap()
            .as_ref(),
        Some(&r),
        "a saved device authorization is found by its key"
    );
    assert_eq!(
        store
            .find_device_authorization(&id("device"))
            .await
            .unwrap(),
        None
    );
    let (found_key, found) = store
        .find_device_by_user_code(&ucode, NOW)
        .await
        .unwrap()
        .expect("a live device authorization is found by its user code");
    assert_eq!((found_key.as_str(), &found), (key.as_str(), &r));
    assert!(
        store
            .find_device_by_user_code(&ucode, NOW + 600)
            .await
            .unwrap()
            .is_none(),
        "an expired device authorization is not found by its user code"
    );
    // A live user code is held by one authorization only.
    let other = id("device");
    assert!(
        !store
            .save_device_authorization(&other, &record(&ucode, NOW + 900), NOW)
            .await
            .unwrap(),
        "a second live authorization with the same user code must be refused"
    );
    assert!(
        store
            .find_device_authorization(&other)
            .await
            .unwrap()
            .is_none()
    );
    // Compare-and-swap on the revision.
    let approved = DeviceAuthorization {
        state: DeviceState::Approved(Box::new(grant("tv", None))),
        last_poll: Some(NOW + 5),
        revision: 1,
        ..r.clone()
    };
    assert!(
        store
            .update_device_authorization(&key, &approved)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .find_device_authorization(&key)
            .await
            .unwrap()
            .as_ref(),
        Some(&approved)
    );
    assert!(
        !store
            .update_device_authorization(&key, &approved)
            .await
            .unwrap(),
        "an update over a stale revision must fail"
    );
    let skipping = DeviceAuthorization {
        revision: 5,
        ..approved.clone()
    };
    assert!(
        !store
            .update_device_authorization(&key, &skipping)
            .await
            .unwrap()
    );
    assert!(
        !store
            .update_device_authorization(&id("device"), &approved)
            .await
            .unwrap(),
        "updating a missing authorization changes nothing"
    );
    assert_eq!(
        store
            .find_device_authorization(&key)
            .await
            .unwrap()
            .as_ref(),
        Some(&approved)
    );
    // Once the first expired, its user code may be given again (a store
    // may then drop the expired one).
    assert!(
        store
            .save_device_authorization(&other, &record(&ucode, NOW + 1_300), NOW + 700)
            .await
            .unwrap(),
        "an expired authorization no longer holds its user code"
    );
}

pub(super) async fn concurrent_device_updates_have_one_winner(store: Arc<dyn Store>) {
    let key = id("device");
    let r = record(&id("ucode"), NOW + 600);
    assert!(
        store
            .save_device_authorization(&key, &r, NOW)
            .await
            .unwrap()
    );
    let tasks: Vec<_> = (0..8u64)
        .map(|i| {
            let store = Arc::clone(&store);
            let key = key.clone();
            let next = DeviceAuthorization {
                state: DeviceState::Redeemed {
                    grant_id: format!("g{i}"),
                },
                revision: 1,
                ..r.clone()
            };
            tokio::spawn(async move { store.update_device_authorization(&key, &next).await })
        })
        .collect();
    let mut winners = 0;
    for t in tasks {
        if t.await.unwrap().unwrap() {
            winners += 1;
        }
    }
    assert_eq!(
        winners, 1,
        "concurrent updates of one revision: exactly one wins"
    );
}

pub(super) async fn device_sweep(store: &dyn Store) {
    let key = id("device");
    let r = record(&id("ucode"), NOW + 10);
    assert!(
        store
            .save_device_authorization(&key, &r, NOW)
            .await
            .unwrap()
    );
    store.sweep(NOW + 10 + DEVICE_RETENTION - 1).await.unwrap();
    assert!(
        store
            .find_device_authorization(&key)
            .await
            .unwrap()
            .is_some(),
        "an expired authorization is kept for DEVICE_RETENTION (late polls see expired_token)"
    );
    store.sweep(NOW + 10 + DEVICE_RETENTION).await.unwrap();
    assert!(
        store
            .find_device_authorization(&key)
            .await
            .unwrap()
            .is_none(),
        "the sweep deletes device authorizations DEVICE_RETENTION after expiry"
    );
}
