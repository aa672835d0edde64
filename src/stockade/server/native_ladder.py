"""The native ladder of a site: what the native front decides without Python.

:func:`native_ladder` builds, for the site in force, the settings of the ladder in the
native module (:class:`stockade._native.NativeLadder`): the bans' exemptions, the store's
ban view (the same native table the stores' change feeds write), the lockout directories,
how detection runs, where a request that passes goes and what a banned client is told.
The front then decides each request in Rust first; whatever the native ladder cannot
finish goes to the Python ladder (:class:`~stockade.server.native.Bridge`), which decides
it from the start. So a native decision is always the one the Python ladder takes.

With a decision listener, the native ladder answers the proxies' check requests too
(:mod:`stockade.decision`): the decision point's trusted proxies and forwarding header,
and mod_block's blocklist, which meets each check request's client, come along.

A site gets no native ladder (every request goes to Python, as before) when the native
side cannot decide for it the way the Python side does:

- the guard's clock is not the system's (a test's clock: the front reads the system's);
- the store keeps no ban view (a store of another kind);
- routes send some paths elsewhere, or response rules watch the statuses (the response
  filter is a Python callback): then only check requests are decided natively;
- there is neither an upstream nor a document root nor a decision listener.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from stockade import _native
from stockade.clock import SystemClock
from stockade.core.events import BANS_DIRECTORY
from stockade.engine._async.ladder import AsyncLadder
from stockade.engine._sync.ladder import Ladder
from stockade.ipsets import ip_set
from stockade.stores.view import BanView

if TYPE_CHECKING:
    # For the annotations only: `stockade replay` builds its ladder here without the
    # servers' site (and the console it mounts), which cost it a quarter of its imports.
    from stockade.server.site import Site

__all__ = ["ban_view_of", "ladder_of", "middleware_ladder", "native_ladder", "store_catch_up", "twin"]

# The decision listener's part: who may ask, the decision point's canonical request, the
# prefix of the decision ids.
Decision = tuple[_native.IPSet, _native.Canonicalizer, str]


def ban_view_of(store: object) -> BanView | None:
    """The ban view of a store (an offloaded store's own), if it keeps one."""
    inner = getattr(store, "sync", store)
    view = getattr(inner, "ban_view", None)
    return view if isinstance(view, BanView) else None


def native_ladder(site: Site, *, routed: bool = True) -> _native.NativeLadder | None:
    """The native ladder of ``site``, or ``None`` when Python decides every request (see above).

    ``routed=False``: a ladder for the check requests only (the site's own requests all go
    to Python), or ``None`` without a decision listener.
    """
    config = site.config
    if config.routes or site.guard.bans.settings.response_rules:
        # Only the site's own requests need the routes and the response filter: a check
        # request's response is the asking proxy's (its log feeds the response rules).
        routed = False
    route: tuple[str, int] | None = None
    if routed and config.upstream is not None:
        route = ("upstream", 0)
    elif routed and config.document_root is not None:
        route = ("files", 0)
    point = site.decision
    if route is None and point is None:
        return None
    decision, blocklist = None, None
    if point is not None:
        decision = (ip_set(point.proxies.ranges()), point.resolver.canonicalizer(point.policy), point.native_prefix)
        blocklist = site.block.table.blocklist if site.block is not None else None
    canonicalizer = site.resolver.canonicalizer(config.paths)
    return ladder_of(site.ladder, canonicalizer=canonicalizer, route=route, decision=decision, blocklist=blocklist)


def ladder_of(
    ladder: AsyncLadder | Ladder,
    *,
    canonicalizer: _native.Canonicalizer | None = None,
    route: tuple[str, int] | None = None,
    decision: Decision | None = None,
    blocklist: _native.IPSet | None = None,
) -> _native.NativeLadder | None:
    """The native twin of a Python ladder's exemptions, bans, mod_block, detection and
    directories, or ``None`` when its guard's clock or store rules it out."""
    guard = ladder.guard
    bans = guard.bans
    view = ban_view_of(bans.store)
    if view is None or type(bans.clock) is not SystemClock or type(guard.clock) is not SystemClock:
        return None
    return twin(
        ladder,
        view,
        canonicalizer=canonicalizer,
        route=route,
        decision=decision,
        blocklist=blocklist,
    )


def store_catch_up(store: object) -> Callable[[], None]:
    """What brings other processes' changes into a store's ban view (its ``catch_up``, at
    most once a millisecond; nothing for a store without one): a reader of the view that
    does not peek through the store calls it before each read, as a peek would."""
    inner = getattr(store, "sync", store)
    catch_up = getattr(inner, "catch_up", None)
    return catch_up if callable(catch_up) else _nothing


def _nothing() -> None:
    return None


def middleware_ladder(
    ladder: AsyncLadder | Ladder, canonicalizer: _native.Canonicalizer
) -> _native.NativeLadder | None:
    """The native ladder of a middleware (:meth:`~stockade._native.NativeLadder.asgi`,
    ``wsgi``): the middleware's canonical request, and mod_block's IP blocklist met by each
    request's client, as the middleware checks it. ``None`` when the Python ladder decides
    every request (see :func:`ladder_of`), or when response rules watch the statuses (the
    middleware then notes each response for them)."""
    if ladder.guard.bans.settings.response_rules:
        return None
    blocklist = ladder.block.table.blocklist if ladder.block is not None else None
    return ladder_of(ladder, canonicalizer=canonicalizer, blocklist=blocklist)


def twin(
    ladder: AsyncLadder | Ladder,
    view: BanView,
    *,
    canonicalizer: _native.Canonicalizer | None = None,
    route: tuple[str, int] | None = None,
    decision: Decision | None = None,
    blocklist: _native.IPSet | None = None,
) -> _native.NativeLadder:
    """The native ladder of ``ladder`` over the ban view ``view``, whatever the clock (the
    caller gives each decision its time)."""
    bans = ladder.guard.bans
    settings = bans.settings
    detector = settings.detector
    events = bans.events.has_callbacks(BANS_DIRECTORY)
    detecting = settings.enabled and (bool(detector.rules) or detector.custom is not None)
    refusal = ladder.ban_refusal()
    # A clean request is inspected natively; a hit, a body, a user's condition rule, or
    # events for the clean requests go to Python.
    engine = detector.engine.native() if detecting and detector.custom is None and detector.rules else None
    detection = "native" if engine is not None and not events else "python" if detecting or events else "off"
    return _native.NativeLadder(
        bans=view.table,
        enabled=settings.enabled,
        ipv6_prefix=settings.ipv6_prefix,
        allow=ip_set(settings.allow.ranges()),
        ignore_paths=list(settings.ignore_paths),
        ignore_patterns=bool(settings.ignore_patterns),
        ban_events=events,
        # Until detection runs natively, every request it would inspect goes to Python; so
        # do all of them when someone listens to the clean requests' events.
        detection=detection,
        directories=list(ladder.gates),
        canonicalizer=canonicalizer,
        route=route,
        ban_response=(refusal.status, [(bytes(n), bytes(v)) for n, v in refusal.headers], refusal.body),
        engine=engine,
        block=ladder.block.table.native if ladder.block is not None else None,
        hosts=ladder.hosts.native if ladder.hosts is not None else None,
        decision=decision,
        blocklist=blocklist,
    )
