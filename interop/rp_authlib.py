"""Authlib (PyPI) as a third-party relying party against `sesame serve`.

Discovery, authorization code flow with PKCE (the login and consent pages are
clicked through with a cookie-keeping requests.Session), ID token validation
with Authlib's own OpenIDMixin.parse_id_token (the code path of its Flask,
Django and Starlette clients), userinfo, refresh with rotation, revocation,
introspection, and RP-initiated logout (OpenIDMixin.create_logout_url).

    python rp_authlib.py --issuer http://127.0.0.1:4200 --client-id ID \\
        --client-secret S --auth-method client_secret_basic \\
        --redirect-uri http://127.0.0.1:4299/cb \\
        --post-logout-redirect-uri http://127.0.0.1:4299/bye \\
        --username alice --password '…'

Prints one "PASS authlib@VERSION: FLOW" or "FAIL …" line per flow; exits 1 on
any failure.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from importlib.metadata import version
from urllib.parse import parse_qs, urlparse

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.sync_openid import OpenIDMixin
from authlib.integrations.requests_client import OAuth2Session

from interop_browser import Browser, Steps, check

warnings.simplefilter("default")


class SesameOpenID(OpenIDMixin):
    """Authlib's OpenID mixin over an OAuth2Session, with discovery done up front."""

    def __init__(self, session: OAuth2Session, metadata: dict, client_id: str):
        self.session = session
        self.server_metadata = dict(metadata)
        self.client_id = client_id

    def load_server_metadata(self):
        return self.server_metadata

    def _get_session(self):
        return contextlib.nullcontext(self.session)

    def get(self, url, **kwargs):
        return self.session.get(url, **kwargs)


