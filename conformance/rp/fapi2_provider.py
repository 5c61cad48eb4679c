"""The test provider of the FAPI 2.0 Security Profile plan (fapi2.py): provider.py's, with what
FAPI 2.0 asks of an authorization server (FAPI 2.0 Security Profile Final §5.3), as the
conformance suite's own provider does it (AbstractFAPI2SPFinalClientTest):

- a pushed authorization request endpoint (RFC 9126) and an authorization endpoint that takes
  only `client_id` and a pushed `request_uri`, once;
- `private_key_jwt` client authentication at both (the assertion verified with the app's public
  key; `aud` the issuer, as a string; `jti` once);
- PKCE S256 required and checked;
- DPoP (RFC 9449) at the token and userinfo endpoints: every proof checked (typ, alg, a public
  jwk, the signature, htm, htu, iat, jti once, ath, the token's jkt), DPoP-bound access tokens,
  and a server nonce (`use_dpop_nonce`, a new one after each use) unless the module says not;
- `iss` in the authorization response (RFC 9207); ID tokens signed with ES256.

What the app got wrong by these rules is kept in `violations` (the module FAILs on any), next to
the request log; the faults of the module go where its suite module puts them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time

from joserfc import jwt
from joserfc.jwk import KeySet, import_key

from provider import SUB, USER, Provider, b64, half_hash

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
# FAPI 2.0 Security Profile §5.4.1: PS256, ES256, EdDSA (Ed25519).
FAPI_ALGS = ["PS256", "ES256", "EdDSA"]
PROOF_IAT_WINDOW = 60

# The module's faults in the token endpoint's ID token, by name (the suite's modules).
ID_TOKEN_FAULTS = {"invalid_iss", "invalid_aud", "secondary_aud", "null_alg", "alternate_alg", "expired_exp",
                   "missing_exp", "missing_aud", "missing_iss", "invalid_nonce", "missing_nonce"}
# ... and in the authorization response.
AUTHZ_FAULTS = {"authz_invalid_iss", "authz_no_iss", "invalid_state", "missing_state"}


def unverified(token: str) -> tuple[dict, dict]:
    """The header and claims of a JWS, unverified (to choose the key)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWS compact serialization")

    def part(s):
        return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
    return part(parts[0]), part(parts[1])


