//! Client authentication at the token, introspection and revocation endpoints
//! (RFC 6749 §2.3, OIDC Core §9, RFC 7523): `client_secret_basic`,
//! `client_secret_post`, `private_key_jwt`, `client_secret_jwt` and `none`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sesame_core::{ClientId, ErrorCode, JwsAlgorithm, KeySet, SigningKey, UnixTime, UnverifiedJws};

use super::{FlowError, OAuthError, Params};
use crate::model::{AuthMethod, Client};
use crate::provider::Provider;
use crate::secrets::{token_key, verify_secret};

use sesame_core::CLIENT_ASSERTION_TYPE_JWT_BEARER as JWT_BEARER;

/// Algorithms accepted for `private_key_jwt` assertions.
pub(crate) const ASSERTION_ALGS: [JwsAlgorithm; 7] = [
    JwsAlgorithm::RS256,
    JwsAlgorithm::RS384,
    JwsAlgorithm::RS512,
    JwsAlgorithm::PS256,
    JwsAlgorithm::ES256,
    JwsAlgorithm::ES384,
    JwsAlgorithm::EdDSA,
];

/// Algorithms accepted for `client_secret_jwt` assertions (keyed by the client secret).
pub(crate) const HMAC_ASSERTION_ALGS: [JwsAlgorithm; 3] = [
    JwsAlgorithm::HS256,
    JwsAlgorithm::HS384,
    JwsAlgorithm::HS512,
];

fn invalid_client(description: &str) -> FlowError {
    FlowError::OAuth(OAuthError::new(ErrorCode::InvalidClient, description))
}

fn form_decode(value: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

/// Authenticates the client of a request: `authorization` is the raw
/// Authorization header, if any; `endpoint` is the URL the assertion's `aud`
/// may name. The client comes back as its security profile has it
/// ([`crate::profile::enforce`]), or is refused when it breaks it.
pub(crate) async fn authenticate(
    p: &Provider,
    authorization: Option<&str>,
    form: &Params,
    endpoint: &str,
    now: UnixTime,
) -> Result<Client, FlowError> {
    let client = authenticate_any(p, authorization, form, endpoint, now).await?;
    crate::profile::enforce(p, client).map_err(|e| invalid_client(&e))
}

async fn authenticate_any(
    p: &Provider,
    authorization: Option<&str>,
    form: &Params,
    endpoint: &str,
    now: UnixTime,
) -> Result<Client, FlowError> {
    let basic = authorization
        .and_then(|h| {
            h.strip_prefix("Basic ")
                .or_else(|| h.strip_prefix("basic "))
        })
        .map(str::trim);
    let secret_in_body = form.get("client_secret");
    let assertion = form.get("client_assertion");
    let methods = usize::from(basic.is_some())
        + usize::from(secret_in_body.is_some())
        + usize::from(assertion.is_some());
    if methods > 1 {
        return Err(OAuthError::new(
            ErrorCode::InvalidRequest,
            "use exactly one client authentication method (RFC 6749 §2.3)",
        )
        .into());
    }
    if let Some(basic) = basic {
        let decoded = STANDARD
            .decode(basic)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| invalid_client("malformed Basic credentials"))?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(|| invalid_client("malformed Basic credentials"))?;
        let id = form_decode(id).ok_or_else(|| invalid_client("malformed client id"))?;
        let secret =
            form_decode(secret).ok_or_else(|| invalid_client("malformed client secret"))?;
        if let Some(body_id) = form.get("client_id")
            && body_id != id
        {
            return Err(invalid_client(
                "client_id differs from the authenticated client",
            ));
        }
        return check_secret(p, &id, &secret, AuthMethod::ClientSecretBasic).await;
    }
    if let Some(secret) = secret_in_body {
        let id = form
            .get("client_id")
            .ok_or_else(|| invalid_client("client_id is missing"))?;
        return check_secret(p, id, secret, AuthMethod::ClientSecretPost).await;
    }
    if let Some(assertion) = assertion {
        if form.get("client_assertion_type") != Some(JWT_BEARER) {
            return Err(invalid_client("unsupported client_assertion_type"));
        }
        return check_assertion(p, assertion, form.get("client_id"), endpoint, now).await;
    }
    let id = form
        .get("client_id")
        .ok_or_else(|| invalid_client("client authentication is missing"))?;
    let client = find(p, id).await?;
    if client.token_endpoint_auth_method != AuthMethod::None {
        return Err(invalid_client("this client must authenticate"));
    }
    Ok(client)
}

