//! Scheduled key rotation across real `sesame serve` processes sharing one
//! database (PostgreSQL, and SQLite on one file): one rotation per interval,
//! on one instance; both publish the same JWKS; tokens signed before a
//! rotation still verify against it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sesame_core::{JwkSet, JwsAlgorithm, KeySet};

use crate::support::*;

/// The rotation interval of these tests, in seconds (the publish delay is 1 s).
const INTERVAL: i64 = 2;

/// A `sesame serve` process logging JSON to `log`, killed on drop.
struct Logged(Child);

impl Logged {
    fn start(db: &str, port: u16, env: &[(&str, &str)], log: &Path) -> Self {
        let mut command = Command::new(BIN);
        command
            .args(["--database", db, "serve", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["--issuer", &format!("http://127.0.0.1:{port}")])
            .env_remove("SESAME_CONFIG")
            .env("SESAME_LOG_FORMAT", "json")
            .env("SESAME_KEY_ROTATION_INTERVAL", INTERVAL.to_string())
            .env("SESAME_KEY_PUBLISH_DELAY", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap());
        for (k, v) in env {
            command.env(k, v);
        }
        Self(command.spawn().unwrap())
    }

    /// SIGTERM, then waits for the exit (the log is complete after it).
    fn stop(mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = self.0.wait();
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `sesame ARGS…` with `env`, which must succeed: its stdout.
fn cli(db: &str, env: &[(&str, &str)], args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(["--database", db])
        .args(args)
        .env_remove("SESAME_CONFIG")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `sesame keys list --json`: (alg, state, kid, state_changed_at).
fn keys(db: &str, env: &[(&str, &str)]) -> Vec<(String, String, String, i64)> {
    let listed: serde_json::Value =
        serde_json::from_str(&cli(db, env, &["keys", "list", "--json"])).unwrap();
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["alg"].as_str().unwrap().to_owned(),
                k["state"].as_str().unwrap().to_owned(),
                k["kid"].as_str().unwrap().to_owned(),
                k["state_changed_at"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn jwks(base: &str) -> String {
    reqwest::get(format!("{base}/jwks"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The JWKS both instances publish once they agree (a rotation may fall
/// between the two fetches: fetched again until they match).
async fn agreed_jwks(a: &str, b: &str) -> JwkSet {
    for _ in 0..100 {
        let (ja, jb) = (jwks(a).await, jwks(b).await);
        if ja == jb {
            return JwkSet::from_json(ja.as_bytes()).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{a} and {b} never published the same JWKS");
}

/// The "scheduled key rotation" log lines of one process: (alg, new signing kid).
fn rotations_logged(log: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "scheduled key rotation")
        .map(|v| {
            (
                v["fields"]["alg"].as_str().unwrap().to_owned(),
                v["fields"]["signing"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Two instances started together on `db`: a token signed before the
/// rotations, rotations until each algorithm has rotated at least twice,
/// then the checks.
async fn two_instances_rotate_once_per_interval(db: &str, env: &[(&str, &str)]) {
    cli(
        db,
        env,
        &[
            "users",
            "add",
            "--username",
            "pat",
            "--password",
            "pat-password",
        ],
    );
    let client: serde_json::Value = serde_json::from_str(&cli(
        db,
        env,
        &[
            "clients",
            "add",
            "--name",
            "Rot",
            "--redirect-uri",
            "https://rp.example/cb",
            "--skip-consent",
            "--json",
        ],
    ))
    .unwrap();
    let dir = TempDir::new();
    let logs = [dir.0.join("a.log"), dir.0.join("b.log")];
    let (pa, pb) = (free_port(), free_port());
    let a = Logged::start(db, pa, env, &logs[0]);
    let b = Logged::start(db, pb, env, &logs[1]);
    let (base_a, base_b) = (
        format!("http://127.0.0.1:{pa}"),
        format!("http://127.0.0.1:{pb}"),
    );
    wait_healthy(&base_a).await;
    wait_healthy(&base_b).await;
    // A token signed before any (or the first) rotation.
    let id = client["client_id"].as_str().unwrap();
    let secret = client["client_secret"].as_str().unwrap();
    let tokens = code_flow(
        &base_a,
        (id, secret),
        "https://rp.example/cb",
        "openid",
        ("pat", "pat-password"),
    )
    .await;
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    // Rotations happen on their own; wait until each algorithm has had two
    // (the interval is 2 s; a generous bound for a loaded machine).
    let retired = |keys: &[(String, String, String, i64)], alg: &str| {
        keys.iter()
            .filter(|k| k.0 == alg && k.1 == "retired")
            .count()
    };
    let mut rotated = false;
    for _ in 0..120 {
        let now = keys(db, env);
        if ["RS256", "ES256", "EdDSA"]
            .iter()
            .all(|a| retired(&now, a) >= 2)
        {
            rotated = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(rotated, "no two scheduled rotations: {:?}", keys(db, env));
    // Both publish the same JWKS, which still verifies the early token.
    let published = agreed_jwks(&base_a, &base_b).await;
    let verified = sesame_core::jws::verify(
        &id_token,
        &KeySet::from_jwks(&published),
        &[
            JwsAlgorithm::RS256,
            JwsAlgorithm::ES256,
            JwsAlgorithm::EdDSA,
        ],
        None,
    );
    assert!(verified.is_ok(), "{verified:?}");
    let early_kid = verified.unwrap().header.kid.unwrap();
    // A token signed now is signed by another key, in the same JWKS.
    let later = code_flow(
        &base_b,
        (id, secret),
        "https://rp.example/cb",
        "openid",
        ("pat", "pat-password"),
    )
    .await;
    let later = later["id_token"].as_str().unwrap();
    let published = agreed_jwks(&base_a, &base_b).await;
    let verified = sesame_core::jws::verify(
        later,
        &KeySet::from_jwks(&published),
        &[JwsAlgorithm::RS256],
        None,
    )
    .unwrap();
    assert_ne!(verified.header.kid.unwrap(), early_kid);
    a.stop();
    b.stop();
    // Once per interval: per algorithm, the retirements (one per rotation)
    // are at least INTERVAL seconds apart, and there is one Active and one
    // Next key.
    let after = keys(db, env);
    for alg in ["RS256", "ES256", "EdDSA"] {
        let mut times: Vec<i64> = after
            .iter()
            .filter(|k| k.0 == alg && k.1 == "retired")
            .map(|k| k.3)
            .collect();
        times.sort_unstable();
        assert!(
            times.windows(2).all(|w| w[1] - w[0] >= INTERVAL),
            "{alg}: two rotations within {INTERVAL} s: {times:?}"
        );
        for state in ["active", "next"] {
            let n = after.iter().filter(|k| k.0 == alg && k.1 == state).count();
            assert_eq!(n, 1, "{alg} {state}: {after:?}");
        }
    }
    // On one instance: every rotation is logged once, by one of the two,
    // and the logs account for every retired key.
    let logged: Vec<Vec<(String, String)>> = logs.iter().map(|l| rotations_logged(l)).collect();
    let mut by_kid: BTreeMap<String, usize> = BTreeMap::new();
    for (_, kid) in logged.iter().flatten() {
        *by_kid.entry(kid.clone()).or_default() += 1;
    }
    assert!(by_kid.values().all(|&n| n == 1), "{logged:?}");
    for alg in ["RS256", "ES256", "EdDSA"] {
        let n = logged.iter().flatten().filter(|(a, _)| a == alg).count();
        assert_eq!(n, retired(&after, alg), "{alg}: {logged:?} vs {after:?}");
    }
    // The log names kids only: no private key material.
    for log in &logs {
        let text = std::fs::read_to_string(log).unwrap();
        assert!(!text.contains("PRIVATE KEY"), "{text}");
    }
}

#[tokio::test]
async fn scheduled_rotation_two_serve_processes_on_postgres() {
    let Some(base_url) = pg_url("scheduled_rotation_two_serve_processes_on_postgres") else {
        return;
    };
    let schema = PgSchema::new(&base_url).await;
    let key = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=";
    two_instances_rotate_once_per_interval(&schema.url, &[("SESAME_ENCRYPTION_KEY", key)]).await;
    schema.drop_now().await;
}

#[tokio::test]
async fn scheduled_rotation_two_serve_processes_on_one_sqlite_file() {
    let dir = TempDir::new();
    two_instances_rotate_once_per_interval(&dir.db(), &[]).await;
}
