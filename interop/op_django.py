"""django-oidc-provider (PyPI) in a real Django site as the provider for `sesame app`.

Sets up the Django project in interop/django_op/ (a fresh SQLite database in a
temporary directory: migrations, an RSA signing key with the package's
`creatersakey` command, then the `interop_setup` data step: the user, and one
Client per `--app`, created with the package's admin form), serves it on
127.0.0.1:PORT (wsgiref) and prints "ready on http://127.0.0.1:PORT/openid"
(the issuer) once it answers. Runs until SIGTERM or SIGINT.

    DJANGO_OP_USER_PASSWORD='…' python op_django.py --port 4300 --username alice \\
        --app client_secret_basic=http://127.0.0.1:4301 --app client_secret_post=http://127.0.0.1:4302 \\
        --credentials /tmp/…/clients.json --token-log /tmp/…/token-auth.log

The generated client ids and secrets go to the --credentials file (JSON,
mode 0600), not to the output. django-oidc-provider accepts both
client_secret_basic and client_secret_post from any client, so each token
request's method (and client_id, never the secret) is appended to the
--token-log file for the driver to check what `sesame app` sent.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import signal
import sys
import tempfile
import threading
from io import BytesIO
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, make_server


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass


def token_auth_recorder(app, log_path: str):
    """WSGI middleware: for each POST /openid/token, appends "CLIENT_ID METHOD"
    to log_path (METHOD: client_secret_basic, client_secret_post or none)."""

    def wrapped(environ, start_response):
        if environ.get("PATH_INFO", "").rstrip("/") == "/openid/token" and environ["REQUEST_METHOD"] == "POST":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = BytesIO(body)
            form = parse_qs(body.decode("utf-8", "replace"))
            if environ.get("HTTP_AUTHORIZATION", "").startswith("Basic "):
                method = "client_secret_basic"
                client_id = base64.b64decode(environ["HTTP_AUTHORIZATION"].split()[1]).decode().split(":")[0]
            else:
                method = "client_secret_post" if "client_secret" in form else "none"
                client_id = form.get("client_id", [""])[0]
            with open(log_path, "a") as f:
                f.write(f"{client_id} {method}\n")
        return app(environ, start_response)

    return wrapped


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--username", required=True)
    ap.add_argument("--app", action="append", required=True, metavar="LABEL=URL")
    ap.add_argument("--credentials", required=True)
    ap.add_argument("--token-log", required=True)
    a = ap.parse_args()
    if not os.environ.get("DJANGO_OP_USER_PASSWORD"):
        ap.error("DJANGO_OP_USER_PASSWORD is not set")
    with tempfile.TemporaryDirectory(prefix="django-op-") as work:
        os.environ.update(
            DJANGO_SETTINGS_MODULE="django_op.settings",
            DJANGO_OP_SECRET_KEY=secrets.token_urlsafe(32),
            DJANGO_OP_DB=os.path.join(work, "db.sqlite3"),
        )
        import django
        from django.core.handlers.wsgi import WSGIHandler
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0, interactive=False)
        call_command("creatersakey", stdout=sys.stderr)
        call_command(
            "interop_setup", "--username", a.username, "--first-name", "Interop", "--last-name", a.username,
            "--email", f"{a.username}@interop.example", "--credentials", a.credentials,
            *[arg for app in a.app for arg in ("--app", app)],
        )
        server = make_server("127.0.0.1", a.port, token_auth_recorder(WSGIHandler(), a.token_log), handler_class=QuietHandler)
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        from importlib.metadata import version

        print(f"django-oidc-provider {version('django-oidc-provider')} ready on http://127.0.0.1:{a.port}/openid",
              flush=True)
        stop.wait()
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
