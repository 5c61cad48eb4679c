"""The test modules of the OP certification plans, by the suite's names.

Each function takes the Ctx and the Variant (response type, response mode,
clients) and raises Fail / Skip / NotApplicable, or returns (warnings are
collected with ctx.warn). What each checks follows the suite's module of
the same name; the docstrings say what that is.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
import time

from urllib.parse import parse_qs, urlparse

import requests

from joserfc.jwk import KeySet

from oidcc import (
    Browser, Ctx, Fail, NotApplicable, Skip, Variant, check, cb_host, page_text, pkce_pair,
    unsigned_request_object,
)

SCOPE_CLAIMS = {
    "profile": ["name", "family_name", "given_name", "middle_name", "nickname", "preferred_username", "profile",
                "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"],
    "email": ["email", "email_verified"],
    "address": ["address"],
    "phone": ["phone_number", "phone_number_verified"],
}


def _userinfo_after(ctx: Ctx, v: Variant, f, how="get"):
    check(f.access_token, "ExtractAccessTokenFromTokenResponse", "no access token to call userinfo with")
    return ctx.check_userinfo(ctx.userinfo(f.access_token, how), f.id_token["sub"] if f.id_token else None)


def oidcc_server(ctx: Ctx, v: Variant):
    """Authorization with state and nonce, the response checked, the ID token(s)
    validated (iss, aud, exp, iat, nonce, sub, signature by kid, c_hash/at_hash),
    the token endpoint and userinfo called (the protected resource)."""
    f = ctx.flow(v)
    if f.access_token:
        _userinfo_after(ctx, v, f)


def oidcc_server_client_secret_post(ctx: Ctx, v: Variant):
    """oidcc-server with client_secret_post at the token endpoint."""
    f = ctx.flow(v, client=v.post_client)
    if f.access_token:
        _userinfo_after(ctx, v, f)


ERROR_CHARS = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")


def validate_error_fields(j: dict, where: str):
    """ValidateErrorFrom…ResponseError / ValidateErrorDescription… (RFC6749-4.1.2.1, 5.2): the characters allowed."""
    check(isinstance(j.get("error"), str) and ERROR_CHARS.fullmatch(j["error"]), f"ValidateErrorFrom{where}ResponseError",
          f"error {j.get('error')!r}")
    if "error_description" in j:
        check(isinstance(j["error_description"], str) and ERROR_CHARS.fullmatch(j["error_description"]),
              f"ValidateErrorDescriptionFrom{where}ResponseError", f"error_description has characters outside RFC6749's set: {j['error_description']!r}")
    if "error_uri" in j:
        check(isinstance(j["error_uri"], str) and j["error_uri"].startswith(("https://", "http://")),
              f"ValidateErrorUriFrom{where}ResponseError", f"error_uri {j['error_uri']!r}")


def _expect_error_or_page(ctx, v, params, errors, *, condition, b=None):
    """An error shown to the user, or sent back to the client with one of `errors`; never a success."""
    b = b or ctx.browser()
    res = ctx.authorize(b, params, login=True)
    if res.where == "fragment" and "response_type" not in params:
        raise Fail(condition, "no response_type was sent, so the error belongs in the query, not the fragment")
    if res.where == "page":
        check(not res.saw_consent, condition, "the OP asked for consent instead of refusing")
        check(res.page is not None and res.page.status_code >= 400 or "error" in res.page.text.lower(), condition,
              f"the OP showed a page that is not an error: {page_text(res.page)}")
        return res
    check("error" in res.params, condition,
          f"the OP returned a successful response ({', '.join(sorted(res.params))}) instead of an error")
    check(res.params["error"] in errors, condition, f"error={res.params['error']} (expected one of {', '.join(errors)})")
    check(res.params.get("state") == params.get("state"), "CheckMatchingStateParameter", "state not returned with the error")
    validate_error_fields(res.params, "AuthorizationEndpoint")
    return res


def oidcc_response_type_missing(ctx: Ctx, v: Variant):
    """No response_type: the OP shows an error or redirects with invalid_request /
    unsupported_response_type (OIDCC-3.1.2.6); no code or token."""
    p = ctx.auth_params(v, v.client, drop=("response_type",))
    _expect_error_or_page(ctx, v, p, ("invalid_request", "unsupported_response_type"),
                          condition="EnsureInvalidRequestOrUnsupportedResponseTypeError")


def oidcc_idtoken_signature(ctx: Ctx, v: Variant):
    """(dynamic_client variant) A client registered without an ID token algorithm gets
    RS256 ID tokens with a kid (OIDCC-3.1.3.7, 10.1); the static_client variant is not applicable."""
    client = ctx.register_dynamic(v)
    f = ctx.flow(v, client=client)
    check(f.id_token["_alg"] == "RS256", "EnsureIdTokenSignatureIsRS256", f"alg {f.id_token['_alg']}")


def oidcc_idtoken_unsigned(ctx: Ctx, v: Variant):
    """An ID token signed with `none`: skipped by the suite unless discovery lists none."""
    if "none" not in ctx.disc.get("id_token_signing_alg_values_supported", []):
        raise Skip("id_token_signing_alg_values_supported has no 'none' (optional; the suite skips)")
    raise NotApplicable("static_client variant")


def oidcc_userinfo_get(ctx: Ctx, v: Variant):
    """Userinfo with GET and a bearer header: 200, JSON, the ID token's sub."""
    if not (v.code or v.token):
        raise NotApplicable("no access token with this response type")
    _userinfo_after(ctx, v, ctx.flow(v), "get")


def oidcc_userinfo_post_header(ctx: Ctx, v: Variant):
    """Userinfo with POST and a bearer header."""
    if not (v.code or v.token):
        raise NotApplicable("no access token with this response type")
    _userinfo_after(ctx, v, ctx.flow(v), "post-header")


def oidcc_userinfo_post_body(ctx: Ctx, v: Variant):
    """Userinfo with POST and access_token in the body (optional: an HTTP error is a warning)."""
    if not (v.code or v.token):
        raise NotApplicable("no access token with this response type")
    f = ctx.flow(v)
    r = ctx.userinfo(f.access_token, "post-body")
    if r.status_code >= 400:
        ctx.warn(f"UserInfoEndpointWithAccessTokenInBodyNotSupported (HTTP {r.status_code})")
        return
    ctx.check_userinfo(r, f.id_token["sub"])


def oidcc_ensure_request_without_nonce_succeeds_for_code_flow(ctx: Ctx, v: Variant):
    """No nonce on a code request (code, code token): the OP still issues a code (OIDCC-3.1.2.1: nonce is optional)."""
    if v.id_token:
        raise NotApplicable("response types with id_token need a nonce")
    p = ctx.auth_params(v, v.client, nonce=False)
    res = ctx.authorize(ctx.browser(), p)
    ctx.check_auth_success(v, res)


def oidcc_ensure_request_without_nonce_fails(ctx: Ctx, v: Variant):
    """No nonce with an implicit/hybrid response type that returns an ID token from the
    authorization endpoint: refused (OIDCC-3.2.2.1, 3.3.2.11)."""
    p = ctx.auth_params(v, v.client, nonce=False)
    _expect_error_or_page(ctx, v, p, ("invalid_request",), condition="EnsureErrorFromAuthorizationEndpointResponse")


