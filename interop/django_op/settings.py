"""A small Django site that is an OpenID Connect provider with django-oidc-provider.

Run by interop/op_django.py (the environment below comes from it), for the
real `sesame app` as its relying party. What a django-oidc-provider 0.9.0 site
needs: `oidc_provider` in INSTALLED_APPS, its URLs under /openid/ (the issuer
is then http://HOST/openid), a login page at LOGIN_URL (Django's own
LoginView), and OIDC_USERINFO, the package's documented hook that fills the
standard claims from the Django user. Everything else is on the package's
defaults (ID tokens without claims, consent asked once and reused).
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = os.environ["DJANGO_OP_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "oidc_provider",
    "django_op",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "django_op.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["DJANGO_OP_DB"]}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
# `sesame app` keeps its cookie on the same host (another port): distinct names.
SESSION_COOKIE_NAME = "django_op_session"
CSRF_COOKIE_NAME = "django_op_csrftoken"

LOGIN_URL = "/accounts/login/"

# django-oidc-provider: the standard claims of a user (name, email, …) come from this hook.
OIDC_USERINFO = "django_op.userinfo.userinfo"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"oidc_provider": {"handlers": ["stderr"], "level": "INFO"}},
}
