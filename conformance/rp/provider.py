"""A fault-injecting OpenID Provider for the RP conformance runner (conformance/rp/run.py).

One Provider per module, on 127.0.0.1:0 in a thread of the runner. It signs the user in at
once (no login page: the relying party is under test, not the provider), answers in the
response mode the RP asks for, and injects the module's faults (`faults`, a set of names
from modules.py) into discovery, the JWKS, ID tokens, userinfo, refresh responses and
logout tokens. Every request it receives is logged (`log`, in order), and every response
that carries a fault is marked (`fault_seq`), so the decision rule can tell what the RP did
after it saw the fault.
"""

from __future__ import annotations

import base64
import hashlib
import html
import http.server
import json
import secrets
import threading
import time
from urllib.parse import parse_qs, urlencode, urlparse

import requests
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

SUB = "rp-conformance-user"
USER = {"name": "Conformance User", "given_name": "Conformance", "family_name": "User",
        "email": "rp-conformance@example.com", "email_verified": True}
BCL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
WEBFINGER_REL = "http://openid.net/specs/connect/1.0/issuer"
# A claims provider beside the provider (OIDC Core 5.6.2): issuer ISSUER + CLAIMS_SOURCE, its own key.
CLAIMS_SOURCE = "/claims-source"
SOURCE_TOKEN = "claims-source-token"
SOURCE_CLAIMS = {"address": {"country": "SE", "locality": "Lund"}, "phone_number": "+46 46 000 000"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def half_hash(value: str) -> str:
    """at_hash / c_hash for RS256 (OIDC Core 3.1.3.6, 3.3.2.11)."""
    return b64(hashlib.sha256(value.encode()).digest()[:16])


class Keys:
    """RSA keys made once per run (2048-bit generation is slow) and one P-256 key."""

    def __init__(self, n_rsa: int = 3):
        self.rsa = [RSAKey.generate_key(2048, parameters={"kid": f"rsa-{i}-{secrets.token_hex(4)}", "alg": "RS256", "use": "sig"})
                    for i in range(n_rsa)]
        self.ec = ECKey.generate_key("P-256", parameters={"kid": f"ec-{secrets.token_hex(4)}", "alg": "ES256", "use": "sig"})


def without_kid(key):
    d = key.as_dict(private=True)
    d.pop("kid", None)
    return type(key).import_key(d)


class Provider:
    """The test provider. `faults`: names of the faults to inject (see modules.py)."""

    def __init__(self, keys: Keys, faults=(), *, access_ttl: int = 3600, dynamic: bool = False):
        self.faults = set(faults)
        self.access_ttl = access_ttl
        self.dynamic = dynamic
        self.lock = threading.Lock()
        self.log: list[dict] = []
        self.fault_seq: int | None = None
        self.fault_where = ""
        self.clients: dict[str, dict] = {}
        self.codes: dict[str, dict] = {}
        self.access: dict[str, dict] = {}
        self.refresh: dict[str, dict] = {}
        self.id_tokens: list[str] = []
        self.sid = "sid-" + secrets.token_urlsafe(12)
        self.logout_results: list[dict] = []
        self.jwks_path = "/jwks" + (secrets.token_hex(5) if "random_jwks_uri" in self.faults else "")
        if "kid_absent_single" in self.faults:
            self.signing = without_kid(keys.rsa[0])
            self.published = [self.signing]
        elif "kid_absent_multiple" in self.faults:
            self.signing = without_kid(keys.rsa[1])
            self.published = [without_kid(keys.rsa[0]), self.signing]
        else:
            self.signing = keys.rsa[0]
            self.published = [keys.rsa[0]]
        self.keys = keys
        if {"bcl_wrong_alg"} & self.faults:
            self.published = self.published + [keys.ec]
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self.srv.server_address[1]}"
        self.host = f"127.0.0.1:{self.srv.server_address[1]}"

    # ------------------------------------------------------------------ lifecycle
    def start(self):
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()

    def add_client(self, client_id: str, **meta):
        self.clients[client_id] = meta

    def rotate(self):
        """Replaces the signing key (and the JWKS) with a new one under a new kid."""
        with self.lock:
            nxt = self.keys.rsa[2] if self.signing is not self.keys.rsa[2] else self.keys.rsa[0]
            self.signing = nxt
            self.published = [nxt]

    # ------------------------------------------------------------------ log
    def record(self, method: str, path: str, params: dict, **extra) -> int:
        with self.lock:
            seq = len(self.log)
            self.log.append({"seq": seq, "t": time.time(), "method": method, "path": path,
                             "params": sorted(params), **extra})
            return seq

    def mark_fault(self, seq: int, where: str):
        with self.lock:
            if self.fault_seq is None:
                self.fault_seq, self.fault_where = seq, where

    def requests_after(self, seq: int, paths=("/token", "/userinfo")) -> list[dict]:
        return [e for e in self.log if e["seq"] > seq and e["path"] in paths]

    def seen(self, path: str) -> list[dict]:
        return [e for e in self.log if e["path"] == path]

    # ------------------------------------------------------------------ documents
    def discovery(self) -> dict:
        i = self.issuer
        doc = {
            "issuer": i + "/other-issuer" if "discovery_issuer_mismatch" in self.faults else i,
            "authorization_endpoint": i + "/authorize", "token_endpoint": i + "/token",
            "userinfo_endpoint": i + "/userinfo", "jwks_uri": i + self.jwks_path,
            "end_session_endpoint": i + "/end_session",
            "response_types_supported": ["code", "id_token", "id_token token", "code id_token", "code token",
                                         "code id_token token"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "grant_types_supported": ["authorization_code", "implicit", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256", "none"],
            "userinfo_signing_alg_values_supported": ["RS256"],
            "request_object_signing_alg_values_supported": ["none", "RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email", "email_verified"],
            "code_challenge_methods_supported": ["S256"],
            "request_parameter_supported": True, "request_uri_parameter_supported": True,
            "require_request_uri_registration": False,
            "backchannel_logout_supported": True, "backchannel_logout_session_supported": True,
            "frontchannel_logout_supported": True, "frontchannel_logout_session_supported": True,
        }
        if self.dynamic:
            doc["registration_endpoint"] = i + "/register"
        return doc

    def jwks(self) -> dict:
        with self.lock:
            return {"keys": [k.as_dict(private=False) for k in self.published]}

    # ------------------------------------------------------------------ tokens
    def sign(self, claims: dict, *, key=None, alg: str = "RS256", typ: str | None = None) -> str:
        key = key or self.signing
        header = {"alg": alg}
        if typ:
            header["typ"] = typ
        if alg == "none":
            head = b64(json.dumps({"alg": "none", **({"typ": typ} if typ else {})}).encode())
            return f"{head}.{b64(json.dumps(claims).encode())}."
        if key.kid:
            header["kid"] = key.kid
        return jwt.encode(header, claims, key, algorithms=[alg], default_type=None)

    def id_token(self, grant: dict, *, code: str | None = None, access_token: str | None = None,
                 front: bool, refreshed: bool = False) -> tuple[str, bool]:
        """An ID token for `grant`; returns (token, whether a fault was put in)."""
        f = self.faults
        now = int(time.time())
        c = {"iss": self.issuer, "sub": SUB, "aud": grant["client_id"], "exp": now + 600, "iat": now,
             "auth_time": grant["auth_time"], "sid": self.sid}
        if grant.get("nonce") is not None:
            c["nonce"] = grant["nonce"]
        if front and code:
            c["c_hash"] = half_hash(code)
        if front and access_token:
            c["at_hash"] = half_hash(access_token)
        if grant["response_type"] == "id_token":
            # no userinfo call is possible with response_type=id_token: the claims come in the ID token
            c.update({k: v for k, v in USER.items()})
        faulty = False
        alg = "RS256"
        # the faults of ID tokens from the authorization and token endpoints alike, unless a
        # fault names one of them; refresh faults go into refreshed ID tokens only
        if refreshed:
            if "refresh_invalid_iss" in f:
                c["iss"], faulty = self.issuer + "/invalid", True
            if "refresh_invalid_sub" in f:
                c["sub"], faulty = SUB + "-other", True
        else:
            if "invalid_iss" in f:
                c["iss"], faulty = self.issuer + "/invalid", True
            if "missing_sub" in f:
                del c["sub"]
                faulty = True
            if "invalid_aud" in f:
                c["aud"], faulty = grant["client_id"] + "-invalid", True
            if "missing_iat" in f:
                del c["iat"]
                faulty = True
            if "nonce_invalid" in f and "nonce" in c:
                c["nonce"], faulty = c["nonce"] + "-invalid", True
            if front and "invalid_chash" in f and "c_hash" in c:
                c["c_hash"], faulty = half_hash(code + "x"), True
            if front and "missing_chash" in f and "c_hash" in c:
                del c["c_hash"]
                faulty = True
            if front and "invalid_athash" in f and "at_hash" in c:
                c["at_hash"], faulty = half_hash(access_token + "x"), True
            if front and "missing_athash" in f and "at_hash" in c:
                del c["at_hash"]
                faulty = True
            if "sig_none" in f:
                alg = "none"
            if "rotate_before_signing" in f and not grant.get("rotated"):
                grant["rotated"] = True
                self.rotate()
        tok = self.sign(c, alg=alg)
        if "invalid_sig" in f and not refreshed:
            head, payload, sig = tok.split(".")
            raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
            raw[len(raw) // 2] ^= 0x01
            tok, faulty = f"{head}.{payload}.{b64(bytes(raw))}", True
        self.id_tokens.append(tok)
        return tok, faulty

    def logout_token(self, client_id: str) -> str:
        f = self.faults
        now = int(time.time())
        c = {"iss": self.issuer, "aud": client_id, "iat": now, "exp": now + 120, "jti": secrets.token_urlsafe(12),
             "sub": SUB, "sid": self.sid, "events": {BCL_EVENT: {}}}
        if "bcl_wrong_iss" in f:
            c["iss"] = self.issuer + "/invalid"
        if "bcl_wrong_aud" in f:
            c["aud"] = client_id + "-invalid"
        if "bcl_no_event" in f:
            del c["events"]
        if "bcl_wrong_event" in f:
            c["events"] = {"http://schemas.openid.net/event/other": {}}
        if "bcl_with_nonce" in f:
            c["nonce"] = secrets.token_urlsafe(8)
        if "bcl_alg_none" in f:
            return self.sign(c, alg="none", typ="logout+jwt")
        if "bcl_wrong_alg" in f:
            return self.sign(c, key=self.keys.ec, alg="ES256", typ="logout+jwt")
        return self.sign(c, typ="logout+jwt")

    # ------------------------------------------------------------------ HTTP
    def _handler(self):
        provider = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def params(self) -> tuple[str, dict]:
                u = urlparse(self.path)
                p = {k: v[0] for k, v in parse_qs(u.query).items()}
                if self.command == "POST":
                    n = min(int(self.headers.get("Content-Length") or 0), 1 << 20)
                    body = self.rfile.read(n).decode("utf-8", "replace")
                    if (self.headers.get("Content-Type") or "").startswith("application/json"):
                        try:
                            p["_json"] = json.loads(body)
                        except ValueError:
                            p["_json"] = None
                    else:
                        p.update({k: v[0] for k, v in parse_qs(body).items()})
                return u.path, p

            def send(self, status: int, body, ctype="application/json", headers=None):
                data = body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def redirect(self, location: str):
                self.send_response(303)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):  # noqa: N802
                self.route()

            def do_POST(self):  # noqa: N802
                self.route()

            def route(self):
                path, p = self.params()
                extra = {}
                if path in ("/token", "/userinfo"):
                    auth = self.headers.get("Authorization") or ""
                    extra["auth"] = auth.split(" ")[0].lower() if auth else ""
                seq = provider.record(self.command, path, p, **extra)
                try:
                    routes = {"/.well-known/openid-configuration": provider.h_discovery, provider.jwks_path: provider.h_jwks,
                              "/authorize": provider.h_authorize, "/token": provider.h_token,
                              "/userinfo": provider.h_userinfo, "/end_session": provider.h_end_session,
                              "/register": provider.h_register, "/.well-known/webfinger": provider.h_webfinger,
                              CLAIMS_SOURCE + "/jwks": provider.h_source_jwks,
                              CLAIMS_SOURCE + "/claims": provider.h_source_claims, **provider.extra_routes()}
                    fn = routes.get(path)
                    if fn is None:
                        self.send(404, {"error": "not_found"})
                        return
                    fn(self, p, seq)
                except Exception as e:  # noqa: BLE001 - a provider bug is reported to the module as a 500
                    provider.record("ERROR", path, {}, error=f"{type(e).__name__}: {e}")
                    self.send(500, {"error": "server_error", "error_description": f"{type(e).__name__}: {e}"})

        return H

    def extra_routes(self) -> dict:
        """More paths a subclass serves (fapi2.py: the PAR endpoint)."""
        return {}

    def h_discovery(self, h, p, seq):
        h.send(200, self.discovery())

    def h_jwks(self, h, p, seq):
        h.send(200, self.jwks(), ctype="application/jwk-set+json")

    def h_webfinger(self, h, p, seq):
        res = p.get("resource", "")
        if p.get("rel") != WEBFINGER_REL or not res:
            h.send(400, {"error": "invalid_request"})
            return
        h.send(200, {"subject": res, "links": [{"rel": WEBFINGER_REL, "href": self.issuer}]}, ctype="application/jrd+json")

    def h_register(self, h, p, seq):
        meta = p.get("_json")
        if not self.dynamic or not isinstance(meta, dict) or not meta.get("redirect_uris"):
            h.send(400, {"error": "invalid_client_metadata", "error_description": "redirect_uris required"})
            return
        cid = "dyn-" + secrets.token_urlsafe(8)
        secret = secrets.token_urlsafe(32)
        out = {**meta, "client_id": cid, "client_secret": secret, "client_id_issued_at": int(time.time()),
               "client_secret_expires_at": 0}
        out.setdefault("token_endpoint_auth_method", "client_secret_basic")
        out.setdefault("response_types", ["code"])
        self.add_client(cid, secret=secret, redirect_uris=meta["redirect_uris"],
                        auth_method=out["token_endpoint_auth_method"],
                        response_types=out["response_types"], post_logout_redirect_uris=meta.get("post_logout_redirect_uris", []),
                        registered=meta, jwks=meta.get("jwks"), jwks_uri=meta.get("jwks_uri"))
        h.send(201, out)

    # ------------------------------------------------------------------ the authorization endpoint
    def request_object(self, p: dict, client: dict) -> dict | None:
        """The parameters of a request object (request or request_uri), checked; None without one."""
        ro = p.get("request")
        if "request_uri" in p:
            r = requests.get(p["request_uri"], timeout=5)
            r.raise_for_status()
            ro = r.text.strip()
            self.record("FETCH", "request_uri", {}, alg=json.loads(base64.urlsafe_b64decode(ro.split(".")[0] + "==")).get("alg"))
        if ro is None:
            return None
        head = json.loads(base64.urlsafe_b64decode(ro.split(".")[0] + "=" * (-len(ro.split(".")[0]) % 4)))
        if head.get("alg") == "none":
            payload = ro.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        else:
            jwks = client.get("jwks")
            if not jwks and client.get("jwks_uri"):
                jwks = requests.get(client["jwks_uri"], timeout=5).json()
            claims = jwt.decode(ro, KeySet.import_key_set(jwks), algorithms=[head.get("alg", "RS256")]).claims
        self.record("REQUEST_OBJECT", "request_object", claims, alg=head.get("alg"))
        return {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in claims.items()}

    def h_authorize(self, h, p, seq):
        client = self.clients.get(p.get("client_id", ""))
        if client is None or p.get("redirect_uri") not in client["redirect_uris"]:
            h.send(400, "unknown client or redirect_uri", ctype="text/plain")
            return
        try:
            ro = self.request_object(p, client)
        except Exception as e:  # noqa: BLE001 - a bad request object is the RP's fault: an error page
            h.send(400, f"bad request object: {e}", ctype="text/plain")
            return
        if ro:
            p = {**p, **ro}
        self.log[seq]["request"] = {k: p.get(k) for k in ("response_type", "response_mode", "scope", "prompt", "max_age",
                                                         "code_challenge_method", "claims")}
        self.log[seq]["has"] = sorted(k for k in ("nonce", "state", "code_challenge", "request", "request_uri") if k in p)
        rt = p.get("response_type", "")
        types = set(rt.split())
        redirect = p["redirect_uri"]
        mode = p.get("response_mode") or ("query" if rt == "code" else "fragment")
        out: dict = {}
        if "state" in p:
            out["state"] = p["state"]
        if "form_post_error" in self.faults:
            self.log[seq]["max_age_prompt"] = (p.get("max_age"), p.get("prompt"))
            out.update({"error": "login_required", "error_description": "Error response using form_post"})
            self.mark_fault(seq, "authorization error response")
            self.respond(h, redirect, mode, out)
            return
        if "openid" not in p.get("scope", "").split() or rt not in client["response_types"]:
            out.update({"error": "invalid_request", "error_description": "scope openid and a registered response_type required"})
            self.respond(h, redirect, mode, out)
            return
        if types != {"code"} and not p.get("nonce"):
            out.update({"error": "invalid_request", "error_description": "nonce required"})
            self.respond(h, redirect, mode, out)
            return
        grant = {"client_id": p["client_id"], "redirect_uri": redirect, "nonce": p.get("nonce"), "scope": p.get("scope"),
                 "response_type": rt, "auth_time": int(time.time()), "challenge": p.get("code_challenge"),
                 "challenge_method": p.get("code_challenge_method")}
        code = at = None
        if "code" in types:
            code = secrets.token_urlsafe(24)
            self.codes[code] = grant
            out["code"] = code
        if "token" in types:
            at = self.new_access(grant)
            out.update({"access_token": at, "token_type": "Bearer", "expires_in": str(self.access_ttl)})
        if "id_token" in types:
            tok, faulty = self.id_token(grant, code=code, access_token=at, front=True)
            out["id_token"] = tok
            if faulty:
                self.mark_fault(seq, "ID token in the authorization response")
        self.respond(h, redirect, mode, out)

    def respond(self, h, redirect: str, mode: str, out: dict):
        if mode == "form_post":
            inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in out.items())
            page = (f'<!doctype html><html><body onload="document.forms[0].submit()"><form method="post" '
                    f'action="{html.escape(redirect)}">{inputs}<noscript><button type="submit">Continue</button></noscript>'
                    '</form></body></html>')
            h.send(200, page, ctype="text/html; charset=utf-8")
        elif mode == "fragment":
            h.redirect(f"{redirect}#{urlencode(out)}")
        else:
            h.redirect(f"{redirect}{'&' if '?' in redirect else '?'}{urlencode(out)}")

    def new_access(self, grant: dict) -> str:
        at = "at-" + secrets.token_urlsafe(24)
        self.access[at] = {**grant, "exp": time.time() + self.access_ttl}
        return at

    # ------------------------------------------------------------------ the token endpoint
    def client_auth(self, h, p) -> tuple[str | None, str]:
        """(client_id or None, the method used)."""
        auth = h.headers.get("Authorization") or ""
        if auth.lower().startswith("basic "):
            try:
                cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return None, "basic"
            from urllib.parse import unquote_plus
            cid, secret = unquote_plus(cid), unquote_plus(secret)
            c = self.clients.get(cid)
            return (cid if c and secrets.compare_digest(c["secret"], secret) else None), "client_secret_basic"
        if "client_secret" in p:
            c = self.clients.get(p.get("client_id", ""))
            ok = c and secrets.compare_digest(c["secret"], p["client_secret"])
            return (p["client_id"] if ok else None), "client_secret_post"
        if "client_assertion" in p:
            return p.get("client_id"), "private_key_jwt"
        return None, "none"

    def h_token(self, h, p, seq):
        cid, method = self.client_auth(h, p)
        self.log[seq]["client_auth"] = method
        if cid is None:
            h.send(401, {"error": "invalid_client"})
            return
        gt = p.get("grant_type")
        if gt == "authorization_code":
            grant = self.codes.pop(p.get("code", ""), None)
            if grant is None or grant["client_id"] != cid or grant["redirect_uri"] != p.get("redirect_uri"):
                h.send(400, {"error": "invalid_grant"})
                return
            if grant["challenge"]:
                v = p.get("code_verifier", "")
                if b64(hashlib.sha256(v.encode()).digest()) != grant["challenge"]:
                    h.send(400, {"error": "invalid_grant", "error_description": "PKCE verification failed"})
                    return
            refreshed = False
        elif gt == "refresh_token":
            grant = self.refresh.pop(p.get("refresh_token", ""), None)
            if grant is None or grant["client_id"] != cid:
                h.send(400, {"error": "invalid_grant"})
                return
            refreshed = True
        else:
            h.send(400, {"error": "unsupported_grant_type"})
            return
        at = self.new_access(grant)
        rt = "rt-" + secrets.token_urlsafe(24)
        self.refresh[rt] = grant
        tok, faulty = self.id_token(grant, front=False, refreshed=refreshed)
        self.log[seq]["issued_access_token"] = at
        if faulty:
            self.mark_fault(seq, "ID token in the refresh response" if refreshed else "ID token in the token response")
        h.send(200, {"access_token": at, "token_type": "Bearer", "expires_in": self.access_ttl, "refresh_token": rt,
                     "id_token": tok, "scope": grant.get("scope") or "openid"})

    # ------------------------------------------------------------------ userinfo
    def h_userinfo(self, h, p, seq):
        auth = h.headers.get("Authorization") or ""
        at = auth[7:] if auth.lower().startswith("bearer ") else p.get("access_token", "")
        self.log[seq]["bearer"] = "header" if auth.lower().startswith("bearer ") else ("body" if "access_token" in p and h.command == "POST" else "query" if "access_token" in p else "none")
        self.log[seq]["access_token"] = at
        grant = self.access.get(at)
        if grant is None or grant["exp"] < time.time():
            h.send(401, {"error": "invalid_token"}, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
            return
        info = {"sub": SUB, **USER}
        self.external_claims(info)
        if "userinfo_invalid_sub" in self.faults:
            info["sub"] = SUB + "-invalid"
            self.mark_fault(seq, "userinfo response")
        if "userinfo_signed" in self.faults:
            now = int(time.time())
            h.send(200, self.sign({**info, "iss": self.issuer, "aud": grant["client_id"], "iat": now, "exp": now + 300}),
                   ctype="application/jwt")
            return
        h.send(200, info)

    # ------------------------------------------------------------------ external claims
    def source_jwt(self, key=None) -> str:
        now = int(time.time())
        return self.sign({"iss": self.issuer + CLAIMS_SOURCE, "sub": SUB, "iat": now, "exp": now + 300, **SOURCE_CLAIMS},
                         key=key or self.keys.rsa[1])

    def external_claims(self, info: dict):
        """Aggregated or distributed claims in userinfo (faults claims_aggregated, claims_distributed,
        claims_forged: an aggregated JWT signed with a key the source never published)."""
        names = {n: "src1" for n in SOURCE_CLAIMS}
        if "claims_aggregated" in self.faults:
            info.update({"_claim_names": names, "_claim_sources": {"src1": {"JWT": self.source_jwt()}}})
        elif "claims_forged" in self.faults:
            info.update({"_claim_names": names, "_claim_sources": {"src1": {"JWT": self.source_jwt(self.keys.rsa[2])}}})
        elif "claims_distributed" in self.faults:
            info.update({"_claim_names": names, "_claim_sources": {"src1": {
                "endpoint": self.issuer + CLAIMS_SOURCE + "/claims", "access_token": SOURCE_TOKEN}}})

    def h_source_jwks(self, h, p, seq):
        h.send(200, {"keys": [self.keys.rsa[1].as_dict(private=False)]}, ctype="application/jwk-set+json")

    def h_source_claims(self, h, p, seq):
        auth = h.headers.get("Authorization") or ""
        self.log[seq]["bearer_ok"] = auth == "Bearer " + SOURCE_TOKEN
        if auth != "Bearer " + SOURCE_TOKEN:
            h.send(401, {"error": "invalid_token"})
            return
        h.send(200, self.source_jwt(), ctype="application/jwt")

    # ------------------------------------------------------------------ logout
    def h_end_session(self, h, p, seq):
        self.log[seq]["end_session"] = {k: p.get(k) for k in ("state", "post_logout_redirect_uri", "client_id")}
        self.log[seq]["hint_ok"] = p.get("id_token_hint") in self.id_tokens
        client = None
        for cid, c in self.clients.items():
            if p.get("client_id") in (None, cid) and p.get("post_logout_redirect_uri") in c.get("post_logout_redirect_uris", []):
                client = (cid, c)
        if client is None:
            h.send(400, "unknown post_logout_redirect_uri", ctype="text/plain")
            return
        cid, c = client
        if c.get("backchannel_logout_uri"):
            token = self.logout_token(cid)
            try:
                r = requests.post(c["backchannel_logout_uri"], data={"logout_token": token}, timeout=10)
                self.logout_results.append({"status": r.status_code, "body": r.text[:200]})
            except requests.RequestException as e:
                self.logout_results.append({"status": None, "body": str(e)})
            if self.faults & {"bcl_alg_none", "bcl_no_event", "bcl_with_nonce", "bcl_wrong_alg", "bcl_wrong_aud",
                              "bcl_wrong_event", "bcl_wrong_iss"}:
                self.mark_fault(seq, "logout token")
        back = p["post_logout_redirect_uri"]
        q = {}
        if "state" in p and "logout_no_state" not in self.faults:
            q["state"] = "other-" + secrets.token_urlsafe(8) if "logout_other_state" in self.faults else p["state"]
        back = back + ("?" + urlencode(q) if q else "")
        if c.get("frontchannel_logout_uri"):
            fl = c["frontchannel_logout_uri"]
            fl += ("&" if "?" in fl else "?") + urlencode({"iss": self.issuer, "sid": self.sid})
            page = (f'<!doctype html><html><body><iframe src="{html.escape(fl)}"></iframe>'
                    f'<a id="continue" href="{html.escape(back)}">Continue</a></body></html>')
            h.send(200, page, ctype="text/html; charset=utf-8")
            return
        h.redirect(back)
