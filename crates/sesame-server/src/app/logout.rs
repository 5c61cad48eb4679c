//! `sesame app`'s front-channel logout URI as registered with `--register`
//! (`GET /frontchannel-logout`, with `iss` and `sid` required, served by
//! sesame-rp's router). The back-channel URI is not registered: a provider that
//! sends requests only to public hosts (as `sesame serve` does by default)
//! refuses a loopback one, and the browser, not the provider, loads the
//! front-channel URI.

use sesame_rp::RegistrationRequest;

/// The front-channel logout URI of the app at `public` (its base URL, no trailing slash).
pub(super) fn register_logout_uris(
    request: RegistrationRequest,
    public: &str,
) -> RegistrationRequest {
    request.with_frontchannel_logout_uri(format!("{public}/frontchannel-logout"), true)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_front_channel_logout_uri_is_registered() {
        let r = register_logout_uris(
            RegistrationRequest::new(["http://app.example/callback".parse().unwrap()]),
            "http://app.example",
        );
        let shown = format!("{r:?}");
        assert!(
            shown.contains("http://app.example/frontchannel-logout"),
            "{shown}"
        );
        assert!(
            shown.contains("frontchannel_logout_session_required"),
            "{shown}"
        );
        assert!(!shown.contains("backchannel"), "{shown}");
    }
}