class Fapi2Provider(Provider):
    """`client_jwk`: the app's public key; `dpop_nonce`: whether the endpoints ask for nonces."""

    def __init__(self, keys, faults=(), *, client_id: str, client_jwk: dict, dpop_nonce: bool = True):
        super().__init__(keys, faults)
        self.signing = keys.ec
        # the suite publishes an RSA key beside its signing key (SetRsaAltServerJwks): the one
        # alternate-alg signs with
        self.published = [keys.ec, keys.rsa[0]]
        self.client_id = client_id
        self.client_keys = KeySet.import_key_set({"keys": [client_jwk]})
        self.dpop_nonce = dpop_nonce
        self.as_nonce = self.rs_nonce = None
        if dpop_nonce:
            self.as_nonce, self.rs_nonce = "as-" + secrets.token_urlsafe(12), "rs-" + secrets.token_urlsafe(12)
        self.pushed: dict[str, dict] = {}
        self.jtis: set[str] = set()
        self.violations: list[str] = []
        self.nonces_asked = 0

    def extra_routes(self) -> dict:
        return {"/par": self.h_par}

    def violation(self, seq: int, what: str):
        with self.lock:
            self.violations.append(f"#{seq} {self.log[seq]['path']}: {what}")

    # ------------------------------------------------------------------ documents
    def discovery(self) -> dict:
        i = self.issuer
        return {
            "issuer": i + "/other-issuer" if "discovery_issuer_mismatch" in self.faults else i,
            "authorization_endpoint": i + "/authorize", "token_endpoint": i + "/token",
            "pushed_authorization_request_endpoint": i + "/par", "require_pushed_authorization_requests": True,
            "userinfo_endpoint": i + "/userinfo", "jwks_uri": i + self.jwks_path,
            "response_types_supported": ["code"], "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"], "scopes_supported": ["openid", "profile", "email"],
            "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email", "email_verified"],
            "id_token_signing_alg_values_supported": ["ES256", "PS256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": FAPI_ALGS,
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,
            "dpop_signing_alg_values_supported": FAPI_ALGS,
        }

    # ------------------------------------------------------------------ client authentication
    def client_auth_jwt(self, p: dict, seq: int) -> str | None:
        """private_key_jwt (RFC 7523 §3, FAPI 2.0 §5.3.3.1-5); the client id, or None (logged)."""
        self.log[seq]["client_auth"] = "private_key_jwt" if "client_assertion" in p else "other"
        why = None
        if p.get("client_assertion_type") != ASSERTION_TYPE or "client_assertion" not in p:
            why = "no private_key_jwt client assertion"
        else:
            try:
                head, _ = unverified(p["client_assertion"])
                self.log[seq]["assertion_alg"] = head.get("alg")
                if head.get("alg") not in FAPI_ALGS:
                    raise ValueError(f"assertion alg {head.get('alg')}")
                c = jwt.decode(p["client_assertion"], self.client_keys, algorithms=FAPI_ALGS).claims
                now = time.time()
                if c.get("iss") != self.client_id or c.get("sub") != self.client_id:
                    why = f"assertion iss/sub {c.get('iss')}/{c.get('sub')}"
                elif c.get("aud") != self.issuer:
                    why = f"assertion aud {c.get('aud')!r}, not the issuer as a string"
                elif not isinstance(c.get("exp"), int) or c["exp"] < now:
                    why = "assertion exp missing or past"
                elif not c.get("jti") or c["jti"] in self.jtis:
                    why = "assertion jti missing or reused"
                elif p.get("client_id", self.client_id) != self.client_id:
                    why = "client_id differs from the assertion's"
                else:
                    self.jtis.add(c["jti"])
            except Exception as e:  # noqa: BLE001 - any bad assertion is the app's fault
                why = f"assertion not verified: {type(e).__name__}: {e}"
        if why:
            self.violation(seq, why)
            return None
        self.log[seq]["assertion_ok"] = True
        return self.client_id

    # ------------------------------------------------------------------ DPoP
    def check_proof(self, h, seq: int, url: str, *, nonce: str | None, access: dict | None = None,
                    access_token: str | None = None) -> tuple[str | None, str | None]:
        """RFC 9449 §4.3 on the request's proof: (jkt, None), or (None, "nonce") when the proof lacks
        the server's nonce, or (None, why) (logged as a violation)."""
        proofs = h.headers.get_all("DPoP") or []
        if len(proofs) != 1:
            why = f"{len(proofs)} DPoP headers"
            self.violation(seq, why)
            return None, why
        try:
            head, _ = unverified(proofs[0])
            if head.get("typ") != "dpop+jwt":
                raise ValueError(f"typ {head.get('typ')!r}")
            if head.get("alg") not in FAPI_ALGS:
                raise ValueError(f"alg {head.get('alg')}")
            jwk = head.get("jwk")
            if not isinstance(jwk, dict) or "d" in jwk:
                raise ValueError("no public jwk in the header")
            key = import_key(jwk)
            c = jwt.decode(proofs[0], key, algorithms=[head["alg"]]).claims
            if c.get("htm") != h.command:
                raise ValueError(f"htm {c.get('htm')!r}")
            if c.get("htu") != url:
                raise ValueError(f"htu {c.get('htu')!r}, not {url}")
            if not isinstance(c.get("iat"), int) or abs(c["iat"] - time.time()) > PROOF_IAT_WINDOW:
                raise ValueError("iat missing or too far from now")
            if not c.get("jti") or ("dpop", c["jti"]) in self.jtis:
                raise ValueError("jti missing or reused")
            self.jtis.add(("dpop", c["jti"]))
            jkt = key.thumbprint()
            if access_token is not None:
                if c.get("ath") != b64(hashlib.sha256(access_token.encode()).digest()):
                    raise ValueError("ath is not the access token's hash")
                if access is not None and access.get("jkt") != jkt:
                    raise ValueError("signed with another key than the token is bound to")
        except Exception as e:  # noqa: BLE001 - any bad proof is the app's fault
            why = f"DPoP proof: {type(e).__name__}: {e}"
            self.violation(seq, why)
            return None, why
        self.log[seq]["proof_nonce"] = c.get("nonce")
        if nonce is not None and c.get("nonce") != nonce:
            self.nonces_asked += 1
            self.log[seq]["nonce_asked"] = True
            return None, "nonce"
        if nonce is None and "nonce" in c:
            self.violation(seq, "a DPoP nonce the server never gave")
        self.log[seq]["proof_ok"] = True
        return jkt, None

    # ------------------------------------------------------------------ PAR
    def h_par(self, h, p, seq):
        if h.command != "POST":
            h.send(405, {"error": "invalid_request"})
            return
        if self.client_auth_jwt(p, seq) is None:
            h.send(401, {"error": "invalid_client"})
            return
        if "request_uri" in p or "request" in p:
            self.violation(seq, "request_uri or request in an unsigned pushed request")
        self.log[seq]["has"] = sorted(k for k in ("nonce", "state", "code_challenge") if k in p)
        problems = []
        if p.get("response_type") != "code":
            problems.append(f"response_type {p.get('response_type')!r}")
        if p.get("redirect_uri") not in self.clients[self.client_id]["redirect_uris"]:
            problems.append(f"redirect_uri {p.get('redirect_uri')!r}")
        if "openid" not in p.get("scope", "").split():
            problems.append("no openid scope")
        if not p.get("code_challenge") or p.get("code_challenge_method") != "S256":
            problems.append("no PKCE S256 challenge")
        if problems:
            self.violation(seq, ", ".join(problems))
            h.send(400, {"error": "invalid_request", "error_description": ", ".join(problems)})
            return
        if h.headers.get("DPoP"):  # optional at PAR (RFC 9449 §10.1); checked when sent
            jkt, why = self.check_proof(h, seq, self.issuer + "/par", nonce=self.as_nonce)
            if why == "nonce":
                h.send(400, {"error": "use_dpop_nonce"}, headers={"DPoP-Nonce": self.as_nonce})
                return
            p = {**p, "dpop_jkt": jkt}
        uri = REQUEST_URI_PREFIX + secrets.token_urlsafe(24)
        self.pushed[uri] = {"params": p, "exp": time.time() + 60}
        h.send(201, {"request_uri": uri, "expires_in": 60})

    # ------------------------------------------------------------------ the authorization endpoint
    def h_authorize(self, h, p, seq):
        extra = sorted(set(p) - {"client_id", "request_uri"})
        if extra:  # PAR §4, FAPI 2.0 §5.3.3.2-6: the pushed request's parameters stay pushed
            self.violation(seq, f"parameters beside the pushed request: {extra}")
        pushed = self.pushed.pop(p.get("request_uri", ""), None)
        if pushed is None or pushed["exp"] < time.time() or p.get("client_id") != self.client_id:
            self.violation(seq, "no pushed request_uri (or reused, expired, another client)")
            h.send(400, "unknown request_uri", ctype="text/plain")
            return
        q = pushed["params"]
        self.log[seq]["has"] = sorted(p)
        grant = {"client_id": self.client_id, "redirect_uri": q["redirect_uri"], "nonce": q.get("nonce"),
                 "scope": q.get("scope"), "response_type": "code", "auth_time": int(time.time()),
                 "challenge": q["code_challenge"], "dpop_jkt": q.get("dpop_jkt")}
        code = secrets.token_urlsafe(24)
        self.codes[code] = grant
        out = {"code": code}
        if "state" in q:
            out["state"] = q["state"]
        out["iss"] = self.issuer
        f = self.faults
        if "authz_invalid_iss" in f:
            out["iss"] = self.issuer + "/invalid"
        if "authz_no_iss" in f:
            del out["iss"]
        if "invalid_state" in f:
            out["state"] = "invalid-" + secrets.token_urlsafe(8)
        if "missing_state" in f:
            out.pop("state", None)
        if f & AUTHZ_FAULTS:
            self.mark_fault(seq, "authorization response")
        if self.dpop_nonce:  # the suite makes a new nonce after each authorization response
            self.as_nonce = "as-" + secrets.token_urlsafe(12)
        self.respond(h, q["redirect_uri"], "query", out)

    # ------------------------------------------------------------------ the token endpoint
    def h_token(self, h, p, seq):
        if self.client_auth_jwt(p, seq) is None:
            h.send(401, {"error": "invalid_client"})
            return
        jkt, why = self.check_proof(h, seq, self.issuer + "/token", nonce=self.as_nonce)
        if why == "nonce":
            h.send(400, {"error": "use_dpop_nonce", "error_description": "use this server's DPoP nonce"},
                   headers={"DPoP-Nonce": self.as_nonce})
            return
        if why:
            h.send(400, {"error": "invalid_dpop_proof", "error_description": why})
            return
        gt = p.get("grant_type")
        if gt == "authorization_code":
            grant = self.codes.pop(p.get("code", ""), None)
            v = p.get("code_verifier", "")
            if grant is None or grant["redirect_uri"] != p.get("redirect_uri"):
                self.violation(seq, "unknown code or another redirect_uri")
                h.send(400, {"error": "invalid_grant"})
                return
            if b64(hashlib.sha256(v.encode()).digest()) != grant["challenge"]:
                self.violation(seq, "the code_verifier does not match the S256 challenge")
                h.send(400, {"error": "invalid_grant", "error_description": "PKCE verification failed"})
                return
            if grant.get("dpop_jkt") and grant["dpop_jkt"] != jkt:
                self.violation(seq, "the token request's proof key is not the pushed request's")
                h.send(400, {"error": "invalid_grant"})
                return
        elif gt == "refresh_token":
            grant = self.refresh.pop(p.get("refresh_token", ""), None)
            if grant is None:
                h.send(400, {"error": "invalid_grant"})
                return
        else:
            h.send(400, {"error": "unsupported_grant_type"})
            return
        at = "at-" + secrets.token_urlsafe(24)
        self.access[at] = {**grant, "exp": time.time() + self.access_ttl, "jkt": jkt}
        rt = "rt-" + secrets.token_urlsafe(24)
        self.refresh[rt] = grant
        tok, faulty = self.fapi_id_token(grant, at)
        self.log[seq]["issued_access_token"] = at
        if faulty:
            self.mark_fault(seq, "ID token in the token response")
        body = {"access_token": at, "token_type": "dPoP" if "token_type_case" in self.faults else "DPoP",
                "expires_in": self.access_ttl, "refresh_token": rt, "id_token": tok, "scope": grant.get("scope")}
        if "no_expires_in" in self.faults:
            del body["expires_in"]
        if self.dpop_nonce:  # a new nonce after each use, as the suite
            self.as_nonce = "as-" + secrets.token_urlsafe(12)
        h.send(200, body)

    def fapi_id_token(self, grant: dict, at: str) -> tuple[str, bool]:
        f = self.faults
        now = int(time.time())
        c = {"iss": self.issuer, "sub": SUB, "aud": self.client_id, "exp": now + 600, "iat": now,
             "auth_time": grant["auth_time"], "at_hash": half_hash(at)}
        if grant.get("nonce") is not None:
            c["nonce"] = grant["nonce"]
        if "aud_array" in f:
            c["aud"] = [self.client_id]
        if "invalid_iss" in f:
            c["iss"] = self.issuer + "/invalid"
        if "invalid_aud" in f:
            c["aud"] = self.client_id + "-invalid"
        if "secondary_aud" in f:  # an untrusted second audience, no azp
            c["aud"] = [self.client_id, "untrusted-" + secrets.token_hex(4)]
        if "expired_exp" in f:  # more than 5 minutes past (the suite's module)
            c["exp"], c["iat"] = now - 360, now - 960
        for name in ("exp", "aud", "iss", "nonce"):
            if f"missing_{name}" in f:
                c.pop(name, None)
        if "invalid_nonce" in f and "nonce" in c:
            c["nonce"] += "-invalid"
        if "null_alg" in f:
            tok = self.sign(c, alg="none")
        elif "alternate_alg" in f:
            tok = self.sign(c, key=self.keys.rsa[0], alg="RS256")
        else:
            tok = self.sign(c, alg="ES256")
        self.id_tokens.append(tok)
        return tok, bool(f & ID_TOKEN_FAULTS)

    # ------------------------------------------------------------------ userinfo
    def h_userinfo(self, h, p, seq):
        auth = h.headers.get("Authorization") or ""
        scheme, _, at = auth.partition(" ")
        self.log[seq]["access_token"] = at
        self.log[seq]["bearer"] = scheme or "none"
        access = self.access.get(at)
        if scheme.lower() != "dpop" or access is None or access["exp"] < time.time():
            if access is not None and scheme.lower() != "dpop":
                self.violation(seq, f"a DPoP-bound token sent with the {scheme or 'no'} scheme")
            h.send(401, {"error": "invalid_token"}, headers={"WWW-Authenticate": 'DPoP error="invalid_token"'})
            return
        _jkt, why = self.check_proof(h, seq, self.issuer + "/userinfo", nonce=self.rs_nonce, access=access,
                                     access_token=at)
        if why == "nonce":
            # RFC 9449 §9; the rs-dpop-auth-scheme-case module writes the scheme in another case
            word = "dPoP" if "rs_scheme_case" in self.faults else "DPoP"
            h.send(401, {"error": "use_dpop_nonce"}, headers={
                "WWW-Authenticate": f'{word} error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"',
                "DPoP-Nonce": self.rs_nonce})
            return
        if why:
            h.send(401, {"error": "invalid_dpop_proof"}, headers={"WWW-Authenticate": 'DPoP error="invalid_dpop_proof"'})
            return
        if self.dpop_nonce:
            self.rs_nonce = "rs-" + secrets.token_urlsafe(12)
        h.send(200, {"sub": SUB, **USER})
