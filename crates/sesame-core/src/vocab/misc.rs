//! The smaller enumerations: response mode, subject type, application type,
//! prompt, token type hint.

wire_enum! {
    /// `response_mode`: how the authorization response reaches the client
    /// (OAuth 2.0 Multiple Response Type Encoding Practices §2.1, Form Post
    /// Response Mode).
    pub enum ResponseMode {
        /// Parameters in the redirect URI's query.
        Query = "query",
        /// Parameters in the redirect URI's fragment.
        Fragment = "fragment",
        /// An auto-submitting HTML form that POSTs to the redirect URI.
        FormPost = "form_post",
        /// JARM (JWT Secured Authorization Response Mode §2.3.4): a signed
        /// `response` JWT, in `query.jwt` for `code` and `fragment.jwt` for
        /// response types that return tokens.
        Jwt = "jwt",
        /// JARM §2.3.1: the `response` JWT in the redirect URI's query.
        QueryJwt = "query.jwt",
        /// JARM §2.3.2: the `response` JWT in the redirect URI's fragment.
        FragmentJwt = "fragment.jwt",
        /// JARM §2.3.3: the `response` JWT POSTed by an auto-submitting form.
        FormPostJwt = "form_post.jwt",
    }
}

impl ResponseMode {
    /// The response is a signed JWT (JARM): `jwt`, `query.jwt`,
    /// `fragment.jwt` or `form_post.jwt`.
    pub fn is_jwt(self) -> bool {
        matches!(
            self,
            Self::Jwt | Self::QueryJwt | Self::FragmentJwt | Self::FormPostJwt
        )
    }

    /// The mode as sent for a response whose default mode (see
    /// [`ResponseType::default_mode`](super::ResponseType::default_mode)) is
    /// `default`: `jwt` becomes `query.jwt` after a `query` default and
    /// `fragment.jwt` otherwise (JARM §2.3.4); every other mode is itself.
    pub fn resolve(self, default: Self) -> Self {
        match self {
            Self::Jwt if default == Self::Query => Self::QueryJwt,
            Self::Jwt => Self::FragmentJwt,
            other => other,
        }
    }

    /// How the parameters travel: `query`, `fragment` or `form_post`. The
    /// JWT modes travel as their plain counterparts (carrying one
    /// `response` parameter); `jwt` itself travels as `query`, so
    /// [`ResponseMode::resolve`] it first.
    pub fn carrier(self) -> Self {
        match self {
            Self::Jwt | Self::QueryJwt => Self::Query,
            Self::FragmentJwt => Self::Fragment,
            Self::FormPostJwt => Self::FormPost,
            other => other,
        }
    }
}

wire_enum! {
    /// `subject_type` (OIDC Core §8): which `sub` a client sees for a user.
    #[derive(Default)]
    pub enum SubjectType {
        /// The user's own identifier, the same for every client (the default).
        #[default]
        Public = "public",
        /// An identifier for the client's sector only (OIDC Core §8.1).
        Pairwise = "pairwise",
    }
}

wire_enum! {
    /// `application_type` (OIDC Dynamic Client Registration §2): which
    /// redirect URIs a client may register.
    #[derive(Default)]
    pub enum ApplicationType {
        /// A web application: `https` redirect URIs, or `http` on loopback (the default).
        #[default]
        Web = "web",
        /// A native application: custom schemes, loopback `http` (RFC 8252).
        Native = "native",
    }
}

wire_enum! {
    /// One word of the `prompt` parameter (OIDC Core §3.1.2.1).
    pub enum Prompt {
        /// No page may be shown; fail with `login_required` and friends.
        None = "none",
        /// Authenticate again, even with a live session.
        Login = "login",
        /// Ask for consent again.
        Consent = "consent",
        /// Let the user choose an account.
        SelectAccount = "select_account",
    }
}

impl Prompt {
    /// Parses a space-separated `prompt` value. `Err` names the first unknown
    /// word; `none` with any other word is refused, as OIDC Core §3.1.2.1
    /// requires. Repeated words are kept once.
    pub fn parse_list(value: &str) -> Result<Vec<Self>, PromptError> {
        let mut out: Vec<Self> = Vec::new();
        for word in value.split(' ').filter(|w| !w.is_empty()) {
            let p = Self::parse(word)
                .ok_or_else(|| PromptError::Unknown(word.chars().take(64).collect()))?;
            if !out.contains(&p) {
                out.push(p);
            }
        }
        if out.len() > 1 && out.contains(&Self::None) {
            return Err(PromptError::NoneWithOthers);
        }
        Ok(out)
    }
}

/// Why a `prompt` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PromptError {
    /// A word that is not one of the four.
    #[error("unknown prompt value {0:?}")]
    Unknown(String),
    /// `none` together with another value.
    #[error("prompt=none cannot be combined with other values")]
    NoneWithOthers,
}

wire_enum! {
    /// `token_type_hint` at introspection and revocation (RFC 7009 §2.1).
    pub enum TokenTypeHint {
        /// An access token.
        AccessToken = "access_token",
        /// A refresh token.
        RefreshToken = "refresh_token",
    }
}
