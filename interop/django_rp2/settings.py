"""A small Django site that signs in with dbd-django-oidc-client at `sesame serve`.

Run by interop/rp_dbd_django.py, which sets the environment below (Sesame's
discovery URL and the client it registered). On the package's defaults: its
one setting, OIDC_CLIENT (discovery_url, client_id, client_secret), and its
default URLs (django_rp2/urls.py: `include("dbd.oidc_client.urls")`, which
give login/, callback/ and logout/). django_rp2/urls_claims.py is the same
site with the claims hook the package's README shows (django_rp2/claims.py).
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = os.environ["DJANGO_RP2_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "dbd.oidc_client",
    "django_rp2",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "django_rp2.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {"context_processors": ["django.contrib.auth.context_processors.auth"]},
    }
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["DJANGO_RP2_DB"]}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
# Sesame's cookies live on the same host (another port): distinct names.
SESSION_COOKIE_NAME = "django_rp2_session"
CSRF_COOKIE_NAME = "django_rp2_csrftoken"

LOGIN_URL = "oidc_client:login"

# dbd-django-oidc-client: its only setting.
OIDC_CLIENT = {
    "discovery_url": os.environ["OIDC_DISCOVERY_URL"],
    "client_id": os.environ["OIDC_CLIENT_ID"],
    "client_secret": os.environ["OIDC_CLIENT_SECRET"],
}
