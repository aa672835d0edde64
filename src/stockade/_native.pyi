"""The native data plane (Rust, built by maturin from ``native/``): tables built once from Python.

Every class and function of ``stockade._native`` is declared here, so that mypy checks the
Python side against the boundary. Native errors are the classes of :mod:`stockade.errors`
(a panic inside a call is :class:`~stockade.errors.NativeError`).
"""

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, final

@final
class IPSet:
    """An immutable set of IPv4 and IPv6 addresses and ranges, as sorted merged ranges.

    IPv4-mapped IPv6 (``::ffff:a.b.c.d``) is IPv4; an IPv6 range over ``::ffff:0:0/96``
    also holds the IPv4 addresses it maps, so ``::/0`` holds every address.
    """

    @property
    def version(self) -> str:
        """The blocklist meta header's version, or ``""``."""
    @property
    def singles(self) -> int:
        """Blocklist entries of one address."""
    @property
    def pairs(self) -> int:
        """Blocklist entries of more than one address."""
    @property
    def entries(self) -> int:
        """How many ranges or entries it was built from."""
    @staticmethod
    def from_ranges(ranges: Iterable[tuple[int, int]], /) -> IPSet:
        """A set of inclusive ranges of the 16-byte space (IPv4 as ``::ffff:a.b.c.d``).

        Raises :class:`~stockade.errors.InvalidArgument` for an item that is not a pair of
        ints ``0 <= start <= end < 2**128``.
        """
    def contains(self, address: str | bytes, /) -> bool:
        """Whether the address is in the set.

        A str in any spelling :func:`stockade.netaddr.normalize_ip` accepts (a zone must be
        printable ASCII), or 4 or 16 packed bytes; anything else is not in the set.
        """
    def __contains__(self, address: object, /) -> bool: ...
    def __len__(self) -> int:
        """The number of disjoint ranges after merging."""
    def ranges(self) -> list[tuple[int, int]]:
        """Every merged range in the 16-byte space, IPv4 first."""
    def heap_bytes(self) -> int:
        """The bytes the set's arrays take."""

def parse_ip_blocklist(data: bytes, file: str) -> IPSet:
    """BFE's ``ip_blocklist.data`` content as a set; ``version``, ``singles`` and ``pairs`` describe the file.

    Raises :class:`~stockade.errors.BlocklistError` naming ``file`` and the line, with the
    texts of :mod:`stockade.rules.ip_blocklist`.
    """

@final
class NativeRequest:
    """A request copied into native memory, for conditions to read without touching Python."""

    @staticmethod
    def from_facts(facts: object, /) -> NativeRequest:
        """Copy every part of a :class:`~stockade.core.facts.RequestFacts`."""

@final
class CanonicalRequest:
    """A front's canonical request as the checks read it, natively and in one call.

    Made by :meth:`Canonicalizer.asgi` and :meth:`Canonicalizer.wsgi`; an
    :class:`~stockade.request.incoming.Incoming` keeps it as ``native``, and a
    :class:`BlockTable` (or a :class:`Condition`) given that ``Incoming`` reads the request
    from it instead of calling the ``Incoming``'s attributes. What only the facts know (the
    time) is still read from the facts.
    """

@final
class Condition:
    """A condition lowered by :mod:`stockade.conditions.lowering`, compiled natively.

    Raises :class:`~stockade.errors.InvalidArgument` naming the item if ``lowered`` is not
    a well-formed lowered condition.
    """

    def __init__(self, lowered: Sequence[tuple[object, ...]], /) -> None: ...
    def matches(self, request: object, /) -> bool:
        """Whether a request satisfies it: a :class:`NativeRequest`, an
        :class:`~stockade.request.incoming.Incoming` that holds a front's
        :class:`CanonicalRequest` (read from it), or another Python request
        (:class:`~stockade.core.facts.RequestFacts`, an ``Incoming`` without one) read part
        by part; an error raised while reading one propagates."""

