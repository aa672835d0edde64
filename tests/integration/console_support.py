"""A site with every part the console shows, and a small HTTP client that signs in to the console.

``write_site(base)`` writes a document root, an htpasswd file (alice/wonderland, bob/builder),
mod_block files (``no_evil`` closes ``/evil``, ``allow_status`` allows ``/status``), and a
``stockade.toml`` with a protected directory, bans after 3 probes, the audit log and the
admin API on an ephemeral port with :data:`TOKEN`.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

TOKEN = "console-test-token-0123456789"
# The screenshots the browser tests took in this run (the test run prints where they are).
SCREENSHOTS: list[Path] = []
PASSWORDS = {"alice": "wonderland", "bob": "builder"}
RULES = {
    "Version": "1",
    "Config": {
        "global": [
            {"Name": "no_evil", "Cond": 'req_path_prefix_in("/evil", false)', "Action": {"Cmd": "CLOSE", "Params": []}},
            {"Name": "allow_status", "Cond": 'req_path_in("/status", false)', "Action": {"Cmd": "ALLOW", "Params": []}},
        ]
    },
}
GET_PAGES = ("/", "/bans", "/bans/history?ip=192.0.2.7", "/lockouts", "/rules", "/audit", "/reload")
ACTIONS = {
    "/bans/ban": {"ip": "192.0.2.99", "duration": "10m"},
    "/bans/unban": {"ip": "192.0.2.99"},
    "/lockouts/block": {"user": "bob", "dir": "/secure", "duration": "10m"},
    "/lockouts/unblock": {"user": "bob", "dir": "/secure"},
    "/reload": {},
    "/logout": {},
}


def _sha1(password: str) -> str:
    return "{SHA}" + base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()


def config_text(*, listen: str = "127.0.0.1:0", admin: str = "127.0.0.1:0") -> str:
    return f"""\
[server]
listen = ["{listen}"]
document_root = "htdocs"

[store]
url = "sqlite:///stockade.db"

[audit]
json = "audit.jsonl"

[[directory]]
path = "/secure"
auth_user_file = "users.htpasswd"
auth_name = "Secure Area"
max_retries = 3
block_time = 10

[bans]
malicious_req_threshold = 3
block_duration = 600

[block]
rules = "block_rules.data"
ip_blocklist = "ip_blocklist.data"
hosts = {{ default_product = "web" }}

[admin]
listen = "{admin}"
token = "{TOKEN}"
"""


def write_site(base: Path, **listen: str) -> Path:
    docroot = base / "htdocs"
    (docroot / "secure").mkdir(parents=True, exist_ok=True)
    (docroot / "index.html").write_text("<h1>public</h1>\n")
    (docroot / "status").write_text("up\n")
    (docroot / "secure" / "index.html").write_text("<h1>secret</h1>\n")
    (base / "users.htpasswd").write_text("".join(f"{user}:{_sha1(pw)}\n" for user, pw in PASSWORDS.items()))
    (base / "block_rules.data").write_text(json.dumps(RULES))
    (base / "ip_blocklist.data").write_text("")
    path = base / "stockade.toml"
    path.write_text(config_text(**listen))
    return path


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def cookies(self) -> list[str]:
        return self.headers.get_all("set-cookie") or []


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    *,
    source: str | None = None,
) -> Answer:
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=10, source_address=(source, 0) if source is not None else None
    )
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read().decode("utf-8", "replace"))
    finally:
        connection.close()


def hidden(page: str, name: str) -> str:
    """The value of the first hidden input ``name`` of a page."""
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', page)
    if found is None:
        raise AssertionError(f"no hidden field {name!r} on the page")
    return found[1]


@dataclass
class Browserless:
    """A client of the console that keeps its cookies, as a browser would (without running its scripts)."""

    port: int
    jar: dict[str, str] = field(default_factory=dict)

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.jar:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.jar.items())
        return headers

    def _keep(self, answer: Answer) -> Answer:
        for cookie in answer.cookies():
            pair, _, attributes = cookie.partition(";")
            name, _, value = pair.partition("=")
            if "Max-Age=0" in attributes:
                self.jar.pop(name, None)
            else:
                self.jar[name] = value
        return answer

    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        return self._keep(request(self.port, "GET", path, headers=self._headers(headers)))

    def post(self, path: str, fields: dict[str, str], headers: dict[str, str] | None = None) -> Answer:
        body = urlencode(fields).encode()
        extra = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self._keep(request(self.port, "POST", path, body, self._headers(extra)))

    def sign_in(self, token: str = TOKEN) -> Answer:
        page = self.get("/ui/login")
        return self.post("/ui/login", {"csrf": hidden(page.body, "csrf"), "next": "/", "token": token})

    def csrf(self) -> str:
        return hidden(self.get("/ui/reload").body, "csrf")
