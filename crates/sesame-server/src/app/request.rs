//! `sesame app`: request objects (`--request-object`, `--request-object-alg`),
//! JWT-secured authorization responses (`--jarm`), pushed requests (`--par`),
//! the FAPI 2.0 client profile (`--profile fapi2`) and WebFinger issuer
//! discovery (`--issuer acct:USER@HOST`, `--allow-insecure-issuer`).

use sesame_core::{Issuer, JwkSet, JwsAlgorithm, SecurityProfile, SigningKey};
use sesame_rp::{OidcClientBuilder, RegistrationRequest, RequestObject, WebFinger};

use super::{AppConfig, AppError};

/// The request object and issuer options of `sesame app`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RequestArgs {
    /// Send the authorization request as a request object (OIDC Core §6): signed (`request=`,
    /// a JWT signed with the app's key), uri (`request_uri=`, the JWT served once at
    /// PUBLIC_URL/request-object/ID) or unsigned (`request=`, alg none).
    #[arg(long, value_name = "signed|uri|unsigned")]
    pub request_object: Option<String>,
    /// The request object's algorithm (default: the --private-key's own, else RS256; none: unsigned). Signed with
    /// --private-key, or with a key generated at start; either is served at
    /// PUBLIC_URL/jwks.json.
    #[arg(long, value_name = "ALG")]
    pub request_object_alg: Option<String>,
    /// Accept an http issuer and ask WebFinger over http, for loopback hosts only
    /// (`127.0.0.1`, `[::1]`, `localhost`): local tests.
    #[arg(long)]
    pub allow_insecure_issuer: bool,
    /// Ask for JWT-secured authorization responses (JARM): response_mode=jwt
    /// (form_post.jwt with --response-mode form_post or a token response type),
    /// each response JWT checked with the provider's keys.
    #[arg(long, env = "SESAME_APP_JARM")]
    pub jarm: bool,
    /// Push each authorization request first (PAR, RFC 9126), with the client's
    /// authentication; used anyway when the provider requires it.
    #[arg(long, env = "SESAME_APP_PAR")]
    pub par: bool,
    /// Follow a security profile's client rules. fapi2 (the FAPI 2.0 Security
    /// Profile): pushed requests, PKCE, DPoP-bound tokens, private_key_jwt with
    /// --private-key (P-256: ES256, Ed25519: EdDSA, RSA: PS256), PS256/ES256/EdDSA ID tokens only,
    /// `iss` required in the authorization response.
    #[arg(long, env = "SESAME_APP_PROFILE", value_name = "fapi2", value_parser = parse_profile)]
    pub profile: Option<SecurityProfile>,
}

fn parse_profile(s: &str) -> Result<SecurityProfile, String> {
    SecurityProfile::parse(s).ok_or_else(|| format!("unknown profile {s:?} (known: fapi2)"))
}

/// A PKCS#8 PEM key of any supported type: P-256 → ES256, P-384 → ES384,
/// Ed25519 → EdDSA, and RSA → RS256, or PS256 under a `--profile` that
/// allows no RS256 (FAPI 2.0 §5.4.1: PS256, ES256, EdDSA).
pub fn private_key(pem: &str, profile: Option<SecurityProfile>) -> Result<SigningKey, AppError> {
    let rsa = match profile {
        Some(p) if !p.signing_algs().contains(&JwsAlgorithm::RS256) => JwsAlgorithm::PS256,
        _ => JwsAlgorithm::RS256,
    };
    [
        JwsAlgorithm::ES256,
        JwsAlgorithm::ES384,
        JwsAlgorithm::EdDSA,
        rsa,
    ]
    .into_iter()
    .find_map(|alg| SigningKey::from_pkcs8_pem(alg, pem).ok())
    .ok_or_else(|| {
        AppError(
            "--private-key: not a PKCS#8 PEM (BEGIN PRIVATE KEY) RSA, P-256, P-384 or Ed25519 key"
                .into(),
        )
    })
}

