"""Creates the benchmark user, an RS256 key and a confidential client; prints them as JSON."""
import json

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from oidc_provider.models import Client, ResponseType, RSAKey


class Command(BaseCommand):
    help = "Set up a user and a client for bench/compare.sh"

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--client-id", required=True)
        parser.add_argument("--client-secret", required=True)
        parser.add_argument("--redirect-uri", required=True)

    def handle(self, *args, **o):
        User = get_user_model()
        user, _ = User.objects.get_or_create(username=o["username"])
        user.set_password(o["password"])
        user.email = o["username"] + "@example.com"
        user.first_name = "Bench"
        user.last_name = "User"
        user.save()
        if not RSAKey.objects.exists():
            call_command("creatersakey")
        Client.objects.filter(client_id=o["client_id"]).delete()
        client = Client.objects.create(
            name="bench",
            client_type="confidential",
            client_id=o["client_id"],
            client_secret=o["client_secret"],
            jwt_alg="RS256",
            require_consent=False,
            reuse_consent=True,
            _redirect_uris=o["redirect_uri"],
        )
        client.response_types.add(ResponseType.objects.get(value="code"))
        self.stdout.write(json.dumps({"client_id": client.client_id}))
