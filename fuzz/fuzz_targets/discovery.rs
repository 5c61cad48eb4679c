//! Discovery documents: parse and validate against the expected issuer.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sesame_core::{Issuer, ProviderMetadata};

fuzz_target!(|data: &[u8]| {
    let Ok(meta) = ProviderMetadata::from_json(data) else {
        return;
    };
    let issuer = Issuer::new(sesame_fuzz::ISSUER).expect("issuer");
    let _ = meta.validate(&issuer);
    let _ = meta.advertises_pkce_s256();
    let _ = meta.token_auth_methods();
    let _ = meta.id_token_algs();
});
