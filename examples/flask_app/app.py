"""A Flask app with a login form, protected by stockade in one line (``Stockade(app, ...)``).

Run: ``gunicorn -w 2 app:app`` in this directory. Three wrong passwords block the user for
a minute, in every worker; five scanner probes ban the client for ten minutes.
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path

from flask import Flask, request

from stockade.adapters.flask import Stockade

HERE = Path(__file__).parent
USERS = {"alice": "wonderland"}  # a real app checks a password hash
FORM = """<!doctype html><form method="post" action="/login">
<input name="username"> <input name="password" type="password"> <button>Log in</button></form>"""

app = Flask(__name__)
stockade = Stockade(
    app,
    os.environ.get("STOCKADE_CONFIG", HERE / "stockade.toml"),
    logins=[{"path": "/login", "max_retries": 3, "block_time": 1}],
    store=os.environ.get("STOCKADE_STORE"),
)


@app.get("/")
def home() -> str:
    return "hello\n"


@app.get("/login")
def login_form() -> str:
    return FORM


@app.post("/login")
def login() -> tuple[str, int]:
    username = request.form.get("username", "")
    attempt = stockade.login_attempt(username)  # a blocked user is refused here
    ok = hmac.compare_digest(USERS.get(username, "\0"), request.form.get("password", ""))
    if attempt.report(ok):
        return f"welcome {username}\n", 200
    return "wrong user name or password\n", 401
