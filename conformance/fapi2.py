"""The modules of the suite's fapi2-security-profile-final-test-plan, by the suite's names.

The variant: client_auth_type=private_key_jwt, sender_constrain=dpop, fapi_profile=plain_fapi,
fapi_request_method=unsigned, fapi_response_mode=plain_response, openid=openid_connect (the plan's
baseline is unsigned + plain_response). Each function takes the Ctx and a FapiVariant (two clients,
as the suite's client and client2) and raises Fail / Skip / NotApplicable like the OIDC modules;
the docstrings say what the suite's module of the same name checks. The flow itself is in
fapi2_flow.py. N/A modules (other profiles, grant management, mTLS) are listed in plans.py.
"""

from __future__ import annotations

import json
import secrets
import time

import requests

from fapi2_flow import Fapi, FapiVariant, Key, Run, _error, token_error
from modules import validate_error_fields
from oidcc import Ctx, Skip, check

FAPI2_ALGS = ("PS256", "ES256", "EdDSA", "Ed25519")
P = "fapi2-security-profile-final-"


def _f(ctx: Ctx) -> Fapi:
    return Fapi(ctx)


def _has_fapi_alg(disc: dict, key: str, condition: str):
    vals = disc.get(key)
    check(isinstance(vals, list) and any(a in FAPI2_ALGS for a in vals), condition,
          f"{key} {vals!r} has none of {', '.join(FAPI2_ALGS)}")


# ---------------------------------------------------------------- normal flows
def discovery_end_point_verification(ctx: Ctx, v: FapiVariant):
    """The discovery document: issuer, endpoints, private_key_jwt, FAPI algorithms for ID tokens,
    DPoP and client assertions, S256, the PAR endpoint, scopes and the JWKS (FAPI2-SP-FINAL-5.3, 5.4)."""
    d = ctx.disc
    check(d.get("issuer") == ctx.issuer, "CheckDiscEndpointIssuer", f"issuer {d.get('issuer')!r}")
    check(str(d.get("token_endpoint", "")).startswith(("https://", "http://")), "CheckDiscEndpointTokenEndpoint", "no token_endpoint")
    check(d.get("jwks_uri"), "CheckJwksUri", "no jwks_uri")
    check("private_key_jwt" in d.get("token_endpoint_auth_methods_supported", []), "EnsureServerConfigurationSupportsPrivateKeyJwt",
          f"token_endpoint_auth_methods_supported {d.get('token_endpoint_auth_methods_supported')!r}")
    _has_fapi_alg(d, "dpop_signing_alg_values_supported", "FAPI2CheckDpopSigningAlgValuesSupported")
    _has_fapi_alg(d, "id_token_signing_alg_values_supported", "FAPI2CheckDiscEndpointIdTokenSigningAlgValuesSupported")
    _has_fapi_alg(d, "token_endpoint_auth_signing_alg_values_supported", "FAPI2CheckDiscEndpointTokenEndpointAuthSigningAlgValuesSupported")
    check("S256" in d.get("code_challenge_methods_supported", []), "EnsureServerConfigurationSupportsCodeChallengeMethodS256",
          f"code_challenge_methods_supported {d.get('code_challenge_methods_supported')!r}")
    check(d.get("pushed_authorization_request_endpoint"), "CheckDiscEndpointPARSupported", "no pushed_authorization_request_endpoint")
    scopes = d.get("scopes_supported")
    check(scopes is None or (isinstance(scopes, list) and all(isinstance(s, str) and s for s in scopes)),
          "CheckDiscEndpointScopesSupportedSyntax", f"scopes_supported {scopes!r}")
    check(scopes is None or "openid" in scopes, "CheckDiscEndpointScopesSupportedContainsOpenId", "no openid in scopes_supported")
    if d.get("authorization_response_iss_parameter_supported") is not True:
        ctx.warn("CheckDiscEndpointAuthorizationResponseIssParameterSupported: not true (FAPI2 5.3.2.2-7 needs iss anyway)")
    for k in ctx.jwks.get("keys", []):
        check(k.get("kid"), "CheckForKeyIdInServerJWKs", "a key without kid")
        if k.get("kty") == "RSA":
            import base64
            n = base64.urlsafe_b64decode(k["n"] + "===")
            check(len(n) * 8 >= 2048, "FAPI2FinalEnsureMinimumServerKeyLength", f"RSA key {k.get('kid')} of {len(n) * 8} bits")


def happy_flow(ctx: Ctx, v: FapiVariant):
    """PAR (private_key_jwt, PKCE S256), the authorization endpoint with request_uri, the code at the
    token endpoint with a DPoP proof, a DPoP access token at the resource; then the same for client 2."""
    f = _f(ctx)
    for fc in (v.c1, v.c2):
        f.full(fc)


