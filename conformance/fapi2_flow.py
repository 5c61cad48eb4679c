"""The FAPI 2.0 Security Profile plan's client side: keys, DPoP proofs, client assertions, the PAR flow.

What the suite's AbstractFAPI2SPFinalServerTestModule does for the variant run here
(client_auth_type=private_key_jwt, sender_constrain=dpop, fapi_profile=plain_fapi,
fapi_request_method=unsigned, fapi_response_mode=plain_response, openid=openid_connect):
an authorization request pushed to the PAR endpoint (authenticated with a private_key_jwt
assertion whose aud is the issuer, PKCE S256, state and nonce), the browser sent to the
authorization endpoint with client_id and request_uri, the code exchanged at the token
endpoint with a DPoP proof, and the access token used at the resource (userinfo) with a
DPoP proof carrying ath. JWS are built here (cryptography), not with a JOSE library, so the
negative modules can send proofs and assertions a library would refuse to make.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlencode

import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from oidcc import AuthResult, Client, Ctx, Fail, cb_host, check, pkce_pair

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FAPI2_ALGS = ("PS256", "ES256", "EdDSA", "Ed25519")


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int(n: int) -> str:
    return b64u(n.to_bytes((n.bit_length() + 7) // 8, "big"))


class Key:
    """An ES256 (P-256) or RSA (PS256/RS256) key with its JWK and RFC 7638 thumbprint."""

    def __init__(self, kind: str = "EC", kid: str | None = None):
        self.kind = kind
        self.kid = kid or secrets.token_hex(6)
        if kind == "EC":
            self.priv = ec.generate_private_key(ec.SECP256R1())
            n = self.priv.public_key().public_numbers()
            self.public = {"kty": "EC", "crv": "P-256", "x": b64u(n.x.to_bytes(32, "big")), "y": b64u(n.y.to_bytes(32, "big"))}
            self.private_d = {"d": b64u(self.priv.private_numbers().private_value.to_bytes(32, "big"))}
            self.alg = "ES256"
        else:
            self.priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            n = self.priv.public_key().public_numbers()
            self.public = {"kty": "RSA", "e": _int(n.e), "n": _int(n.n)}
            self.private_d = {"d": _int(self.priv.private_numbers().d)}
            self.alg = "PS256"

    @property
    def thumbprint(self) -> str:
        members = {k: self.public[k] for k in (("crv", "kty", "x", "y") if self.kind == "EC" else ("e", "kty", "n"))}
        return b64u(hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest())

    def jwk(self, *, private=False) -> dict:
        out = dict(self.public, kid=self.kid, use="sig", alg=self.alg)
        if private:
            out.update(self.private_d)
        return out

    def sign(self, alg: str, data: bytes) -> bytes:
        if alg == "ES256":
            r, s = decode_dss_signature(self.priv.sign(data, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        if alg == "PS256":
            return self.priv.sign(data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
        if alg == "RS256":
            return self.priv.sign(data, padding.PKCS1v15(), hashes.SHA256())
        raise ValueError(alg)


def jws(key: Key | None, header: dict, claims: dict, alg: str | None = None, *, bad_signature=False) -> str:
    """A compact JWS; alg "none" (or key None) gives an unsigned one."""
    alg = alg or header.get("alg") or (key.alg if key else "none")
    signing_input = (b64u(json.dumps(header).encode()) + "." + b64u(json.dumps(claims).encode())).encode()
    if alg == "none" or key is None:
        return signing_input.decode() + "."
    sig = bytearray(key.sign(alg, signing_input))
    if bad_signature:
        sig[5] ^= 0x5A
    return signing_input.decode() + "." + b64u(bytes(sig))


def dpop_proof(key: Key, htm: str, htu: str, *, ath_token=None, nonce=None, iat_offset=0, header=None, claims=None,
               drop=(), alg=None, sign_key=None, bad_signature=False) -> str:
    """An RFC 9449 proof; header/claims override, drop removes members (the negative modules)."""
    h = {"typ": "dpop+jwt", "alg": alg or key.alg, "jwk": key.public}
    c = {"jti": secrets.token_urlsafe(16), "htm": htm, "htu": htu, "iat": int(time.time()) + iat_offset}
    if ath_token:
        c["ath"] = b64u(hashlib.sha256(ath_token.encode()).digest())
    if nonce:
        c["nonce"] = nonce
    h.update(header or {})
    c.update(claims or {})
    for k in drop:
        h.pop(k, None)
        c.pop(k, None)
    signer = sign_key or key
    return jws(signer, h, c, h["alg"] if "alg" in h else signer.alg, bad_signature=bad_signature)


def entropy_bits(value: str) -> float:
    """AbstractEnsureMinimumEntropy: Shannon entropy per character times the length."""
    n = len(value)
    if not n:
        return 0.0
    per = -sum(c / n * math.log2(c / n) for c in Counter(value).values())
    return per * n


@dataclass
class FapiClient:
    client: Client
    key: Key
    redirect_uri: str
    dpop: Key = field(default_factory=Key)


@dataclass
class FapiVariant:
    """The plan's variant and its two clients (the suite's client and client2)."""

    plan: str
    c1: FapiClient
    c2: FapiClient
    response_type: str = "code"
    auth: str = "private_key_jwt"


@dataclass
class Run:
    """What one pass of the flow sent and got."""

    fc: FapiClient
    params: dict
    verifier: str | None
    par: requests.Response | None = None
    request_uri: str | None = None
    expires_in: int | None = None
    auth: AuthResult | None = None
    token: requests.Response | None = None
    token_json: dict | None = None
    id_token: dict | None = None
    dpop_nonce: dict = field(default_factory=dict)


class Fapi:
    """The FAPI 2.0 flow against one OP (wraps the OIDC runner's Ctx for the browser and checks)."""

    def __init__(self, ctx: Ctx):
        self.ctx = ctx
        self.disc = ctx.disc
        self.issuer = ctx.issuer

    # ------------------------------------------------------------ client authentication
    def assertion(self, fc: FapiClient, *, aud=None, claims=None, drop=(), alg=None, iat_offset=0) -> str:
        now = int(time.time()) + iat_offset
        c = {"iss": fc.client.client_id, "sub": fc.client.client_id, "aud": self.issuer if aud is None else aud,
             "jti": secrets.token_urlsafe(16), "iat": now, "nbf": now, "exp": now + 60}
        c.update(claims or {})
        for k in drop:
            c.pop(k, None)
        return jws(fc.key, {"alg": alg or fc.key.alg, "kid": fc.key.kid, "typ": "JWT"}, c, alg or fc.key.alg)

    def client_auth(self, fc: FapiClient, data: dict, **kw) -> dict:
        data = dict(data)
        data["client_assertion_type"] = ASSERTION_TYPE
        data["client_assertion"] = self.assertion(fc, **kw)
        return data

    # ------------------------------------------------------------ PAR
    def params(self, fc: FapiClient, *, state=True, nonce=True, pkce=True, scope="openid", extra=None, drop=(),
               state_len=None, nonce_len=None):
        verifier = None
        p = {"client_id": fc.client.client_id, "response_type": "code", "scope": scope, "redirect_uri": fc.redirect_uri}
        if state:
            p["state"] = secrets.token_urlsafe(64)[:state_len] if state_len else secrets.token_urlsafe(12)
            if state_len and len(p["state"]) < state_len:
                p["state"] = (p["state"] * (state_len // len(p["state"]) + 1))[:state_len]
        if nonce:
            p["nonce"] = (secrets.token_urlsafe(nonce_len) * 2)[:nonce_len] if nonce_len else secrets.token_urlsafe(12)
        if pkce:
            verifier, challenge = pkce_pair()
            p["code_challenge"] = challenge
            p["code_challenge_method"] = "S256"
        p.update(extra or {})
        for k in drop:
            p.pop(k, None)
        return p, verifier

    def push(self, run: Run, *, dpop=False, dpop_key=None, auth_kw=None, method="POST", extra_form=None,
             proof_kw=None) -> requests.Response:
        """POSTs the request to the PAR endpoint (client authentication; a DPoP proof with dpop=True)."""
        ep = self.disc.get("pushed_authorization_request_endpoint")
        if not ep:
            raise Fail("CheckServerConfiguration", "no pushed_authorization_request_endpoint in discovery")
        data = self.client_auth(run.fc, run.params, **(auth_kw or {}))
        data.update(extra_form or {})
        headers = {}
        if dpop:
            key = dpop_key or run.fc.dpop
            headers["DPoP"] = dpop_proof(key, method, ep, nonce=run.dpop_nonce.get("par"), **(proof_kw or {}))
        r = requests.request(method, ep, data=data, headers=headers, timeout=30)
        if dpop and r.status_code == 400 and _error(r) == "use_dpop_nonce" and r.headers.get("DPoP-Nonce"):
            run.dpop_nonce["par"] = r.headers["DPoP-Nonce"]
            return self.push(run, dpop=dpop, dpop_key=dpop_key, auth_kw=auth_kw, method=method, extra_form=extra_form,
                             proof_kw=proof_kw)
        run.par = r
        return r

    def check_par(self, run: Run):
        r = run.par
        check(r.status_code == 201, "CallPAREndpoint", f"HTTP {r.status_code} (RFC9126-2.2 wants 201): {r.text[:300]}")
        j = r.json()
        check(isinstance(j.get("request_uri"), str) and j["request_uri"], "ExtractRequestUriFromPARResponse", "no request_uri")
        check(isinstance(j.get("expires_in"), int) and j["expires_in"] > 0, "ExtractExpiresInFromPARResponse", f"expires_in {j.get('expires_in')!r}")
        run.request_uri = j["request_uri"]
        run.expires_in = j["expires_in"]

    def expect_par_error(self, run: Run, errors, condition: str):
        r = run.par
        check(400 <= r.status_code < 500, condition, f"the PAR endpoint answered HTTP {r.status_code}, not an error: {r.text[:200]}")
        err = _error(r)
        check(err in errors, condition, f"error {err!r} (expected one of {', '.join(errors)}); HTTP {r.status_code}")

    # ------------------------------------------------------------ authorization endpoint
    def redirect(self, run: Run, *, extra=None, duplicates=True, client_id=None, login=True, consent_button="allow", b=None):
        """The browser at the authorization endpoint with client_id and request_uri (and, as the suite's
        BuildRequestObjectByReferenceRedirectToAuthorizationEndpoint does, response_type and scope)."""
        q = {"client_id": client_id or run.fc.client.client_id, "request_uri": run.request_uri}
        if duplicates:
            q.update({k: run.params[k] for k in ("response_type", "scope") if k in run.params})
        q.update(extra or {})
        b = b or self.ctx.fresh_browser()
        sent = dict(run.params)
        # stop at the client's host, whichever of its URIs the OP redirects to
        res = self.ctx.authorize(b, q, login=login, redirect_prefix=cb_host(run.fc.redirect_uri), sent=sent,
                                 consent_button=consent_button)
        run.auth = res
        return res

    def plain_redirect(self, run: Run, b=None):
        """All parameters in the URL, no PAR (the unsigned-without-PAR module)."""
        b = b or self.ctx.fresh_browser()
        res = self.ctx.authorize(b, run.params, redirect_prefix=cb_host(run.fc.redirect_uri))
        run.auth = res
        return res

    def check_callback(self, run: Run, *, state_expected=True):
        """onAuthorizationCallbackResponse: no error, state, iss (RFC 9207, FAPI2 5.3.2.2-7), the code and its entropy."""
        res = run.auth
        check(res.where != "page", "CheckIfAuthorizationEndpointError",
              f"the OP showed a page instead of redirecting: {res.page.status_code if res.page is not None else ''} {_page(res)}")
        check("error" not in res.params, "CheckIfAuthorizationEndpointError", f"error={res.params.get('error')} {res.params.get('error_description', '')}")
        check(res.where == "query", "RejectAuthCodeInUrlFragment", f"the response came back in the {res.where}")
        self.check_callback_query(run)
        if state_expected:
            check(res.params.get("state") == run.params.get("state"), "CheckStateInAuthorizationResponse",
                  f"state {str(res.params.get('state'))[:40]!r} != the one pushed")
        else:
            check("state" not in res.params, "VerifyNoStateInAuthorizationResponse", "a state although the request had none")
        check(res.params.get("iss") == self.issuer, "RequireIssInAuthorizationResponse", f"iss {res.params.get('iss')!r} (FAPI2-SP-FINAL-5.3.2.2-7)")
        code = res.params.get("code")
        check(code, "ExtractAuthorizationCodeFromAuthorizationResponse", "no code")
        check(len(code) >= 22, "EnsureMinimumAuthorizationCodeLength", f"{len(code)} characters")
        check(entropy_bits(code) >= 96, "EnsureMinimumAuthorizationCodeEntropy", f"about {entropy_bits(code):.0f} bits")

    def check_callback_query(self, run: Run):
        """CheckMatchingCallbackParameters: the registered redirect URI's own query parameters came back."""
        from urllib.parse import parse_qs, urlparse
        want = {k: v[0] for k, v in parse_qs(urlparse(run.fc.redirect_uri).query).items()}
        for k, v in want.items():
            check(run.auth.query.get(k) == v, "CheckMatchingCallbackParameters", f"the redirect URI's {k}={v} is missing")

    def expect_auth_error(self, run: Run, errors, condition: str, *, state=True):
        """An error page, or an error redirected back (with the pushed state); never a code."""
        res = run.auth
        if res.where == "page":
            check(not res.saw_consent, condition, "the OP asked for consent instead of refusing")
            ok = res.page is not None and (res.page.status_code >= 400 or "error" in res.page.text.lower())
            check(ok, condition, f"the OP showed a page that is not an error: {_page(res)}")
            return "page"
        check("code" not in res.params, condition, "the OP issued a code")
        check("error" in res.params, condition, f"no error in the response ({', '.join(sorted(res.params))})")
        check(res.params["error"] in errors, condition, f"error={res.params['error']} (expected one of {', '.join(errors)})")
        if state and "state" in run.params:
            check(res.params.get("state") == run.params["state"], "CheckStateInAuthorizationResponse", "state not returned with the error")
        return res.params["error"]

    # ------------------------------------------------------------ token endpoint
    def token(self, run: Run, *, data=None, dpop=True, dpop_key=None, auth=True, auth_fc=None, auth_kw=None,
              proof_kw=None, code_verifier=True, extra=None) -> requests.Response:
        ep = self.disc["token_endpoint"]
        d = data or {"grant_type": "authorization_code", "code": run.auth.params.get("code"), "redirect_uri": run.params.get("redirect_uri", run.fc.redirect_uri)}
        if data is None and code_verifier and run.verifier:
            d["code_verifier"] = run.verifier if code_verifier is True else code_verifier
        d.update(extra or {})
        if auth:
            d = self.client_auth(auth_fc or run.fc, d, **(auth_kw or {}))
        headers = {}
        if dpop:
            headers["DPoP"] = dpop_proof(dpop_key or run.fc.dpop, "POST", ep, nonce=run.dpop_nonce.get("token"), **(proof_kw or {}))
        r = requests.post(ep, data=d, headers=headers, timeout=30)
        if dpop and r.status_code == 400 and _error(r) == "use_dpop_nonce" and r.headers.get("DPoP-Nonce"):
            run.dpop_nonce["token"] = r.headers["DPoP-Nonce"]
            return self.token(run, data=data, dpop=dpop, dpop_key=dpop_key, auth=auth, auth_fc=auth_fc, auth_kw=auth_kw,
                              proof_kw=proof_kw, code_verifier=code_verifier, extra=extra)
        run.token = r
        return r

    def check_token(self, run: Run, *, openid=True):
        """processTokenEndpointResponse: 200 JSON, a DPoP access token of enough entropy, the ID token."""
        r = run.token
        check(r.status_code == 200, "CheckTokenEndpointHttpStatus200", f"HTTP {r.status_code}: {r.text[:300]}")
        ct = r.headers.get("content-type", "").split(";")[0].strip()
        check(ct == "application/json", "CheckTokenEndpointReturnedJsonContentType", f"Content-Type {ct!r}")
        check("no-store" in r.headers.get("cache-control", ""), "CheckTokenEndpointCacheHeaders", r.headers.get("cache-control", ""))
        j = r.json()
        at = j.get("access_token")
        check(isinstance(at, str) and at, "CheckForAccessTokenValue", "no access_token")
        check(str(j.get("token_type", "")).lower() == "dpop", "CheckTokenTypeIsDpop", f"token_type {j.get('token_type')!r} (RFC9449-5)")
        check(entropy_bits(at) >= 96, "EnsureMinimumAccessTokenEntropy", f"about {entropy_bits(at):.0f} bits (FAPI2-SP-FINAL-5.4.1-4)")
        if "expires_in" not in j:
            self.ctx.warn("ExtractExpiresInFromTokenEndpointResponse: no expires_in")
        if openid:
            check(isinstance(j.get("id_token"), str), "ExtractIdTokenFromTokenResponse", "no id_token (FAPI2-SP-FINAL-5.3.2.3)")
            nonce = run.params.get("nonce")
            run.id_token = self.ctx.validate_id_token(j["id_token"], run.fc.client, nonce=nonce)
            check(run.id_token["_alg"] in FAPI2_ALGS, "FAPI2ValidateIdTokenSigningAlg", f"alg {run.id_token['_alg']}")
        run.token_json = j
        return j

    # ------------------------------------------------------------ resource (userinfo)
    def resource(self, run: Run, *, scheme="DPoP", token=None, dpop=True, dpop_key=None, proof=None, proof_kw=None,
                 headers=None, method="GET") -> requests.Response:
        ep = self.disc["userinfo_endpoint"]
        at = token or run.token_json["access_token"]
        h = {"Authorization": f"{scheme} {at}"}
        if dpop:
            h["DPoP"] = proof if proof is not None else dpop_proof(dpop_key or run.fc.dpop, method, ep, ath_token=at,
                                                                   nonce=run.dpop_nonce.get("resource"), **(proof_kw or {}))
        h.update(headers or {})
        r = requests.request(method, ep, headers=h, timeout=30)
        if dpop and proof is None and r.status_code == 401 and "use_dpop_nonce" in r.headers.get("WWW-Authenticate", "") \
                and r.headers.get("DPoP-Nonce"):
            run.dpop_nonce["resource"] = r.headers["DPoP-Nonce"]
            return self.resource(run, scheme=scheme, token=token, dpop=dpop, dpop_key=dpop_key, proof_kw=proof_kw,
                                 headers=headers, method=method)
        return r

    def check_resource(self, r: requests.Response, run: Run):
        check(r.status_code in (200, 201), "EnsureHttpStatusCodeIs200or201", f"HTTP {r.status_code}: {r.text[:200]} {r.headers.get('WWW-Authenticate', '')}")
        check(r.headers.get("Date"), "CheckForDateHeaderInResourceResponse", "no Date header (RFC7231-7.1.1.2)")
        if run.id_token and r.headers.get("content-type", "").startswith("application/json"):
            check(r.json().get("sub") == run.id_token["sub"], "VerifyUserInfoAndIdTokenInTokenEndpointSameSub", "sub differs")

    # ------------------------------------------------------------ whole flows
    def start(self, fc: FapiClient, *, dpop_at_par=False, par_proof_kw=None, **kw) -> Run:
        p, verifier = self.params(fc, **kw)
        run = Run(fc=fc, params=p, verifier=verifier)
        self.push(run, dpop=dpop_at_par, proof_kw=par_proof_kw)
        return run

    def authorized(self, fc: FapiClient, *, dpop_at_par=False, par_proof_kw=None, redirect_kw=None, **kw) -> Run:
        """PAR, the authorization endpoint, its response checked."""
        run = self.start(fc, dpop_at_par=dpop_at_par, par_proof_kw=par_proof_kw, **kw)
        self.check_par(run)
        self.redirect(run, **(redirect_kw or {}))
        self.check_callback(run, state_expected="state" in run.params)
        return run

    def full(self, fc: FapiClient, *, proof_kw=None, resource=True, **kw) -> Run:
        """The happy flow: PAR, authorization, the token endpoint, the resource."""
        run = self.authorized(fc, **kw)
        self.token(run, proof_kw=proof_kw)
        self.check_token(run)
        if resource:
            self.check_resource(self.resource(run, proof_kw=proof_kw), run)
        return run


def _error(r: requests.Response):
    try:
        return r.json().get("error")
    except ValueError:
        return None


def _page(res: AuthResult) -> str:
    from oidcc import page_text
    return page_text(res.page)


def token_error(r: requests.Response, errors, condition: str, statuses=(400,)):
    """An error from the token (or PAR) endpoint: its status, JSON and one of `errors` (RFC6749-5.2)."""
    check(r.status_code in statuses, condition, f"HTTP {r.status_code} (expected {'/'.join(map(str, statuses))}): {r.text[:200]}")
    ct = r.headers.get("content-type", "").split(";")[0].strip()
    check(ct == "application/json", "CheckTokenEndpointReturnedJsonContentType", f"Content-Type {ct!r}")
    err = _error(r)
    check(err in errors, condition, f"error {err!r} (expected one of {', '.join(errors)})")


__all__ = ["Fapi", "FapiClient", "FapiVariant", "Key", "Run", "dpop_proof", "jws", "token_error", "urlencode"]