@final
class RuleIndex:
    """Lowered conditions in order, indexed by what they require (see :meth:`stats`)."""

    def __init__(self, conditions: Iterable[Sequence[tuple[object, ...]]], /) -> None: ...
    def first_index(self, request: object, /, start: int = 0) -> int | None:
        """The position of the first condition from ``start`` on that the request satisfies."""
    def first_index_linear(self, request: object, /, start: int = 0) -> int | None:
        """The same by trying every condition in order (the index's reference)."""
    def stats(self) -> dict[str, int]:
        """How many conditions the index files under each kind: ``host``, ``path_prefix``,
        ``method``, ``words``, ``address``, ``query_key``, ``cookie``, ``header``, ``secure``
        and ``always`` (tried for every request)."""
    def __len__(self) -> int: ...

@final
class BlockCounters:
    """mod_block's counters (BFE's names), atomics shared by the tables that count into them."""

    def __init__(self) -> None: ...
    def snapshot(self) -> dict[str, int]:
        """Every counter by its BFE name: ``CONN_TOTAL`` ... ``REQ_TO_CHECK``."""
    @property
    def conn_total(self) -> int: ...
    @property
    def conn_accept(self) -> int: ...
    @property
    def conn_refuse(self) -> int: ...
    @property
    def req_total(self) -> int: ...
    @property
    def req_accept(self) -> int: ...
    @property
    def req_refuse(self) -> int: ...
    @property
    def wrong_command(self) -> int: ...
    @property
    def req_to_check(self) -> int: ...
    def connection(self, listed: bool, /) -> bool:
        """Count one connection; ``listed`` (its peer is in the blocklist) means it is closed."""

@final
class BlockRules:
    """Every product's rules: ``(product, [(lowered condition, command, decision), ...])``.

    A command other than ``CLOSE`` and ``ALLOW`` counts ``WRONG_COMMAND`` when its rule
    matches. ``decision`` is the object a table answers with when the rule decides (or, for
    another command, leaves its name as the request's block info).
    """

    def __init__(
        self, products: Iterable[tuple[str, Sequence[tuple[Sequence[tuple[object, ...]], str, object]]]], /
    ) -> None: ...
    def index_stats(self, product: str, /) -> dict[str, int] | None:
        """How a product's index files its rules (:meth:`RuleIndex.stats`), ``None`` without the product."""
    def __len__(self) -> int: ...

@final
class BlockTable:
    """The rules in force (swapped atomically) and the counters, with BFE's request check."""

    def __init__(self, rules: BlockRules, counters: BlockCounters, pass_decision: object, /) -> None: ...
    def set_rules(self, rules: BlockRules, /) -> None:
        """Put other rules in force."""
    def check_request(self, request: object, product: str | None, /) -> object:
        """The decision for a request of ``product`` (``None``: only the global rules): the
        deciding rule's decision object, or ``pass_decision``. ``request`` is read as
        :meth:`Condition.matches` reads it."""
    def take_hits(self) -> list[tuple[object, bool]]:
        """The rules that matched requests the native front decided, in order, taken:
        ``(decision, closed)`` each."""
    def check_connection(self, listed: bool, /) -> bool:
        """Count one connection (``listed``: its peer is in the blocklist); True if it is closed."""
    @property
    def counters(self) -> BlockCounters: ...

@final
class HostTable:
    """Request host to product: exact names, ``*.`` wildcard domains (given without ``*.``), a default."""

    def __init__(
        self, exact: Sequence[tuple[str, str]], wildcards: Sequence[tuple[str, str]], default_product: str | None, /
    ) -> None: ...
    def product(self, host: str, /) -> str | None:
        """The product of a request with this Host header (port, case, one trailing dot ignored), or ``None``."""

def regex_problem(pattern: str, /) -> str | None:
    """Why the native engine cannot run a regular expression in Go's syntax, or ``None``."""

def _go_fold(text: str | bytes, /, upper: bool = True) -> bytes:
    """Go's ``strings.ToUpper`` (``ToLower``) of text as the native side folds it (for tests)."""

def _time_native(target: Condition | RuleIndex, request: NativeRequest, repeat: int, /) -> int:
    """Nanoseconds ``repeat`` evaluations of ``target`` on ``request`` take in one native loop (benchmarks)."""

