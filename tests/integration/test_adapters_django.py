"""The Django example with Django's test client, in a fresh process (Django settings are global).

The test client drives the whole middleware stack: the lockout fed by the auth signals, the
blocked user refused on the login view, router awareness from the URLconf, and the admin
page that lists and clears blocks.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_adapters_examples import CONFIG, EXAMPLES

pytestmark = pytest.mark.slow

SCRIPT = """\
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth.models import User
from django.test import Client
User.objects.create_user("alice", password="wonderland")
User.objects.create_superuser("root", password="rootpass")

client = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7")
def login(password):
    return client.post("/accounts/login/", {"username": "alice", "password": password}).status_code

assert [login("guess") for _ in range(3)] == [200, 200, 200]
assert login("wonderland") == 403, "blocked on the login view"

# django.contrib.admin's login goes through authenticate(): the same lockout refuses alice there.
User.objects.filter(username="alice").update(is_staff=True)
def admin_login(who, user, password):
    answer = who.post("/admin/login/?next=/admin/", {"username": user, "password": password, "next": "/admin/"})
    return answer.status_code
staff = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.8")
assert admin_login(staff, "alice", "wonderland") == 200, "blocked on the admin's login"
assert "_auth_user_id" not in staff.session

# Failures on the admin's login count and block too, on the site's login as well.
User.objects.create_user("bob", password="builder", is_staff=True)
assert [admin_login(staff, "bob", "guess") for _ in range(3)] == [200, 200, 200]
assert admin_login(staff, "bob", "builder") == 200, "bob blocked by failures on the admin's login"
bob = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.10")
assert bob.post("/accounts/login/", {"username": "bob", "password": "builder"}).status_code == 403

# Every authenticate() call, with or without a request, is refused for a blocked user.
from django.contrib.auth import authenticate
assert authenticate(None, username="bob", password="builder") is None
User.objects.create_user("carol", password="carolpass")
assert authenticate(None, username="carol", password="carolpass") is not None

# Router awareness: /admin/ is a real route, never a probe; /wp-admin/ is.
other = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.5")
for _ in range(6):
    other.get("/admin/login/")
assert other.get("/").status_code == 200

admin = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.9")
assert admin.get("/admin/stockade/").status_code == 302, "staff only"
admin.login(username="root", password="rootpass")
page = admin.get("/admin/stockade/")
assert page.status_code == 200 and b"alice" in page.content
import re
times = re.findall(rb"<td>([^<]*)</td><td><form", page.content)
assert times and all(re.fullmatch(rb"\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ", t) for t in times), times
assert admin.post("/admin/stockade/", {"user": "alice", "directory": "/accounts/login"}).status_code == 302
assert b"alice" not in admin.get("/admin/stockade/").content
assert login("wonderland") == 302, "unblocked from the admin page"
assert b"stockade console" not in page.content, "no console configured"
from django.test import override_settings
with override_settings(STOCKADE_CONSOLE_URL="https://admin.example/ui/"):
    linked = admin.get("/admin/stockade/").content
assert b'<a href="https://admin.example/ui/">Open the stockade console</a>' in linked, linked
print("ok")
"""


def test_django_test_client(tmp_path: Path) -> None:
    (tmp_path / "stockade.toml").write_text(CONFIG)
    env = {
        **os.environ,
        "STOCKADE_CONFIG": str(tmp_path / "stockade.toml"),
        "STOCKADE_STORE": f"sqlite:///{tmp_path / 'stockade.db'}",
        "DJANGO_DB": str(tmp_path / "db.sqlite3"),
        "DJANGO_SETTINGS_MODULE": "project.settings",
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=EXAMPLES / "django_project",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")


LINK_SCRIPT = """\
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth.models import User
from django.test import Client
User.objects.create_superuser("root", password="rootpass")
admin = Client(REMOTE_ADDR="127.0.0.1")
admin.login(username="root", password="rootpass")
page = admin.get("/admin/stockade/").content
assert b'<a href="http://127.0.0.1:9999/ui/">Open the stockade console</a>' in page, page
print("ok")
"""


def test_the_staff_page_links_to_the_console_of_the_configuration(tmp_path: Path) -> None:
    admin = '\n[admin]\nlisten = "127.0.0.1:9999"\ntoken = "a-token-of-sixteen-chars"\n'
    (tmp_path / "stockade.toml").write_text(CONFIG + admin)
    env = {
        **os.environ,
        "STOCKADE_CONFIG": str(tmp_path / "stockade.toml"),
        "STOCKADE_STORE": f"sqlite:///{tmp_path / 'stockade.db'}",
        "DJANGO_DB": str(tmp_path / "db.sqlite3"),
        "DJANGO_SETTINGS_MODULE": "project.settings",
    }
    done = subprocess.run(
        [sys.executable, "-c", LINK_SCRIPT],
        cwd=EXAMPLES / "django_project",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")


BODY_SCRIPT = """\
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from urllib.parse import urlencode
from django.contrib.auth.models import User
from django.test import Client
User.objects.create_user("alice", password="wonderland")
FORM = "application/x-www-form-urlencoded"

# The checks read the body first; the view still reads all of it: a urlencoded login logs in.
alice = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.20")
form = urlencode({"username": "alice", "password": "wonderland"})
assert alice.post("/accounts/login/", form, content_type=FORM).status_code == 302

# A malicious body counts a strike before the view runs; at the threshold the client is banned.
prober = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.77")
for i in range(5):
    probe = urlencode({"username": f"user{i}", "password": "x' UNION ALL SELECT password,2 FROM users--"})
    answer = prober.post("/accounts/login/", probe, content_type=FORM)
    assert answer.status_code == 200, answer.status_code
    assert f'value="user{i}"'.encode() in answer.content, "the view read the posted user name"
assert prober.get("/").status_code == 403

# A clean request is decided by the native ladder in one call (so is the banned prober's).
from stockade.adapters.django import checks
before = checks().process.native.counts
assert alice.get("/").status_code == 200
after = checks().process.native.counts
assert after[0] == before[0] + 1, (before, after)
print("ok")
"""


def test_django_reads_the_body_the_checks_read_first(tmp_path: Path) -> None:
    (tmp_path / "stockade.toml").write_text(CONFIG)
    env = {
        **os.environ,
        "STOCKADE_CONFIG": str(tmp_path / "stockade.toml"),
        "STOCKADE_STORE": f"sqlite:///{tmp_path / 'stockade.db'}",
        "DJANGO_DB": str(tmp_path / "db.sqlite3"),
        "DJANGO_SETTINGS_MODULE": "project.settings",
    }
    done = subprocess.run(
        [sys.executable, "-c", BODY_SCRIPT],
        cwd=EXAMPLES / "django_project",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")
