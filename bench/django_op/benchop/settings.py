"""A minimal Django project serving django-oidc-provider, for bench/compare.sh.

Production-like settings (DEBUG off, no per-request debug toolbar); SQLite in
BENCH_DATA_DIR; the issuer from BENCH_SITE_URL.
"""
import os
from pathlib import Path

DATA_DIR = Path(os.environ.get("BENCH_DATA_DIR", Path(__file__).resolve().parent.parent))

SECRET_KEY = os.environ.get("BENCH_SECRET_KEY", "bench-only-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oidc_provider",
    "benchop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "benchop.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [Path(__file__).resolve().parent.parent / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "django-op.sqlite3",
    }
}

USE_TZ = True
LOGIN_URL = "/accounts/login/"
SITE_URL = os.environ.get("BENCH_SITE_URL", "http://127.0.0.1:8000")
OIDC_USERINFO = "benchop.userinfo.userinfo"
SILENCED_SYSTEM_CHECKS = ["models.W042"]
