//! `sesame clients …`

use clap::{Args, Subcommand};
use serde_json::json;
use sesame_core::{
    ClientAuthMethod, ClientId, GrantType, JwsAlgorithm, ResponseType, SecurityProfile, SubjectType,
};
use sesame_op::store::ClientStore;

use super::words::{self, Word};
use super::{Failure, open, print_line};
use crate::admin::{self, ClientUpdate, NewClient};
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub(super) enum ClientsCommand {
    /// Register a client; the secret is printed once and stored hashed.
    ///
    /// PKCE: public clients must send it (S256). A confidential client may
    /// send a nonce instead (RFC 9700 §2.1.1; mozilla-django-oidc and pyoidc
    /// do on their defaults); --require-pkce asks for PKCE always.
    ///
    /// Examples:
    ///   sesame clients add --name Wiki --redirect-uri https://wiki.example/oidc/callback/
    ///   sesame clients add --name SPA --public --redirect-uri https://spa.example/cb
    ///   sesame clients add --name Legacy --redirect-uri https://legacy.example/cb \
    ///     --grant-type implicit --response-type "id_token token" --response-type id_token
    ///   sesame clients add --name Hybrid --redirect-uri https://h.example/cb \
    ///     --grant-type authorization_code --grant-type implicit --response-type "code id_token"
    ///   sesame clients add --name Api --redirect-uri https://api.example/cb \
    ///     --auth-method private_key_jwt --jwks client-jwks.json
    ///   sesame clients add --name "TV app" --public \
    ///     --grant-type urn:ietf:params:oauth:grant-type:device_code --grant-type refresh_token
    #[command(verbatim_doc_comment)]
    Add(Box<ClientAdd>),
    /// Change a registered client: each flag given replaces the stored value
    /// (repeatable flags replace the whole list).
    Update(Box<ClientChange>),
    /// Issue an initial access token for dynamic registration
    /// (`registration = "token"`); printed once, stored hashed.
    ///
    /// Example: sesame clients initial-access-token --ttl 3600 --json
    InitialAccessToken {
        /// How long the token is accepted, in seconds (default one day).
        #[arg(long, default_value_t = 86_400)]
        ttl: i64,
        /// Print {"token": …, "expires_at": …}.
        #[arg(long)]
        json: bool,
    },
    /// List clients.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Show one client.
    Show {
        /// The client id.
        client_id: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Remove a client.
    Remove {
        /// The client id.
        client_id: String,
    },
}

#[derive(Debug, Args)]
pub(super) struct ClientAdd {
    /// Display name (shown on the consent page).
    #[arg(long)]
    name: String,
    /// A redirect URI (repeat for several); matched exactly. Required unless
    /// the client's grants never redirect (e.g. only
    /// urn:ietf:params:oauth:grant-type:device_code).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// A public client (no secret; PKCE required).
    #[arg(long)]
    public: bool,
    /// A post-logout redirect URI (repeat for several).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// A grant type (repeat); `password` needs a confidential client and
    /// `password_grant = true` in the configuration.
    #[arg(long = "grant-type", value_parser = words::parser::<GrantType>())]
    grant_types: Vec<Word<GrantType>>,
    /// How the client authenticates at the token endpoint.
    #[arg(long, value_parser = words::parser::<ClientAuthMethod>())]
    auth_method: Option<Word<ClientAuthMethod>>,
    /// The ID token's signing algorithm (default RS256).
    #[arg(long, value_parser = words::parser::<JwsAlgorithm>())]
    id_token_alg: Option<Word<JwsAlgorithm>>,
    /// A first-party client: no consent page.
    #[arg(long)]
    skip_consent: bool,
    /// Where to POST back-channel logout tokens.
    #[arg(long)]
    backchannel_logout_uri: Option<String>,
    /// public (default) or pairwise: a `sub` per sector (the one host of the redirect URIs).
    #[arg(long, value_parser = words::parser::<SubjectType>())]
    subject_type: Option<Word<SubjectType>>,
    /// Accept the token endpoint URL as the `aud` of this client's
    /// private_key_jwt/client_secret_jwt assertions, besides the issuer (for
    /// clients that cannot send the issuer yet; draft-ietf-oauth-rfc7523bis).
    #[arg(long)]
    legacy_assertion_audience: bool,
    /// An RFC 8707 resource (an API's absolute URI) the client may ask access tokens for (repeat).
    #[arg(long = "resource")]
    resources: Vec<String>,
    /// A response type (repeat for several; default code). Implicit ones
    /// (id_token, "id_token token") need --grant-type implicit; hybrid ones
    /// ("code id_token", "code token", "code id_token token") need
    /// authorization_code and implicit.
    #[arg(long = "response-type", value_parser = words::parser::<ResponseType>())]
    response_types: Vec<Word<ResponseType>>,
    /// Require PKCE (S256) on every code request, even with a nonce.
    #[arg(long)]
    require_pkce: bool,
    /// Accept its authorization requests only when pushed first to /par (RFC 9126).
    #[arg(long)]
    require_par: bool,
    /// Every sign-in for it needs a second factor (the `[acr] mfa` value, as an
    /// essential acr): users without TOTP are refused with access_denied.
    #[arg(long)]
    require_mfa: bool,
    /// Its token requests must carry a DPoP proof: every token is DPoP-bound (RFC 9449).
    #[arg(long)]
    dpop: bool,
    /// A file with the client's public JWK Set, for --auth-method private_key_jwt.
    #[arg(long, value_name = "FILE", conflicts_with = "jwks_uri")]
    jwks: Option<std::path::PathBuf>,
    /// Where the client publishes its public keys instead (fetched when needed, cached).
    #[arg(long, value_name = "URL")]
    jwks_uri: Option<String>,
    /// Sign userinfo responses (a JWT) with this algorithm.
    #[arg(long, value_parser = words::parser::<JwsAlgorithm>())]
    userinfo_signed_alg: Option<Word<JwsAlgorithm>>,
    /// Sign JWT-secured authorization responses (JARM) with this algorithm (default RS256).
    #[arg(long, value_parser = words::parser::<JwsAlgorithm>())]
    authorization_signed_response_alg: Option<Word<JwsAlgorithm>>,
    /// A URL the client's request_uri may name (repeat; request objects by reference).
    #[arg(long = "request-uri")]
    request_uris: Vec<String>,
    /// The only algorithm accepted for its request objects; `none` allows unsigned ones.
    #[arg(long, value_name = "ALG")]
    request_object_alg: Option<String>,
    /// Hold the client to a security profile: `fapi2` (the FAPI 2.0 Security
    /// Profile: PAR, PKCE S256, DPoP-bound tokens, private_key_jwt,
    /// PS256/ES256/EdDSA, codes of 60 s, no refresh-token rotation).
    #[arg(long, value_parser = parse_profile)]
    profile: Option<SecurityProfile>,
    /// A fixed client id (default: random).
    #[arg(long)]
    client_id: Option<String>,
    /// Print {"client_id": …, "client_secret": …}.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(super) struct ClientChange {
    /// The client id.
    client_id: String,
    /// Display name.
    #[arg(long)]
    name: Option<String>,
    /// The redirect URIs (repeat; replaces them all).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// The grant types (repeat; replaces them all).
    #[arg(long = "grant-type", value_parser = words::parser::<GrantType>())]
    grant_types: Vec<Word<GrantType>>,
    /// The response types (repeat; replaces them all).
    #[arg(long = "response-type", value_parser = words::parser::<ResponseType>())]
    response_types: Vec<Word<ResponseType>>,
    /// Require PKCE always (true) or follow RFC 9700 (false).
    #[arg(long, value_name = "BOOL")]
    require_pkce: Option<bool>,
    /// Require pushed authorization requests (true) or not (false).
    #[arg(long, value_name = "BOOL")]
    require_par: Option<bool>,
    /// Require a second factor for every sign-in (true) or not (false).
    #[arg(long, value_name = "BOOL")]
    require_mfa: Option<bool>,
    /// Require DPoP proofs at the token endpoint (true) or not (false).
    #[arg(long, value_name = "BOOL")]
    dpop: Option<bool>,
    /// A file with the client's public JWK Set (replaces a jwks_uri).
    #[arg(long, value_name = "FILE", conflicts_with = "jwks_uri")]
    jwks: Option<std::path::PathBuf>,
    /// Where the client publishes its public keys (replaces inline keys).
    #[arg(long, value_name = "URL")]
    jwks_uri: Option<String>,
    /// The ID token's signing algorithm.
    #[arg(long, value_parser = words::parser::<JwsAlgorithm>())]
    id_token_alg: Option<Word<JwsAlgorithm>>,
    /// Sign userinfo responses with this algorithm.
    #[arg(long, value_parser = words::parser::<JwsAlgorithm>(), conflicts_with = "plain_userinfo")]
    userinfo_signed_alg: Option<Word<JwsAlgorithm>>,
    /// Answer userinfo as plain JSON again.
    #[arg(long)]
    plain_userinfo: bool,
    /// Sign JWT-secured authorization responses (JARM) with this algorithm.
    #[arg(long, value_parser = words::parser::<JwsAlgorithm>())]
    authorization_signed_response_alg: Option<Word<JwsAlgorithm>>,
    /// First-party (true: no consent page) or third-party (false).
    #[arg(long, value_name = "BOOL")]
    skip_consent: Option<bool>,
    /// The URLs its request_uri may name (repeat; replaces them all).
    #[arg(long = "request-uri")]
    request_uris: Vec<String>,
    /// The only algorithm accepted for its request objects (`none`: unsigned; `any`: any supported).
    #[arg(long, value_name = "ALG")]
    request_object_alg: Option<String>,
    /// Hold the client to a security profile (`fapi2`), or to none (`none`).
    #[arg(long, value_name = "PROFILE", value_parser = parse_profile_or_none)]
    profile: Option<ProfileOrNone>,
}

/// `--profile` of `clients update`: a profile, or `none`.
#[derive(Debug, Clone, Copy)]
struct ProfileOrNone(Option<SecurityProfile>);

fn parse_profile(s: &str) -> Result<SecurityProfile, String> {
    SecurityProfile::parse(s).ok_or_else(|| format!("unknown profile {s:?} (known: fapi2)"))
}

fn parse_profile_or_none(s: &str) -> Result<ProfileOrNone, String> {
    if s == "none" {
        Ok(ProfileOrNone(None))
    } else {
        parse_profile(s).map(|p| ProfileOrNone(Some(p)))
    }
}

/// The JWK Set in `path`, as JSON.
fn read_jwks(path: Option<&std::path::Path>) -> Result<Option<serde_json::Value>, Failure> {
    let Some(path) = path else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| admin::AdminError::Invalid(format!("--jwks {}: {e}", path.display())))?;
    let value = serde_json::from_str(&text).map_err(|e| {
        admin::AdminError::Invalid(format!("--jwks {}: not JSON: {e}", path.display()))
    })?;
    Ok(Some(value))
}

