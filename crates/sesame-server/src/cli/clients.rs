//! `sesame clients …`

use clap::{Args, Subcommand};
use serde_json::json;
use sesame_core::{ClientAuthMethod, ClientId, GrantType, JwsAlgorithm, SubjectType};
use sesame_op::store::ClientStore;

use super::words::{self, Word};
use super::{Failure, open, print_line};
use crate::admin::{self, NewClient};
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub(super) enum ClientsCommand {
    /// Register a client; the secret is printed once and stored hashed.
    Add(Box<ClientAdd>),
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
    /// A redirect URI (repeat for several); matched exactly.
    #[arg(long = "redirect-uri", required = true)]
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
    /// A fixed client id (default: random).
    #[arg(long)]
    client_id: Option<String>,
    /// Print {"client_id": …, "client_secret": …}.
    #[arg(long)]
    json: bool,
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
        })
    }
}

pub(super) async fn run(config: &Config, command: ClientsCommand) -> Result<(), Failure> {
    let store = open(config).await?;
    match command {
        ClientsCommand::Add(a) => {
            let json = a.json;
            let registered = admin::add_client(&store, &a.new_client()?).await?;
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