@final
class ClientIp:
    """Who the client is, and why.

    ``address`` is the normalised client address (the peer as given when the peer is not an
    IP address at all, such as a Unix socket); ``peer`` the normalised peer; ``trusted``
    whether the peer is a trusted proxy; ``header`` the forwarding header that named the
    client (``None`` when the client is the peer); ``forwarded`` whether the request carried
    any forwarding header, believed or not. Equal when every field is equal; hashable.
    """

    def __init__(
        self, address: str, peer: str, trusted: bool = False, header: str | None = None, forwarded: bool = False
    ) -> None: ...
    @property
    def address(self) -> str: ...
    @property
    def peer(self) -> str: ...
    @property
    def trusted(self) -> bool: ...
    @property
    def header(self) -> str | None: ...
    @property
    def forwarded(self) -> bool: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Canonicalizer:
    """The canonical request of every front, built once from the settings.

    ``merge_slashes`` and ``escaped_slashes`` (``"reject"`` or ``"keep"``) are the path
    policy (:class:`stockade.request.paths.PathPolicy`); ``trusted`` the trusted proxies
    and ``header`` the one forwarding header believed from them (``x-forwarded-for``,
    ``forwarded`` or ``x-real-ip``, any case). Raises
    :class:`~stockade.errors.InvalidArgument` for another value.
    """

    def __init__(
        self,
        *,
        merge_slashes: bool = True,
        escaped_slashes: str | None = None,
        trusted: IPSet | None = None,
        header: str | None = None,
    ) -> None: ...
    @property
    def merge_slashes(self) -> bool: ...
    @property
    def escaped_slashes(self) -> str: ...
    @property
    def header(self) -> str: ...
    def resolve(self, peer: str, headers: Iterable[tuple[bytes, bytes]]) -> ClientIp:
        """The client of a request from ``peer`` with these ``(name, value)`` header lines."""
    def asgi(
        self, scope: dict[str, Any], require_host: bool = False, tls: object | None = None
    ) -> tuple[str, bytes, str, ClientIp, str, str, str, str, CanonicalRequest]:
        """Canonicalise an ASGI scope in place: ``(path, target, host, client, method, query, proto, uri, request)``.

        Reads ``raw_path`` (else the decoded ``path``, escaped), ``headers``, ``client``,
        ``method``, ``query_string`` and ``http_version``; writes back ``raw_path``,
        ``path``, ``headers`` and (when a trusted proxy named the client) ``client`` only
        where they change. ``host`` is the canonical ``Host`` (``name[:port]``, ``""``
        without one), ``query`` the query as Latin-1 text, ``proto`` ``HTTP/`` and the
        version, ``uri`` the target and the query (``target?query``), ``request`` the
        :class:`CanonicalRequest` the checks read, which keeps ``tls`` (the front's
        :class:`~stockade.request.incoming.TlsFacts`, read instead of the scope's). Raises
        :class:`~stockade.errors.BadRequest` (nothing written) for a request with no safe
        canonical form, and with ``require_host`` for an HTTP/1.1 request without ``Host``.
        """
    def wsgi(self, environ: dict[str, Any]) -> tuple[str, bytes, str, ClientIp, str, str, str, str, CanonicalRequest]:
        """Canonicalise a WSGI environ in place: ``(path, target, host, client, uri, query, method, protocol,
        request)``.

        The path comes from ``RAW_URI`` or ``REQUEST_URI`` (absolute form understood), else
        from ``SCRIPT_NAME`` + ``PATH_INFO`` escaped, never decoded twice, and must stay
        under ``SCRIPT_NAME``. Writes back ``PATH_INFO``, ``RAW_URI``/``REQUEST_URI`` (the
        canonical ``uri``), ``HTTP_HOST`` (deleted when it names no host) and, when a trusted
        proxy named the client, ``REMOTE_ADDR``; deletes the proxy-only ``HTTP_*`` headers of
        an untrusted peer. ``request`` is the :class:`CanonicalRequest` the checks read.
        Raises :class:`~stockade.errors.BadRequest` (nothing written) for a request with no
        safe canonical form.
        """

def canonical_path(raw: bytes, /, merge_slashes: bool = True, escaped_slashes: str | None = None) -> tuple[bytes, str]:
    """``(target, path)``: the canonical form of a raw request path (``raw`` itself as the
    target when it is canonical). Raises :class:`~stockade.errors.BadRequest`."""

