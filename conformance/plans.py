"""The certification plans: their modules in the suite's order, with the variants the suite runs them with.

Taken from the suite's plan classes (OIDCCBasicTestPlan, OIDCCImplicitTestPlan,
OIDCCHybridTestPlan, OIDCCConfigTestPlan, the Form Post plans which are the same
lists with response_mode=form_post, OIDCCDynamicTestPlan (dynamic_client, private_key_jwt; response type
code), OIDCCRpInitiatedLogoutTestPlan, OIDCCBackchannelRpInitiatedLogoutTestPlan).
"""

BASIC_1 = [
    "oidcc-server", "oidcc-response-type-missing", "oidcc-idtoken-signature", "oidcc-idtoken-unsigned",
    "oidcc-userinfo-get", "oidcc-userinfo-post-header", "oidcc-userinfo-post-body",
    "oidcc-ensure-request-without-nonce-succeeds-for-code-flow",
    "oidcc-scope-profile", "oidcc-scope-email", "oidcc-scope-address", "oidcc-scope-phone", "oidcc-scope-all",
    "oidcc-ensure-other-scope-order-succeeds", "oidcc-display-page", "oidcc-display-popup", "oidcc-prompt-login",
    "oidcc-prompt-none-not-logged-in", "oidcc-prompt-none-logged-in", "oidcc-max-age-1", "oidcc-max-age-10000",
    "oidcc-ensure-request-with-unknown-parameter-succeeds", "oidcc-id-token-hint", "oidcc-login-hint",
    "oidcc-ui-locales", "oidcc-claims-locales", "oidcc-ensure-request-with-acr-values-succeeds",
    "oidcc-codereuse", "oidcc-codereuse-30seconds", "oidcc-ensure-registered-redirect-uri",
    "oidcc-ensure-post-request-succeeds",
]
SECRET_POST = ["oidcc-server-client-secret-post"]
REQUEST_OBJECTS_ETC = [
    "oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported",
    "oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported",
    "oidcc-claims-essential", "oidcc-ensure-request-object-with-redirect-uri", "oidcc-refresh-token",
]
PKCE = ["oidcc-ensure-request-with-valid-pkce-succeeds"]

IMPLICIT = [
    "oidcc-server", "oidcc-idtoken-signature", "oidcc-ensure-request-without-nonce-fails",
    "oidcc-scope-profile", "oidcc-scope-email", "oidcc-scope-address", "oidcc-scope-phone", "oidcc-scope-all",
    "oidcc-ensure-other-scope-order-succeeds", "oidcc-display-page", "oidcc-display-popup", "oidcc-prompt-login",
    "oidcc-prompt-none-not-logged-in", "oidcc-prompt-none-logged-in", "oidcc-max-age-1", "oidcc-max-age-10000",
    "oidcc-ensure-request-with-unknown-parameter-succeeds", "oidcc-id-token-hint", "oidcc-login-hint",
    "oidcc-ui-locales", "oidcc-claims-locales", "oidcc-ensure-request-with-acr-values-succeeds",
    "oidcc-ensure-registered-redirect-uri",
    "oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported",
    "oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported",
    "oidcc-ensure-request-object-with-redirect-uri", "oidcc-claims-essential",
]
IMPLICIT_TOKEN_ONLY = ["oidcc-userinfo-get", "oidcc-userinfo-post-header", "oidcc-userinfo-post-body",
                       "oidcc-response-type-missing"]


def hybrid_table(rt: str):
    first = rt == "code id_token"
    nonce = ("oidcc-ensure-request-without-nonce-succeeds-for-code-flow" if rt == "code token"
             else "oidcc-ensure-request-without-nonce-fails")
    mods = ["oidcc-server"] + (["oidcc-response-type-missing"] if first else []) + [
        "oidcc-idtoken-signature", "oidcc-userinfo-get", "oidcc-userinfo-post-header", "oidcc-userinfo-post-body", nonce,
        "oidcc-scope-profile", "oidcc-scope-email", "oidcc-scope-address", "oidcc-scope-phone", "oidcc-scope-all",
    ] + (["oidcc-ensure-other-scope-order-succeeds"] if first else []) + [
        "oidcc-display-page", "oidcc-display-popup", "oidcc-prompt-login",
        "oidcc-prompt-none-not-logged-in", "oidcc-prompt-none-logged-in", "oidcc-max-age-1", "oidcc-max-age-10000",
        "oidcc-ensure-request-with-unknown-parameter-succeeds", "oidcc-id-token-hint", "oidcc-login-hint",
        "oidcc-ui-locales", "oidcc-claims-locales", "oidcc-ensure-request-with-acr-values-succeeds",
        "oidcc-codereuse", "oidcc-codereuse-30seconds", "oidcc-ensure-registered-redirect-uri",
    ]
    return [(m, rt, "client_secret_basic") for m in mods] + [(m, rt, "client_secret_post") for m in SECRET_POST] + \
        [(m, rt, "client_secret_basic") for m in REQUEST_OBJECTS_ETC + (PKCE if first else [])]


