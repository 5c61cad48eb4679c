"""The OpenID Foundation's RP certification plans: their modules, by the suite's names, in the
suite's order (openid-certification/conformance-suite, net.openid.conformance.openid.client).

PLANS[name] = (title, [(variant, [(module, function)])]).
"""

from __future__ import annotations

import fapi2
import logout as lo
import modules as m
from modules import Variant

FP = ["--response-mode", "form_post"]
IMPLICIT_RT = ["id_token", "id_token token"]
HYBRID_RT = ["code id_token", "code token", "code id_token token"]


def id_token_modules(rt: str) -> list:
    """Basic / Implicit / Hybrid modules for one response type (the suite's lists)."""
    types = set(rt.split())
    out = [
        ("oidcc-client-test", m.happy()),
        ("oidcc-client-test-invalid-iss", m.reject("invalid_iss")),
        ("oidcc-client-test-missing-sub", m.reject("missing_sub")),
        ("oidcc-client-test-invalid-aud", m.reject("invalid_aud")),
        ("oidcc-client-test-missing-iat", m.reject("missing_iat")),
        ("oidcc-client-test-kid-absent-single-jwks", m.happy(faults=["kid_absent_single"])),
        ("oidcc-client-test-kid-absent-multiple-jwks", m.kid_absent_multiple),
    ]
    if "code" in types and "id_token" in types:
        out += [("oidcc-client-test-invalid-chash", m.reject("invalid_chash")),
                ("oidcc-client-test-missing-chash", m.reject("missing_chash"))]
    if "id_token" in types and "token" in types:
        out += [("oidcc-client-test-invalid-athash", m.reject("invalid_athash")),
                ("oidcc-client-test-missing-athash", m.reject("missing_athash"))]
    out.append(("oidcc-client-test-idtoken-sig-rs256", m.happy()))
    if rt == "code":
        out.append(("oidcc-client-test-idtoken-sig-none", m.sig_none))
    out.append(("oidcc-client-test-invalid-sig-rs256", m.reject("invalid_sig")))
    if rt != "id_token":
        out.append(("oidcc-client-test-userinfo-invalid-sub", m.reject("userinfo_invalid_sub")))
    if rt != "code":
        out.append(("oidcc-client-test-nonce-unless-code-flow", m.happy(m.nonce_sent)))
    out += [("oidcc-client-test-nonce-invalid", m.reject("nonce_invalid")),
            ("oidcc-client-test-scope-userinfo-claims", m.happy(m.scope_claims))]
    if "code" in types:
        out.append(("oidcc-client-test-client-secret-basic", m.happy(m.basic_auth)))
    return out


def code_flow(extra=()):
    return [(Variant("", "code", list(extra)), id_token_modules("code"))]


def fronts(rts, extra):
    return [(Variant("", rt, list(extra)), id_token_modules(rt)) for rt in rts]


CONFIG = [
    ("oidcc-client-test-discovery-openid-config", m.happy(m.discovery_config)),
    ("oidcc-client-test-discovery-jwks-uri-keys", m.happy(m.jwks_uri_keys, faults=["random_jwks_uri"])),
    ("oidcc-client-test-discovery-issuer-mismatch", m.issuer_mismatch),
    ("oidcc-client-test-idtoken-sig-none", m.sig_none),
    ("oidcc-client-test-signing-key-rotation-just-before-signing",
     m.happy(m.rotation_just_before, faults=["rotate_before_signing"])),
    ("oidcc-client-test-signing-key-rotation", m.key_rotation),
]

RO = (m.REQUEST_URI, "request objects by reference (request_uri served by the app)")
DYNAMIC = [
    ("oidcc-client-test-discovery-webfinger-acct", m.webfinger("acct")),
    ("oidcc-client-test-discovery-webfinger-url", m.webfinger("url")),
    CONFIG[0], CONFIG[1], CONFIG[2],
    ("oidcc-client-test-dynamic-registration", m.happy(lambda r, b, me: "registered (RFC 7591), signed in")),
    ("oidcc-client-test-request-uri-signed-rs256", m.happy(
        m.request_uri("RS256"), needs=RO, args=lambda env: ["--private-key", env.private_key, *m.REQUEST_URI])),
    ("oidcc-client-test-request-uri-signed-none", m.happy(
        m.request_uri("none"), needs=(RO[0] + [m.REQUEST_OBJECT_ALG], RO[1] + ", unsigned"),
        args=lambda env: [*m.REQUEST_URI, m.REQUEST_OBJECT_ALG, "none"])),
    CONFIG[3], CONFIG[4], CONFIG[5],
    ("oidcc-client-test-userinfo-signed", m.happy(m.userinfo_signed, faults=["userinfo_signed"])),
]

