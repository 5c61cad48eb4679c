//! `sesame users …`

use clap::Subcommand;
use sesame_core::{Clock, SystemClock};

use super::{Failure, open, print_line};
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub(super) enum UsersCommand {
    /// Add a user.
    Add {
        /// The login name.
        #[arg(long)]
        username: String,
        /// The password (stored as an Argon2id hash).
        #[arg(long, env = "SESAME_USER_PASSWORD")]
        password: String,
        /// Email address.
        #[arg(long)]
        email: Option<String>,
        /// Full name.
        #[arg(long)]
        name: Option<String>,
    },
    /// List users.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Remove a user.
    Remove {
        /// The login name.
        #[arg(required_unless_present = "user")]
        username: Option<String>,
        /// The login name (alternative spelling).
        #[arg(long = "username", conflicts_with = "username")]
        user: Option<String>,
    },
    /// Set a user's password (their login sessions end).
    Passwd {
        /// The login name.
        #[arg(required_unless_present = "user")]
        username: Option<String>,
        /// The login name (alternative spelling).
        #[arg(long = "username", conflicts_with = "username")]
        user: Option<String>,
        /// The new password.
        #[arg(long, env = "SESAME_USER_PASSWORD")]
        password: String,
    },
}

fn check_password(password: &str) -> Result<(), Failure> {
    if password.len() < 8 {
        return Err(Failure::Usage("--password must have at least 8 characters"));
    }
    Ok(())
}

pub(super) async fn run(config: &Config, command: UsersCommand) -> Result<(), Failure> {
    let store = open(config).await?;
    match command {
        UsersCommand::Add {
            username,
            password,
            email,
            name,
        } => {
            if username.trim().is_empty() || username.chars().any(char::is_whitespace) {
                return Err(Failure::Usage(
                    "--username must be non-empty and without spaces",
                ));
            }
            check_password(&password)?;
            let hash = sesame_op::secrets::hash_password(&password)?;
            let user = store
                .add_user(
                    &username,
                    &hash,
                    email.as_deref(),
                    name.as_deref(),
                    SystemClock.now(),
                )
                .await?;
            print_line(&format!(
                "added user {} (sub {})",
                user.username, user.subject
            ));
        }
        UsersCommand::List { json } => {
            let users = store.list_users().await?;
            if json {
                print_line(&serde_json::to_string_pretty(&users)?);
            } else {
                for u in users {
                    print_line(&format!(
                        "{}\t{}\t{}",
                        u.username,
                        u.email.unwrap_or_default(),
                        u.name.unwrap_or_default()
                    ));
                }
            }
        }
        UsersCommand::Remove { username, user } => {
            let username = username.or(user).unwrap_or_default();
            if !store.remove_user(&username).await? {
                return Err(Failure::NoUser(username));
            }
            print_line(&format!("removed user {username}"));
        }
        UsersCommand::Passwd {
            username,
            user,
            password,
        } => {
            let username = username.or(user).unwrap_or_default();
            check_password(&password)?;
            let hash = sesame_op::secrets::hash_password(&password)?;
            if !store.set_password(&username, &hash).await? {
                return Err(Failure::NoUser(username));
            }
            print_line(&format!(
                "password changed for {username}; their sessions were ended"
            ));
        }
    }
    store.close().await;
    Ok(())
}
