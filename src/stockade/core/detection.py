"""Recognising malicious requests: the built-in probe rules and the user's own.

Scanners look for what a site might have left lying around (``/.env``, ``/.git/config``,
``wp-login.php``, ``backup.zip``) and try traversal and injection payloads. Each built-in
rule has a name, a label and a description, and is a case-insensitive regular expression
over views of the request:

* ``path``: the decoded path, and the raw request path decoded up to three times, so that
  ``%2e%2e%2f`` or ``%252e`` hide nothing;
* ``query``: the query string decoded the same way (``+`` as a space).

All rules of a view are joined into one expression with a named group per rule, so a
clean request costs one regular-expression search per view; the match that starts first
names the request (at one position, the first rule in the pack's order). Rules marked
``probe`` look for files and paths an application may really have: with router awareness
(``known_route``) a request for one of the app's own routes is never counted by them. The
user's rules (conditions) always apply.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import unquote, unquote_plus

import re2

from stockade.conditions.ruleset import RuleList
from stockade.core.facts import RequestFacts

View = Literal["path", "query"]
_Pattern = Any


@dataclass(frozen=True, slots=True)
class DetectionRule:
    """One built-in rule: what it is called, what it catches, and where it looks."""

    name: str
    label: str
    description: str
    pattern: str
    views: tuple[View, ...] = ("path",)
    probe: bool = True  # a path an app may really serve: skipped for the app's own routes


# Server-side scripts of other stacks. Source files (.py, .sh, .rb, .pl) are left out: code hosts
# and documentation sites serve them as pages, and installers (install.sh) are downloads.
_SCRIPT = r"\.(?:php[0-9]?|phtml|phar|asp|aspx|ashx|asmx|axd|jsp|jspx|cgi|cfm|exe|dll|bat)(?:/|$)"
_BACKUP = (
    r"(?:\.(?:bak|bkp|backup|old|orig|save|sav|swp|swo|tmp|temp|dist)|~)$"
    r"|\.(?:sql|sqlite3?|mdb|dump)(?:\.(?:gz|zip|bz2|xz))?$"
    r"|/(?:backups?|site|www|wwwroot|htdocs|public_html|web|db|database|dump|data|old|archive|html)"
    r"\.(?:zip|rar|7z|tar|tar\.gz|tgz|gz|bz2)$"
)
_CMS = (
    r"(?:^|/)(?:wp-admin|wp-login\.php|wp-content|wp-includes|wp-config\.php|xmlrpc\.php|wlwmanifest\.xml)(?:/|$)"
    r"|^/(?:phpmyadmin|phpmyadmin\d*|pma|myadmin|mysqladmin|sqladmin|adminer(?:\.php)?|administrator|joomla|typo3"
    r"|drupal|magento|umbraco|sitecore|cgi-bin|webdav|vendor/phpunit|phpunit|solr/admin|actuator|jmx-console"
    r"|manager/html|jenkins/script|boaform|hnap1|owa/auth|autodiscover/autodiscover\.xml|telescope/requests"
    r"|_profiler|console|shell|webshell|setup\.php|install\.php)(?:/|$)"
)

BUILTIN: tuple[DetectionRule, ...] = (
    DetectionRule(
        "env_file",
        "env_files",
        "Environment files with secrets: .env, .env.local, .env.production.",
        r"(?:^|/)\.env(?:[./]|$)",
    ),
    DetectionRule(
        "vcs_metadata",
        "vcs_folders",
        "Version control metadata: .git, .svn, .hg, .bzr and CVS folders.",
        r"(?:^|/)(?:\.git|\.svn|\.hg|\.bzr|\.gitignore|\.gitattributes|cvs/entries)(?:/|$)",
    ),
    DetectionRule(
        "secret_files",
        "config_files",
        "Credentials and server configuration: .htpasswd, .aws/credentials, id_rsa, web.config, docker-compose.yml.",
        r"(?:^|/)(?:\.htpasswd|\.htaccess|\.aws/credentials|\.ssh/|id_[rd]sa|web\.config|appsettings\.json"
        r"|database\.yml|secrets\.ya?ml|docker-compose\.ya?ml|\.dockerenv|composer\.(?:json|lock)|\.npmrc"
        r"|\.bash_history|\.bashrc|\.zshrc|\.ds_store|sftp-config\.json)(?:/|$)",
    ),
    DetectionRule(
        "dotfiles",
        "dotfiles",
        "Any hidden file or folder except /.well-known/.",
        r"(?:^|/)\.[^/.]",  # /.well-known/ is taken out of a path before the rules run
    ),
    DetectionRule(
        "backup_files", "backup_files", "Backup, swap and dump files: .bak, .old, ~, .swp, .sql, backup.zip.", _BACKUP
    ),
    DetectionRule(
        "cms_admin", "cms_admin", "Admin paths of CMSs and tools: wp-admin, phpMyAdmin, cgi-bin, actuator.", _CMS
    ),
    DetectionRule(
        "script_extensions", "script_extensions", "Server scripts: .php, .asp, .jsp, .cgi, .exe and others.", _SCRIPT
    ),
    DetectionRule(
        "path_traversal",
        "path_traversal",
        "Directory traversal, plain or encoded: ../, ..\\, %2e%2e, %252e, overlong UTF-8.",
        r"(?:^|[/\\=])\.\.(?:[/\\]|$)|%2e%2e|%252e|\.\.%2f|\.\.%5c|%c0%ae|%e0%80%ae|%uff0e",
        views=("path", "query"),
        probe=False,
    ),
    DetectionRule(
        "system_files",
        "system_files",
        "Operating-system files: /etc/passwd, /proc/self/environ, win.ini.",
        r"etc[/\\](?:passwd|shadow|group|hosts)\b|proc[/\\]self[/\\](?:environ|cmdline)|win\.ini|boot\.ini"
        r"|windows[/\\]system32",
        views=("path", "query"),
        probe=False,
    ),
    DetectionRule(
        "shell_injection",
        "shell_injection",
        "Shell commands and known payloads: ;wget, $(...), ${jndi:, Shellshock, cmd.exe.",
        r"[;|`]\s*(?:wget|curl|bash|sh|nc|ncat|chmod|rm|cat|id|uname|whoami|echo|ping)\b|\$\(\s*[a-z]"
        r"|\$\{jndi:|\(\)\s*\{\s*:\s*;\s*\}\s*;|cmd\.exe|powershell|/bin/(?:ba)?sh\b",
        views=("path", "query"),
        probe=False,
    ),
    DetectionRule(
        "sql_injection",
        "sql_injection",
        "SQL injection markers: UNION SELECT, OR 1=1, SLEEP(), information_schema.",
        r"\bunion\b[\s(+/*]+(?:all[\s(+/*]+)?select\b[\s(+/*]*(?:null|\d|@@|\*|concat|char|0x|[\w.]+\s*,)"
        r"|'\s*or\s+'?\d+'?\s*=\s*'?\d|\bor\s+1\s*=\s*1\b"
        r"|\bsleep\s*\(\s*\d+\s*\)|\bbenchmark\s*\(|\binformation_schema\b|\bload_file\s*\(|\binto\s+(?:out|dump)file\b"
        r"|\bwaitfor\s+delay\b|\bpg_sleep\s*\(|\bextractvalue\s*\(|\bupdatexml\s*\(",
        views=("path", "query"),
        probe=False,
    ),
    DetectionRule(
        "xss_markers",
        "xss",
        "Script injection markers: <script, javascript:, onerror=, document.cookie.",
        r"<\s*script\b|javascript\s*:|\bon(?:error|load|mouseover)\s*=|document\.cookie|<\s*svg\b[^>]*\bon\w+\s*=",
        views=("path", "query"),
        probe=False,
    ),
)
BUILTIN_NAMES = tuple(rule.name for rule in BUILTIN)
_DECODE_ROUNDS = 3
_CACHE_ENTRIES = 4096  # distinct URLs remembered, each at most _CACHED_LENGTH characters
_CACHED_LENGTH = 512
_UNSEEN = "\x00unseen"  # no rule has this name


def builtin_rules(names: Iterable[str]) -> tuple[DetectionRule, ...]:
    """The built-in rules named (``"builtin"`` for all of them), in the pack's order."""
    wanted = set(names)
    if "builtin" in wanted:
        return BUILTIN
    unknown = wanted - set(BUILTIN_NAMES)
    if unknown:
        raise ValueError(
            f'unknown rule {sorted(unknown)[0]!r}: expected "builtin" or one of {", ".join(BUILTIN_NAMES)}'
        )
    return tuple(rule for rule in BUILTIN if rule.name in wanted)


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.case_sensitive = False
# RFC 8615's folder is no dotfile: it is removed (a segment of its own) before the path rules run.
_WELL_KNOWN = re.compile(r"/\.well-known(?=/|$)", re.IGNORECASE)


