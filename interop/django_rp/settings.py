"""A small Django site that signs in with mozilla-django-oidc at `sesame serve`.

Run by interop/rp_django.py, which sets the environment below from Sesame's
discovery document and the clients it registered, and overrides single
settings per case (PKCE, basic auth, provider logout, SessionRefresh).
Only what mozilla-django-oidc 5.0.2 needs is set: the client, the four
OIDC_OP_* endpoints, and RS256 with the JWKS endpoint (its default is HS256).
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = os.environ["DJANGO_RP_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "mozilla_django_oidc",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "django_rp.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {"context_processors": ["django.contrib.auth.context_processors.auth"]},
    }
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["DJANGO_RP_DB"]}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
# Sesame's cookies live on the same host (another port): distinct names.
SESSION_COOKIE_NAME = "django_rp_session"
CSRF_COOKIE_NAME = "django_rp_csrftoken"

AUTHENTICATION_BACKENDS = ["mozilla_django_oidc.auth.OIDCAuthenticationBackend"]
LOGIN_URL = "oidc_authentication_init"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/bye/"

# mozilla-django-oidc, its documented minimum for an RS256 provider.
OIDC_RP_CLIENT_ID = os.environ["OIDC_RP_CLIENT_ID"]
OIDC_RP_CLIENT_SECRET = os.environ["OIDC_RP_CLIENT_SECRET"]
OIDC_OP_AUTHORIZATION_ENDPOINT = os.environ["OIDC_OP_AUTHORIZATION_ENDPOINT"]
OIDC_OP_TOKEN_ENDPOINT = os.environ["OIDC_OP_TOKEN_ENDPOINT"]
OIDC_OP_USER_ENDPOINT = os.environ["OIDC_OP_USER_ENDPOINT"]
OIDC_OP_JWKS_ENDPOINT = os.environ["OIDC_OP_JWKS_ENDPOINT"]
OIDC_RP_SIGN_ALGO = "RS256"

# Not a mozilla-django-oidc setting: read by django_rp.logout.provider_logout_url
# (used only where a case sets OIDC_OP_LOGOUT_URL_METHOD to it).
SESAME_END_SESSION_ENDPOINT = os.environ["SESAME_END_SESSION_ENDPOINT"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"mozilla_django_oidc": {"handlers": ["stderr"], "level": "INFO"}},
}