def user_rejects_authentication(ctx: Ctx, v: FapiVariant):
    """The user refuses on the consent page: access_denied back to the client with the state (128
    characters) and iss; for client 2, whose redirect URI has its own query, those parameters too.
    (prompt=consent: the other modules' consent is remembered, and the refusal is the user's on
    Sesame's consent page, as the suite's tester presses cancel on the OP's screen.)"""
    f = _f(ctx)
    for fc in (v.c1, v.c2):
        run = f.start(fc, state_len=128, extra={"prompt": "consent"})
        f.check_par(run)
        f.redirect(run, consent_button="deny")
        res = run.auth
        check(res.where == "query", "EnsureErrorFromAuthorizationEndpointResponse",
              f"no redirect with an error (the OP showed a page: {res.page.status_code if res.page is not None else ''})")
        check(res.params.get("state") == run.params["state"], "CheckStateInAuthorizationResponse", "state not returned")
        check(res.params.get("error") == "access_denied", "ExpectAccessDeniedErrorFromAuthorizationEndpointDueToUserRejectingRequest",
              f"error {res.params.get('error')!r}")
        check("code" not in res.params, "EnsureErrorFromAuthorizationEndpointResponse", "a code although the user refused")
        f.check_callback_query(run)
        validate_error_fields(res.params, "AuthorizationEndpoint")


def ensure_authorization_request_without_state_success(ctx: Ctx, v: FapiVariant):
    """No state pushed: the flow succeeds and the response has no state."""
    _f(ctx).full(v.c1, state=False)


def ensure_authorization_request_without_nonce_success(ctx: Ctx, v: FapiVariant):
    """No nonce (PKCE protects the code): the flow succeeds; the ID token has no nonce."""
    _f(ctx).full(v.c1, nonce=False)


def ensure_authorization_request_with_64_char_nonce_success(ctx: Ctx, v: FapiVariant):
    """A 64-character nonce: the flow succeeds and the ID token carries it."""
    _f(ctx).full(v.c1, nonce_len=64)


def ensure_other_scope_order_succeeds(ctx: Ctx, v: FapiVariant):
    """scope "email openid": the order does not matter (RFC6749-3.3)."""
    _f(ctx).full(v.c1, scope="email openid")


def test_claims_parameter_identity_claims(ctx: Ctx, v: FapiVariant):
    """The claims parameter asks for every standard claim the OP lists, in the ID token and userinfo
    (plus an unknown one); the flow succeeds and userinfo's claims are well-formed (OIDCC-5.1, 5.5)."""
    if not ctx.disc.get("claims_parameter_supported"):
        raise Skip("claims_parameter_supported is not true")
    supported = [c for c in ctx.disc.get("claims_supported", []) if c in (
        "name", "given_name", "family_name", "email", "email_verified", "address", "phone_number", "locale")]
    want = {c: None for c in supported}
    want["urn:conformance:random-location"] = None
    claims = json.dumps({"id_token": want, "userinfo": want})
    f = _f(ctx)
    run = f.full(v.c1, extra={"claims": claims}, resource=False)
    r = f.resource(run)
    f.check_resource(r, run)
    ct = r.headers.get("content-type", "").split(";")[0]
    check(ct == "application/json", "EnsureContentTypeJson", f"Content-Type {ct!r}")
    from oidcc import validate_standard_claims
    validate_standard_claims(r.json())


def access_token_type_header_case_sensitivity(ctx: Ctx, v: FapiVariant):
    """The resource is called with the scheme in inverted case ("dPoP"): schemes are case-insensitive (RFC9110-11.1)."""
    f = _f(ctx)
    run = f.full(v.c1, resource=False)
    f.check_resource(f.resource(run, scheme="dPoP"), run)


def check_dpop_proof_nbf_exp(ctx: Ctx, v: FapiVariant):
    """Proofs at the token endpoint and the resource carry nbf (now) and exp (+5 min): accepted."""
    now = int(time.time())
    _f(ctx).full(v.c1, proof_kw={"claims": {"nbf": now, "exp": now + 300}})


def _iat_module(offset: int, doc: str):
    def run(ctx: Ctx, v: FapiVariant):
        kw = {"iat_offset": offset}
        _f(ctx).full(v.c1, dpop_at_par=True, par_proof_kw=kw, proof_kw=kw)
    run.__doc__ = doc
    return run


ensure_dpopproof_with_iat_10seconds_before_succeeds = _iat_module(
    -10, "Proofs whose iat is 10 s in the past at PAR, token and resource: accepted (FAPI2-SP-FINAL-5.3.2.1-13).")
ensure_dpopproof_with_iat_10seconds_after_succeeds = _iat_module(
    8, "Proofs whose iat is 8 s in the future (the suite's SetDpopIatTo8SecondsInFuture) at PAR, token and resource: accepted.")


