"""The FAPI 2.0 plan's modules at the token endpoint, the resource, and the PAR endpoint (see fapi2.py)."""

from __future__ import annotations

import secrets
import time

import requests

from fapi2_flow import Fapi, FapiVariant, Key, Run, dpop_proof, token_error
from oidcc import Ctx, Fail, Skip, check

INVALID_CLIENT = ("invalid_client",)


def _f(ctx: Ctx) -> Fapi:
    return Fapi(ctx)


def _client_error(r: requests.Response, errors=INVALID_CLIENT, condition="CheckErrorFromTokenEndpointResponseErrorInvalidClient"):
    """CheckTokenEndpointHttpStatusIs400Allowing401ForInvalidClientError and the error code."""
    statuses = (400, 401) if "invalid_client" in errors else (400,)
    token_error(r, errors, condition, statuses)
    from modules import validate_error_fields
    validate_error_fields(r.json(), "TokenEndpoint")


# ---------------------------------------------------------------- token endpoint
def ensure_client_id_in_token_endpoint(ctx: Ctx, v: FapiVariant):
    """The token request names client 2's client_id (with client 1's assertion): invalid_client or invalid_grant."""
    f = _f(ctx)
    run = f.authorized(v.c1)
    f.token(run, extra={"client_id": v.c2.client.client_id})
    _client_error(run.token, ("invalid_client", "invalid_grant"), "CheckErrorFromTokenEndpointResponseErrorInvalidClientOrInvalidGrant")


def ensure_holder_of_key_required(ctx: Ctx, v: FapiVariant):
    """A valid token request without a DPoP proof: 400 invalid_request, invalid_grant or invalid_dpop_proof
    (RFC9449-5, FAPI2-SP-FINAL-5.3.2.1-6). The suite's TLS checks of each endpoint need https; the
    runner serves http on 127.0.0.1, so they are not run (the TLS terminator in front of Sesame owns them)."""
    f = _f(ctx)
    run = f.authorized(v.c1)
    f.token(run, dpop=False)
    token_error(run.token, ("invalid_request", "invalid_grant", "invalid_dpop_proof"), "CheckTokenEndpointReturnedInvalidRequestGrantOrDPopProofError")
    ctx.warn("TLS checks not run (http on 127.0.0.1)")


def ensure_authorization_code_is_bound_to_client(ctx: Ctx, v: FapiVariant):
    """Client 1's code redeemed by client 2 (its own assertion and DPoP key): 400 invalid_grant."""
    f = _f(ctx)
    run = f.authorized(v.c1)
    f.token(run, auth_fc=v.c2, dpop_key=v.c2.dpop)
    token_error(run.token, ("invalid_grant",), "CheckErrorFromTokenEndpointResponseErrorInvalidGrant")


def attempt_reuse_authorization_code_after_one_second(ctx: Ctx, v: FapiVariant):
    """The code redeemed, then again a second later (a new assertion): 400 invalid_grant
    (FAPI2-SP-FINAL-5.3.2.2-9); the access token of the first should be revoked (a warning if not)."""
    f = _f(ctx)
    run = f.authorized(v.c1)
    f.token(run)
    first = f.check_token(run)
    time.sleep(1)
    f.token(run)
    token_error(run.token, ("invalid_grant",), "CheckErrorFromTokenEndpointResponseErrorInvalidGrant")
    r = f.resource(run, token=first["access_token"])
    if not 400 <= r.status_code < 500:
        ctx.warn(f"the first access token still works after the code was reused (HTTP {r.status_code}; RFC6749-4.1.2 SHOULD revoke)")


def ensure_token_endpoint_fails_with_expired_auth_code(ctx: Ctx, v: FapiVariant):
    """The code redeemed for the first time 62 s after it was issued (FAPI2 allows 60 s at most): 400 invalid_grant."""
    f = _f(ctx)
    run = f.authorized(v.c1)
    time.sleep(62)
    f.token(run)
    check(run.token.status_code != 200, "ServerAllowedExpiredAuthorizationCode", "the expired code was accepted (FAPI2-SP-FINAL-5.3.2.1-11)")
    token_error(run.token, ("invalid_grant",), "CheckErrorFromTokenEndpointResponseErrorInvalidGrant")


def _assertion_module(doc: str, **kw):
    def run(ctx: Ctx, v: FapiVariant):
        f = _f(ctx)
        r = f.authorized(v.c1)
        f.token(r, auth_kw=kw)
        _client_error(r.token)
    run.__doc__ = doc
    return run