def _scope_module(scopes: list[str]):
    def run(ctx: Ctx, v: Variant, reverse=False):
        supported = ctx.disc.get("scopes_supported")
        if supported is not None:
            missing = [s for s in scopes if s not in supported]
            if missing:
                raise Skip(f"scopes_supported lacks {', '.join(missing)}")
        words = ["openid"] + scopes
        f = ctx.flow(v, scope=" ".join(reversed(words) if reverse else words))
        if v.code or v.token:
            got = _userinfo_after(ctx, v, f)
            where = "userinfo"
        else:
            got = f.id_token
            where = "ID token"
        expected = [c for s in scopes for c in SCOPE_CLAIMS[s]]
        if not any(c in got for c in expected):
            ctx.warn(f"VerifyScopesReturnedIn{where.replace(' ', '')}: no claim of {', '.join(scopes)} in the {where}")
    run.__doc__ = f"scope openid {' '.join(scopes)}: the flow succeeds; the scope's claims in userinfo " \
                  "(a warning if none: the user may have none)."
    return run


oidcc_scope_profile = _scope_module(["profile"])
oidcc_scope_email = _scope_module(["email"])
oidcc_scope_address = _scope_module(["address"])
oidcc_scope_phone = _scope_module(["phone"])
oidcc_scope_all = _scope_module(["profile", "email", "address", "phone"])


def oidcc_ensure_other_scope_order_succeeds(ctx: Ctx, v: Variant):
    """oidcc-scope-email with the scope reversed ("email openid"): must succeed (RFC6749-3.3)."""
    oidcc_scope_email(ctx, v, reverse=True)


def _extra_param_module(extra: dict, doc: str):
    def run(ctx: Ctx, v: Variant):
        ctx.flow(v, extra=extra)
    run.__doc__ = doc
    return run


oidcc_display_page = _extra_param_module({"display": "page"}, "display=page: the login page is shown and the flow succeeds.")
oidcc_display_popup = _extra_param_module({"display": "popup"}, "display=popup: the login page is shown and the flow succeeds.")
oidcc_ensure_request_with_unknown_parameter_succeeds = _extra_param_module(
    {"extra": "foobar"}, "An unknown parameter is ignored (OIDCC-3.1.2.1).")
oidcc_ui_locales = _extra_param_module({"ui_locales": "se"}, "ui_locales=se is accepted.")
oidcc_claims_locales = _extra_param_module({"claims_locales": "se"}, "claims_locales=se is accepted.")
oidcc_ensure_request_with_acr_values_succeeds = _extra_param_module(
    {"acr_values": "1 2"}, "acr_values=\"1 2\" (voluntary) is accepted; any acr in the ID token is a string.")


def oidcc_login_hint(ctx: Ctx, v: Variant):
    """login_hint=the user: accepted; the flow succeeds."""
    ctx.flow(v, extra={"login_hint": ctx.username})


def oidcc_prompt_login(ctx: Ctx, v: Variant):
    """Sign in, then again with prompt=login: the login page is shown again and the second
    ID token has the same sub and a later auth_time (OIDCC-3.1.2.1)."""
    b = ctx.browser()
    first = ctx.flow(v, b)
    time.sleep(1.1)
    second = ctx.flow(v, b, extra={"prompt": "login"})
    check(second.auth.saw_login, "ExpectLoginPage", "prompt=login did not show the login page")
    check(second.id_token["sub"] == first.id_token["sub"], "CheckIdTokenSubConsistent", "sub differs")
    if "auth_time" in second.id_token and "auth_time" in first.id_token:
        check(second.id_token["auth_time"] != first.id_token["auth_time"], "CheckIdTokenAuthTimeClaimsDifferIfPresent",
              "auth_time did not change after prompt=login")


def oidcc_prompt_none_not_logged_in(ctx: Ctx, v: Variant):
    """prompt=none with no session: redirected back with login_required (or
    interaction_required, consent_required, account_selection_required), no page shown."""
    # a 128-character state, as the suite sends, to catch an OP that corrupts it in the error response
    p = ctx.auth_params(v, v.client, extra={"prompt": "none", "state": secrets.token_hex(64)})
    res = ctx.authorize(ctx.fresh_browser(), p, login=False)
    check(res.where != "page", "CheckErrorFromAuthorizationEndpointErrorInvalidRequestOrLoginRequired",
          f"the OP showed a page{' (login)' if res.saw_login else ''} instead of redirecting with an error")
    check(res.params.get("error") in ("login_required", "interaction_required", "consent_required",
                                      "account_selection_required"),
          "CheckErrorFromAuthorizationEndpointErrorInvalidRequestOrLoginRequired", f"error={res.params.get('error')!r}")
    check(res.params.get("state") == p["state"], "CheckMatchingStateParameter", "state not returned intact")
    validate_error_fields(res.params, "AuthorizationEndpoint")


def oidcc_prompt_none_logged_in(ctx: Ctx, v: Variant):
    """Sign in, then prompt=none: a successful response without any page, same sub."""
    b = ctx.browser()
    first = ctx.flow(v, b)
    second = ctx.flow(v, b, extra={"prompt": "none"}, login=False)
    check(not second.auth.saw_login, "CheckIfAuthorizationEndpointError", "login page shown with prompt=none")
    check(second.id_token["sub"] == first.id_token["sub"], "CheckIdTokenSubConsistent", "sub differs")


def oidcc_max_age_1(ctx: Ctx, v: Variant):
    """Sign in, wait, then max_age=1: the user must sign in again; auth_time present and later."""
    b = ctx.browser()
    first = ctx.flow(v, b)
    time.sleep(2)
    second = ctx.flow(v, b, extra={"max_age": "1"}, max_age=1)
    check(second.auth.saw_login, "ExpectLoginPage", "max_age=1 after 2 s did not ask the user to sign in again")
    check(second.id_token["auth_time"] > first.id_token.get("auth_time", 0), "CheckSecondIdTokenAuthTimeIsLaterIfPresent",
          "auth_time not later than the first sign-in")
    check(abs(time.time() - second.id_token["auth_time"]) < 60, "CheckIdTokenAuthTimeIsRecentIfPresent",
          f"auth_time {second.id_token['auth_time']} is not recent")


def oidcc_max_age_10000(ctx: Ctx, v: Variant):
    """Sign in, then max_age=10000: no new sign-in needed; auth_time present and unchanged."""
    b = ctx.browser()
    first = ctx.flow(v, b)
    second = ctx.flow(v, b, extra={"max_age": "10000"}, max_age=10000)
    if second.auth.saw_login:
        ctx.warn("the OP asked for a new sign-in although max_age=10000 was satisfied")
    elif "auth_time" in first.id_token:
        check(second.id_token["auth_time"] == first.id_token["auth_time"], "CheckIdTokenAuthTimeIsUnchanged",
              "auth_time changed without a new sign-in")


