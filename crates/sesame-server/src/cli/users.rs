//! `sesame users …`

use clap::Subcommand;
use sesame_core::{Clock, SystemClock};

use super::{Failure, open, print_line};
use crate::accounts::Accounts;
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
        /// A group (repeat for several), released as the `groups` claim under the `groups` scope.
        #[arg(long = "group")]
        groups: Vec<String>,
        /// A custom claim NAME=VALUE (repeat); VALUE is JSON when it parses
        /// (3, true, ["a","b"], {"k":1}), else a string. Released by the
        /// scopes configured for it (`[scopes.NAME] claims = ["NAME"]`).
        #[arg(long = "claim", value_name = "NAME=VALUE")]
        claims: Vec<String>,
    },
    /// Change a user's groups and custom claims.
    ///
    /// Example: sesame users update --username alice --group admins --group staff --claim department=Sales
    #[command(verbatim_doc_comment)]
    Update {
        /// The login name.
        #[arg(long)]
        username: String,
        /// The groups (repeat; replaces them all).
        #[arg(long = "group", conflicts_with = "no_groups")]
        groups: Vec<String>,
        /// Remove every group.
        #[arg(long)]
        no_groups: bool,
        /// Add or replace a custom claim NAME=VALUE (repeat).
        #[arg(long = "claim", value_name = "NAME=VALUE")]
        claims: Vec<String>,
        /// Remove a custom claim (repeat).
        #[arg(long = "remove-claim", value_name = "NAME")]
        remove_claims: Vec<String>,
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
    /// Enrol a user in TOTP: after the password, the login asks for a code
    /// from an authenticator app (or a recovery code). Replaces an earlier
    /// enrolment; prints the secret, its otpauth:// URI (for a QR code) and
    /// ten single-use recovery codes, shown this once.
    ///
    /// Example: sesame users totp --username alice --json
    #[command(verbatim_doc_comment)]
    Totp {
        /// The login name.
        #[arg(long)]
        username: String,
        /// JSON output: {"secret": …, "otpauth_uri": …, "recovery_codes": […]}.
        #[arg(long)]
        json: bool,
        /// Remove the enrolment instead (the password alone signs in again).
        #[arg(long, conflicts_with = "json")]
        remove: bool,
    },
    /// List a user's passkeys (registered on the account page, /account),
    /// or remove one by its id.
    ///
    /// Example: sesame users passkeys --username alice --json
    ///          sesame users passkeys --username alice --remove CREDENTIAL_ID
    #[command(verbatim_doc_comment)]
    Passkeys {
        /// The login name.
        #[arg(long)]
        username: String,
        /// JSON output: [{"id", "name", "created_at", "last_used_at"}].
        #[arg(long)]
        json: bool,
        /// Remove the passkey with this credential id (base64url, as listed).
        #[arg(long, value_name = "ID", conflicts_with = "json")]
        remove: Option<String>,
    },
    /// List a user's linked upstream identities (`[[upstream]]` sign-in),
    /// or remove one: that identity's next sign-in creates a new account.
    ///
    /// Example: sesame users links --username alice --remove https://sso.corp.example 248289761001
    #[command(verbatim_doc_comment)]
    Links {
        /// The login name.
        #[arg(long)]
        username: String,
        /// JSON output: [{"upstream": …, "issuer": …, "upstream_subject": …, "created_at": …}].
        #[arg(long)]
        json: bool,
        /// Remove the link of this upstream issuer and subject.
        #[arg(long, num_args = 2, value_names = ["ISSUER", "SUB"], conflicts_with = "json")]
        remove: Vec<String>,
    },
}

/// Claims a custom claim may not be: the ones the protocol sets, and the
/// ones with their own flag.
const RESERVED_CLAIMS: [&str; 22] = [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "sid",
    "at_hash",
    "c_hash",
    "s_hash",
    "cnf",
    "groups",
    "email",
    "email_verified",
    "name",
    "preferred_username",
];

