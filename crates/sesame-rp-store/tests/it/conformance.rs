//! What every store must do, run against each real one. Two connections
//! (`a`, `b`) stand for two instances of the app.

use std::collections::HashMap;

use serde_json::json;
use sesame_rp::{LogoutRegistry, RefreshLease};
use sesame_rp_store::{AnyStore, Sweep};
use tower_sessions::SessionStore;
use tower_sessions::cookie::time::{Duration, OffsetDateTime};
use tower_sessions::session::{Id, Record};

fn record(expires_in: Duration, value: serde_json::Value) -> Record {
    Record {
        id: Id::default(),
        data: HashMap::from([("k".to_owned(), value)]),
        expiry_date: OffsetDateTime::now_utc() + expires_in,
    }
}

fn issuer() -> String {
    format!(
        "https://op-{}.example",
        sesame_core::random::token().unwrap()
    )
}

/// Every check, on the store at `url` (`sweeps`: it deletes rows itself,
/// rather than letting them expire as Redis does).
pub(crate) async fn suite(url: &str, sweeps: bool) {
    let a = AnyStore::connect(url).await.unwrap();
    let b = AnyStore::connect(url).await.unwrap();
    sessions_are_shared(&a, &b).await;
    colliding_ids_are_redrawn(&a, &b).await;
    expired_sessions_are_gone(&a, &b, sweeps).await;
    oversized_records_are_refused(url).await;
    logouts_are_shared(&a, &b).await;
    logout_token_ids_are_single_use(&a, &b).await;
    the_refresh_lease_has_one_holder(&a, &b).await;
    dpop_proofs_are_single_use(&a, &b, sweeps).await;
    if sweeps {
        sweeping_goes_in_bounded_batches(&a).await;
    }
}

async fn sessions_are_shared(a: &AnyStore, b: &AnyStore) {
    let mut r = record(Duration::hours(1), json!("one"));
    a.create(&mut r).await.unwrap();
    assert_eq!(b.load(&r.id).await.unwrap(), Some(r.clone()));
    r.data.insert("k".into(), json!({"two": [2]}));
    b.save(&r).await.unwrap();
    assert_eq!(a.load(&r.id).await.unwrap().unwrap().data, r.data);
    a.delete(&r.id).await.unwrap();
    assert_eq!(b.load(&r.id).await.unwrap(), None);
    assert_eq!(a.load(&Id::default()).await.unwrap(), None);
    // save of a record never created: an upsert (tower-sessions saves after cycling ids).
    let fresh = record(Duration::hours(1), json!("saved"));
    b.save(&fresh).await.unwrap();
    assert_eq!(a.load(&fresh.id).await.unwrap(), Some(fresh));
}

async fn colliding_ids_are_redrawn(a: &AnyStore, b: &AnyStore) {
    let mut first = record(Duration::hours(1), json!("first"));
    a.create(&mut first).await.unwrap();
    let mut second = record(Duration::hours(1), json!("second"));
    second.id = first.id;
    b.create(&mut second).await.unwrap();
    assert_ne!(
        second.id, first.id,
        "create must not overwrite a live session"
    );
    assert_eq!(a.load(&first.id).await.unwrap(), Some(first));
    assert_eq!(a.load(&second.id).await.unwrap(), Some(second));
}

async fn expired_sessions_are_gone(a: &AnyStore, b: &AnyStore, sweeps: bool) {
    // A live one loads; the brief one is not asked for before it expires (on a
    // loaded machine its one second may pass before the first load).
    let mut live = record(Duration::hours(1), json!("live"));
    a.create(&mut live).await.unwrap();
    assert!(b.load(&live.id).await.unwrap().is_some());
    let mut r = record(Duration::seconds(1), json!("brief"));
    a.create(&mut r).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(b.load(&r.id).await.unwrap(), None, "expired: not loaded");
    let swept = a.sweep(100).await.unwrap();
    if sweeps {
        assert!(swept >= 1, "the expired row is swept");
    }
}

async fn oversized_records_are_refused(url: &str) {
    let small = AnyStore::connect(url)
        .await
        .unwrap()
        .with_max_record_bytes(1024);
    let mut r = record(Duration::hours(1), json!("x".repeat(100)));
    small.create(&mut r).await.unwrap();
    let mut big = r.clone();
    big.data.insert("k".into(), json!("x".repeat(2000)));
    let err = small.save(&big).await.unwrap_err().to_string();
    assert!(err.contains("over the limit of 1024"), "{err}");
    assert_eq!(
        small.load(&r.id).await.unwrap(),
        Some(r),
        "the last good record stays"
    );
    big.id = Id::default();
    assert!(small.create(&mut big).await.is_err());
    assert_eq!(small.load(&big.id).await.unwrap(), None);
}

