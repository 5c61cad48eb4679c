"""The claims hook of dbd-django-oidc-client, as its README shows it.

`claims_class`: the package's OpenIDClaims (aud, exp, iss, iat, sub, email,
nonce, from the validated ID token) plus the `name` claim (scope `profile`).
`get_or_create_user_from_claims`: links the account by (issuer, subject)
through OpenIDProfile, the first time to the user with that email (the
package's default lookup), and stores the email and the name claim on the
Django user (Django's User has no full-name field: `first_name` holds it).
"""

import json
from dataclasses import dataclass

from dbd.oidc_client.claims import OpenIDClaims
from dbd.oidc_client.views import BaseOpenIDConnectCallbackView

from django_rp2.models import OpenIDProfile


@dataclass
class ProfileClaims(OpenIDClaims):
    name: None | str = None

    @classmethod
    def from_jwt(cls, token) -> "ProfileClaims":
        claims = super().from_jwt(token)
        claims.name = json.loads(token.claims).get("name")
        return claims


class CallbackView(BaseOpenIDConnectCallbackView):
    claims_class = ProfileClaims
    success_url = "home"

    def get_or_create_user_from_claims(self, claims: ProfileClaims):
        profile = OpenIDProfile.objects.filter(issuer=claims.issuer, subject=claims.subject).first()
        if profile is None:
            user = super().get_or_create_user_from_claims(claims)
            profile = OpenIDProfile.objects.create(user=user, issuer=claims.issuer, subject=claims.subject)
        user = profile.user
        user.email = claims.email
        user.first_name = (claims.name or "")[:150]
        user.save(update_fields=["email", "first_name"])
        return user
