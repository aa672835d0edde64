"""Everything the protecting server builds from one configuration, swapped whole on reload.

A :class:`Site` holds the guard, the checks (:class:`~stockade.engine.AsyncLadder`), the
mod_block files, the client-IP resolver, the routes, the decision
endpoint and the admin API of one :class:`~stockade.config.Config`. A reload builds a new site aside, on the
same stores (their connections and local views stay), and the server swaps it in with
one assignment: a request sees the old site or the new one, never a mix. The mod_block
counters, and the counts of failed reloads of its files, carry over, as BFE's module
counters survive its reloads. A site remembers the files it was built from
(:func:`~stockade.server.reloading.fingerprints`), so that a reload can say what changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from stockade.admin import AdminApp
from stockade.admin.app import ServerControl
from stockade.clock import Clock
from stockade.config import Config
from stockade.console import mount_console
from stockade.core.client_ip import ClientIpResolver
from stockade.core.directories import DirectoryTable
from stockade.decision.point import DecisionPoint
from stockade.engine import AsyncGuard
from stockade.engine._async.ladder import AsyncLadder
from stockade.engine.audit import AuditLog
from stockade.engine.events import EventSink
from stockade.metrics import Metrics
from stockade.rules import BlockReloader, BlockTable
from stockade.server.listen import ListenAddress
from stockade.server.protect import DirectoryGate
from stockade.server.reloading import Fingerprint, fingerprints
from stockade.server.settings import RouteTarget
from stockade.stores import AsyncLockoutStore, open_async_store, open_directory_stores


@dataclass
class Stores:
    """The stores a server opened once: the default one and those of directories with a data file."""

    default: AsyncLockoutStore
    directories: dict[str, AsyncLockoutStore]

    @classmethod
    def open(cls, config: Config) -> Stores:
        store = open_async_store(config.store_url, config.base)
        own = open_directory_stores(store, config.store_url, config.directory_store_urls, open_async_store)
        return cls(store, own)

    async def aclose(self) -> None:
        for store in {id(s): s for s in (self.default, *self.directories.values())}.values():
            await store.aclose()


@dataclass
class Site:
    """One configuration, built: see the module docstring."""

    config: Config
    guard: AsyncGuard
    ladder: AsyncLadder
    block: BlockReloader | None
    resolver: ClientIpResolver
    routes: DirectoryTable[RouteTarget]
    default_target: RouteTarget | None
    admin: AdminApp | None
    audit: AuditLog | None = None
    decision: DecisionPoint | None = None
    files: dict[str, Fingerprint | None] = field(default_factory=dict)

    def target(self, path: str) -> RouteTarget | None:
        """What serves ``path``: the longest matching route, else the upstream, else the files."""
        found = self.routes.match(path)
        return found[1] if found is not None else self.default_target

    def close_events(self) -> None:
        """Stop this site's event threads (its stores stay open for the next site)."""
        self.guard.events.close()


def build_site(
    config: Config,
    stores: Stores,
    *,
    clock: Clock,
    listen: Sequence[ListenAddress],
    metrics: Metrics,
    previous: Site | None = None,
    server: ServerControl | None = None,
    audit_in_force: Callable[[], AuditLog | None] | None = None,
) -> Site:
    """A site for ``config`` on ``stores``; blocking work (files, the first store calls) included.

    ``server`` answers the admin API for the whole server, ``audit_in_force`` gives the
    audit log of the site in force (the admin API writes its calls there).
    """
    sinks: list[EventSink] = [metrics.sink]
    audit = None
    if config.audit_json is not None or config.audit_text is not None:
        audit = AuditLog(config.audit_json, config.audit_text)
        sinks.append(audit)
    settings = dataclasses.replace(config.guard_settings(), listeners=config.lockout_listeners(listen))
    guard = AsyncGuard(settings, stores.default, clock=clock, sinks=sinks, directory_stores=stores.directories)
    block = config.block.reloader() if config.block is not None else None
    if block is not None and previous is not None and previous.block is not None:
        # The module's counters outlive reloads (BFE's do): the new table counts on in the old ones.
        block.table = BlockTable(block.table.rules, block.table.blocklist, previous.block.table.counters)
        block.errors = previous.block.errors
    bans = guard.bans.settings
    if bans.enabled and bans.detector.rules:
        # The native detection engine takes about a second to compile: here (a reload builds
        # the site in a thread), not on the site's first request.
        bans.detector.engine.native()
    gates = {d.path: DirectoryGate(d, clock) for d in config.directories}
    ladder = AsyncLadder(
        guard,
        block=block,
        hosts=config.block.hosts if config.block is not None else None,
        gates=gates,
    )
    routes: DirectoryTable[RouteTarget] = DirectoryTable((route.path, route.to) for route in config.routes)
    default: RouteTarget | None = "files" if config.document_root is not None else None
    if config.upstream is not None:
        default = "upstream"
    decision = None
    if config.decision is not None:
        decision = DecisionPoint(
            ladder, config.decision.settings, clock=clock, policy=config.paths, trusted=config.trusted.networks
        )
    admin = None
    if config.admin is not None:
        admin = AdminApp(guard, config.admin, metrics=metrics, audit=audit_in_force or audit, server=server)
        mount_console(admin, config, block)
    return Site(
        config=config,
        guard=guard,
        ladder=ladder,
        block=block,
        resolver=ClientIpResolver(config.trusted),
        routes=routes,
        default_target=default,
        admin=admin,
        audit=audit,
        decision=decision,
        files=fingerprints(config),
    )
