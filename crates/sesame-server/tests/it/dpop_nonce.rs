//! `dpop_nonce = "required"` (`SESAME_DPOP_NONCE`): two `sesame serve`
//! processes on one database, behind one issuer, give out and accept the
//! same DPoP nonces (derived with the key the database keeps), with no
//! state shared per nonce.

use serde_json::{Value, json};
use sesame_core::{Clock as _, JwsAlgorithm, SigningKey, SystemClock, jws};

use crate::app::add_client;
use crate::support::*;

fn proof(key: &SigningKey, htu: &str, nonce: Option<&str>) -> String {
    let mut claims = json!({
        "jti": sesame_core::random::token().unwrap(),
        "htm": "POST",
        "htu": htu,
        "iat": SystemClock.now(),
    });
    if let Some(n) = nonce {
        claims["nonce"] = json!(n);
    }
    let header = json!({"typ": "dpop+jwt", "jwk": key.public_jwk().unwrap()});
    jws::sign_with_header(key, &header, &claims).unwrap()
}

async fn token(base: &str, client: &(String, String), proof: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/token"))
        .basic_auth(&client.0, Some(&client.1))
        .header("DPoP", proof)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn two_instances_give_out_and_accept_the_same_nonces() {
    let dir = TempDir::new();
    let db = dir.db();
    let client = add_client(
        &db,
        "http://127.0.0.1:9",
        &["--grant-type", "client_credentials", "--dpop"],
    );
    let (port_a, port_b) = (free_port(), free_port());
    let issuer = format!("http://127.0.0.1:{port_a}");
    let env = [("SESAME_DPOP_NONCE", "required")];
    let (a, b) = (issuer.clone(), format!("http://127.0.0.1:{port_b}"));
    // One after the other: the first runs the migrations.
    let _a = Running::serve_on(&db, &issuer, port_a, &env);
    wait_healthy(&a).await;
    let _b = Running::serve_on(&db, &issuer, port_b, &env);
    wait_healthy(&b).await;
    let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
    let htu = format!("{issuer}/token");

    // Instance A asks for a nonce and gives one.
    let asked = |base: String| {
        let (client, key, htu) = (client.clone(), &key, htu.clone());
        async move {
            let r = token(&base, &client, &proof(key, &htu, None)).await;
            assert_eq!(r.status(), 400);
            let nonce = r.headers()["dpop-nonce"].to_str().unwrap().to_owned();
            let e: Value = r.json().await.unwrap();
            assert_eq!(e["error"], "use_dpop_nonce", "{e}");
            nonce
        }
    };
    // Instance B gives the one A gives (asked again if a window began between).
    let mut nonce = asked(a.clone()).await;
    let mut from_b = asked(b.clone()).await;
    if from_b != nonce {
        nonce = asked(a.clone()).await;
        from_b = asked(b.clone()).await;
    }
    assert_eq!(from_b, nonce);
    // And accepts A's.
    let r = token(&b, &client, &proof(&key, &htu, Some(&nonce))).await;
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["token_type"], "DPoP", "{t}");
    let r = token(&a, &client, &proof(&key, &htu, Some("not-a-nonce"))).await;
    assert_eq!(r.status(), 400);
}
