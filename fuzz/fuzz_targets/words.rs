//! The protocol's words from request parameters: scopes, prompt lists,
//! response types and modes, grant types, auth methods, error codes, URLs.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sesame_core::{
    ClientAuthMethod, ErrorCode, GrantType, Issuer, PkceMethod, Prompt, RedirectUri, ResponseMode,
    ResponseType, Scopes, is_valid_verifier,
};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(scopes) = Scopes::parse(s) {
        assert!(scopes.iter().count() <= sesame_core::MAX_SCOPES);
    }
    let _ = Prompt::parse_list(s);
    let _ = ResponseType::parse(s);
    let _ = ResponseMode::parse(s);
    let _ = GrantType::parse(s);
    let _ = ClientAuthMethod::parse(s);
    let _ = PkceMethod::parse(s);
    let _ = ErrorCode::parse(s);
    let _ = is_valid_verifier(s);
    let _ = Issuer::new(s);
    if let Ok(uri) = RedirectUri::new(s) {
        let _ = uri.to_url();
    }
});