impl ClientChange {
    fn update(self) -> Result<(String, ClientUpdate), Failure> {
        let userinfo_signed_alg = match (self.userinfo_signed_alg, self.plain_userinfo) {
            (Some(w), _) => Some(Some(w.get("--userinfo-signed-alg")?)),
            (None, true) => Some(None),
            (None, false) => None,
        };
        let update = ClientUpdate {
            name: self.name,
            redirect_uris: Some(self.redirect_uris).filter(|v| !v.is_empty()),
            grant_types: Some(words::all(self.grant_types, "--grant-type")?)
                .filter(|v| !v.is_empty()),
            response_types: Some(words::all(self.response_types, "--response-type")?)
                .filter(|v| !v.is_empty()),
            require_pkce: self.require_pkce,
            require_par: self.require_par,
            require_acr: None,
            dpop: self.dpop,
            jwks: read_jwks(self.jwks.as_deref())?,
            jwks_uri: self.jwks_uri,
            id_token_alg: self
                .id_token_alg
                .map(|w| w.get("--id-token-alg"))
                .transpose()?,
            userinfo_signed_alg,
            authorization_signed_response_alg: self
                .authorization_signed_response_alg
                .map(|w| w.get("--authorization-signed-response-alg"))
                .transpose()?,
            skip_consent: self.skip_consent,
            request_uris: Some(self.request_uris).filter(|v| !v.is_empty()),
            request_object_alg: self
                .request_object_alg
                .map(|a| Some(a).filter(|a| a != "any")),
            profile: self.profile.map(|p| p.0),
        };
        Ok((self.client_id, update))
    }
}

