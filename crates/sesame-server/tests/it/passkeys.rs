//! Passkeys against a real `sesame serve` (issuer `http://localhost:PORT`),
//! with a software authenticator written here (P-256, `none` attestation,
//! CTAP2 canonical CBOR by hand) so that each check can be broken on
//! purpose: a passkey assertion for another user, from another origin,
//! replayed, with a sign counter that went back, or without user
//! verification; a registration ceremony taken to another account; and
//! `sesame users passkeys` listing and removing them.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};

use crate::support::*;

const PASSWORD: &str = "correct horse battery";

/// CBOR (RFC 8949) head of `major` with argument `n`.
fn head(major: u8, n: usize) -> Vec<u8> {
    let m = major << 5;
    match n {
        0..=23 => vec![m | n as u8],
        24..=255 => vec![m | 24, n as u8],
        _ => vec![m | 25, (n >> 8) as u8, n as u8],
    }
}

fn cbor_int(i: i64) -> Vec<u8> {
    if i >= 0 {
        head(0, i as usize)
    } else {
        head(1, (-1 - i) as usize)
    }
}

fn cbor_bytes(b: &[u8]) -> Vec<u8> {
    [head(2, b.len()), b.to_vec()].concat()
}

fn cbor_text(t: &str) -> Vec<u8> {
    [head(3, t.len()), t.as_bytes().to_vec()].concat()
}

/// A software passkey: one P-256 key, a random credential id.
struct SoftKey {
    key: EcdsaKeyPair,
    id: Vec<u8>,
    /// The WebAuthn user handle it was registered with (base64url).
    user_handle: String,
}

impl SoftKey {
    fn new() -> Self {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let mut id = vec![0u8; 32];
        sesame_core::random::fill(&mut id).unwrap();
        Self {
            key,
            id,
            user_handle: String::new(),
        }
    }

    /// The COSE_Key (EC2, ES256) of the public key, canonical order.
    fn cose(&self) -> Vec<u8> {
        let public = self.key.public_key().as_ref();
        assert_eq!(public.len(), 65);
        [
            head(5, 5),
            cbor_int(1),
            cbor_int(2),
            cbor_int(3),
            cbor_int(-7),
            cbor_int(-1),
            cbor_int(1),
            cbor_int(-2),
            cbor_bytes(&public[1..33]),
            cbor_int(-3),
            cbor_bytes(&public[33..65]),
        ]
        .concat()
    }