def canonical_decoded_path(
    path: str, /, merge_slashes: bool = True, escaped_slashes: str | None = None
) -> tuple[bytes, str]:
    """``(target, path)``: the canonical form of an already decoded path, never decoded again.
    Raises :class:`~stockade.errors.BadRequest`."""

def canonical_host(value: bytes, /) -> tuple[str, str]:
    """``(name, port)``: the canonical ``Host``. Raises :class:`~stockade.errors.BadRequest`."""

def canonical_headers(
    headers: Iterable[tuple[bytes, bytes]], /, *, trusted: bool
) -> tuple[list[tuple[bytes, bytes]], tuple[str, str]]:
    """The header list a backend receives (``headers`` itself when it is a list and nothing
    changes) and the canonical host ``(name, port)``. Raises :class:`~stockade.errors.BadRequest`
    for several ``Host`` headers or a bad one."""

def proxy_only(name: bytes, /) -> bool:
    """Whether a header (any case, ``_`` or ``-``) is one only a trusted proxy may send."""

def proxy_only_headers() -> tuple[bytes, ...]:
    """The names of the headers only a trusted proxy may send, in lower case."""

def _panic(message: str) -> None:
    """Panic inside a native call (the tests prove that it raises NativeError)."""

# -- the native front (stockade.server.native) ------------------------------------------------

@final
class BanTable:
    """Every active ban of a store: ban keys and networks, each with its end."""

    def __init__(self, capacity: int = 1_000_000, *, trusted: bool = True) -> None: ...
    @property
    def capacity(self) -> int: ...
    @property
    def trusted(self) -> bool: ...
    @trusted.setter
    def trusted(self, value: bool) -> None: ...
    @property
    def complete(self) -> bool:
        """False past the capacity or while the change feed is lost: ask the store."""
    def __len__(self) -> int: ...
    def peek(self, ip: str, key: str, now: float) -> tuple[bool, float | None]:
        """``(known, until)`` for a normalised address whose ban key is ``key``."""
    def set(self, key: str, until: float | None, *, network: bool | None) -> None:
        """A ban's new end (``None``: no ban); ``network`` None when the kind is not known."""
    def replace_all(self, records: list[tuple[str, float, bool]]) -> None:
        """Load every ban at once, ``(key, until, network)``; the view is complete again."""
    def forget(self, *, trusted: bool) -> None:
        """Drop every ban (the feed was lost)."""

class NativeLadder:
    """The native ladder of one site: exemptions, bans, mod_block, detection, lockout directories."""

    def __init__(
        self,
        *,
        bans: BanTable,
        enabled: bool,
        ipv6_prefix: int,
        allow: IPSet | None = None,
        ignore_paths: list[str] = ...,
        ignore_patterns: bool = False,
        ban_events: bool = False,
        detection: str = "off",
        directories: list[str] = ...,
        canonicalizer: Canonicalizer | None = None,
        route: tuple[str, int] | None = None,
        ban_response: tuple[int, list[tuple[bytes, bytes]], bytes] | None = None,
        engine: DetectionEngine | None = None,
        block: BlockTable | None = None,
        hosts: HostTable | None = None,
        decision: tuple[IPSet, Canonicalizer, str] | None = None,
        blocklist: IPSet | None = None,
    ) -> None:
        """``detection``: ``"off"``, ``"python"`` (every request it would inspect goes to
        Python) or ``"native"`` (``engine`` inspects the front's requests; a hit, a body or a
        rewritten path goes to Python). ``block``: mod_block's table (the front evaluates
        its rules on its own request; a request a rule matches, or whose rules read the
        body, goes to Python), with ``hosts`` to find a request's product. ``route``
        ``None``: the front decides only check requests. ``decision``: the decision
        listener's ``(proxies, canonicalizer, id prefix)``. ``blocklist``: mod_block's IP
        blocklist, which the client of each check request and of each middleware request
        (:meth:`asgi`, :meth:`wsgi`) meets."""
    def decide(
        self, client: str | None, path: str, now: float
    ) -> tuple[str] | tuple[str, str] | tuple[str, float, int | None]:
        """``("pass",)``, ``("banned", until, retry_after)`` or ``("python", why)``."""
    def asgi(self, scope: dict[str, Any]) -> str | tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """The ASGI middleware's decision of an ``http`` scope, in one call, at the system's time.

        A clean pass returns the client the guard believes (``""``: none), the scope made
        canonical exactly as :meth:`Canonicalizer.asgi` makes it; a banned client returns
        ``(status, headers, body)`` (``Retry-After`` included), the scope untouched; ``None``:
        the Python ladder decides the whole request (the scope untouched, nothing counted).
        """
    def wsgi(self, environ: dict[str, Any]) -> tuple[str, str] | tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """:meth:`asgi` for a WSGI environ (made canonical as :meth:`Canonicalizer.wsgi` makes
        it); a clean pass returns ``(client, canonical path)``."""
    @property
    def counts(self) -> tuple[int, int, int]:
        """The middleware requests decided by :meth:`asgi` and :meth:`wsgi`: ``(allowed, banned, python)``."""