def ensure_signed_client_assertion_with_RS256_fails(ctx: Ctx, v: FapiVariant):  # noqa: N802 - the suite's name
    """The client assertion signed RS256 with the client's RSA key: invalid_client (FAPI2-SP-FINAL-5.4)."""
    if v.c1.key.alg != "PS256":
        raise Skip("the client's key is not RSA")
    _assertion_module("", alg="RS256")(ctx, v)


def ensure_client_assertion_in_token_endpoint(ctx: Ctx, v: FapiVariant):
    """The token request has client_id but no client assertion: 400/401 invalid_client or invalid_request."""
    f = _f(ctx)
    run = f.authorized(v.c1)
    f.token(run, auth=False, extra={"client_id": v.c1.client.client_id})
    _client_error(run.token, ("invalid_client", "invalid_request"), "CheckErrorFromTokenEndpointResponseErrorInvalidClientOrInvalidRequest")


ensure_client_assertion_with_wrong_aud_fails = _assertion_module(
    "The client assertion's aud is another server: invalid_client.", aud="https://wrong.example.com/")
ensure_client_assertion_with_no_sub_fails = _assertion_module("The client assertion has no sub: invalid_client.", drop=("sub",))


def _expired_assertion(ctx, v):
    now = int(time.time())
    f = _f(ctx)
    r = f.authorized(v.c1)
    f.token(r, auth_kw={"claims": {"iat": now - 360, "nbf": now - 360, "exp": now - 300}})
    _client_error(r.token)


ensure_client_assertion_with_exp_is_5_minutes_in_past_fails = _expired_assertion
_expired_assertion.__doc__ = "The client assertion expired 5 minutes ago (iat and nbf 6 minutes ago): invalid_client."


# ---------------------------------------------------------------- the resource: DPoP negatives
def dpop_negative_tests(ctx: Ctx, v: FapiVariant):
    """The resource (userinfo) with broken proofs (RFC 9449 4.3, 7.1): each must get 400/401; proofs
    the RS must accept (htu with a query, extra members, the host upper-cased, the default port) must
    get 200; a replayed jti "should" fail (a warning); a correct proof still works at the end."""
    f = _f(ctx)
    run = f.full(v.c1, resource=False)
    at = run.token_json["access_token"]
    ep = ctx.disc["userinfo_endpoint"]
    k = run.fc.dpop

    def proof(**kw):
        kw.setdefault("ath_token", at)
        return dpop_proof(k, kw.pop("htm", "GET"), kw.pop("htu", ep), **kw)

    def call(label, headers, expect_ok, must=True):
        h = {"Authorization": f"DPoP {at}"}
        h.update(headers)
        h = {a: b for a, b in h.items() if b is not None}
        r = requests.get(ep, headers=h, timeout=30)
        ok = r.status_code in (200, 201) if expect_ok else r.status_code in (400, 401)
        if not ok:
            msg = f"{label}: HTTP {r.status_code} (expected {'200' if expect_ok else '400/401'})"
            if must:
                raise Fail("EnsureHttpStatusCodeIs200or201" if expect_ok else "EnsureHttpStatusCodeIs400or401", msg)
            ctx.warn(msg)

    private = dict(k.public, **k.private_d)
    scheme, rest = ep.split("://", 1)
    host, _, path = rest.partition("/")
    call("the header name in upper case (DPOP)", {"DPOP": proof()}, True, must=False)
    call("two proofs in the DPoP header", {"DPoP": proof() + ", " + proof()}, False)
    call("a proof that is not a JWT", {"DPoP": "not-a-jwt"}, False)
    call("no typ", {"DPoP": proof(drop=("typ",))}, False)
    call("no alg", {"DPoP": proof(drop=("alg",))}, False)
    call("no jwk", {"DPoP": proof(drop=("jwk",))}, False)
    for claim in ("jti", "htm", "htu", "iat", "ath"):
        call(f"no {claim}", {"DPoP": proof(drop=(claim,))}, False)
    call("typ is not dpop+jwt", {"DPoP": proof(header={"typ": "JWT"})}, False)
    rsa = Key("RSA")
    call("signed RS256", {"DPoP": dpop_proof(rsa, "GET", ep, ath_token=at, alg="RS256")}, False)
    call("alg none", {"DPoP": proof(header={"alg": "none"})}, False)
    call("a bad signature", {"DPoP": proof(bad_signature=True)}, False)
    call("the jwk is the private key", {"DPoP": proof(header={"jwk": private})}, False)
    call("htm PUT", {"DPoP": proof(claims={"htm": "PUT"})}, False)
    call("htu with a query and a fragment", {"DPoP": proof(htu=ep + "?foo=bar#frag")}, True)
    call("htu of another URL", {"DPoP": proof(htu=ep + "x")}, False)
    call("iat an hour ahead", {"DPoP": proof(iat_offset=3600)}, False)
    call("iat an hour ago", {"DPoP": proof(iat_offset=-3600)}, False)
    jti = secrets.token_urlsafe(16)
    call("a proof with a fixed jti, first use", {"DPoP": proof(claims={"jti": jti})}, True)
    call("the same jti again (RFC9449-11.1 'should' be refused)", {"DPoP": proof(claims={"jti": jti})}, False, must=False)
    call("a wrong ath", {"DPoP": proof(claims={"ath": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})}, False)
    call("signed by another key than its jwk", {"DPoP": proof(sign_key=Key())}, False)
    call("extra header members and claims", {"DPoP": proof(header={"x-extra": "1"}, claims={"x-extra": "1"})}, True)
    call("the scheme and host in upper case", {"DPoP": proof(htu=f"{scheme.upper()}://{host.upper()}/{path}")}, True, must=False)
    default_port = f"{scheme}://{host}:{'443' if scheme == 'https' else '80'}/{path}" if ":" not in host else None
    if default_port:
        call("the scheme's default port in htu", {"DPoP": proof(htu=default_port)}, True, must=False)
    call("no proof", {"DPoP": None}, False)
    r = requests.get(ep, headers={"Authorization": f"Bearer {at}"}, timeout=30)
    check(r.status_code in (400, 401), "EnsureHttpStatusCodeIs400or401", f"the DPoP token as a Bearer token: HTTP {r.status_code}")
    call("a correct proof", {"DPoP": proof()}, True)