def ensure_mismatched_dpop_jkt_fails(ctx: Ctx, v: FapiVariant):
    """dpop_jkt of one key and a DPoP proof of another at PAR: invalid_request or invalid_dpop_proof (DPOP-10.1)."""
    f = _f(ctx)
    run = f.start(v.c1, dpop_at_par=True, extra={"dpop_jkt": Key().thumbprint})
    f.expect_par_error(run, ("invalid_request", "invalid_dpop_proof"), "EnsurePARInvalidRequestOrInvalidDpopProof")


def _token_dpop_error(r: requests.Response):
    token_error(r, ("invalid_request", "invalid_grant", "invalid_dpop_proof"), "CheckTokenEndpointReturnedInvalidRequestGrantOrDPopProofError")


def ensure_token_endpoint_fails_with_mismatched_dpop_proof_jkt(ctx: Ctx, v: FapiVariant):
    """A proof at PAR binds the code; the token request's proof is of another key: refused (DPOP-10.1)."""
    f = _f(ctx)
    run = f.authorized(v.c1, dpop_at_par=True)
    _token_dpop_error(f.token(run, dpop_key=Key()))


def ensure_token_endpoint_fails_with_mismatched_dpop_jkt(ctx: Ctx, v: FapiVariant):
    """dpop_jkt at PAR names another key than the token request's proof: refused (DPOP-10.1)."""
    f = _f(ctx)
    run = f.authorized(v.c1, extra={"dpop_jkt": Key().thumbprint})
    _token_dpop_error(f.token(run))


def ensure_dpopproof_at_par_endpoint_binding_success(ctx: Ctx, v: FapiVariant):
    """A proof at PAR and one of the same key at the token endpoint: the flow succeeds."""
    _f(ctx).full(v.c1, dpop_at_par=True)


def ensure_dpop_auth_code_binding_success(ctx: Ctx, v: FapiVariant):
    """dpop_jkt and a proof of that key at PAR, the same key at the token endpoint: the flow succeeds."""
    _f(ctx).full(v.c1, dpop_at_par=True, extra={"dpop_jkt": v.c1.dpop.thumbprint})


# ---------------------------------------------------------------- parameters outside the pushed request
def ensure_different_nonce_inside_and_outside_request_object(ctx: Ctx, v: FapiVariant):
    """Another nonce in the authorization URL than the pushed one: invalid_request, an error page, or
    success with the pushed nonce in the ID token (only the pushed parameters count, PAR-4)."""
    f = _f(ctx)
    run = f.start(v.c1)
    f.check_par(run)
    f.redirect(run, extra={"nonce": secrets.token_urlsafe(12)})
    if run.auth.where == "page" or "error" in run.auth.params:
        f.expect_auth_error(run, ("invalid_request",), "EnsureInvalidRequestError")
        return
    f.check_callback(run)
    f.token(run)
    f.check_token(run)  # validates the ID token's nonce against the pushed one


def ensure_different_state_inside_and_outside_request_object(ctx: Ctx, v: FapiVariant):
    """Another state in the authorization URL: an error, or success returning the pushed state."""
    f = _f(ctx)
    run = f.start(v.c1)
    f.check_par(run)
    f.redirect(run, extra={"state": secrets.token_urlsafe(12)})
    if run.auth.where == "page" or "error" in run.auth.params:
        f.expect_auth_error(run, ("invalid_request",), "EnsureInvalidRequestError", state=False)
        return
    f.check_callback(run)
    f.token(run)
    f.check_token(run)


def _long_value_module(kind: str, length: int, doc: str):
    def run(ctx: Ctx, v: FapiVariant):
        f = _f(ctx)
        r = f.start(v.c1, **{f"{kind}_len": length})
        if r.par.status_code != 201:
            f.expect_par_error(r, ("invalid_request",), "EnsurePARInvalidRequestError")
            return
        f.check_par(r)
        f.redirect(r)
        if r.auth.where == "page" or "error" in r.auth.params:
            ctx.warn(f"the OP refused a {length}-character {kind} at the authorization endpoint")
            return
        f.check_callback(r)
        f.token(r)
        f.check_token(r)
    run.__doc__ = doc
    return run


ensure_authorization_request_with_long_nonce = _long_value_module(
    "nonce", 384, "A 384-character nonce: success with the nonce in the ID token, or invalid_request (a warning).")
ensure_authorization_request_with_long_state = _long_value_module(
    "state", 1000, "A 1000-character state: success with the state returned, or invalid_request (a warning).")


def state_only_outside_request_object_not_used(ctx: Ctx, v: FapiVariant):
    """No state pushed, a state in the authorization URL: it must be ignored (no state in the response)."""
    f = _f(ctx)
    run = f.start(v.c1, state=False)
    f.check_par(run)
    f.redirect(run, extra={"state": secrets.token_urlsafe(12)})
    f.check_callback(run, state_expected=False)
    f.token(run)
    f.check_token(run)


