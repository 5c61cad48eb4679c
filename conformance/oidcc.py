"""The OpenID Foundation's OP certification modules, re-implemented against a live OP.

Each module carries the conformance suite's own name (oidcc-server,
oidcc-codereuse-30seconds, …) and checks what the suite's module checks
(the suite's Java sources name the conditions; they are read for behaviour,
none of their code is here). A module ends in one of:

- PASS (possibly with warnings: the suite's WARNING conditions, listed),
- FAIL (the first FAILURE condition that did not hold, and what the OP did),
- SKIPPED (the suite's own skip: the OP does not advertise an optional feature),
- N/A (the suite's VariantNotApplicable for the variant in use).

The browser is a cookie-keeping requests.Session (interop/interop_browser.py)
that signs in and allows consent on the OP's pages and stops at the client's
redirect URI, so no callback server is needed; form_post responses are read
from the OP's auto-submitting form.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from interop_browser import Browser, forms

UNSET = object()


class Fail(Exception):
    """A FAILURE condition of the suite: `condition` is its name."""

    def __init__(self, condition: str, detail: str):
        super().__init__(f"{condition}: {detail}")
        self.condition = condition
        self.detail = detail


class Skip(Exception):
    pass


class NotApplicable(Exception):
    pass


NotApplicableError = NotApplicable


def check(cond, condition: str, detail: str):
    if not cond:
        raise Fail(condition, detail)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def half_hash(value: str, alg: str) -> str:
    """at_hash / c_hash (OIDC Core 3.1.3.6, 3.3.2.11)."""
    h = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}
    fn = hashlib.sha512 if alg == "EdDSA" else h[alg[-3:]]
    d = fn(value.encode("ascii")).digest()
    return b64url(d[: len(d) // 2])


@dataclass
class Client:
    client_id: str
    client_secret: str
    auth_method: str
    redirect_uri: str
    response_type: str
    request_uri: str | None = None
    id_token_alg: str = "RS256"
    post_logout_redirect_uri: str | None = None
    backchannel_logout_uri: str | None = None
    key: object | None = None  # private_key_jwt: the client's private JWK (joserfc)
    assertion_aud: str = "token_endpoint"  # or "issuer"


@dataclass
class Variant:
    plan: str
    response_type: str
    response_mode: str  # "default" or "form_post"
    client: Client
    post_client: Client
    client2: Client

    @property
    def code(self):
        return "code" in self.response_type.split()

    @property
    def id_token(self):
        return "id_token" in self.response_type.split()

    @property
    def token(self):
        return "token" in self.response_type.split()


@dataclass
class AuthResult:
    params: dict  # the authorization response parameters
    where: str  # "query", "fragment", "form_post" or "page" (the OP showed a page)
    query: dict = field(default_factory=dict)
    fragment: dict = field(default_factory=dict)
    saw_login: bool = False
    saw_consent: bool = False
    page: requests.Response | None = None
    sent: dict = field(default_factory=dict)
    url: str = ""


@dataclass
class Flow:
    """What a complete authorization (and token request) produced."""

    auth: AuthResult
    id_token: dict | None = None  # claims of the ID token used for checks
    auth_id_token: dict | None = None
    token_id_token: dict | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    token_response: dict | None = None


class Ctx:
    """One OP under test: its discovery document, keys and test user."""

    def __init__(self, issuer: str, username: str, password: str, request_objects: dict, cb_base: str):
        self.issuer = issuer.rstrip("/")
        self.username = username
        self.password = password
        self.request_objects = request_objects  # path -> body, served by run.py's request_uri host
        self.cb_base = cb_base
        r = requests.get(self.issuer + "/.well-known/openid-configuration", timeout=30)
        r.raise_for_status()
        self.disc_response = r
        self.disc = r.json()
        self.jwks = requests.get(self.disc["jwks_uri"], timeout=30).json()
        self.keyset = KeySet.import_key_set(self.jwks)
        self.warnings: list[str] = []
        self.shared: Browser | None = None
        self.received: dict = {}  # back-channel logout requests, by path

    def browser(self) -> Browser:
        """The plan's browser session (cookies kept across modules, as the tester's browser does)."""
        return self.shared or self.fresh_browser()

    @staticmethod
    def fresh_browser() -> Browser:
        b = Browser()
        orig = b.s.request

        def request(method, url, **kw):
            kw["timeout"] = 30  # a shared 2-core CI machine can be slow
            return orig(method, url, **kw)

        b.s.request = request
        return b

    def warn(self, msg: str):
        self.warnings.append(msg)

    # ------------------------------------------------------------ authorization endpoint
    def auth_params(self, v: Variant, client: Client, *, scope="openid", nonce=True, extra=None, drop=()):
        p = {
            "client_id": client.client_id,
            "redirect_uri": client.redirect_uri,
            "response_type": v.response_type,
            "scope": scope,
            "state": secrets.token_urlsafe(12),
        }
        if nonce:
            p["nonce"] = secrets.token_urlsafe(12)
        if v.response_mode == "form_post":
            p["response_mode"] = "form_post"
        p.update(extra or {})
        for k in drop:
            p.pop(k, None)
        return p

    def authorize(self, b: Browser, params: dict, *, method="GET", login=True, redirect_prefix=None, sent=None,
                  consent_button="allow") -> AuthResult:
        """Sends the request; signs in / allows consent when asked (login=False: stops at the login page;
        consent_button="deny": the user refuses on Sesame's consent page)."""
        url = self.disc["authorization_endpoint"]
        stop = redirect_prefix or params.get("redirect_uri") or self.cb_base
        if method == "POST":
            r = b.s.post(url, data=params, allow_redirects=False, timeout=30)
            r, stopped = b.follow(r, stop)
        else:
            r, stopped = b.get(url + "?" + urlencode(params), stop)
        res = AuthResult(params={}, where="page", sent=sent if sent is not None else params)
        for _ in range(6):
            if stopped:
                u = urlparse(stopped)
                res.query = {k: v[0] for k, v in parse_qs(u.query).items()}
                res.fragment = {k: v[0] for k, v in parse_qs(u.fragment).items()}
                res.where = "fragment" if res.fragment else "query"
                res.params = res.fragment or res.query
                res.url = stopped
                return res
            fs = forms(r)  # an error sent with form_post may come with a 4xx status
            # Sesame's pages (username/password; consent: interaction + allow) and oidc-provider's
            # devInteractions (login/password; consent: a form with prompt=consent)
            login_form = [f for f in fs if "password" in f["fields"] and ({"username", "login"} & f["fields"].keys())]
            consent = [f for f in fs if ("interaction" in f["fields"] and "allow" in f["buttons"])
                       or f["fields"].get("prompt") == "consent"]
            posted = [f for f in fs if f["action"].startswith(stop)]
            if posted:
                res.where = "form_post"
                res.params = dict(posted[0]["fields"])
                return res
            if login_form:
                res.saw_login = True
                if not login:
                    res.page = r
                    return res
                user_field = "username" if "username" in login_form[0]["fields"] else "login"
                r, stopped = b.submit(r, lambda f: "password" in f["fields"] and user_field in f["fields"],
                                      {user_field: self.username, "password": self.password}, stop_at=stop)
                continue
            if consent:
                res.saw_consent = True
                sesame = "allow" in consent[0]["buttons"]
                r, stopped = b.submit(r, lambda f: f is consent[0] or f["action"] == consent[0]["action"],
                                      button=consent_button if sesame else None, stop_at=stop)
                continue
            break
        res.page = r
        return res

    def register(self, v: Variant, extra: dict | None = None, *, jwks=True, key=None, redirect_uri=None):
        """A private_key_jwt client registered at the registration endpoint (the Dynamic plan's
        dynamic_client variant). Returns (Client, response)."""
        from joserfc.jwk import RSAKey
        ep = self.disc.get("registration_endpoint")
        if not ep:
            raise NotApplicable("no registration_endpoint")
        key = key or RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(6), "use": "sig", "alg": "RS256"})
        redirect_uri = redirect_uri or v.client.redirect_uri
        body = {"redirect_uris": [redirect_uri], "response_types": [v.response_type],
                "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "private_key_jwt",
                "client_name": "conformance (dynamic)", "contacts": ["conformance@example.com"]}
        if jwks:
            body["jwks"] = {"keys": [key.as_dict(private=False)]}
        body.update(extra or {})
        r = requests.post(ep, json=body, timeout=30)
        j = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        c = None
        if r.status_code == 201:
            c = Client(j["client_id"], j.get("client_secret", ""), "private_key_jwt", redirect_uri, v.response_type, key=key,
                       id_token_alg=j.get("id_token_signed_response_alg", "RS256"))
        return c, r

    def register_dynamic(self, v: Variant) -> Client:
        """A client registered at the registration endpoint (RFC 7591), for the dynamic_client modules."""
        ep = self.disc.get("registration_endpoint")
        if not ep:
            raise NotApplicableError("no registration_endpoint (the dynamic_client variant does not apply)")
        grants = (["authorization_code"] if v.code else []) + (["implicit"] if (v.id_token or v.token) and v.response_type != "code" else [])
        body = {"redirect_uris": [v.client.redirect_uri], "response_types": [v.response_type], "grant_types": grants,
                "token_endpoint_auth_method": "client_secret_basic", "client_name": "conformance (dynamic)"}
        r = requests.post(ep, json=body, timeout=30)
        check(r.status_code == 201, "CallDynamicRegistrationEndpoint", f"HTTP {r.status_code}: {r.text[:300]}")
        j = r.json()
        return Client(j["client_id"], j.get("client_secret", ""), "client_secret_basic", v.client.redirect_uri, v.response_type)

    def end_session(self, b: Browser, params: dict, *, confirm=True):
        """Sends the user to the end_session_endpoint; confirms a logout page once (the user
        pressing "sign out"). Returns ("redirect", url, confirmed) or ("page", response, confirmed)."""
        url = self.disc["end_session_endpoint"] + ("?" + urlencode(params) if params else "")
        stop = cb_host(self.cb_base)
        r, stopped = b.get(url, stop)
        confirmed = False
        for _ in range(3):
            if stopped:
                return "redirect", stopped, confirmed
            fs = forms(r)
            if not fs or confirmed or not confirm:
                return "page", r, confirmed
            f = fs[0]
            confirmed = True
            if "logout" in f["buttons"]:  # Sesame's page
                r, stopped = b.submit(r, lambda x: x is f or x["action"] == f["action"], button="logout", stop_at=stop)
            else:  # oidc-provider's page: the "yes" button sits outside its form (form="op.logoutForm")
                r, stopped = b.submit(r, lambda x: x is f or x["action"] == f["action"], {"logout": "yes"}, stop_at=stop)
        return "page", r, confirmed

    # ------------------------------------------------------------ checks
    def check_auth_success(self, v: Variant, res: AuthResult):
        check(res.where != "page", "CheckIfAuthorizationEndpointError",
              f"the OP showed a page ({res.page.status_code if res.page is not None else '?'} {res.page.url if res.page is not None else ''}) instead of redirecting: {page_text(res.page)}")
        check("error" not in res.params, "CheckIfAuthorizationEndpointError",
              f"error={res.params.get('error')} {res.params.get('error_description', '')}")
        if v.response_mode == "form_post":
            check(res.where == "form_post", "CheckCallbackHttpMethodIsPost", f"response came back in the {res.where}")
        elif v.code and not (v.id_token or v.token):
            check(res.where == "query", "ExtractAuthorizationCodeFromAuthorizationResponse", f"response came back in the {res.where}")
        else:
            check(res.where == "fragment", "RejectAuthCodeInUrlQuery", f"response came back in the {res.where}")
            check("code" not in res.query and "error" not in res.query, "RejectErrorInUrlQuery", "parameters in the query")
        check(res.params.get("state") == res.sent.get("state"), "CheckMatchingStateParameter",
              f"state {res.params.get('state')!r} != {res.sent.get('state')!r}")
        # ValidateIssIfPresentInAuthorizationResponse (RFC 9207; an OP may leave iss out of a
        # response that carries an ID token, whose iss says the same)
        if "iss" in res.params:
            check(res.params["iss"] == self.issuer, "ValidateIssIfPresentInAuthorizationResponse", f"iss={res.params['iss']!r}")
        elif self.disc.get("authorization_response_iss_parameter_supported") and "id_token" not in res.params:
            raise Fail("ValidateIssIfPresentInAuthorizationResponse",
                       "authorization_response_iss_parameter_supported is true and the response has no iss (RFC9207-2)")
        if v.code:
            check(res.params.get("code"), "ExtractAuthorizationCodeFromAuthorizationResponse", "no code")
        if v.token:
            check(res.params.get("access_token"), "ExtractAccessTokenFromAuthorizationResponse", "no access_token")
            check(res.params.get("token_type", "").lower() == "bearer", "CheckForBearerTokenType", f"token_type={res.params.get('token_type')!r}")
        else:
            check("access_token" not in res.params, "EnsureNoAccessTokenInAuthorizationResponse", "an access_token although the response type has no token")
        if v.id_token:
            check(res.params.get("id_token"), "ExtractIdTokenFromAuthorizationResponse", "no id_token")
        else:
            check("id_token" not in res.params, "ExtractIdTokenFromAuthorizationResponse", "an id_token although the response type has none")

    def validate_id_token(self, raw: str, client: Client, *, nonce=UNSET, where="token endpoint", max_age=None):
        try:
            header = json.loads(base64.urlsafe_b64decode(raw.split(".")[0] + "==="))
        except Exception as e:  # noqa: BLE001
            raise Fail("ValidateIdToken", f"not a JWT ({where}): {e}") from e
        alg = header.get("alg")
        check(alg == client.id_token_alg, "CheckIdTokenSignatureAlgorithm", f"alg {alg} (registered {client.id_token_alg})")
        check(header.get("kid"), "EnsureIdTokenContainsKid", "no kid in the ID token header")
        kids = [k for k in self.jwks.get("keys", []) if k.get("kid") == header["kid"]]
        check(len(kids) == 1, "ValidateIdTokenSignatureUsingKid", f"kid {header['kid']} matches {len(kids)} keys in the JWKS")
        try:
            tok = jwt.decode(raw, self.keyset, algorithms=[alg])
        except Exception as e:  # noqa: BLE001
            raise Fail("ValidateIdTokenSignature", f"signature does not verify: {e}") from e
        c = tok.claims
        now = time.time()
        check(c.get("iss") == self.issuer, "ValidateIdToken", f"iss {c.get('iss')!r}")
        aud = c.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        check(client.client_id in auds, "ValidateIdToken", f"aud {aud!r}")
        if len(auds) > 1:
            check(c.get("azp") == client.client_id, "ValidateIdToken", f"several audiences and azp {c.get('azp')!r}")
        check(isinstance(c.get("exp"), (int, float)) and c["exp"] > now - 5, "ValidateIdToken", f"exp {c.get('exp')!r}")
        check(isinstance(c.get("iat"), (int, float)) and c["iat"] < now + 300 and c["iat"] > now - 3600, "ValidateIdToken", f"iat {c.get('iat')!r}")
        check(isinstance(c.get("sub"), str) and 0 < len(c["sub"]) <= 255, "CheckForSubjectInIdToken", f"sub {c.get('sub')!r}")
        if nonce is not UNSET:
            if nonce is None:
                check("nonce" not in c, "ValidateIdTokenNonce", "a nonce although none was sent")
            else:
                check(c.get("nonce") == nonce, "ValidateIdTokenNonce", f"nonce {c.get('nonce')!r} != sent")
        if "auth_time" in c:
            check(isinstance(c["auth_time"], (int, float)), "ValidateIdToken", f"auth_time {c['auth_time']!r}")
        if max_age is not None:
            check("auth_time" in c, "RequireIdTokenAuthTime", "max_age was sent and the ID token has no auth_time (OIDCC-3.1.2.1)")
        if "acr" in c:
            check(isinstance(c["acr"], str), "ValidateIdTokenACRClaimAgainstRequest", f"acr {c['acr']!r}")
        c["_alg"] = alg
        return c

    def token_request(self, client: Client, data: dict, *, auth=None):
        data = dict(data)
        kw = {}
        method = auth or client.auth_method
        if method == "client_secret_basic":
            kw["auth"] = (client.client_id, client.client_secret)
        elif method == "client_secret_post":
            data["client_id"] = client.client_id
            data["client_secret"] = client.client_secret
        elif method == "private_key_jwt":
            # the suite's default audience is the token endpoint (OIDCC-9: "SHOULD be the URL of
            # the Token Endpoint"); oidcc-ensure-client-assertion-with-iss-aud-succeeds uses the issuer
            # (CONFORMANCE_ASSERTION_AUD=issuer: every assertion names the issuer, to see past an OP
            # that refuses the token endpoint; a diagnostic, never for CONFORMANCE.md)
            if client.assertion_aud == "issuer" or os.environ.get("CONFORMANCE_ASSERTION_AUD") == "issuer":
                aud = self.issuer
            else:
                aud = self.disc["token_endpoint"]
            now = int(time.time())
            claims = {"iss": client.client_id, "sub": client.client_id, "aud": aud, "jti": secrets.token_urlsafe(12),
                      "iat": now, "exp": now + 60}
            data["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            data["client_assertion"] = jwt.encode({"alg": "RS256", "kid": client.key.kid}, claims, client.key)
        return requests.post(self.disc["token_endpoint"], data=data, timeout=30, **kw)

    def check_token_response(self, r: requests.Response, *, want_id_token=True):
        check(r.status_code == 200, "CheckIfTokenEndpointResponseError", f"HTTP {r.status_code}: {r.text[:300]}")
        ct = r.headers.get("content-type", "")
        check(ct.split(";")[0].strip() == "application/json", "CheckTokenEndpointReturnedJsonContentType", f"Content-Type {ct!r}")
        cc = r.headers.get("cache-control", "")
        check("no-store" in cc, "CheckTokenEndpointCacheHeaders", f"Cache-Control {cc!r} (RFC6749-5.1)")
        j = r.json()
        check(isinstance(j.get("access_token"), str) and j["access_token"], "CheckForAccessTokenValue", "no access_token")
        check(str(j.get("token_type", "")).lower() == "bearer", "CheckForBearerTokenType", f"token_type {j.get('token_type')!r}")
        if "expires_in" in j:
            check(isinstance(j["expires_in"], int) and j["expires_in"] > 0, "ValidateExpiresIn", f"expires_in {j['expires_in']!r}")
        if want_id_token:
            check(isinstance(j.get("id_token"), str), "ExtractIdTokenFromTokenResponse", "no id_token in the token response")
        if "refresh_token" in j:
            check(re.fullmatch(r"[\x20-\x7e]+", j["refresh_token"] or ""), "EnsureRefreshTokenContainsAllowedCharactersOnly", "bad characters")
        return j

    def userinfo(self, token: str, how="get"):
        ep = self.disc["userinfo_endpoint"]
        if how == "get":
            return requests.get(ep, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        if how == "post-header":
            return requests.post(ep, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        return requests.post(ep, data={"access_token": token}, timeout=30)

    def check_userinfo(self, r: requests.Response, sub: str | None):
        check(r.status_code == 200, "CallUserInfoEndpointWithBearerToken", f"HTTP {r.status_code}: {r.text[:200]}")
        ct = r.headers.get("content-type", "").split(";")[0].strip()
        check(ct == "application/json", "CheckUserInfoEndpointReturnedJsonContentType", f"Content-Type {ct!r}")
        u = r.json()
        check(isinstance(u.get("sub"), str), "EnsureUserInfoContainsSub", "no sub")
        if sub is not None:
            check(u["sub"] == sub, "VerifyUserInfoAndIdTokenInTokenEndpointSameSub", f"userinfo sub {u['sub']!r} != ID token sub {sub!r}")
        validate_standard_claims(u)
        return u

    # ------------------------------------------------------------ whole flows
    def flow(self, v: Variant, b: Browser | None = None, *, client=None, scope="openid", nonce=True, extra=None,
             drop=(), method="GET", params=None, login=True, token=True, pkce_verifier=None, max_age=None) -> Flow:
        """A complete authorization as AbstractOIDCCServerTest runs it: authorization,
        its response's checks, the token request (code flows) and its checks."""
        client = client or v.client
        b = b or self.browser()
        p = params or self.auth_params(v, client, scope=scope, nonce=nonce, extra=extra, drop=drop)
        res = self.authorize(b, p, method=method, login=login)
        self.check_auth_success(v, res)
        f = Flow(auth=res)
        sent_nonce = p.get("nonce") if "request" not in p and "request_uri" not in p else res.sent.get("nonce")
        if v.id_token:
            f.auth_id_token = self.validate_id_token(res.params["id_token"], client, nonce=sent_nonce,
                                                     where="authorization endpoint", max_age=max_age)
            alg = f.auth_id_token["_alg"]
            if v.code:
                check("c_hash" in f.auth_id_token, "ExtractCHash", "no c_hash in the ID token (OIDCC-3.3.2.11)")
                check(f.auth_id_token["c_hash"] == half_hash(res.params["code"], alg), "ValidateCHash", "c_hash does not match the code")
            if v.token:
                if v.response_type == "id_token token":
                    check("at_hash" in f.auth_id_token, "ExtractAtHash", "no at_hash in the ID token (OIDCC-3.2.2.10)")
                if "at_hash" in f.auth_id_token:
                    check(f.auth_id_token["at_hash"] == half_hash(res.params["access_token"], alg), "ValidateAtHash",
                          "at_hash does not match the access token")
            f.id_token = f.auth_id_token
        if v.token:
            f.access_token = res.params["access_token"]
        if v.code and token:
            data = {"grant_type": "authorization_code", "code": res.params["code"], "redirect_uri": client.redirect_uri}
            if pkce_verifier:
                data["code_verifier"] = pkce_verifier
            r = self.token_request(client, data)
            j = self.check_token_response(r)
            f.token_response = j
            f.access_token = j["access_token"]
            f.refresh_token = j.get("refresh_token")
            f.token_id_token = self.validate_id_token(j["id_token"], client, nonce=sent_nonce, max_age=max_age)
            if f.auth_id_token:
                for k in ("iss", "sub"):
                    check(f.auth_id_token.get(k) == f.token_id_token.get(k), "VerifyIdTokenSubConsistentHybridFlow",
                          f"{k} differs between the two ID tokens")
            f.id_token = f.token_id_token
        return f


def page_text(r: requests.Response | None) -> str:
    if r is None:
        return ""
    t = re.sub(r"<[^>]+>", " ", r.text)
    return re.sub(r"\s+", " ", t).strip()[:160]


def validate_standard_claims(u: dict):
    """ValidateUserInfoStandardClaims: the OIDC Core 5.1 claims have their types."""
    strings = ["name", "given_name", "family_name", "middle_name", "nickname", "preferred_username", "profile",
               "picture", "website", "email", "gender", "birthdate", "zoneinfo", "locale", "phone_number"]
    for k in strings:
        if k in u:
            check(isinstance(u[k], str), "ValidateUserInfoStandardClaims", f"{k} is {type(u[k]).__name__}")
    for k in ("email_verified", "phone_number_verified"):
        if k in u:
            check(isinstance(u[k], bool), "ValidateUserInfoStandardClaims", f"{k} is {type(u[k]).__name__}")
    if "address" in u:
        check(isinstance(u["address"], dict), "ValidateUserInfoStandardClaims", "address is not an object")
    if "updated_at" in u:
        check(isinstance(u["updated_at"], (int, float)), "EnsureUserInfoUpdatedAtValid", f"updated_at {u['updated_at']!r}")
    if "birthdate" in u:
        check(re.fullmatch(r"\d{4}(-\d{2}-\d{2})?", u["birthdate"]), "EnsureUserInfoBirthDateValid", u["birthdate"])


def unsigned_request_object(ctx: Ctx, client: Client, params: dict) -> str:
    claims = dict(params)
    claims["aud"] = ctx.issuer
    claims["iss"] = client.client_id
    return b64url(json.dumps({"alg": "none"}).encode()) + "." + b64url(json.dumps(claims).encode()) + "."


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    return verifier, b64url(hashlib.sha256(verifier.encode()).digest())


def cb_host(uri: str) -> str:
    u = urlparse(uri)
    return f"{u.scheme}://{u.netloc}"


__all__ = [
    "Fail", "Skip", "NotApplicable", "Client", "Variant", "Ctx", "Flow", "check", "unsigned_request_object",
    "pkce_pair", "Browser", "page_text", "urljoin", "cb_host", "half_hash",
]