class AsgiMiddleware:
    """The native part of the ASGI middleware (``StockadeMiddleware`` subclasses it).

    ``__call__`` takes a clean ``http`` request (a ``dict`` scope not yet checked, once
    :meth:`_arm` gave it a native ladder) without a Python frame: the store's catch-up at
    most once a millisecond, the native ladder's decision at the system's time, the scope
    made canonical exactly as :meth:`NativeLadder.asgi` makes it, ``stockade.checked``,
    ``stockade.guard``, ``stockade.client`` and ``stockade.protection`` set, and the app's
    own ``app(scope, receive, send)`` returned. Otherwise it returns the subclass's
    ``_slow(scope, receive, send)`` (the scope untouched), ``_python(scope, receive, send)``
    (the native ladder handed the request on; ``stockade.checked`` set) or
    ``_banned(scope, send, (status, headers, body))``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Any arguments: the subclass reads them."""
    def _arm(
        self,
        *,
        app: Callable[..., Awaitable[None]],
        ladder: NativeLadder,
        guard: object,
        protection: object,
        catch_up: Callable[[], None] | None,
        table: object | None,
        blocklist: object,
    ) -> None:
        """Decide clean requests natively, passing them to ``app``; ``table``: mod_block's
        table, whose ``blocklist`` must still be ``blocklist`` (else ``_slow``)."""
    def _disarm(self) -> None:
        """Send every request to ``_slow``."""
    @property
    def _armed(self) -> bool:
        """Whether clean requests are decided natively."""
    def __call__(self, scope: Any, receive: Any, send: Any) -> Awaitable[None]:
        """The ASGI application: an awaitable for the server (see above)."""

class ReplayLog:
    """``stockade replay``'s fast path over a site's native ladder (see :mod:`stockade.replay`).

    ``window``: ``[bans] window``; ``watched``: the statuses the response rules count
    (those lines go back to the driver)."""

    def __init__(self, ladder: NativeLadder, *, window: float, watched: list[int] = ...) -> None: ...
    def set_ladder(self, ladder: NativeLadder) -> None:
        """Put another ladder in force (after a reload); what was told of the clients stays."""
    def set_status(self, ip: str, strikes: list[float] | None) -> None:
        """An IPv4 client the driver knows not to be banned, with the times of its strikes
        (its ``ip_status`` is then ``warning`` and how many are in the window, or ``safe``);
        ``None``: only the driver can tell (a ban, or one that ended before the sweep). A
        client never told is ``"safe"``. Anything but a dotted quad is ignored (its lines
        go to the driver)."""
    def run(
        self, data: bytes, start: int, now: float, next_sweep: float, *, last: bool = False
    ) -> tuple[str, int, int, float]:
        """Replay the lines of ``data`` from offset ``start`` at the simulated time ``now``
        (never earlier), up to the first line the driver must replay itself, or a last line
        without its newline unless ``last``: ``(output, offset, lines, now)``, the JSON
        lines written (each ending with a newline), the offset of the first line not
        replayed, how many lines were (blank and comment lines included) and the time
        after them. A line at or after ``next_sweep`` goes to the driver, which sweeps."""

