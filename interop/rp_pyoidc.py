"""pyoidc (`oic` on PyPI) as a relying party of `sesame serve`, doing what django-oidc does.

Discovery (Client.provider_config, which also loads the JWKS), a client
registered with `sesame clients add` (or, with --register, registered by
pyoidc itself: Client.register, RFC 7591), the authorization code flow
WITHOUT PKCE (state and nonce, as django-oidc sends them; the login and
consent pages clicked through with a cookie-keeping requests.Session), the
token request with the client's authentication method, the ID token verified
by pyoidc (signature from the JWKS, iss, aud, exp, nonce), userinfo, and
RP-initiated logout with Client.construct_EndSessionRequest, after which
Sesame asks for the password again.

    python rp_pyoidc.py --issuer http://127.0.0.1:4200 \\
        --client-id=ID --client-secret=S --auth-method client_secret_basic \\
        --redirect-uri http://127.0.0.1:4299/cb \\
        --post-logout-redirect-uri http://127.0.0.1:4299/bye \\
        --username alice --password '…'
    python rp_pyoidc.py --issuer … --register --redirect-uri … --post-logout-redirect-uri … \\
        --username alice --password '…'

Prints one "PASS pyoidc@VERSION: FLOW" or "FAIL …" line per flow; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from importlib.metadata import version
from urllib.parse import parse_qs, urlparse

from oic import rndstr
from oic.oic import Client
from oic.oic.message import AuthorizationResponse, IdToken, OpenIDSchema, RegistrationResponse
from oic.utils.authn.client import CLIENT_AUTHN_METHOD

from interop_browser import Browser, Steps, check

warnings.simplefilter("default")


def main() -> int:
    ap = argparse.ArgumentParser()
    for name in ("issuer", "redirect-uri", "post-logout-redirect-uri", "username", "password"):
        ap.add_argument(f"--{name}", required=True)
    ap.add_argument("--client-id")
    ap.add_argument("--client-secret")
    ap.add_argument("--auth-method", default="client_secret_basic")
    ap.add_argument("--register", action="store_true", help="register the client with Client.register")
    a = ap.parse_args()
    issuer = a.issuer.rstrip("/")
    how = f"{'registered by pyoidc' if a.register else 'clients add'}, {a.auth_method}"
    steps = Steps(f"pyoidc@{version('oic')}")
    b = Browser()
    client = Client(client_authn_method=CLIENT_AUTHN_METHOD)
    st: dict = {}

    def discovery():
        pc = client.provider_config(issuer)
        check(pc["issuer"] == issuer, f"issuer {pc['issuer']}")
        check(client.keyjar.get_issuer_keys(issuer), "no keys loaded from the JWKS")
        check(client.authorization_endpoint and client.token_endpoint and client.end_session_endpoint,
              "endpoints not taken from discovery")

    def register():
        reg = client.register(
            client.registration_endpoint,
            redirect_uris=[a.redirect_uri],
            post_logout_redirect_uris=[a.post_logout_redirect_uri],
            response_types=["code"],
            grant_types=["authorization_code"],
            token_endpoint_auth_method=a.auth_method,
            client_name="pyoidc (dynamic registration)",
        )
        check(isinstance(reg, RegistrationResponse), f"registration answered {type(reg).__name__}: {reg}")
        check(reg.get("client_id") and reg.get("client_secret"), "no client_id/client_secret registered")
        check(client.client_id == reg["client_id"], "the registration was not stored")

    def static_client():
        client.store_registration_info(RegistrationResponse(
            client_id=a.client_id,
            client_secret=a.client_secret,
            redirect_uris=[a.redirect_uri],
            post_logout_redirect_uris=[a.post_logout_redirect_uri],
            token_endpoint_auth_method=a.auth_method,
        ))

    def code_flow():
        state, nonce = rndstr(32), rndstr(32)
        req = client.construct_AuthorizationRequest(request_args={
            "client_id": client.client_id,
            "response_type": "code",
            "scope": ["openid", "email", "profile"],
            "nonce": nonce,
            "redirect_uri": a.redirect_uri,
            "state": state,
        })
        url = req.request(client.authorization_endpoint)
        check("code_challenge" not in url, "pyoidc sent PKCE")
        r, stopped = b.get(url, stop_at=a.redirect_uri)
        r, stopped = b.sign_in(r, stopped, a.username, a.password, stop_at=a.redirect_uri)
        check(stopped, f"the flow did not reach the redirect_uri: {r.status_code} at {r.url}")
        aresp = client.parse_response(AuthorizationResponse, info=urlparse(stopped).query, sformat="urlencoded")
        check(isinstance(aresp, AuthorizationResponse) and aresp["state"] == state, f"authorization response {aresp}")
        check(parse_qs(urlparse(stopped).query).get("iss") == [issuer], f"no iss in the response (RFC 9207): {stopped}")
        tok = client.do_access_token_request(
            state=state,
            request_args={"code": aresp["code"], "redirect_uri": a.redirect_uri},
            authn_method=client.registration_response["token_endpoint_auth_method"],
        )
        check("error" not in tok, f"token request: {tok.to_dict()}")
        idt = tok["id_token"]
        # pyoidc verified it while parsing (AccessTokenResponse.verify: JWS with the
        # provider's keys, iss, aud, exp) and checked the nonce against the state's.
        check(isinstance(idt, IdToken), f"id_token not verified/parsed: {type(idt).__name__}")
        check(idt["iss"] == issuer and client.client_id in idt["aud"] and idt["nonce"] == nonce, f"claims {idt.to_dict()}")
        st.update(state=state, id_token=idt)

    def userinfo():
        info = client.do_user_info_request(state=st["state"])
        check(isinstance(info, OpenIDSchema), f"userinfo answered {info}")
        check(info["sub"] == st["id_token"]["sub"], "userinfo sub differs from the ID token's")
        check(info.get("email"), f"no email in userinfo: {info.to_dict()}")

    def logout():
        logout_state = rndstr(16)
        req = client.construct_EndSessionRequest(
            state=st["state"],
            request_args={"post_logout_redirect_uri": a.post_logout_redirect_uri, "state": logout_state},
        )
        check(req.get("id_token_hint"), "no id_token_hint in the end-session request")
        r, stopped = b.get(req.request(client.end_session_endpoint), stop_at=a.post_logout_redirect_uri)
        if stopped is None:
            r, stopped = b.submit(r, lambda f: "csrf_token" in f["fields"], button="logout",
                                  stop_at=a.post_logout_redirect_uri)
        check(stopped, f"logout did not return to post_logout_redirect_uri: {r.status_code} at {r.url}")
        check(parse_qs(urlparse(stopped).query).get("state") == [logout_state], f"state not returned: {stopped}")
        again = client.construct_AuthorizationRequest(request_args={
            "response_type": "code", "scope": ["openid"], "redirect_uri": a.redirect_uri,
            "state": rndstr(32), "nonce": rndstr(32),
        }).request(client.authorization_endpoint)
        r, stopped = b.get(again, stop_at=a.redirect_uri)
        check(stopped is None and urlparse(r.url).path == "/login", f"still signed in after logout: {r.url}")

    for flow, fn in [
        ("discovery + JWKS", discovery),
        ("dynamic registration, Client.register", register) if a.register else ("static client", static_client),
        ("authorization code without PKCE (nonce), ID token verified by pyoidc", code_flow),
        ("userinfo", userinfo),
        ("RP-initiated logout, construct_EndSessionRequest", logout),
    ]:
        steps.run(f"{flow} ({how})", fn)
    return steps.exit_code(b.trace)


if __name__ == "__main__":
    sys.exit(main())
