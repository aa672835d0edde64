"""Loading stockade.toml: resolved values, and every problem reported at once with exact messages."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from stockade.config import Config, load_config
from stockade.engine.settings import Listener
from stockade.errors import ConfigError
from stockade.request.paths import PathPolicy
from stockade.server.listen import ListenAddress, parse_listen
from tests.integration.callbacks import record

SHA_PASSWORD = "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="  # "password"
DIRECTORY_KEYS = (
    "path, auth_user_file, auth_name, require_user, max_retries, block_time, fail_expire_time, auth_timeout, "
    "callback, blocked_status, lockout_by, data_file"
)


@pytest.fixture
def base(tmp_path: Path) -> Path:
    (tmp_path / "users.htpasswd").write_text(f"alice:{SHA_PASSWORD}\nbob:{SHA_PASSWORD}\n")
    (tmp_path / "htdocs").mkdir()
    return tmp_path


def write(base: Path, text: str, name: str = "stockade.toml") -> Path:
    path = base / name
    path.write_text(text, encoding="utf-8")
    return path


def load(base: Path, text: str) -> Config:
    return load_config(write(base, text))


def issues(base: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(base, text)
    assert caught.value.file == str(base / "stockade.toml")
    return [str(issue) for issue in caught.value.issues]


DIRECTORY = '[[directory]]\npath = "/secure"\nauth_user_file = "users.htpasswd"\n'


# -- valid files ------------------------------------------------------------------------------


def test_an_empty_file_means_the_defaults(base: Path) -> None:
    config = load(base, "")
    assert config.listen == (ListenAddress("127.0.0.1", 8080),)
    assert config.store_url == f"sqlite:///{base}/stockade.db"
    assert config.directories == ()
    assert config.document_root is None
    assert config.audit_json is None
    assert config.audit_text is None
    assert config.raw.server.workers == 1


def test_every_key(base: Path) -> None:
    (base / "state").mkdir()
    config = load(
        base,
        """