# ---------------------------------------------------------------- refresh tokens
def refresh_token(ctx: Ctx, v: FapiVariant):
    """A refresh with client authentication and a proof of the same key succeeds (a new refresh token
    or the same one; FAPI 2.0 allows both); without client authentication, or without a proof, it is
    refused; client 2's refresh token is refused to client 1."""
    f = _f(ctx)
    scope = "openid offline_access" if "offline_access" in ctx.disc.get("scopes_supported", []) else "openid"
    run = f.full(v.c1, scope=scope, resource=False)
    rt = run.token_json.get("refresh_token")
    if not rt:
        raise Skip("Refresh tokens cannot be tested. No refresh token was issued.")
    check("refresh_token" in ctx.disc.get("grant_types_supported", ["refresh_token"]), "EnsureServerConfigurationSupportsRefreshToken",
          "grant_types_supported lacks refresh_token")
    data = {"grant_type": "refresh_token", "refresh_token": rt}
    f.token(run, data=data)
    j = f.check_token(run, openid=False)
    rt = j.get("refresh_token") or rt
    f.check_resource(f.resource(run), run)
    f.token(run, data={"grant_type": "refresh_token", "refresh_token": rt}, auth=False)
    token_error(run.token, ("invalid_client", "invalid_grant", "invalid_request"), "CheckTokenEndpointReturnedInvalidClientGrantOrRequestError", (400, 401))
    f.token(run, data={"grant_type": "refresh_token", "refresh_token": rt}, dpop=False)
    token_error(run.token, ("invalid_request", "invalid_grant", "invalid_dpop_proof"), "CheckTokenEndpointReturnedInvalidRequestGrantOrDPopProofError")
    run2 = f.full(v.c2, scope=scope, resource=False)
    rt2 = run2.token_json.get("refresh_token")
    if rt2:
        f.token(run, data={"grant_type": "refresh_token", "refresh_token": rt2})
        token_error(run.token, ("invalid_client", "invalid_grant", "invalid_request"), "CheckTokenEndpointReturnedInvalidClientGrantOrRequestError", (400, 401))
    # the refresh still works afterwards with the proper proof (FAPI2 5.3.2.1 #10: no lost token)
    f.token(run, data={"grant_type": "refresh_token", "refresh_token": rt})
    f.check_token(run, openid=False)


