//! Key rotation and unknown `kid`s (issue 14, `oidcc-client-test-signing-key-rotation`):
//! the first unknown `kid` after any fetch is refetched at once, repeated misses
//! are rate-limited, and concurrent misses share one refetch.

use sesame_core::{Expected, Nonce};

use super::*;

/// A sign-in with a fresh browser; its final status.
async fn sign_in(rig: &Rig) -> u16 {
    let (r, _) = follow(&browser(), &format!("{}/login?next=/account", rig.rp), "x").await;
    r.status().as_u16()
}

#[tokio::test]
async fn a_key_rotation_within_a_minute_of_a_login_is_followed_at_once() {
    let rig = rig(|_| {}, |b| b).await;
    assert_eq!(rig.login().await.status(), 200);
    assert_eq!(rig.fake.jwks_hits(), 1);
    // Ten seconds later the provider rotates to a new kid.
    rig.clock.advance(10);
    rig.fake.rotate_to(3);
    assert_eq!(sign_in(&rig).await, 200, "the login after the rotation");
    assert_eq!(rig.fake.jwks_hits(), 2, "one refetch for the new kid");
    // That refetch found its kid, so a second rotation right away is followed too.
    rig.clock.advance(10);
    rig.fake.rotate_to(4);
    assert_eq!(
        sign_in(&rig).await,
        200,
        "the login after a second rotation"
    );
    assert_eq!(rig.fake.jwks_hits(), 3);
    // Known kids need no fetch.
    assert_eq!(sign_in(&rig).await, 200);
    assert_eq!(rig.fake.jwks_hits(), 3);
}

#[tokio::test]
async fn a_kid_never_published_refetches_at_most_once_per_cooldown() {
    let rig = rig(|_| {}, |b| b).await;
    assert_eq!(rig.login().await.status(), 200);
    assert_eq!(rig.fake.jwks_hits(), 1);
    // Within the same minute, tokens signed with a key the provider never publishes.
    rig.clock.advance(5);
    *rig.fake.sign.lock().unwrap() = Sign::Key(2);
    let attacker = browser();
    let forged = || async {
        let (r, _) = follow(&attacker, &format!("{}/login?next=/account", rig.rp), "x").await;
        r.status().as_u16()
    };
    assert_ne!(forged().await, 200);
    assert_eq!(rig.fake.jwks_hits(), 2, "the first miss refetches at once");
    assert_ne!(forged().await, 200);
    rig.clock.advance(59);
    assert_ne!(forged().await, 200);
    assert_eq!(rig.fake.jwks_hits(), 2, "repeated misses wait the cooldown");
    rig.clock.advance(1);
    assert_ne!(forged().await, 200);
    assert_ne!(forged().await, 200);
    assert_eq!(rig.fake.jwks_hits(), 3, "one refetch per cooldown");
    let me = attacker.get(format!("{}/me", rig.rp)).send().await.unwrap();
    assert_eq!(me.status(), 401, "never signed in");
    // The real key still works, without a fetch.
    *rig.fake.sign.lock().unwrap() = Sign::Key(0);
    assert_eq!(sign_in(&rig).await, 200);
    assert_eq!(rig.fake.jwks_hits(), 3);
}

#[tokio::test]
async fn concurrent_misses_share_one_refetch() {
    let fake = fake_op().await;
    *fake.nonce.lock().unwrap() = "n-1".into();
    *fake.edit.lock().unwrap() = Arc::new(|c, _| {
        let c = c.as_object_mut().unwrap();
        c.remove("at_hash");
        c.remove("c_hash");
    });
    let oidc = OidcClient::builder(Issuer::new(fake.base.clone()).unwrap(), "rp")
        .with_client_secret(SECRET)
        .with_redirect_uri("http://127.0.0.1:1/callback".parse().unwrap())
        .build()
        .await
        .unwrap();
    let nonce = Nonce::new("n-1");
    let expected = Expected {
        nonce: Some(&nonce),
        ..Expected::default()
    };
    oidc.validate_id_token(&id_token(&fake, false), &expected)
        .await
        .unwrap();
    assert_eq!(fake.jwks_hits(), 1);
    fake.rotate_to(3);
    let token = id_token(&fake, false);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (oidc, token) = (oidc.clone(), token.clone());
        tasks.spawn(async move {
            let nonce = Nonce::new("n-1");
            let expected = Expected {
                nonce: Some(&nonce),
                ..Expected::default()
            };
            oidc.validate_id_token(&token, &expected).await.is_ok()
        });
    }
    while let Some(ok) = tasks.join_next().await {
        assert!(ok.unwrap(), "every concurrent validation succeeds");
    }
    assert_eq!(fake.jwks_hits(), 2, "eight misses, one refetch");
}

/// REVIEW S26: while no key set is cached, a failed JWKS fetch is not
/// retried for five seconds: sign-ins in that window fail at once (500, as any key-fetch failure)
/// instead of each queueing an outbound fetch behind the lock.
#[tokio::test]
async fn a_failed_first_jwks_fetch_is_not_retried_for_five_seconds() {
    let rig = rig(|f| f.jwks_down.store(true, Ordering::SeqCst), |b| b).await;
    assert_eq!(sign_in(&rig).await, 500);
    assert_eq!(rig.fake.jwks_hits(), 1);
    for _ in 0..5 {
        assert_eq!(sign_in(&rig).await, 500);
    }
    rig.clock.advance(4);
    assert_eq!(sign_in(&rig).await, 500);
    assert_eq!(rig.fake.jwks_hits(), 1, "no fetch within the back-off");
    rig.fake.jwks_down.store(false, Ordering::SeqCst);
    rig.clock.advance(1);
    assert_eq!(sign_in(&rig).await, 200, "retried after the back-off");
    assert_eq!(rig.fake.jwks_hits(), 2);
}
