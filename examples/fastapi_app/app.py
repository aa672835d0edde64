"""A FastAPI app with a login form, protected by stockade in one line (``protect``).

Run: ``uvicorn app:app`` in this directory. Three wrong passwords block the user for a
minute; five scanner probes ban the client for ten minutes.
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Form
from fastapi.responses import HTMLResponse, PlainTextResponse

from stockade.adapters.fastapi import AsyncLoginAttempt, login_attempt, protect

HERE = Path(__file__).parent
USERS = {"alice": "wonderland"}  # a real app checks a password hash
FORM = """<!doctype html><form method="post" action="/login">
<input name="username"> <input name="password" type="password"> <button>Log in</button></form>"""

app = FastAPI()
protect(
    app,
    os.environ.get("STOCKADE_CONFIG", HERE / "stockade.toml"),
    logins=[{"path": "/login", "max_retries": 3, "block_time": 1}],
    store=os.environ.get("STOCKADE_STORE"),
)


@app.get("/", response_class=PlainTextResponse)
async def home() -> str:
    return "hello\n"


@app.get("/login", response_class=HTMLResponse)
async def login_form() -> str:
    return FORM


@app.post("/login", response_class=PlainTextResponse)
async def login(
    attempt: Annotated[AsyncLoginAttempt, Depends(login_attempt())],
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> PlainTextResponse:
    ok = hmac.compare_digest(USERS.get(username, "\0"), password)
    if await attempt.report(ok):
        return PlainTextResponse(f"welcome {username}\n")
    return PlainTextResponse("wrong user name or password\n", status_code=401)
