//! Hashes for what the provider must recognise but never keep: codes,
//! tokens and client secrets.

mod argon2_memory;

use argon2::password_hash::{PasswordHash, SaltString};
use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

/// The storage key of a code or token: base64url(SHA-256(token)).
///
/// Codes and tokens carry 256 random bits, so a fast hash is enough: the
/// store never holds a usable credential, and lookups stay cheap.
pub fn token_key(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, token.as_bytes()))
}

const SHA256_PREFIX: &str = "sha256$";

/// Hashes a client secret that the provider generated (256 random bits):
/// `sha256$…`. Verification is then one hash, so client authentication
/// does not dominate the token endpoint's cost.
pub fn hash_generated_secret(secret: &str) -> String {
    format!("{SHA256_PREFIX}{}", token_key(secret))
}

/// Hashes a low-entropy secret or password with Argon2id (PHC string), its
/// working memory from the same pool as [`verify_secret`]'s.
///
/// # Errors
/// When the OS random source fails to give a salt.
pub fn hash_password(password: &str) -> Result<String, sesame_core::random::RandomError> {
    let mut salt = [0u8; 16];
    sesame_core::random::fill(&mut salt)?;
    let params = argon2::Params::default();
    let mut output = [0u8; argon2::Params::DEFAULT_OUTPUT_LEN];
    let argon2 = argon2::Argon2::from(&params);
    argon2_memory::with_blocks(params.block_count(), |memory| {
        argon2.hash_password_into_with_memory(password.as_bytes(), &salt, &mut output, memory)
    })
    .map_err(|_| sesame_core::random::RandomError)?;
    phc_string(&salt, &output)
}

/// An Argon2id hash that no password matches, for checking a password
/// against when the user does not exist: it has the parameters of
/// [`hash_password`]'s hashes, so [`verify_secret`] spends the same time on
/// it, but its output is random rather than computed, so making one costs
/// no Argon2 run (and no 19 MiB at start-up).
///
/// # Errors
/// When the OS random source fails.
pub fn decoy_password_hash() -> Result<String, sesame_core::random::RandomError> {
    let mut salt = [0u8; 16];
    let mut output = [0u8; argon2::Params::DEFAULT_OUTPUT_LEN];
    sesame_core::random::fill(&mut salt)?;
    sesame_core::random::fill(&mut output)?;
    phc_string(&salt, &output)
}

/// The PHC string of an Argon2id hash with the default parameters.
fn phc_string(salt: &[u8], output: &[u8]) -> Result<String, sesame_core::random::RandomError> {
    let failed = |_| sesame_core::random::RandomError;
    let salt = SaltString::encode_b64(salt).map_err(failed)?;
    let hash = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(argon2::Version::V0x13.into()),
        params: (&argon2::Params::default()).try_into().map_err(failed)?,
        salt: Some(salt.as_salt()),
        hash: Some(argon2::password_hash::Output::new(output).map_err(failed)?),
    };
    Ok(hash.to_string())
}

/// Checks a presented secret against a stored hash (either form), in constant time.
pub fn verify_secret(presented: &str, stored: &str) -> bool {
    if let Some(expected) = stored.strip_prefix(SHA256_PREFIX) {
        return token_key(presented)
            .as_bytes()
            .ct_eq(expected.as_bytes())
            .into();
    }
    match PasswordHash::new(stored) {
        Ok(hash) => verify_argon2(presented.as_bytes(), &hash),
        Err(_) => false,
    }
}

