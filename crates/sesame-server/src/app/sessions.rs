//! Where `sesame app` keeps its sessions: in memory (the default), or in a
//! store its instances share (`--session-store sqlite://FILE | postgres://… |
//! redis://…`), which then also holds the back-channel logouts and the
//! refresh lease — so two instances share a login, a logout and a refresh.

use std::time::Duration;

use axum::Router;
use sesame_rp_store::AnyStore;

use super::AppError;

/// How often expired sessions are deleted from a shared store.
const SWEEP_EVERY: Duration = Duration::from_secs(300);

/// The shared store `url` names; `None` for `memory` (or no URL).
pub(super) async fn open(url: Option<&str>) -> Result<Option<AnyStore>, AppError> {
    let Some(url) = url
        .map(str::trim)
        .filter(|u| !u.is_empty() && *u != "memory")
    else {
        return Ok(None);
    };
    let store = AnyStore::connect(url)
        .await
        .map_err(|e| AppError(format!("--session-store: {e}")))?;
    sesame_rp_store::spawn_sweeper(store.clone(), SWEEP_EVERY);
    tracing::info!(store = %kind(&store), "sessions in a shared store");
    Ok(Some(store))
}

fn kind(store: &AnyStore) -> &'static str {
    match store {
        AnyStore::Sql(_) => "sql",
        AnyStore::Redis(_) => "redis",
    }
}

/// `router` under the session layer on `store` (memory when `None`).
pub(super) fn layer(router: Router, store: Option<AnyStore>, secure: bool) -> Router {
    match store {
        Some(s) => router.layer(sesame_rp::session_layer_with(s, secure)),
        None => router.layer(sesame_rp::session_layer(secure)),
    }
}

/// `builder` with the store's logout registry (memory when `None`).
pub(super) fn registry(
    builder: sesame_rp::OidcClientBuilder,
    store: &Option<AnyStore>,
) -> sesame_rp::OidcClientBuilder {
    match store {
        Some(s) => builder.with_logout_registry(s.clone()),
        None => builder,
    }
}

/// The refresh layer, its single-flight shared through the store's lease.
pub(super) fn refresh(
    oidc: &sesame_rp::OidcClient,
    store: Option<&AnyStore>,
) -> sesame_rp::SessionRefresh {
    let refresh = sesame_rp::SessionRefresh::new(oidc.clone());
    match store {
        Some(s) => refresh.with_lease(s.clone()),
        None => refresh,
    }
}
