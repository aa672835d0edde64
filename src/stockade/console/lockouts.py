"""The Lockouts page: blocked users per directory and listener, block and unblock, recent successful logins."""

from __future__ import annotations

import math
from dataclasses import dataclass

from stockade.console.forms import FormError, ListenerChoice, choice, duration, listener, required
from stockade.console.web import Parts, Reply, Request, api_message, back, render
from stockade.core.directories import normalize_directory
from stockade.engine.views import AuthUser, BlockedUser
from stockade.errors import StoreError
from stockade.stores.records import ANY


@dataclass(frozen=True, slots=True)
class Directory:
    path: str
    blocked: list[BlockedUser]
    block_time: float
    max_retries: int | None
    lockout_by: str


def listener_label(address: str | None, port: int) -> str:
    host = address or "*"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def lockouts_page(
    parts: Parts,
    request: Request,
    *,
    status: int = 200,
    form_error: str | None = None,
    form: dict[str, str] | None = None,
) -> Reply:
    guard = parts.guard
    settings = {normalize_directory(d.path): d for d in guard.settings.directories}
    paths = sorted(settings)
    listeners = [listener_label(item.address, item.port) for item in guard.listeners]
    filter_error = None
    try:
        wanted_dir = choice(request.query, "dir", ("", *paths), "")
        wanted = listener("listener", choice(request.query, "listener", ("", *listeners), ""))
    except FormError as exc:
        wanted_dir, wanted, filter_error, status = "", ListenerChoice(), str(exc), 400
    address = ANY if wanted.every else (None if wanted.address == "*" else wanted.address)
    port = ANY if wanted.port is None else wanted.port
    blocked: list[BlockedUser] = []
    successes: list[AuthUser] = []
    store_error = None
    if paths:
        try:
            blocked = await guard.list_blocked_users(wanted_dir or None, address=address, port=port)
            successes = await guard.list_auth_users(wanted_dir or None, address=address, port=port)
        except StoreError as exc:
            store_error, status = str(exc), 503
    directories = [
        Directory(
            path,
            [user for user in blocked if user.directory == path],
            settings[path].policy.block_time,
            settings[path].policy.max_retries,
            settings[path].lockout_by,
        )
        for path in paths
        if not wanted_dir or path == wanted_dir
    ]
    return render(
        parts,
        request,
        "lockouts.html",
        status,
        directories=directories,
        paths=paths,
        listeners=listeners,
        several_listeners=len(listeners) > 1,
        wanted_dir=wanted_dir,
        wanted_listener=request.query.get("listener", "") if filter_error is None else "",
        successes=successes,
        filter_error=filter_error,
        store_error=store_error,
        form_error=form_error,
        form=form or {},
        listener_label=listener_label,
    )


async def block(parts: Parts, request: Request) -> Reply:
    form = request.form
    try:
        user = required(form, "user")
        directory = required(form, "dir")
        text = form.get("duration", "").strip()
        seconds = duration("duration", text) if text else None
        where = listener("listener", form.get("listener", ""))
    except FormError as exc:
        return await lockouts_page(parts, request, status=400, form_error=str(exc), form=form)
    body: dict[str, object] = {"user": user, "dir": directory, **where.api_fields()}
    if seconds is not None:
        body["seconds"] = "infinity" if math.isinf(seconds) else seconds
    status, answer = await parts.admin.call("POST", "/users/block", body, by=request.by)
    if status != 200:
        return await lockouts_page(parts, request, status=status, form_error=api_message(answer), form=form)
    return back("/lockouts", "blocked", f"{user} in {directory}")


async def unblock(parts: Parts, request: Request) -> Reply:
    form = request.form
    try:
        user = required(form, "user")
        directory = form.get("dir", "").strip()
        where = listener("listener", form.get("listener", ""))
    except FormError as exc:
        return await lockouts_page(parts, request, status=400, form_error=str(exc), form=form)
    body: dict[str, object] = {"user": user, "dir": directory or None, **where.api_fields()}
    status, answer = await parts.admin.call("POST", "/users/unblock", body, by=request.by)
    if status != 200:
        return await lockouts_page(parts, request, status=status, form_error=api_message(answer), form=form)
    return back("/lockouts", "unblocked", f"{user} in {directory}" if directory else f"{user} everywhere")