def _joined(rules: Sequence[DetectionRule], view: View) -> _Pattern | None:
    """One RE2 expression for all rules of a view, a named group each.

    RE2 matches all the alternatives in one linear pass (a clean path costs about a
    microsecond, against ten with Python's backtracking ``re``), and never backtracks
    catastrophically on an attacker's input.
    """
    parts = [f"(?P<r{i}>{rule.pattern})" for i, rule in enumerate(rules) if view in rule.views]
    return re2.compile("|".join(parts), options=_RE2_OPTIONS) if parts else None


def _decodings(raw: str, decode: Callable[[str], str], marker: str = "%") -> list[str]:
    """``raw`` and its decodings, each round applied to the previous one, without repeats."""
    forms = [raw]
    for _ in range(_DECODE_ROUNDS):
        last = forms[-1]
        if "%" not in last and marker not in last:
            break
        decoded = decode(last)
        if decoded == last:
            break
        forms.append(decoded)
    return forms


class Probe(Protocol):
    """What detection reads of a request: a :class:`RequestFacts`, or a request that builds them lazily."""

    @property
    def path(self) -> str: ...

    @property
    def uri(self) -> str: ...

    @property
    def query(self) -> str: ...

    @property
    def facts(self) -> RequestFacts: ...


class Detector:
    """The detection rules of one configuration: which (if any) a request triggers."""

    def __init__(self, rules: Sequence[DetectionRule], custom: RuleList | None = None) -> None:
        self.rules = tuple(rules)
        self.custom = custom
        self._probe_names = {f"r{i}": rule for i, rule in enumerate(self.rules)}
        self._path = _joined(self.rules, "path")
        self._query = _joined(self.rules, "query")
        self._always = tuple(rule for rule in self.rules if not rule.probe)
        self._path_always = _joined(self._always, "path")
        self._always_names = {f"r{i}": rule for i, rule in enumerate(self._always)}
        # The pattern rules' answer depends on the path and query alone, and most requests
        # repeat a URL seen a moment ago: a bounded memo skips the RE2 scans for them.
        self._seen: dict[tuple[str, str, str, bool], str | None] = {}

    def detect(self, facts: Probe, *, known_route: bool = False) -> str | None:
        """The name of the first rule the request triggers, or ``None`` for a clean request.

        ``facts``: a :class:`RequestFacts`, or a request that builds them only when a user
        rule needs them. ``known_route``: the request is for one of the app's own routes;
        probe rules skip it.
        """
        uri, path, query = facts.uri, facts.path, facts.query
        key = (uri, path, query, known_route)
        seen = self._seen.get(key, _UNSEEN)  # one lookup: a thread may clear the memo meanwhile
        if seen == _UNSEEN:
            found = self._scan(uri, path, query, known_route)
            if len(uri) + len(path) + len(query) <= _CACHED_LENGTH:
                if len(self._seen) >= _CACHE_ENTRIES:
                    self._seen.clear()
                self._seen[key] = found
        else:
            found = seen
        if found is not None:
            return found
        if self.custom is not None:
            return self.custom.first_match(facts.facts)
        return None

    def _scan(self, uri: str, path: str, query: str, known_route: bool) -> str | None:
        """The built-in and pattern rules: a pure function of the request's path and query."""
        path_pattern, names = (
            (self._path_always, self._always_names) if known_route else (self._path, self._probe_names)
        )
        if path_pattern is not None:
            forms = _decodings((uri or path).split("?", 1)[0], unquote)
            if path not in forms:
                forms.insert(0, path)
            for form in forms:
                if ".well-known" in form.lower():
                    form = _WELL_KNOWN.sub("", form)  # noqa: PLW2901 - the view the rules see
                found = path_pattern.search(form)
                if found is not None and found.lastgroup is not None:
                    return names[found.lastgroup].name
        if self._query is not None and query:
            for form in _decodings(query, unquote_plus, "+"):
                found = self._query.search(form)
                if found is not None and found.lastgroup is not None:
                    return self._probe_names[found.lastgroup].name
        return None