# ---------------------------------------------------------------- PAR
def par_ensure_reused_request_uri_prior_to_auth_completion_succeeds(ctx: Ctx, v: FapiVariant):
    """The authorization endpoint visited with the request_uri (the login page, no action), then again
    and the user signs in: success (one-time use counts at authorization, not at the visit); an
    invalid_request_uri error is a warning."""
    f = _f(ctx)
    run = f.start(v.c1)
    f.check_par(run)
    b = ctx.fresh_browser()
    first = f.redirect(run, login=False, b=b)
    check(first.saw_login, "ExpectLoginPage", "the first visit did not show the login page")
    f.redirect(run, b=b)
    if "error" in run.auth.params:
        ctx.warn("WarningAboutRequestUriError: the second visit was refused")
        check(run.auth.params["error"] == "invalid_request_uri", "EnsureInvalidRequestUriError", run.auth.params["error"])
        return
    f.check_callback(run)
    f.token(run)
    f.check_token(run)


def par_attempt_reuse_request_uri(ctx: Ctx, v: FapiVariant):
    """A completed authorization, then the same request_uri again: invalid_request_uri or an error page
    (PAR-7.3 SHOULD one-time use: a success is a warning)."""
    f = _f(ctx)
    run = f.authorized(v.c1)
    f.redirect(run, b=ctx.fresh_browser())
    if run.auth.where != "page" and "error" not in run.auth.params:
        ctx.warn("the request_uri was accepted a second time (PAR-7.3 SHOULD make it one-time)")
        return
    f.expect_auth_error(run, ("invalid_request_uri",), "EnsureInvalidRequestUriError")


def par_attempt_to_use_expired_request_uri(ctx: Ctx, v: FapiVariant):
    """The request_uri used after its expires_in: invalid_request_uri or an error page (PAR-2.2)."""
    f = _f(ctx)
    run = f.start(v.c1)
    f.check_par(run)
    if run.expires_in > 30 * 60:
        raise Skip("expires_in is over 30 minutes")
    time.sleep(run.expires_in + 2)
    f.redirect(run)
    f.expect_auth_error(run, ("invalid_request_uri",), "EnsureInvalidRequestUriError")


def par_ensure_jwt_client_assertions_nbf_8_seconds_in_the_future_is_accepted(ctx: Ctx, v: FapiVariant):
    """A client assertion at PAR whose iat and nbf are 8 s ahead (clock skew): accepted (FAPI2-SP-FINAL-5.3.2.1-12)."""
    f = _f(ctx)
    run = Run(fc=v.c1, params=f.params(v.c1)[0], verifier=None)
    f.push(run, auth_kw={"iat_offset": 8})
    f.check_par(run)


def par_ensure_jwt_client_assertions_nbf_over_60_seconds_in_the_future_fails(ctx: Ctx, v: FapiVariant):
    """A client assertion at PAR whose iat and nbf are 70 s ahead: invalid_client."""
    f = _f(ctx)
    run = Run(fc=v.c1, params=f.params(v.c1)[0], verifier=None)
    f.push(run, auth_kw={"iat_offset": 70})
    f.expect_par_error(run, INVALID_CLIENT, "EnsurePARInvalidClientError")


def par_attempt_to_use_request_uri_for_different_client(ctx: Ctx, v: FapiVariant):
    """Client 1's request_uri with client_id of client 2: an error page, or invalid_request,
    invalid_request_object or invalid_request_uri (PAR-3)."""
    f = _f(ctx)
    run = f.start(v.c1)
    f.check_par(run)
    f.redirect(run, client_id=v.c2.client.client_id)
    f.expect_auth_error(run, ("invalid_request", "invalid_request_object", "invalid_request_uri"),
                        "EnsureInvalidRequestInvalidRequestObjectOrInvalidRequestUriError", state=False)


def par_authorization_request_containing_request_uri_form_param(ctx: Ctx, v: FapiVariant):
    """A request_uri form parameter in the pushed request: invalid_request, invalid_request_object or
    request_uri_not_supported (PAR-2.1)."""
    f = _f(ctx)
    run = f.start(v.c1, extra={"request_uri": "urn:ietf:params:oauth:request_uri:" + secrets.token_urlsafe(12)})
    f.expect_par_error(run, ("invalid_request", "invalid_request_object", "request_uri_not_supported"),
                       "EnsurePARInvalidRequestOrInvalidRequestObjectOrRequestUriNotSupportedError")


