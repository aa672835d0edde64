"""Settings, URLconf and WSGI application of the bypass suite's Django back end (one module)."""

from __future__ import annotations

import os

from django.urls import re_path

from tests.integration.bypass.apps import django_view

SECRET_KEY = "bypass-suite-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
INSTALLED_APPS: list[str] = []
MIDDLEWARE = ["stockade.adapters.django.StockadeMiddleware"]
ROOT_URLCONF = "tests.integration.bypass.django_site"
DATABASES: dict[str, object] = {}
STOCKADE = {"config": os.environ.get("STOCKADE_CONFIG", "")}

urlpatterns = [
    re_path(r"^secure/(?P<page>.*)$", django_view),
    re_path(r"^admin(?P<rest>.*)$", django_view),
    re_path(r"^shop-admin(?P<rest>.*)$", django_view),
    re_path(r"^private(?P<rest>.*)$", django_view),
    re_path(r"^(?P<rest>.*)$", django_view),
]