/// `NAME=VALUE` pairs as claims: JSON values where they parse, strings otherwise.
fn parse_claims(
    pairs: &[String],
    into: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), Failure> {
    for pair in pairs {
        let Some((name, value)) = pair.split_once('=') else {
            return Err(crate::admin::AdminError::Invalid(format!(
                "--claim {pair:?}: expected NAME=VALUE"
            ))
            .into());
        };
        let name = name.trim();
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c));
        if !valid {
            return Err(crate::admin::AdminError::Invalid(format!(
                "--claim {name:?}: a claim name is 1-64 letters, digits and _-.:"
            ))
            .into());
        }
        if RESERVED_CLAIMS.contains(&name) {
            return Err(crate::admin::AdminError::Invalid(format!(
                "--claim {name:?} is set by the provider or by its own flag (--group, --email, --name)"
            ))
            .into());
        }
        let value = serde_json::from_str(value)
            .unwrap_or_else(|_| serde_json::Value::String(value.to_owned()));
        into.insert(name.to_owned(), value);
    }
    Ok(())
}

fn check_groups(groups: &[String]) -> Result<Vec<String>, Failure> {
    let mut out: Vec<String> = Vec::new();
    for g in groups {
        let g = g.trim();
        if g.is_empty() || g.len() > 128 {
            return Err(crate::admin::AdminError::Invalid(
                "--group: a group name is 1-128 characters".into(),
            )
            .into());
        }
        if !out.iter().any(|o| o == g) {
            out.push(g.to_owned());
        }
    }
    Ok(out)
}

fn check_password(password: &str) -> Result<(), Failure> {
    if password.len() < 8 {
        return Err(Failure::Usage("--password must have at least 8 characters"));
    }
    Ok(())
}

/// `sesame users totp`.
async fn totp(
    config: &Config,
    accounts: &Accounts,
    username: &str,
    json: bool,
    remove: bool,
) -> Result<(), Failure> {
    let user = accounts
        .find_user(username)
        .await?
        .ok_or_else(|| Failure::NoUser(username.to_owned()))?;
    if remove {
        let removed = accounts.remove_totp(&user.subject).await?;
        print_line(&if removed {
            format!("removed the TOTP enrolment of {username}")
        } else {
            format!("{username} had no TOTP enrolment")
        });
        return Ok(());
    }
    let enrolment = crate::login::totp::enrol(
        accounts,
        &config.issuer,
        &user.subject,
        username,
        SystemClock.now(),
    )
    .await?;
    if json {
        print_line(&serde_json::to_string_pretty(&enrolment)?);
    } else {
        print_line(&format!(
            "enrolled {username} in TOTP\nsecret: {}\notpauth URI: {}\nrecovery codes (each works once; store them safely):\n  {}",
            enrolment.secret,
            enrolment.otpauth_uri,
            enrolment.recovery_codes.join("\n  ")
        ));
    }
    Ok(())
}

/// `sesame users passkeys`.
async fn passkeys(
    accounts: &Accounts,
    username: &str,
    json: bool,
    remove: Option<&str>,
) -> Result<(), Failure> {
    use base64::Engine as _;
    let user = accounts
        .find_user(username)
        .await?
        .ok_or_else(|| Failure::NoUser(username.to_owned()))?;
    if let Some(id) = remove {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(id)
            .map_err(|_| Failure::Usage("--remove takes a passkey id as listed (base64url)"))?;
        if !accounts.remove_passkey(&user.subject, &raw).await? {
            return Err(Failure::Usage("the user has no passkey with that id"));
        }
        print_line(&format!("removed passkey {id} of {username}"));
        return Ok(());
    }
    let keys = accounts.passkeys_of(&user.subject).await?;
    if json {
        let list: Vec<serde_json::Value> = keys
            .iter()
            .map(|k| {
                serde_json::json!({
                    "id": k.id_text(),
                    "name": k.name,
                    "created_at": k.created_at,
                    "last_used_at": k.last_used_at,
                })
            })
            .collect();
        print_line(&serde_json::to_string_pretty(&list)?);
    } else if keys.is_empty() {
        print_line(&format!("{username} has no passkeys"));
    } else {
        for k in &keys {
            let used = k
                .last_used_at
                .map_or_else(|| "never used".to_owned(), |t| format!("last used {t}"));
            print_line(&format!(
                "{}  {}  (added {}, {used})",
                k.id_text(),
                k.name,
                k.created_at
            ));
        }
    }
    Ok(())
}