def oidcc_id_token_hint(ctx: Ctx, v: Variant):
    """Sign in, then prompt=none with id_token_hint = the first ID token: succeeds, same sub."""
    b = ctx.browser()
    first = ctx.flow(v, b)
    raw = first.auth.params.get("id_token") or first.token_response["id_token"]
    second = ctx.flow(v, b, extra={"prompt": "none", "id_token_hint": raw}, login=False)
    check(second.id_token["sub"] == first.id_token["sub"], "CheckIdTokenSubConsistent", "sub differs")


def _code_reuse(ctx: Ctx, v: Variant, wait: float):
    f = ctx.flow(v, ctx.fresh_browser() if wait else None)
    time.sleep(wait)
    r = ctx.token_request(v.client, {"grant_type": "authorization_code", "code": f.auth.params["code"],
                                     "redirect_uri": v.client.redirect_uri})
    check(r.status_code == 400, "CheckTokenEndpointHttpStatus400", f"second use of the code: HTTP {r.status_code}")
    ct = r.headers.get("content-type", "").split(";")[0].strip()
    check(ct == "application/json", "CheckTokenEndpointReturnedJsonContentType", f"Content-Type {ct!r}")
    j = r.json()
    check(j.get("error") == "invalid_grant", "CheckErrorFromTokenEndpointResponseErrorInvalidGrant", f"error={j.get('error')!r}")
    validate_error_fields(j, "TokenEndpoint")
    return f


def oidcc_codereuse(ctx: Ctx, v: Variant):
    """The code used twice: the second token request is invalid_grant (RFC6749-4.1.2)."""
    if not v.code:
        raise NotApplicable("no code")
    _code_reuse(ctx, v, 0)


def oidcc_codereuse_30seconds(ctx: Ctx, v: Variant):
    """The code used again 30 s later: invalid_grant; the access token from the first use
    should be revoked (a warning if it still works)."""
    if not v.code:
        raise NotApplicable("no code")
    f = _code_reuse(ctx, v, 30)
    r = ctx.userinfo(f.access_token)
    if r.status_code == 200:
        ctx.warn("CallProtectedResourceWithBearerTokenExpectingError: the first access token still works after the code was reused")


def oidcc_ensure_registered_redirect_uri(ctx: Ctx, v: Variant):
    """An unregistered redirect_uri: the OP shows an error and never redirects to it (OIDCC-3.1.2.1)."""
    bad = f"{cb_host(v.client.redirect_uri)}/not-registered-{secrets.token_hex(4)}"
    p = ctx.auth_params(v, v.client, extra={"redirect_uri": bad})
    b = ctx.browser()
    res = ctx.authorize(b, p, login=True, redirect_prefix=cb_host(bad))
    check(res.where == "page", "ExpectRedirectUriErrorPage", f"the OP redirected to the unregistered URI ({res.where})")
    check(not res.saw_consent, "ExpectRedirectUriErrorPage", "the OP asked for consent for an unregistered redirect URI")
    check(not res.saw_login, "ExpectRedirectUriErrorPage", "the OP showed the login page before refusing the redirect URI")


def oidcc_ensure_post_request_succeeds(ctx: Ctx, v: Variant):
    """The authorization request sent as a form POST (OIDCC-3.1.2.1: GET and POST)."""
    ctx.flow(v, method="POST")


def _request_object_flow(ctx: Ctx, v: Variant, *, by_reference: bool, bad_query_redirect=False):
    client = v.client
    p = ctx.auth_params(v, client)
    obj = unsigned_request_object(ctx, client, p)
    q = {"client_id": client.client_id, "response_type": v.response_type, "scope": p["scope"]}
    if v.response_mode == "form_post":
        q["response_mode"] = "form_post"
    if bad_query_redirect:
        q["redirect_uri"] = f"{cb_host(client.redirect_uri)}/invalid-{secrets.token_hex(4)}"
    if by_reference:
        if not ctx.disc.get("request_uri_parameter_supported", True):
            raise Skip("request_uri_parameter_supported is false")
        ctx.request_objects[client.request_uri] = obj
        q["request_uri"] = client.request_uri
    else:
        if not ctx.disc.get("request_parameter_supported", False):
            raise Skip("request_parameter_supported is false")
        q["request"] = obj
    res = ctx.authorize(ctx.browser(), q, sent=p, redirect_prefix=cb_host(client.redirect_uri))
    if res.params.get("error") in ("request_not_supported", "request_uri_not_supported"):
        raise Skip(f"the OP answered {res.params['error']}")
    if bad_query_redirect:
        check(res.where != "page" and res.url.startswith(client.redirect_uri) if res.where in ("query", "fragment")
              else res.where != "page", "EnsureRedirectUriFromRequestObject",
              f"the OP did not redirect to the request object's redirect_uri ({res.where}: {page_text(res.page)})")
    ctx.check_auth_success(v, res)
    # and the rest of the flow: ID tokens and the token request
    nonce = p["nonce"]
    if v.id_token:
        ctx.validate_id_token(res.params["id_token"], client, nonce=nonce, where="authorization endpoint")
    if v.code:
        r = ctx.token_request(client, {"grant_type": "authorization_code", "code": res.params["code"],
                                       "redirect_uri": client.redirect_uri})
        j = ctx.check_token_response(r)
        ctx.validate_id_token(j["id_token"], client, nonce=nonce)
    return res


def oidcc_request_uri_unsigned_supported_correctly_or_rejected_as_unsupported(ctx: Ctx, v: Variant):
    """An unsigned request object by reference (request_uri): processed correctly, or
    request_uri_not_supported (skipped)."""
    _request_object_flow(ctx, v, by_reference=True)


def oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported(ctx: Ctx, v: Variant):
    """An unsigned request object by value: processed correctly, or request_not_supported (skipped)."""
    if "none" not in ctx.disc.get("request_object_signing_alg_values_supported", []):
        raise Skip("request_object_signing_alg_values_supported lacks none")
    _request_object_flow(ctx, v, by_reference=False)


def oidcc_ensure_request_object_with_redirect_uri(ctx: Ctx, v: Variant):
    """The request object's redirect_uri wins over a different one in the query (OIDCC-6.1)."""
    if "none" not in ctx.disc.get("request_object_signing_alg_values_supported", []):
        raise Skip("request_object_signing_alg_values_supported lacks none")
    _request_object_flow(ctx, v, by_reference=False, bad_query_redirect=True)


def oidcc_claims_essential(ctx: Ctx, v: Variant):
    """claims={"userinfo":{"name":{"essential":true}}} with scope openid: name in userinfo
    (a warning if not, as the suite has it); for id_token-only, asked of the ID token."""
    if v.code or v.token:
        claims = {"userinfo": {"name": {"essential": True}}}
    else:
        claims = {"id_token": {"name": {"essential": True}}}
    if not ctx.disc.get("claims_parameter_supported"):
        ctx.warn("claims_parameter_supported is not true")
    f = ctx.flow(v, extra={"claims": json.dumps(claims)})
    got = _userinfo_after(ctx, v, f) if (v.code or v.token) else f.id_token
    if "name" not in got:
        ctx.warn("EnsureUserInfoContainsName: name not returned" if (v.code or v.token) else "EnsureIdTokenContainsName: name not in the ID token")
    elif (v.code or v.token) and "name" in (f.id_token or {}):
        ctx.warn("EnsureIdTokenDoesNotContainName: name asked for userinfo only, also in the ID token")


