"""The examples of examples/ under real servers, driven over HTTP.

FastAPI under uvicorn, Flask under gunicorn with 2 workers, Django under gunicorn with 2
workers (and Django's test client in test_adapters_django.py). Each: clean traffic is
untouched, brute force on the login form is locked out after ``max_retries``, scanners are
banned at the threshold. The servers believe ``X-Forwarded-For`` from the loopback peer
only because the config trusts it (``[proxy] trusted``); uvicorn's own proxy handling is off.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
BIN = Path(sys.executable).parent

CONFIG = """\
[store]
url = "sqlite:///stockade.db"

[proxy]
trusted = ["127.0.0.1"]

[bans]
malicious_req_threshold = 5
block_duration = 600
"""

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass
class Client:
    port: int
    cookies: dict[str, str]

    def request(
        self, method: str, path: str, *, client: str = "198.51.100.1", form: Mapping[str, str] | None = None
    ) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"X-Forwarded-For": client, "Connection": "close"}
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            answer = Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
            for value in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
            return answer
        finally:
            connection.close()

    def wait_ready(self, process: subprocess.Popen[bytes]) -> None:
        for _ in range(600):
            if process.poll() is not None:
                raise AssertionError(f"the server exited with {process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                subprocess.run(["sleep", "0.05"], check=True)  # polling for readiness, not timing
        raise AssertionError("the server never listened")


@contextmanager
def running(command: list[str], cwd: Path, env: Mapping[str, str], port: int) -> Iterator[Client]:
    process = subprocess.Popen(
        command, cwd=cwd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        client = Client(port, {})
        client.wait_ready(process)
        yield client
    finally:
        process.terminate()
        process.wait(timeout=30)


def site(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "stockade.toml"
    config.write_text(CONFIG)
    return {"STOCKADE_CONFIG": str(config), "STOCKADE_STORE": f"sqlite:///{tmp_path / 'stockade.db'}"}


def uvicorn(app: str, port: int) -> list[str]:
    return [str(BIN / "uvicorn"), app, "--port", str(port), "--no-proxy-headers", "--log-level", "warning"]


def gunicorn(app: str, port: int, *extra: str) -> list[str]:
    return [str(BIN / "gunicorn"), "-w", "2", "--threads", "2", "-b", f"127.0.0.1:{port}", *extra, app]


@pytest.fixture
def fastapi_app(tmp_path: Path) -> Iterator[Client]:
    port = free_port()
    with running(uvicorn("app:app", port), EXAMPLES / "fastapi_app", site(tmp_path), port) as client:
        yield client


@pytest.fixture
def flask_app(tmp_path: Path) -> Iterator[Client]:
    port = free_port()
    with running(gunicorn("app:app", port), EXAMPLES / "flask_app", site(tmp_path), port) as client:
        yield client


def login(client: Client, password: str, *, who: str = "198.51.100.7") -> int:
    return client.request("POST", "/login", client=who, form={"username": "alice", "password": password}).status


def assert_scanner_banned(client: Client, probe: str = "/.env") -> None:
    scanner = "203.0.113.9"
    for _ in range(4):
        assert client.request("GET", probe, client=scanner).status == 404
    assert client.request("GET", "/", client=scanner).status == 200  # four strikes: not yet
    client.request("GET", probe, client=scanner)  # the fifth strike bans
    refused = client.request("GET", "/", client=scanner)
    assert refused.status == 403
    assert refused.body == b"Forbidden"
    assert client.request("GET", "/", client="203.0.113.10").status == 200


def assert_clean_traffic_untouched(client: Client) -> None:
    for _ in range(20):
        answer = client.request("GET", "/", client="198.51.100.2")
        assert (answer.status, answer.body) == (200, b"hello\n")


@pytest.mark.parametrize("example", ["fastapi_app", "flask_app"])
def test_brute_force_is_locked_out_after_max_retries(example: str, request: pytest.FixtureRequest) -> None:
    client: Client = request.getfixturevalue(example)
    assert login(client, "wonderland") == 200
    assert [login(client, "guess") for _ in range(3)] == [401, 401, 401]
    # Blocked: the right password is refused now, and so is every other try.
    assert login(client, "wonderland") == 403
    assert login(client, "guess") == 403
    assert login(client, "wonderland", who="198.51.100.8") == 403  # keyed by user, whatever the client


@pytest.mark.parametrize("example", ["fastapi_app", "flask_app"])
def test_scanners_are_banned_at_the_threshold(example: str, request: pytest.FixtureRequest) -> None:
    client: Client = request.getfixturevalue(example)
    assert_scanner_banned(client)


@pytest.mark.parametrize("example", ["fastapi_app", "flask_app"])
def test_clean_traffic_is_untouched(example: str, request: pytest.FixtureRequest) -> None:
    client: Client = request.getfixturevalue(example)
    assert_clean_traffic_untouched(client)
    assert client.request("GET", "/login", client="198.51.100.2").status == 200


def test_flask_lockout_holds_across_gunicorn_workers(tmp_path: Path) -> None:
    """Every worker refuses the blocked user: the SQLite store shares the block."""
    wrapper = tmp_path / "pid_app.py"
    wrapper.write_text(
        "import os\nfrom app import app as flask_app\n\n"
        "def app(environ, start_response):\n"
        "    def starting(status, headers, exc_info=None):\n"
        "        return start_response(status, [*headers, ('X-Pid', str(os.getpid()))], exc_info)\n"
        "    return flask_app(environ, starting)\n"
    )
    port = free_port()
    env = {**site(tmp_path), "PYTHONPATH": f"{EXAMPLES / 'flask_app'}{os.pathsep}{tmp_path}"}
    with running(gunicorn("pid_app:app", port), tmp_path, env, port) as client:
        assert [login(client, "guess") for _ in range(3)] == [401, 401, 401]
        refusing: set[str] = set()
        for _ in range(200):
            answer = client.request("POST", "/login", form={"username": "alice", "password": "wonderland"})
            assert answer.status == 403
            refusing.add(answer.headers["x-pid"])
            if len(refusing) == 2:
                break
        assert len(refusing) == 2


# -- Django, for real under gunicorn ------------------------------------------------------------


@pytest.fixture
def django_env(tmp_path: Path) -> dict[str, str]:
    env = {**site(tmp_path), "DJANGO_DB": str(tmp_path / "db.sqlite3"), "DJANGO_SETTINGS_MODULE": "project.settings"}
    manage = [sys.executable, "manage.py"]
    cwd = EXAMPLES / "django_project"
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=cwd, env={**os.environ, **env}, check=True)
    create = "from django.contrib.auth.models import User; User.objects.create_user('alice', password='wonderland')"
    subprocess.run([*manage, "shell", "-c", create], cwd=cwd, env={**os.environ, **env}, check=True)
    return env


def django_login(client: Client, password: str) -> Answer:
    client.request("GET", "/accounts/login/", client="198.51.100.7")
    token = client.cookies["csrftoken"]
    form = {"username": "alice", "password": password, "csrfmiddlewaretoken": token}
    return client.request("POST", "/accounts/login/", client="198.51.100.7", form=form)


def test_django_under_gunicorn(django_env: dict[str, str]) -> None:
    port = free_port()
    with running(gunicorn("project.wsgi", port), EXAMPLES / "django_project", django_env, port) as client:
        assert_clean_traffic_untouched(client)
        assert django_login(client, "wonderland").status == 302
        client.cookies.pop("sessionid", None)
        failed = [django_login(client, "guess") for _ in range(3)]
        assert [a.status for a in failed] == [200, 200, 200]
        assert all(re.search(b"wrong user name or password", a.body) for a in failed)
        blocked = django_login(client, "wonderland")
        assert blocked.status == 403
        assert_scanner_banned(client, "/wp-login.php")
