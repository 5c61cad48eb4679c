//! Memory after login bursts (issue 15 part 3): each password check uses
//! Argon2's 19 MiB of working memory from a pool of one buffer per core, so
//! what a burst of logins leaves resident is bounded however long it runs.

use crate::rate_limits::{grant, prepare, process_with, rss_kib};
use crate::support::*;

/// Argon2's working memory per check with the default parameters.
const ARGON2_KIB: i64 = 19 * 1024;
/// Room for everything else a thousand logins leave (sessions, caches, the
/// allocator's own slack).
const SLACK_KIB: i64 = 12 * 1024;

/// The figure is steady RSS under 64 MiB after 1,000 logins, for the
/// release build (bench/compare.sh --logins measures it: BENCHMARKS.md); a
/// debug binary starts ~18 MiB larger, so this test bounds the growth: at most
/// one Argon2 buffer per core, plus slack. Without the pool
/// (`SESAME_ARGON2_POOL=off`) the same run grows by ~400 MiB.
#[tokio::test]
#[ignore = "measures the server's RSS: run alone (CI does, after the suite: cargo test -p sesame-server --all-features --test it -- --ignored)"]
async fn rss_after_1000_logins_grows_by_at_most_one_argon2_buffer_per_core() {
    let dir = TempDir::new();
    let db = dir.db();
    let client = prepare(&db).await;
    // Limits that a thousand logins of one user from one address would hit.
    let toml = "password_grant = true\n[rate_limits]\nlogin_per_username_per_minute = 100000\n\
                login_per_ip_per_minute = 100000\nlogin_queue = 100000\n";
    // No MALLOC_MMAP_THRESHOLD_: the default allocator settings are what is measured.
    let (running, base) = process_with(&dir, "memory", &db, toml, &[]).await;
    let pid = running.child.id();
    let idle = rss_kib(pid);
    let (mut signed_in, mut next) = (0, 0);
    let mut set = tokio::task::JoinSet::new();
    while signed_in < 1_000 {
        while set.len() < 16 && next < 1_000 {
            next += 1;
            let (base, client) = (base.clone(), client.clone());
            set.spawn(async move {
                grant(&base, (&client.0, &client.1), "", "alice", "alice-password")
                    .await
                    .status()
                    .as_u16()
            });
        }
        let status = set.join_next().await.unwrap().unwrap();
        assert_eq!(status, 200, "login {signed_in}");
        signed_in += 1;
    }
    let after = rss_kib(pid);
    eprintln!("RSS of the server: {idle} KiB idle, {after} KiB after 1,000 logins 16 at a time");
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let bound = i64::try_from(cores).unwrap() * ARGON2_KIB + SLACK_KIB;
    assert!(
        after - idle <= bound,
        "RSS grew by {} KiB over 1,000 logins, more than {bound} KiB ({cores} Argon2 buffers and slack)",
        after - idle
    );
}