def oidcc_refresh_token(ctx: Ctx, v: Variant):
    """A refresh token (scope offline_access, prompt=consent) is refreshed: a new access token,
    an ID token with the same iss/sub/aud and auth_time; client 2's refresh token is refused
    when client 1 presents it (invalid_grant)."""
    if not v.code:
        raise NotApplicable("no code")
    scope = "openid offline_access" if "offline_access" in ctx.disc.get("scopes_supported", []) else "openid"
    extra = {"prompt": "consent"} if "offline_access" in scope else {}
    b = ctx.browser()
    tokens = {}
    for client in (v.client, v.client2):
        f = ctx.flow(v, b, client=client, scope=scope, extra=extra)
        if not f.refresh_token:
            raise Skip("no refresh token was issued")
        check("refresh_token" in ctx.disc.get("grant_types_supported", []), "EnsureServerConfigurationSupportsRefreshToken",
              "grant_types_supported lacks refresh_token")
        r = ctx.token_request(client, {"grant_type": "refresh_token", "refresh_token": f.refresh_token})
        j = ctx.check_token_response(r, want_id_token=False)
        if "id_token" in j:
            c = ctx.validate_id_token(j["id_token"], client)
            for k in ("iss", "sub", "aud"):
                check(c.get(k) == f.id_token.get(k), "ValidateRefreshedIdToken", f"{k} changed on refresh (OIDCC-12.2)")
            if "auth_time" in f.id_token:
                check(c.get("auth_time") == f.id_token["auth_time"], "ValidateRefreshedIdToken", "auth_time changed on refresh")
        ctx.check_userinfo(ctx.userinfo(j["access_token"]), f.id_token["sub"])
        tokens[client.client_id] = j.get("refresh_token") or f.refresh_token
    r = ctx.token_request(v.client, {"grant_type": "refresh_token", "refresh_token": tokens[v.client2.client_id]})
    check(r.status_code in (400, 401), "RefreshTokenRequestExpectingError",
          f"client 2's refresh token used by client 1: HTTP {r.status_code}")
    err = r.json().get("error")
    check(err in ("invalid_grant", "invalid_client"), "CheckTokenEndpointReturnedInvalidGrant", f"error={err!r}")


def oidcc_ensure_request_with_valid_pkce_succeeds(ctx: Ctx, v: Variant):
    """code_challenge (S256) and the verifier at the token endpoint: succeeds (RFC7636)."""
    if not v.code:
        raise NotApplicable("no code")
    verifier, challenge = pkce_pair()
    ctx.flow(v, extra={"code_challenge": challenge, "code_challenge_method": "S256"}, pkce_verifier=verifier)


# ---------------------------------------------------------------- Config plan
def oidcc_discovery_endpoint_verification(ctx: Ctx, v):
    """The discovery document: 200 JSON, issuer (= the URL it was fetched from), endpoints,
    jwks_uri and valid public keys, response/subject/grant types, ID token algs (RS256),
    scopes with openid, claims_supported, code_challenge_methods_supported an array."""
    d = ctx.disc
    r = ctx.disc_response
    check(r.status_code == 200, "EnsureDiscoveryEndpointResponseStatusCodeIs200", f"HTTP {r.status_code}")
    ct = r.headers.get("content-type", "").split(";")[0].strip()
    check(ct == "application/json", "CheckDiscoveryEndpointReturnedJsonContentType", ct)
    rts = d.get("response_types_supported", [])
    for rt in ("code", "id_token", "id_token token"):
        check(rt in rts, "OIDCCCheckDiscEndpointResponseTypesSupported", f"response_types_supported lacks {rt!r} (OIDCD-3)")
    check(d.get("issuer") == ctx.issuer, "CheckDiscEndpointIssuer", f"issuer {d.get('issuer')!r}")
    check(d["issuer"].startswith(("https://", "http://")) and "?" not in d["issuer"] and "#" not in d["issuer"],
          "CheckDiscEndpointIssuerIsValidUrl", d["issuer"])
    st = d.get("subject_types_supported")
    check(isinstance(st, list) and st and set(st) <= {"public", "pairwise"}, "CheckDiscEndpointSubjectTypesSupported", repr(st))
    algs = d.get("id_token_signing_alg_values_supported", [])
    check("RS256" in algs, "OIDCCCheckDiscEndpointIdTokenSigningAlgValuesSupported", f"no RS256 in {algs}")
    if "userinfo_signing_alg_values_supported" in d:
        check(isinstance(d["userinfo_signing_alg_values_supported"], list),
              "OIDCCCheckDiscEndpointUserinfoSigningAlgValuesSupported", "not an array")
    scheme = ctx.issuer.split(":")[0] + "://"
    for k in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "registration_endpoint", "jwks_uri"):
        if k in d:
            check(isinstance(d[k], str) and d[k].startswith(scheme), f"CheckDiscEndpoint{k.title().replace('_', '')}", d.get(k))
    check("jwks_uri" in d, "CheckJwksUri", "no jwks_uri")
    keys = ctx.jwks.get("keys")
    check(isinstance(keys, list) and keys, "ValidateServerJWKs", "no keys")
    for k in keys:
        check(k.get("kty") in ("RSA", "EC", "OKP"), "EnsureServerJwksDoesNotContainPrivateOrSymmetricKeys", f"kty {k.get('kty')}")
        check(not ({"d", "p", "q", "dp", "dq", "qi", "k"} & k.keys()), "EnsureServerJwksDoesNotContainPrivateOrSymmetricKeys",
              f"private members in key {k.get('kid')}")
        check(k.get("kid"), "CheckForKeyIdInServerJWKs", "a key without kid")
    if "request_object_signing_alg_values_supported" in d and "RS256" not in d["request_object_signing_alg_values_supported"]:
        ctx.warn("CheckDiscEndpointRequestObjectSigningAlgValuesSupportedIncludesRS256")
    if "claims_supported" not in d:
        ctx.warn("OIDCCCheckDiscEndpointClaimsSupported: no claims_supported")
    gts = d.get("grant_types_supported", ["authorization_code", "implicit"])
    check("authorization_code" in gts, "OIDCCCheckDiscEndpointGrantTypesSupported", repr(gts))
    if "scopes_supported" in d:
        check("openid" in d["scopes_supported"], "CheckDiscEndpointScopesSupportedContainsOpenId", repr(d["scopes_supported"]))
        for s in d["scopes_supported"]:
            check(isinstance(s, str) and s and all(0x21 <= ord(ch) <= 0x7e and ch not in '"\\' for ch in s),
                  "CheckDiscEndpointScopesSupportedSyntax", repr(s))
    else:
        ctx.warn("CheckDiscEndpointScopesSupportedContainsOpenId: no scopes_supported")
    for k in ("ui_locales_supported", "claims_locales_supported"):
        if k in d:
            check(isinstance(d[k], list), "CheckDiscEndpointLocalesSyntax", k)
    if ctx.issuer.startswith("https://"):
        bad = [k for k, val in d.items() if isinstance(val, str) and k.endswith(("_endpoint", "_uri")) and not val.startswith("https://")]
        check(not bad, "CheckDiscEndpointAllEndpointsAreHttps", ", ".join(bad))
    else:
        ctx.warn("CheckDiscEndpointAllEndpointsAreHttps not applied: the runner's issuer is http://127.0.0.1 (every endpoint has the issuer's scheme)")
    if "code_challenge_methods_supported" in d:
        check(isinstance(d["code_challenge_methods_supported"], list), "EnsureServerConfigurationCodeChallengeMethodsSupportedIsAnArray", "")