def basic():
    return [(m, "code", "client_secret_basic") for m in BASIC_1] + [(m, "code", "client_secret_post") for m in SECRET_POST] + \
        [(m, "code", "client_secret_basic") for m in REQUEST_OBJECTS_ETC + PKCE]


def implicit():
    return [(m, "id_token", "client_secret_basic") for m in IMPLICIT] + \
        [(m, "id_token token", "client_secret_basic") for m in IMPLICIT + IMPLICIT_TOKEN_ONLY]


def hybrid():
    return [e for rt in ("code id_token", "code token", "code id_token token") for e in hybrid_table(rt)]


# plan name -> (entries (module, response_type, client auth), response_mode)
PLANS = {
    "oidcc-basic-certification-test-plan": (basic, "default"),
    "oidcc-config-certification-test-plan": (lambda: [("oidcc-discovery-endpoint-verification", None, None)], "default"),
    "oidcc-formpost-basic-certification-test-plan": (basic, "form_post"),
    "oidcc-implicit-certification-test-plan": (implicit, "default"),
    "oidcc-formpost-implicit-certification-test-plan": (implicit, "form_post"),
    "oidcc-hybrid-certification-test-plan": (hybrid, "default"),
    "oidcc-formpost-hybrid-certification-test-plan": (hybrid, "form_post"),
    "oidcc-rp-initiated-logout-certification-test-plan": (lambda: [
        ("oidcc-rp-initiated-logout-discovery-endpoint-verification", None, None)] + [
        (m, "code", "client_secret_basic") for m in (
            "oidcc-rp-initiated-logout", "oidcc-rp-initiated-logout-bad-logout-redirect-uri",
            "oidcc-rp-initiated-logout-modified-id-token-hint", "oidcc-rp-initiated-logout-no-id-token-hint",
            "oidcc-rp-initiated-logout-no-params", "oidcc-rp-initiated-logout-no-post-logout-redirect-uri",
            "oidcc-rp-initiated-logout-no-state", "oidcc-rp-initiated-logout-only-state")], "default"),
    "oidcc-dynamic-certification-test-plan": (lambda: [(m, "code", "private_key_jwt") for m in (
        "oidcc-idtoken-rs256", "oidcc-idtoken-unsigned", "oidcc-userinfo-rs256",
        "oidcc-ensure-redirect-uri-in-authorization-request", "oidcc-redirect-uri-query-ok",
        "oidcc-redirect-uri-query-mismatch", "oidcc-redirect-uri-query-added", "oidcc-redirect-uri-regfrag",
        "oidcc-discovery-endpoint-verification", "oidcc-server", "oidcc-registration-logo-uri",
        "oidcc-registration-policy-uri", "oidcc-registration-tos-uri", "oidcc-registration-jwks-uri",
        "oidcc-registration-sector-uri", "oidcc-registration-sector-bad", "oidcc-server-rotate-keys",
        "oidcc-refresh-token-rp-key-rotation", "oidcc-request-uri-unsigned", "oidcc-request-uri-signed-rs256",
        "oidcc-ensure-request-object-with-redirect-uri", "oidcc-refresh-token",
        "oidcc-ensure-client-assertion-with-iss-aud-succeeds")], "default"),
    "oidcc-backchannel-rp-initiated-logout-certification-test-plan": (lambda: [
        ("oidcc-backchannel-logout-discovery-endpoint-verification", None, None),
        ("oidcc-backchannel-rp-initiated-logout", "code", "client_secret_basic")], "default"),
}

