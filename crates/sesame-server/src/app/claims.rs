//! `sesame app --claims-source`: the claims providers trusted for aggregated
//! and distributed claims (sesame-rp's `with_claims_source`), and how the app
//! shows what they signed: apart from the provider's own claims.

use serde_json::{Value, json};
use sesame_core::{Issuer, JwsAlgorithm};
use sesame_rp::{Claims, ClaimsSource};

use super::AppError;

/// One `--claims-source`: `ISSUER` (keys from its discovery document) or
/// `ISSUER=JWKS_URL`; the ID token algorithms accepted apply to its JWTs.
pub(super) fn claims_source(spec: &str, algs: &[JwsAlgorithm]) -> Result<ClaimsSource, AppError> {
    let (issuer, jwks) = match spec.split_once('=') {
        Some((issuer, jwks)) => (issuer.trim(), Some(jwks.trim())),
        None => (spec.trim(), None),
    };
    let bad = |why: String| {
        AppError(format!(
            "--claims-source {spec:?}: {why} (use ISSUER or ISSUER=JWKS_URL)"
        ))
    };
    let issuer = Issuer::new(issuer.to_owned()).map_err(|e| bad(e.to_string()))?;
    let source = match jwks {
        Some(uri) => {
            let parsed = url::Url::parse(uri).map_err(|e| bad(format!("JWKS URL: {e}")))?;
            if !matches!(parsed.scheme(), "https" | "http") {
                return Err(bad("the JWKS URL must be http(s)".into()));
            }
            ClaimsSource::with_jwks_uri(issuer.as_str(), uri)
        }
        None => ClaimsSource::discovered(issuer),
    };
    Ok(source.with_algorithms(algs.iter().copied()))
}

/// The builder with every `--claims-source`.
pub(super) fn with_claims_sources(
    mut builder: sesame_rp::OidcClientBuilder,
    specs: &[String],
    algs: &[JwsAlgorithm],
) -> Result<sesame_rp::OidcClientBuilder, AppError> {
    for spec in specs {
        builder = builder.with_claims_source(claims_source(spec, algs)?);
    }
    Ok(builder)
}

/// Rows for the home page: each verified external claim, named with its source.
pub(super) fn external_rows(claims: &Claims) -> Vec<(String, String)> {
    claims
        .external()
        .iter()
        .flat_map(|e| {
            e.claims.iter().map(move |(k, v)| {
                let value = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (format!("{k} (from {})", e.issuer), value)
            })
        })
        .collect()
}

/// `/me`'s members for external claims: the verified ones and the refused sources.
pub(super) fn external_json(claims: &Claims) -> Value {
    json!({
        "external": claims.external(),
        "refused_external": claims.refused_external(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn claims_source_specs() {
        let algs = [JwsAlgorithm::RS256, JwsAlgorithm::ES256];
        let s = claims_source("https://claims.example", &algs).unwrap();
        assert_eq!(s.issuer(), "https://claims.example");
        let s =
            claims_source("https://bank.example=https://bank.example/jwks.json", &algs).unwrap();
        assert_eq!(s.issuer(), "https://bank.example");
        for bad in [
            "",
            "not a url",
            "https://bank.example=file:///etc/keys",
            "https://bank.example=",
        ] {
            let e = claims_source(bad, &algs).unwrap_err();
            assert!(e.0.contains("--claims-source"), "{bad}: {e}");
        }
    }
}
