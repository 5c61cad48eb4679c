//! Durations in the configuration: whole seconds, or a number with a unit
//! (`"90d"`, `"12h"`, `"30m"`, `"45s"`).

use serde::{Deserialize, Deserializer};

/// Seconds from an integer or a string such as `"90d"`.
pub(super) fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(i64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Seconds(n) if n >= 0 => Ok(n),
        Raw::Seconds(n) => Err(serde::de::Error::custom(format!(
            "{n} is negative: a duration is 0 or more seconds"
        ))),
        Raw::Text(text) => parse(&text).map_err(serde::de::Error::custom),
    }
}

/// Parses `"90d"`, `"12h"`, `"30m"`, `"45s"` or `"45"` into seconds.
pub(super) fn parse(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c),
        _ => (text, 's'),
    };
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => {
            return Err(format!(
                "{text:?} is not a duration: use seconds or a number with s, m, h or d, e.g. \"90d\""
            ));
        }
    };
    number
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| {
            format!(
                "{text:?} is not a duration: use seconds or a number with s, m, h or d, e.g. \"90d\""
            )
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::parse;
    use crate::config::{Config, ConfigError, Overrides};

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

    /// `key_rotation_interval`: 90 days by default; seconds or a unit in
    /// TOML; 0 (manual); shorter than `key_publish_delay` or malformed: refused.
    #[test]
    fn key_rotation_interval_loads_and_checks() {
        assert_eq!(Config::default().key_rotation_interval, 90 * 86_400);
        let read = |t: &str| from_toml(t).map(|c| c.key_rotation_interval);
        assert_eq!(
            read("key_rotation_interval = \"30d\"\n").unwrap(),
            30 * 86_400
        );
        assert_eq!(read("key_rotation_interval = 3600\n").unwrap(), 3600);
        assert_eq!(read("key_rotation_interval = 0\n").unwrap(), 0);
        assert_eq!(
            read("key_rotation_interval = 2\nkey_publish_delay = 1\n").unwrap(),
            2
        );
        let e = read("key_rotation_interval = 60\n").unwrap_err();
        assert!(e.0.contains("key_publish_delay"), "{e}");
        let e = read("key_rotation_interval = \"90 days\"\n").unwrap_err();
        assert!(e.0.contains("not a duration"), "{e}");
        let e = read("key_rotation_interval = -5\n").unwrap_err();
        assert!(e.0.contains("negative"), "{e}");
    }

    #[test]
    fn units_and_bad_values() {
        assert_eq!(parse("90d"), Ok(90 * 86_400));
        assert_eq!(parse("12h"), Ok(12 * 3600));
        assert_eq!(parse("30m"), Ok(1800));
        assert_eq!(parse("45s"), Ok(45));
        assert_eq!(parse("45"), Ok(45));
        assert_eq!(parse("0"), Ok(0));
        for bad in ["", "d", "-1d", "5w", "1.5h", "99999999999999999d"] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
