"""dbd-django-oidc-client (PyPI) in a real Django site as a relying party of `sesame serve`.

Starts the Django project in interop/django_rp2/ on 127.0.0.1:PORT (wsgiref,
in a thread of this script), then signs in through it with a cookie-keeping
requests.Session that clicks through Sesame's login and consent pages:

- the package's defaults (its OIDC_CLIENT setting and its URLs): the
  @login_required page → its login view (code flow with PKCE S256, state,
  nonce, scope "openid email profile") → its callback (token request with
  client_secret_basic, Authlib's default; the ID token checked by joserfc)
  → the user, keyed by email, is signed in;
- its logout view: the Django session ends and, RP-initiated, Sesame's
  end_session (id_token_hint, client_id, post_logout_redirect_uri "/") ends
  Sesame's, after which Sesame asks for the password again;
- the claims hook of its README (django_rp2/claims.py): a claims_class with
  the `name` claim and get_or_create_user_from_claims linking (iss, sub) to
  the user and storing the email and name on it.

    python rp_dbd_django.py --issuer http://127.0.0.1:4200 --port 4299 \\
        --client-id ID --client-secret S --username dbd --password '…' \\
        --email dbd@example.com --name 'Interop User (dbd)'

The client is registered with the redirect URI http://127.0.0.1:PORT/auth/callback/
and the post-logout redirect URI http://127.0.0.1:PORT/.
Prints one "PASS dbd-django-oidc-client@VERSION: CASE" or "FAIL …" line per case.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import threading
import warnings
from importlib.metadata import version
from urllib.parse import parse_qs, urlparse
from wsgiref.simple_server import WSGIRequestHandler, make_server

import requests

from interop_browser import Browser, Steps, check

warnings.simplefilter("default")


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass


def main() -> int:
    ap = argparse.ArgumentParser()
    for name in ("issuer", "port", "client-id", "client-secret", "username", "password", "email", "name"):
        ap.add_argument(f"--{name}", required=True)
    a = ap.parse_args()
    issuer = a.issuer.rstrip("/")
    r = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10)
    r.raise_for_status()
    md = r.json()
    with tempfile.TemporaryDirectory(prefix="django-rp2-") as work:
        return run_site(a, issuer, md, work)


def run_site(a, issuer: str, md: dict, work: str) -> int:
    """Starts the Django site (its database in `work`) and runs the cases against it."""
    rp = f"http://127.0.0.1:{int(a.port)}"
    callback = f"{rp}/auth/callback/"
    os.environ.update(
        DJANGO_SETTINGS_MODULE="django_rp2.settings",
        DJANGO_RP2_SECRET_KEY=secrets.token_urlsafe(32),
        DJANGO_RP2_DB=os.path.join(work, "db.sqlite3"),
        OIDC_DISCOVERY_URL=f"{issuer}/.well-known/openid-configuration",
        OIDC_CLIENT_ID=a.client_id,
        OIDC_CLIENT_SECRET=a.client_secret,
    )
    import django
    from django.contrib.auth import get_user_model
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command
    from django.test.utils import override_settings

    django.setup()
    from django_rp2.models import OpenIDProfile

    call_command("migrate", verbosity=0, interactive=False)
    server = make_server("127.0.0.1", int(a.port), WSGIHandler(), handler_class=QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    steps = Steps(f"dbd-django-oidc-client@{version('dbd-django-oidc-client')}", chain=False)
    traces: list[str] = []
    User = get_user_model()

    def case(name: str, overrides: dict, fn):
        """Runs `fn(browser)` with a fresh browser and the settings overridden."""
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

    def sign_in(b: Browser) -> dict:
        """The protected page → the package's login view → Sesame (login,
        consent) → its callback → the page shows the user. Returns the
        authorization request's parameters."""
        r, at_op = b.get(f"{rp}/", stop_at=md["authorization_endpoint"])
        check(at_op, f"the protected page did not send to Sesame: {r.status_code} at {r.url}")
        check(any(t.startswith(f"GET {rp}/auth/login/?next=") for t in b.trace), "not through the package's login view")
        params = {k: v[0] for k, v in parse_qs(urlparse(at_op).query).items()}
        r, back = b.get(at_op, stop_at=callback)
        r, back = b.sign_in(r, back, a.username, a.password, stop_at=callback)
        check(back, f"Sesame did not return to the callback: {r.status_code} at {r.url}")
        r, _ = b.get(back)
        check(r.status_code == 200 and urlparse(r.url).path == "/", f"after the callback: {r.status_code} at {r.url}")
        check(a.email in r.text, f"the protected page does not show {a.email}: {r.text[:300]}")
        return params

    def default_sign_in(b: Browser):
        params = sign_in(b)
        check(params.get("code_challenge_method") == "S256" and params.get("code_challenge"), f"no S256 challenge: {params}")
        check(params.get("nonce") and params.get("state"), f"no nonce/state: {sorted(params)}")
        check(params.get("scope") == "openid email profile", f"scope {params.get('scope')}")
        user = User.objects.get(email=a.email)
        check(user.username == a.email, f"the default keys users on email: username {user.username!r}")

    def default_logout(b: Browser):
        sign_in(b)
        first = len(b.trace)
        r, back = b.get(f"{rp}/auth/logout/", stop_at=f"{rp}/")
        if back is None:
            # Sesame's logout page (when it asks): its form with the CSRF token.
            check(urlparse(r.url).path.startswith(urlparse(md["end_session_endpoint"]).path), f"not at end_session: {r.url}")
            r, back = b.submit(r, lambda f: "csrf_token" in f["fields"], button="logout", stop_at=f"{rp}/")
        check(back == f"{rp}/", f"logout did not return to the post_logout_redirect_uri: {back} ({r.status_code} at {r.url})")
        to_op = [t for t in b.trace[first:] if t.startswith(f"GET {md['end_session_endpoint']}")]
        check(to_op and "id_token_hint=" in to_op[0] and "client_id=" in to_op[0], "end_session without id_token_hint/client_id")
        r, at_op = b.get(back, stop_at=md["authorization_endpoint"])
        check(at_op, f"still signed in at the site after logout: {r.status_code} at {r.url}")
        r, again = b.get(at_op, stop_at=callback)
        check(again is None and urlparse(r.url).path == "/login", f"Sesame did not ask for a login again: {r.url}")

    def claims_hook(b: Browser):
        sign_in(b)
        profile = OpenIDProfile.objects.select_related("user").get(issuer=issuer)
        check(profile.subject, "no subject stored")
        check(profile.user.email == a.email, f"email on the user: {profile.user.email!r}")
        check(profile.user.first_name == a.name, f"the name claim on the user: {profile.user.first_name!r}")
        check(User.objects.filter(email=a.email).count() == 1, "a second user for the same email")
        r, _ = b.get(f"{rp}/")
        check(f'<span id="name">{a.name}</span>' in r.text, f"the page does not show the name: {r.text[:300]}")

    case("defaults: sign-in (PKCE S256, state, nonce, client_secret_basic), the user keyed by email", {},
         default_sign_in)
    case("defaults: logout, RP-initiated at Sesame (id_token_hint, client_id), then Sesame asks for a login", {},
         default_logout)
    case("claims hook (claims_class, get_or_create_user_from_claims): (iss, sub) linked, the name claim stored on the user",
         {"ROOT_URLCONF": "django_rp2.urls_claims"}, claims_hook)
    server.shutdown()
    server.server_close()
    return steps.exit_code(traces)


if __name__ == "__main__":
    sys.exit(main())