# ---------------------------------------------------------------- RP-Initiated Logout plan
def oidcc_rp_initiated_logout_discovery_endpoint_verification(ctx: Ctx, v):
    """end_session_endpoint in discovery, with the issuer's scheme (OIDCRIL-2.1)."""
    ep = ctx.disc.get("end_session_endpoint")
    check(isinstance(ep, str) and ep.startswith(ctx.issuer.split(":")[0] + "://"), "CheckDiscEndSessionEndpoint", repr(ep))


def _signed_in(ctx: Ctx, v: Variant):
    b = ctx.fresh_browser()
    f = ctx.flow(v, b, extra={"state": secrets.token_hex(64)})
    raw = f.auth.params.get("id_token") or f.token_response["id_token"]
    return b, f, raw


def _logout_params(v: Variant, raw: str, drop=()):
    p = {"id_token_hint": raw, "post_logout_redirect_uri": v.client.post_logout_redirect_uri,
         "state": secrets.token_urlsafe(16)}
    for k in drop:
        p.pop(k, None)
    return p


def _expect_logged_out(ctx: Ctx, v: Variant, b):
    """The prompt=none request after logout: an error needing a user interface (OIDCC-3.1.2.6)."""
    p = ctx.auth_params(v, v.client, extra={"prompt": "none", "state": secrets.token_hex(64)})
    res = ctx.authorize(b, p, login=False)
    check(res.where != "page", "CheckErrorFromAuthorizationEndpointIsOneThatRequiredAUserInterface",
          f"prompt=none after logout showed a page{' (login)' if res.saw_login else ''}")
    check(res.params.get("error") in ("login_required", "interaction_required", "consent_required",
                                      "account_selection_required"),
          "CheckErrorFromAuthorizationEndpointIsOneThatRequiredAUserInterface",
          f"prompt=none after logout: {res.params.get('error') or 'a successful response (still signed in)'}")


def _logout_redirect_module(drop=()):
    def run(ctx: Ctx, v: Variant):
        b, f, raw = _signed_in(ctx, v)
        p = _logout_params(v, raw, drop)
        kind, where, _confirmed = ctx.end_session(b, p)
        if kind != "redirect" or where.split("?")[0] != v.client.post_logout_redirect_uri:
            raise Fail("CheckPostLogoutRedirect", "no redirect to the post_logout_redirect_uri "
                       f"({kind}: {where.split('?')[0] if kind == 'redirect' else page_text(where)})")
        q = {k: x[0] for k, x in parse_qs(urlparse(where).query).items()}
        check(q.get("state") == p.get("state"), "CheckPostLogoutState", f"state {q.get('state')!r} (sent {p.get('state')!r})")
        extra = set(q) - {"state"}
        if extra:
            ctx.warn(f"CheckForUnexpectedParametersInPostLogoutRedirect: {', '.join(sorted(extra))}")
        _expect_logged_out(ctx, v, b)
    return run


oidcc_rp_initiated_logout = _logout_redirect_module()
oidcc_rp_initiated_logout.__doc__ = """Sign in, end_session with id_token_hint, post_logout_redirect_uri and
state: back at the post_logout_redirect_uri with the state; then prompt=none is login_required."""
oidcc_rp_initiated_logout_no_state = _logout_redirect_module(drop=("state",))
oidcc_rp_initiated_logout_no_state.__doc__ = """As oidcc-rp-initiated-logout without state: redirected back with no state."""


def _logout_page_module(mutate, condition, doc, logged_out=False):
    def run(ctx: Ctx, v: Variant):
        b, f, raw = _signed_in(ctx, v)
        p = mutate(v, raw)
        kind, where, confirmed = ctx.end_session(b, p)
        if kind == "redirect":
            raise Fail(condition, f"the OP redirected to {where.split('?')[0]}{' after the user confirmed' if confirmed else ''}")
        check(where.status_code < 500, condition, f"HTTP {where.status_code}")
        if logged_out:
            _expect_logged_out(ctx, v, b)
    run.__doc__ = doc
    return run


def _alg_none(raw: str) -> str:
    payload = raw.split(".")[1]
    return base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode() + "." + payload + "."


oidcc_rp_initiated_logout_bad_logout_redirect_uri = _logout_page_module(
    lambda v, raw: {**_logout_params(v, raw), "post_logout_redirect_uri": v.client.post_logout_redirect_uri + "-not-registered"},
    "ExpectPostLogoutRedirectUriNotRegisteredErrorPage",
    "An unregistered post_logout_redirect_uri: an error page (or a confirmation), never a redirect there.")
oidcc_rp_initiated_logout_modified_id_token_hint = _logout_page_module(
    lambda v, raw: {**_logout_params(v, raw), "id_token_hint": _alg_none(raw)},
    "ExpectInvalidIdTokenHintErrorPage",
    "id_token_hint changed to alg none: an error page (or a confirmation), never a redirect back.")
oidcc_rp_initiated_logout_no_id_token_hint = _logout_page_module(
    lambda v, raw: _logout_params(v, raw, drop=("id_token_hint",)),
    "ExpectIdTokenHintRequiredErrorPage",
    "post_logout_redirect_uri without id_token_hint: an error page or a confirmation, never a redirect back.")
oidcc_rp_initiated_logout_no_params = _logout_page_module(
    lambda v, raw: {}, "ExpectSuccessfulLogoutPage",
    "No parameters: the OP logs the user out (after a confirmation) and shows a page; then prompt=none is login_required.",
    logged_out=True)
oidcc_rp_initiated_logout_no_post_logout_redirect_uri = _logout_page_module(
    lambda v, raw: _logout_params(v, raw, drop=("post_logout_redirect_uri",)), "ExpectSuccessfulLogoutPage",
    "id_token_hint and state only: the user is logged out and sees a page; then prompt=none is login_required.",
    logged_out=True)
oidcc_rp_initiated_logout_only_state = _logout_page_module(
    lambda v, raw: {"state": secrets.token_urlsafe(16)}, "ExpectSuccessfulLogoutPage",
    "state only: the user is logged out (after a confirmation) and sees a page; then prompt=none is login_required.",
    logged_out=True)


# ---------------------------------------------------------------- Back-Channel Logout plan
BCL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def oidcc_backchannel_logout_discovery_endpoint_verification(ctx: Ctx, v):
    """backchannel_logout_supported true; backchannel_logout_session_supported a boolean if present (OIDCBCL-2.1)."""
    d = ctx.disc
    check(d.get("backchannel_logout_supported") is True, "CheckDiscBackchannelLogoutSupported",
          f"backchannel_logout_supported {d.get('backchannel_logout_supported')!r}")
    if "backchannel_logout_session_supported" in d:
        check(isinstance(d["backchannel_logout_session_supported"], bool), "CheckDiscBackchannelLogoutSessionSupported",
              repr(d["backchannel_logout_session_supported"]))