/// What `--profile` needs from the other flags: `--private-key`, and no
/// `--client-secret`.
///
/// # Errors
/// The flag missing, or the one in the way, by name.
pub fn check_profile(config: &AppConfig) -> Result<(), AppError> {
    let Some(profile) = config.request.profile else {
        return Ok(());
    };
    if config.private_key_pem.is_none() {
        return Err(AppError(format!(
            "--profile {profile} authenticates with private_key_jwt: give --private-key FILE (a P-256, Ed25519 or RSA PKCS#8 PEM key; RSA signs PS256)"
        )));
    }
    if config.client_secret.is_some() {
        return Err(AppError(format!(
            "--profile {profile} authenticates with private_key_jwt: drop --client-secret"
        )));
    }
    Ok(())
}

/// The request object settings: the mode, its key and its algorithm.
#[derive(Debug)]
pub struct RequestObjectSetup {
    mode: RequestObject,
    key: Option<SigningKey>,
    alg: String,
}

/// `--issuer`: a URL serving a discovery document is the issuer; an
/// `acct:USER@HOST`, `USER@HOST` or a URL without one is looked up with WebFinger.
///
/// # Errors
/// A lookup that finds no acceptable issuer.
pub async fn issuer(config: &AppConfig) -> Result<Issuer, AppError> {
    let input = config.issuer.trim();
    let mut finger = WebFinger::new();
    if config.request.allow_insecure_issuer {
        finger = finger.allow_insecure_loopback();
    }
    let issuer = finger
        .discover_issuer(input)
        .await
        .map_err(|e| AppError(format!("--issuer {input}: {e}")))?;
    if issuer.as_str() != input {
        tracing::info!(input, issuer = %issuer, "issuer found with WebFinger");
    }
    Ok(issuer)
}

/// `--request-object` and `--request-object-alg`, with the key (from
/// `--private-key`'s PEM, or generated) for a signed object.
///
/// # Errors
/// An unknown mode or algorithm, or a key of another type.
pub fn setup(config: &AppConfig) -> Result<Option<RequestObjectSetup>, AppError> {
    let args = &config.request;
    let alg_name = args.request_object_alg.as_deref().unwrap_or("RS256");
    let Some(mode) = args.request_object.as_deref() else {
        if args.request_object_alg.is_some() {
            return Err(AppError(
                "--request-object-alg goes with --request-object".into(),
            ));
        }
        return Ok(None);
    };
    let unsigned = alg_name == "none";
    let mode = match (mode, unsigned) {
        ("signed", false) => RequestObject::Signed,
        ("signed" | "unsigned", true) => RequestObject::Unsigned,
        ("uri", false) => RequestObject::SignedByReference,
        ("uri", true) => RequestObject::UnsignedByReference,
        ("unsigned", false) if args.request_object_alg.is_none() => RequestObject::Unsigned,
        ("unsigned", false) => {
            return Err(AppError(
                "--request-object unsigned takes no --request-object-alg (or none)".into(),
            ));
        }
        (other, _) => {
            return Err(AppError(format!(
                "--request-object {other:?}: use signed, uri or unsigned"
            )));
        }
    };
    if !mode.is_signed() {
        return Ok(Some(RequestObjectSetup {
            mode,
            key: None,
            alg: "none".into(),
        }));
    }
    // No --request-object-alg: the --private-key's own algorithm (an EC key
    // signs ES256, not the RS256 it cannot make).
    if let (Some(pem), None) = (&config.private_key_pem, &args.request_object_alg) {
        let key = private_key(pem, args.profile)?;
        return Ok(Some(RequestObjectSetup {
            mode,
            alg: key.alg().as_str().to_owned(),
            key: Some(key),
        }));
    }
    let alg = JwsAlgorithm::parse(alg_name)
        .filter(|a| !a.is_symmetric())
        .ok_or_else(|| {
            AppError(format!(
                "--request-object-alg {alg_name:?}: use RS256, PS256, ES256, ES384, EdDSA … or none"
            ))
        })?;
    let key = match &config.private_key_pem {
        Some(pem) => SigningKey::from_pkcs8_pem(alg, pem).map_err(|e| {
            AppError(format!(
                "--request-object-alg {alg_name}: --private-key is not a key for it ({e})"
            ))
        })?,
        None => SigningKey::generate(alg)
            .map_err(|e| AppError(format!("generating a request object key: {e}")))?,
    };
    Ok(Some(RequestObjectSetup {
        mode,
        key: Some(key),
        alg: alg.as_str().to_owned(),
    }))
}

