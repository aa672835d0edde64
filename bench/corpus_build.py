"""Build the detection evaluation corpus from local snapshots of public repositories.

python bench/corpus_build.py --mirrors DIR --out DIR

``--mirrors`` holds one bare git directory per source (``owner+name/repo``), as the
snapshots listed in the corpus's SOURCES file; every file is read at the commit named
there. The corpus is a folder of gzip'd JSON lines, one request a line::

    {"method": "GET", "uri": "/search?q=...", "headers": {"User-Agent": "..."}, "body": "...", "src": "fuzzdb"}

``attacks/<category>.jsonl.gz`` hold attacks (payload lists are placed in a query argument,
a form or JSON body field, a cookie or a path segment, chosen by the payload's hash), and
``benign/<source>.jsonl.gz`` ordinary requests. Sampling is deterministic (by hash), so a
rebuild from the same commits gives the same corpus. bench/detection.py splits each file
into a tuning half and a held-out half, again by hash.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import yaml

SOURCES: dict[str, tuple[str, str]] = {
    # key: (mirror folder, commit)
    "fuzzdb": ("fuzzdb-project+fuzzdb", "5656ab25dc6bb43bae32236fab775658a90d7380"),
    "patt": ("swisskyrepo+PayloadsAllTheThings", "f9fa51417886ac11476cb62db2dff21773dc570b"),
    "crs": ("coreruleset+coreruleset", "2cbd1d019cb7c85319ba4d9102a382c9de7a8e53"),
    "libinjection": ("client9+libinjection", "e86ff4019a4343579cc307d96d79272d5efcd1be"),
    "jaeles": ("jaeles-project+jaeles-signatures", "98b358e9737131b01d5ab0685c063be52e3e3754"),
    "geeknik": ("geeknik+the-nuclei-templates", "36a6d14bce3293907a83afb498caec5fd45b1777"),
    "csic": ("nxydyxsj123456+CSIC2010", "9ed2277f1f78987e195b1a1d368b0f63be3fb9ee"),
    "elastic": ("elastic+examples", "8174879f5df5a366327d253bd5294e098d341b34"),
    "aql": ("webis-de+archive-query-log", "ae66d2d498ebb9187c6f0a52d7633b65d9271574"),
}

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


class Mirrors:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _git(self, key: str) -> Path:
        folder, _ = SOURCES[key]
        base = self.root / folder / "repo"
        return base / ".git" if (base / ".git").is_dir() else base

    def files(self, key: str, prefix: str) -> list[str]:
        _, commit = SOURCES[key]
        out = subprocess.run(
            ["git", "--git-dir", str(self._git(key)), "ls-tree", "-r", "--name-only", commit, "--", prefix],
            capture_output=True,
            check=True,
        )
        return [line for line in out.stdout.decode("utf-8", "replace").splitlines() if line]

    def read(self, key: str, path: str) -> str:
        _, commit = SOURCES[key]
        out = subprocess.run(
            ["git", "--git-dir", str(self._git(key)), "show", f"{commit}:{path}"], capture_output=True, check=False
        )
        if out.returncode != 0:
            return ""  # a file the snapshot does not hold (4 MiB and more)
        return out.stdout.decode("utf-8", "surrogateescape").encode("utf-8", "replace").decode("utf-8")

    def lines(self, key: str, path: str) -> list[str]:
        rows = []
        for raw in self.read(key, path).splitlines():
            line = raw.rstrip("\r")
            if line.strip() and not line.startswith("#"):
                rows.append(line)
        return rows


def digest(text: str) -> int:
    return int.from_bytes(hashlib.sha1(text.encode("utf-8", "replace")).digest()[:8], "big")


def sample(items: Iterable[str], limit: int, salt: str = "") -> list[str]:
    """At most ``limit`` distinct items, chosen by hash (the same every build)."""
    unique = sorted(set(items), key=lambda item: digest(salt + item))
    return unique[:limit]


_HEX = re.compile(r"%[0-9A-Fa-f]{2}")


def url_encode(text: str, safe: str) -> str:
    """Encode what would break a request line, as HTTP tools do; keep escapes already there."""
    out = []
    for char in text:
        if char == "%":
            out.append(char)  # kept: an existing escape, or a literal the server will see as is
        elif char in safe or (char.isascii() and char.isalnum()) or char in "-._~":
            out.append(char)
        else:
            out.append(quote(char, safe=""))
    encoded = "".join(out)
    # A '%' not starting an escape is encoded, so the request stays parseable.
    return re.sub(r"%(?![0-9A-Fa-f]{2})", "%25", encoded)


QUERY_SAFE = "!$'()*,/:;=?@[]{}|\\^`<>\"+"
PATH_SAFE = "!$'()*,/:;=@[]{}|\\^`<>\"+~?&"


def placed(payload: str, src: str, *, path_too: bool = False) -> dict[str, Any]:
    """A request carrying ``payload`` in one of the places attacks use."""
    slot = digest("slot" + payload) % 100
    value = url_encode(payload, QUERY_SAFE.replace("+", "")).replace("&", "%26").replace("#", "%23")
    if path_too and slot < 25:
        path = payload if payload.startswith("/") else "/static/" + payload
        return {"method": "GET", "uri": url_encode(path, PATH_SAFE).replace("#", "%23"), "src": src}
    if slot < 60:
        name = ("q", "id", "page", "file", "search", "cat", "lang", "url")[slot % 8]
        return {"method": "GET", "uri": f"/index?{name}={value}&sort=asc", "src": src}
    if slot < 80:
        return {
            "method": "POST",
            "uri": "/account/update",
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            "body": f"name={value}&email=jo%40example.org",
            "src": src,
        }
    if slot < 92:
        return {
            "method": "POST",
            "uri": "/api/items",
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"title": payload, "count": 1}),
            "src": src,
        }
    cookie = value.replace(";", "%3B").replace(" ", "%20")
    return {"method": "GET", "uri": "/home", "headers": {"Cookie": f"sid=4f2a9c; pref={cookie}"}, "src": src}


def as_path(entry: str, src: str) -> dict[str, Any]:
    entry = entry.strip()
    if entry.startswith(("http://", "https://")):
        parts = urlsplit(entry)
        entry = parts.path + ("?" + parts.query if parts.query else "")
    path = entry if entry.startswith("/") else "/" + entry
    return {"method": "GET", "uri": url_encode(path, PATH_SAFE).replace("#", "%23"), "src": src}


# -- the categories -------------------------------------------------------------------------------------------


def payload_files(m: Mirrors, specs: list[tuple[str, str]], limit_each: int) -> Iterator[tuple[str, str]]:
    for key, path in specs:
        folder, _, stem = path.rpartition("/")
        files = (
            [f for f in m.files(key, folder + "/") if f.rsplit("/", 1)[-1].startswith(stem)]
            if "*" not in stem and path.endswith("/") is False and stem.endswith("-")
            else (m.files(key, path) if path.endswith("/") else [path])
        )
        for file in files:
            if file.endswith((".md", ".png", ".jpg", ".py")):
                continue
            for line in sample(m.lines(key, file), limit_each, file):
                yield key, line


def crs_requests(m: Mirrors, prefixes: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    for file in m.files("crs", "tests/regression/tests/"):
        name = file.rsplit("/", 1)[-1]
        if not file.endswith(".yaml") or not name.startswith(prefixes):
            continue
        try:
            doc = yaml.safe_load(m.read("crs", file))
        except yaml.YAMLError:
            continue
        for test in (doc or {}).get("tests", []) or []:
            for entry in test.get("stages", []) or []:
                stage = entry.get("stage", entry)
                inp, out = stage.get("input") or {}, stage.get("output") or {}
                log = out.get("log") or {}
                if not (log.get("expect_ids") or out.get("log_contains")) or out.get("status"):
                    continue
                if inp.get("encoded_request") or inp.get("raw_request"):
                    continue
                headers = {str(k): str(v) for k, v in (inp.get("headers") or {}).items()}
                headers.pop("Host", None)
                data = inp.get("data")
                if isinstance(data, list):
                    data = "\r\n".join(str(x) for x in data)
                request = {"method": str(inp.get("method", "GET")), "uri": str(inp.get("uri", "/")), "src": "crs"}
                if headers:
                    request["headers"] = headers
                if data:
                    request["body"] = str(data)
                yield request


def template_requests(m: Mirrors, key: str, prefix: str, cves: bool | None = None) -> Iterator[dict[str, Any]]:
    """Requests of nuclei and jaeles templates: paths and raw requests, variables filled in."""
    for file in m.files(key, prefix or "."):
        if cves is not None and file.startswith("CVE-") != cves:
            continue
        if not file.endswith((".yaml", ".yml")) or file.startswith("."):
            continue
        try:
            doc = yaml.safe_load(m.read(key, file))
        except yaml.YAMLError:
            continue
        if not isinstance(doc, dict):
            continue
        blocks = doc.get("http") or doc.get("requests") or []
        for block in blocks if isinstance(blocks, list) else []:
            if not isinstance(block, dict):
                continue
            for raw in block.get("raw") or []:
                request = raw_request(str(raw))
                if request:
                    yield {**request, "src": key}
            paths = block.get("path") or ([block["url"]] if isinstance(block.get("url"), str) else [])
            method = str(block.get("method", "GET")).upper()
            headers = block.get("headers") or {}
            if isinstance(headers, list):
                headers = {k: v for item in headers if isinstance(item, dict) for k, v in item.items()}
            body = block.get("body")
            for path in paths if isinstance(paths, list) else []:
                uri = fill(str(path)).strip()
                uri = re.sub(r"^[a-z]+://[^/]*", "", uri)
                if not uri.startswith("/"):
                    uri = "/" + uri
                request = {"method": method, "uri": uri.replace(" ", "%20"), "src": key}
                if headers:
                    request["headers"] = {str(k): fill(str(v)) for k, v in headers.items() if str(k).lower() != "host"}
                if body:
                    request["body"] = fill(str(body))
                yield request


def fill(text: str) -> str:
    text = re.sub(r"\{\{\.?(?:BaseURL|RootURL|root|baseURL|Hostname|Host)\}\}", "", text)
    text = re.sub(r"\{\{[^}]*(?:rand|Rand)[^}]*\}\}", "k3x9q", text)
    return re.sub(r"\{\{[^}]*\}\}", "abc", text)


def raw_request(raw: str) -> dict[str, Any] | None:
    raw = fill(raw).lstrip()
    head, _, body = raw.replace("\r\n", "\n").partition("\n\n")
    lines = head.split("\n")
    parts = lines[0].split(" ")
    if len(parts) < 2 or not parts[0].isupper():
        return None
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() not in ("host", "content-length"):
            headers[name.strip()] = value.strip()
    uri = re.sub(r"^[a-z]+://[^/]*", "", parts[1]) or "/"
    request: dict[str, Any] = {"method": parts[0], "uri": uri}
    if headers:
        request["headers"] = headers
    if body.strip():
        request["body"] = body
    return request


def build_attacks(m: Mirrors) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}

    def payloads(category: str, specs: list[tuple[str, str]], limit: int, *, path_too: bool = False) -> None:
        rows = out.setdefault(category, [])
        for key, line in payload_files(m, specs, limit):
            rows.append(placed(line, key, path_too=path_too))

    def paths(category: str, specs: list[tuple[str, str]], limit: int) -> None:
        rows = out.setdefault(category, [])
        for key, line in payload_files(m, specs, limit):
            rows.append(as_path(line, key))

    fz = "attack/"
    payloads(
        "sql_injection",
        [("fuzzdb", fz + "sql-injection/"), ("patt", "SQL Injection/Intruder/"), ("libinjection", "data/sqli-")],
        150,
    )
    out["sql_injection"] = [r for r in out["sql_injection"] if True]
    payloads("xss", [("fuzzdb", fz + "xss/"), ("patt", "XSS Injection/Intruders/"), ("libinjection", "data/xss-")], 150)
    # Lists of bare command names (Commands-Linux.txt, ...) are no injection: left out.
    payloads(
        "command_injection",
        [
            ("fuzzdb", fz + "os-cmd-execution/command-"),
            ("fuzzdb", fz + "os-cmd-execution/OSCommandInject.Windows.txt"),
            ("fuzzdb", fz + "os-cmd-execution/source-disc-cmd-exec-traversal.txt"),
            ("patt", "Command Injection/Intruder/"),
        ],
        300,
    )
    payloads(
        "path_traversal",
        [
            ("fuzzdb", fz + "path-traversal/"),
            ("fuzzdb", fz + "lfi/"),
            ("patt", "Directory Traversal/Intruder/"),
            ("patt", "File Inclusion/Intruders/"),
        ],
        200,
        path_too=True,
    )
    payloads(
        "other_injection",
        [
            ("fuzzdb", fz + "rfi/"),
            ("fuzzdb", fz + "ldap/"),
            ("fuzzdb", fz + "xpath/"),
            ("fuzzdb", fz + "server-side-include/"),
            ("fuzzdb", fz + "no-sql-injection/"),
            ("fuzzdb", fz + "xml/"),
            ("patt", "Server Side Template Injection/Intruder/"),
            ("patt", "XXE Injection/Intruders/"),
            ("patt", "LDAP Injection/Intruder/"),
            ("patt", "NoSQL Injection/Intruder/"),
            ("patt", "Server Side Include Injection/Files/"),
            ("patt", "CRLF Injection/Files/"),
        ],
        200,
    )
    # The libinjection data mixes SQL comments and fragments; keep lines that carry code.
    out["sql_injection"] = [r for r in out["sql_injection"] if len(json.dumps(r)) < 4000]
    crs_map = {
        "path_traversal": ("930",),
        "other_injection": ("931", "933", "934", "944"),
        "command_injection": ("932",),
        "xss": ("941",),
        "sql_injection": ("942",),
    }
    for category, prefixes in crs_map.items():
        out[category].extend(crs_requests(m, prefixes))

    paths(
        "admin_cms",
        [
            ("fuzzdb", "discovery/predictable-filepaths/cms/wordpress.txt"),
            ("fuzzdb", "discovery/predictable-filepaths/cms/wp_plugins.txt"),
            ("fuzzdb", "discovery/predictable-filepaths/cms/drupal_plugins.txt"),
            ("fuzzdb", "discovery/predictable-filepaths/cms/joomla_plugins.txt"),
            ("fuzzdb", "discovery/predictable-filepaths/cms/php-nuke.txt"),
            ("fuzzdb", "discovery/predictable-filepaths/login-file-locations/"),
            ("fuzzdb", "discovery/predictable-filepaths/webservers-appservers/"),
            ("patt", "Insecure Management Interface/Intruder/"),
        ],
        120,
    )
    paths(
        "web_shells",
        [
            ("fuzzdb", "discovery/predictable-filepaths/backdoors/shells.txt"),
            ("fuzzdb", "discovery/predictable-filepaths/backdoors/ASP_CommonBackdoors.txt"),
            ("fuzzdb", "discovery/predictable-filepaths/php/PHP_CommonBackdoors.txt"),
        ],
        2000,
    )
    for file in m.files("fuzzdb", "web-backdoors/"):
        if "/" in file and not file.endswith((".md", ".png", ".jpg")):
            out["web_shells"].append(as_path(file.split("/", 1)[1], "fuzzdb"))
    paths(
        "scanner_discovery",
        [
            ("fuzzdb", "discovery/predictable-filepaths/filename-dirname-bruteforce/raft-small-files.txt"),
            ("fuzzdb", "discovery/predictable-filepaths/filename-dirname-bruteforce/raft-small-directories.txt"),
            ("fuzzdb", "discovery/predictable-filepaths/filename-dirname-bruteforce/WordlistSkipfish.txt"),
            ("fuzzdb", "discovery/predictable-filepaths/KitchensinkDirectories.txt"),
            ("fuzzdb", "discovery/predictable-filepaths/cgi/CGI_XPlatform.txt"),
            ("fuzzdb", "discovery/predictable-filepaths/cgi/CGI_Microsoft.txt"),
        ],
        700,
    )
    paths(
        "sensitive_files",
        [
            ("fuzzdb", "discovery/predictable-filepaths/UnixDotfiles.txt"),
            ("fuzzdb", "discovery/predictable-filepaths/Randomfiles.txt"),
            ("fuzzdb", "discovery/predictable-filepaths/password-file-locations/Passwords.txt"),
            ("fuzzdb", "discovery/predictable-filepaths/proxy-conf.txt"),
            ("fuzzdb", "attack/lfi/common-unix-httpd-log-locations.txt"),
            ("fuzzdb", "attack/disclosure-localpaths/unix/"),
        ],
        400,
    )
    backup_names = sample(
        m.lines("fuzzdb", "discovery/predictable-filepaths/filename-dirname-bruteforce/raft-small-words.txt"), 120
    )
    backup_ext = m.lines("fuzzdb", "discovery/predictable-filepaths/filename-dirname-bruteforce/Extensions.Backup.txt")
    backup_ext += m.lines(
        "fuzzdb", "discovery/predictable-filepaths/filename-dirname-bruteforce/Extensions.Compressed.txt"
    )
    for i, name in enumerate(backup_names):
        ext = backup_ext[i % len(backup_ext)].strip()
        out["sensitive_files"].append(as_path(name + (ext if ext.startswith(".") else "." + ext), "fuzzdb"))
    out["sensitive_files"].extend(r for r in template_requests(m, "jaeles", "sensitive/"))
    out["cve_exploits"] = [*template_requests(m, "jaeles", "cves/"), *template_requests(m, "geeknik", "", cves=True)]
    out["sensitive_files"] = [r for r in out["sensitive_files"] if r["uri"] not in ("/", "")]
    out["cve_exploits"] = [r for r in out["cve_exploits"] if r["uri"] not in ("/", "")]

    csic = m.read("csic", "anomalous.txt").splitlines()
    out["csic_anomalous"] = [r for r in (csic_request(line) for line in sample(csic, 3000, "a")) if r]
    return out


def csic_request(line: str) -> dict[str, Any] | None:
    """A CSIC 2010 line (lower-cased, decoded, body appended as a query) as a request again."""
    method, _, url = line.partition(" ")
    if not url.startswith("http://localhost:8080"):
        return None
    target = url[len("http://localhost:8080") :]
    path, sep, query = target.partition("?")
    encoded = url_encode(query, "=&+/:,").replace("%EF%BF%BD", "%F1") if sep else ""
    path = url_encode(path, "/")
    if method == "post" and sep:
        return {
            "method": "POST",
            "uri": path,
            "headers": {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": UA},
            "body": encoded,
            "src": "csic",
        }
    return {"method": method.upper(), "uri": path + (("?" + encoded) if sep else ""), "src": "csic"}


# -- ordinary traffic ----------------------------------------------------------------------------------------

_COMBINED = re.compile(
    r'^\S+ \S+ \S+ \[[^\]]+\] "(?P<method>[A-Z]+) (?P<target>\S+)[^"]*" \d{3} \S+ "(?P<ref>[^"]*)" "(?P<ua>[^"]*)"'
)


def build_benign(m: Mirrors, project_urls: Path | None) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    log = []
    for line in m.read("elastic", "Common Data Formats/apache_logs/apache_logs").splitlines():
        found = _COMBINED.match(line)
        if not found:
            continue
        headers = {"User-Agent": found["ua"]}
        if found["ref"] not in ("", "-"):
            headers["Referer"] = found["ref"]
        log.append({"method": found["method"], "uri": found["target"], "headers": headers, "src": "apache_log"})
    out["apache_log"] = log
    referers = sorted({r["headers"]["Referer"] for r in log if r["headers"].get("Referer", "").startswith("http")})
    out["site_urls"] = [site_request(url, "apache_log_referer") for url in referers]

    normal = m.read("csic", "normal.txt").splitlines()
    out["csic_normal"] = [r for r in (csic_request(line) for line in sample(normal, 6000, "n")) if r]

    serps, results = [], []
    for file in m.files("aql", "data/"):
        if not file.endswith(".jsonl"):
            continue
        for line in m.read("aql", file).splitlines():
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if not isinstance(doc, dict):
                continue
            capture = doc.get("capture") if isinstance(doc.get("capture"), dict) else {}
            url = capture.get("url") or doc.get("url")
            if isinstance(url, str):
                (results if "results" in file else serps).append(url)
    out["search_queries"] = [site_request(url, "aql") for url in sorted(set(serps))]
    out["site_urls"] += [site_request(url, "aql") for url in sorted(set(results))]
    if project_urls is not None and project_urls.exists():
        for line in project_urls.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                url = line.strip()
                out["site_urls"].append(site_request(url if "://" in url else "http://h" + url, "stockade_tests"))
    return out


def site_request(url: str, src: str) -> dict[str, Any]:
    parts = urlsplit(url)
    uri = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    return {"method": "GET", "uri": url_encode(uri, PATH_SAFE + "%"), "headers": {"User-Agent": UA}, "src": src}


def write(folder: Path, name: str, rows: list[dict[str, Any]]) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    lines = []
    for row in rows:
        line = json.dumps(row, ensure_ascii=False, sort_keys=True)
        if line not in seen:
            seen.add(line)
            lines.append(line)
    with gzip.open(folder / f"{name}.jsonl.gz", "wt", encoding="utf-8", compresslevel=9, newline="\n") as fh:
        # A fixed mtime keeps the archive byte-identical across builds.
        fh.write("\n".join(lines) + "\n")
    return len(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mirrors", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--project-urls", type=Path, default=Path(__file__).parents[1] / "tests/data/ordinary_urls.txt")
    args = parser.parse_args(argv)
    m = Mirrors(args.mirrors)
    for name, rows in sorted(build_attacks(m).items()):
        print(f"attacks/{name}: {write(args.out / 'attacks', name, rows)}")
    for name, rows in sorted(build_benign(m, args.project_urls).items()):
        print(f"benign/{name}: {write(args.out / 'benign', name, rows)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
