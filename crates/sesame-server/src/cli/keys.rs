//! `sesame keys …`

use clap::Subcommand;
use sesame_core::JwsAlgorithm;
use sesame_op::store::KeyStore;

use super::words::{self, Word};
use super::{Failure, open, print_line};
use crate::admin;
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub(super) enum KeysCommand {
    /// List signing keys.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Staged rotation: the published next key starts signing, the active one retires, a new next key is published.
    Rotate {
        /// Only this algorithm (default: every configured one).
        #[arg(long, value_parser = words::parser::<JwsAlgorithm>())]
        alg: Option<Word<JwsAlgorithm>>,
    },
    /// Add a signing key for an algorithm.
    Generate {
        /// The algorithm.
        #[arg(long, value_parser = words::parser::<JwsAlgorithm>())]
        alg: Word<JwsAlgorithm>,
    },
    /// Print a fresh encryption key for SESAME_ENCRYPTION_KEY.
    EncryptionKey,
}

impl KeysCommand {
    /// Whether the command reads the configuration (and the database).
    pub(super) fn needs_config(&self) -> bool {
        !matches!(self, Self::EncryptionKey)
    }
}

pub(super) async fn run(config: &Config, command: KeysCommand) -> Result<(), Failure> {
    match command {
        KeysCommand::EncryptionKey => {
            print_line(&sesame_op_sqlx::EncryptionKey::generate()?.to_base64());
        }
        KeysCommand::List { json } => {
            let store = open(config).await?;
            let keys = store.list_keys().await?;
            if json {
                let v: Vec<_> = keys
                    .iter()
                    .map(|k| serde_json::json!({"kid": k.kid, "alg": k.alg, "state": k.state, "created_at": k.created_at, "state_changed_at": k.state_changed_at}))
                    .collect();
                print_line(&serde_json::to_string_pretty(&v)?);
            } else {
                for k in keys {
                    print_line(&format!(
                        "{}\t{}\t{}\t{}",
                        k.kid,
                        k.alg,
                        k.state.as_str(),
                        k.created_at
                    ));
                }
            }
            store.close().await;
        }
        KeysCommand::Rotate { alg } => rotate(config, alg).await?,
        KeysCommand::Generate { alg } => {
            let store = open(config).await?;
            let key = admin::generate_key(&store, alg.get("--alg")?).await?;
            print_line(&format!(
                "generated {} key {} ({})",
                key.alg,
                key.kid,
                key.state.as_str()
            ));
            store.close().await;
        }
    }
    Ok(())
}

async fn rotate(config: &Config, alg: Option<Word<JwsAlgorithm>>) -> Result<(), Failure> {
    let algs: Vec<JwsAlgorithm> = match alg {
        Some(a) => vec![admin::signing_alg("--alg", a.get("--alg")?)?],
        None => config
            .signing_algs
            .iter()
            .filter_map(|a| JwsAlgorithm::parse(a))
            .collect(),
    };
    let built = crate::server::build(config).await?;
    for alg in algs {
        match built.provider.rotate_keys(alg).await? {
            sesame_op::Rotation::PublishedNext { usable_at } => print_line(&format!(
                "published a next {alg} key; run `sesame keys rotate` again after {usable_at} (unix time) to make it sign"
            )),
            _ => print_line(&format!(
                "rotated {alg}: the next key now signs; the previous key stays published until its tokens expire"
            )),
        }
    }
    built.store.close().await;
    Ok(())
}