[server]
listen = ["127.0.0.1:8080", "[::1]:8081", ":8082"]
document_root = "htdocs"
workers = 4
[store]
url = "sqlite:///state/stockade.db?synchronous=normal"
[audit]
json = "logs/audit.jsonl"
text = "logs/security.log"
[[directory]]
path = "/secure/"
auth_user_file = "users.htpasswd"
auth_name = "Secure Area"
require_user = ["alice", "bob"]
max_retries = 5
block_time = 90
fail_expire_time = 0.5
auth_timeout = 15
callback = "tests.integration.callbacks:record"
blocked_status = 401
lockout_by = "user_ip"
""",
    )
    assert config.listen == (
        ListenAddress("127.0.0.1", 8080),
        ListenAddress("::1", 8081),
        ListenAddress("0.0.0.0", 8082),
    )
    assert config.guard_settings().listeners == (
        Listener("127.0.0.1", 8080),
        Listener("::1", 8081),
        Listener(None, 8082),
    )
    assert config.document_root == base / "htdocs"
    assert config.store_url == f"sqlite:///{base}/state/stockade.db?synchronous=normal"
    assert config.audit_json == base / "logs" / "audit.jsonl"
    assert config.audit_text == base / "logs" / "security.log"
    (secure,) = config.directories
    assert secure.path == "/secure"
    assert secure.realm == "Secure Area"
    assert secure.require_user == frozenset({"alice", "bob"})
    assert secure.users.path == base / "users.htpasswd"
    assert secure.users.verify("alice", "password")
    policy = secure.settings.policy
    assert (policy.max_retries, policy.block_time, policy.fail_expire_time, policy.auth_timeout) == (5, 5400, 30, 15)
    assert secure.settings.callbacks == (record,)
    assert secure.settings.blocked_status == 401
    assert secure.settings.lockout_by == "user_ip"


def test_the_sqlite_directory_must_exist(base: Path) -> None:
    assert issues(base, '[store]\nurl = "sqlite:///state/x.db"\n') == [
        f"store.url: expected a file in an existing directory: {base}/state is not (got 'sqlite:///state/x.db')"
    ]


def test_infinity_works_for_every_setting(base: Path) -> None:
    config = load(
        base,
        DIRECTORY
        + 'max_retries = "infinity"\nblock_time = "Infinity"\nfail_expire_time = inf\nauth_timeout = "infinity"\n',
    )
    policy = config.directories[0].settings.policy
    assert policy.max_retries is None
    assert policy.block_time == policy.fail_expire_time == policy.auth_timeout == math.inf


def test_defaults_of_a_directory(base: Path) -> None:
    (secure,) = load(base, DIRECTORY).directories
    policy = secure.settings.policy
    assert (policy.max_retries, policy.block_time, policy.fail_expire_time, policy.auth_timeout) == (3, 3600, 1800, 30)
    assert secure.realm == "Restricted"
    assert secure.require_user is None
    assert secure.settings.callbacks == ()
    assert secure.settings.blocked_status == 403
    assert secure.settings.lockout_by == "user"


def test_single_strings_for_lists(base: Path) -> None:
    config = load(base, '[server]\nlisten = "[::]:9000"\n' + DIRECTORY + 'require_user = "alice"\n')
    assert config.listen == (ListenAddress("::", 9000),)
    assert config.directories[0].require_user == frozenset({"alice"})


def test_memory_store(base: Path) -> None:
    assert load(base, '[store]\nurl = "memory://?max_records=10"\n').store_url == "memory://?max_records=10"


def test_callbacks_given_by_name(base: Path) -> None:
    def mine(what: str, address: str | None, port: int, directory: str, data: object) -> None:
        return None

    config = load_config(write(base, DIRECTORY + 'callback = ["mine"]\n'), callbacks={"mine": mine})
    assert config.directories[0].settings.callbacks == (mine,)


def test_directories_sharing_a_file_share_its_entries(base: Path) -> None:
    config = load(base, DIRECTORY + DIRECTORY.replace("/secure", "/admin"))
    assert [d.path for d in config.directories] == ["/secure", "/admin"]
    assert config.directories[0].users is config.directories[1].users


# -- problems, one by one ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("max_retries = -1", 'max_retries: expected an integer >= 0 or "infinity" (got -1)'),
        ("max_retries = 2.5", 'max_retries: expected an integer >= 0 or "infinity" (got 2.5)'),
        ("max_retries = true", 'max_retries: expected an integer >= 0 or "infinity" (got True)'),
        ('max_retries = "forever"', "max_retries: expected an integer >= 0 or \"infinity\" (got 'forever')"),
        ("block_time = -1", 'block_time: expected a number >= 0 or "infinity" (got -1)'),
        ("fail_expire_time = nan", 'fail_expire_time: expected a number >= 0 or "infinity" (got nan)'),
        ('auth_timeout = "30s"', "auth_timeout: expected a number >= 0 or \"infinity\" (got '30s')"),
        ("blocked_status = 404", "blocked_status: expected 401 or 403 (got 404)"),
        ('blocked_status = "403"', "blocked_status: expected 401 or 403 (got '403')"),
        ("blocked_status = 403.0", "blocked_status: expected 401 or 403 (got 403.0)"),
        ('lockout_by = "client"', 'lockout_by: expected "user", "ip" or "user_ip" (got \'client\')'),
        ("require_user = []", None),
        ("require_user = [1]", "require_user: expected a string or an array of non-empty strings (got [1])"),
        ('callback = [""]', "callback: expected a string or an array of non-empty strings (got [''])"),
        (
            'auth_name = "say \\"hi\\""',
            "auth_name: expected a non-empty realm without quotes, backslashes or "
            "control characters (got 'say \"hi\"')",
        ),
        (
            'auth_name = ""',
            "auth_name: expected a non-empty realm without quotes, backslashes or control characters (got '')",
        ),
        (
            "auth_name = 5",
            "auth_name: expected a non-empty realm without quotes, backslashes or control characters (got 5)",
        ),
        ("realm = 'x'", f"realm: unknown key: expected one of {DIRECTORY_KEYS}"),
    ],
)
def test_directory_values(base: Path, extra: str, expected: str | None) -> None:
    text = DIRECTORY + extra + "\n"
    if expected is None:
        load(base, text)
        return
    assert issues(base, text) == [f"directory[0].{expected}"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("secure", "expected a URL path starting with '/', like \"/secure\" (got 'secure')"),
        ("/a//b", "expected a URL path starting with '/', like \"/secure\" (got '/a//b')"),
        ("/a/../b", "expected a URL path without '.' or '..' segments (got '/a/../b')"),
        ("", "expected a URL path starting with '/', like \"/secure\" (got '')"),
    ],
)
def test_directory_paths(base: Path, path: str, expected: str) -> None:
    text = f'[[directory]]\npath = "{path}"\nauth_user_file = "users.htpasswd"\n'
    assert issues(base, text) == [f"directory[0].path: {expected}"]


def test_required_keys(base: Path) -> None:
    assert issues(base, "[[directory]]\nauth_name = 'x'\n") == [
        "directory[0].path: required key is missing",
        "directory[0].auth_user_file: required key is missing",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("listen = 8080", "server.listen: expected an address, a table, or an array of them (got 8080)"),
        (
            'listen = "localhost:80"',
            "server.listen: expected 'IPv4:port', '[IPv6]:port' or ':port' with a port "
            "from 0 to 65535 (got 'localhost:80')",
        ),
        (
            'listen = ["127.0.0.1:80", "::1:80"]',
            "server.listen[1]: expected 'IPv4:port', '[IPv6]:port' or ':port' "
            "with a port from 0 to 65535 (got '::1:80')",
        ),
        (
            'listen = ["127.0.0.1:65536"]',
            "server.listen[0]: expected 'IPv4:port', '[IPv6]:port' or ':port' with a "
            "port from 0 to 65535 (got '127.0.0.1:65536')",
        ),
        (
            'listen = ["127.0.0.1:80", "127.0.0.1:80"]',
            "server.listen[1]: same address as server.listen[0] (got '127.0.0.1:80')",
        ),
        ("workers = 0", "server.workers: expected an integer from 1 to 256 (got 0)"),
        ('workers = "2"', "server.workers: expected an integer from 1 to 256 (got '2')"),
        ("document_root = 1", "server.document_root: expected a non-empty string (got 1)"),
        (
            "port = 1",
            "server.port: unknown key: expected one of listen, document_root, upstream, route, workers,"
            " engine, access_log, limits, merge_slashes, escaped_slashes",
        ),
        ('engine = "rust"', "server.engine: expected \"native\" (got 'rust')"),
        (
            'engine = "python"',
            "server.engine: the Python engine was removed in favour of the native front:"
            " delete the line or write \"native\" (got 'python')",
        ),
    ],
)
def test_server_values(base: Path, text: str, expected: str) -> None:
    assert issues(base, f"[server]\n{text}\n") == [expected]


def test_the_engine_is_native(base: Path) -> None:
    assert load(base, "").raw.server.engine == "native"
    assert load(base, '[server]\nengine = "native"\n').raw.server.engine == "native"


def test_document_root_must_be_a_directory(base: Path) -> None:
    (base / "file.txt").write_text("x")
    assert issues(base, '[server]\ndocument_root = "file.txt"\n') == [
        f"server.document_root: expected an existing directory (got '{base}/file.txt')"
    ]


ANY_STORE = (
    "expected sqlite:///path.db (relative to this file), memory://, redis://, rediss://, redis+sentinel://"
    " or redis+cluster://"
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ftp://localhost", ANY_STORE),
        ("stockade.db", ANY_STORE),
        ("sqlite://host/x.db", "expected sqlite:///relative/path.db or sqlite:////absolute/path.db"),
        ("sqlite:///x.db?synchronous=off", "invalid synchronous 'off': expected full, normal or extra"),
        ("memory://?max_records=0", "invalid max_records '0': expected a positive integer"),
    ],
)
def test_store_urls(base: Path, url: str, expected: str) -> None:
    assert issues(base, f'[store]\nurl = "{url}"\n') == [f"store.url: {expected} (got {url!r})"]


def test_redis_store_urls_are_checked_without_connecting(base: Path) -> None:
    load_config(write(base, '[store]\nurl = "redis+cluster://127.0.0.1:1,127.0.0.1:2?prefix=app:"\n'))
    assert issues(base, '[store]\nurl = "redis://h:99999"\n') == [
        "store.url: invalid redis port '99999': expected an integer from 1 to 65535"
    ]
    assert issues(base, '[store]\nurl = "redis://:hunter2@h/0?pool=3"\n') == [
        "store.url: invalid store url parameter 'pool': expected prefix or timeout"
    ]


def test_on_error_policies(base: Path) -> None:
    default = load_config(write(base, "")).guard_settings().on_error
    assert (default.lockout, default.bans) == ("closed", "open")
    both = load_config(write(base, '[store]\non_error = "open"\n')).guard_settings().on_error
    assert (both.lockout, both.bans) == ("open", "open")
    split = load_config(write(base, '[store]\non_error = { lockout = "open", bans = "closed" }\n'))
    assert (split.guard_settings().on_error.lockout, split.guard_settings().on_error.bans) == ("open", "closed")
    assert issues(base, '[store]\non_error = "ajar"\n') == [
        'store.on_error: expected "open" or "closed" (got \'ajar\')'
    ]
    assert issues(base, '[store]\non_error = { lockout = "shut", ip = "open" }\n') == [
        'store.on_error.lockout: expected "open" or "closed" (got \'shut\')',
        "store.on_error.ip: unknown key: expected one of lockout, bans",
    ]


def test_audit_values(base: Path) -> None:
    assert issues(base, '[audit]\njson = "htdocs"\ntext = ""\nsyslog = true\n') == [
        "audit.text: expected a non-empty string (got '')",
        "audit.syslog: unknown key: expected one of json, text",
        f"audit.json: expected a file, not a directory (got '{base}/htdocs')",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "listen = 1",
            "listen: unknown key: expected one of server, log, store, audit, proxy, admin, lockout, bans, block,"
            " decision, logs, directory",
        ),
        ("server = 3", "server: expected a table (got 3)"),
        (
            '[directory]\npath = "/a"',
            "directory: expected an array of tables ([[directory]]) (got {'path': '/a'})",
        ),
        ("directory = [1]", "directory[0]: expected a table (got 1)"),
    ],
)
def test_tables(base: Path, text: str, expected: str) -> None:
    assert issues(base, text + "\n") == [expected]


def test_toml_syntax_error_names_line_and_column(base: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(base, '[server]\nlisten = "127.0.0.1:80"\nworkers = = 2\n')
    assert str(caught.value) == f"{base}/stockade.toml: line 3, column 11: not valid TOML: Invalid value"


def test_toml_error_at_the_end(base: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(base, "[server]\nworkers =")
    assert str(caught.value) == f"{base}/stockade.toml: end of document: not valid TOML: Invalid value"


def test_unreadable_and_non_utf8_files(base: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(base / "absent.toml")
    assert str(caught.value) == f"{base}/absent.toml: (top level): cannot read the file: No such file or directory"
    (base / "latin1.toml").write_bytes(b'[[directory]]\nauth_name = "caf\xe9"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(base / "latin1.toml")
    assert str(caught.value) == f"{base}/latin1.toml: (top level): the file is not valid UTF-8"


def test_files_the_config_names(base: Path) -> None:
    (base / "bad.htpasswd").write_text(f"alice:{SHA_PASSWORD}\nbob\n")
    text = (
        DIRECTORY.replace("users.htpasswd", "missing.htpasswd")
        + DIRECTORY.replace("/secure", "/bad").replace("users.htpasswd", "bad.htpasswd")
        + DIRECTORY.replace("/secure", "/cb")
        + 'callback = ["tests.integration.callbacks:record", "tests.integration.nope:f", "os:nope", "os.path"]\n'
    )
    assert issues(base, text) == [
        f"directory[0].auth_user_file: cannot read {base}/missing.htpasswd: No such file or directory "
        "(got 'missing.htpasswd')",
        f"directory[1].auth_user_file: {base}/bad.htpasswd:2: expected 'user:hash'",
        "directory[2].callback[1]: cannot load callback: cannot import module 'tests.integration.nope': No module "
        "named 'tests.integration.nope' (got 'tests.integration.nope:f')",
        "directory[2].callback[2]: cannot load callback: module 'os' has no attribute 'nope' (got 'os:nope')",
        "directory[2].callback[3]: cannot load callback: expected 'package.module:function' (got 'os.path')",
    ]


def test_duplicate_directories(base: Path) -> None:
    text = DIRECTORY + DIRECTORY.replace("/secure", "/other") + DIRECTORY.replace('"/secure"', '"/secure/"')
    assert issues(base, text) == ["directory[2].path: same directory as directory[0] (got '/secure/')"]


def test_every_problem_at_once(base: Path) -> None:
    (base / "bad.htpasswd").write_text("carol:plaintext\n")
    text = """
