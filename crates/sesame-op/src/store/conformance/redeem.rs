//! [`GrantStore::redeem_code`](crate::store::GrantStore::redeem_code): a
//! code's redemption saves its tokens only with the code's first use.

use std::sync::Arc;

use super::{NOW, code, grant, id};
use crate::model::{AccessTokenRecord, CodeUse, Grant, RefreshTokenRecord};
use crate::store::{IssuedTokens, Store};

fn issued(grant: &Grant) -> IssuedTokens {
    IssuedTokens {
        access: (
            id("at"),
            AccessTokenRecord {
                grant: grant.clone(),
                issued_at: NOW,
                expires_at: NOW + 60,
            },
        ),
        refresh: Some((
            id("rt"),
            RefreshTokenRecord {
                grant: grant.clone(),
                issued_at: NOW,
                expires_at: NOW + 3600,
            },
        )),
    }
}

async fn saved(store: &dyn Store, tokens: &IssuedTokens) -> (bool, bool) {
    let access = store
        .find_access_token(&tokens.access.0, NOW)
        .await
        .unwrap();
    let refresh = match &tokens.refresh {
        Some((key, _)) => store.find_refresh_token(key, NOW).await.unwrap(),
        None => None,
    };
    (access.is_some(), refresh.is_some())
}

pub(super) async fn redeeming_a_code_saves_its_tokens_once(store: &dyn Store) {
    let sid = id("sid");
    let client = id("client");
    let g = grant(&client, Some(&sid));
    let key = id("code");
    store
        .save_code(&key, &code(g.clone(), NOW + 60))
        .await
        .unwrap();
    let first = issued(&g);
    assert!(
        store.redeem_code(&key, NOW, &first).await.unwrap(),
        "a live code is redeemed"
    );
    assert_eq!(saved(store, &first).await, (true, true), "with its tokens");
    let at = store.find_access_token(&first.access.0, NOW).await.unwrap();
    assert_eq!(
        at.as_ref(),
        Some(&first.access.1),
        "the access token round-trips"
    );
    assert!(
        store
            .clients_of_session(&sid)
            .await
            .unwrap()
            .iter()
            .any(|c| c.as_str() == client),
        "the session's client is recorded"
    );
    // Once redeemed, the code is used: another redemption saves nothing and
    // consuming it reports the replay.
    let second = issued(&g);
    assert!(!store.redeem_code(&key, NOW, &second).await.unwrap());
    assert_eq!(saved(store, &second).await, (false, false), "nothing saved");
    match store.consume_code(&key, NOW).await.unwrap() {
        Some(CodeUse::Replayed { grant_id }) => assert_eq!(grant_id, g.grant_id),
        other => panic!("a redeemed code is used, got {other:?}"),
    }
    // Expired, unknown, consumed first, or of a revoked grant: refused, and
    // nothing saved.
    let expired = id("code");
    store
        .save_code(&expired, &code(g.clone(), NOW - 1))
        .await
        .unwrap();
    let consumed = id("code");
    store
        .save_code(&consumed, &code(g.clone(), NOW + 60))
        .await
        .unwrap();
    assert!(matches!(
        store.consume_code(&consumed, NOW).await.unwrap(),
        Some(CodeUse::First(_))
    ));
    let revoked_grant = grant(&client, None);
    let revoked = id("code");
    store
        .save_code(&revoked, &code(revoked_grant.clone(), NOW + 60))
        .await
        .unwrap();
    store
        .revoke_grant(&revoked_grant.grant_id, NOW + 3600)
        .await
        .unwrap();
    for (what, key) in [
        ("expired", expired),
        ("unknown", id("code")),
        ("consumed", consumed),
        ("revoked", revoked),
    ] {
        let tokens = issued(&g);
        assert!(
            !store.redeem_code(&key, NOW, &tokens).await.unwrap(),
            "{what} code redeemed"
        );
        assert_eq!(
            saved(store, &tokens).await,
            (false, false),
            "{what}: nothing saved"
        );
    }
}

/// Redemptions and plain consumptions racing for one code: one wins, and
/// only the winner's tokens exist.
pub(super) async fn concurrent_redemptions_have_one_winner(store: Arc<dyn Store>) {
    let g = grant("c", None);
    let key = id("code");
    store
        .save_code(&key, &code(g.clone(), NOW + 60))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (store, key, tokens) = (Arc::clone(&store), key.clone(), issued(&g));
        tasks.push(tokio::spawn(async move {
            let won = if i % 4 == 3 {
                matches!(
                    store.consume_code(&key, NOW).await.unwrap(),
                    Some(CodeUse::First(_))
                )
            } else {
                store.redeem_code(&key, NOW, &tokens).await.unwrap()
            };
            (won, i % 4 == 3, tokens)
        }));
    }
    let mut winners = 0;
    for t in tasks {
        let (won, consumed_only, tokens) = t.await.unwrap();
        winners += usize::from(won);
        let expected = won && !consumed_only;
        assert_eq!(
            saved(&*store, &tokens).await,
            (expected, expected),
            "only a winning redemption's tokens are saved"
        );
    }
    assert_eq!(winners, 1, "exactly one of the racing uses wins the code");
}
