use super::*;

#[test]
fn every_word_round_trips() {
    fn check<T>(all: &[T], as_str: fn(T) -> &'static str, parse: fn(&str) -> Option<T>)
    where
        T: Copy + PartialEq + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned,
    {
        for &v in all {
            let s = as_str(v);
            assert_eq!(parse(s), Some(v), "{s}");
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(json, format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), v);
        }
        assert_eq!(parse("nonsense"), None);
        assert!(serde_json::from_str::<T>("\"nonsense\"").is_err());
    }
    check(GrantType::ALL, GrantType::as_str, GrantType::parse);
    check(
        ClientAuthMethod::ALL,
        ClientAuthMethod::as_str,
        ClientAuthMethod::parse,
    );
    check(ResponseType::ALL, ResponseType::as_str, ResponseType::parse);
    check(ResponseMode::ALL, ResponseMode::as_str, ResponseMode::parse);
    check(SubjectType::ALL, SubjectType::as_str, SubjectType::parse);
    check(
        ApplicationType::ALL,
        ApplicationType::as_str,
        ApplicationType::parse,
    );
    check(Prompt::ALL, Prompt::as_str, Prompt::parse);
    check(
        TokenTypeHint::ALL,
        TokenTypeHint::as_str,
        TokenTypeHint::parse,
    );
}

#[test]
fn response_type_words_in_any_order_once_each() {
    assert_eq!(
        ResponseType::parse("token id_token code"),
        Some(ResponseType::CodeIdTokenToken)
    );
    assert_eq!(
        ResponseType::parse("  id_token   token "),
        Some(ResponseType::IdTokenToken)
    );
    assert_eq!(ResponseType::parse("code code"), None);
    assert_eq!(ResponseType::parse("token"), None);
    assert_eq!(ResponseType::parse(""), None);
    assert_eq!(ResponseType::parse("code none"), None);
    assert!(ResponseType::CodeToken.has_code() && ResponseType::CodeToken.has_token());
    assert!(!ResponseType::CodeToken.has_id_token());
    assert_eq!(ResponseType::Code.default_mode(), ResponseMode::Query);
    assert_eq!(ResponseType::IdToken.default_mode(), ResponseMode::Fragment);
}

#[test]
fn jwt_response_modes_resolve_and_travel_as_their_plain_modes() {
    let jwt = ResponseMode::Jwt;
    assert_eq!(jwt.resolve(ResponseMode::Query), ResponseMode::QueryJwt);
    assert_eq!(
        jwt.resolve(ResponseMode::Fragment),
        ResponseMode::FragmentJwt
    );
    assert_eq!(
        ResponseMode::FormPostJwt.resolve(ResponseMode::Query),
        ResponseMode::FormPostJwt
    );
    assert_eq!(ResponseMode::QueryJwt.carrier(), ResponseMode::Query);
    assert_eq!(ResponseMode::FragmentJwt.carrier(), ResponseMode::Fragment);
    assert_eq!(ResponseMode::FormPostJwt.carrier(), ResponseMode::FormPost);
    assert_eq!(ResponseMode::FormPost.carrier(), ResponseMode::FormPost);
    let jwt_modes: Vec<_> = ResponseMode::ALL.iter().filter(|m| m.is_jwt()).collect();
    assert_eq!(jwt_modes.len(), 4);
    assert!(!ResponseMode::Query.is_jwt());
}

#[test]
fn prompt_lists() {
    assert_eq!(
        Prompt::parse_list("login consent login").unwrap(),
        vec![Prompt::Login, Prompt::Consent]
    );
    assert_eq!(
        Prompt::parse_list("none login"),
        Err(PromptError::NoneWithOthers)
    );
    assert_eq!(
        Prompt::parse_list("login bogus"),
        Err(PromptError::Unknown("bogus".into()))
    );
    assert_eq!(Prompt::parse_list("").unwrap(), vec![]);
}

#[test]
fn from_str_names_the_kind() {
    let err = "bogus".parse::<GrantType>().unwrap_err();
    assert_eq!(err.to_string(), "unknown GrantType \"bogus\"");
    assert_eq!("device_code".parse::<GrantType>().ok(), None);
    assert_eq!(
        GrantType::DeviceCode.as_str(),
        "urn:ietf:params:oauth:grant-type:device_code"
    );
}