def oidcc_backchannel_rp_initiated_logout(ctx: Ctx, v: Variant):
    """Sign in, RP-initiated logout: the OP POSTs a logout token to the client's
    backchannel_logout_uri (form-encoded logout_token only; signed by the OP; iss, aud, iat, jti,
    the back-channel event, sub and/or sid matching the ID token, no nonce) and redirects to the
    post_logout_redirect_uri with the state; prompt=none is then login_required."""
    from joserfc import jwt as _jwt
    check(v.client.backchannel_logout_uri, "CreateBackchannelLogoutUri", "the client has no backchannel_logout_uri")
    path = urlparse(v.client.backchannel_logout_uri).path
    b, f, raw = _signed_in(ctx, v)
    idt = f.id_token
    started = time.time()
    p = _logout_params(v, raw)
    kind, where, _confirmed = ctx.end_session(b, p)
    if kind != "redirect" or where.split("?")[0] != v.client.post_logout_redirect_uri:
        raise Fail("CheckPostLogoutRedirect", "no redirect to the post_logout_redirect_uri "
                   f"({kind}: {where.split('?')[0] if kind == 'redirect' else page_text(where)})")
    q = {k: x[0] for k, x in parse_qs(urlparse(where).query).items()}
    check(q.get("state") == p["state"], "CheckPostLogoutState", f"state {q.get('state')!r}")

    def mine(req):
        form = {k: x[0] for k, x in parse_qs(req["body"]).items()}
        tok = form.get("logout_token")
        if not tok or req["at"] < started - 1:
            return None
        try:
            c = json.loads(base64.urlsafe_b64decode(tok.split(".")[1] + "==="))
        except Exception:  # noqa: BLE001
            return None
        if idt.get("sid") and c.get("sid") == idt["sid"]:
            return form, c
        if not idt.get("sid") and c.get("sub") == idt["sub"]:
            return form, c
        return None

    got = None
    for _ in range(100):  # the OP may send it after the redirect; wait up to 10 s
        for req in list(ctx.received.get(path, [])):
            got = mine(req)
            if got:
                got = (req, *got)
                break
        if got:
            break
        time.sleep(0.1)
    check(got, "ExtractLogoutTokenFromBackchannelLogoutRequest", "no logout token for this session reached the backchannel_logout_uri"
          f" ({sum(len(x) for x in ctx.received.values())} back-channel requests in all; ID token sid {idt.get('sid')!r})")
    req, form, _ = got
    check(req["content_type"].split(";")[0].strip() == "application/x-www-form-urlencoded",
          "ExtractLogoutTokenFromBackchannelLogoutRequest", f"Content-Type {req['content_type']!r} (OIDCBCL-2.5)")
    extra = set(form) - {"logout_token"}
    if extra:
        ctx.warn(f"CheckForUnexpectedParametersInBackchannelLogoutRequest: {', '.join(sorted(extra))}")
    tok = form["logout_token"]
    header = json.loads(base64.urlsafe_b64decode(tok.split(".")[0] + "==="))
    try:
        c = _jwt.decode(tok, ctx.keyset, algorithms=[header.get("alg")]).claims
    except Exception as e:  # noqa: BLE001
        raise Fail("ValidateLogoutTokenSignature", f"does not verify with the OP's keys: {e}") from e
    check(header.get("alg") != "none", "ValidateLogoutTokenSignature", "alg none")
    if header.get("typ") != "logout+jwt":
        ctx.warn(f"logout token typ {header.get('typ')!r} (logout+jwt is recommended, OIDCBCL-2.4)")
    check(c.get("iss") == ctx.issuer, "ValidateLogoutTokenClaims", f"iss {c.get('iss')!r}")
    aud = c.get("aud")
    check(v.client.client_id in (aud if isinstance(aud, list) else [aud]), "ValidateLogoutTokenClaims", f"aud {aud!r}")
    check(isinstance(c.get("iat"), (int, float)) and abs(time.time() - c["iat"]) < 300, "ValidateLogoutTokenClaims", f"iat {c.get('iat')!r}")
    check(isinstance(c.get("jti"), str) and c["jti"], "ValidateLogoutTokenClaims", "no jti")
    ev = c.get("events")
    check(isinstance(ev, dict) and isinstance(ev.get(BCL_EVENT), dict), "ValidateLogoutTokenClaims", f"events {ev!r}")
    check("nonce" not in c, "CheckLogoutTokenNoNonce", "a nonce in the logout token")
    check("sub" in c or "sid" in c, "CheckLogoutTokenHasSubOrSid", "neither sub nor sid")
    if "sub" in c:
        check(c["sub"] == idt["sub"], "CheckIdTokenSubMatchesLogoutToken", "sub differs from the ID token's")
    if "sid" in c:
        check(c["sid"] == idt.get("sid"), "CheckIdTokenSidMatchesLogoutToken", "sid differs from the ID token's")
    _expect_logged_out(ctx, v, b)


# ---------------------------------------------------------------- Dynamic plan (dynamic_client, private_key_jwt)
def _dyn(ctx: Ctx, v: Variant, extra=None, **kw):
    c, r = ctx.register(v, extra, **kw)
    check(c is not None, "CallDynamicRegistrationEndpointAndVerifySuccessfulResponse", f"HTTP {r.status_code}: {r.text[:240]}")
    return c, r.json()


def _host(ctx: Ctx) -> str:
    return ctx.host


def dyn_oidcc_server(ctx: Ctx, v: Variant):
    """Register (private_key_jwt, jwks inline), then oidcc-server's flow with a client assertion."""
    c, _ = _dyn(ctx, v)
    f = ctx.flow(v, client=c)
    _userinfo_after(ctx, v, f)


def dyn_oidcc_idtoken_rs256(ctx: Ctx, v: Variant):
    """id_token_signed_response_alg RS256 registered: RS256 ID tokens."""
    if "RS256" not in ctx.disc.get("id_token_signing_alg_values_supported", []):
        raise Skip("RS256 not in id_token_signing_alg_values_supported")
    c, _ = _dyn(ctx, v, {"id_token_signed_response_alg": "RS256"})
    c.id_token_alg = "RS256"
    ctx.flow(v, client=c)


def dyn_oidcc_idtoken_unsigned(ctx: Ctx, v: Variant):
    """id_token_signed_response_alg none: skipped unless discovery lists none."""
    if "none" not in ctx.disc.get("id_token_signing_alg_values_supported", []):
        raise Skip("id_token_signing_alg_values_supported has no 'none' (optional; the suite skips)")
    raise Skip("alg none ID tokens are not checked by this runner")


