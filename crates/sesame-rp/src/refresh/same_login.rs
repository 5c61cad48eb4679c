//! OIDC Core §12.2: a refreshed ID token is about the same login as the one
//! the session started with.

use serde_json::Value;
use sesame_core::{IdTokenClaims, UnverifiedJws};

/// Whether `refreshed` (already validated: signature, `iss` = the issuer,
/// `aud` holding the client id) keeps the original ID token's `iss`, `sub`,
/// `aud`, `auth_time` (when both carry one) and `nonce` (when the new one
/// carries one). `original` is the ID token stored in the session at login
/// (verified then, kept server-side). The reason, when it does not.
pub(super) fn check(original: &str, refreshed: &IdTokenClaims) -> Result<(), &'static str> {
    let claims: Value = UnverifiedJws::parse(original)
        .ok()
        .and_then(|j| j.insecure_payload().ok())
        .and_then(|p| serde_json::from_slice(&p).ok())
        .ok_or("the session's ID token cannot be read")?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(refreshed.iss.as_str()) {
        return Err("another iss");
    }
    if text("sub") != Some(refreshed.sub.as_str()) {
        return Err("another sub");
    }
    let mut before: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut after: Vec<&str> = refreshed
        .aud
        .as_slice()
        .iter()
        .map(String::as_str)
        .collect();
    before.sort_unstable();
    before.dedup();
    after.sort_unstable();
    after.dedup();
    if before != after {
        return Err("another aud");
    }
    if let (Some(now), Some(then)) = (
        refreshed.auth_time,
        claims.get("auth_time").and_then(Value::as_i64),
    ) && now != then
    {
        return Err("another auth_time");
    }
    if let Some(nonce) = &refreshed.nonce
        && text("nonce") != Some(nonce.as_str())
    {
        return Err("a nonce other than the login's");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;
    use sesame_core::{JwsAlgorithm, SigningKey, jws};

    fn original() -> String {
        let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
        jws::sign(
            &key,
            Some("JWT"),
            &json!({"iss": "https://op", "sub": "u1", "aud": ["rp", "other"], "exp": 2, "iat": 1,
                    "auth_time": 100, "nonce": "n1"}),
        )
        .unwrap()
    }

    fn refreshed(edit: impl FnOnce(&mut Value)) -> IdTokenClaims {
        let mut v =
            json!({"iss": "https://op", "sub": "u1", "aud": ["other", "rp"], "exp": 20, "iat": 10});
        edit(&mut v);
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_same_login_passes() {
        let o = original();
        assert_eq!(check(&o, &refreshed(|_| {})), Ok(()));
        assert_eq!(
            check(&o, &refreshed(|v| v["auth_time"] = json!(100))),
            Ok(())
        );
        assert_eq!(check(&o, &refreshed(|v| v["nonce"] = json!("n1"))), Ok(()));
    }

    #[test]
    fn another_login_is_refused() {
        let o = original();
        assert_eq!(
            check(&o, &refreshed(|v| v["iss"] = json!("https://evil"))),
            Err("another iss")
        );
        assert_eq!(
            check(&o, &refreshed(|v| v["sub"] = json!("u2"))),
            Err("another sub")
        );
        assert_eq!(
            check(&o, &refreshed(|v| v["aud"] = json!("rp"))),
            Err("another aud")
        );
        assert_eq!(
            check(&o, &refreshed(|v| v["auth_time"] = json!(101))),
            Err("another auth_time")
        );
        assert_eq!(
            check(&o, &refreshed(|v| v["nonce"] = json!("n2"))),
            Err("a nonce other than the login's")
        );
        assert!(check("not a jwt", &refreshed(|_| {})).is_err());
    }
}