/// `sesame users links`.
async fn links(
    accounts: &Accounts,
    username: &str,
    json: bool,
    remove: &[String],
) -> Result<(), Failure> {
    let user = accounts
        .find_user(username)
        .await?
        .ok_or_else(|| Failure::NoUser(username.to_owned()))?;
    let links = accounts.upstream_links(&user.subject).await?;
    if let [issuer, sub] = remove {
        let mine = links
            .iter()
            .any(|l| l.issuer == *issuer && l.upstream_subject == *sub);
        if !mine || !accounts.remove_upstream_link(issuer, sub).await? {
            return Err(crate::admin::AdminError::Invalid(format!(
                "{username} has no link to {sub} at {issuer}"
            ))
            .into());
        }
        print_line(&format!(
            "removed the link of {sub} at {issuer} from {username}"
        ));
    } else if json {
        print_line(&serde_json::to_string_pretty(&links)?);
    } else {
        for l in links {
            print_line(&format!(
                "{}\t{}\t{}",
                l.upstream, l.issuer, l.upstream_subject
            ));
        }
    }
    Ok(())
}

/// `users totp`, `users passkeys` and `users links`: a user's sign-in
/// methods.
async fn sign_in_methods(
    config: &Config,
    accounts: &Accounts,
    command: UsersCommand,
) -> Result<(), Failure> {
    match command {
        UsersCommand::Totp {
            username,
            json,
            remove,
        } => totp(config, accounts, &username, json, remove).await,
        UsersCommand::Passkeys {
            username,
            json,
            remove,
        } => passkeys(accounts, &username, json, remove.as_deref()).await,
        UsersCommand::Links {
            username,
            json,
            remove,
        } => links(accounts, &username, json, &remove).await,
        _ => Ok(()),
    }
}

pub(super) async fn run(config: &Config, command: UsersCommand) -> Result<(), Failure> {
    let store = open(config).await?;
    let accounts = crate::store::accounts(config, &store);
    match command {
        UsersCommand::Add {
            username,
            password,
            email,
            name,
            groups,
            claims,
        } => {
            let groups = check_groups(&groups)?;
            let mut custom = serde_json::Map::new();
            parse_claims(&claims, &mut custom)?;
            if username.trim().is_empty() || username.chars().any(char::is_whitespace) {
                return Err(Failure::Usage(
                    "--username must be non-empty and without spaces",
                ));
            }
            check_password(&password)?;
            let hash = sesame_op::secrets::hash_password(&password)?;
            let user = accounts
                .add_user(
                    &username,
                    &hash,
                    email.as_deref(),
                    name.as_deref(),
                    SystemClock.now(),
                )
                .await?;
            if !groups.is_empty() || !custom.is_empty() {
                accounts
                    .set_user_attributes(&username, &groups, &custom)
                    .await?;
            }
            print_line(&format!(
                "added user {} (sub {})",
                user.username, user.subject
            ));
        }
        UsersCommand::Update {
            username,
            groups,
            no_groups,
            claims,
            remove_claims,
        } => {
            let user = accounts
                .find_user(&username)
                .await?
                .ok_or_else(|| Failure::NoUser(username.clone()))?;
            let groups = if no_groups {
                Vec::new()
            } else if groups.is_empty() {
                user.groups
            } else {
                check_groups(&groups)?
            };
            let mut custom = user.claims;
            parse_claims(&claims, &mut custom)?;
            for name in &remove_claims {
                custom.remove(name);
            }
            accounts
                .set_user_attributes(&username, &groups, &custom)
                .await?;
            print_line(&format!("updated user {username}"));
        }
        UsersCommand::List { json } => {
            let users = accounts.list_users().await?;
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
            if !accounts.remove_user(&username).await? {
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
            if !accounts.set_password(&username, &hash).await? {
                return Err(Failure::NoUser(username));
            }
            print_line(&format!(
                "password changed for {username}; their sessions were ended"
            ));
        }
        UsersCommand::Totp { .. } | UsersCommand::Passkeys { .. } | UsersCommand::Links { .. } => {
            sign_in_methods(config, &accounts, command).await?;
        }
    }
    store.close().await;
    Ok(())
}