def dyn_oidcc_userinfo_rs256(ctx: Ctx, v: Variant):
    """userinfo_signed_response_alg RS256: userinfo is a JWT (application/jwt) signed by the OP, iss/aud/sub right."""
    if "RS256" not in ctx.disc.get("userinfo_signing_alg_values_supported", []):
        raise Skip("userinfo_signing_alg_values_supported lacks RS256")
    c, _ = _dyn(ctx, v, {"userinfo_signed_response_alg": "RS256"})
    f = ctx.flow(v, client=c)
    r = ctx.userinfo(f.access_token)
    check(r.status_code == 200, "CallUserInfoEndpointWithBearerToken", f"HTTP {r.status_code}")
    ct = r.headers.get("content-type", "").split(";")[0].strip()
    check(ct == "application/jwt", "EnsureUserInfoContentTypeIsJwt", f"Content-Type {ct!r}")
    from joserfc import jwt as _jwt
    try:
        tok = _jwt.decode(r.text.strip(), ctx.keyset, algorithms=["RS256"])
    except Exception as e:  # noqa: BLE001
        raise Fail("ValidateUserInfoResponseSignature", str(e)) from e
    check(tok.header.get("alg") == "RS256", "ValidateUserInfoResponseSignature", f"alg {tok.header.get('alg')}")
    u = tok.claims
    check(u.get("sub") == f.id_token["sub"], "VerifyUserInfoAndIdTokenInTokenEndpointSameSub", "sub differs")
    check(u.get("iss") == ctx.issuer, "ValidateUserInfoJwtClaims", f"iss {u.get('iss')!r}")
    aud = u.get("aud")
    check(c.client_id in (aud if isinstance(aud, list) else [aud]), "ValidateUserInfoJwtClaims", f"aud {aud!r}")


def dyn_oidcc_ensure_redirect_uri_in_authorization_request(ctx: Ctx, v: Variant):
    """No redirect_uri in the request (OIDCC-3.1.2.1 requires it): an error page, or an error
    (invalid_request / invalid_request_object) sent back with the state; never a success."""
    c, _ = _dyn(ctx, v)
    p = ctx.auth_params(v, c, drop=("redirect_uri",))
    res = ctx.authorize(ctx.browser(), p, redirect_prefix=cb_host(c.redirect_uri))
    if res.where == "page":
        return
    check("error" in res.params, "EnsureErrorFromAuthorizationEndpointResponse",
          f"a successful response ({', '.join(sorted(res.params))}) although redirect_uri was missing")
    check(res.params.get("state") == p["state"], "CheckStateInAuthorizationResponse", "state not returned")
    check(res.params["error"] in ("invalid_request", "invalid_request_object"),
          "CheckErrorFromAuthorizationEndpointErrorInvalidRequestOrInvalidRequestObject", f"error={res.params['error']!r}")


def dyn_oidcc_redirect_uri_query_ok(ctx: Ctx, v: Variant):
    """A redirect URI registered with a query (?foo=bar), used as registered: succeeds, the query kept."""
    uri = v.client.redirect_uri + "?foo=bar"
    c, _ = _dyn(ctx, v, redirect_uri=uri)
    f = ctx.flow(v, client=c)
    check(f.auth.query.get("foo") == "bar", "CheckRedirectUriQueryKept", "the registered query was not kept")


def _redirect_mismatch(ctx, v, registered, sent, condition):
    c, _ = _dyn(ctx, v, redirect_uri=registered)
    p = ctx.auth_params(v, c, extra={"redirect_uri": sent})
    res = ctx.authorize(ctx.browser(), p, redirect_prefix=cb_host(sent))
    check(res.where == "page", condition, f"the OP redirected to {sent} ({', '.join(sorted(res.params))})")


def dyn_oidcc_redirect_uri_query_mismatch(ctx: Ctx, v: Variant):
    """Registered ?foo=bar, sent ?foo=zot: an error page (redirect URIs match exactly)."""
    _redirect_mismatch(ctx, v, v.client.redirect_uri + "?foo=bar", v.client.redirect_uri + "?foo=zot", "ExpectRedirectUriErrorPage")


def dyn_oidcc_redirect_uri_query_added(ctx: Ctx, v: Variant):
    """Registered without a query, sent with ?foo=bar: an error page."""
    _redirect_mismatch(ctx, v, v.client.redirect_uri, v.client.redirect_uri + "?foo=bar", "ExpectRedirectUriErrorPage")


def dyn_oidcc_redirect_uri_regfrag(ctx: Ctx, v: Variant):
    """A redirect URI with a fragment is refused at registration (OIDCR-2: invalid_redirect_uri or invalid_client_metadata)."""
    c, r = ctx.register(v, redirect_uri=v.client.redirect_uri + "#foo")
    check(c is None and r.status_code == 400, "CheckRegistrationRejected", f"registered: HTTP {r.status_code}")
    err = r.json().get("error")
    check(err in ("invalid_redirect_uri", "invalid_client_metadata"), "CheckErrorFromDynamicRegistrationEndpointIsInvalidRedirectUriOrInvalidClientMetadata",
          f"error={err!r}")


def dyn_oidcc_discovery_endpoint_verification(ctx: Ctx, v):
    """The Config plan's checks, with the dynamic variant's: registration_endpoint, and response
    types code, id_token, "id_token token" and grant types authorization_code, implicit (OIDCD-3)."""
    oidcc_discovery_endpoint_verification(ctx, v)
    d = ctx.disc
    check(isinstance(d.get("registration_endpoint"), str), "CheckDiscEndpointRegistrationEndpoint", "no registration_endpoint")
    gts = d.get("grant_types_supported", ["authorization_code", "implicit"])
    for g in ("authorization_code", "implicit"):
        check(g in gts, "OIDCCCheckDiscEndpointGrantTypesSupportedDynamic", f"grant_types_supported lacks {g}")


def _dyn_with_metadata(field_name):
    def run(ctx: Ctx, v: Variant):
        c, _ = _dyn(ctx, v, {field_name: f"https://rp.conformance.test/{field_name}"})
        ctx.flow(v, client=c)
    run.__doc__ = f"Registered with {field_name}: the flow succeeds (the suite asks for a screenshot of it shown)."
    return run


dyn_oidcc_registration_logo_uri = _dyn_with_metadata("logo_uri")
dyn_oidcc_registration_policy_uri = _dyn_with_metadata("policy_uri")
dyn_oidcc_registration_tos_uri = _dyn_with_metadata("tos_uri")


def _serve_json(ctx: Ctx, name: str, value) -> str:
    url = f"{ctx.host}/dyn/{name}-{secrets.token_hex(4)}.json"
    ctx.request_objects[url] = json.dumps(value)
    return url


def dyn_oidcc_registration_jwks_uri(ctx: Ctx, v: Variant):
    """Registered with jwks_uri (no inline jwks): the OP fetches the key to check the client assertion."""
    from joserfc.jwk import RSAKey
    key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(6), "use": "sig", "alg": "RS256"})
    uri = _serve_json(ctx, "jwks", {"keys": [key.as_dict(private=False)]})
    c, _ = _dyn(ctx, v, {"jwks_uri": uri}, jwks=False, key=key)
    ctx.flow(v, client=c)


def dyn_oidcc_registration_sector_uri(ctx: Ctx, v: Variant):
    """pairwise with a sector_identifier_uri listing the redirect URI: registered, and the flow succeeds."""
    uri = _serve_json(ctx, "sector", [v.client.redirect_uri])
    c, _ = _dyn(ctx, v, {"sector_identifier_uri": uri, "subject_type": "pairwise"})
    ctx.flow(v, client=c)