def replay_log_time(text: str, /) -> float | None:
    """Seconds since the epoch of an access-log time ``10/Oct/2000:13:55:36 -0700``, as
    ``datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z").timestamp()`` gives it, for the
    strict spelling only (two-digit fields, ``Jan``, ``+HHMM``); ``None`` otherwise."""

class BoundSocket:
    """A listening socket bound by :func:`bind_socket`, served once a :class:`NativeFront` starts."""

    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int:
        """The real port (an ephemeral one for ``0``)."""
    def close(self) -> None:
        """Close the socket, unless a front serves it already."""

def describe_check(
    method: str, target: bytes, headers: list[tuple[bytes, bytes]]
) -> tuple[str, tuple[str, bytes, bytes, str, list[tuple[bytes, bytes]]]] | None:
    """What :meth:`Request.original` reads, on plain values (``stockade.decision.styles.describe``'s twin)."""

def bind_socket(host: str, port: int) -> BoundSocket:
    """Bind and listen on ``host:port`` (an IP literal; IPv6 sockets are IPv6-only).

    Raises ``OSError`` with the system's errno when the address cannot be bound.
    """

@final
class FrontSite:
    """What the front's requests read, built at start and at each reload, swapped whole."""

    def __init__(
        self,
        *,
        limits: tuple[int, int | None, float, float, float, float],
        upstreams: list[tuple[str, int, bytes, float, float, int]],
        document_root: str | None = None,
        blocklist: IPSet | None = None,
        access_log: bool = False,
    ) -> None:
        """``limits``: max header bytes, max body bytes, header, body, keep-alive and drain timeouts
        (seconds); each upstream: host, port, base path, connect and read timeouts, idle connections."""

@final
class ListenerOptions:
    """One listener's name (``127.0.0.1:8080``), TLS and PROXY protocol; ``http2``: offer HTTP/2 by ALPN on TLS."""

    def __init__(
        self,
        name: str,
        *,
        tls: tuple[str, str, str | None, str] | None = None,
        proxy_protocol: str = "off",
        proxy_from: IPSet | None = None,
        admin: bool = False,
        decision: bool = False,
        http2: bool = True,
    ) -> None:
        """``tls``: certificate file, key file, client CA file, client auth (``none``, ``optional``,
        ``required``). ``admin`` and ``decision`` listeners are not checked against the
        blocklist. Raises ``ValueError`` for a certificate that cannot be loaded."""