async fn find(p: &Provider, id: &str) -> Result<Client, FlowError> {
    p.inner
        .store
        .find_client(&ClientId::new(id))
        .await?
        .ok_or_else(|| invalid_client("client authentication failed"))
}

async fn check_secret(
    p: &Provider,
    id: &str,
    secret: &str,
    method: AuthMethod,
) -> Result<Client, FlowError> {
    let client = find(p, id).await?;
    let hash = client.client_secret_hash.clone();
    let ok = client.token_endpoint_auth_method == method
        && match hash {
            None => false,
            // A generated secret: one SHA-256, done here.
            Some(h) if !h.starts_with("$argon2") => verify_secret(secret, &h),
            // An Argon2 hash is deliberately slow: keep it off the async workers.
            Some(h) => {
                let secret = secret.to_owned();
                tokio::task::spawn_blocking(move || verify_secret(&secret, &h))
                    .await
                    .unwrap_or(false)
            }
        };
    if ok {
        Ok(client)
    } else {
        tracing::info!(
            client_id = id,
            method = method.as_str(),
            "client authentication failed"
        );
        Err(invalid_client("client authentication failed"))
    }
}

async fn check_assertion(
    p: &Provider,
    assertion: &str,
    body_client_id: Option<&str>,
    endpoint: &str,
    now: UnixTime,
) -> Result<Client, FlowError> {
    let jws = UnverifiedJws::parse(assertion)
        .map_err(|_| invalid_client("malformed client_assertion"))?;
    let claims: Value = jws
        .insecure_payload()
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| invalid_client("malformed client_assertion"))?;
    let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
    if body_client_id.is_some_and(|id| id != iss) {
        return Err(invalid_client(
            "client_id differs from the assertion's issuer",
        ));
    }
    let client = find(p, iss).await?;
    let alg = jws.header().alg;
    if client
        .token_endpoint_auth_signing_alg
        .is_some_and(|pinned| pinned != alg)
    {
        return Err(invalid_client(
            "client_assertion is not signed with the registered token_endpoint_auth_signing_alg",
        ));
    }
    if crate::profile::of(p, &client).is_some() && !crate::profile::FAPI2_ALGS.contains(&alg) {
        return Err(invalid_client(
            "FAPI 2.0: client_assertion must be signed with PS256, ES256 or EdDSA",
        ));
    }
    let verified = match client.token_endpoint_auth_method {
        AuthMethod::PrivateKeyJwt => {
            let keys = p
                .client_keys(&client, jws.header().kid.as_deref())
                .await
                .unwrap_or_default();
            jws.verify(&keys, &ASSERTION_ALGS, None)
        }
        AuthMethod::ClientSecretJwt => {
            // The only key is the client secret, and only for HS* (a token
            // "signed" with anything else finds no key and fails).
            let secret = client
                .client_secret_jwt_key
                .as_ref()
                .filter(|_| HMAC_ASSERTION_ALGS.contains(&alg))
                .and_then(|s| SigningKey::hmac(alg, s.secret().as_bytes()).ok());
            jws.verify(&KeySet::default(), &HMAC_ASSERTION_ALGS, secret.as_ref())
        }
        _ => return Err(invalid_client("client authentication failed")),
    }
    .map_err(|_| invalid_client("client_assertion signature is invalid"))?;
    let claims: Value = verified
        .claims()
        .map_err(|_| invalid_client("malformed client_assertion"))?;
    let sub = claims.get("sub").and_then(Value::as_str);
    // FAPI 2.0 §5.3.2.1 #8: the issuer as the sole audience, whatever the
    // legacy switches say.
    let legacy = (client.legacy_assertion_audience || p.inner.settings.legacy_assertion_audience)
        && crate::profile::of(p, &client).is_none();
    let aud_ok = audience_ok(
        claims.get("aud"),
        p.inner.issuer.as_str(),
        legacy.then_some(endpoint),
    );
    let exp = claims.get("exp").and_then(Value::as_i64);
    let jti = claims.get("jti").and_then(Value::as_str);
    if sub != Some(iss) || !aud_ok {
        return Err(invalid_client("client_assertion iss, sub or aud is wrong"));
    }
    let Some(exp) = exp.filter(|e| *e > now - 60 && *e <= now + 3600) else {
        return Err(invalid_client(
            "client_assertion is expired or lives too long",
        ));
    };
    // RFC 7519 §4.1.5 and RFC 7523 §3: not accepted before its nbf, nor
    // when issued in the future, beyond the clock skew FAPI 2.0 §5.3.2.1
    // asks servers to tolerate (10 s; ASSERTION_SKEW allows more).
    let ahead = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_i64)
            .is_some_and(|t| t > now + ASSERTION_SKEW)
    };
    if ahead("nbf") || ahead("iat") {
        return Err(invalid_client(
            "client_assertion is not valid yet (its nbf or iat is in the future)",
        ));
    }
    let Some(jti) = jti else {
        return Err(invalid_client("client_assertion has no jti"));
    };
    let fresh = p
        .inner
        .store
        .remember_jti(&token_key(&format!("{iss}\u{0}{jti}")), exp + 60)
        .await?;
    if !fresh {
        return Err(invalid_client("client_assertion was already used"));
    }
    Ok(client)
}

