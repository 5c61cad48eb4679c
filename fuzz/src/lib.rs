//! Fixtures shared by the fuzz targets: one signing key, a validator, a
//! provider with open registration driven in-process.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{Request, StatusCode};
use sesame_core::{
    ClientId, IdTokenValidator, Issuer, JwsAlgorithm, KeySet, RedirectUri, SigningKey, UnixTime,
};
use sesame_op::{
    AuthMethod, Authenticator, AuthnError, Client, EndUser, GrantType, LoginRequest, MemoryStore,
    Provider, Registration, Settings, Store, secrets,
};
use tower::ServiceExt;

/// The issuer every fixture uses.
pub const ISSUER: &str = "https://op.example";
/// The client id of the validator and of the provider's one known client.
pub const CLIENT: &str = "rp";
/// That client's secret (in the fuzz dictionaries, so inputs can authenticate).
pub const SECRET: &str = "fuzz-client-secret-0123456789abcdef";
/// "Now" for every validation: tokens with `iat` around it pass the time rules.
pub const NOW: i64 = 1_800_000_000;

/// A fixed ES256 key and a key set with its public half.
pub fn key() -> &'static (SigningKey, KeySet) {
    static KEY: OnceLock<(SigningKey, KeySet)> = OnceLock::new();
    KEY.get_or_init(|| {
        let key = SigningKey::generate(JwsAlgorithm::ES256).expect("ES256 key");
        let set = KeySet::from_keys([key.verifying_key().expect("public key")]);
        (key, set)
    })
}

/// The HS256 key of [`SECRET`]: targets sign hostile payloads with it (the
/// validator trusts it), a microsecond per input where ES256 takes tens.
pub fn hmac_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::hmac(JwsAlgorithm::HS256, SECRET.as_bytes()).expect("hmac key"))
}

/// A validator for [`ISSUER`] / [`CLIENT`] that allows ES256 and HS256 (with
/// [`hmac_key`]), built once.
pub fn validator() -> &'static IdTokenValidator {
    static VALIDATOR: OnceLock<IdTokenValidator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let hmac = SigningKey::hmac(JwsAlgorithm::HS256, SECRET.as_bytes()).expect("hmac key");
        IdTokenValidator::new(Issuer::new(ISSUER).expect("issuer"), ClientId::new(CLIENT))
            .with_algorithms([JwsAlgorithm::ES256, JwsAlgorithm::HS256])
            .with_hmac_secret(hmac)
    })
}

/// The token a target checks: `rest` as a raw token when bit 0 of `mode` is
/// clear, otherwise `rest` as a payload signed with [`hmac_key`] under `typ`.
pub fn token_from(mode: u8, rest: &[u8], typ: Option<&str>) -> Option<String> {
    if mode & 1 == 0 {
        std::str::from_utf8(rest).ok().map(str::to_owned)
    } else {
        sesame_core::jws::sign_bytes(hmac_key(), typ, rest).ok()
    }
}

/// The fixed "now".
pub fn now() -> UnixTime {
    NOW
}

struct NobodyLoggedIn;

#[async_trait]
impl Authenticator for NobodyLoggedIn {
    async fn current_user(&self, _: &Parts) -> Result<Option<EndUser>, AuthnError> {
        Ok(None)
    }
    fn login_url(&self, _: &LoginRequest) -> String {
        "https://op.example/login".to_owned()
    }
}

/// A provider with open registration and one confidential client, on a
/// current-thread runtime. Rebuilt every `REBUILD` requests so registered
/// clients do not pile up in its memory store.
pub struct Op {
    runtime: tokio::runtime::Runtime,
    router: Option<axum::Router>,
    served: u32,
}

const REBUILD: u32 = 20_000;

impl Op {
    /// A new fixture (the provider is built lazily).
    pub fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        Op {
            runtime,
            router: None,
            served: 0,
        }
    }

    fn build(&self) -> axum::Router {
        self.runtime.block_on(async {
            let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
            let mut client = Client::new(
                ClientId::new(CLIENT),
                vec![RedirectUri::new("https://rp.example/cb").expect("redirect uri")],
                now(),
            );
            client.client_secret_hash = Some(secrets::hash_generated_secret(SECRET));
            client.grant_types.push(GrantType::ClientCredentials);
            client.token_endpoint_auth_method = AuthMethod::ClientSecretPost;
            store.save_client(&client).await.expect("save client");
            let mut settings = Settings::default();
            settings.registration = Registration::Open;
            settings.signing_algs = vec![JwsAlgorithm::ES256];
            Provider::builder(Issuer::new(ISSUER).expect("issuer"))
                .with_store(store)
                .with_authenticator(NobodyLoggedIn)
                .with_settings(settings)
                .build()
                .await
                .expect("provider")
                .router()
        })
    }

    /// Sends one request; panics on a 5xx answer (a bug: bad input must get
    /// the protocol's own error).
    pub fn send(&mut self, request: Request<Body>) -> StatusCode {
        if self.router.is_none() || self.served >= REBUILD {
            self.router = Some(self.build());
            self.served = 0;
        }
        self.served += 1;
        let router = self.router.clone().expect("router");
        let response = self
            .runtime
            .block_on(router.oneshot(request))
            .expect("infallible");
        let status = response.status();
        assert!(!status.is_server_error(), "{status} for a hostile request");
        status
    }
}

impl Default for Op {
    fn default() -> Self {
        Self::new()
    }
}
