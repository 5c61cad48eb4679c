//! `sesame app`'s logout endpoints as registered with `--register`: the
//! back-channel logout URI (`POST /backchannel-logout`) and the front-channel
//! logout URI (`GET /frontchannel-logout`, with `iss` and `sid` required),
//! both served by sesame-rp's router.

use sesame_rp::RegistrationRequest;

/// The logout URIs of the app at `public` (its base URL, no trailing slash).
pub(super) fn register_logout_uris(
    request: RegistrationRequest,
    public: &str,
) -> RegistrationRequest {
    request
        .with_backchannel_logout_uri(format!("{public}/backchannel-logout"))
        .with_frontchannel_logout_uri(format!("{public}/frontchannel-logout"), true)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn both_logout_uris_are_registered() {
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
        assert!(
            shown.contains("http://app.example/backchannel-logout"),
            "{shown}"
        );
    }
}
