"""The Reload page: reload the configuration, and see how the last reloads ended, errors one a line."""

from __future__ import annotations

from collections.abc import Mapping

from stockade.console.web import Parts, Reply, Request, back, render


def error_lines(answer: object) -> list[str]:
    """The errors of a refused reload, one a line, whichever form the answer takes.

    ``{"errors": [...]}`` is used as it is; a single ``error`` or ``message`` text is split
    into its lines, and a configuration's summary line (``N problems:``) and list markers go.
    """
    if not isinstance(answer, Mapping):
        return ["the reload failed"]
    errors = answer.get("errors")
    if isinstance(errors, list) and errors:
        return [str(error) for error in errors]
    text = str(answer.get("error") if answer.get("reload") == "error" else answer.get("message") or "")
    lines = [line.strip().removeprefix("- ") for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].endswith("problems:"):
        head = lines[0].rsplit(":", 2)[0]
        lines = [f"{head}: {line}" if not line.startswith(head) else line for line in lines[1:]]
    return lines or ["the reload failed"]


def failed(status: int, answer: object) -> bool:
    return status != 200 or (isinstance(answer, Mapping) and answer.get("reload") == "error")


async def reload_page(parts: Parts, request: Request, *, status: int = 200, errors: list[str] | None = None) -> Reply:
    return render(
        parts,
        request,
        "reload.html",
        status,
        errors=errors,
        recent=parts.metrics.reloads.recent(),
        config_path=str(parts.config.path),
        digest=parts.digest,
        loaded_at=parts.loaded_at,
        can_reload=parts.admin.can_reload,
    )


async def reload(parts: Parts, request: Request) -> Reply:
    status, answer = await parts.admin.call("POST", "/reload", {}, by=request.by)
    if failed(status, answer):
        return await reload_page(parts, request, status=409 if status == 200 else status, errors=error_lines(answer))
    return back("/reload", "reloaded", "")
