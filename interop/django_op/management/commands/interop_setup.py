"""The data step of interop/op_django.py: a user and a Client per `sesame app`.

    manage.py interop_setup --username alice --first-name Interop --last-name Alice \\
        --email alice@interop.example --app client_secret_basic=http://127.0.0.1:4101 \\
        --app client_secret_post=http://127.0.0.1:4102 --credentials FILE

The password comes from DJANGO_OP_USER_PASSWORD. Each Client is created with
django-oidc-provider's own admin form (oidc_provider.admin.ClientForm), the way
its users add one in the Django admin: the form generates the client_id (six
digits) and, for a confidential client, the client_secret. Each Client gets
response type `code`, ID tokens signed with RS256, the app's /callback as its
redirect URI and the app's / as its post-logout redirect URI. django-oidc-provider
has no per-client token_endpoint_auth_method: every client may use
client_secret_basic or client_secret_post. The credentials are written to FILE
(JSON, mode 0600, keyed by the --app label), never printed.
"""

import json
import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from oidc_provider.admin import ClientForm
from oidc_provider.models import ResponseType


class Command(BaseCommand):
    help = "Create the interop user and one oidc_provider Client per sesame app"

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--first-name", required=True)
        parser.add_argument("--last-name", required=True)
        parser.add_argument("--email", required=True)
        parser.add_argument("--app", action="append", required=True, metavar="LABEL=URL")
        parser.add_argument("--credentials", required=True)

    def handle(self, *args, **o):
        get_user_model().objects.create_user(
            o["username"], o["email"], os.environ["DJANGO_OP_USER_PASSWORD"],
            first_name=o["first_name"], last_name=o["last_name"],
        )
        code = ResponseType.objects.get(value="code")
        credentials = {}
        for app in o["app"]:
            label, _, url = app.partition("=")
            url = url.rstrip("/")
            form = ClientForm(data={
                "name": f"sesame app ({label})",
                "client_type": "confidential",
                "response_types": [code.pk],
                "jwt_alg": "RS256",
                "_redirect_uris": f"{url}/callback",
                "_post_logout_redirect_uris": f"{url}/",
                "require_consent": "on",
                "reuse_consent": "on",
            })
            if not form.is_valid():
                raise CommandError(f"ClientForm: {form.errors.as_json()}")
            client = form.save()
            credentials[label] = {"client_id": client.client_id, "client_secret": client.client_secret}
        fd = os.open(o["credentials"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(credentials, f)
