"""BFE's ``ip_blocklist.data``: the addresses whose connections are closed before a byte is read.

The format, as BFE's loader (``bfe_util/ipdict/txt_load``) reads it (``bfe.md`` §2.3):

- Lines end at ``\\n``; one ``\\r`` before it is dropped, then spaces and tabs around the
  line. Empty lines and lines starting with ``#`` are skipped; there are no trailing
  comments. A line of 64 KiB or more is an error (Go's ``bufio.Scanner`` limit).
- Each other line is tried, in this order, as a CIDR (host bits masked:
  ``192.168.1.250/20`` is 192.168.0.0-192.168.15.255), as ``start end`` split at the first
  space (each part trimmed), then at the first tab, and as one address. A ``start end``
  pair must be of one family (IPv4-mapped IPv6 counts as IPv4) with ``start <= end``.
- One bad line rejects the whole file, and the table in force stays.
- The first line may be a meta header, ``# {"version": "1", "singleIPNum": 2, "pairIPNum": 1}``
  (JSON, keys in any case). It counts only if it decodes, with a non-empty version and
  counts of at least 0; the counts are then capacity limits, and one more single address
  or pair than declared fails the load with ``Max line exceed``.

Error texts are BFE's, so that the reload API answers what BFE answers; they differ with
the header, because BFE then skips the pass that checks every line before loading. One
BFE artefact is kept on purpose: an IPv6 CIDR whose last address has a zero first byte
(``::1/128``, ``::ffff:0:0/96``) is rejected, because BFE computes that address with
``big.Int.Bytes()``, which drops leading zero bytes (``invalid endIP``).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Iterator

from stockade.errors import BlocklistError
from stockade.ipranges import parse_address
from stockade.rules.gojson import JSONObject, JSONSyntaxError, decode_first
from stockade.rules.iptable import DEFAULT_CACHE_SIZE, MAPPED_END, MAPPED_START, IPTable

__all__ = ["BlocklistHeader", "load_ip_blocklist", "parse_ip_blocklist", "read_header"]

_SCAN_LIMIT = 64 * 1024  # bufio.MaxScanTokenSize: a line (with its \r) must be shorter
_BLOCK = 1 << 20  # lines are decoded a MiB at a time
_READLINE_LIMIT = 4096  # bufio.Reader's buffer: the meta header is read from at most this much
_INT64 = 1 << 63
_SINGLE4 = (1 << 32) + 1  # x * _SINGLE4 == x << 32 | x, the packed range of one address
_SINGLE6 = (1 << 128) + 1
_V6_FIRST_BYTE = 1 << 120

_pton = socket.inet_pton
_from_bytes = int.from_bytes
_AF_INET = socket.AF_INET
_AF_INET6 = socket.AF_INET6


class BlocklistHeader:
    """The meta header of the first line, when BFE uses it: a version and capacity limits."""

    __slots__ = ("pairs", "singles", "version")

    def __init__(self, version: str, singles: int, pairs: int) -> None:
        self.version = version
        self.singles = singles
        self.pairs = pairs

    def __repr__(self) -> str:
        return f"BlocklistHeader(version={self.version!r}, singles={self.singles}, pairs={self.pairs})"


def read_header(raw: bytes) -> BlocklistHeader | None:
    """The meta header of a blocklist file, or None when BFE would not use it (``getCommentFileInfo``)."""
    end = raw.find(b"\n")
    first = (raw if end < 0 else raw[:end])[:_READLINE_LIMIT]
    text = first.decode("utf-8", "surrogateescape").strip(" \t\r\n")
    if not text.startswith("#"):
        return None
    try:
        value = decode_first(text.strip("#"))
    except JSONSyntaxError:
        return None
    if not isinstance(value, JSONObject):
        return None
    version, singles, pairs = "", -1, -1
    for key, item in value:
        field = key.replace("\u017f", "s").lower()  # encoding/json folds keys like bytes.EqualFold
        if field == "version":
            if isinstance(item, str):
                version = item
            elif item is not None:
                return None
        elif field in ("singleipnum", "pairipnum"):
            if item is None:
                continue
            if isinstance(item, bool) or not isinstance(item, int) or not -_INT64 <= item < _INT64:
                return None
            if field == "singleipnum":
                singles = item
            else:
                pairs = item
    if not version or singles < 0 or pairs < 0:
        return None
    return BlocklistHeader(version, singles, pairs)


def load_ip_blocklist(path: str, *, cache_size: int = DEFAULT_CACHE_SIZE) -> IPTable:
    """Read and parse ``path``; raise :class:`BlocklistError` (the file, the line, BFE's text)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        cause = _go_os_error("open", path, exc)
        raise BlocklistError(path, f"loadFile(): {path} open(): {path}, {cause}", reason=cause) from None
    return parse_ip_blocklist(raw, file=path, cache_size=cache_size)


def parse_ip_blocklist(
    data: bytes | str, *, file: str = "ip_blocklist.data", cache_size: int = DEFAULT_CACHE_SIZE
) -> IPTable:
    """The :class:`IPTable` of a blocklist file's content; raise :class:`BlocklistError` if BFE rejects it."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogateescape")
    loader = _Loader(file, read_header(raw))
    loader.run(_blocks(raw))
    return loader.table(cache_size)


def _blocks(raw: bytes) -> Iterator[list[str]]:
    """The lines of ``raw`` split at ``\\n`` only, a block of about ``_BLOCK`` bytes at a time.

    Decoding and splitting a block at once is cheaper than line by line, and a block ends
    after a ``\\n``, which never occurs inside a UTF-8 sequence.
    """
    start, size = 0, len(raw)
    while start < size:
        end = raw.find(b"\n", min(start + _BLOCK, size) - 1)
        end = size if end < 0 else end + 1
        lines = raw[start:end].decode("utf-8", "surrogateescape").split("\n")
        if lines[-1] == "":
            lines.pop()
        yield lines
        start = end


class _Loader:
    """One pass over the lines, collecting packed ranges (see :meth:`IPTable.from_packed`) and counting as BFE does."""

    def __init__(self, file: str, header: BlocklistHeader | None) -> None:
        self.file = file
        self.header = header
        self.max_singles = header.singles if header is not None else -1
        self.max_pairs = header.pairs if header is not None else -1
        self.v4: list[int] = []
        self.v6: list[int] = []
        self.singles = self.pairs = 0
        # Without a header, BFE first checks every line's format, so a bad line anywhere wins over a bad range.
        self.pending: BlocklistError | None = None

    def table(self, cache_size: int) -> IPTable:
        version = self.header.version if self.header is not None else ""
        v4, v6, self.v4, self.v6 = self.v4, self.v6, [], []
        return IPTable.from_packed(
            v4, v6, version=version, singles=self.singles, pairs=self.pairs, cache_size=cache_size
        )

    def run(self, blocks: Iterable[list[str]]) -> None:
        """Read the lines (without their ``\\n``) as BFE does, in file order."""
        file, with_header = self.file, self.header is not None
        v4, v6 = self.v4, self.v6
        max_singles = self.max_singles
        mapped_start, mapped_end, single4, single6 = MAPPED_START, MAPPED_END, _SINGLE4, _SINGLE6
        pton, from_bytes, af4, af6 = _pton, _from_bytes, _AF_INET, _AF_INET6
        number = 0
        for lines in blocks:
            for text in lines:
                number += 1
                if len(text) >= _SCAN_LIMIT // 4 and len(text.encode("utf-8", "surrogateescape")) >= _SCAN_LIMIT:
                    raise _too_long(file, number, with_header)
                line = text.strip(" \t") if text[-1:] != "\r" else text[:-1].strip(" \t")
                if not line or line[0] == "#":
                    continue
                if "/" in line or " " in line or "\t" in line:
                    self.entry(number, line)
                    continue
                # The common case, one address: Go's checkSplit without a separator.
                try:
                    x = from_bytes(pton(af6, line)) if ":" in line else mapped_start | from_bytes(pton(af4, line))
                except (OSError, ValueError):
                    raise _bad_line(file, number, line, with_header) from None
                if mapped_start <= x <= mapped_end:
                    v4.append((x - mapped_start) * single4)
                else:
                    v6.append(x * single6)
                self.singles += 1
                if self.singles > max_singles >= 0:
                    raise _exceeded(file, number, line, "single addresses", max_singles)
        if self.pending is not None:
            raise self.pending

    def entry(self, number: int, line: str) -> None:
        """A CIDR or ``start end`` line."""
        entry = _entry(line)
        if entry is None:
            raise _bad_line(self.file, number, line, self.header is not None)
        if self.pending is not None:
            return
        start, end, problem = entry
        if problem is not None:
            message = f"loadFile(): err, InsertPair failed: {problem[0]}"
            error = BlocklistError(self.file, message, line=number, text=line, reason=problem[1])
            if self.header is not None:
                raise error
            self.pending = error
            return
        if start == end:
            self.singles += 1
        else:
            self.pairs += 1
        # ipranges.add_range, inlined: a call per line costs over 1 % of a million-entry load.
        if MAPPED_START <= start <= MAPPED_END:
            self.v4.append((start - MAPPED_START) << 32 | (end - MAPPED_START))
        else:
            self.v6.append(start << 128 | end)
            if start <= MAPPED_END and end >= MAPPED_START:  # an IPv6 range over the IPv4 block
                low, high = max(start, MAPPED_START) - MAPPED_START, min(end, MAPPED_END) - MAPPED_START
                self.v4.append(low << 32 | high)
        if self.singles > self.max_singles >= 0:
            raise _exceeded(self.file, number, line, "single addresses", self.max_singles)
        if self.pairs > self.max_pairs >= 0:
            raise _exceeded(self.file, number, line, "ranges", self.max_pairs)


# (start, end, None) or (start, end, (BFE's InsertPair message, reason)); None if not an entry at all.
_Entry = tuple[int, int, tuple[str, str] | None]


def _entry(line: str) -> _Entry | None:
    """A CIDR or ``start end`` line as BFE's ``checkLine`` tries it."""
    if "/" in line:
        cidr = _cidr(line)
        if cidr is not None:
            return cidr
    if " " in line:
        pair = _pair(*line.partition(" ")[::2])
        if pair is not None:
            return pair
    else:
        single = parse_address(line)
        if single is not None:
            return single, single, None
    if "\t" in line:
        return _pair(*line.partition("\t")[::2])
    return None


def _pair(first: str, second: str) -> _Entry | None:
    start, end = parse_address(first.strip(" \t")), parse_address(second.strip(" \t"))
    if start is None or end is None:
        return None
    if (MAPPED_START <= start <= MAPPED_END) != (MAPPED_START <= end <= MAPPED_END):
        return start, end, _MIXED
    if start > end:
        shown = f"startIPStr {_go_ip(start)} > endIPStr {_go_ip(end)}"
        return start, end, (shown, f"the range starts after it ends ({_go_ip(start)} > {_go_ip(end)})")
    return start, end, None


_MIXED = ("startIP and endIP should both be ipv4 or non-ipv4", "start and end are not of one family")


def _cidr(line: str) -> _Entry | None:
    """A CIDR as Go's ``net.ParseCIDR`` reads it (address without zone, decimal prefix length), or None."""
    address, _, length = line.partition("/")
    if not (length.isascii() and length.isdigit()) or "%" in address:
        return None
    bits = int(length)
    try:
        if ":" in address:
            value, width = _from_bytes(_pton(_AF_INET6, address)), 128
        else:
            value, width = _from_bytes(_pton(_AF_INET, address)), 32
    except (OSError, ValueError):
        return None
    if bits > width:
        return None
    host = (1 << (width - bits)) - 1
    start = value & ~host
    end = start | host
    if width == 32:
        return MAPPED_START | start, MAPPED_START | end, None
    if end >= _V6_FIRST_BYTE:
        return start, end, None
    # BFE's last address is big.Int.Bytes(): leading zero bytes are gone, and a short IP fails.
    size = (end.bit_length() + 7) // 8
    if size == 4:
        return start, end, _MIXED
    shown = "<nil>" if size == 0 else "?" + end.to_bytes(size).hex()
    return start, end, (f"invalid endIP: {shown}", "BFE cannot load an IPv6 CIDR whose last address starts with 00")


def _go_ip(value: int) -> str:
    """Go's ``net.IP.String()`` of a 16-byte address: dotted for IPv4-mapped, RFC 5952 otherwise."""
    if MAPPED_START <= value <= MAPPED_END:
        return str(ipaddress.IPv4Address(value - MAPPED_START))
    return str(ipaddress.IPv6Address(value))


def _bad_line(file: str, number: int, line: str, with_header: bool) -> BlocklistError:
    split = f"checkSplit(): line {line} format err"
    if with_header:
        message = f"loadFile(): err, checkLine(): err, {split}"
    else:
        message = f"loadFile(): {file} checkLine(): line[{line}] err[checkLine(): err, {split}]"
    reason = "not an IP address, a CIDR or a 'start end' range"
    return BlocklistError(file, message, line=number, text=line, reason=reason)


def _too_long(file: str, number: int, with_header: bool) -> BlocklistError:
    cause = "bufio.Scanner: token too long"
    message = f"loadFile(): err, {cause}" if with_header else f"loadFile(): {file} scan file: err, {cause}"
    return BlocklistError(file, message, line=number, reason=f"line of {_SCAN_LIMIT} bytes or more")


def _exceeded(file: str, number: int, line: str, what: str, limit: int) -> BlocklistError:
    reason = f"more {what} than the meta header declares ({limit})"
    return BlocklistError(file, "Max line exceed", line=number, text=line, reason=reason)


def _go_os_error(op: str, path: str, exc: OSError) -> str:
    """Go's ``*PathError`` text: ``open <path>: no such file or directory``."""
    text = exc.strerror or str(exc)
    return f"{op} {path}: {text[:1].lower()}{text[1:]}"