[server]
listen = ["127.0.0.1:80", "localhost:80"]
document_root = "missing"
workers = 0

[[directory]]
path = "/secure"
auth_user_file = "bad.htpasswd"
max_retries = -1
blocked_status = 404

[[directory]]
path = "/secure/"
auth_user_file = "absent.htpasswd"
callback = "no.such.module:fn"
lockout_by = "nobody"
typo = 1
"""
    with pytest.raises(ConfigError) as caught:
        load(base, text)
    file = base / "stockade.toml"
    assert str(caught.value) == "\n".join(
        [
            f"{file}: 11 problems:",
            "  - server.workers: expected an integer from 1 to 256 (got 0)",
            "  - server.listen[1]: expected 'IPv4:port', '[IPv6]:port' or ':port' with a port from 0 to 65535 "
            "(got 'localhost:80')",
            f"  - server.document_root: expected an existing directory (got '{base}/missing')",
            '  - directory[0].max_retries: expected an integer >= 0 or "infinity" (got -1)',
            "  - directory[0].blocked_status: expected 401 or 403 (got 404)",
            f"  - directory[0].auth_user_file: {base}/bad.htpasswd:1: unsupported or malformed password hash for "
            "user 'carol': expected bcrypt ($2y$, $2b$, $2a$), apr1-md5 ($apr1$), SHA1 ({SHA}), md5/sha-crypt "
            "($1$, $5$, $6$) or crypt",
            '  - directory[1].lockout_by: expected "user", "ip" or "user_ip" (got \'nobody\')',
            f"  - directory[1].typo: unknown key: expected one of {DIRECTORY_KEYS}",
            "  - directory[1].path: same directory as directory[0] (got '/secure/')",
            f"  - directory[1].auth_user_file: cannot read {base}/absent.htpasswd: No such file or directory "
            "(got 'absent.htpasswd')",
            "  - directory[1].callback: cannot load callback: cannot import module 'no.such.module': No module "
            "named 'no' (got 'no.such.module:fn')",
        ]
    )


# -- listen addresses ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "host", "port", "text"),
    [
        ("127.0.0.1:8080", "127.0.0.1", 8080, "127.0.0.1:8080"),
        ("[::1]:80", "::1", 80, "[::1]:80"),
        ("[0:0::1]:80", "::1", 80, "[::1]:80"),
        (":8080", "0.0.0.0", 8080, "0.0.0.0:8080"),
        ("*:0", "0.0.0.0", 0, "0.0.0.0:0"),
    ],
)
def test_parse_listen(spec: str, host: str, port: int, text: str) -> None:
    address = parse_listen(spec)
    assert (address.host, address.port, str(address)) == (host, port, text)


@pytest.mark.parametrize("spec", ["8080", "localhost:80", "::1:80", "[127.0.0.1]:80", "1.2.3.4:x", "1.2.3.4:٣"])
def test_parse_listen_rejects(spec: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_listen(spec)
    assert str(caught.value) == "expected 'IPv4:port', '[IPv6]:port' or ':port' with a port from 0 to 65535"


def test_a_directory_may_keep_its_own_data_file(base: Path) -> None:
    config = load(base, DIRECTORY + 'data_file = "secure.db"\n')
    assert config.directories[0].store_url == f"sqlite:///{base.resolve()}/secure.db"
    assert config.directory_store_urls == {"/secure": f"sqlite:///{base.resolve()}/secure.db"}
    assert load(base, DIRECTORY).directory_store_urls == {}
    assert issues(base, DIRECTORY + 'data_file = "nowhere/secure.db"\n') == [
        f"directory[0].data_file: expected a file in an existing directory (got '{base.resolve()}/nowhere/secure.db')"
    ]


# -- the protecting server's sections --------------------------------------------------------------


def test_listeners_with_tls_and_proxy_protocol(base: Path) -> None:
    (base / "cert.pem").write_text("x")
    (base / "key.pem").write_text("x")
    (base / "ca.pem").write_text("x")
    config = load(
        base,
        "[server]\nlisten = ["
        '"127.0.0.1:8080", '
        '{ address = "[::]:8443", certfile = "cert.pem", keyfile = "key.pem", client_ca = "ca.pem",'
        ' client_auth = "optional", proxy_protocol = "v2" }]\n'
        '[proxy]\ntrusted = ["10.0.0.0/8", "192.0.2.7"]\n',
    )
    plain, tls = config.listeners
    assert (plain.address, plain.tls, plain.proxy_protocol) == (ListenAddress("127.0.0.1", 8080), None, "off")
    assert tls.address == ListenAddress("::", 8443)
    assert tls.proxy_protocol == "v2"
    assert (plain.proxy_protocol_from, tls.proxy_protocol_from) == ((), ("10.0.0.0/8", "192.0.2.7/32"))
    assert tls.tls is not None
    assert (tls.tls.certfile, tls.tls.client_ca, tls.tls.client_auth) == (
        base.resolve() / "cert.pem",
        base.resolve() / "ca.pem",
        "optional",
    )
    assert config.listen == (ListenAddress("127.0.0.1", 8080), ListenAddress("::", 8443))
    single = load(
        base,
        '[server]\nlisten = { address = "127.0.0.1:0", proxy_protocol = "any", proxy_protocol_from = "::1" }\n',
    )
    assert (single.listeners[0].proxy_protocol, single.listeners[0].proxy_protocol_from) == ("any", ("::1/128",))


def test_a_listener_names_its_own_proxies(base: Path) -> None:
    config = load(
        base,
        '[server]\nlisten = { address = "127.0.0.1:0", proxy_protocol = "v1",'
        ' proxy_protocol_from = ["10.1.2.3", "fd00::/8"] }\n[proxy]\ntrusted = ["192.0.2.0/24"]\n',
    )
    assert config.listeners[0].proxy_protocol_from == ("10.1.2.3/32", "fd00::/8")  # not [proxy] trusted


def test_a_proxy_protocol_listener_needs_trusted_peers(base: Path) -> None:
    advice = (
        "a PROXY header is believed only from the proxies in front: name them in this listener,"
        ' proxy_protocol_from = ["10.0.0.5"] (addresses or networks), or in [proxy] trusted'
    )
    assert issues(
        base,
        "[server]\nlisten = ["
        '{ address = "127.0.0.1:1", proxy_protocol = "v2" }, '
        '{ address = "127.0.0.1:2", proxy_protocol = "any", proxy_protocol_from = [] }, '
        '{ address = "127.0.0.1:3", proxy_protocol_from = ["10.0.0.1"] }, '
        '{ address = "127.0.0.1:4", proxy_protocol = "v1", proxy_protocol_from = ["10.0.0.1", "proxy.lan"] }]\n',
    ) == [
        f"server.listen[0].proxy_protocol: {advice}",
        f"server.listen[1].proxy_protocol_from: {advice}",
        'server.listen[2].proxy_protocol_from: needs proxy_protocol = "v1", "v2" or "any"',
        "server.listen[3].proxy_protocol_from[1]: expected an IP address or a CIDR network like 10.0.0.0/8"
        " (got 'proxy.lan')",
    ]


def test_listener_problems(base: Path) -> None:
    assert issues(
        base,
        "[server]\nlisten = ["
        '{ address = "localhost:80" }, '
        '{ address = "127.0.0.1:1", certfile = "missing.pem" }, '
        '{ address = "127.0.0.1:2", certfile = "a", keyfile = "b" }, '
        '{ address = "127.0.0.1:3", client_auth = "required" }, '
        '{ address = "127.0.0.1:4", proxy_protocol = "v3" }]\n',
    ) == [
        "server.listen[0].address: expected 'IPv4:port', '[IPv6]:port' or ':port' with a port from 0 to 65535"
        " (got 'localhost:80')",
        "server.listen[1]: expected both certfile and keyfile for a TLS listener",
        f"server.listen[2].certfile: expected a readable file (got '{base.resolve()}/a')",
        f"server.listen[2].keyfile: expected a readable file (got '{base.resolve()}/b')",
        "server.listen[3]: client certificates need certfile and keyfile (TLS)",
        'server.listen[4].proxy_protocol: expected "off", "v1", "v2" or "any" (got \'v3\')',
    ]


def test_http2_is_offered_on_tls_listeners_unless_turned_off(base: Path) -> None:
    (base / "cert.pem").write_text("x")
    (base / "key.pem").write_text("x")
    config = load(
        base,
        "[server]\nlisten = ["
        '{ address = "127.0.0.1:1", certfile = "cert.pem", keyfile = "key.pem" }, '
        '{ address = "127.0.0.1:2", certfile = "cert.pem", keyfile = "key.pem", http2 = false }]\n',
    )
    assert [listener.tls.http2 for listener in config.listeners if listener.tls is not None] == [True, False]
    assert issues(base, '[server]\nlisten = [{ address = "127.0.0.1:1", http2 = true }]\n') == [
        "server.listen[0].http2: HTTP/2 is offered on TLS listeners only"
    ]


def test_upstream_routes_and_limits(base: Path) -> None:
    config = load(
        base,
        '[server]\ndocument_root = "htdocs"\nupstream = "http://127.0.0.1:9000/app"\n'
        '[[server.route]]\npath = "/static/"\nto = "files"\n'
        "[server.limits]\nmax_body_bytes = 1048576\nheader_timeout = 2.5\n",
    )
    assert config.upstream is not None
    assert (config.upstream.url, config.upstream.read_timeout) == ("http://127.0.0.1:9000/app", 60.0)
    assert [(r.path, r.to) for r in config.routes] == [("/static", "files")]
    assert (config.limits.max_body_bytes, config.limits.header_timeout, config.limits.max_header_bytes) == (
        1048576,
        2.5,
        65536,
    )
    table = load(base, '[server]\nupstream = { url = "http://[::1]:9000", connect_timeout = 1 }\n')
    assert table.upstream is not None
    assert table.upstream.connect_timeout == 1.0
    assert load(base, "").limits.max_body_bytes is None


def test_upstream_route_and_limit_problems(base: Path) -> None:
    assert issues(
        base,
        '[server]\nupstream = "https://example.org"\n'
        '[[server.route]]\npath = "/static"\nto = "files"\n'
        '[server.limits]\nmax_body_bytes = 0\nbody_timeout = "long"\n',
    ) == [
        'server.limits.max_body_bytes: expected a number of bytes >= 1 or "infinity" (got 0)',
        "server.limits.body_timeout: expected a number of seconds > 0 (got 'long')",
        "server.upstream: expected http://host:port or http://host:port/base/path (got 'https://example.org')",
        "server.route[0].to: needs server.document_root (got 'files')",
    ]


def test_trusted_proxies(base: Path) -> None:
    config = load(base, '[proxy]\ntrusted = ["10.0.0.0/8", "192.168.1.7", "2001:db8::/32"]\nheader = "Forwarded"\n')
    assert config.trusted.networks == ("10.0.0.0/8", "192.168.1.7/32", "2001:db8::/32")
    assert config.trusted.header == "forwarded"
    assert config.notices == ()
    assert load(base, "").trusted.networks == ()
    assert load(base, "").trusted.header == "x-forwarded-for"
    assert issues(base, '[proxy]\ntrusted = ["10.0.0.0/33", "proxy.example"]\nheader = "via"\n') == [
        'proxy.header: expected "x-forwarded-for", "forwarded" or "x-real-ip" (got \'via\')',
        "proxy.trusted[0]: expected an IP address or a CIDR network like 10.0.0.0/8 (got '10.0.0.0/33')",
        "proxy.trusted[1]: expected an IP address or a CIDR network like 10.0.0.0/8 (got 'proxy.example')",
    ]


def test_the_old_list_of_forwarding_headers_still_loads_and_says_what_to_write(base: Path) -> None:
    assert load(base, '[proxy]\nheaders = ["x-real-ip"]\n').trusted.header == "x-real-ip"
    assert load(base, '[proxy]\nheaders = ["x-real-ip"]\n').notices == ()
    config = load(base, '[proxy]\nheaders = ["forwarded", "x-forwarded-for", "x-real-ip"]\n')
    assert config.trusted.header == "forwarded"
    assert [str(notice) for notice in config.notices] == [
        'proxy.headers: only one forwarding header is read now, the first of the list: write header = "forwarded"'
    ]
    assert issues(base, '[proxy]\nheaders = ["via"]\n') == [
        'proxy.headers: expected an array of "x-forwarded-for", "forwarded" or "x-real-ip" (got [\'via\'])'
    ]
    assert issues(base, '[proxy]\nheader = "forwarded"\nheaders = ["forwarded"]\n') == [
        "proxy.headers: give either header or headers (the old name), not both"
    ]


def test_path_policy(base: Path) -> None:
    assert load(base, "").paths == PathPolicy(merge_slashes=True, escaped_slashes="reject")
    config = load(base, '[server]\nmerge_slashes = false\nescaped_slashes = "keep"\n')
    assert config.paths == PathPolicy(merge_slashes=False, escaped_slashes="keep")
    assert issues(base, '[server]\nescaped_slashes = "decode"\n') == [
        'server.escaped_slashes: expected "reject" or "keep" (got \'decode\')'
    ]


def test_admin_token_sources(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load(base, "").admin is None
    token = "s3cret-admin-token-0123"
    admin = load(base, f'[admin]\ntoken = "{token}"\n').admin
    assert admin is not None
    assert (admin.listen, admin.token) == (ListenAddress("127.0.0.1", 9180), token)
    assert token not in repr(admin)
    (base / "admin.token").write_text(token + "\n")
    from_file = load(base, '[admin]\nlisten = "[::1]:9999"\ntoken_file = "admin.token"\n').admin
    assert from_file is not None
    assert (from_file.listen, from_file.token) == (ListenAddress("::1", 9999), token)
    monkeypatch.setenv("STOCKADE_TEST_TOKEN", token)
    from_env = load(base, '[admin]\ntoken_env = "STOCKADE_TEST_TOKEN"\n').admin
    assert from_env is not None
    assert from_env.token == token


def test_admin_token_problems(base: Path) -> None:
    assert issues(base, "[admin]\n") == ["admin: expected exactly one of token, token_file or token_env"]
    assert issues(base, '[admin]\ntoken = "short"\n') == ["admin.token: expected a token of at least 16 characters"]
    assert "short" not in str(issues(base, '[admin]\ntoken = "short"\n'))
    assert issues(base, '[admin]\ntoken_env = "STOCKADE_UNSET_VARIABLE"\n') == [
        "admin.token_env: the environment variable is not set (got 'STOCKADE_UNSET_VARIABLE')"
    ]


# -- [bans] -------------------------------------------------------------------------------------


BANS = """
[bans]
enabled = true
malicious_req_threshold = 5
window = 600
block_duration = 86400
escalation = { factor = 2, max = 2592000 }
ipv6_prefix = 64
allow = ["127.0.0.1", "10.0.0.0/8"]
ignore_routes = ["/webhooks/stripe", "re:^/healthz?$"]
inspect_percentage = 100
rules = ["builtin"]
additional_rules = [{ name = "old-admin", cond = 'req_path_prefix_in("/old-admin", true)' }]
response_rules = [{ name = "not_found_flood", status = [404], count = 20, window = 60 }]
resp_status_code = 403
resp_body = "Forbidden"
resp_headers = { "X-Blocked-By" = "stockade" }
dry_run = false
callback = "tests.integration.callbacks:record"
"""


def test_the_bans_section_of_the_issue(base: Path) -> None:
    from stockade.core.facts import RequestFacts  # noqa: PLC0415

    bans = load(base, BANS).bans
    assert bans is not None
    policy = bans.policy
    assert (policy.threshold, policy.window, policy.block_duration) == (5, 600.0, 86400.0)
    assert (policy.escalation_factor, policy.escalation_max) == (2.0, 2592000.0)
    assert "10.9.9.9" in bans.allow
    assert "11.0.0.1" not in bans.allow
    assert bans.ignore_paths == ("/webhooks/stripe",)
    assert bans.ignore_patterns[0].search("/healthz")
    assert bans.detector.detect(RequestFacts(path="/old-admin/x")) == "old-admin"
    assert bans.detector.detect(RequestFacts(path="/.env")) == "env_file"
    assert [(r.name, r.statuses, r.count, r.window) for r in bans.response_rules] == [
        ("not_found_flood", frozenset({404}), 20, 60.0)
    ]
    assert (bans.resp_status_code, bans.resp_body, bans.resp_headers) == (
        403,
        b"Forbidden",
        (("X-Blocked-By", "stockade"),),
    )
    assert bans.callbacks == (record,)
    assert load(base, BANS).guard_settings().bans is not None
    assert load(base, "").bans is None
    defaults = load(base, "[bans]\n").bans
    assert defaults is not None
    assert (defaults.policy.threshold, defaults.policy.escalation_factor, defaults.ipv6_prefix) == (5, 1.0, 64)


def test_bans_problems_all_at_once(base: Path) -> None:
    problems = issues(
        base,
        "[bans]\nmalicious_req_threshold = 0\nipv6_prefix = 129\ninspect_percentage = 101\n"
        'allow = ["10.0.0.0/33"]\nignore_routes = ["webhooks", "re:("]\nrules = ["nope"]\n'
        'additional_rules = [{ name = "x", cond = \'req_host_in("a"\' }]\nresp_status_code = 99\n'
        'escalation = { factor = 0.5 }\nresp_headers = { "Bad Name" = "v" }\n',
    )
    assert problems[:6] == [
        "bans.malicious_req_threshold: expected an integer >= 1 (got 0)",
        "bans.escalation.factor: expected a number >= 1 (got 0.5)",
        "bans.ipv6_prefix: expected an IPv6 prefix length from 1 to 128 (got 129)",
        "bans.inspect_percentage: expected a number from 0 to 100 (got 101)",
        "bans.resp_status_code: expected an HTTP status from 100 to 599 (got 99)",
        "bans.allow[0]: expected an IP address or a network in CIDR notation without host bits set"
        " (like 10.0.0.0/8 or 2001:db8::/32) (got '10.0.0.0/33')",
    ]
    assert problems[6].startswith("bans.ignore_routes[0]: expected a path")
    assert problems[7].startswith("bans.ignore_routes[1]: not a regular expression")
    assert problems[8].startswith('bans.rules[0]: unknown rule: expected "builtin", a rule id, a category')
    assert problems[8].endswith(" (got 'nope')")
    assert problems[9].startswith("bans.additional_rules[0].cond: 1:")
    assert problems[10].startswith("bans.resp_headers.Bad Name: expected a header name")


def test_every_unknown_rule_name_is_named_even_beside_builtin(base: Path) -> None:
    problems = issues(base, '[bans]\nrules = ["builtin", "nope", "env_file", "nada"]\n')
    assert [p.split(":")[0] + p[p.rindex(" (got") :] for p in problems] == [
        "bans.rules[1] (got 'nope')",
        "bans.rules[3] (got 'nada')",
    ]
    problems = issues(base, '[bans]\nrules = "nope"\n')
    assert [p.split(":")[0] for p in problems] == ["bans.rules"]


# -- [block] ------------------------------------------------------------------------------------


RULES = """{"Version": "1", "Config": {"pn": [
  {"Name": "pn_close", "Cond": "req_path_prefix_in(\\"/x/\\", false)", "Action": {"Cmd": "CLOSE", "Params": []}}]}}"""


def _mod_block(base: Path, rules: str = RULES, blocklist: str = "10.1.1.0 10.1.1.254\n") -> Path:
    folder = base / "conf" / "mod_block"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "block_rules.data").write_text(rules)
    (folder / "ip_blocklist.data").write_text(blocklist)
    (folder / "mod_block.conf").write_text(
        "[Basic]\nProductRulePath = mod_block/block_rules.data\nIPBlocklistPath = mod_block/ip_blocklist.data\n"
    )
    return folder


def test_block_from_bfe_files_and_the_host_table(base: Path) -> None:
    from stockade.core.facts import RequestFacts  # noqa: PLC0415

    folder = _mod_block(base)
    config = load(
        base,
        '[block]\nconf = "conf/mod_block/mod_block.conf"\n[block.hosts]\n"n.example.org" = "pn"\n'
        '"*.example.com" = "shop"\ndefault_product = "web"\n',
    )
    block = config.block
    assert block is not None
    assert block.rules_path == str(folder / "block_rules.data")
    assert (
        block.hosts.product("N.Example.org:8080"),
        block.hosts.product("a.example.com"),
        block.hosts.product("x"),
    ) == (
        "pn",
        "shop",
        "web",
    )
    table = block.reloader().table
    assert table.check_connection("10.1.1.9") == "close"
    assert table.check_request(RequestFacts(path="/x/1"), "pn").rule == "pn_close"
    direct = load(
        base,
        '[block]\nrules = "conf/mod_block/block_rules.data"\nip_blocklist = "conf/mod_block/ip_blocklist.data"\n',
    )
    assert direct.block is not None
    assert direct.block.loaded is not None


def test_a_bad_blocklist_does_not_hide_a_bad_rule_file(base: Path) -> None:
    _mod_block(base, rules="", blocklist="10.0.0.1\nnot-an-address\n")
    problems = issues(base, '[block]\nconf = "conf/mod_block/mod_block.conf"\n')
    folder = f"{base}/conf/mod_block"
    assert problems == [
        f"block.conf: {folder}/ip_blocklist.data:2: not an IP address, a CIDR or a 'start end' range: 'not-an-address'",
        f"block.conf: {folder}/block_rules.data: the file is empty (BFE: EOF): expected a JSON object with the rules"
        ' of each product, like {"Version": "1", "Config": {"global": []}}',
    ]
    direct = '[block]\nrules = "conf/mod_block/block_rules.data"\nip_blocklist = "conf/mod_block/ip_blocklist.data"\n'
    assert [p.split(":")[0] for p in issues(base, direct)] == ["block.ip_blocklist", "block.rules"]


def test_block_problems_name_the_file(base: Path) -> None:
    _mod_block(
        base,
        rules='{"Version": "1", "Config": {"pn": [{"Name": "a", "Cond": "req_host_in(",'
        ' "Action": {"Cmd": "CLOSE", "Params": []}}]}}',
    )
    problems = issues(base, '[block]\nconf = "conf/mod_block/mod_block.conf"\n')
    assert len(problems) == 1
    assert problems[0].startswith(f"block.conf: {base}/conf/mod_block/block_rules.data: product 'pn', rule 0")
    assert issues(base, '[block]\nrules = "r.data"\n') == ["block: expected conf, or both rules and ip_blocklist"]
    assert issues(base, '[block]\nconf = "c"\nrules = "r.data"\n') == [
        "block: expected conf, or rules and ip_blocklist, not both"
    ]
    with pytest.raises(ConfigError) as caught:
        load_config(write(base, '[block]\nrules = "r.data"\nip_blocklist = "b.data"\n'), load_block=False)
    assert [str(i) for i in caught.value.issues] == [
        f"block.rules: expected a readable file (got '{base.resolve()}/r.data')",
        f"block.ip_blocklist: expected a readable file (got '{base.resolve()}/b.data')",
    ]


def test_the_log_section(base: Path) -> None:
    assert load(base, "").raw.log.level == "info"
    config = load(base, '[log]\nlevel = "debug"\nformat = "json"\n')
    assert (config.raw.log.level, config.raw.log.format) == ("debug", "json")
    assert issues(base, '[log]\nlevel = "verbose"\nformat = "xml"\ncolour = true\n') == [
        'log.level: expected "debug", "info", "warning" or "error" (got \'verbose\')',
        'log.format: expected "text" or "json" (got \'xml\')',
        "log.colour: unknown key: expected one of level, format",
    ]


def test_problems_are_one_line_each_with_the_place_of_a_rule_files_error(base: Path) -> None:
    (base / "rules.data").write_text(
        '{"Version": "1", "Config": {"pn": [\n  {"Name": "x", "Cond": "req_pth_in(\\"/a\\", false)",'
        ' "Action": {"Cmd": "CLOSE", "Params": []}}]}}'
    )
    (base / "ips.data").write_text("")
    with pytest.raises(ConfigError) as caught:
        load(base, '[server]\nworkers = 0\n[block]\nrules = "rules.data"\nip_blocklist = "ips.data"\n')
    assert caught.value.problems() == [
        f"{base}/stockade.toml: server.workers: expected an integer from 1 to 256 (got 0)",
        f"{base}/rules.data:2:26: product 'pn', rule 0 (name 'x'): primitive req_pth_in not found"
        " (hint: did you mean 'req_path_in'?)",
    ]
