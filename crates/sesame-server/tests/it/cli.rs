//! Every CLI subcommand, bad input included: one clear line and a non-zero exit.

use crate::support::*;

#[test]
fn migrate_clients_users_keys_round_trip() {
    let dir = TempDir::new();
    let db = dir.db();
    let run = |args: &[&str]| {
        let mut all = vec!["--database", db.as_str()];
        all.extend_from_slice(args);
        sesame(&all)
    };

    let (code, out, err) = run(&["migrate"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("migrations applied"));

    // clients add --json prints the id and the secret once.
    let (code, out, err) = run(&[
        "clients",
        "add",
        "--name",
        "App",
        "--redirect-uri",
        "https://app.example/cb",
        "--redirect-uri",
        "http://127.0.0.1:3000/callback",
        "--post-logout-redirect-uri",
        "https://app.example/",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let id = v["client_id"].as_str().unwrap().to_owned();
    assert!(v["client_secret"].as_str().unwrap().len() >= 43);
    // A public client has no secret.
    let (code, out, _) = run(&[
        "clients",
        "add",
        "--name",
        "SPA",
        "--redirect-uri",
        "https://spa.example/cb",
        "--public",
        "--json",
    ]);
    assert_eq!(code, 0);
    let spa: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(spa["client_secret"].is_null());
    // Options are honoured.
    let (code, out, err) = run(&[
        "clients",
        "add",
        "--name",
        "Svc",
        "--redirect-uri",
        "https://svc.example/cb",
        "--grant-type",
        "client_credentials",
        "--auth-method",
        "client_secret_post",
        "--id-token-alg",
        "ES256",
        "--skip-consent",
        "--resource",
        "https://api.example/orders",
        "--resource",
        "https://files.example/",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let svc: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let (code, out, _) = run(&[
        "clients",
        "show",
        svc["client_id"].as_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0);
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["token_endpoint_auth_method"], "client_secret_post");
    assert_eq!(shown["id_token_signed_response_alg"], "ES256");
    assert_eq!(shown["skip_consent"], true);
    assert_eq!(
        shown["allowed_resources"],
        serde_json::json!(["https://api.example/orders", "https://files.example/"])
    );
    assert!(!out.contains("secret_hash"), "the hash is not shown");

    let (code, out, _) = run(&["clients", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains(&id) && out.contains("App"));
    let (code, out, _) = run(&["clients", "list", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let (code, _, _) = run(&["clients", "remove", &id]);
    assert_eq!(code, 0);
    let (code, _, err) = run(&["clients", "remove", &id]);
    assert_eq!(code, 1);
    assert_eq!(err.trim(), format!("error: no client with id {id:?}"));
    let (code, _, err) = run(&["clients", "show", "nope"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("error: no client"));

    // users
    let (code, out, err) = run(&[
        "users",
        "add",
        "--username",
        "alice",
        "--password",
        "correct horse",
        "--email",
        "alice@example.com",
        "--name",
        "Alice",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("added user alice"));
    let (code, _, err) = run(&[
        "users",
        "add",
        "--username",
        "alice",
        "--password",
        "another one",
    ]);
    assert_eq!(code, 1);
    assert_eq!(err.trim(), "error: a user named \"alice\" already exists");
    let (code, _, err) = run(&["users", "add", "--username", "bob", "--password", "short"]);
    assert_eq!(code, 1);
    assert!(err.contains("at least 8"));
    let (code, out, _) = run(&["users", "list", "--json"]);
    assert_eq!(code, 0);
    let users: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(users[0]["username"], "alice");
    assert!(!out.contains("argon2"), "no hashes in output");
    let (code, out, _) = run(&["users", "passwd", "alice", "--password", "battery staple"]);
    assert_eq!(code, 0);
    assert!(out.contains("password changed"));
    let (code, _, _) = run(&[
        "users",
        "passwd",
        "--username",
        "alice",
        "--password",
        "battery staple 2",
    ]);
    assert_eq!(code, 0);
    let (code, _, err) = run(&["users", "passwd", "nobody", "--password", "whatever1"]);
    assert_eq!(code, 1);
    assert!(err.contains("no user named"));
    let (code, _, _) = run(&["users", "remove", "alice"]);
    assert_eq!(code, 0);
    let (code, _, err) = run(&["users", "remove", "alice"]);
    assert_eq!(code, 1);
    assert!(err.contains("no user named"));

    // keys
    let (code, out, err) = run(&["keys", "generate", "--alg", "ES256"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("generated ES256 key") && out.contains("(active)"));
    // The server publishes a next key for every configured algorithm when it
    // starts; with the publish delay at 0, a rotation makes it sign.
    let rotate = || {
        let out = std::process::Command::new(BIN)
            .args([
                "--database",
                db.as_str(),
                "keys",
                "rotate",
                "--alg",
                "ES256",
            ])
            .env("SESAME_KEY_PUBLISH_DELAY", "0")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = rotate();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("rotated ES256"), "{out}");
    // With the default delay, promoting a key published a moment ago is refused.
    let (code, _, err) = run(&["keys", "rotate", "--alg", "ES256"]);
    assert_eq!(code, 1);
    assert!(err.contains("published too recently"), "{err}");
    let (code, out, _) = run(&["keys", "list", "--json"]);
    assert_eq!(code, 0);
    let keys: serde_json::Value = serde_json::from_str(&out).unwrap();
    let states: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["alg"] == "ES256")
        .map(|k| k["state"].as_str().unwrap())
        .collect();
    assert!(
        states.contains(&"retired") && states.contains(&"active") && states.contains(&"next"),
        "{states:?}"
    );
    assert!(!out.contains("PRIVATE"), "no key material in output");
    let (code, out, _) = run(&["keys", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("ES256"));
    let (code, _, err) = run(&["keys", "generate", "--alg", "HS256"]);
    assert_eq!(code, 1);
    assert!(err.contains("unsupported --alg"));
    let (code, out, _) = sesame(&["keys", "encryption-key"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim().len(), 44);
}

#[test]
fn bad_input_gets_one_clear_line() {
    let dir = TempDir::new();
    let db = dir.db();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "clients",
                "add",
                "--name",
                "X",
                "--redirect-uri",
                "not a url",
            ],
            "--redirect-uri",
        ),
        (
            vec![
                "clients",
                "add",
                "--name",
                "X",
                "--redirect-uri",
                "https://x.example/cb#frag",
            ],
            "fragment",
        ),
        (
            vec![
                "clients",
                "add",
                "--name",
                "X",
                "--redirect-uri",
                "https://x.example/cb",
                "--grant-type",
                "magic",
            ],
            "unknown --grant-type",
        ),
        (
            vec![
                "clients",
                "add",
                "--name",
                "X",
                "--redirect-uri",
                "https://x.example/cb",
                "--auth-method",
                "telepathy",
            ],
            "unknown --auth-method",
        ),
        (
            vec![
                "clients",
                "add",
                "--name",
                "X",
                "--redirect-uri",
                "https://x.example/cb",
                "--id-token-alg",
                "none",
            ],
            "unsupported --id-token-alg",
        ),
        (
            vec![
                "clients",
                "add",
                "--name",
                "X",
                "--redirect-uri",
                "https://x.example/cb",
                "--public",
                "--auth-method",
                "client_secret_basic",
            ],
            "--public",
        ),
        (
            vec![
                "clients",
                "add",
                "--name",
                "X",
                "--redirect-uri",
                "https://x.example/cb",
                "--resource",
                "api.example/orders",
            ],
            "--resource",
        ),
        (
            vec![
                "clients",
                "add",
                "--name",
                "X",
                "--redirect-uri",
                "https://x.example/cb",
                "--resource",
                "https://api.example/#orders",
            ],
            "--resource",
        ),
    ];
    for (args, expect) in cases {
        let mut all = vec!["--database", db.as_str()];
        all.extend(args.iter());
        let (code, out, err) = sesame(&all);
        assert_eq!(code, 1, "{args:?}: {out}");
        let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(lines.len(), 1, "{err}");
        assert!(lines[0].contains(expect), "{args:?}: {err}");
    }
    // An unreachable database.
    let (code, _, err) = std::process::Command::new(BIN)
        .args([
            "--database",
            "postgres://nobody@127.0.0.1:1/none",
            "clients",
            "list",
        ])
        .env(
            "SESAME_ENCRYPTION_KEY",
            "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=",
        )
        .output()
        .map(|o| {
            (
                o.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        })
        .unwrap();
    assert_eq!(code, 1);
    assert!(
        err.contains("error: database postgres://nobody@127.0.0.1:1/none"),
        "{err}"
    );
    // PostgreSQL without an encryption key is refused with the fix in the message.
    let (code, _, err) = sesame(&[
        "--database",
        "postgres://nobody@127.0.0.1:1/none",
        "clients",
        "list",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("SESAME_ENCRYPTION_KEY"), "{err}");
    // A missing config file.
    let (code, _, err) = sesame(&["--config", "/nonexistent/sesame.toml", "clients", "list"]);
    assert_eq!(code, 1);
    assert!(err.contains("does not exist"));
    // A malformed config value.
    let cfg = format!("{}/bad.toml", dir.0.display());
    std::fs::write(&cfg, "issuer = \"not a url\"\n").unwrap();
    let (code, _, err) = sesame(&["--config", &cfg, "clients", "list"]);
    assert_eq!(code, 1);
    assert!(err.contains("issuer"), "{err}");
    // Usage errors come from clap with exit code 2.
    let (code, _, _) = sesame(&["clients", "add", "--redirect-uri", "https://x.example/cb"]);
    assert_eq!(code, 2);
    // No redirect URI for a client whose grants redirect: refused by the checks.
    let db = dir.db();
    let (code, _, err) = sesame(&["--database", &db, "clients", "add", "--name", "X"]);
    assert_eq!(code, 1);
    assert!(err.contains("--redirect-uri is required"), "{err}");
}

#[test]
fn client_secret_jwt_secrets_are_sealed_and_a_wrong_key_is_refused() {
    let dir = TempDir::new();
    let db = dir.db();
    let (code, out, err) = sesame(&[
        "--database",
        &db,
        "clients",
        "add",
        "--name",
        "Hmac",
        "--redirect-uri",
        "https://hmac.example/cb",
        "--auth-method",
        "client_secret_jwt",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let secret = v["client_secret"].as_str().unwrap();
    assert!(secret.len() >= 86);
    for file in ["sesame.db", "sesame.db-wal"] {
        let bytes = std::fs::read(dir.0.join(file)).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(secret),
            "{file} holds the secret in clear"
        );
    }
    // Another key than the one beside the database: one clear line.
    let out = std::process::Command::new(BIN)
        .args(["--database", &db, "clients", "list"])
        .env_remove("SESAME_CONFIG")
        .env(
            "SESAME_ENCRYPTION_KEY",
            "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=",
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("encryption key"), "{err}");
    // The right key still works.
    let (code, out, err) = sesame(&["--database", &db, "clients", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Hmac"));
}

/// The SQLite database and its WAL and shared-memory files are private to the
/// server's user, like the key file (I2).
#[cfg(unix)]
#[tokio::test]
async fn the_database_files_are_created_0600() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = TempDir::new();
    let db = dir.db();
    let (code, _, err) = sesame(&["--database", &db, "migrate"]);
    assert_eq!(code, 0, "{err}");
    let mode = |f: &str| {
        std::fs::metadata(dir.0.join(f))
            .ok()
            .map(|m| m.permissions().mode() & 0o777)
    };
    assert_eq!(mode("sesame.db"), Some(0o600));
    assert_eq!(mode("sesame.db.key"), Some(0o600));
    for f in ["sesame.db-wal", "sesame.db-shm"] {
        assert!(matches!(mode(f), None | Some(0o600)), "{f}: {:?}", mode(f));
    }
    // While a server holds the database open, the WAL files exist: 0600 too.
    let (_running, _base) = Running::serve(&db, &[]).await;
    for f in ["sesame.db-wal", "sesame.db-shm"] {
        assert_eq!(mode(f), Some(0o600), "{f}");
    }
}

/// S15: `clients add --legacy-assertion-audience` is the per-client switch
/// for assertions whose `aud` is the token endpoint URL; off by default.
#[test]
fn the_legacy_assertion_audience_switch_is_per_client() {
    let dir = TempDir::new();
    let db = dir.db();
    let jwks = dir.0.join("client-jwks.json");
    std::fs::write(&jwks, PUBLIC_JWKS).unwrap();
    let jwks = jwks.to_str().unwrap().to_owned();
    let add = |name: &str, extra: &[&str]| {
        let mut args = vec![
            "--database",
            db.as_str(),
            "clients",
            "add",
            "--name",
            name,
            "--redirect-uri",
            "https://rp.example/cb",
            "--auth-method",
            "private_key_jwt",
            "--jwks",
            jwks.as_str(),
            "--json",
        ];
        args.extend_from_slice(extra);
        let (code, out, err) = sesame(&args);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        v["client_id"].as_str().unwrap().to_owned()
    };
    let show = |id: &str| {
        let (code, out, err) =
            sesame(&["--database", db.as_str(), "clients", "show", id, "--json"]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()
    };
    let default = add("Default", &[]);
    let legacy = add("Legacy", &["--legacy-assertion-audience"]);
    assert_eq!(show(&default)["legacy_assertion_audience"], false);
    assert_eq!(show(&legacy)["legacy_assertion_audience"], true);
}

/// RFC 7517 A.1's P-256 public key.
const PUBLIC_JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"1",
"x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}]}"#;

/// Issue 13: response types, the PKCE switch, a private_key_jwt client's
/// keys and a signed userinfo from the CLI, and `clients update` for each;
/// combinations the spec forbids are one clear line.
#[test]
fn clients_add_and_update_take_response_types_pkce_and_keys() {
    let dir = TempDir::new();
    let db = dir.db();
    let file = |name: &str, text: &str| {
        let path = dir.0.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let jwks = file("jwks.json", PUBLIC_JWKS);
    let private = file(
        "private.json",
        r#"{"keys":[{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","d":"870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE"}]}"#,
    );
    let run = |args: &[&str]| {
        let mut all = vec!["--database", db.as_str()];
        all.extend_from_slice(args);
        sesame(&all)
    };
    let add = |extra: &[&str]| {
        let mut args = vec![
            "clients",
            "add",
            "--name",
            "X",
            "--redirect-uri",
            "https://rp.example/cb",
            "--json",
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let show = |id: &str| {
        let (code, out, err) = run(&["clients", "show", id, "--json"]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()
    };
    let id_of = |(code, out, err): (i32, String, String)| {
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        v["client_id"].as_str().unwrap().to_owned()
    };

    // The default: code, RFC 9700's PKCE policy.
    let plain = id_of(add(&[]));
    let v = show(&plain);
    assert_eq!(v["response_types"], serde_json::json!(["code"]));
    assert_eq!(v["require_pkce"], false);
    // Implicit and hybrid, each with the grants the spec needs.
    let implicit = id_of(add(&[
        "--grant-type",
        "implicit",
        "--response-type",
        "id_token token",
        "--response-type",
        "id_token",
    ]));
    assert_eq!(
        show(&implicit)["response_types"],
        serde_json::json!(["id_token token", "id_token"])
    );
    let hybrid = id_of(add(&[
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "implicit",
        "--response-type",
        "code id_token",
        "--response-type",
        "code",
        "--require-pkce",
        "--require-par",
        "--dpop",
        "--userinfo-signed-alg",
        "ES256",
        "--authorization-signed-response-alg",
        "ES256",
    ]));
    let v = show(&hybrid);
    assert_eq!(v["authorization_signed_response_alg"], "ES256");
    assert_eq!(v["require_par"], true);
    assert_eq!(v["dpop_bound_access_tokens"], true);
    assert_eq!(
        v["response_types"],
        serde_json::json!(["code id_token", "code"])
    );
    assert_eq!(v["require_pkce"], true);
    assert_eq!(v["userinfo_signed_response_alg"], "ES256");
    let pkjwt = id_of(add(&[
        "--auth-method",
        "private_key_jwt",
        "--jwks",
        &jwks,
        "--request-uri",
        "https://rp.example/ro.jwt",
        "--request-object-alg",
        "ES256",
    ]));
    let v = show(&pkjwt);
    assert_eq!(v["jwks"]["keys"][0]["kid"], "1");
    assert_eq!(
        v["request_uris"],
        serde_json::json!(["https://rp.example/ro.jwt"])
    );
    assert_eq!(v["request_object_signing_alg"], "ES256");
    let byuri = id_of(add(&[
        "--auth-method",
        "private_key_jwt",
        "--jwks-uri",
        "https://rp.example/jwks.json",
    ]));
    assert_eq!(show(&byuri)["jwks_uri"], "https://rp.example/jwks.json");
    let (code, _, err) = run(&["clients", "update", &byuri, "--jwks", &jwks]);
    assert_eq!(code, 0, "{err}");
    let v = show(&byuri);
    assert!(v["jwks_uri"].is_null() && v["jwks"]["keys"][0]["kid"] == "1");
    let (code, _, err) = run(&["clients", "update", &pkjwt, "--request-object-alg", "any"]);
    assert_eq!(code, 0, "{err}");
    assert!(show(&pkjwt)["request_object_signing_alg"].is_null());

    // Refusals: one line naming the flag.
    let refused: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--response-type", "id_token"], "--grant-type implicit"),
        (
            vec![
                "--grant-type",
                "implicit",
                "--response-type",
                "code id_token",
            ],
            "--grant-type authorization_code",
        ),
        (
            vec!["--grant-type", "implicit"],
            "--response-type with id_token",
        ),
        (vec!["--response-type", "token"], "--response-type"),
        (vec!["--auth-method", "private_key_jwt"], "--jwks FILE"),
        (
            vec!["--auth-method", "private_key_jwt", "--jwks", &private],
            "public keys only",
        ),
        (
            vec!["--request-object-alg", "HS256"],
            "--request-object-alg",
        ),
        (vec!["--request-uri", "ftp://rp.example/r"], "--request-uri"),
        (
            vec![
                "--auth-method",
                "private_key_jwt",
                "--jwks-uri",
                "ftp://x/j",
            ],
            "--jwks-uri",
        ),
        (
            vec!["--userinfo-signed-alg", "HS256"],
            "--userinfo-signed-alg",
        ),
        (
            vec!["--authorization-signed-response-alg", "HS256"],
            "--authorization-signed-response-alg",
        ),
    ];
    for (extra, want) in refused {
        let (code, out, err) = add(&extra);
        assert_eq!(code, 1, "{extra:?}: {out}");
        assert!(err.contains(want), "{extra:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }

    // clients update changes each, with the same rules.
    let (code, _, err) = run(&[
        "clients",
        "update",
        &plain,
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "implicit",
        "--response-type",
        "code id_token token",
        "--require-pkce",
        "true",
        "--userinfo-signed-alg",
        "RS256",
        "--authorization-signed-response-alg",
        "EdDSA",
        "--id-token-alg",
        "ES256",
        "--jwks",
        &jwks,
    ]);
    assert_eq!(code, 0, "{err}");
    let v = show(&plain);
    assert_eq!(
        v["response_types"],
        serde_json::json!(["code id_token token"])
    );
    assert_eq!(v["require_pkce"], true);
    assert_eq!(v["id_token_signed_response_alg"], "ES256");
    assert_eq!(v["userinfo_signed_response_alg"], "RS256");
    assert_eq!(v["authorization_signed_response_alg"], "EdDSA");
    assert_eq!(v["jwks"]["keys"][0]["kid"], "1");
    let (code, _, err) = run(&[
        "clients",
        "update",
        &plain,
        "--plain-userinfo",
        "--require-pkce",
        "false",
    ]);
    assert_eq!(code, 0, "{err}");
    let v = show(&plain);
    assert!(v["userinfo_signed_response_alg"].is_null());
    assert_eq!(v["require_pkce"], false);
    let (code, _, err) = run(&["clients", "update", &plain, "--response-type", "id_token"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--grant-type authorization_code needs"),
        "{err}"
    );
    let (code, _, err) = run(&["clients", "update", "nobody", "--name", "Y"]);
    assert_eq!(code, 1);
    assert!(err.contains("nobody"), "{err}");
}

/// `clients add --profile fapi2` names every breach of the FAPI 2.0 Security
/// Profile and saves nothing; a conforming client is saved with the
/// profile's switches on, and `clients update --profile none` lifts it.
#[test]
fn clients_add_holds_a_client_to_the_fapi2_profile() {
    let dir = TempDir::new();
    let db = dir.db();
    let jwks = dir.0.join("client-jwks.json");
    std::fs::write(&jwks, PUBLIC_JWKS).unwrap();
    let jwks = jwks.to_str().unwrap().to_owned();
    let base = [
        "--database",
        db.as_str(),
        "clients",
        "add",
        "--name",
        "Bank",
        "--redirect-uri",
        "https://rp.example/cb",
        "--profile",
        "fapi2",
        "--json",
    ];
    let (code, _, err) = sesame(&base);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("private_key_jwt"), "{err}");
    assert!(err.contains("PS256, ES256 or EdDSA"), "{err}");
    let (_, out, _) = sesame(&["--database", db.as_str(), "clients", "list", "--json"]);
    assert!(!out.contains("Bank"), "nothing saved: {out}");

    let mut args = base.to_vec();
    args.extend_from_slice(&[
        "--auth-method",
        "private_key_jwt",
        "--jwks",
        jwks.as_str(),
        "--id-token-alg",
        "ES256",
    ]);
    let (code, out, err) = sesame(&args);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let id = v["client_id"].as_str().unwrap().to_owned();
    let show = || {
        let (code, out, err) =
            sesame(&["--database", db.as_str(), "clients", "show", &id, "--json"]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()
    };
    let c = show();
    assert_eq!(c["profile"], "fapi2");
    assert_eq!(c["require_par"], true);
    assert_eq!(c["require_pkce"], true);
    assert_eq!(c["dpop_bound_access_tokens"], true);
    // An update that would break it is refused.
    let (code, _, err) = sesame(&[
        "--database",
        db.as_str(),
        "clients",
        "update",
        &id,
        "--id-token-alg",
        "RS256",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("fapi2"), "{err}");
    let (code, _, err) = sesame(&[
        "--database",
        db.as_str(),
        "clients",
        "update",
        &id,
        "--profile",
        "none",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(show()["profile"], serde_json::Value::Null);
    let (code, _, err) = sesame(&[
        "--database",
        db.as_str(),
        "clients",
        "add",
        "--name",
        "X",
        "--redirect-uri",
        "https://rp.example/cb",
        "--profile",
        "fapi1",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown profile"), "{err}");
}