def par_attempt_invalid_http_method(ctx: Ctx, v: FapiVariant):
    """PUT to the PAR endpoint: an HTTP error (405 Method Not Allowed, PAR-2.3)."""
    f = _f(ctx)
    run = Run(fc=v.c1, params=f.params(v.c1)[0], verifier=None)
    r = f.push(run, method="PUT")
    check(r.status_code >= 400, "EnsureParHTTPError", f"HTTP {r.status_code}")
    if r.status_code != 405:
        ctx.warn(f"HTTP {r.status_code}, not 405 (PAR-2.3)")


def par_ensure_pkce_required(ctx: Ctx, v: FapiVariant):
    """No code_challenge pushed: invalid_request at PAR, or at the authorization endpoint (FAPI2-SP-FINAL-5.3.2.2-5)."""
    f = _f(ctx)
    run = f.start(v.c1, pkce=False)
    if run.par.status_code != 201:
        f.expect_par_error(run, ("invalid_request",), "EnsurePARInvalidRequestError")
        return
    f.check_par(run)
    f.redirect(run)
    f.expect_auth_error(run, ("invalid_request",), "EnsureInvalidRequestError")


def par_plain_pkce_rejected(ctx: Ctx, v: FapiVariant):
    """code_challenge_method=plain pushed: invalid_request at PAR, or at the authorization endpoint."""
    f = _f(ctx)
    verifier = secrets.token_urlsafe(48)
    run = f.start(v.c1, pkce=False, extra={"code_challenge": verifier, "code_challenge_method": "plain"})
    if run.par.status_code != 201:
        f.expect_par_error(run, ("invalid_request",), "EnsurePARInvalidRequestError")
        return
    f.check_par(run)
    f.redirect(run)
    f.expect_auth_error(run, ("invalid_request",), "EnsureInvalidRequestError")


def ensure_pkce_code_verifier_required(ctx: Ctx, v: FapiVariant):
    """The token request without code_verifier: 400 invalid_grant or invalid_request (RFC7636-4.6)."""
    f = _f(ctx)
    run = f.authorized(v.c1)
    f.token(run, code_verifier=False)
    token_error(run.token, ("invalid_grant", "invalid_request"), "CheckTokenEndpointReturnedInvalidGrantOrInvalidRequestError")


def incorrect_pkce_code_verifier_rejected(ctx: Ctx, v: FapiVariant):
    """The token request with another code_verifier: 400 invalid_grant (RFC7636-4.6)."""
    f = _f(ctx)
    run = f.authorized(v.c1)
    f.token(run, code_verifier=secrets.token_urlsafe(48))
    token_error(run.token, ("invalid_grant",), "CheckErrorFromTokenEndpointResponseErrorInvalidGrant")


def par_without_duplicate_parameters(ctx: Ctx, v: FapiVariant):
    """The authorization endpoint with only client_id and request_uri: success (PAR-4)."""
    _f(ctx).full(v.c1, redirect_kw={"duplicates": False})


def _par_aud_module(aud_of, doc: str):
    def run(ctx: Ctx, v: FapiVariant):
        f = _f(ctx)
        r = Run(fc=v.c1, params=f.params(v.c1)[0], verifier=None)
        f.push(r, auth_kw={"aud": aud_of(ctx)})
        f.expect_par_error(r, INVALID_CLIENT, "EnsurePARInvalidClientError")
    run.__doc__ = doc
    return run


par_test_array_as_audience_fails = _par_aud_module(
    lambda ctx: [ctx.disc["pushed_authorization_request_endpoint"]],
    "The PAR client assertion's aud is an array with the PAR endpoint: invalid_client (FAPI2-SP-FINAL-5.3.2.1-8: the issuer only).")
par_test_par_endpoint_url_as_audience_fails = _par_aud_module(
    lambda ctx: ctx.disc["pushed_authorization_request_endpoint"],
    "The PAR client assertion's aud is the PAR endpoint URL: invalid_client (FAPI2-SP-FINAL-5.3.2.1-8).")
par_test_token_endpoint_url_as_audience_fails = _par_aud_module(
    lambda ctx: ctx.disc["token_endpoint"],
    "The PAR client assertion's aud is the token endpoint URL: invalid_client (FAPI2-SP-FINAL-5.3.2.1-8).")

__all__ = [n for n in dir() if not n.startswith("_") and callable(globals()[n]) and n[0].islower()
           and n not in ("dpop_proof", "token_error", "check")]