/// Adds the request object key's public JWK to the app's JWK Set (made if needed).
///
/// # Errors
/// When the public key cannot be exported.
pub fn publish(
    setup: Option<&RequestObjectSetup>,
    jwks: &mut Option<JwkSet>,
) -> Result<(), AppError> {
    let Some(key) = setup.and_then(|s| s.key.as_ref()) else {
        return Ok(());
    };
    let jwk = key.public_jwk().map_err(|e| AppError(e.to_string()))?;
    let set = jwks.get_or_insert_with(|| JwkSet { keys: Vec::new() });
    if !set
        .keys
        .iter()
        .any(|k| k.kid == jwk.kid && k.alg == jwk.alg)
    {
        set.keys.push(jwk);
    }
    Ok(())
}

/// The registration asks for the request object algorithm.
pub fn register(
    setup: Option<&RequestObjectSetup>,
    request: RegistrationRequest,
) -> RegistrationRequest {
    match setup {
        Some(s) => request.with_metadata("request_object_signing_alg", s.alg.clone().into()),
        None => request,
    }
}

/// The builder sends request objects, asks for JARM with `--jarm`, pushes
/// with `--par` and follows `--profile`.
pub fn apply(
    args: &RequestArgs,
    setup: Option<RequestObjectSetup>,
    mut builder: OidcClientBuilder,
) -> OidcClientBuilder {
    if args.jarm {
        builder = builder.with_jarm();
    }
    if args.par {
        builder = builder.with_par();
    }
    if let Some(profile) = args.profile {
        builder = builder.with_profile(profile);
    }
    if let Some(s) = setup {
        builder = builder.with_request_object(s.mode);
        if let Some(key) = s.key {
            builder = builder.with_request_object_key(key);
        }
    }
    builder
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pem(alg: JwsAlgorithm) -> String {
        SigningKey::generate(alg)
            .unwrap()
            .to_pkcs8_pem()
            .unwrap()
            .to_string()
    }

    #[test]
    fn an_rsa_key_signs_ps256_under_the_fapi2_profile_and_rs256_without() {
        let rsa = pem(JwsAlgorithm::RS256);
        let fapi2 = private_key(&rsa, Some(SecurityProfile::Fapi2)).unwrap();
        assert_eq!(fapi2.alg(), JwsAlgorithm::PS256);
        assert_eq!(private_key(&rsa, None).unwrap().alg(), JwsAlgorithm::RS256);
        let ec = pem(JwsAlgorithm::ES256);
        let ec = private_key(&ec, Some(SecurityProfile::Fapi2)).unwrap();
        assert_eq!(ec.alg(), JwsAlgorithm::ES256);
        assert!(private_key("not a key", None).is_err());
    }

    #[test]
    fn a_signed_request_object_takes_the_private_keys_algorithm_unless_told() {
        let signed = |pem: Option<String>, alg: Option<&str>| {
            let mut config = AppConfig {
                private_key_pem: pem,
                ..AppConfig::default()
            };
            config.request.request_object = Some("signed".into());
            config.request.request_object_alg = alg.map(str::to_owned);
            setup(&config).map(|s| s.unwrap().alg)
        };
        assert_eq!(
            signed(Some(pem(JwsAlgorithm::ES256)), None).unwrap(),
            "ES256"
        );
        assert_eq!(
            signed(Some(pem(JwsAlgorithm::EdDSA)), None).unwrap(),
            "EdDSA"
        );
        assert_eq!(
            signed(Some(pem(JwsAlgorithm::RS256)), None).unwrap(),
            "RS256"
        );
        // Told: that algorithm, and a key that cannot make it is an error.
        assert_eq!(
            signed(Some(pem(JwsAlgorithm::RS256)), Some("PS256")).unwrap(),
            "PS256"
        );
        assert!(signed(Some(pem(JwsAlgorithm::ES256)), Some("RS256")).is_err());
        // No key: one is generated, RS256 by default.
        assert_eq!(signed(None, None).unwrap(), "RS256");
    }
}