/// How far ahead of the server's clock an assertion's `nbf` or `iat` may be.
const ASSERTION_SKEW: i64 = 60;

/// S15, draft-ietf-oauth-rfc7523bis §4: the assertion's audience is the
/// issuer identifier as its sole value — a string, or an array holding
/// exactly that one string (RFC 7519 §4.1.3 makes the two the same single
/// audience; nothing else is in the set, so no other server was also
/// named). `legacy_endpoint`: for a client with
/// [`Client::legacy_assertion_audience`], the URL of the endpoint called is
/// accepted too, as that sole value.
fn audience_ok(aud: Option<&Value>, issuer: &str, legacy_endpoint: Option<&str>) -> bool {
    let sole = match aud {
        Some(Value::String(a)) => a.as_str(),
        Some(Value::Array(a)) if a.len() == 1 => match a[0].as_str() {
            Some(a) => a,
            None => return false,
        },
        _ => return false,
    };
    sole == issuer || legacy_endpoint == Some(sole)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::audience_ok;

    #[test]
    fn only_the_issuer_is_the_audience_unless_the_client_is_legacy() {
        let iss = "https://op.example";
        let endpoint = "https://op.example/token";
        let ok =
            |aud: Value, legacy: bool| audience_ok(Some(&aud), iss, legacy.then_some(endpoint));
        assert!(ok(json!(iss), false));
        assert!(
            ok(json!([iss]), false),
            "a one-element array is the same audience"
        );
        assert!(
            !ok(json!(["https://attacker.example", iss]), false),
            "another audience beside the issuer"
        );
        assert!(!ok(json!([iss, iss]), false));
        assert!(
            !ok(json!(endpoint), false),
            "the endpoint only for legacy clients"
        );
        assert!(!ok(json!([endpoint]), false));
        assert!(ok(json!(endpoint), true));
        assert!(ok(json!([endpoint]), true));
        assert!(!ok(json!([endpoint, iss]), true), "still one value");
        assert!(!ok(json!(["https://attacker.example", endpoint]), true));
        assert!(!ok(json!("https://op.example/"), false), "exact comparison");
        assert!(!ok(json!(1), false));
        assert!(!ok(json!([]), false));
        assert!(!audience_ok(None, iss, None));
    }
}
