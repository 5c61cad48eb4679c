//! Opening the database, with the encryption key resolved: the provider's
//! tables and then the server's own ([`crate::accounts`]), each migrated.

use std::path::{Path, PathBuf};

use sesame_op_sqlx::{ConnectError, CryptError, EncryptionKey, SqlStore};

use crate::accounts::Accounts;
use crate::config::{Config, redact_url};

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Neither an encryption key nor a key file for a database that needs one.
    #[error(
        "set SESAME_ENCRYPTION_KEY (32 random bytes, base64: `sesame keys encryption-key` prints one) \
         or encryption_key_file; every instance sharing the database needs the same key"
    )]
    NoKey,
    /// The configured key is not a key.
    #[error("encryption_key: {0}")]
    BadKey(CryptError),
    /// The key file holds no key.
    #[error("{}: {source}", file.display())]
    BadKeyFile {
        /// The file.
        file: PathBuf,
        /// Why.
        source: CryptError,
    },
    /// A key could not be generated.
    #[error(transparent)]
    Generate(CryptError),
    /// A file or directory could not be read, created or written.
    #[error("cannot {action} {}: {source}", path.display())]
    File {
        /// `read`, `create` or `write`.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error("database {url}: {source}")]
    Connect {
        /// The URL, password redacted.
        url: String,
        /// Why.
        source: ConnectError,
    },
}

fn file_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> OpenError {
    let path = path.to_owned();
    move |source| OpenError::File {
        action,
        path,
        source,
    }
}

/// The file path of a `sqlite:` URL, if it names a file.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

fn key_from(config: &Config) -> Result<EncryptionKey, OpenError> {
    if let Some(k) = &config.encryption_key {
        return EncryptionKey::from_base64(k).map_err(OpenError::BadKey);
    }
    let file = match (&config.encryption_key_file, sqlite_path(&config.database)) {
        (Some(f), _) => f.clone(),
        (None, Some(db)) => {
            let mut f = db.into_os_string();
            f.push(".key");
            PathBuf::from(f)
        }
        (None, None) if config.database.starts_with("sqlite:") => {
            // An in-memory database: a key for this process only.
            return EncryptionKey::generate().map_err(OpenError::Generate);
        }
        (None, None) => return Err(OpenError::NoKey),
    };
    match std::fs::read_to_string(&file) {
        Ok(text) => EncryptionKey::from_base64(&text).map_err(|source| OpenError::BadKeyFile {
            file: file.clone(),
            source,
        }),
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound && config.encryption_key_file.is_none() =>
        {
            let key = EncryptionKey::generate().map_err(OpenError::Generate)?;
            write_private(&file, &key.to_base64())?;
            tracing::info!(file = %file.display(), "created the key that encrypts signing keys at rest; back it up with the database");
            Ok(key)
        }
        Err(e) => Err(file_error("read", &file)(e)),
    }
}

fn write_private(path: &Path, contents: &str) -> Result<(), OpenError> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options.open(path).map_err(file_error("create", path))?;
    f.write_all(contents.as_bytes())
        .map_err(file_error("write", path))
}

/// Creates an absent SQLite database file empty with mode 0600 (I2), as the
/// key file is, instead of letting SQLite create it under the umask. SQLite
/// gives its `-wal` and `-shm` files the mode of the database file, so they
/// are 0600 too. An existing file is left as it is.
fn create_private_database(path: &Path) -> Result<(), OpenError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(file_error("create", path)(e)),
    }
}

/// Opens (and migrates) the configured database: the provider's migrations
/// in [`SqlStore::connect`], then the server's ([`crate::accounts::migrate`]).
/// Every path that opens the database (`serve`, `demo`, the CLI commands)
/// comes through here. Hand the store to [`accounts`] for the server's tables.
///
/// # Errors
/// An unreachable database, a failed migration, or a missing encryption key.
pub async fn open(config: &Config) -> Result<SqlStore, OpenError> {
    if let Some(path) = sqlite_path(&config.database)
        && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        std::fs::create_dir_all(dir).map_err(file_error("create", dir))?;
    }
    if let Some(path) = sqlite_path(&config.database) {
        create_private_database(&path)?;
    }
    let key = key_from(config)?;
    let connect_error = |source| OpenError::Connect {
        url: redact_url(&config.database),
        source,
    };
    let store = SqlStore::connect(&config.database, key)
        .await
        .map_err(connect_error)?;
    crate::accounts::migrate(&store)
        .await
        .map_err(connect_error)?;
    Ok(store.with_cache_ttl(std::time::Duration::from_secs(config.cache_ttl)))
}

/// The server's tables over `store` (opened by [`open`]), keeping users in
/// memory as long as the store keeps clients (`cache_ttl`).
pub fn accounts(config: &Config, store: &SqlStore) -> Accounts {
    Accounts::new(
        store.clone(),
        std::time::Duration::from_secs(config.cache_ttl),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_path("sqlite://sesame.db"),
            Some(PathBuf::from("sesame.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:///var/lib/s.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/s.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x/y"), None);
    }
}
