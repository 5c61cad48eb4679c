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
