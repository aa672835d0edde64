"""Router awareness: is a request path one of the application's own routes?

A request for a real route is never counted by the built-in probe rules (the spec, §3):
an app that serves ``/admin/`` or ``/backup.zip`` on purpose must not ban its own users.
A matcher takes the method and the decoded path and answers; each framework's router
answers it its own way, without running the app. Framework modules are imported lazily,
so this module costs nothing to apps that use none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RouteMatcher = Callable[[str, str], bool]


def starlette_routes(app: Any) -> RouteMatcher:
    """The routes of a Starlette or FastAPI app (or router), read at each call: routes added later count."""
    from starlette.routing import Match  # noqa: PLC0415 (lazy: the framework is optional)

    def known(method: str, path: str) -> bool:
        scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
        return any(route.matches(scope)[0] != Match.NONE for route in app.routes)

    return known


def flask_routes(app: Any) -> RouteMatcher:
    """The URL rules of a Flask app (``url_map``), the ``static`` endpoint excepted.

    A probe for ``/static/.env`` is still a probe: the static route matches any file name.
    """
    from werkzeug.exceptions import HTTPException  # noqa: PLC0415
    from werkzeug.routing import RequestRedirect  # noqa: PLC0415

    def known(method: str, path: str) -> bool:
        adapter = app.url_map.bind("localhost")
        try:
            endpoint, _ = adapter.match(path, method=method)
        except RequestRedirect:
            return True
        except HTTPException as exc:  # NotFound, or MethodNotAllowed for a real route
            return exc.code == 405
        return bool(endpoint != "static")

    return known


def django_routes(urlconf: str | None = None) -> RouteMatcher:
    """The URLconf of a Django project (``django.urls.resolve``)."""
    from django.urls import Resolver404, resolve  # noqa: PLC0415

    def known(method: str, path: str) -> bool:
        try:
            resolve(path, urlconf)
        except Resolver404:
            return False
        return True

    return known
