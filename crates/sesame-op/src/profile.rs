//! Security profiles a provider, or one client, can be held to: today the
//! FAPI 2.0 Security Profile (final, §5.3 "Requirements for authorization
//! servers").
//!
//! A profile is enforced where the flows meet a client: when the
//! authorization endpoint looks it up and when it authenticates at the token,
//! PAR, introspection, revocation and device endpoints. There
//! `enforce` turns on the switches the profile implies (pushed requests,
//! PKCE, DPoP-bound tokens) and refuses a client whose registration breaks
//! it; the rest is read by the flows through `of`: S256 only, codes that
//! live at most 60 s, refresh tokens that are not rotated (§5.3.2.1 #10: a
//! retried refresh with the previous token must succeed, and without rotation
//! it always does).
//!
//! Mutual-TLS client authentication and certificate-bound tokens are not
//! offered (Sesame sits behind TLS-terminating proxies): FAPI 2.0 clients of
//! Sesame use `private_key_jwt` and DPoP, which the profile allows.

use sesame_core::{JwsAlgorithm, SecurityProfile};

use crate::model::{AuthMethod, Client, GrantType};
use crate::provider::Provider;

/// The signing algorithms FAPI 2.0 allows (§5.4.1): for ID tokens, client
/// assertions and request objects.
pub const FAPI2_ALGS: &[JwsAlgorithm] = SecurityProfile::Fapi2.signing_algs();

/// The longest an authorization code may live under FAPI 2.0 (§5.3.2.1 #9).
pub const FAPI2_CODE_TTL: i64 = 60;

/// What in `client`'s registration breaks `profile`; empty when it
/// conforms. `sesame clients add --profile` shows these before saving.
pub fn breaches(profile: SecurityProfile, client: &Client) -> Vec<&'static str> {
    let mut out = Vec::new();
    if profile != SecurityProfile::Fapi2 {
        return out;
    }
    let algs = profile.signing_algs();
    if client.is_public() {
        out.push("FAPI 2.0 clients are confidential (§5.3.2.1 #3): a public client cannot use it");
    } else if client.token_endpoint_auth_method != AuthMethod::PrivateKeyJwt {
        out.push(
            "FAPI 2.0 clients authenticate with private_key_jwt (§5.3.2.1 #5; mutual TLS is not offered)",
        );
    }
    if client.response_types.iter().any(|t| t != "code") {
        out.push("FAPI 2.0 allows only the code response type (§5.3.2.2 #1)");
    }
    if client
        .grant_types
        .iter()
        .any(|g| matches!(g, GrantType::Implicit | GrantType::Password))
    {
        out.push("FAPI 2.0 refuses the implicit and password grants (§5.3.2.1 #2)");
    }
    if !algs.contains(&client.id_token_signed_response_alg) {
        out.push("FAPI 2.0 ID tokens are signed with PS256, ES256 or EdDSA (§5.4.1)");
    }
    if client
        .token_endpoint_auth_signing_alg
        .is_some_and(|a| !algs.contains(&a))
    {
        out.push("FAPI 2.0 client assertions are signed with PS256, ES256 or EdDSA (§5.4.1)");
    }
    if client
        .request_object_signing_alg
        .as_deref()
        .is_some_and(|a| JwsAlgorithm::parse(a).is_none_or(|a| !algs.contains(&a)))
    {
        out.push("FAPI 2.0 request objects are signed with PS256, ES256 or EdDSA (§5.4.1)");
    }
    out
}

/// Turns on in `client` the switches `profile` implies: pushed requests,
/// PKCE always, DPoP-bound tokens.
pub fn apply(profile: SecurityProfile, client: &mut Client) {
    let SecurityProfile::Fapi2 = profile else {
        return;
    };
    client.require_par = true;
    client.require_pkce = true;
    client.dpop_bound_access_tokens = true;
}

/// The profile `client` is held to: its own, else the provider's.
pub(crate) fn of(p: &Provider, client: &Client) -> Option<SecurityProfile> {
    client.profile.or(p.inner.settings.profile)
}

/// `client` as the flows must treat it: the switches of its profile on.
///
/// # Errors
/// What in its registration breaks its profile, as one sentence.
pub(crate) fn enforce(p: &Provider, mut client: Client) -> Result<Client, String> {
    let Some(profile) = of(p, &client) else {
        return Ok(client);
    };
    let breaches = breaches(profile, &client);
    if !breaches.is_empty() {
        return Err(format!(
            "this client is held to the {profile} profile but its registration breaks it: {}",
            breaches.join("; ")
        ));
    }
    apply(profile, &mut client);
    Ok(client)
}

/// How long `client`'s authorization codes live.
pub(crate) fn code_ttl(p: &Provider, client: &Client) -> i64 {
    match of(p, client) {
        Some(SecurityProfile::Fapi2) => p.inner.settings.code_ttl.min(FAPI2_CODE_TTL),
        _ => p.inner.settings.code_ttl,
    }
}

/// Whether `client` may use PKCE `plain` (never under FAPI 2.0, §5.3.2.2 #3).
pub(crate) fn allows_plain_pkce(p: &Provider, client: &Client) -> bool {
    p.inner.settings.allow_plain_pkce && of(p, client).is_none()
}

/// Whether a refresh rotates `client`'s refresh token (not under FAPI 2.0:
/// the client keeps the one it has, so a lost response costs nothing).
pub(crate) fn rotates_refresh_tokens(p: &Provider, client: &Client) -> bool {
    of(p, client).is_none()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use sesame_core::{ClientId, RedirectUri};

    fn conforming() -> Client {
        let mut c = Client::new(
            ClientId::new("bank-app"),
            vec![RedirectUri::new("https://app.example/cb").unwrap()],
            0,
        );
        c.token_endpoint_auth_method = AuthMethod::PrivateKeyJwt;
        c.id_token_signed_response_alg = JwsAlgorithm::PS256;
        c
    }

    #[test]
    fn a_conforming_client_has_no_breach() {
        assert_eq!(
            breaches(SecurityProfile::Fapi2, &conforming()),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn each_breach_is_named() {
        type Change = fn(&mut Client);
        let cases: [(Change, &str); 6] = [
            (
                |c| c.token_endpoint_auth_method = AuthMethod::None,
                "confidential",
            ),
            (
                |c| c.token_endpoint_auth_method = AuthMethod::ClientSecretBasic,
                "private_key_jwt",
            ),
            (
                |c| c.response_types.push("code id_token".into()),
                "code response type",
            ),
            (|c| c.grant_types.push(GrantType::Password), "password"),
            (
                |c| c.id_token_signed_response_alg = JwsAlgorithm::RS256,
                "ID tokens",
            ),
            (
                |c| c.request_object_signing_alg = Some("none".into()),
                "request objects",
            ),
        ];
        for (change, words) in cases {
            let mut c = conforming();
            change(&mut c);
            let breaches = breaches(SecurityProfile::Fapi2, &c);
            assert_eq!(breaches.len(), 1, "{words}: {breaches:?}");
            assert!(breaches[0].contains(words), "{words}: {breaches:?}");
        }
    }

    #[test]
    fn the_name_round_trips() {
        assert_eq!(
            SecurityProfile::parse("fapi2"),
            Some(SecurityProfile::Fapi2)
        );
        assert_eq!(SecurityProfile::Fapi2.to_string(), "fapi2");
        assert_eq!(SecurityProfile::parse("fapi1"), None);
    }
}