BCL = [("oidcc-client-test-rp-backchannel-rpinitlogout", lo.backchannel())] + [
    (f"oidcc-client-test-rp-backchannel-rpinitlogout-{name}", lo.backchannel(fault))
    for name, fault in (("alg-none", "bcl_alg_none"), ("no-event", "bcl_no_event"), ("with-nonce", "bcl_with_nonce"),
                        ("wrong-alg", "bcl_wrong_alg"), ("wrong-aud", "bcl_wrong_aud"), ("wrong-event", "bcl_wrong_event"),
                        ("wrong-iss", "bcl_wrong_iss"))]

PLANS = {
    "oidcc-client-basic-certification-test-plan": ("Basic", code_flow()),
    "oidcc-client-implicit-certification-test-plan": ("Implicit", fronts(IMPLICIT_RT, FP)),
    "oidcc-client-hybrid-certification-test-plan": ("Hybrid", fronts(HYBRID_RT, FP)),
    "oidcc-client-config-certification-test-plan": ("Config", [(Variant("", "code"), CONFIG)]),
    "oidcc-client-dynamic-certification-test-plan": ("Dynamic", [(Variant("", "code", dynamic=True), DYNAMIC)]),
    "oidcc-client-formpost-basic-certification-test-plan": (
        "Form Post (Basic)", [(Variant("", "code", FP), id_token_modules("code") + [
            ("oidcc-client-test-form-post-error", m.form_post_error)])]),
    "oidcc-client-formpost-implicit-certification-test-plan": ("Form Post (Implicit)", fronts(IMPLICIT_RT, FP)),
    "oidcc-client-formpost-hybrid-certification-test-plan": ("Form Post (Hybrid)", fronts(HYBRID_RT, FP)),
}

RP_INIT = [("oidcc-client-test-rp-init-logout", lo.rp_init()),
           ("oidcc-client-test-rp-init-logout-other-state", lo.rp_init("logout_other_state")),
           ("oidcc-client-test-rp-init-logout-no-state", lo.rp_init("logout_no_state"))]
FCL = [("oidcc-client-test-rp-frontchannel-rpinitlogout", lo.frontchannel)]
for key, title, mods in (("rp-initiated-logout", "RP-Initiated Logout", RP_INIT), ("back-channel-logout", "Back-Channel Logout", BCL),
                         ("front-channel-logout", "Front-Channel Logout", FCL)):
    PLANS[f"oidcc-client-{key}-rp-basic"] = (f"{title} (Basic)", [(Variant("", "code"), mods)])
    PLANS[f"oidcc-client-{key}-rp-implicit"] = (f"{title} (Implicit)", [(Variant("", rt, FP), mods) for rt in IMPLICIT_RT])
    PLANS[f"oidcc-client-{key}-rp-hybrid"] = (f"{title} (Hybrid)", [(Variant("", rt, FP), mods) for rt in HYBRID_RT])
PLANS.update({
    "oidcc-client-refreshtoken-test-plan": ("Refresh", [(Variant("", "code"), [
        ("oidcc-client-test-refresh-token", m.refresh()),
        ("oidcc-client-test-refresh-token-invalid-issuer", m.refresh("refresh_invalid_iss")),
        ("oidcc-client-test-refresh-token-invalid-sub", m.refresh("refresh_invalid_sub"))])]),
})

# Not in the conformance suite's RP plans (the former RP test tool had rp-claims-aggregated and
# rp-claims-distributed): OIDC Core 5.6.2, under those names, run the same way.
PLANS["sesame-rp-claims"] = ("Aggregated and distributed claims (OIDC Core 5.6.2; not a suite plan)", [(Variant("", "code"), [
    ("rp-claims-aggregated", m.external_claims("claims_aggregated")),
    ("rp-claims-distributed", m.external_claims("claims_distributed")),
    ("rp-claims-aggregated-forged", m.external_claims("claims_forged")),
])])

# FAPI 2.0 Security Profile Final (fapi2.py: `sesame app --profile fapi2` against fapi2_provider.py).
PLANS.update(fapi2.PLANS)
