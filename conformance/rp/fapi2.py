"""The FAPI 2.0 Security Profile Final RP plan (`fapi2-security-profile-final-client-test-plan`),
module by module with the suite's names (openid-certification/conformance-suite,
net.openid.conformance.fapi2spfinal: FAPI2SPFinalClientTestPlan is the Message Signing plan's
list without its JARM modules, with fapi_request_method=unsigned and
fapi_response_mode=plain_response).

`sesame app --profile fapi2 --private-key KEY` (private_key_jwt, PAR, PKCE S256, DPoP, `iss` in
the authorization response required) against fapi2_provider.py. The variant run: plain_fapi,
client_auth_type=private_key_jwt, sender_constrain=dpop, openid=openid_connect (an ES256 key; the
happy path once more with an RSA key, which the profile signs with PS256). The resource the app
calls is the userinfo endpoint (the suite's summary: "usually the 'accounts' or 'userinfo'
endpoint"). mTLS variants are SKIPPED: Sesame declines mTLS.
"""

from __future__ import annotations

import os
import threading

from fapi2_provider import Fapi2Provider
from harness import Env, Fail, NotApplicable, Run, Skip
from modules import LAST, Variant

PLAN = "fapi2-security-profile-final-client-test-plan"
PROFILE = ["--profile", "fapi2"]
EC_KEY = "rp-key-p256.pem"
_KEY_LOCK = threading.Lock()