def main() -> int:
    ap = argparse.ArgumentParser()
    for name in ("issuer", "client-id", "client-secret", "auth-method", "redirect-uri",
                 "post-logout-redirect-uri", "username", "password"):
        ap.add_argument(f"--{name}", required=True)
    # A user enrolled in TOTP (`sesame users totp`): the sign-in gives the code after the password,
    # and the ID token Authlib validated must say amr ["pwd", "otp", "mfa"] and the mfa acr.
    ap.add_argument("--totp-secret")
    ap.add_argument("--mfa-acr", default="urn:sesame:acr:mfa")
    a = ap.parse_args()
    issuer = a.issuer.rstrip("/")
    method = a.auth_method
    steps = Steps(f"authlib@{version('authlib')}")
    b = Browser()
    st: dict = {}

    def discovery():
        r = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10)
        r.raise_for_status()
        md = r.json()
        check(md["issuer"] == issuer, f"issuer {md['issuer']}")
        check("S256" in md.get("code_challenge_methods_supported", []), "S256 not advertised")
        check(method in md.get("token_endpoint_auth_methods_supported", []), f"{method} not advertised")
        sess = OAuth2Session(
            client_id=a.client_id,
            client_secret=a.client_secret,
            scope="openid profile email offline_access",
            redirect_uri=a.redirect_uri,
            token_endpoint_auth_method=method,
            revocation_endpoint_auth_method=method,
            code_challenge_method="S256",
        )
        st.update(md=md, sess=sess, oidc=SesameOpenID(sess, md, a.client_id))

    def code_flow():
        md, sess, oidc = st["md"], st["sess"], st["oidc"]
        verifier = generate_token(64)
        nonce = generate_token(24)
        url, state = sess.create_authorization_url(
            md["authorization_endpoint"], code_verifier=verifier, nonce=nonce, prompt="consent"
        )
        r, stopped = b.get(url, stop_at=a.redirect_uri)
        r, stopped = b.sign_in(r, stopped, a.username, a.password, stop_at=a.redirect_uri,
                               totp_secret=a.totp_secret)
        check(stopped, f"the flow did not reach the redirect_uri: {r.status_code} at {r.url}")
        check(parse_qs(urlparse(stopped).query).get("iss") == [issuer], f"no iss in the response (RFC 9207): {stopped}")
        token = sess.fetch_token(
            md["token_endpoint"], authorization_response=stopped, state=state, code_verifier=verifier
        )
        check(token.get("refresh_token"), f"no refresh token: scope {token.get('scope')}")
        claims = oidc.parse_id_token(token, nonce=nonce)
        check(claims["iss"] == issuer and claims["nonce"] == nonce, f"id token claims {dict(claims)}")
        st.update(token=token, claims=claims)

    def userinfo():
        info = st["oidc"].userinfo()
        check(info["sub"] == st["claims"]["sub"], "userinfo sub differs from the ID token's")
        check(info.get("preferred_username") == a.username, f"preferred_username {info.get('preferred_username')}")

    def refresh():
        sess, old = st["sess"], dict(st["token"])
        new = sess.refresh_token(st["md"]["token_endpoint"], refresh_token=old["refresh_token"])
        check(new["access_token"] != old["access_token"], "no new access token")
        check(new.get("refresh_token") and new["refresh_token"] != old["refresh_token"], "refresh token not rotated")
        if new.get("id_token"):
            claims = st["oidc"].parse_id_token(new, nonce=None)
            check(claims["sub"] == st["claims"]["sub"], "sub changed on refresh")
        st["refreshed"] = new
        r = sess.get(st["md"]["userinfo_endpoint"])
        check(r.status_code == 200, f"userinfo with the refreshed token: {r.status_code}")

    def revocation():
        sess, md, tok = st["sess"], st["md"], st["refreshed"]
        r = sess.revoke_token(md["revocation_endpoint"], token=tok["refresh_token"], token_type_hint="refresh_token")
        check(r.status_code == 200, f"revoke refresh token: {r.status_code} {r.text}")
        r = sess.revoke_token(md["revocation_endpoint"], token=tok["access_token"], token_type_hint="access_token")
        check(r.status_code == 200, f"revoke access token: {r.status_code} {r.text}")
        r = requests.get(md["userinfo_endpoint"], headers={"Authorization": f"Bearer {tok['access_token']}"}, timeout=10)
        check(r.status_code == 401, f"revoked access token at userinfo: {r.status_code}")
        r = sess.introspect_token(md["introspection_endpoint"], token=tok["access_token"])
        check(r.status_code == 200 and r.json().get("active") is False, f"introspection: {r.status_code} {r.text}")
        try:
            sess.refresh_token(md["token_endpoint"], refresh_token=tok["refresh_token"])
        except Exception as e:  # noqa: BLE001
            check("invalid_grant" in str(e), f"unexpected error for a revoked refresh token: {e}")
        else:
            raise AssertionError("the revoked refresh token was accepted")

    def logout():
        out = st["oidc"].create_logout_url(
            post_logout_redirect_uri=a.post_logout_redirect_uri, id_token_hint=st["token"]["id_token"]
        )
        r, stopped = b.get(out["url"], stop_at=a.post_logout_redirect_uri)
        if stopped is None:
            r, stopped = b.submit(r, lambda f: "csrf_token" in f["fields"], button="logout",
                                  stop_at=a.post_logout_redirect_uri)
        check(stopped, f"logout did not return to post_logout_redirect_uri: {r.status_code} at {r.url}")
        check(parse_qs(urlparse(stopped).query).get("state") == [out["state"]], f"state not returned: {stopped}")
        url, _ = st["sess"].create_authorization_url(st["md"]["authorization_endpoint"],
                                                     code_verifier=generate_token(64), nonce=generate_token(24))
        r, stopped = b.get(url, stop_at=a.redirect_uri)
        check(stopped is None and urlparse(r.url).path == "/login", f"still signed in after logout: {r.url}")

    def second_factor():
        claims = st["claims"]
        check(claims.get("amr") == ["pwd", "otp", "mfa"], f"amr {claims.get('amr')}")
        check(claims.get("acr") == a.mfa_acr, f"acr {claims.get('acr')}")

    steps.run(f"discovery ({method})", discovery)
    if a.totp_secret is not None:
        # One sign-in: a second one within the same 30 s would need the next code (each code works once).
        steps.run(f"password + TOTP code, ID token verified ({method})", code_flow)
        steps.run(f"amr [pwd, otp, mfa] and the mfa acr in the verified ID token ({method})", second_factor)
        steps.run(f"userinfo ({method})", userinfo)
        return steps.exit_code(b.trace)
    steps.run(f"authorization code + PKCE, ID token verified ({method})", code_flow)
    steps.run(f"userinfo ({method})", userinfo)
    steps.run(f"refresh with rotation ({method})", refresh)
    steps.run(f"revocation + introspection ({method})", revocation)
    steps.run(f"RP-initiated logout ({method})", logout)
    return steps.exit_code(b.trace)


if __name__ == "__main__":
    sys.exit(main())