impl ClientAdd {
    fn new_client(self) -> Result<NewClient, Failure> {
        Ok(NewClient {
            name: self.name,
            client_id: self.client_id,
            redirect_uris: self.redirect_uris,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            grant_types: words::all(self.grant_types, "--grant-type")?,
            auth_method: self
                .auth_method
                .map(|w| w.get("--auth-method"))
                .transpose()?,
            public: self.public,
            id_token_alg: self
                .id_token_alg
                .map(|w| w.get("--id-token-alg"))
                .transpose()?,
            skip_consent: self.skip_consent,
            backchannel_logout_uri: self.backchannel_logout_uri,
            subject_type: self
                .subject_type
                .map(|w| w.get("--subject-type"))
                .transpose()?,
            resources: self.resources,
            legacy_assertion_audience: self.legacy_assertion_audience,
            response_types: words::all(self.response_types, "--response-type")?,
            require_pkce: self.require_pkce,
            require_par: self.require_par,
            require_acr: None,
            dpop: self.dpop,
            jwks: read_jwks(self.jwks.as_deref())?,
            jwks_uri: self.jwks_uri,
            userinfo_signed_alg: self
                .userinfo_signed_alg
                .map(|w| w.get("--userinfo-signed-alg"))
                .transpose()?,
            authorization_signed_response_alg: self
                .authorization_signed_response_alg
                .map(|w| w.get("--authorization-signed-response-alg"))
                .transpose()?,
            request_uris: self.request_uris,
            request_object_alg: self.request_object_alg,
            profile: self.profile,
        })
    }
}

