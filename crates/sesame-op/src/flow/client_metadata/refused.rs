//! Members Sesame understands but does not support, and refuses rather than
//! ignore, so that a client does not believe it got what it asked for.

const ID_TOKENS: &str = "ID tokens are signed, not encrypted";
const USERINFO: &str = "userinfo responses are not encrypted";
const AUTHORIZATION: &str = "authorization responses (JARM) are signed, not encrypted";

/// Each member and the reason given for refusing it.
pub(super) const REFUSED: [(&str, &str); 6] = [
    ("id_token_encrypted_response_alg", ID_TOKENS),
    ("id_token_encrypted_response_enc", ID_TOKENS),
    ("userinfo_encrypted_response_alg", USERINFO),
    ("userinfo_encrypted_response_enc", USERINFO),
    ("authorization_encrypted_response_alg", AUTHORIZATION),
    ("authorization_encrypted_response_enc", AUTHORIZATION),
];
