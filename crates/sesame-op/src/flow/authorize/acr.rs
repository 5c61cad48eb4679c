//! The authentication context a request asks for (`acr_values`, and `acr`
//! in the `claims` parameter; OIDC Core §3.1.2.1, §5.5.1.1) and whether the
//! user's authentication satisfies it.
//!
//! [`Settings::acr_values_supported`](crate::Settings::acr_values_supported)
//! lists the provider's values from weakest to strongest: an authentication
//! with one of them satisfies a request for it or for any value before it.
//! A value the provider does not list is satisfied only by itself.

use serde_json::Value;

/// What the request asks of the authentication context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AcrRequest {
    /// The values asked for, in the request's order (empty: the claim is
    /// asked for, any value will do).
    pub(crate) values: Vec<String>,
    /// `{"acr": {"essential": true, …}}`: an authentication that does not
    /// satisfy it is a failed one.
    pub(crate) essential: bool,
}

/// What to do with the request's `acr` wish, given the user's authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AcrDecision {
    /// Issue, with this `acr` in the grant (`None`: none known).
    Issue(Option<String>),
    /// A fresh authentication might satisfy the essential request.
    Login,
    /// The essential request cannot be satisfied.
    Deny,
}

/// The request's `acr` wish: the `claims` parameter's `id_token.acr` (with
/// its `essential`, `value` or `values`), else `acr_values` (voluntary).
pub(crate) fn requested(acr_values: Option<&str>, claims: Option<&Value>) -> Option<AcrRequest> {
    let from_values: Vec<String> = acr_values
        .map(|v| {
            v.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let claim = claims
        .and_then(|c| c.get("id_token"))
        .and_then(|t| t.get("acr"));
    match claim {
        Some(Value::Object(o)) => {
            let mut values: Vec<String> = match (o.get("value"), o.get("values")) {
                (Some(Value::String(v)), _) => vec![v.clone()],
                (_, Some(Value::Array(vs))) => vs
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                _ => Vec::new(),
            };
            if values.is_empty() {
                values = from_values;
            }
            let essential = o.get("essential").and_then(Value::as_bool) == Some(true);
            Some(AcrRequest { values, essential })
        }
        // `"acr": null`: asked for, voluntarily, with no value.
        Some(_) => Some(AcrRequest {
            values: from_values,
            essential: false,
        }),
        None if from_values.is_empty() => None,
        None => Some(AcrRequest {
            values: from_values,
            essential: false,
        }),
    }
}

/// The request's wish with the client's `required` acr
/// ([`crate::Client::require_acr`]) made essential: the client's value wins.
pub(crate) fn with_required(
    request: Option<AcrRequest>,
    required: Option<&str>,
) -> Option<AcrRequest> {
    match required {
        Some(value) => Some(AcrRequest {
            values: vec![value.to_owned()],
            essential: true,
        }),
        None => request,
    }
}

/// The strongest asked-for value that an authentication with `achieved`
/// satisfies.
fn satisfied(supported: &[String], achieved: Option<&str>, request: &AcrRequest) -> Option<String> {
    let achieved = achieved?;
    let rank = |v: &str| supported.iter().position(|s| s == v);
    request
        .values
        .iter()
        .filter(|asked| match (rank(asked), rank(achieved)) {
            (Some(a), Some(have)) => have >= a,
            _ => *asked == achieved,
        })
        .max_by_key(|asked| rank(asked))
        .cloned()
}

/// Whether a voluntary request (`acr_values`) is not met by `achieved`
/// while a supported value would meet it: a step-up could do better.
pub(crate) fn voluntary_unmet(
    supported: &[String],
    achieved: Option<&str>,
    request: &AcrRequest,
) -> bool {
    !request.essential
        && !request.values.is_empty()
        && satisfied(supported, achieved, request).is_none()
        && request.values.iter().any(|v| supported.contains(v))
}

/// Decides for one request: `just_logged_in` is true when the user comes
/// back from the login this request asked for (a fresh authentication
/// could not do better).
pub(crate) fn decide(
    supported: &[String],
    achieved: Option<&str>,
    request: Option<&AcrRequest>,
    just_logged_in: bool,
) -> AcrDecision {
    let Some(request) = request else {
        return AcrDecision::Issue(achieved.map(str::to_owned));
    };
    if request.values.is_empty() {
        return AcrDecision::Issue(achieved.map(str::to_owned));
    }
    if let Some(value) = satisfied(supported, achieved, request) {
        return AcrDecision::Issue(Some(value));
    }
    if !request.essential {
        // Voluntary: the authentication that took place, as it is.
        return AcrDecision::Issue(achieved.map(str::to_owned));
    }
    let reachable = request.values.iter().any(|v| supported.contains(v));
    if reachable && !just_logged_in {
        AcrDecision::Login
    } else {
        AcrDecision::Deny
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn supported() -> Vec<String> {
        vec!["urn:x:pwd".into(), "urn:x:mfa".into()]
    }

    #[test]
    fn acr_values_are_voluntary_and_the_claims_parameter_can_make_them_essential() {
        let r = requested(Some("urn:x:mfa  urn:x:pwd"), None).unwrap();
        assert_eq!(r.values, ["urn:x:mfa", "urn:x:pwd"]);
        assert!(!r.essential);
        let c = json!({"id_token": {"acr": {"essential": true, "values": ["urn:x:mfa"]}}});
        let r = requested(Some("urn:x:pwd"), Some(&c)).unwrap();
        assert_eq!(r.values, ["urn:x:mfa"]);
        assert!(r.essential);
        let c = json!({"id_token": {"acr": {"essential": true}}});
        let r = requested(Some("urn:x:pwd"), Some(&c)).unwrap();
        assert_eq!(r.values, ["urn:x:pwd"]);
        assert!(r.essential);
        let c = json!({"id_token": {"acr": {"value": "urn:x:pwd"}}});
        assert_eq!(requested(None, Some(&c)).unwrap().values, ["urn:x:pwd"]);
        assert_eq!(requested(None, Some(&json!({"userinfo": {}}))), None);
        assert_eq!(requested(Some(" "), None), None);
    }

    #[test]
    fn a_satisfied_request_gets_the_strongest_value_it_asked_for_that_was_met() {
        let s = supported();
        let r = requested(Some("urn:x:pwd urn:x:mfa"), None).unwrap();
        assert_eq!(
            decide(&s, Some("urn:x:pwd"), Some(&r), false),
            AcrDecision::Issue(Some("urn:x:pwd".into()))
        );
        assert_eq!(
            decide(&s, Some("urn:x:mfa"), Some(&r), false),
            AcrDecision::Issue(Some("urn:x:mfa".into()))
        );
        // A stronger authentication satisfies a weaker value.
        let weak = requested(Some("urn:x:pwd"), None).unwrap();
        assert_eq!(
            decide(&s, Some("urn:x:mfa"), Some(&weak), false),
            AcrDecision::Issue(Some("urn:x:pwd".into()))
        );
        // Values the provider does not know match only themselves.
        let odd = requested(Some("1 2"), None).unwrap();
        assert_eq!(
            decide(&s, Some("2"), Some(&odd), false),
            AcrDecision::Issue(Some("2".into()))
        );
    }

    #[test]
    fn an_unmet_voluntary_request_reports_what_happened_and_an_essential_one_asks_again_or_fails() {
        let s = supported();
        let voluntary = requested(Some("urn:x:mfa"), None).unwrap();
        assert_eq!(
            decide(&s, Some("urn:x:pwd"), Some(&voluntary), false),
            AcrDecision::Issue(Some("urn:x:pwd".into()))
        );
        let c = json!({"id_token": {"acr": {"essential": true, "values": ["urn:x:mfa"]}}});
        let essential = requested(None, Some(&c)).unwrap();
        assert_eq!(
            decide(&s, Some("urn:x:pwd"), Some(&essential), false),
            AcrDecision::Login
        );
        assert_eq!(
            decide(&s, Some("urn:x:pwd"), Some(&essential), true),
            AcrDecision::Deny
        );
        let c = json!({"id_token": {"acr": {"essential": true, "values": ["urn:other"]}}});
        let unknown = requested(None, Some(&c)).unwrap();
        assert_eq!(
            decide(&s, Some("urn:x:pwd"), Some(&unknown), false),
            AcrDecision::Deny
        );
        assert_eq!(decide(&s, None, None, false), AcrDecision::Issue(None));
    }
}
