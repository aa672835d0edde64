"""The OpenAPI 3.1 description of the admin API, served at ``GET /openapi.json``.

Written out by hand next to the routes it describes: the API is small, and a schema that
says exactly what the handlers accept (no unknown fields, ports 0-65535, durations up to
100 years) lets schemathesis hunt for answers that break it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from stockade.admin.http import MAX_SECONDS
from stockade.engine._async.guard import MAX_USER_LENGTH

API_VERSION = "2.0.0"
WORKER_STATES = ("ready",)

_TEXT = {"type": "string", "pattern": "^[^\\x00]*$"}
_NAME = {**_TEXT, "minLength": 1}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


_UNAUTHORIZED = {
    "description": "Missing, malformed or wrong bearer token",
    "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    "content": {"application/json": {"schema": _ref("Error")}},
}
_STORE_FAILED = _error("The store failed")


def _listing(summary: str, schema: str, directory: dict[str, Any]) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": [
                {
                    "name": "dir",
                    "in": "query",
                    "description": "A protected directory, like /secure",
                    "schema": directory,
                },
                {
                    "name": "address",
                    "in": "query",
                    "description": "Only this listener address (* for a listener bound to every address)",
                    "schema": _NAME,
                },
                {
                    "name": "port",
                    "in": "query",
                    "description": "Only this listener port",
                    "schema": {"type": "integer", "minimum": 0, "maximum": 65535},
                },
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["users"],
                        "properties": {"users": {"type": "array", "items": _ref(schema)}},
                    },
                    "The users, in a stable order",
                ),
                "400": _error("A bad parameter"),
                "401": _UNAUTHORIZED,
                "404": _error("No such directory (no_such_directory)"),
                "503": _STORE_FAILED,
            },
        }
    }


def _mutation(summary: str, request: str, result: str, errors: dict[str, Any]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(request)}}},
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": [result],
                        "properties": {result: {"type": "array", "items": _ref("BlockedUser")}},
                    },
                    "Done; one entry per directory and listener",
                ),
                "400": _error("A bad body or field"),
                "401": _UNAUTHORIZED,
                **errors,
                "413": _error("The body is too large"),
                "503": _STORE_FAILED,
            },
        }
    }


def _ban_mutation(summary: str, request: str, result: str, errors: dict[str, Any]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(request)}}},
            "responses": {
                "200": _json(
                    {"type": "object", "required": [result], "properties": {result: _ref("BannedIp")}}, "Done"
                ),
                "400": _error("A bad body or field, or not an IP address or network (invalid_ip_address)"),
                "401": _UNAUTHORIZED,
                **errors,
                "413": _error("The body is too large"),
                "503": _STORE_FAILED,
            },
        }
    }


_LISTENER_FIELDS: dict[str, Any] = {
    "address": {
        "description": "Only this listener address (* for a listener bound to every address)",
        "oneOf": [_TEXT, {"type": "null"}],
    },
    "port": {"oneOf": [{"type": "integer", "minimum": 0, "maximum": 65535}, {"type": "null"}]},
}

_SECONDS = {
    "description": "How long; the configured duration when omitted",
    "oneOf": [
        {"type": "number", "minimum": 0, "maximum": MAX_SECONDS},
        {"type": "string", "enum": ["infinity"]},
        {"type": "null"},
    ],
}

_ENTRY: dict[str, Any] = {
    "user": {"type": "string"},
    "dir": {"type": "string"},
    "address": {"type": ["string", "null"], "description": "The listener address; null when bound to every address"},
    "port": {"type": "integer"},
    "until": {"type": ["string", "null"], "description": "ISO 8601 UTC; null for a block without end"},
}


def _schemas(directory: dict[str, Any]) -> dict[str, Any]:
    return {
        "Error": {
            "type": "object",
            "required": ["error", "message"],
            "properties": {
                "error": {"type": "string", "description": "A stable kind, like not_blocked"},
                "message": {"type": "string"},
            },
        },
        "BlockedUser": {
            "type": "object",
            "required": ["user", "dir", "address", "port", "until"],
            "properties": {**_ENTRY, "client": {"type": "string", "description": "The client IP of an IP lockout"}},
        },
        "AuthUser": {"type": "object", "required": ["user", "dir", "address", "port", "until"], "properties": _ENTRY},
        "BlockRequest": {
            "type": "object",
            "required": ["user", "dir"],
            "additionalProperties": False,
            "properties": {
                "user": {**_NAME, "maxLength": MAX_USER_LENGTH},
                "dir": {**directory, "description": "The protected directory, like /secure"},
                "seconds": _SECONDS,
                **_LISTENER_FIELDS,
            },
        },
        "UnblockRequest": {
            "type": "object",
            "required": ["user"],
            "additionalProperties": False,
            "properties": {
                "user": {**_NAME, "maxLength": MAX_USER_LENGTH},
                "dir": {
                    "description": "A protected directory; every directory when omitted",
                    "oneOf": [_TEXT, {"type": "null"}],
                },
                **_LISTENER_FIELDS,
            },
        },
        "BannedIp": {
            "type": "object",
            "required": ["ip", "until", "network"],
            "properties": {
                "ip": {"type": "string", "description": "An address, an IPv6 prefix or a network banned by hand"},
                "until": {"type": ["string", "null"], "description": "ISO 8601 UTC; null for a ban without end"},
                "network": {"type": "boolean"},
            },
        },
        "WarnedIp": {
            "type": "object",
            "required": ["ip", "count", "last"],
            "properties": {
                "ip": {"type": "string", "description": "An address or an IPv6 prefix"},
                "count": {"type": "integer", "description": "Malicious requests counted in the window"},
                "last": {"type": "string", "description": "ISO 8601 UTC of the last one"},
            },
        },
        "IpStatus": {
            "type": "object",
            "required": ["ip", "verdict", "count", "seconds_left"],
            "properties": {
                "ip": {"type": "string"},
                "verdict": {"enum": ["safe", "warning", "blocked"]},
                "count": {"type": "integer", "description": "Malicious requests counted in the window"},
                "seconds_left": {"type": ["number", "null"], "description": "Of a ban; null when forever or none"},
            },
        },
        "BanRequest": {
            "type": "object",
            "required": ["ip"],
            "additionalProperties": False,
            "properties": {
                "ip": {**_NAME, "description": "An address or a network in CIDR notation, host bits clear"},
                "seconds": _SECONDS,
                "force": {
                    "type": "boolean",
                    "description": "Set exactly this end even when a longer ban is in force (default false)",
                },
            },
        },
        "UnbanRequest": {
            "type": "object",
            "required": ["ip"],
            "additionalProperties": False,
            "properties": {"ip": {**_NAME, "description": "An address or a network in CIDR notation"}},
        },
        "Status": {
            "type": "object",
            "required": ["store", "view", "directories"],
            "properties": {
                "mod_block": {
                    "oneOf": [
                        {"type": "null", "description": "No [block] section"},
                        {
                            "type": "object",
                            "description": "BFE mod_block counters (mod_block_CONN_TOTAL ...)",
                            "additionalProperties": {"type": "integer"},
                        },
                    ]
                },
                "store": {
                    "type": "object",
                    "required": ["url", "latency", "pending_writes", "errors"],
                    "properties": {
                        "url": {"type": "string", "description": "Without its password"},
                        "latency": {"type": "number", "description": "One round trip, in seconds"},
                        "pending_writes": {"type": "integer"},
                        "errors": {"type": "integer"},
                    },
                },
                "view": {
                    "oneOf": [
                        {"type": "null", "description": "The store is local and needs no view"},
                        {
                            "type": "object",
                            "required": ["trusted", "lag", "entries"],
                            "properties": {
                                "trusted": {"type": "boolean"},
                                "lag": {"type": ["number", "null"], "description": "Seconds; null when unknown"},
                                "entries": {"type": ["integer", "null"]},
                            },
                        },
                    ]
                },
                "directories": {"type": "array", "items": {"type": "string"}},
                "workers": {
                    "type": "array",
                    "description": "The server process (one entry: the front's threads are in it)",
                    "items": _ref("WorkerStatus"),
                },
            },
        },
        "WorkerStatus": {
            "type": "object",
            "required": ["worker", "pid", "state"],
            "properties": {
                "worker": {"type": "integer", "description": "Always 0"},
                "pid": {"type": "integer"},
                "state": {
                    "enum": list(WORKER_STATES),
                },
                "started": {"type": "string", "description": "ISO 8601 UTC"},
                "config": {"type": "string"},
                "requests": {
                    "type": "object",
                    "description": "Requests decided, by outcome",
                    "additionalProperties": {"type": "integer"},
                },
                "reloads": {
                    "type": "object",
                    "required": ["ok", "failed", "last"],
                    "properties": {
                        "ok": {"type": "integer"},
                        "failed": {"type": "integer"},
                        "last": {"oneOf": [{"type": "null"}, {"type": "object"}]},
                    },
                },
                "block": {
                    "oneOf": [
                        {"type": "null", "description": "No [block] section"},
                        {
                            "type": "object",
                            "description": "The mod_block files in force",
                            "properties": {
                                "rules": {"type": "integer"},
                                "rules_path": {"type": "string"},
                                "ip_blocklist": {"type": "integer"},
                                "ip_blocklist_path": {"type": "string"},
                            },
                        },
                    ]
                },
            },
        },
        "Changed": {
            "type": "object",
            "required": ["sections", "files"],
            "properties": {
                "sections": {"type": "array", "items": {"type": "string"}, "description": "Like block, directory"},
                "files": {"type": "array", "items": {"type": "string"}},
            },
        },
        "Reloaded": {
            "type": "object",
            "required": ["reload"],
            "properties": {
                "reload": {"const": "ok"},
                "changed": _ref("Changed"),
                "workers": {"type": "array", "items": _ref("WorkerReload")},
            },
        },
        "WorkerReload": {
            "type": "object",
            "required": ["worker", "pid", "state", "reload"],
            "properties": {
                "worker": {"type": "integer"},
                "pid": {"type": "integer"},
                "state": {"enum": list(WORKER_STATES)},
                "reload": {"enum": ["ok", "error"]},
                "changed": _ref("Changed"),
                "errors": {"type": "array", "items": {"type": "string"}},
            },
        },
        "ReloadFailed": {
            "type": "object",
            "required": ["error", "message", "errors"],
            "properties": {
                "error": {"const": "reload_failed"},
                "message": {"type": "string"},
                "errors": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "One line per error: file:line:column: text where the place is known",
                },
                "workers": {"type": "array", "items": _ref("WorkerReload")},
            },
        },
    }


@cache
def openapi(directories: Sequence[str] = ()) -> dict[str, Any]:
    """The description; ``directories`` (a tuple) become examples of the ``dir`` fields.

    Built once per set of directories: callers must not change it.
    """
    public: list[dict[str, list[str]]] = []
    directory = {**_NAME, "examples": list(directories)} if directories else _NAME
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "stockade admin API",
            "version": API_VERSION,
            "description": "Lockout administration, status and metrics of a stockade server.",
        },
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": _schemas(directory),
        },
        "paths": {
            "/health": {
                "get": {
                    "summary": "Liveness; needs no token",
                    "security": public,
                    "responses": {
                        "200": _json(
                            {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}},
                            "The server is up",
                        )
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This description; needs no token",
                    "security": public,
                    "responses": {"200": _json({"type": "object"}, "The OpenAPI 3.1 description")},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics of the whole server, the native front's counters included",
                    "responses": {
                        "200": {
                            "description": "The Prometheus text format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "401": _UNAUTHORIZED,
                    },
                }
            },
            "/status": {
                "get": {
                    "summary": "The store (URL, latency, local view), mod_block's counters and the server process",
                    "responses": {
                        "200": _json(_ref("Status"), "The store answered"),
                        "400": _error("A query parameter (none is accepted)"),
                        "401": _UNAUTHORIZED,
                        "503": _STORE_FAILED,
                    },
                }
            },
            "/users/blocked": _listing("Users blocked now", "BlockedUser", directory),
            "/users/auth": _listing("Users who logged in within auth_timeout", "AuthUser", directory),
            "/users/block": _mutation(
                "Block a user in a directory",
                "BlockRequest",
                "blocked",
                {"404": _error("No such directory (no_such_directory)")},
            ),
            "/users/unblock": _mutation(
                "Remove a user's blocks",
                "UnblockRequest",
                "unblocked",
                {"404": _error("No such directory (no_such_directory), or the user is not blocked (not_blocked)")},
            ),
            "/ips/status": {
                "get": {
                    "summary": "Whether an address is safe, warned (with the count) or banned (with the time left)",
                    "parameters": [
                        {
                            "name": "ip",
                            "in": "query",
                            "required": True,
                            "schema": {**_NAME, "examples": ["192.0.2.7"]},
                        }
                    ],
                    "responses": {
                        "200": _json(_ref("IpStatus"), "The address's status"),
                        "400": _error("No address, or not an IP address (invalid_ip_address)"),
                        "401": _UNAUTHORIZED,
                        "503": _STORE_FAILED,
                    },
                }
            },
            "/ips/banned": {
                "get": {
                    "summary": "Every active ban",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["bans"],
                                "properties": {"bans": {"type": "array", "items": _ref("BannedIp")}},
                            },
                            "The bans, sorted",
                        ),
                        "400": _error("A query parameter (none is accepted)"),
                        "401": _UNAUTHORIZED,
                        "503": _STORE_FAILED,
                    },
                }
            },
            "/ips/warning": {
                "get": {
                    "summary": "Every client in the warning state: malicious requests counted, not banned (yet)",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["warning"],
                                "properties": {"warning": {"type": "array", "items": _ref("WarnedIp")}},
                            },
                            "The clients, sorted",
                        ),
                        "400": _error("A query parameter (none is accepted)"),
                        "401": _UNAUTHORIZED,
                        "503": _STORE_FAILED,
                    },
                }
            },
            "/ips/block": _ban_mutation(
                "Ban an address or a network; a longer ban in force is kept unless force",
                "BanRequest",
                "banned",
                {},
            ),
            "/ips/unblock": _ban_mutation(
                "Lift the ban of an address or a network",
                "UnbanRequest",
                "unbanned",
                {"404": _error("Not banned (not_banned)")},
            ),
            "/reload": {
                "post": {
                    "summary": "Reload the configuration and its files; on any error nothing changes",
                    "responses": {
                        "200": _json(_ref("Reloaded"), "Reloaded; what changed"),
                        "400": _error("A body that is not a JSON object"),
                        "401": _UNAUTHORIZED,
                        "409": _json(
                            _ref("ReloadFailed"),
                            "The new configuration or a file it names is invalid; nothing changed (reload_failed)",
                        ),
                        "413": _error("The body is too large"),
                        "501": _error("This server cannot reload (not_implemented)"),
                    },
                }
            },
        },
    }