def app_key(env: Env, kind: str) -> tuple[str, dict]:
    """The app's key file and its public JWK: a P-256 key made once per run, or the runner's RSA one."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from joserfc.jwk import import_key

    path = env.private_key if kind == "rsa" else os.path.join(env.work, EC_KEY)
    with _KEY_LOCK:
        if not os.path.exists(path):
            k = ec.generate_private_key(ec.SECP256R1())
            with open(path, "wb") as f:
                f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
        with open(path, "rb") as f:
            pem = f.read()
    return path, import_key(pem, "RSA" if kind == "rsa" else "EC").as_dict(private=False)


class Fapi2Run(Run):
    """A module's run: the FAPI 2.0 provider with its one client (the app's public key, no secret)."""

    def __init__(self, env: Env, faults=(), *, key="ec", dpop_nonce=True):
        self.key_path, jwk = app_key(env, key)
        p = Fapi2Provider(env.keys, faults, client_id=self.CLIENT_ID, client_jwk=jwk, dpop_nonce=dpop_nonce)
        super().__init__(env, "code", faults, provider=p)
        p.add_client(self.CLIENT_ID, redirect_uris=[self.app + "/callback"], response_types=["code"],
                     auth_method="private_key_jwt", post_logout_redirect_uris=[])

    def client_args(self) -> list[str]:
        return ["--client-id", self.CLIENT_ID, "--private-key", self.key_path, *PROFILE]

    def clean(self, upto: int | None = None) -> None:
        """FAIL on anything the app did against the profile (before `upto`, a fault's request)."""
        bad = [v for v in self.p.violations if upto is None or int(v[1:].split(" ")[0]) < upto]
        if bad:
            raise Fail("against FAPI 2.0: " + "; ".join(bad[:3]))

    def fapi_flow(self, *, nonce: bool) -> str:
        """What every sign-in must show: a pushed, authenticated request; PKCE; DPoP proofs."""
        pars = [e for e in self.p.seen("/par") if e.get("assertion_ok")]
        if not pars:
            raise Fail("no authenticated pushed authorization request")
        tokens = [e for e in self.p.seen("/token") if e.get("proof_ok")]
        if not tokens or not all(e.get("assertion_ok") for e in self.p.seen("/token")):
            raise Fail("no token request with a valid DPoP proof and client assertion")
        if not any(e.get("proof_ok") for e in self.p.seen("/userinfo")):
            raise Fail("no userinfo request with the DPoP-bound token and a proof")
        if nonce and not any(e.get("nonce_asked") for e in self.p.seen("/token")):
            raise Fail("runner: the token endpoint never asked for a DPoP nonce")
        if not nonce and any(e.get("proof_nonce") for e in self.p.log):
            raise Fail("a DPoP nonce in a proof although the provider gave none")
        asked = self.p.nonces_asked
        return ("PAR with private_key_jwt, PKCE S256, DPoP-bound token, userinfo with a proof"
                + (f"; {asked} use_dpop_nonce answered (token, userinfo)" if nonce else "; no DPoP nonce"))


def run2(env: Env, fn, faults=(), **kw):
    r = Fapi2Run(env, faults, **kw)
    LAST.provider = r.p
    try:
        return fn(r)
    finally:
        r.stop()


def happy(faults=(), *, key="ec", dpop_nonce=True, note=""):
    alg = "PS256" if key == "rsa" else "ES256"

    def module(env: Env, v: Variant):
        def go(r: Fapi2Run):
            r.must_start()
            b = r.login()
            r.clean()
            me = r.signed_in(b)
            if me.get("dpop") is not True:
                raise Fail(f"the session's token is not DPoP-bound: {me.get('dpop')!r}")
            algs = {e.get("assertion_alg") for e in r.p.log if "assertion_alg" in e}
            if algs != {alg}:
                raise Fail(f"client assertions signed with {sorted(algs)}, not {alg}")
            return (note + "; " if note else "") + r.fapi_flow(nonce=dpop_nonce)
        return run2(env, go, faults, key=key, dpop_nonce=dpop_nonce)
    return module


def reject(fault: str):
    """The suite's "expect nothing after": after the faulty response, no token or userinfo request."""
    def module(env: Env, v: Variant):
        def go(r: Fapi2Run):
            r.must_start()
            b = r.login()
            r.clean(r.p.fault_seq)
            return r.rejected(b)
        return run2(env, go, [fault])
    return module


def issuer_mismatch(env: Env, v: Variant):
    def go(r: Fapi2Run):
        why = r.start_app()
        if why is None:
            b = r.login()
            if b.me(r.app)[0] == 200:
                raise Fail("signed in although discovery named another issuer")
            if r.p.seen("/par") or r.p.seen("/authorize"):
                raise Fail("an authorization request was sent although discovery named another issuer")
            return "no authorization request, no session"
        if "issuer" not in why.lower():
            raise Fail(f"the app did not start, but not over the issuer: {why}")
        return f"the app refused the provider at start: {why[:160]}"
    return run2(env, go, ["discovery_issuer_mismatch"])


def not_applicable(why: str):
    def module(env: Env, v: Variant):
        raise NotApplicable(why)
    return module


def mtls(env: Env, v: Variant):
    raise Skip("Sesame declines mTLS (client authentication and sender-constrained tokens): no `sesame app` "
               "option for a client certificate; the plan's DPoP and private_key_jwt variants run above")


MODULES = [
    ("fapi2-security-profile-final-client-test-happy-path", happy()),
    ("fapi2-security-profile-final-client-test-discovery-issuer-mismatch", issuer_mismatch),
    ("fapi2-security-profile-final-client-test-invalid-iss", reject("invalid_iss")),
    ("fapi2-security-profile-final-client-test-invalid-aud", reject("invalid_aud")),
    ("fapi2-security-profile-final-client-test-invalid-secondary-aud", reject("secondary_aud")),
    ("fapi2-security-profile-final-client-test-invalid-null-alg", reject("null_alg")),
    ("fapi2-security-profile-final-client-test-invalid-alternate-alg", reject("alternate_alg")),
    ("fapi2-security-profile-final-client-test-invalid-expired-exp", reject("expired_exp")),
    ("fapi2-security-profile-final-client-test-invalid-missing-exp", reject("missing_exp")),
    ("fapi2-security-profile-final-client-test-invalid-missing-aud", reject("missing_aud")),
    ("fapi2-security-profile-final-client-test-invalid-missing-iss", reject("missing_iss")),
    ("fapi2-security-profile-final-client-test-valid-aud-as-array",
     happy(["aud_array"], note="aud [client_id] accepted")),
    ("fapi2-security-profile-final-client-test-invalid-nonce", reject("invalid_nonce")),
    ("fapi2-security-profile-final-client-test-invalid-missing-nonce", reject("missing_nonce")),
    ("fapi2-security-profile-final-client-test-invalid-authorization-response-iss", reject("authz_invalid_iss")),
    ("fapi2-security-profile-final-client-test-remove-authorization-response-iss", reject("authz_no_iss")),
    ("fapi2-security-profile-final-client-test-ensure-authorization-response-with-invalid-state-fails",
     reject("invalid_state")),
    ("fapi2-security-profile-final-client-test-ensure-authorization-response-with-invalid-missing-state-fails",
     reject("missing_state")),
    ("fapi2-security-profile-final-client-test-token-endpoint-response-without-expires_in",
     happy(["no_expires_in"], note="token response without expires_in accepted")),
    ("fapi2-security-profile-final-client-test-token-type-case-insensitivity",
     happy(["token_type_case"], note="token_type dPoP accepted")),
    ("fapi2-security-profile-final-client-test-rs-dpop-auth-scheme-case-insensitivity",
     happy(["rs_scheme_case"], note="userinfo's `dPoP error=\"use_dpop_nonce\"` answered")),
    ("fapi2-security-profile-final-client-test-happy-path-no-dpop-nonce", happy(dpop_nonce=False)),
    ("fapi2-security-profile-final-client-refresh-token-test", not_applicable(
        "the suite runs it for the openbanking_brazil profile only (VariantNotApplicable: plain_fapi …)")),
    ("fapi2-security-profile-final-client-test-grant-management-happy-path", not_applicable(
        "grant_management=disabled (Sesame has no Grant Management for OAuth 2.0)")),
    ("fapi2-security-profile-final-client-test-grant-management-query-and-revoke", not_applicable(
        "grant_management=disabled (Sesame has no Grant Management for OAuth 2.0)")),
    ("fapi2-security-profile-final-client-test-grant-management-invalid-grant-id-fails", not_applicable(
        "grant_management=disabled (Sesame has no Grant Management for OAuth 2.0)")),
]

BASE = "plain_fapi, openid_connect, unsigned, plain_response"
PLANS = {PLAN: ("FAPI 2.0 Security Profile Final", [
    (Variant(PLAN, label=f"private_key_jwt (ES256), dpop, {BASE}"), MODULES),
    (Variant(PLAN, label=f"private_key_jwt (RSA key: PS256), dpop, {BASE}"), [
        ("fapi2-security-profile-final-client-test-happy-path", happy(key="rsa", note="client assertions signed PS256"))]),
    (Variant(PLAN, label=f"mtls, dpop, {BASE}"), [("(every module)", mtls)]),
    (Variant(PLAN, label=f"private_key_jwt, mtls, {BASE}"), [("(every module)", mtls)]),
])}