    /// The registration response (`PublicKeyCredential.toJSON()`) for
    /// creation `options` at `origin`.
    fn register(&mut self, options: &Value, origin: &str) -> String {
        self.user_handle = options["user"]["id"].as_str().unwrap().to_owned();
        let rp_id = options["rp"]["id"].as_str().unwrap();
        let client_data = json!({
            "type": "webauthn.create",
            "challenge": options["challenge"],
            "origin": origin,
            "crossOrigin": false,
        })
        .to_string();
        // UP | UV | AT, counter 0, AAGUID zero, the credential id, the key.
        let auth_data = [
            digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec(),
            vec![0x45],
            0u32.to_be_bytes().to_vec(),
            vec![0; 16],
            (self.id.len() as u16).to_be_bytes().to_vec(),
            self.id.clone(),
            self.cose(),
        ]
        .concat();
        let attestation = [
            head(5, 3),
            cbor_text("fmt"),
            cbor_text("none"),
            cbor_text("attStmt"),
            head(5, 0),
            cbor_text("authData"),
            cbor_bytes(&auth_data),
        ]
        .concat();
        json!({
            "id": B64.encode(&self.id),
            "rawId": B64.encode(&self.id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": B64.encode(client_data),
                "attestationObject": B64.encode(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        })
        .to_string()
    }

    /// An assertion for request `options`, as it would come from `origin`,
    /// with sign counter `counter`, flags `flags` (0x05: UP | UV) and the
    /// user handle `user_handle`.
    fn assert(
        &self,
        options: &Value,
        origin: &str,
        counter: u32,
        flags: u8,
        user_handle: &str,
    ) -> String {
        let rp_id = options["rpId"].as_str().unwrap();
        let client_data = json!({
            "type": "webauthn.get",
            "challenge": options["challenge"],
            "origin": origin,
            "crossOrigin": false,
        })
        .to_string();
        let auth_data = [
            digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec(),
            vec![flags],
            counter.to_be_bytes().to_vec(),
        ]
        .concat();
        let signed = [
            auth_data.clone(),
            digest(&SHA256, client_data.as_bytes()).as_ref().to_vec(),
        ]
        .concat();
        let signature = self.key.sign(&SystemRandom::new(), &signed).unwrap();
        json!({
            "id": B64.encode(&self.id),
            "rawId": B64.encode(&self.id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": B64.encode(client_data),
                "authenticatorData": B64.encode(auth_data),
                "signature": B64.encode(signature.as_ref()),
                "userHandle": user_handle,
            },
            "clientExtensionResults": {},
        })
        .to_string()
    }
}

struct Op {
    _server: Running,
    base: String,
    db: String,
    _dir: TempDir,
}

async fn op(users: &[&str]) -> Op {
    let dir = TempDir::new();
    let db = dir.db();
    for u in users {
        let (code, _, err) = sesame(&[
            "--database",
            &db,
            "users",
            "add",
            "--username",
            u,
            "--password",
            PASSWORD,
        ]);
        assert_eq!(code, 0, "{err}");
    }
    let port = free_port();
    let base = format!("http://localhost:{port}");
    let server = Running::serve_on(&db, &base, port, &[]);
    wait_healthy(&format!("http://127.0.0.1:{port}")).await;
    Op {
        _server: server,
        base,
        db,
        _dir: dir,
    }
}

/// A browser signed in as `username` with the password: its account
/// page's CSRF token.
async fn signed_in(op: &Op, b: &reqwest::Client, username: &str) -> String {
    let login = format!("{}/login?return_to=%2Faccount", op.base);
    let r = submit_login(b, &login, &op.base, username, PASSWORD).await;
    assert_eq!(r.status(), 303);
    let html = b
        .get(format!("{}/account", op.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Your account"), "{html}");
    hidden(&html, "csrf_token")
}

/// Registers `key` for the signed-in browser `b`: the answer.
async fn register(
    op: &Op,
    b: &reqwest::Client,
    csrf: &str,
    key: &mut SoftKey,
) -> reqwest::Response {
    let options: Value = b
        .post(format!("{}/account/passkeys/options", op.base))
        .header("x-sesame-csrf", csrf)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let credential = key.register(&options, &op.base);
    b.post(format!("{}/account/passkeys", op.base))
        .form(&[
            ("csrf_token", csrf),
            ("credential", &credential),
            ("name", "Soft key"),
        ])
        .send()
        .await
        .unwrap()
}

/// A fresh browser at the login page: it and the request options it got.
async fn sign_in_options(op: &Op) -> (reqwest::Client, String, Value) {
    let b = browser();
    let html = b
        .get(format!("{}/login?return_to=%2Faccount", op.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf_token");
    let options: Value = b
        .post(format!("{}/login/passkey/options", op.base))
        .header("x-sesame-csrf", &csrf)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (b, csrf, options)
}

/// The login page and request options without a cookie jar: the cookies
/// to send back (`name=value; ...`), the CSRF token and the options.
async fn raw_sign_in_options(op: &Op) -> (String, String, Value) {
    let raw = raw();
    let page = raw.get(format!("{}/login", op.base)).send().await.unwrap();
    let csrf_cookie = set_cookie(&page, "sesame_csrf");
    let html = page.text().await.unwrap();
    let csrf = hidden(&html, "csrf_token");
    let r = raw
        .post(format!("{}/login/passkey/options", op.base))
        .header("x-sesame-csrf", &csrf)
        .header("cookie", &csrf_cookie)
        .send()
        .await
        .unwrap();
    let ceremony = set_cookie(&r, "sesame_passkey");
    let options = r.json().await.unwrap();
    (format!("{csrf_cookie}; {ceremony}"), csrf, options)
}

async fn raw_post_assertion(
    op: &Op,
    cookies: &str,
    csrf: &str,
    credential: &str,
) -> reqwest::Response {
    raw()
        .post(format!("{}/login/passkey", op.base))
        .header("cookie", cookies)
        .form(&[
            ("csrf_token", csrf),
            ("return_to", "/account"),
            ("credential", credential),
        ])
        .send()
        .await
        .unwrap()
}

async fn post_assertion(
    op: &Op,
    b: &reqwest::Client,
    csrf: &str,
    credential: &str,
) -> reqwest::Response {
    b.post(format!("{}/login/passkey", op.base))
        .form(&[
            ("csrf_token", csrf),
            ("return_to", "/account"),
            ("credential", credential),
        ])
        .send()
        .await
        .unwrap()
}

/// Whether `b` is signed in (its account page shows).
async fn is_signed_in(op: &Op, b: &reqwest::Client) -> bool {
    let r = b.get(format!("{}/account", op.base)).send().await.unwrap();
    r.status() == 200
}

#[tokio::test]
async fn a_software_passkey_signs_in_and_every_broken_assertion_is_refused() {
    let op = op(&["alice", "bob"]).await;
    let origin = op.base.clone();
    let alice = browser();
    let csrf_alice = signed_in(&op, &alice, "alice").await;
    let mut key = SoftKey::new();
    let r = register(&op, &alice, &csrf_alice, &mut key).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    assert!(location(&r).ends_with("/account?done=passkey"));
    // The same credential again: refused (excluded, and the id is taken).
    let r = register(&op, &alice, &csrf_alice, &mut key).await;
    assert_eq!(r.status(), 400);

    // Bob has a passkey too.
    let bob = browser();
    let bob_csrf = signed_in(&op, &bob, "bob").await;
    let mut bob_key = SoftKey::new();
    assert_eq!(
        register(&op, &bob, &bob_csrf, &mut bob_key).await.status(),
        303
    );

    // The good assertion signs in.
    let (b, csrf, options) = sign_in_options(&op).await;
    let good = key.assert(&options, &origin, 1, 0x05, &key.user_handle);
    let r = post_assertion(&op, &b, &csrf, &good).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    assert_eq!(location(&r), "/account");
    assert!(is_signed_in(&op, &b).await);

    // Replayed, cookies and all (an onlooker who copied the request): the
    // first post signs in, the same post again does not — with a passkey
    // that keeps no sign counter (always 0, as synced passkeys do), so that
    // only the spent challenge stops it.
    let mut counterless = SoftKey::new();
    assert_eq!(
        register(&op, &alice, &csrf_alice, &mut counterless)
            .await
            .status(),
        303
    );
    let (cookies, csrf, options) = raw_sign_in_options(&op).await;
    let captured = counterless.assert(&options, &origin, 0, 0x05, &counterless.user_handle);
    let r = raw_post_assertion(&op, &cookies, &csrf, &captured).await;
    assert_eq!(r.status(), 303, "the first use");
    let r = raw_post_assertion(&op, &cookies, &csrf, &captured).await;
    assert_eq!(r.status(), 401, "a replayed assertion");
    assert!(
        r.headers()
            .get("set-cookie")
            .is_none_or(|c| !c.to_str().unwrap().starts_with("sesame_session="))
    );

    // Each broken assertion, on its own fresh ceremony: no session.
    type Forge<'a> = Box<dyn Fn(&Value) -> String + 'a>;
    let cases: Vec<(&str, Forge<'_>)> = vec![
        (
            "another origin",
            Box::new(|o: &Value| key.assert(o, "http://localhost:1", 3, 0x05, &key.user_handle)),
        ),
        (
            "another user's handle",
            Box::new(|o: &Value| key.assert(o, &origin, 3, 0x05, &bob_key.user_handle)),
        ),
        (
            "no user verification",
            Box::new(|o: &Value| key.assert(o, &origin, 3, 0x01, &key.user_handle)),
        ),
        (
            "a sign counter that went back",
            Box::new(|o: &Value| key.assert(o, &origin, 1, 0x05, &key.user_handle)),
        ),
        (
            "another key's signature",
            Box::new(|o: &Value| {
                let forged = SoftKey {
                    id: key.id.clone(),
                    ..SoftKey::new()
                };
                forged.assert(o, &origin, 3, 0x05, &key.user_handle)
            }),
        ),
        (
            "an unknown credential",
            Box::new(|o: &Value| SoftKey::new().assert(o, &origin, 3, 0x05, &key.user_handle)),
        ),
    ];
    for (what, make) in &cases {
        let (b, csrf, options) = sign_in_options(&op).await;
        let r = post_assertion(&op, &b, &csrf, &make(&options)).await;
        assert_eq!(r.status(), 401, "{what}");
        assert!(!is_signed_in(&op, &b).await, "{what}");
    }
    // Without the ceremony cookie (another browser posting it): refused.
    let (_, csrf, options) = sign_in_options(&op).await;
    let stranger = browser();
    let html = stranger
        .get(format!("{}/login", op.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let stranger_csrf = hidden(&html, "csrf_token");
    let r = post_assertion(
        &op,
        &stranger,
        &stranger_csrf,
        &key.assert(&options, &origin, 4, 0x05, &key.user_handle),
    )
    .await;
    assert_eq!(r.status(), 401, "no ceremony cookie");
    drop(csrf);
    // The counter is where the last good use left it: 3 is still fine.
    let (b, csrf, options) = sign_in_options(&op).await;
    let r = post_assertion(
        &op,
        &b,
        &csrf,
        &key.assert(&options, &origin, 3, 0x05, &key.user_handle),
    )
    .await;
    assert_eq!(r.status(), 303, "the next good assertion");
}

/// The cookie `name=value` a response sets.
pub(crate) fn set_cookie(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_owned()
}

pub(crate) fn raw() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `username` signed in without a cookie jar: the cookies of their
/// session and account page (`name=value; ...`) and the page's CSRF token.
pub(crate) async fn raw_account(base: &str, username: &str) -> (String, String) {
    let page = raw().get(format!("{base}/login")).send().await.unwrap();
    let csrf_cookie = set_cookie(&page, "sesame_csrf");
    let csrf = hidden(&page.text().await.unwrap(), "csrf_token");
    let r = raw()
        .post(format!("{base}/login"))
        .header("cookie", &csrf_cookie)
        .form(&[
            ("username", username),
            ("password", PASSWORD),
            ("csrf_token", &csrf),
            ("return_to", "/account"),
        ])
        .send()
        .await
        .unwrap();
    let session = set_cookie(&r, "sesame_session");
    let page = raw()
        .get(format!("{base}/account"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    let account_csrf = set_cookie(&page, "sesame_account_csrf");
    let csrf = hidden(&page.text().await.unwrap(), "csrf_token");
    (format!("{session}; {account_csrf}"), csrf)
}

#[tokio::test]
async fn a_registration_ceremony_belongs_to_one_account() {
    let op = op(&["alice", "bob"]).await;
    let (alice, csrf) = raw_account(&op.base, "alice").await;
    let r = raw()
        .post(format!("{}/account/passkeys/options", op.base))
        .header("cookie", &alice)
        .header("x-sesame-csrf", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "options need the page's CSRF token");
    let r = raw()
        .post(format!("{}/account/passkeys/options", op.base))
        .header("cookie", &alice)
        .header("x-sesame-csrf", &csrf)
        .send()
        .await
        .unwrap();
    let ceremony = set_cookie(&r, "sesame_passkey_reg");
    let options: Value = r.json().await.unwrap();
    let mut key = SoftKey::new();
    let credential = key.register(&options, &op.base);
    // Bob posts Alice's ceremony with her ceremony cookie copied over: it
    // does not open for him.
    let (bob, bob_csrf) = raw_account(&op.base, "bob").await;
    let r = raw()
        .post(format!("{}/account/passkeys", op.base))
        .header("cookie", format!("{bob}; {ceremony}"))
        .form(&[
            ("csrf_token", bob_csrf.as_str()),
            ("credential", &credential),
            ("name", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "Alice's ceremony in Bob's session");
    // A registration made for another origin is refused for Alice herself.
    let credential = key.register(&options, "http://localhost:1");
    let r = raw()
        .post(format!("{}/account/passkeys", op.base))
        .header("cookie", format!("{alice}; {ceremony}"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("credential", &credential),
            ("name", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "another origin");
    for who in ["alice", "bob"] {
        let (code, out, err) = sesame(&[
            "--database",
            &op.db,
            "users",
            "passkeys",
            "--username",
            who,
            "--json",
        ]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            serde_json::from_str::<Value>(&out).unwrap(),
            json!([]),
            "{who}"
        );
    }
    // And the right one, in her session, is kept.
    let credential = key.register(&options, &op.base);
    let r = raw()
        .post(format!("{}/account/passkeys", op.base))
        .header("cookie", format!("{alice}; {ceremony}"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("credential", &credential),
            ("name", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "Alice's own ceremony");
}

#[tokio::test]
async fn the_cli_lists_and_removes_passkeys() {
    let op = op(&["alice"]).await;
    let alice = browser();
    let csrf = signed_in(&op, &alice, "alice").await;
    let mut key = SoftKey::new();
    assert_eq!(register(&op, &alice, &csrf, &mut key).await.status(), 303);
    let (code, out, err) = sesame(&[
        "--database",
        &op.db,
        "users",
        "passkeys",
        "--username",
        "alice",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let listed: Value = serde_json::from_str(&out).unwrap();
    let id = B64.encode(&key.id);
    assert_eq!(listed[0]["id"], id.as_str(), "{listed}");
    assert_eq!(listed[0]["name"], "Soft key");
    let (code, out, err) = sesame(&[
        "--database",
        &op.db,
        "users",
        "passkeys",
        "--username",
        "alice",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Soft key") && out.contains(&id), "{out}");
    let (code, _, err) = sesame(&[
        "--database",
        &op.db,
        "users",
        "passkeys",
        "--username",
        "alice",
        "--remove",
        &id,
    ]);
    assert_eq!(code, 0, "{err}");
    // The removed passkey no longer signs in.
    let (b, csrf, options) = sign_in_options(&op).await;
    let r = post_assertion(
        &op,
        &b,
        &csrf,
        &key.assert(&options, &op.base, 1, 0x05, &key.user_handle),
    )
    .await;
    assert_eq!(r.status(), 401);
    let (code, _, err) = sesame(&[
        "--database",
        &op.db,
        "users",
        "passkeys",
        "--username",
        "alice",
        "--remove",
        &id,
    ]);
    assert_ne!(code, 0, "removing it twice: {err}");
}

#[tokio::test]
async fn a_passkey_is_the_second_step_after_the_password() {
    let op = op(&["alice", "bob"]).await;
    let alice = browser();
    let csrf = signed_in(&op, &alice, "alice").await;
    let mut key = SoftKey::new();
    assert_eq!(register(&op, &alice, &csrf, &mut key).await.status(), 303);
    let bob = browser();
    let bob_csrf = signed_in(&op, &bob, "bob").await;
    let mut bob_key = SoftKey::new();
    assert_eq!(
        register(&op, &bob, &bob_csrf, &mut bob_key).await.status(),
        303
    );
    let (code, out, err) = sesame(&[
        "--database",
        &op.db,
        "clients",
        "add",
        "--name",
        "RP",
        "--redirect-uri",
        "https://rp.example/cb",
        "--skip-consent",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let client: Value = serde_json::from_str(&out).unwrap();
    let client_id = client["client_id"].as_str().unwrap();

    // The password is right: the passkey step, no session yet.
    let b = browser();
    let r = b
        .get(format!("{}/authorize", op.base))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", "https://rp.example/cb"),
            ("scope", "openid"),
            ("nonce", "n"),
        ])
        .send()
        .await
        .unwrap();
    let login = absolute(&op.base, &location(&r));
    let r = submit_login(&b, &login, &op.base, "alice", PASSWORD).await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Use a passkey") && !page.contains("name=\"totp\""),
        "{page}"
    );
    assert!(
        !is_signed_in(&op, &b).await,
        "the password alone is not enough"
    );
    let csrf = hidden(&page, "csrf_token");
    let return_to = hidden(&page, "return_to")
        .replace("&amp;", "&")
        .replace("&#x2f;", "/");
    let options = |b: reqwest::Client, csrf: String| {
        let url = format!("{}/login/passkey/second/options", op.base);
        async move {
            let r = b
                .post(url)
                .header("x-sesame-csrf", csrf)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let o = options(b.clone(), csrf.clone()).await;
    let allowed: Vec<&str> = o["allowCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(allowed, [B64.encode(&key.id)], "only Alice's passkeys");
    let second = |csrf: String, credential: String| {
        let (b, return_to) = (b.clone(), return_to.clone());
        let url = format!("{}/login/passkey/second", op.base);
        async move {
            b.post(url)
                .form(&[
                    ("csrf_token", csrf.as_str()),
                    ("return_to", return_to.as_str()),
                    ("credential", credential.as_str()),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    // Bob's passkey does not finish Alice's sign-in.
    let r = second(
        csrf.clone(),
        bob_key.assert(&o, &op.base, 1, 0x05, &bob_key.user_handle),
    )
    .await;
    assert_eq!(r.status(), 401, "another user's passkey");
    let csrf = hidden(&r.text().await.unwrap(), "csrf_token");
    assert!(!is_signed_in(&op, &b).await);
    // Alice's does.
    let o = options(b.clone(), csrf.clone()).await;
    let good = key.assert(&o, &op.base, 1, 0x05, &key.user_handle);
    // Alice's good assertion in a form without the page's CSRF token (a
    // cross-site post): refused before the ceremony is opened, no session.
    let r = second("not-the-token".to_owned(), good.clone()).await;
    assert_eq!(r.status(), 401, "a form without the page's CSRF token");
    let page = r.text().await.unwrap();
    assert!(page.contains("The sign-in expired"), "{page}");
    assert!(!is_signed_in(&op, &b).await);
    // With the new page's token the same assertion signs in: it was the
    // token that was refused, and the pending login stayed.
    let csrf = hidden(&page, "csrf_token");
    let r = second(csrf.clone(), good.clone()).await;
    assert_eq!(r.status(), 303);
    let back = absolute(&op.base, &location(&r));
    let r = b.get(&back).send().await.unwrap();
    let callback = url::Url::parse(&location(&r)).unwrap();
    let code = callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let tokens: Value = reqwest::Client::new()
        .post(format!("{}/token", op.base))
        .basic_auth(client_id, client["client_secret"].as_str())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "https://rp.example/cb"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let payload = tokens["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    let claims: Value = serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["amr"], json!(["pwd", "hwk", "mfa"]), "{claims}");
    // The pending login became one session: posted again, it is gone.
    let r = second(csrf, good).await;
    assert_eq!(r.status(), 401, "the pending login is spent");
}

#[tokio::test]
async fn a_passkey_sign_in_needs_the_forms_csrf_token() {
    let op = op(&["alice"]).await;
    let alice = browser();
    let csrf_alice = signed_in(&op, &alice, "alice").await;
    let mut key = SoftKey::new();
    assert_eq!(
        register(&op, &alice, &csrf_alice, &mut key).await.status(),
        303
    );
    let (cookies, csrf, options) = raw_sign_in_options(&op).await;
    let good = key.assert(&options, &op.base, 1, 0x05, &key.user_handle);
    // A good assertion with another token (a cross-site post): refused
    // before the ceremony is opened, so no session.
    let r = raw_post_assertion(&op, &cookies, "not-the-token", &good).await;
    assert_eq!(r.status(), 403, "a form without the page's CSRF token");
    assert!(
        r.headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("sesame_session="))
    );
    // The same assertion with the page's token signs in: it was the token
    // that was refused.
    let r = raw_post_assertion(&op, &cookies, &csrf, &good).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
}
