"""The WSGI application of the bypass suite's Django back end (gunicorn's target)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.integration.bypass.django_site")
application = get_wsgi_application()
