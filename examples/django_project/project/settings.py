"""A minimal Django project with stockade: the middleware first, the login view under the lockout."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = False
ALLOWED_HOSTS = ["*"]

STOCKADE = {
    "config": os.environ.get("STOCKADE_CONFIG", str(BASE_DIR / "stockade.toml")),
    "logins": [{"path": "/accounts/login/", "max_retries": 3, "block_time": 1}],
    **({"store": os.environ["STOCKADE_STORE"]} if "STOCKADE_STORE" in os.environ else {}),
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
]
MIDDLEWARE = [
    "stockade.adapters.django.StockadeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
# stockade's backend first: a user the lockout blocked is refused by every authenticate() call
# (the admin's login too) before any backend checks the password.
AUTHENTICATION_BACKENDS = [
    "stockade.adapters.django.StockadeBackend",
    "django.contrib.auth.backends.ModelBackend",
]
ROOT_URLCONF = "project.urls"
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
WSGI_APPLICATION = "project.wsgi.application"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DB", str(BASE_DIR / "db.sqlite3")),
    }
}
LOGIN_REDIRECT_URL = "/"
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
