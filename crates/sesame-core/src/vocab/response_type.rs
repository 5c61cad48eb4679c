//! `response_type` (OAuth 2.0 Multiple Response Type Encoding Practices).

wire_enum! {
    /// The `response_type` of an authorization request: which of code,
    /// ID token and access token come back through the browser.
    #[derive(Default)]
    pub enum ResponseType with custom parse {
        /// `code`: the authorization code flow (the default).
        #[default]
        Code = "code",
        /// `id_token`: implicit flow without an access token.
        IdToken = "id_token",
        /// `id_token token`: implicit flow.
        IdTokenToken = "id_token token",
        /// `code id_token`: hybrid flow.
        CodeIdToken = "code id_token",
        /// `code token`: hybrid flow without a front-channel ID token.
        CodeToken = "code token",
        /// `code id_token token`: hybrid flow with everything in the front channel.
        CodeIdTokenToken = "code id_token token",
    }
}

impl ResponseType {
    /// Parses a `response_type`: space-separated words in any order, each at
    /// most once. `None` for an unknown word, a repeated word or `token` alone
    /// (a pure OAuth implicit grant, which OpenID Connect does not define here).
    pub fn parse(value: &str) -> Option<Self> {
        let (mut code, mut id_token, mut token) = (false, false, false);
        for word in value.split(' ').filter(|w| !w.is_empty()) {
            let seen = match word {
                "code" => &mut code,
                "id_token" => &mut id_token,
                "token" => &mut token,
                _ => return None,
            };
            if *seen {
                return None;
            }
            *seen = true;
        }
        Some(match (code, id_token, token) {
            (true, false, false) => Self::Code,
            (false, true, false) => Self::IdToken,
            (false, true, true) => Self::IdTokenToken,
            (true, true, false) => Self::CodeIdToken,
            (true, false, true) => Self::CodeToken,
            (true, true, true) => Self::CodeIdTokenToken,
            _ => return None,
        })
    }

    /// Whether an authorization code is returned (and redeemed).
    pub fn has_code(self) -> bool {
        matches!(
            self,
            Self::Code | Self::CodeIdToken | Self::CodeToken | Self::CodeIdTokenToken
        )
    }

    /// Whether an ID token comes through the front channel.
    pub fn has_id_token(self) -> bool {
        matches!(
            self,
            Self::IdToken | Self::IdTokenToken | Self::CodeIdToken | Self::CodeIdTokenToken
        )
    }

    /// Whether an access token comes through the front channel.
    pub fn has_token(self) -> bool {
        matches!(
            self,
            Self::IdTokenToken | Self::CodeToken | Self::CodeIdTokenToken
        )
    }

    /// The response mode used when the request names none: `query` for
    /// `code`, `fragment` for everything that returns a token (OAuth 2.0
    /// Multiple Response Type Encoding Practices §5).
    pub fn default_mode(self) -> super::ResponseMode {
        if self == Self::Code {
            super::ResponseMode::Query
        } else {
            super::ResponseMode::Fragment
        }
    }

    /// The grant type a client must be registered for to use this response
    /// type: `authorization_code` for `code`, `implicit` for the others
    /// (hybrid types need both).
    pub fn needs_implicit(self) -> bool {
        self != Self::Code
    }
}