def dyn_oidcc_registration_sector_bad(ctx: Ctx, v: Variant):
    """A sector_identifier_uri that does not list the redirect URI: registration refused (OIDCR-5)."""
    uri = _serve_json(ctx, "sector-bad", ["https://other.conformance.test/cb"])
    c, r = ctx.register(v, {"sector_identifier_uri": uri, "subject_type": "pairwise"})
    check(c is None and r.status_code == 400, "CheckRegistrationRejected", f"registered: HTTP {r.status_code}")
    check(r.json().get("error") == "invalid_client_metadata", "CheckErrorFromDynamicRegistrationEndpointIsInvalidClientMetadata",
          f"error={r.json().get('error')!r}")


def dyn_oidcc_server_rotate_keys(ctx: Ctx, v: Variant):
    """The OP rotates its signing keys between two flows: the second ID token verifies with the refetched JWKS."""
    if not ctx.rotate_keys:
        raise Skip("needs the operator to rotate the OP's keys; the runner has no way to for this OP")
    c, _ = _dyn(ctx, v)
    first = ctx.flow(v, client=c)
    ctx.rotate_keys()
    fresh = copy.copy(ctx)
    fresh.jwks = requests.get(ctx.disc["jwks_uri"], timeout=30).json()
    fresh.keyset = KeySet.import_key_set(fresh.jwks)
    second = fresh.flow(v, client=c)
    raw1 = first.token_response["id_token"]
    raw2 = second.token_response["id_token"]
    kid = lambda raw: json.loads(base64.urlsafe_b64decode(raw.split(".")[0] + "==="))["kid"]  # noqa: E731
    check(kid(raw1) != kid(raw2), "CheckIdTokenSignedWithNewKey", "the same kid signed both ID tokens after the rotation")


def dyn_oidcc_refresh_token_rp_key_rotation(ctx: Ctx, v: Variant):
    """A jwks_uri client gets a refresh token, then rotates its key (new kid at its jwks_uri): the
    refresh, with an assertion signed by the new key, succeeds (the OP refetches on an unknown kid)."""
    from joserfc.jwk import RSAKey
    key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(6), "use": "sig", "alg": "RS256"})
    uri = _serve_json(ctx, "jwks-rot", {"keys": [key.as_dict(private=False)]})
    c, _ = _dyn(ctx, v, {"jwks_uri": uri}, jwks=False, key=key)
    scope = "openid offline_access" if "offline_access" in ctx.disc.get("scopes_supported", []) else "openid"
    f = ctx.flow(v, client=c, scope=scope, extra={"prompt": "consent"} if "offline_access" in scope else None)
    if not f.refresh_token:
        raise Skip("no refresh token was issued")
    new = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(6), "use": "sig", "alg": "RS256"})
    ctx.request_objects[uri] = json.dumps({"keys": [new.as_dict(private=False)]})
    c.key = new
    time.sleep(60)  # WaitFor60Seconds: the suite waits so that an OP's limit on jwks_uri refetches is not hit
    r = ctx.token_request(c, {"grant_type": "refresh_token", "refresh_token": f.refresh_token})
    ctx.check_token_response(r, want_id_token=False)


def _dyn_request_object(ctx: Ctx, v: Variant, *, alg: str, bad_query_redirect=False):
    from joserfc import jwt as _jwt
    from joserfc.jwk import RSAKey
    key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(6), "use": "sig", "alg": "RS256"})
    ro_url = f"{ctx.host}/ro/dyn-{secrets.token_hex(4)}.jwt"
    c, _ = _dyn(ctx, v, {"request_uris": [ro_url], "request_object_signing_alg": alg}, key=key)
    p = ctx.auth_params(v, c)
    claims = dict(p, aud=ctx.issuer, iss=c.client_id)
    if alg == "none":
        obj = unsigned_request_object(ctx, c, p)
    else:
        obj = _jwt.encode({"alg": alg, "kid": key.kid}, claims, key)
    ctx.request_objects[ro_url] = obj
    q = {"client_id": c.client_id, "response_type": v.response_type, "scope": p["scope"], "request_uri": ro_url}
    if bad_query_redirect:
        q["redirect_uri"] = f"{cb_host(c.redirect_uri)}/invalid-{secrets.token_hex(4)}"
    res = ctx.authorize(ctx.browser(), q, sent=p, redirect_prefix=cb_host(c.redirect_uri))
    if res.params.get("error") in ("request_uri_not_supported",):
        raise Skip(f"the OP answered {res.params['error']}")
    ctx.check_auth_success(v, res)
    r = ctx.token_request(c, {"grant_type": "authorization_code", "code": res.params["code"], "redirect_uri": c.redirect_uri})
    j = ctx.check_token_response(r)
    ctx.validate_id_token(j["id_token"], c, nonce=p["nonce"])


def dyn_oidcc_request_uri_unsigned(ctx: Ctx, v: Variant):
    """An unsigned request object by reference (request_uri registered; request_object_signing_alg none): processed."""
    if not ctx.disc.get("request_uri_parameter_supported", True):
        raise Skip("request_uri_parameter_supported is false")
    if "none" not in ctx.disc.get("request_object_signing_alg_values_supported", []):
        raise Skip("request_object_signing_alg_values_supported lacks none")
    _dyn_request_object(ctx, v, alg="none")


def dyn_oidcc_request_uri_signed_rs256(ctx: Ctx, v: Variant):
    """An RS256-signed request object by reference (OIDCC-6.2), key from the client's jwks: processed."""
    if not ctx.disc.get("request_uri_parameter_supported", True):
        raise Skip("request_uri_parameter_supported is false")
    _dyn_request_object(ctx, v, alg="RS256")


def dyn_oidcc_ensure_request_object_with_redirect_uri(ctx: Ctx, v: Variant):
    """The request object's redirect_uri (by reference, unsigned) wins over another one in the query."""
    if not ctx.disc.get("request_uri_parameter_supported", True):
        raise Skip("request_uri_parameter_supported is false")
    if "none" not in ctx.disc.get("request_object_signing_alg_values_supported", []):
        raise Skip("request_object_signing_alg_values_supported lacks none")
    _dyn_request_object(ctx, v, alg="none", bad_query_redirect=True)


def dyn_oidcc_refresh_token(ctx: Ctx, v: Variant):
    """oidcc-refresh-token with two dynamically registered clients."""
    c1, _ = _dyn(ctx, v)
    c2, _ = _dyn(ctx, v)
    dv = copy.copy(v)
    dv.client, dv.client2 = c1, c2
    oidcc_refresh_token(ctx, dv)


def dyn_oidcc_ensure_client_assertion_with_iss_aud_succeeds(ctx: Ctx, v: Variant):
    """A client assertion whose aud is the issuer: accepted, or refused with invalid_client (a warning)."""
    c, _ = _dyn(ctx, v)
    c.assertion_aud = "issuer"
    f = ctx.flow(v, client=c, token=False)
    r = ctx.token_request(c, {"grant_type": "authorization_code", "code": f.auth.params["code"], "redirect_uri": c.redirect_uri})
    if r.status_code != 200:
        j = r.json()
        check(j.get("error") == "invalid_client", "CheckErrorFromTokenEndpointResponseErrorInvalidClient", f"error={j.get('error')!r}")
        ctx.warn("the issuer as the assertion's aud was refused (invalid_client)")
        return
    ctx.check_token_response(r)