@final
class Request:
    """A request handed to the Python request filter; answer it once with one of the methods."""

    @property
    def method(self) -> str: ...
    @property
    def target(self) -> bytes: ...
    @property
    def http_version(self) -> str: ...
    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        """As sent, names lower-cased."""
    @property
    def body(self) -> bytes | None:
        """The body's first bytes, read for the checks after :meth:`read_body`; else ``None``."""
    @property
    def uninspected(self) -> int:
        """The count of body bytes known to lie beyond :attr:`body`."""
    @property
    def peer(self) -> tuple[str, int]: ...
    @property
    def local(self) -> tuple[str, int]: ...
    @property
    def source(self) -> tuple[str, int] | None:
        """The PROXY-protocol source, if the listener speaks it."""
    @property
    def scheme(self) -> str: ...
    @property
    def listener(self) -> int:
        """The index of the listener in the front's list."""
    @property
    def tls(self) -> tuple[str | None, str | None, bool, str | None] | None:
        """``(sni, version, client_auth, client_ca)`` of a TLS connection."""
    def original(self) -> tuple[str, tuple[str, bytes, bytes, str, list[tuple[bytes, bytes]]]] | None:
        """A check request's style and original request ``(method, path, query, scheme, headers)``,
        read in Rust; ``None`` for no check path. Raises ``BadCheck`` or ``BadRequest`` as
        ``stockade.decision.styles.describe`` does."""
    def forward(
        self,
        *,
        upstream: int = 0,
        target: bytes | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
        peer: str | None = None,
        trusted: bool = False,
        real_ip: str | None = None,
        max_body_bytes: int | None = None,
        observe: Callable[[int], None] | None = None,
    ) -> None:
        """Forward it (``observe`` is told the response's status once it has gone)."""
    def files(self, path: str, *, observe: Callable[[int], None] | None = None) -> None:
        """Serve ``path`` from the document root."""
    def answer(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        """Answer it with this response."""
    def close(self) -> None:
        """Drop the connection without a response."""
    def read_body(self, limit: int) -> None:
        """Read up to ``limit`` bytes of the body first; the request comes back with them as ``body``."""

@final
class NativeFront:
    """The running front: a tokio runtime serving its listeners."""

    @staticmethod
    def start(
        *,
        workers: int,
        listeners: list[tuple[BoundSocket, ListenerOptions]],
        site: FrontSite,
        python_filter: bool = False,
        access_log: str | None = None,
    ) -> NativeFront:
        """Start serving; with ``python_filter`` each request waits for a decision from Python."""
    def inbox_fd(self) -> int:
        """Readable when requests wait for a decision (``-1`` without ``python_filter``)."""
    def take_requests(self) -> list[Request]:
        """The requests waiting for a decision; queued response statuses go to their observers."""
    def reload(self, site: FrontSite) -> None:
        """Put a new site in force."""
    def drain(self, timeout: float) -> int:
        """Stop accepting; wait up to ``timeout`` s for the connections; how many were still busy."""
    def stop(self) -> None:
        """End every connection and the front's threads (idempotent)."""
    def stats(self) -> dict[str, int]:
        """The front's counters."""
    def proxy_refusals(self) -> list[tuple[str, int]]:
        """Connections closed because their peer may not send a PROXY header, by listener name."""
    def messages(self) -> list[tuple[int, str]]:
        """Log lines queued by the front since the last call, ``(level, message)``."""
    def set_ladder(self, ladder: NativeLadder | None) -> None:
        """Decide with this native ladder before the Python filter (``None``: every request to Python)."""
    def ladder_counts(self) -> tuple[int, int, int]:
        """The requests the native ladder decided: ``(allowed, banned, handed to Python)``."""
    def check_counts(self) -> tuple[int, int]:
        """The check requests the native ladder answered: ``(allowed, banned)``."""

class DetectionEngine:
    """The detection rules of one configuration, lowered by :class:`stockade.detection.Engine`.

    Each rule is ``(id, pattern, match, targets, transforms, score, probe, anchors)``, each
    profile ``(prefixes, files, pattern)``. A pattern the native engine cannot compile raises
    :class:`~stockade.errors.ConfigError` naming the rule.
    """

    def __init__(
        self,
        rules: list[tuple[str, str, str, list[str], list[str], int, bool, list[str]]],
        threshold: int,
        headers: list[str],
        profiles: list[tuple[list[str], list[str], str]],
        body_limit: int | None,
        /,
    ) -> None: ...
    def inspect(
        self,
        method: str,
        path: str,
        raw_path: str,
        query: str,
        headers: tuple[tuple[str, str], ...],
        content_type: str,
        body: bytes,
        uninspected: int,
        known_route: bool,
        gated: bool,
        /,
    ) -> tuple[int, list[tuple[int, str, str]], int]:
        """``(score, hits, uninspected)``; each hit is ``(rule index, target, value)``."""
    def _time_inspect(
        self,
        method: str,
        path: str,
        raw_path: str,
        query: str,
        headers: list[tuple[str, str]],
        content_type: str,
        body: bytes,
        count: int,
        /,
    ) -> float:
        """Microseconds per inspection of one request inside the native code (benchmarks)."""
    def __len__(self) -> int: ...

class DetectionTokenisers:
    """The native injection tokenisers and transformations, one at a time (differential tests)."""

    def __init__(self) -> None: ...
    def is_sqli(self, value: str, /) -> bool: ...
    def is_xss(self, value: str, /) -> bool: ...
    def script_context(self, value: str, /) -> bool: ...
    def is_shell(self, value: str, /) -> bool: ...
    def is_shell_strict(self, value: str, /) -> bool: ...
    def transform(self, name: str, text: str, /) -> str: ...

def detection_pattern_problem(pattern: str, /) -> str | None:
    """Why the native detection engine cannot compile a rule pattern (RE2 syntax), or ``None``."""