def ensure_request_object_without_redirect_uri_fails(ctx: Ctx, v: FapiVariant):
    """The pushed request has no redirect_uri: the PAR endpoint refuses (invalid_request or
    invalid_request_object), or the authorization endpoint shows an error / returns one."""
    f = _f(ctx)
    run = f.start(v.c1, drop=("redirect_uri",))
    if run.par.status_code != 201:
        f.expect_par_error(run, ("invalid_request", "invalid_request_object"), "EnsurePARInvalidRequestOrInvalidRequestObjectError")
        return
    f.check_par(run)
    f.redirect(run)
    f.expect_auth_error(run, ("invalid_request", "invalid_request_object"), "CheckErrorFromAuthorizationEndpointErrorInvalidRequestOrInvalidRequestObject")


def plain_fapi_tolerate_unregistered_redirect_uri(ctx: Ctx, v: FapiVariant):
    """An unregistered redirect_uri pushed by an authenticated client: the OP may accept it (RFC9126-2.4)
    and redirect there, or refuse at PAR (invalid_request / invalid_request_object) or with an error page;
    it must never redirect to the registered URI."""
    f = _f(ctx)
    bad = v.c1.redirect_uri.split("?")[0] + "/" + secrets.token_hex(4)
    run = f.start(v.c1, extra={"redirect_uri": bad})
    if run.par.status_code != 201:
        f.expect_par_error(run, ("invalid_request", "invalid_request_object"), "EnsurePARInvalidRequestOrInvalidRequestObjectError")
        return
    f.check_par(run)
    res = f.redirect(run)
    if res.where == "page":
        f.expect_auth_error(run, (), "ExpectRedirectUriErrorPage")
        return
    check(res.url.startswith(bad), "TolerateUnregisteredRedirectUri", f"the OP redirected to {res.url[:80]}, not the pushed redirect_uri")
    f.check_callback(run)


def ensure_unsigned_authorization_request_without_using_par_fails(ctx: Ctx, v: FapiVariant):
    """Every parameter in the authorization URL, nothing pushed: an error page, or invalid_request
    back to the client (FAPI2 requires PAR)."""
    f = _f(ctx)
    p, verifier = f.params(v.c1)
    run = Run(fc=v.c1, params=p, verifier=verifier)
    f.plain_redirect(run)
    f.expect_auth_error(run, ("invalid_request",), "EnsureInvalidRequestError")


def ensure_redirect_uri_in_authorization_request(ctx: Ctx, v: FapiVariant):
    """No redirect_uri pushed: invalid_request at PAR, an error page, or the one registered URI used."""
    f = _f(ctx)
    run = f.start(v.c1, drop=("redirect_uri",))
    if run.par.status_code != 201:
        f.expect_par_error(run, ("invalid_request", "invalid_request_object"), "EnsurePARInvalidRequestOrInvalidRequestObjectError")
        return
    f.check_par(run)
    f.redirect(run)
    if run.auth.where == "page" or "error" in run.auth.params:
        f.expect_auth_error(run, ("invalid_request",), "ExpectRedirectUriMissingErrorPage")
        return
    f.check_callback(run)
    run.params["redirect_uri"] = v.c1.redirect_uri
    f.token(run)
    f.check_token(run)


def _response_type_module(rt: str, doc: str):
    def run(ctx: Ctx, v: FapiVariant):
        f = _f(ctx)
        r = f.start(v.c1, extra={"response_type": rt})
        if r.par.status_code != 201:
            check(400 <= r.par.status_code < 500, "EnsureHttpStatusCodeIs4xx", f"HTTP {r.par.status_code}")
            if _error(r.par) not in ("unsupported_response_type", "invalid_request", "unauthorized_client"):
                ctx.warn(f"EnsurePARUnsupportedResponseTypeOrInvalidRequestOrUnauthorizedClientError: {_error(r.par)!r}")
            return
        f.check_par(r)
        f.redirect(r)
        check("code" not in r.auth.query and "code" not in r.auth.fragment, "RejectAuthCodeInUrlQuery", "a code was issued")
        f.expect_auth_error(r, ("unsupported_response_type", "invalid_request"), "EnsureUnsupportedResponseTypeOrInvalidRequestError")
    run.__doc__ = doc
    return run


ensure_response_type_code_idtoken_fails = _response_type_module(
    "code id_token", "response_type=code id_token pushed: refused at PAR (4xx) or at the authorization endpoint (FAPI2-SP-FINAL-5.3.2.2-1).")
ensure_response_type_token_fails = _response_type_module(
    "token", "response_type=token pushed: refused at PAR (4xx) or at the authorization endpoint (FAPI2-SP-FINAL-5.3.2.2-1).")


# the token endpoint, resource and PAR modules
from fapi2_token import *  # noqa: E402,F401,F403
