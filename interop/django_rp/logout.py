"""OIDC_OP_LOGOUT_URL_METHOD: RP-initiated logout at Sesame.

mozilla-django-oidc calls it from its logout view (POST) before it ends the
Django session; the redirect goes to Sesame's end_session endpoint with the
stored ID token (OIDC_STORE_ID_TOKEN = True) and a post-logout redirect URI.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse


def provider_logout_url(request):
    params = {"post_logout_redirect_uri": request.build_absolute_uri(reverse("bye"))}
    id_token = request.session.get("oidc_id_token")
    if id_token:
        params["id_token_hint"] = id_token
    return f"{settings.SESAME_END_SESSION_ENDPOINT}?{urlencode(params)}"
