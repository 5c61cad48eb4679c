"""The RP modules of the OpenID Foundation's certification plans, by the suite's names.

Each function runs one module against `sesame app` and returns a note (PASS), or raises
Fail / Skip. `v` is the plan's variant: the response type and the app's response-mode
options. The fault names are the provider's (provider.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from browser import Browser
from harness import Env, Fail, Run, Skip
from provider import CLAIMS_SOURCE, SOURCE_CLAIMS, SOURCE_TOKEN, half_hash

# `sesame app` options for request objects and WebFinger (one place for the names).
REQUEST_URI = ["--request-object", "uri"]
REQUEST_OBJECT_ALG = "--request-object-alg"
# WebFinger and the issuer over http: the runner serves no TLS, on 127.0.0.1 only.
INSECURE_ISSUER = "--allow-insecure-issuer"


@dataclass
class Variant:
    plan: str
    rt: str = "code"
    app_args: list[str] = field(default_factory=list)
    dynamic: bool = False  # the Dynamic plan: `sesame app --register` (RFC 7591) instead of a static client
    label: str = ""  # how the tables name the variant (default: the response type and mode)


LAST = threading.local()  # the last run's provider on this thread (run.py puts it in the JSON)


def run(env: Env, v: Variant, fn, faults=(), **kw):
    r = Run(env, v.rt, faults, dynamic=v.dynamic, **kw)
    LAST.provider = r.p
    try:
        return fn(r)
    finally:
        r.stop()


# ---------------------------------------------------------------------- sign-in modules
def happy(extra=None, faults=(), needs=None, args=None):
    """A module whose sign-in must succeed; `extra(r, b, me)` adds its own checks (a note).
    `needs`: (flags, what) the app must offer; `args(env)`: more app options."""
    def module(env: Env, v: Variant):
        if needs:
            env.needs(*needs[0], what=needs[1])

        def go(r: Run):
            r.must_start(*v.app_args, *(args(env) if args else []))
            b = r.login()
            me = r.signed_in(b)
            return (extra(r, b, me) if extra else "") or "signed in, claims from the provider"
        return run(env, v, go, faults)
    return module


def reject(*faults):
    """A module whose fault the RP must refuse (the suite's "expect nothing after" rule)."""
    def module(env: Env, v: Variant):
        def go(r: Run):
            r.must_start(*v.app_args)
            return r.rejected(r.login())
        return run(env, v, go, faults)
    return module


def nonce_sent(r: Run, b, me):
    req = [e for e in r.p.seen("/authorize") if "has" in e]
    if not req or "nonce" not in req[0]["has"]:
        raise Fail("no nonce in the authorization request")
    return "nonce sent; signed in"


def basic_auth(r: Run, b, me):
    used = {e.get("client_auth") for e in r.p.seen("/token")}
    if used != {"client_secret_basic"}:
        raise Fail(f"token requests authenticated with {sorted(x or '-' for x in used)}, not client_secret_basic")
    return "client_secret_basic at the token endpoint"


def scope_claims(r: Run, b, me):
    c = me.get("claims") or {}
    return f"email, name, given_name in the session ({c.get('email')})"


def bearer_header(r: Run, b, me):
    how = {e.get("bearer") for e in r.p.seen("/userinfo")}
    if how != {"header"}:
        raise Fail(f"access token sent to userinfo by {sorted(how)}")
    return "userinfo with the bearer token in the header"


def kid_absent_multiple(env: Env, v: Variant):
    """The suite allows either: sign in (trying the keys) or refuse the ID token cleanly."""
    def go(r: Run):
        r.must_start(*v.app_args)
        b = r.login()
        status, _me = b.me(r.app)
        if status == 200:
            r.signed_in(b)
            return "accepted (the RP tried the published keys)"
        return "rejected (allowed): " + r.rejected(b)
    return run(env, v, go, ["kid_absent_multiple"])


def sig_none(env: Env, v: Variant):
    """The suite: accept the unsigned code-flow ID token, or refuse it (then SKIPPED, "okay")."""
    def go(r: Run):
        r.must_start(*v.app_args)
        b = r.login()
        status, _me = b.me(r.app)
        if status == 200:
            r.signed_in(b)
            return "accepted"
        if r.p.seen("/userinfo"):
            raise Fail("userinfo requested after an unsigned ID token that was then refused")
        raise Skip("the unsigned ID token was refused and no userinfo request followed (the suite: clients are not "
                   "required to support alg none; sesame-rp never accepts it, README)")
    return run(env, v, go, ["sig_none"])


def form_post_error(env: Env, v: Variant):
    def go(r: Run):
        r.must_start(*v.app_args, "--auth-param", "max_age=0", "--auth-param", "prompt=none")
        b = r.login()
        ma = next((e.get("max_age_prompt") for e in r.p.seen("/authorize") if "max_age_prompt" in e), None)
        if ma != ("0", "none"):
            raise Fail(f"the request lacks max_age=0 and prompt=none: {ma}")
        return r.rejected(b)
    return run(env, v, go, ["form_post_error"])


# ---------------------------------------------------------------------- discovery and keys
def discovery_config(r: Run, b, me):
    if not r.p.seen("/.well-known/openid-configuration"):
        raise Fail("no discovery request")
    return "discovery fetched; signed in"


def jwks_uri_keys(r: Run, b, me):
    if not r.p.seen(r.p.jwks_path):
        raise Fail(f"no request to the advertised jwks_uri {r.p.jwks_path}")
    return f"keys fetched from the advertised jwks_uri ({r.p.jwks_path})"


def issuer_mismatch(env: Env, v: Variant):
    def go(r: Run):
        why = r.start_app(*v.app_args)
        if why is None:
            b = r.login()
            if b.me(r.app)[0] == 200:
                raise Fail("signed in although discovery named another issuer")
            if r.p.seen("/authorize"):
                raise Fail("an authorization request was sent although discovery named another issuer")
            return "no authorization request, no session"
        if "issuer" not in why.lower():
            raise Fail(f"the app did not start, but not over the issuer: {why}")
        return f"the app refused the provider at start: {why[:160]}"
    return run(env, v, go, ["discovery_issuer_mismatch"])


def key_rotation(env: Env, v: Variant):
    """Signs in, the provider rotates to a new key (new kid, old one gone), signs in again."""
    def go(r: Run):
        r.must_start(*v.app_args)
        r.signed_in(r.login())
        r.p.rotate()
        b2 = r.login(Browser())
        r.signed_in(b2)
        fetched = len(r.p.seen(r.p.jwks_path))
        if fetched < 2:
            raise Fail(f"the JWKS was fetched {fetched} time(s): the second login was not verified with the new key")
        return f"second login verified with the rotated key (JWKS fetched {fetched} times)"
    return run(env, v, go)


def rotation_just_before(r: Run, b, me):
    return f"ID token signed with a key published just before (JWKS fetched {len(r.p.seen(r.p.jwks_path))} times)"


# ---------------------------------------------------------------------- dynamic
def request_uri(alg):
    def check(r: Run, b, me):
        ros = [e for e in r.p.log if e["path"] == "request_object"]
        if not r.p.log or not any(e["path"] == "request_uri" for e in r.p.log):
            raise Fail("no request_uri in the authorization request")
        if not ros or ros[0].get("alg") != alg:
            raise Fail(f"request object alg {ros[0].get('alg') if ros else None}, expected {alg}")
        return f"request_uri fetched, request object alg {alg}"
    return check


def webfinger(kind):
    def module(env: Env, v: Variant):
        def go(r: Run):
            host = r.p.host
            issuer = f"acct:rp-conformance@{host}" if kind == "acct" else f"{r.p.issuer}/rp-conformance"
            why = r.start_app(*v.app_args, INSECURE_ISSUER, issuer=issuer)
            if why:
                shown = "acct:USER@HOST" if kind == "acct" else "https://HOST/USER"
                raise Fail(f"needs WebFinger issuer discovery (`sesame app --issuer {shown}`): {why[:160]}")
            wf = r.p.seen("/.well-known/webfinger")
            if not wf:
                raise Fail("no WebFinger request")
            b = r.login()
            r.signed_in(b)
            return f"issuer found by WebFinger ({kind}); registered, signed in"
        return run(env, v, go)
    return module


def userinfo_signed(r: Run, b, me):
    return "signed (application/jwt) userinfo verified; claims in the session"


# ---------------------------------------------------------------------- refresh
def refresh(*faults):
    """--refresh with a 30 s access token (sesame-rp refreshes a minute before expiry)."""
    def module(env: Env, v: Variant):
        env.needs("--refresh", what="token refresh in the app")

        def go(r: Run):
            r.must_start("--refresh", "--scope", "openid profile email offline_access", *v.app_args)
            b = r.login()
            b.s.get(r.app + "/", timeout=20)
            status, me = b.me(r.app)
            # every request may refresh (each new access token expires in 30 s too), /me's own included
            grants = [e for e in r.p.seen("/token") if e.get("issued_access_token")]
            first = grants[0]["issued_access_token"] if grants else None
            refreshed = [e["issued_access_token"] for e in grants[1:]]
            if not refreshed and r.p.fault_seq is None:
                raise Fail("no refresh_token grant (the access token expires in 30 s)")
            used = [e for e in r.p.seen("/userinfo") if e.get("access_token") in refreshed]
            if faults:
                if r.p.fault_seq is None:
                    raise Fail("runner: the refreshed ID token was never sent")
                if status == 200 and me and me.get("access_token_hash") in {half_hash(t) for t in refreshed}:
                    raise Fail(f"the session took the tokens of a refresh response whose ID token has a wrong "
                               f"{'iss' if 'refresh_invalid_iss' in faults else 'sub'}")
                if used:
                    raise Fail("userinfo called with the refused refresh response's access token")
                return f"refresh response refused; session {'ended' if status == 401 else 'kept its old token'}"
            if status != 200 or me.get("access_token_hash") not in {half_hash(t) for t in refreshed}:
                raise Fail(f"the session does not hold the refreshed access token (/me {status})")
            if me.get("access_token_hash") == half_hash(first):
                raise Fail("the session still holds the first access token")
            if not used:
                raise Fail("needs a userinfo request with the refreshed access token (the suite's module waits for one)")
            return "refreshed; userinfo with the new access token"
        return run(env, v, go, faults, access_ttl=30)
    return module


# ---------------------------------------------------------------------- external claims
def external_claims(fault):
    """OIDC Core 5.6.2: userinfo points to claims of a claims provider beside the provider
    (`sesame app --claims-source ISSUER=JWKS_URL`); the verified ones are under /me's
    `external`, never in `claims`; a forged JWT is refused and the login still completes."""
    def module(env: Env, v: Variant):
        env.needs("--claims-source", what="aggregated and distributed claims")

        def go(r: Run):
            src = r.p.issuer + CLAIMS_SOURCE
            r.must_start(*v.app_args, "--claims-source", f"{src}={src}/jwks")
            b = r.login()
            me = r.signed_in(b)
            main = me.get("claims") or {}
            leaked = sorted(set(main) & ({"_claim_names", "_claim_sources"} | set(SOURCE_CLAIMS)))
            if leaked:
                raise Fail(f"external claims or their references in the main claims: {leaked}")
            ext = me.get("external") or []
            refused = me.get("refused_external") or []
            if fault == "claims_forged":
                if ext:
                    raise Fail(f"a JWT signed with a key the source never published was taken: {ext}")
                if [x.get("reason") for x in refused] != ["bad_signature"]:
                    raise Fail(f"refused sources: {refused}")
                return "forged aggregated JWT refused (bad_signature), signed in without it"
            if len(ext) != 1 or ext[0].get("issuer") != src or ext[0].get("claims") != SOURCE_CLAIMS:
                raise Fail(f"external claims {ext} (refused {refused})")
            if fault == "claims_distributed":
                fetched = r.p.seen(CLAIMS_SOURCE + "/claims")
                if not fetched or not all(e.get("bearer_ok") for e in fetched):
                    raise Fail("the distributed endpoint was not fetched with the source's access token")
                if SOURCE_TOKEN in str(me):
                    raise Fail("the source's access token is in the session")
            return f"{ext[0]['kind']} claims verified with the source's key, kept apart from the provider's"
        return run(env, v, go, [fault])
    return module
