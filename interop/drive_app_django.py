"""Clicks through a login and an RP-initiated logout of the real `sesame app`
against django-oidc-provider (op_django.py), with a cookie-keeping
requests.Session (interop_browser.Browser), as drive-app.mjs does for
oidc-provider:

  app /login -> /openid/authorize (PKCE S256, state, nonce) -> Django's LoginView
  -> the package's consent page (`authorize` form, Authorize) -> app /callback
  -> app /me is 200 with the claims -> POST app /logout (csrf_token from "/")
  -> /openid/end-session (id_token_hint, post_logout_redirect_uri) -> back to the app
  -> app /me is 401, and a new login shows the provider's login form again

    python drive_app_django.py --op http://127.0.0.1:4300/openid --app http://127.0.0.1:4301 \\
        --username alice --password '…' --auth-method client_secret_basic \\
        --client-id 123456 --token-log /tmp/…/token-auth.log   # written by op_django.py

Prints one "PASS django-oidc-provider@VERSION: …" or "FAIL …" line.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib.metadata import version
from urllib.parse import parse_qs, urlparse

from interop_browser import Browser, Steps, check, forms


def main() -> int:
    ap = argparse.ArgumentParser()
    for name in ("op", "app", "username", "password", "auth-method", "client-id", "token-log"):
        ap.add_argument(f"--{name}", required=True)
    a = ap.parse_args()
    op = a.op.rstrip("/")
    app = a.app.rstrip("/")
    origin = f"{urlparse(op).scheme}://{urlparse(op).netloc}"
    b = Browser()

    def flow():
        r, _ = b.get(f"{app}/me")
        check(r.status_code == 401, f"app /me before login: expected 401, got {r.status_code}")

        # app /login -> the provider's authorization endpoint.
        r, at_op = b.get(f"{app}/login", stop_at=f"{op}/authorize")
        check(at_op, f"app /login did not send to {op}/authorize: {r.status_code} {r.headers.get('location')}")
        params = {k: v[0] for k, v in parse_qs(urlparse(at_op).query).items()}
        for p in ("code_challenge", "state", "nonce"):
            check(params.get(p), f"authorization request without {p}: {sorted(params)}")
        check(params.get("code_challenge_method") == "S256", "PKCE method is not S256")
        check(params.get("response_type") == "code", f"response_type {params.get('response_type')}")

        # Not signed in at the provider: Django's LoginView (LOGIN_URL) with ?next=.
        r, _ = b.get(at_op)
        check(r.status_code == 200 and urlparse(r.url).path == "/accounts/login/",
              f"expected the provider's login page, got {r.status_code} {r.url}")
        r, _ = b.submit(r, lambda f: {"username", "password", "csrfmiddlewaretoken"} <= f["fields"].keys(),
                        {"username": a.username, "password": a.password})

        # The package's consent page: the `authorize` form with the request's hidden inputs.
        consent = [f for f in forms(r) if "allow" in f["buttons"] and "code_challenge" in f["fields"]]
        check(r.status_code == 200 and consent, f"expected the consent page, got {r.status_code} {r.url}\n{r.text[:600]}")
        r, _ = b.submit(r, lambda f: "allow" in f["buttons"], button="allow")
        check(r.status_code == 200 and r.url.startswith(f"{app}/"), f"after consent and callback: {r.status_code} at {r.url}")
        check("error" not in urlparse(r.url).query, f"the app reported an error: {r.url}")
        check(any(t.startswith(f"GET {app}/callback?") for t in b.trace), "no callback at the app")
        with open(a.token_log) as f:
            sent = [line.split()[1] for line in f if line.split()[0] == a.client_id]
        check(sent == [a.auth_method], f"token requests of client {a.client_id} at the provider: {sent}")

        # The session's claims: the ID token's (RS256) and UserInfo's (OIDC_USERINFO).
        r, _ = b.get(f"{app}/me")
        check(r.status_code == 200, f"app /me after login: {r.status_code} {r.text}")
        me = json.loads(r.text)
        claims = me.get("claims") or {}
        check(me.get("iss") == op, f"iss {me.get('iss')} != {op}")
        check(me.get("sub"), f"no sub: {r.text}")
        check(claims.get("email") == f"{a.username}@interop.example", f"email claim: {r.text}")
        check(claims.get("name") == f"Interop {a.username}", f"name claim: {r.text}")
        check(claims.get("preferred_username") == a.username, f"preferred_username claim: {r.text}")

        # Logout: the CSRF token from the app's home page.
        r, _ = b.get(f"{app}/")
        end_session = f"{op}/end-session"
        r, at_end = b.submit(r, lambda f: urlparse(f["action"]).path == "/logout" and "csrf_token" in f["fields"],
                             stop_at=end_session)
        check(at_end, f"app /logout did not send to {end_session}: {r.status_code} {r.headers.get('location')}")
        q = {k: v[0] for k, v in parse_qs(urlparse(at_end).query).items()}
        check(q.get("id_token_hint"), "end_session without id_token_hint")
        check(q.get("post_logout_redirect_uri") == f"{app}/", f"post_logout_redirect_uri {q.get('post_logout_redirect_uri')}")
        # A registered post_logout_redirect_uri: the package logs out and redirects at once (no prompt).
        r, _ = b.get(at_end)
        check(r.status_code == 200 and r.url.startswith(f"{app}/"), f"logout did not return to the app: {r.status_code} {r.url}")

        r, _ = b.get(f"{app}/me")
        check(r.status_code == 401, f"app /me after logout: expected 401, got {r.status_code} {r.text}")

        # Logged out at the provider too: a new login shows its login form again.
        r, _ = b.get(f"{app}/login")
        check(r.status_code == 200 and r.url.startswith(f"{origin}/accounts/login/"),
              f"the provider's session survived the logout: {r.status_code} {r.url}")

    steps = Steps(f"django-oidc-provider@{version('django-oidc-provider')}")
    steps.run(f"sesame app login+logout ({a.auth_method}, RS256 ID tokens)", flow)
    return steps.exit_code(b.trace)


if __name__ == "__main__":
    sys.exit(main())
