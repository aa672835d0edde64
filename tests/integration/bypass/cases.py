"""The bypass suite's requests: every shape known to split a guard's reading from a backend's.

Each case is raw bytes sent on a connection of its own, carrying ``X-Case`` so the back
end's records name it. Shapes: encodings, dot segments (plain, escaped, double-escaped,
overlong, with ``;`` parameters), escaped and raw slashes and backslashes, ``;``
parameters, case, Unicode, NUL and control bytes, absolute-form targets, HTTP/1.0
without Host, Host spellings (whitespace, case, trailing dot, ports), duplicate and folded
headers, spoofed client-address and rewrite headers, a banned client hiding behind them,
and request smuggling (CL.TE, TE.CL, duplicate lengths, obfuscated codings).

A case ``expect``-ing a handler is a control: it must reach that handler, which proves the
harness sees what runs.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

BANNED = "127.0.0.2"
SPOOFED = "6.6.6.6"
VALID = "Basic " + base64.b64encode(b"alice:wonderland").decode()
WRONG = "Basic " + base64.b64encode(b"alice:guess").decode()

# (prefix the rules protect, the host that makes it protected; None: any host)
PROTECTED = (
    ("/secure", None),
    ("/admin", None),
    ("/shop-admin", "shop.example.com"),
    ("/private", "static.example.com"),
)


@dataclass(frozen=True)
class Case:
    id: str
    raw: bytes
    source: str = "127.0.0.1"
    expect: str | None = None  # a control: this handler must run


def request(
    case: str,
    target: str,
    *,
    host: str | None = "www.example.com",
    method: str = "GET",
    version: str = "HTTP/1.1",
    headers: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
    close: bool = True,
) -> bytes:
    lines = [f"{method} {target} {version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    lines.append(f"X-Case: {case}")
    lines += [f"{name}: {value}" for name, value in headers]
    if body and not any(name.lower() in ("content-length", "transfer-encoding") for name, _ in headers):
        lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


PATH_SHAPES = (
    "{b}",
    "{b}/",
    "{b}/page",
    "{b}/..",
    "{b}/../",
    "{b}/%2e%2e",
    "{b}/%2E%2E/",
    "{b}/.%2e",
    "{b}/%2e.",
    "{b}/./",
    "{b}/./page",
    "{b}//page",
    "{b}/x/../..",
    "{b}/x/../../",
    "{b}/x/%2e%2e/%2e%2e",
    "{b}/x/%252e%252e/%252e%252e",
    "{b}%2f..",
    "{b}%2F..%2F",
    "{b}%2fpage",
    "{b}%5c..",
    "{b}%5cpage",
    "{b}\\..",
    "{b}\\page",
    "{b};x",
    "{b};/page",
    "{b}/..;/",
    "{b}/.;/page",
    "{b}/page;jsessionid=1",
    "{b}/%3b/page",
    "{b}/.%3b/page",
    "{b}/%00",
    "{b}%00",
    "{b}/page%00.txt",
    "{b}/%0a",
    "{b}/%c0%ae%c0%ae/",
    "{b}/%c0%af",
    "{b}/%e0%80%ae%e0%80%ae/",
    "{b}/x%252f..%252f..%252fpub",
    "{b}%252f..",
    "{b}/%ef%bc%8f..",
    "{b}/%u002e%u002e",
    "{B}",
    "{B}/page",
    "{b}%20",
    "{b}.",
    "{b}%2e",
    "{b}%09",
    "{b}/page?x=../..",
    "{b}/page?x=%2e%2e%2f",
    "{b}#frag",
    "//{b1}",
    "//{b1}/page",
    "/./{b1}",
    "/.%2e/{b1}",
    "/pub/../{b1}",
    "/pub/%2e%2e/{b1}",
    "/pub/..%2f{b1}",
    "/pub/%2e%2e%2f{b1}",
    "/pub%2f..%2f{b1}",
    "/pub/..%5c{b1}",
    "/pub/%252e%252e/{b1}",
    "/pub/..;/{b1}",
    "/%2e{b}",
    "/{e1}",
    "/{e1}/page",
    "/%2F{b1}",
)


def _escaped_first(prefix: str) -> str:
    """``/admin`` -> ``%61dmin``: the first character escaped."""
    body = prefix[1:]
    return f"%{ord(body[0]):02x}" + body[1:]


def path_cases() -> list[Case]:
    cases: list[Case] = []
    for prefix, host in PROTECTED:
        for n, shape in enumerate(PATH_SHAPES):
            target = shape.format(b=prefix, B=prefix.upper(), b1=prefix[1:], e1=_escaped_first(prefix))
            name = f"path-{prefix[1:]}-{n}"
            cases.append(Case(name, request(name, target, host=host or "www.example.com")))
    return cases


HOST_SPELLINGS = (
    "{h}",
    "{H}",
    "{h}.",
    "{h} ",
    "{h}\t",
    " {h}",
    "\t{h} \t",
    "{h}:80",
    "{h}.:8080",
    "{h}:",
    "{T}.",
    "{h}:0080",
)


def host_cases() -> list[Case]:
    cases: list[Case] = []
    for prefix, host in PROTECTED:
        if host is None:
            continue
        title = ".".join(part.capitalize() for part in host.split("."))
        for n, spelling in enumerate(HOST_SPELLINGS):
            value = spelling.format(h=host, H=host.upper(), T=title)
            for m, target in enumerate((prefix, prefix + "/x", prefix + "/../" + prefix[1:] + "/x")):
                name = f"host-{prefix[1:]}-{n}-{m}"
                cases.append(Case(name, request(name, target, host=value)))
        # the authority of an absolute-form target is the host (RFC 9112 section 3.2.2)
        for m, (target, header) in enumerate(
            (
                (f"http://{host}{prefix}", "www.example.com"),
                (f"http://{host}{prefix}/x", None),
                (f"http://{host.upper()}.{prefix}/x", "www.example.com"),
                (f"http://{host}:80{prefix}", host),
                (f"http://www.example.com{prefix}", host),
            )
        ):
            name = f"absolute-{prefix[1:]}-{m}"
            cases.append(Case(name, request(name, target, host=header)))
        # several Host headers, or one folded over two lines
        for m, extra in enumerate(((("Host", host),), (("Host", "www.example.com"),))):
            name = f"duplicate-host-{prefix[1:]}-{m}"
            first = "www.example.com" if m == 0 else host
            cases.append(Case(name, request(name, prefix, host=first, headers=extra)))
        name = f"folded-host-{prefix[1:]}"
        cases.append(Case(name, request(name, prefix, host="www.example.com\r\n " + host)))
        name = f"no-host-10-{prefix[1:]}"
        cases.append(Case(name, request(name, prefix, host=None, version="HTTP/1.0")))
    for m, target in enumerate(("http://www.example.com/admin", "http://www.example.com/secure/page", "/admin")):
        name = f"absolute-other-{m}"
        cases.append(Case(name, request(name, target, host="www.example.com")))
    name = "no-host-11"
    cases.append(Case(name, request(name, "/admin", host=None)))
    return cases


SPOOF_HEADERS = (
    ("X-Forwarded-For", SPOOFED),
    ("X-Forwarded-For", f"{SPOOFED}, 127.0.0.1"),
    ("X-Real-IP", SPOOFED),
    ("X-Client-IP", SPOOFED),
    ("True-Client-IP", SPOOFED),
    ("CF-Connecting-IP", SPOOFED),
    ("Forwarded", f"for={SPOOFED}"),
    ("X_Forwarded_For", SPOOFED),
    ("X-Forwarded-Host", "shop.example.com"),
    ("X-Forwarded-Port", "443"),
    ("X-Original-URL", "/admin"),
    ("X-Rewrite-URL", "/admin"),
    ("X-Forwarded-User", "admin"),
)


def spoof_cases() -> list[Case]:
    cases: list[Case] = []
    for n, header in enumerate(SPOOF_HEADERS):
        name = f"spoof-{n}"
        cases.append(Case(name, request(name, "/pub/page", headers=(header,)), expect="other"))
        name = f"spoof-secure-{n}"
        cases.append(Case(name, request(name, "/secure/page", headers=(header,))))
        name = f"banned-{n}"
        cases.append(Case(name, request(name, "/pub/page", headers=(header,)), source=BANNED))
    name = "banned-plain"
    cases.append(Case(name, request(name, "/pub/page"), source=BANNED))
    name = "banned-all"
    cases.append(Case(name, request(name, "/pub/page", headers=SPOOF_HEADERS), source=BANNED))
    return cases


def _smuggled(case: str, target: str) -> bytes:
    return request(case, target, close=False)


def smuggling_cases() -> list[Case]:
    inner = _smuggled("smuggled", "/admin")
    chunk = f"{len(inner):x}\r\n".encode() + inner + b"\r\n0\r\n\r\n"
    shapes: list[tuple[tuple[tuple[str, str], ...], bytes]] = [
        ((("Content-Length", str(len(b"0\r\n\r\n" + inner))), ("Transfer-Encoding", "chunked")), b"0\r\n\r\n" + inner),
        ((("Transfer-Encoding", "chunked"), ("Content-Length", "4")), chunk),
        ((("Content-Length", "0"), ("Content-Length", str(len(inner)))), inner),
        ((("Content-Length", f"0, {len(inner)}"),), inner),
        ((("Transfer-Encoding", "xchunked"),), b"0\r\n\r\n" + inner),
        ((("Transfer-Encoding", "chunked, identity"),), b"0\r\n\r\n" + inner),
        ((("Transfer-Encoding", " chunked"), ("Content-Length", "5")), b"0\r\n\r\n" + inner),
        ((("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "identity")), chunk),
        ((("Transfer-Encoding", "\tchunked"),), chunk),
        ((("Transfer-Encoding", "chunked"),), b"zz\r\n" + inner + b"\r\n0\r\n\r\n"),
        ((("Transfer-Encoding", "chunked"),), b"5;" + b"x" * 4000 + b"\r\nhello\r\n0\r\n\r\n" + inner),
        ((("Content-Length", "-1"),), inner),
        ((("Content-Length", "+5"),), inner),
    ]
    cases: list[Case] = []
    for n, (headers, body) in enumerate(shapes):
        name = f"smuggle-{n}"
        raw = request(name, "/pub/page", method="POST", headers=headers, close=False) + body
        cases.append(Case(name, raw))
    name = "header-space-before-colon"
    raw = request(name, "/pub/page", method="POST", headers=(("Transfer-Encoding ", "chunked"),), close=False)
    cases.append(Case(name, raw + b"0\r\n\r\n" + inner))
    return cases


def control_cases() -> list[Case]:
    return [
        Case("control-pub", request("control-pub", "/pub/page"), expect="other"),
        Case("control-root", request("control-root", "/"), expect="other"),
        Case(
            "control-secure",
            request("control-secure", "/secure/page", headers=(("Authorization", VALID),)),
            expect="secure",
        ),
        Case("control-shop-pub", request("control-shop-pub", "/pub", host="shop.example.com"), expect="other"),
        Case("control-private-www", request("control-private-www", "/private/x"), expect="private"),
        Case("control-shop-admin-www", request("control-shop-admin-www", "/shop-admin"), expect="shop_admin"),
        Case(
            "wrong-password",
            request("wrong-password", "/secure/page", headers=(("Authorization", WRONG),)),
        ),
        Case("control-encoded", request("control-encoded", "/pub/%70age"), expect="other"),
    ]


def all_cases() -> list[Case]:
    return [*control_cases(), *path_cases(), *host_cases(), *spoof_cases(), *smuggling_cases()]


def normal_host(value: str) -> str:
    """A Host value as a backend compares it: trimmed, lower case, no port, no trailing dot."""
    value = value.strip(" \t").lower()
    if value.startswith("["):
        return value.split("]", 1)[0] + "]"
    return value.split(":", 1)[0].rstrip(".")


def protected(path: str, host: str) -> str | None:
    """Which protection a request the back end saw as ``path`` on ``host`` needed, if any."""
    for prefix, needs_host in PROTECTED:
        # The directory is matched on segment boundaries; the rules' prefix is a plain string prefix.
        hit = path == prefix or path.startswith(prefix + "/") if prefix == "/secure" else path.startswith(prefix)
        if hit and (needs_host is None or normal_host(host) == needs_host):
            return prefix
    return None


CASE_ID = re.compile(rb"^X-Case: (\S+)", re.MULTILINE)