/// What `PasswordVerifier::verify_password` does, with the working memory
/// from [`argon2_memory`] instead of a fresh allocation per check.
fn verify_argon2(presented: &[u8], hash: &PasswordHash<'_>) -> bool {
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let (Ok(params), Ok(algorithm)) = (
        argon2::Params::try_from(hash),
        argon2::Algorithm::try_from(hash.algorithm),
    ) else {
        return false;
    };
    let version = match hash.version.map(argon2::Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut computed = vec![0u8; expected.len()];
    let blocks = params.block_count();
    let argon2 = argon2::Argon2::new(algorithm, version, params);
    let hashed = argon2_memory::with_blocks(blocks, |memory| {
        argon2.hash_password_into_with_memory(presented, salt, &mut computed, memory)
    });
    hashed.is_ok() && bool::from(computed.as_slice().ct_eq(expected.as_bytes()))
}

/// Whether `stored` looks like a hash [`verify_secret`] can check (and not,
/// say, a token pasted in clear).
pub(crate) fn is_secret_hash(stored: &str) -> bool {
    stored
        .strip_prefix(SHA256_PREFIX)
        .is_some_and(|h| h.len() == 43)
        || PasswordHash::new(stored).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secret_round_trip() {
        let h = hash_generated_secret("s3cret");
        assert!(h.starts_with("sha256$"));
        assert!(!h.contains("s3cret"));
        assert!(verify_secret("s3cret", &h));
        assert!(!verify_secret("s3cret!", &h));
    }

    #[test]
    fn argon2_round_trip() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_secret("correct horse", &h));
        assert!(!verify_secret("wrong", &h));
        assert!(!verify_secret("x", "garbage"));
    }

    #[test]
    fn recognises_hashes() {
        assert!(is_secret_hash(&hash_generated_secret("t")));
        assert!(is_secret_hash(&hash_password("t").unwrap()));
        assert!(!is_secret_hash("a-token-in-clear"));
        assert!(!is_secret_hash("sha256$short"));
    }

    /// Hashes with other variants, versions, lanes and costs (made by the
    /// argon2 crate's own hasher) check out through the pooled path too.
    #[test]
    fn pooled_verification_matches_the_crates_hasher() {
        use argon2::password_hash::PasswordHasher as _;
        use argon2::{Algorithm, Argon2, Params, Version};
        let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
        for (algorithm, version, m, t, p) in [
            (Algorithm::Argon2id, Version::V0x13, 64, 3, 2),
            (Algorithm::Argon2i, Version::V0x13, 32, 2, 1),
            (Algorithm::Argon2d, Version::V0x10, 128, 1, 4),
            (Algorithm::Argon2id, Version::V0x13, 19 * 1024, 2, 1),
        ] {
            let params = Params::new(m, t, p, Some(32)).unwrap();
            let stored = Argon2::new(algorithm, version, params)
                .hash_password(b"pw", &salt)
                .unwrap()
                .to_string();
            assert!(verify_secret("pw", &stored), "{stored}");
            assert!(!verify_secret("pw2", &stored), "{stored}");
            // One changed character of the output is a different hash.
            let mut tampered = stored.clone().into_bytes();
            let last = tampered.len() - 2;
            tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
            assert!(!verify_secret("pw", &String::from_utf8(tampered).unwrap()));
        }
    }

    /// However many checks run at once, the pool keeps at most one buffer per core.
    #[test]
    fn the_memory_pool_is_bounded() {
        let stored = hash_password("pw").unwrap();
        let threads: Vec<_> = (0..argon2_memory::capacity() * 3)
            .map(|_| {
                let stored = stored.clone();
                std::thread::spawn(move || verify_secret("pw", &stored))
            })
            .collect();
        for t in threads {
            assert!(t.join().unwrap());
        }
        let pooled = argon2_memory::pooled();
        assert!(
            (1..=argon2_memory::capacity()).contains(&pooled),
            "{pooled}"
        );
    }

    /// The pooled hasher writes the very string the argon2 crate's own
    /// hasher writes for the same password and salt (so hashes made before
    /// and after it check out alike).
    #[test]
    fn pooled_hashing_matches_the_crates_hasher() {
        use argon2::password_hash::PasswordHasher as _;
        let ours = hash_password("correct horse").unwrap();
        let salt = PasswordHash::new(&ours).unwrap().salt.unwrap();
        let theirs = argon2::Argon2::default()
            .hash_password(b"correct horse", salt)
            .unwrap()
            .to_string();
        assert_eq!(ours, theirs);
    }

    /// The decoy has the parameters of a real hash (so checking a password
    /// against it costs a real check), is new each time, and matches nothing.
    #[test]
    fn the_decoy_hash_costs_a_check_and_matches_no_password() {
        let real = hash_password("pw").unwrap();
        let (decoy, other) = (
            decoy_password_hash().unwrap(),
            decoy_password_hash().unwrap(),
        );
        assert_ne!(decoy, other);
        let (real, decoy_hash) = (
            PasswordHash::new(&real).unwrap(),
            PasswordHash::new(&decoy).unwrap(),
        );
        assert_eq!(decoy_hash.algorithm, real.algorithm);
        assert_eq!(decoy_hash.version, real.version);
        assert_eq!(decoy_hash.params, real.params);
        assert_eq!(decoy_hash.salt.map(|s| s.len()), real.salt.map(|s| s.len()));
        assert_eq!(decoy_hash.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
        for password in ["", "pw", "decoy password, never valid"] {
            assert!(!verify_secret(password, &decoy));
        }
    }
}