pub(super) async fn run(config: &Config, command: ClientsCommand) -> Result<(), Failure> {
    let store = open(config).await?;
    match command {
        ClientsCommand::Add(a) => {
            let json = a.json;
            let mfa = a.require_mfa.then(|| config.acr.mfa.clone());
            let mut new = a.new_client()?;
            new.require_acr = mfa;
            let registered = admin::add_client(&store, &new).await?;
            if json {
                print_line(&serde_json::to_string(&registered)?);
            } else {
                print_line(&format!("client_id:     {}", registered.client_id));
                match &registered.client_secret {
                    Some(s) => {
                        print_line(&format!("client_secret: {s}   (shown once; store it now)"));
                    }
                    None => print_line("client_secret: none (public client)"),
                }
            }
        }
        ClientsCommand::Update(change) => {
            let mfa = change
                .require_mfa
                .map(|on| on.then(|| config.acr.mfa.clone()));
            let (client_id, mut update) = change.update()?;
            update.require_acr = mfa;
            admin::update_client(&store, &client_id, &update).await?;
            print_line(&format!("updated client {client_id}"));
        }
        ClientsCommand::InitialAccessToken { ttl, json } => {
            if ttl <= 0 {
                return Err(admin::AdminError::Invalid(
                    "--ttl must be a positive number of seconds".into(),
                )
                .into());
            }
            let now = sesame_core::Clock::now(&sesame_core::SystemClock);
            let token = store.issue_initial_access_token(ttl, now).await?;
            if json {
                print_line(&serde_json::to_string(
                    &json!({"token": token, "expires_at": now.saturating_add(ttl)}),
                )?);
            } else {
                print_line(&format!("initial access token: {token}   (shown once)"));
                if config.registration != crate::config::RegistrationMode::Token {
                    print_line("note: the server accepts it only with registration = \"token\"");
                }
            }
        }
        ClientsCommand::List { json } => {
            let clients = store.list_clients().await?;
            if json {
                let list: Vec<_> = clients.iter().map(client_json).collect();
                print_line(&serde_json::to_string_pretty(&list)?);
            } else {
                for c in clients {
                    print_line(&format!(
                        "{}\t{}\t{}",
                        c.client_id,
                        c.display_name(),
                        c.token_endpoint_auth_method.as_str()
                    ));
                }
            }
        }
        ClientsCommand::Show { client_id, json } => {
            let c = store
                .find_client(&ClientId::new(&client_id))
                .await?
                .ok_or_else(|| Failure::NoClient(client_id.clone()))?;
            let v = client_json(&c);
            if json {
                print_line(&serde_json::to_string_pretty(&v)?);
            } else if let Some(obj) = v.as_object() {
                for (k, v) in obj {
                    print_line(&format!("{k}: {v}"));
                }
            }
        }
        ClientsCommand::Remove { client_id } => {
            if !store.delete_client(&ClientId::new(&client_id)).await? {
                return Err(Failure::NoClient(client_id));
            }
            print_line(&format!("removed client {client_id}"));
        }
    }
    store.close().await;
    Ok(())
}

fn client_json(c: &sesame_op::Client) -> serde_json::Value {
    json!({
        "client_id": c.client_id.as_str(),
        "client_name": c.client_name,
        "redirect_uris": c.redirect_uris,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "grant_types": c.grant_types,
        "response_types": c.response_types,
        "require_pkce": c.require_pkce,
        "require_par": c.require_par,
        "require_acr": c.require_acr,
        "dpop_bound_access_tokens": c.dpop_bound_access_tokens,
        "profile": c.profile,
        "jwks": c.jwks,
        "jwks_uri": c.jwks_uri,
        "userinfo_signed_response_alg": c.userinfo_signed_response_alg,
        "authorization_signed_response_alg": c.authorization_signed_response_alg,
        "request_uris": c.request_uris,
        "request_object_signing_alg": c.request_object_signing_alg,
        "token_endpoint_auth_method": c.token_endpoint_auth_method.as_str(),
        "id_token_signed_response_alg": c.id_token_signed_response_alg,
        "skip_consent": c.skip_consent,
        "backchannel_logout_uri": c.backchannel_logout_uri,
        "subject_type": c.subject_type.as_str(),
        "allowed_resources": c.allowed_resources,
        "legacy_assertion_audience": c.legacy_assertion_audience,
        "created_at": c.created_at,
    })
}
