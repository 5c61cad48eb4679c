//! The configuration's loading and checks.

#![allow(clippy::unwrap_used)]

use super::*;

/// The configuration loaded from a TOML file holding `text`.
fn from_toml(text: &str) -> Result<Config, ConfigError> {
    let dir = std::env::temp_dir().join(format!(
        "sesame-config-{}",
        sesame_core::random::token().unwrap()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sesame.toml");
    std::fs::write(&file, text).unwrap();
    let loaded = Config::load(Some(&file), &Overrides::default());
    std::fs::remove_dir_all(&dir).unwrap();
    loaded
}

/// S14: off unless the operator says so, in TOML or as
/// `SESAME_ALLOW_PRIVATE_OUTBOUND` (a key the environment filter passes).
#[test]
fn allow_private_outbound_is_off_unless_configured() {
    assert!(!Config::default().allow_private_outbound);
    assert!(CONFIG_KEYS.contains(&"allow_private_outbound"));
    assert!(
        from_toml("allow_private_outbound = true\n")
            .unwrap()
            .allow_private_outbound
    );
}

/// No profile unless configured; `profile = "fapi2"` (or `SESAME_PROFILE`,
/// a key the environment filter passes) holds every client to FAPI 2.0; an
/// unknown profile is refused.
#[test]
fn the_security_profile_is_none_unless_configured() {
    assert_eq!(Config::default().profile, None);
    assert!(CONFIG_KEYS.contains(&"profile"));
    assert_eq!(
        from_toml("profile = \"fapi2\"\n").unwrap().profile,
        Some(sesame_core::SecurityProfile::Fapi2)
    );
    let e = from_toml("profile = \"fapi1\"\n").unwrap_err().to_string();
    assert!(e.contains("fapi1"), "{e}");
}

/// Off unless configured; `SESAME_REGISTRATION` reaches it; a word
/// outside off/open/token is refused with the key's name.
#[test]
fn registration_is_off_unless_configured() {
    assert_eq!(Config::default().registration, RegistrationMode::Off);
    assert!(CONFIG_KEYS.contains(&"registration"));
    let loaded = from_toml("registration = \"token\"\n").unwrap();
    assert_eq!(loaded.registration, RegistrationMode::Token);
    let err = from_toml("registration = \"maybe\"\n").unwrap_err();
    assert!(err.to_string().contains("registration"), "{err}");
}

/// No DPoP nonce unless configured; `SESAME_DPOP_NONCE` reaches it; a word
/// outside off/required is refused with the key's name.
#[test]
fn dpop_nonce_is_off_unless_configured() {
    assert_eq!(Config::default().dpop_nonce, DpopNonceMode::Off);
    assert!(CONFIG_KEYS.contains(&"dpop_nonce"));
    let loaded = from_toml("dpop_nonce = \"required\"\n").unwrap();
    assert_eq!(loaded.dpop_nonce, DpopNonceMode::Required);
    let err = from_toml("dpop_nonce = \"sometimes\"\n").unwrap_err();
    assert!(err.to_string().contains("dpop_nonce"), "{err}");
}

/// The RFC 9700 policy unless the operator asks for PKCE always, in TOML
/// or as `SESAME_REQUIRE_PKCE`.
#[test]
fn require_pkce_is_off_unless_configured() {
    assert!(!Config::default().require_pkce);
    assert!(CONFIG_KEYS.contains(&"require_pkce"));
    assert!(from_toml("require_pkce = true\n").unwrap().require_pkce);
}

/// `[acr]`: the default, a TOML section, and values that cannot be
/// one word of `acr_values` refused.
#[test]
fn acr_values_are_named_in_the_configuration_and_checked() {
    assert_eq!(Config::default().acr.password, "urn:sesame:acr:password");
    assert!(CONFIG_KEYS.contains(&"acr"));
    assert_eq!(Config::default().acr.mfa, "urn:sesame:acr:mfa");
    let c = from_toml("[acr]\npassword = \"urn:example:loa:1\"\nmfa = \"urn:example:loa:2\"\n")
        .unwrap();
    assert_eq!(
        c.acr.supported(),
        ["urn:example:loa:1", "urn:example:loa:2"]
    );
    for key in ["password", "mfa"] {
        for bad in ["", "two words", "tab\\there"] {
            let e = from_toml(&format!("[acr]\n{key} = \"{bad}\"\n")).unwrap_err();
            assert!(e.0.contains(&format!("acr.{key}")), "{bad:?}: {e}");
        }
    }
    assert!(from_toml("[acr]\npassword = \"x\"\nmfa = \"x\"\n").is_err());
    assert!(from_toml("[acr]\notp = \"x\"\n").is_err());
}

/// `[http]`: defaults, a TOML section, and 0 refused.
#[test]
fn http_section_loads_and_refuses_zero() {
    let d = Config::default().http;
    assert_eq!(
        (
            d.header_timeout_seconds,
            d.body_timeout_seconds,
            d.idle_timeout_seconds,
            d.max_connections,
            d.shutdown_grace_seconds
        ),
        (10, 30, 60, 10_000, 30)
    );
    assert!(CONFIG_KEYS.contains(&"http"));
    let dir = std::env::temp_dir().join(format!(
        "sesame-config-{}",
        sesame_core::random::token().unwrap()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sesame.toml");
    std::fs::write(
        &file,
        "[http]\nheader_timeout_seconds = 3\nmax_connections = 50\n",
    )
    .unwrap();
    let loaded = Config::load(Some(&file), &Overrides::default()).unwrap();
    assert_eq!(loaded.http.header_timeout_seconds, 3);
    assert_eq!(loaded.http.max_connections, 50);
    assert_eq!(loaded.http.shutdown_grace_seconds, 30);
    std::fs::write(&file, "[http]\nidle_timeout_seconds = 0\n").unwrap();
    let e = Config::load(Some(&file), &Overrides::default()).unwrap_err();
    assert!(e.0.contains("http.idle_timeout_seconds"), "{e}");
    std::fs::write(&file, "[http]\nidle_timeout = 5\n").unwrap();
    assert!(Config::load(Some(&file), &Overrides::default()).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `[rate_limits]`: the new keys load from TOML and from the
/// environment; a bad proxy entry or a zero queue is refused.
#[test]
fn rate_limits_section_loads_and_checks_its_values() {
    let d = Config::default().rate_limits;
    assert_eq!(
        (
            d.login_backoff_after,
            d.login_backoff_max_seconds,
            d.login_queue,
            d.token_failures_per_ip_per_minute
        ),
        (5, 300, 64, 60)
    );
    assert!(d.trusted_proxies.is_empty() && d.redis.is_none());
    let dir = std::env::temp_dir().join(format!(
        "sesame-config-{}",
        sesame_core::random::token().unwrap()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sesame.toml");
    std::fs::write(
        &file,
        "[rate_limits]\ntrusted_proxies = [\"10.0.0.0/8\", \"192.0.2.1\", \"::1/128\"]\n\
         redis = \"redis://127.0.0.1:6379\"\nlogin_queue = 2\n",
    )
    .unwrap();
    let loaded = Config::load(Some(&file), &Overrides::default()).unwrap();
    assert_eq!(loaded.rate_limits.proxy_nets().unwrap().len(), 3);
    assert_eq!(loaded.rate_limits.login_queue, 2);
    assert_eq!(
        loaded.rate_limits.redis.as_deref(),
        Some("redis://127.0.0.1:6379")
    );
    std::fs::write(
        &file,
        "[rate_limits]\ntrusted_proxies = [\"10.0.0.0/33\"]\n",
    )
    .unwrap();
    let e = Config::load(Some(&file), &Overrides::default()).unwrap_err();
    assert!(e.0.contains("rate_limits.trusted_proxies"), "{e}");
    std::fs::write(&file, "[rate_limits]\nlogin_queue = 0\n").unwrap();
    let e = Config::load(Some(&file), &Overrides::default()).unwrap_err();
    assert!(e.0.contains("rate_limits.login_queue"), "{e}");
    std::fs::write(&file, "[rate_limits]\nredis = \"localhost:6379\"\n").unwrap();
    let e = Config::load(Some(&file), &Overrides::default()).unwrap_err();
    assert!(e.0.contains("rate_limits.redis"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