async fn logouts_are_shared(a: &AnyStore, b: &AnyStore) {
    let iss = issuer();
    let other = issuer();
    assert!(!b.is_ended(&iss, Some("sid-1"), "ann", 100).await);
    a.record(&iss, Some("sid-1"), Some("ann"), 200).await;
    assert!(b.is_ended(&iss, Some("sid-1"), "ann", 100).await, "by sid");
    assert!(
        b.is_ended(&iss, Some("sid-1"), "ann", 300).await,
        "a sid ends whenever"
    );
    assert!(
        !b.is_ended(&iss, Some("sid-2"), "ann", 100).await,
        "another sid"
    );
    assert!(
        !b.is_ended(&other, Some("sid-1"), "ann", 100).await,
        "another issuer"
    );
    // A logout of every session of a subject: those logged in until then.
    a.record(&iss, None, Some("bob"), 500).await;
    assert!(b.is_ended(&iss, Some("sid-9"), "bob", 400).await);
    assert!(b.is_ended(&iss, None, "bob", 500).await);
    assert!(
        !b.is_ended(&iss, None, "bob", 501).await,
        "signed in after it"
    );
    assert!(
        !b.is_ended(&iss, None, "carol", 400).await,
        "another subject"
    );
    assert!(
        !b.is_ended(&other, None, "bob", 400).await,
        "another issuer"
    );
    a.record(&iss, None, None, 600).await;
    assert!(
        !b.is_ended(&iss, Some("sid-3"), "dave", 0).await,
        "nothing named: nothing ended"
    );
}

async fn logout_token_ids_are_single_use(a: &AnyStore, b: &AnyStore) {
    let iss = issuer();
    let exp = {
        use sesame_core::Clock as _;
        sesame_core::SystemClock.now() + 120
    };
    assert!(a.first_use_of_jti(&iss, "jti-1", exp).await);
    assert!(
        !b.first_use_of_jti(&iss, "jti-1", exp).await,
        "replay at another instance"
    );
    assert!(!a.first_use_of_jti(&iss, "jti-1", exp).await);
    assert!(b.first_use_of_jti(&iss, "jti-2", exp).await);
    assert!(
        b.first_use_of_jti(&issuer(), "jti-1", exp).await,
        "per issuer"
    );
}

async fn dpop_proofs_are_single_use(a: &AnyStore, b: &AnyStore, sql: bool) {
    use sesame_core::Clock as _;
    use sesame_rp::SeenJti;
    let now = sesame_core::SystemClock.now();
    let key = sesame_core::random::token().unwrap();
    assert!(a.first_use(&key, now + 120, now).await.unwrap());
    assert!(
        !b.first_use(&key, now + 120, now).await.unwrap(),
        "replay at another instance"
    );
    assert!(!a.first_use(&key, now + 120, now + 60).await.unwrap());
    if sql {
        // Past its expiry the row no longer counts, swept or not (Redis expires
        // its keys itself, on the server's clock).
        assert!(b.first_use(&key, now + 400, now + 200).await.unwrap());
        assert!(!a.first_use(&key, now + 400, now + 200).await.unwrap());
    }
    let other = sesame_core::random::token().unwrap();
    assert!(b.first_use(&other, now + 120, now).await.unwrap());
}

async fn the_refresh_lease_has_one_holder(a: &AnyStore, b: &AnyStore) {
    let key = sesame_core::random::token().unwrap();
    assert!(a.try_acquire(&key, 30).await.unwrap());
    assert!(!b.try_acquire(&key, 30).await.unwrap(), "held by a");
    assert!(!a.try_acquire(&key, 30).await.unwrap(), "held, even by a");
    assert_eq!(b.outcome(&key).await.unwrap(), None, "no outcome yet");
    a.finish(&key, "{\"done\":1}", 30).await.unwrap();
    assert_eq!(
        b.outcome(&key).await.unwrap().as_deref(),
        Some("{\"done\":1}")
    );
    assert!(
        !b.try_acquire(&key, 30).await.unwrap(),
        "the outcome stands"
    );
    // A holder that died: its lease runs out and another takes over.
    let dead = sesame_core::random::token().unwrap();
    assert!(a.try_acquire(&dead, 1).await.unwrap());
    assert!(!b.try_acquire(&dead, 1).await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert!(
        b.try_acquire(&dead, 30).await.unwrap(),
        "taken over after expiry"
    );
    assert_eq!(a.outcome(&dead).await.unwrap(), None);
}

async fn sweeping_goes_in_bounded_batches(a: &AnyStore) {
    a.sweep(1000).await.unwrap();
    let mut live = record(Duration::hours(1), json!("live"));
    a.create(&mut live).await.unwrap();
    for _ in 0..25 {
        let mut r = record(Duration::seconds(-10), json!("old"));
        a.create(&mut r).await.unwrap();
    }
    assert_eq!(
        a.sweep(10).await.unwrap(),
        25,
        "three batches of at most 10"
    );
    assert_eq!(a.sweep(10).await.unwrap(), 0);
    assert!(
        a.load(&live.id).await.unwrap().is_some(),
        "live sessions stay"
    );
}
