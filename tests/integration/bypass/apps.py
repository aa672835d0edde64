"""The back ends of the bypass suite: each records every handler that runs.

The same routes in Flask, Starlette and Django: a public page, ``/secure/<page>`` (behind
the Basic-auth directory), ``/admin`` and below (behind a global ``CLOSE`` rule),
``/shop-admin`` (closed for the ``shop`` product) and ``/private`` (closed for
``static.example.com``), and a catch-all. Each handler appends one JSON line to the file
named by ``BYPASS_LOG``: which handler ran, for which case (``X-Case``), and the path, host,
client and client-address headers the app saw. The suite then judges what ran.

Run as modules: ``flask_app`` / ``flask_guarded`` (gunicorn), ``starlette_guarded``
(uvicorn), and ``django_site`` (gunicorn, ``DJANGO_SETTINGS_MODULE``).
"""

from __future__ import annotations

import json
import os
from typing import Any

from django.http import HttpResponse
from flask import Flask, request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from stockade.adapters.asgi import StockadeMiddleware
from stockade.adapters.wsgi import StockadeWSGI

ADDRESS_HEADERS = (
    "x-forwarded-for",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "cf-connecting-ip",
    "forwarded",
    "x-forwarded-host",
    "x-original-url",
    "x-rewrite-url",
    "x-forwarded-port",
    "x-forwarded-user",
)


def record(handler: str, case: str, path: str, host: str, client: str, headers: dict[str, str]) -> None:
    line = json.dumps(
        {
            "handler": handler,
            "case": case,
            "path": path,
            "host": host,
            "client": client,
            "headers": {k: v for k, v in headers.items() if k in ADDRESS_HEADERS},
        }
    )
    with open(os.environ["BYPASS_LOG"], "a", encoding="utf-8") as log:
        log.write(line + "\n")


def handler_of(path: str) -> str:
    if path == "/secure" or path.startswith("/secure/"):
        return "secure"
    if path.startswith("/admin"):
        return "admin"
    if path.startswith("/shop-admin"):
        return "shop_admin"
    if path.startswith("/private"):
        return "private"
    return "other"


# -- Flask ------------------------------------------------------------------------------------


def make_flask() -> Any:
    app = Flask("bypass")

    def hit(name: str) -> str:
        headers = {k.lower(): v for k, v in request.headers.items()}
        record(name, headers.get("x-case", ""), request.path, request.host, request.remote_addr or "", headers)
        return f"handler {name}\n"

    app.add_url_rule("/secure/", "secure_root", lambda: hit("secure"))
    app.add_url_rule("/secure/<page>", "secure", lambda page: hit("secure"))
    app.add_url_rule("/secure/<path:page>", "secure_deep", lambda page: hit("secure"))
    app.add_url_rule("/admin", "admin", lambda: hit("admin"))
    app.add_url_rule("/admin/<path:rest>", "admin_deep", lambda rest: hit("admin"))
    app.add_url_rule("/shop-admin", "shop_admin", lambda: hit("shop_admin"))
    app.add_url_rule("/shop-admin/<path:rest>", "shop_admin_deep", lambda rest: hit("shop_admin"))
    app.add_url_rule("/private", "private", lambda: hit("private"))
    app.add_url_rule("/private/<path:rest>", "private_deep", lambda rest: hit("private"))
    app.add_url_rule("/", "root", lambda: hit("other"))
    app.add_url_rule("/<path:rest>", "other", lambda rest: hit("other"))
    return app


def flask_app() -> Any:
    """The plain app, behind ``stockade serve``."""
    return make_flask()


def flask_guarded() -> Any:
    """The app behind the WSGI middleware."""
    app = make_flask()
    app.wsgi_app = StockadeWSGI(app.wsgi_app, os.environ["STOCKADE_CONFIG"])  # type: ignore[method-assign]
    return app


# -- Starlette --------------------------------------------------------------------------------


def starlette_guarded() -> Any:
    def endpoint(name: str) -> Any:
        async def hit(request: Request) -> PlainTextResponse:
            headers = {k.lower(): v for k, v in request.headers.items()}
            client = request.client.host if request.client else ""
            record(name, headers.get("x-case", ""), request.url.path, headers.get("host", ""), client, headers)
            return PlainTextResponse(f"handler {name}\n")

        return hit

    routes = [
        Route("/secure/", endpoint("secure")),
        Route("/secure/{page:path}", endpoint("secure")),
        Route("/admin", endpoint("admin")),
        Route("/admin/{rest:path}", endpoint("admin")),
        Route("/shop-admin", endpoint("shop_admin")),
        Route("/shop-admin/{rest:path}", endpoint("shop_admin")),
        Route("/private", endpoint("private")),
        Route("/private/{rest:path}", endpoint("private")),
        Route("/{rest:path}", endpoint("other")),
    ]
    return StockadeMiddleware(Starlette(routes=routes), os.environ["STOCKADE_CONFIG"])


# -- Django -----------------------------------------------------------------------------------


def django_view(request: Any, **_: Any) -> Any:
    name = handler_of(request.path)
    headers = {k.lower(): v for k, v in request.headers.items()}
    record(
        name, headers.get("x-case", ""), request.path, request.get_host(), request.META.get("REMOTE_ADDR", ""), headers
    )
    return HttpResponse(f"handler {name}\n", content_type="text/plain")