# fapi2-security-profile-final-test-plan (FAPI2SPFinalTestPlan: FAPI2MessageSigningFinalTestPlan's
# modules less those that need signed request objects), in the suite's order. The variant run:
# client_auth_type=private_key_jwt, sender_constrain=dpop, fapi_profile=plain_fapi,
# fapi_request_method=unsigned, fapi_response_mode=plain_response, openid=openid_connect.
FAPI2_PLAN = "fapi2-security-profile-final-test-plan"
FAPI2_VARIANT = "plain_fapi, unsigned, plain_response, openid_connect"
FAPI2_AUTH = "private_key_jwt, dpop"
FAPI2_MODULES = [
    "discovery-end-point-verification", "happy-flow", "user-rejects-authentication",
    "ensure-authorization-request-without-state-success", "ensure-authorization-request-without-nonce-success",
    "ensure-authorization-request-with-64-char-nonce-success", "ensure-other-scope-order-succeeds",
    "test-claims-parameter-identity-claims", "access-token-type-header-case-sensitivity",
    "check-dpop-proof-nbf-exp", "ensure-dpopproof-with-iat-10seconds-before-succeeds",
    "ensure-dpopproof-with-iat-10seconds-after-succeeds", "ensure-mismatched-dpop-jkt-fails",
    "ensure-token-endpoint-fails-with-mismatched-dpop-proof-jkt", "ensure-token-endpoint-fails-with-mismatched-dpop-jkt",
    "ensure-dpopproof-at-par-endpoint-binding-success", "ensure-dpop-auth-code-binding-success",
    "ensure-different-nonce-inside-and-outside-request-object", "ensure-different-state-inside-and-outside-request-object",
    "ensure-authorization-request-with-long-nonce", "ensure-authorization-request-with-long-state",
    "state-only-outside-request-object-not-used", "ensure-request-object-without-redirect-uri-fails",
    "ensure-registered-redirect-uri", "plain-fapi-tolerate-unregistered-redirect-uri",
    "ensure-unsigned-authorization-request-without-using-par-fails", "ensure-redirect-uri-in-authorization-request",
    "ensure-response-type-code-idtoken-fails", "australia-connectid-ensure-invalid-purpose-fails",
    "ensure-response-type-token-fails", "ensure-client-id-in-token-endpoint", "ensure-holder-of-key-required",
    "ensure-authorization-code-is-bound-to-client", "attempt-reuse-authorization-code-after-one-second",
    "ensure-token-endpoint-fails-with-expired-auth-code", "ensure-signed-client-assertion-with-RS256-fails",
    "ensure-client-assertion-in-token-endpoint", "ensure-client-assertion-with-exp-is-5-minutes-in-past-fails",
    "ensure-client-assertion-with-wrong-aud-fails", "ensure-client-assertion-with-no-sub-fails",
    "dpop-negative-tests", "refresh-token",
    "cdr-ensure-sharing-duration-zero-gives-no-refresh-token", "cdr-ensure-negative-sharing-duration-fails",
    "cdr-refresh-token-introspection-expiry", "cdr-arrangement-amendment-revokes-old-tokens",
    "cdr-ensure-unrecognised-arrangement-id-fails", "brazil-ensure-bad-payment-signature-fails",
    "australia-connectid-test-claims-parameter-idtoken-identity-claims",
    "par-ensure-reused-request-uri-prior-to-auth-completion-succeeds", "par-attempt-reuse-request_uri",
    "par-attempt-to-use-expired-request_uri", "par-ensure-jwt-client-assertions-nbf-8-seconds-in-the-future-is-accepted",
    "par-ensure-jwt-client-assertions-nbf-over-60-seconds-in-the-future-fails",
    "par-attempt-to-use-request_uri-for-different-client", "par-authorization-request-containing-request_uri-form-param",
    "par-attempt-invalid-http-method", "par-ensure-pkce-required", "ensure-pkce-code-verifier-required",
    "incorrect-pkce-code-verifier-rejected", "par-plain-pkce-rejected", "par-without-duplicate-parameters",
    "par-test-array-as-audience-fails", "par-test-par-endpoint-url-as-audience-fails",
    "par-test-token-endpoint-url-as-audience-fails",
    "grant-management-happy-flow", "grant-management-merge", "grant-management-replace",
    "grant-management-ensure-invalid-grant-id-fails", "grant-management-ensure-query-non-existent-grant-fails",
    "grant-management-ensure-query-after-revoke-fails", "grant-management-ensure-wrong-client-cannot-query-grant",
    "grant-management-ensure-wrong-client-cannot-revoke-grant",
]
# The suite's VariantNotApplicable for this variant (the module is for another profile or for grant_management=enabled).
FAPI2_NOT_APPLICABLE = {
    "ensure-registered-redirect-uri": "fapi_profile=plain_fapi (plain-fapi-tolerate-unregistered-redirect-uri instead)",
    "australia-connectid-ensure-invalid-purpose-fails": "fapi_profile=connectid_au only",
    "australia-connectid-test-claims-parameter-idtoken-identity-claims": "fapi_profile=connectid_au only",
    "brazil-ensure-bad-payment-signature-fails": "fapi_profile=openbanking_brazil only",
}
FAPI2_NOT_APPLICABLE.update({m: "fapi_profile=consumerdataright_au only" for m in FAPI2_MODULES if m.startswith("cdr-")})
FAPI2_NOT_APPLICABLE.update({m: "grant_management=enabled only" for m in FAPI2_MODULES if m.startswith("grant-management-")})
# The variants Sesame does not offer: mutual TLS (README: Sesame runs behind TLS-terminating proxies).
FAPI2_SKIPPED_VARIANTS = [
    ("(every module)", "client_auth_type=mtls", "mutual-TLS client authentication is not offered by Sesame (README, FAPI 2.0)"),
    ("(every module)", "sender_constrain=mtls", "certificate-bound tokens (RFC 8705) are not offered by Sesame (README, FAPI 2.0)"),
]


def fapi2():
    return [(FAPI2_PLAN_PREFIX + m, FAPI2_VARIANT, FAPI2_AUTH) for m in FAPI2_MODULES] + \
        [(m, v, "") for m, v, _why in FAPI2_SKIPPED_VARIANTS]


FAPI2_PLAN_PREFIX = "fapi2-security-profile-final-"
PLANS[FAPI2_PLAN] = (fapi2, "default")
