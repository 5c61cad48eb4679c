//! Counters through the `metrics` facade (feature `metrics`); no-ops without it.
//!
//! | counter | labels |
//! |---|---|
//! | `sesame_rp_logins_started_total` | `provider` |
//! | `sesame_rp_logins_completed_total` | `provider` |
//! | `sesame_rp_logins_failed_total` | `provider`, `reason` ([`crate::LoginError::reason`]) |
//! | `sesame_rp_token_refreshes_total` | `provider`, `outcome` (`refreshed`, `failed`) |
//! | `sesame_rp_bearer_checks_total` | `outcome` (`accepted`, `rejected`, `unavailable`) |
//!
//! Labels never carry a token, a code, a subject or any other user data.

#[cfg(feature = "metrics")]
mod enabled {
    pub(crate) fn login_started(provider: &str) {
        ::metrics::counter!("sesame_rp_logins_started_total", "provider" => provider.to_owned())
            .increment(1);
    }

    pub(crate) fn login_completed(provider: &str) {
        ::metrics::counter!("sesame_rp_logins_completed_total", "provider" => provider.to_owned())
            .increment(1);
    }

    pub(crate) fn login_failed(provider: &str, reason: &'static str) {
        ::metrics::counter!(
            "sesame_rp_logins_failed_total",
            "provider" => provider.to_owned(),
            "reason" => reason
        )
        .increment(1);
    }

    pub(crate) fn token_refresh(provider: &str, outcome: &'static str) {
        ::metrics::counter!(
            "sesame_rp_token_refreshes_total",
            "provider" => provider.to_owned(),
            "outcome" => outcome
        )
        .increment(1);
    }

    pub(crate) fn bearer_check(outcome: &'static str) {
        ::metrics::counter!("sesame_rp_bearer_checks_total", "outcome" => outcome).increment(1);
    }
}

#[cfg(not(feature = "metrics"))]
mod enabled {
    pub(crate) fn login_started(_: &str) {}
    pub(crate) fn login_completed(_: &str) {}
    pub(crate) fn login_failed(_: &str, _: &'static str) {}
    pub(crate) fn token_refresh(_: &str, _: &'static str) {}
    pub(crate) fn bearer_check(_: &'static str) {}
}

pub(crate) use enabled::*;
