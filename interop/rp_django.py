"""mozilla-django-oidc (PyPI) in a real Django site as a relying party of `sesame serve`.

Starts the Django project in interop/django_rp/ on 127.0.0.1:PORT (wsgiref,
in a thread of this script), then signs in through it with a cookie-keeping
requests.Session that clicks through Sesame's login and consent pages:

- default settings (client_secret_post, nonce, no PKCE), then the library's
  local logout;
- OIDC_USE_PKCE = True;
- OIDC_TOKEN_USE_BASIC_AUTH = True with a client_secret_basic client;
- logout at Sesame through OIDC_OP_LOGOUT_URL_METHOD (POST logout, end_session
  with id_token_hint), after which Sesame asks for the password again;
- the SessionRefresh middleware: once OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS has
  passed, a page view goes to Sesame with prompt=none and back, without a form;
- the role setup of OneLogin's tutorial: scope `groups`, a custom backend that
  maps the `groups` claim to Django groups; /staff/ admits the user in the
  `staff` group (--username) and refuses one who is not (--member-username).

    python rp_django.py --issuer http://127.0.0.1:4200 --port 4298 \\
        --post-client-id ID --post-client-secret S \\
        --basic-client-id ID --basic-client-secret S \\
        --username alice --password '…' --email alice@example.com \\
        --member-username bob --member-email bob@example.com

Both clients are registered with the redirect URI http://127.0.0.1:PORT/oidc/callback/
and the post-logout redirect URI http://127.0.0.1:PORT/bye/.
Prints one "PASS mozilla-django-oidc@VERSION: CASE" or "FAIL …" line per case.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import threading
import time
import warnings
from importlib.metadata import version
from urllib.parse import parse_qs, urlparse
from wsgiref.simple_server import WSGIRequestHandler, make_server

import requests

from interop_browser import Browser, Steps, check, forms

warnings.simplefilter("default")


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass


def main() -> int:
    ap = argparse.ArgumentParser()
    for name in ("issuer", "port", "post-client-id", "post-client-secret", "basic-client-id",
                 "basic-client-secret", "hs-client-id", "hs-client-secret", "username", "password", "email",
                 "member-username", "member-email"):
        ap.add_argument(f"--{name}", required=True)
    a = ap.parse_args()
    issuer = a.issuer.rstrip("/")
    r = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10)
    r.raise_for_status()
    md = r.json()
    with tempfile.TemporaryDirectory(prefix="django-rp-") as work:
        return run_site(a, issuer, md, work)


def run_site(a, issuer: str, md: dict, work: str) -> int:
    """Starts the Django site (its database in `work`) and runs the cases against it."""
    rp = f"http://127.0.0.1:{int(a.port)}"
    callback = f"{rp}/oidc/callback/"
    os.environ.update(
        DJANGO_SETTINGS_MODULE="django_rp.settings",
        DJANGO_RP_SECRET_KEY=secrets.token_urlsafe(32),
        DJANGO_RP_DB=os.path.join(work, "db.sqlite3"),
        OIDC_RP_CLIENT_ID=a.post_client_id,
        OIDC_RP_CLIENT_SECRET=a.post_client_secret,
        OIDC_OP_AUTHORIZATION_ENDPOINT=md["authorization_endpoint"],
        OIDC_OP_TOKEN_ENDPOINT=md["token_endpoint"],
        OIDC_OP_USER_ENDPOINT=md["userinfo_endpoint"],
        OIDC_OP_JWKS_ENDPOINT=md["jwks_uri"],
        SESAME_END_SESSION_ENDPOINT=md["end_session_endpoint"],
    )
    import django
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command
    from django.test.utils import override_settings

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    server = make_server("127.0.0.1", int(a.port), WSGIHandler(), handler_class=QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    steps = Steps(f"mozilla-django-oidc@{version('mozilla-django-oidc')}", chain=False)
    traces: list[str] = []

    def case(name: str, overrides: dict, fn):
        """Runs `fn(browser)` with a fresh browser, the settings overridden and
        a new WSGI handler (the middleware reads its settings when built)."""
        b = Browser()

        def run():
            with override_settings(**overrides):
                server.set_app(WSGIHandler())
                try:
                    fn(b)
                except Exception:
                    traces.append(f"--- {name} ---\n" + "\n".join(b.trace))
                    raise

        steps.run(name, run)

    def sign_in(b: Browser, username: str = a.username, email: str = a.email) -> dict:
        """The protected page → Sesame (login, consent) → callback → the page
        shows the user. Returns the authorization request's parameters."""
        r, at_op = b.get(f"{rp}/", stop_at=md["authorization_endpoint"])
        check(at_op, f"the protected page did not send to Sesame: {r.status_code} at {r.url}")
        params = {k: v[0] for k, v in parse_qs(urlparse(at_op).query).items()}
        r, back = b.get(at_op, stop_at=callback)
        r, back = b.sign_in(r, back, username, a.password, stop_at=callback)
        check(back, f"Sesame did not return to the callback: {r.status_code} at {r.url}")
        check(parse_qs(urlparse(back).query).get("iss") == [issuer], f"no iss in the response (RFC 9207): {back}")
        r, _ = b.get(back)
        check(r.status_code == 200 and urlparse(r.url).path == "/", f"after the callback: {r.status_code} at {r.url}")
        check(email in r.text, f"the protected page does not show {email}: {r.text[:300]}")
        return params

    def logout_form(b: Browser, stop_at: str):
        r, _ = b.get(f"{rp}/")
        return b.submit(r, lambda f: f["action"].endswith("/oidc/logout/"), button="logout", stop_at=stop_at)

    def default_settings(b: Browser):
        params = sign_in(b)
        check("nonce" in params and "state" in params, f"no nonce/state: {sorted(params)}")
        check("code_challenge" not in params, "PKCE sent on the default settings")
        check(params["scope"] == "openid email", f"scope {params['scope']}")

    def local_logout(b: Browser):
        sign_in(b)
        r, _ = logout_form(b, stop_at=None)
        check(r.status_code == 200 and urlparse(r.url).path == "/bye/", f"logout ended at {r.status_code} {r.url}")
        r, at_op = b.get(f"{rp}/", stop_at=md["authorization_endpoint"])
        check(at_op, f"still signed in at the site after logout: {r.status_code} at {r.url}")

    def pkce(b: Browser):
        params = sign_in(b)
        check(params.get("code_challenge_method") == "S256" and params.get("code_challenge"), f"no S256 challenge: {params}")

    def basic(b: Browser):
        sign_in(b)

    def provider_logout(b: Browser):
        sign_in(b)
        bye = f"{rp}/bye/"
        r, stopped = logout_form(b, stop_at=bye)
        if stopped is None:
            check(urlparse(r.url).path.startswith(urlparse(md["end_session_endpoint"]).path), f"not at end_session: {r.url}")
            r, stopped = b.submit(r, lambda f: "csrf_token" in f["fields"], button="logout", stop_at=bye)
        check(stopped, f"logout did not return to the post_logout_redirect_uri: {r.status_code} at {r.url}")
        check(any("id_token_hint=" in t for t in b.trace), "end_session got no id_token_hint")
        r, at_op = b.get(f"{rp}/", stop_at=md["authorization_endpoint"])
        check(at_op, f"still signed in at the site after logout: {r.status_code} at {r.url}")
        r, back = b.get(at_op, stop_at=callback)
        check(back is None and urlparse(r.url).path == "/login", f"Sesame did not ask for a login again: {r.url}")

    def session_refresh(b: Browser):
        sign_in(b)
        time.sleep(1.2)
        first = len(b.trace)
        r, _ = b.get(f"{rp}/")
        renewal = b.trace[first:]
        check(r.status_code == 200 and a.email in r.text, f"after the renewal: {r.status_code} at {r.url}")
        to_op = [t for t in renewal if t.startswith(f"GET {md['authorization_endpoint']}")]
        check(to_op and "prompt=none" in to_op[0], "no prompt=none request to Sesame:\n" + "\n".join(renewal))
        check(any(t.startswith(f"GET {callback}") for t in renewal), "no callback in the renewal")
        check(not any(urlparse(t.split()[1]).path == "/login" for t in renewal), "the renewal showed Sesame's login")
        check(not forms(r) or all("password" not in f["fields"] for f in forms(r)), "a form after the renewal")

    def groups(b: Browser):
        params = sign_in(b)
        check(params["scope"] == "openid email groups", f"scope {params['scope']}")
        r, _ = b.get(f"{rp}/staff/")
        check(r.status_code == 200 and "Groups: interop,staff" in r.text, f"staff page: {r.status_code} {r.text[:200]}")
        member = Browser()
        try:
            sign_in(member, a.member_username, a.member_email)
            r, _ = member.get(f"{rp}/staff/")
            check(r.status_code == 403, f"a user without the staff group got {r.status_code} at /staff/")
        finally:
            b.trace += member.trace

    basic_client = {"OIDC_RP_CLIENT_ID": a.basic_client_id, "OIDC_RP_CLIENT_SECRET": a.basic_client_secret}
    case("default settings: sign-in, protected page shows the user (client_secret_post, nonce, no PKCE)", {},
         default_settings)
    case("default settings: logout (the Django session ends)", {}, local_logout)
    case("literal defaults: HS256 ID tokens keyed with the client secret (no OIDC_RP_SIGN_ALGO, no JWKS endpoint)",
         {"OIDC_RP_CLIENT_ID": a.hs_client_id, "OIDC_RP_CLIENT_SECRET": a.hs_client_secret,
          "OIDC_RP_SIGN_ALGO": "HS256", "OIDC_OP_JWKS_ENDPOINT": None},
         default_settings)
    case("OIDC_USE_PKCE: sign-in with S256", {"OIDC_USE_PKCE": True}, pkce)
    case("OIDC_TOKEN_USE_BASIC_AUTH: sign-in (client_secret_basic)",
         {**basic_client, "OIDC_TOKEN_USE_BASIC_AUTH": True}, basic)
    case("OIDC_OP_LOGOUT_URL_METHOD: POST logout ends the Sesame session (end_session, id_token_hint)",
         {"OIDC_OP_LOGOUT_URL_METHOD": "django_rp.logout.provider_logout_url", "OIDC_STORE_ID_TOKEN": True},
         provider_logout)
    case("SessionRefresh: renewal with prompt=none after OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS",
         {"MIDDLEWARE": [*settings.MIDDLEWARE, "mozilla_django_oidc.middleware.SessionRefresh"],
          "OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS": 1},
         session_refresh)
    case("OneLogin tutorial roles: the groups claim mapped to Django groups by a custom backend",
         {"AUTHENTICATION_BACKENDS": ["django_rp.backends.GroupsBackend"], "OIDC_RP_SCOPES": "openid email groups"},
         groups)
    server.shutdown()
    server.server_close()
    return steps.exit_code(traces)


if __name__ == "__main__":
    sys.exit(main())
