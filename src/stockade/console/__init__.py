"""The operators' console: web pages over the admin API, served on the admin listener at ``/ui/``.

Server-rendered HTML (templates and a little JavaScript and CSS shipped in the package, no
build step) that reads the same in-process objects as the admin API (the guard, the
metrics, the audit log) and acts through the API's own routes, so every action is
validated and audited as an API call is. See :mod:`stockade.console.app` for who may ask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stockade.console.app import Console, config_digest

if TYPE_CHECKING:
    from stockade.admin import AdminApp
    from stockade.config import Config
    from stockade.rules import BlockReloader

__all__ = ["Console", "config_digest", "mount_console"]


def mount_console(admin: AdminApp | None, config: Config, block: BlockReloader | None) -> Console | None:
    """Mount the console of ``config`` at ``/ui`` on its admin API (nothing without an admin API)."""
    if admin is None:
        return None
    console = Console(admin, config, block)
    admin.mount("/ui", console)
    return console
