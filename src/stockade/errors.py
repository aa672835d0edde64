"""One exception tree, rooted at :class:`StockadeError`.

Every error carries structured fields (file, line, field path, user, directory) and
builds its message in ``__str__``, so callers can both show it and act on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


class StockadeError(Exception):
    """Root of every error stockade raises on purpose."""


def one_line(text: str) -> str:
    """A message of several lines (a condition under a caret) as one: its first line and its hints."""
    lines = text.split("\n")
    return lines[0] + "".join(f" ({line})" for line in lines[1:] if line.startswith("hint: "))


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem found in a configuration file; ``cause`` is the error of a file it names, if any."""

    path: str
    message: str
    value: object = None
    has_value: bool = False
    cause: StockadeError | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        where = self.path or "(top level)"
        if self.has_value:
            return f"{where}: {self.message} (got {self.value!r})"
        return f"{where}: {self.message}"


class ConfigError(StockadeError):
    """A configuration file (or a file it names) is invalid.

    All issues are collected and reported at once.
    """

    def __init__(self, file: str | None, issues: Sequence[ConfigIssue]) -> None:
        super().__init__(file, tuple(issues))
        self.file = file
        self.issues = tuple(issues)

    def __str__(self) -> str:
        head = f"{self.file}: " if self.file else ""
        if len(self.issues) == 1:
            return f"{head}{self.issues[0]}"
        lines = [f"{head}{len(self.issues)} problems:"]
        lines.extend(f"  - {issue}" for issue in self.issues)
        return "\n".join(lines)

    def problems(self) -> list[str]:
        """Every problem on a line of its own; a named file's own errors at their place in that file."""
        head = f"{self.file}: " if self.file else ""
        lines: list[str] = []
        for issue in self.issues:
            if isinstance(issue.cause, BlockFileError):
                lines.extend(issue.cause.problems())
            else:
                lines.append(head + one_line(str(issue)))
        return lines


class FileFormatError(StockadeError):
    """A data file (htpasswd, rule file, blocklist) has a bad line."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(file, line, message)
        self.file = file
        self.line = line
        self.message = message

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


# The reasons for a 400 that no browser, crawler or well-meaning client ever causes: only a
# request crafted to reach what its path hides does. The ladder counts them as malicious. Not
# other control characters: real logs hold links with a stray tab (%09) in them; a null byte
# only cuts a file name short (`/etc/passwd%00.html`). Bytes that are not UTF-8 only when they
# hide dot segments (`%c0%ae%c0%ae%c0%af`; EUC-JP text spells `%c0%ae`, so one such segment in
# bytes EUC-JP could hold is not enough).
HOSTILE_REASONS = frozenset(
    {
        "the path climbs above the root",
        "the path contains a null byte",
        "the path has a dot segment with parameters",
        "the path has a dot segment between escaped slashes",
        "the path has a dot segment beside a backslash, an escaped slash or a control character",
        "the path names a Windows drive beside a backslash",
        "the path hides dot segments in bytes that are not UTF-8",
        "the path leaves the application's mount point",
    }
)


class BadRequest(StockadeError, ValueError):
    """A request that has no safe canonical form (answered 400): ``reason`` says why.

    ``client`` is the address the request came from when the front could tell it (through
    the trusted proxies), ``""`` otherwise; ``hostile`` whether the reason is one only an
    attack gives (the ladder counts such a request against its client).
    """

    def __init__(self, reason: str, client: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.client = client

    @property
    def hostile(self) -> bool:
        return self.reason in HOSTILE_REASONS

    def __str__(self) -> str:
        return self.reason


class BadCheck(StockadeError, ValueError):
    """A proxy's check request that does not describe a request (its configuration is wrong): ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


class InvalidArgument(StockadeError, ValueError):
    """An API argument is out of range or of the wrong kind."""

    def __init__(self, name: str, value: object, accepted: str) -> None:
        super().__init__(name, value, accepted)
        self.name = name
        self.value = value
        self.accepted = accepted

    def __str__(self) -> str:
        return f"invalid {self.name} {self.value!r}: expected {self.accepted}"


class LockoutError(StockadeError):
    """Base of the errors of the login lockout API."""


class NoSuchDirectory(LockoutError):
    """The directory named in an API call is not a configured protected directory."""

    def __init__(self, directory: str) -> None:
        super().__init__(directory)
        self.directory = directory

    def __str__(self) -> str:
        return f"no_such_directory: {self.directory!r} is not a protected directory"


class NotBlocked(LockoutError):
    """``unblock_user`` found no block record for the user."""

    def __init__(self, user: str, directory: str | None) -> None:
        super().__init__(user, directory)
        self.user = user
        self.directory = directory

    def __str__(self) -> str:
        where = f"in {self.directory!r}" if self.directory is not None else "in any directory"
        return f"not_blocked: user {self.user!r} is not blocked {where}"


class StoreError(StockadeError):
    """The state store failed (I/O error, corrupt file, unreachable server)."""

    def __init__(self, store: str, operation: str, cause: BaseException | str) -> None:
        super().__init__(store, operation, cause)
        self.store = store
        self.operation = operation
        self.cause = cause

    def __str__(self) -> str:
        return f"store {self.store} failed during {self.operation}: {self.cause}"


class BlockFileError(StockadeError):
    """A file of the block module (``mod_block.conf``, ``block_rules.data``, ``ip_blocklist.data``) is invalid.

    ``bfe_message`` is the text BFE gives for the same mistake (the reload API answers with
    it); ``str()`` adds where it is, for a person: the file, the line when known, and for a
    rule the product, the rule's index and name.
    """

    def __init__(
        self,
        file: str,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        product: str | None = None,
        rule: int | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(file, message, line, product, rule)
        self.file = file
        self.message = message
        self.line = line
        self.column = column
        self.product = product
        self.rule = rule
        self.name = name

    @property
    def bfe_message(self) -> str:
        """The error as BFE words it."""
        return self.message

    def _where(self) -> str:
        return self.file if self.line is None else f"{self.file}:{self.line}"

    def _position(self) -> str:
        """``file:line:column``, ``file:line`` or ``file``: as much as is known."""
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}" if self.column is None else f"{self.file}:{self.line}:{self.column}"

    def problems(self) -> list[str]:
        """The error on one line (``file:line:column: text``); a file's several problems, one line each."""
        return [f"{self._position()}: {one_line(self.message)}"]

    def __str__(self) -> str:
        return f"{self._where()}: {self.message}"


class BlockConfError(BlockFileError):
    """``mod_block.conf`` is not a valid gcfg file for mod_block; each problem is listed as ``line:col: text``."""

    def __init__(self, file: str, issues: Sequence[tuple[int, int, str]]) -> None:
        first = issues[0] if issues else (0, 0, "invalid configuration")
        super().__init__(file, first[2], line=first[0] or None)
        self.issues = tuple(issues)

    @property
    def bfe_message(self) -> str:
        line, col, message = self.issues[0] if self.issues else (0, 0, self.message)
        return f"{self.file}:{line}:{col}: {message}" if line else message

    def __str__(self) -> str:
        return "\n".join(self.problems())

    def problems(self) -> list[str]:
        if not self.issues:
            return [f"{self.file}: {self.message}"]
        return [
            f"{self.file}:{line}:{col}: {message}" if line else f"{self.file}: {message}"
            for line, col, message in self.issues
        ]


class RuleFileError(BlockFileError):
    """``block_rules.data`` failed to decode, to validate, or one rule's condition failed to compile.

    ``cause`` is the condition's own error (its ``str()`` shows the condition with a caret
    under the mistake); BFE reports that error alone, so ``bfe_message`` is its text. ``line``
    and ``column`` are where the mistake is in the file (for a condition, the character of
    the JSON string the condition's own position falls on), when known.
    """

    def __init__(
        self,
        file: str,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        product: str | None = None,
        rule: int | None = None,
        name: str | None = None,
        cause: StockadeError | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(file, message, line=line, column=column, product=product, rule=rule, name=name)
        self.cause = cause
        self.reason = reason  # what a person needs beyond BFE's words (an empty file's "EOF")

    def problems(self) -> list[str]:
        if self.cause is None:
            return super().problems()
        rule = f"product {self.product!r}, rule {self.rule} (name {self.name!r})"
        if self.line is None:
            return [f"{self.file}: {rule}: condition: {one_line(str(self.cause))}"]
        # The position in the file replaces the one inside the condition.
        text = getattr(self.cause, "message", None) or str(self.cause)
        hint = getattr(self.cause, "hint", None)
        return [f"{self._position()}: {rule}: {text}" + (f" (hint: {hint})" if hint else "")]

    def __str__(self) -> str:
        if self.reason is not None:
            return f"{self._where()}: {self.reason}"
        if self.cause is None:
            return f"{self._position()}: {self.message}"
        return f"{self.file}: product {self.product!r}, rule {self.rule} (name {self.name!r}): condition: {self.cause}"


class BlocklistError(BlockFileError):
    """``ip_blocklist.data`` was rejected as a whole (a bad line, a bad range, or more entries than its header allows).

    ``message`` is BFE's chain of messages (``bfe_message`` adds the ``load dict:`` of the
    reload API); ``reason`` says the same for a person and ``text`` is the offending line.
    """

    def __init__(
        self, file: str, message: str, *, line: int | None = None, text: str | None = None, reason: str | None = None
    ) -> None:
        super().__init__(file, message, line=line)
        self.text = text
        self.reason = reason

    @property
    def bfe_message(self) -> str:
        return f"load dict: {self.message}"

    def problems(self) -> list[str]:
        return [str(self)]

    def __str__(self) -> str:
        if self.reason is None:
            return f"{self._where()}: {self.message}"
        if self.text is None:
            return f"{self._where()}: {self.reason}"
        return f"{self._where()}: {self.reason}: {self.text!r}"


class BanError(StockadeError):
    """Base of the errors of the IP ban API."""


class InvalidIpAddress(BanError, ValueError):
    """``ip_address_status`` and the ban API were given no address, or something that is not one."""

    def __init__(self, value: object, reason: str | None = None) -> None:
        super().__init__(value, reason)
        self.value = value
        self.reason = reason

    def __str__(self) -> str:
        if self.value is None or self.value == "":
            return "invalid_ip_address: no client address"
        if self.reason is not None:
            return f"invalid_ip_address: {self.value!r} {self.reason}"
        return f"invalid_ip_address: {self.value!r} is not an IP address or network"


class NotBanned(BanError):
    """``unblock_ip_address`` found no ban for the address or network."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return f"not_banned: {self.key!r} is not banned"


class NativeError(StockadeError):
    """A fault inside the native module (``stockade._native``): a bug, reported instead of a crash.

    The call that met it failed; the process and every table built before it are intact.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def __str__(self) -> str:
        return f"internal error in the native module: {self.detail}"


class ListenError(StockadeError):
    """An address of the server cannot be bound (in use, not local, not allowed)."""

    def __init__(self, address: str, cause: OSError) -> None:
        super().__init__(address, cause)
        self.address = address
        self.cause = cause

    def __str__(self) -> str:
        text = self.cause.strerror or str(self.cause)
        return f"cannot listen on {self.address}: {text[:1].lower()}{text[1:]}"


class ReloadFailed(StockadeError):
    """A reload was refused and the state in force stays; ``errors`` says why, one line each."""

    def __init__(self, errors: Sequence[str], details: Sequence[object] = ()) -> None:
        super().__init__(tuple(errors))
        self.errors = tuple(errors)
        self.details = tuple(details)

    def __str__(self) -> str:
        if len(self.errors) == 1:
            return f"the configuration was not reloaded: {self.errors[0]}"
        return f"the configuration was not reloaded: {len(self.errors)} errors"


def problems(error: BaseException) -> list[str]:
    """An error as lines, one problem each: ``file:line:column: text`` where the error knows its place."""
    if isinstance(error, ConfigError | BlockFileError | ReloadFailed):
        return list(error.errors) if isinstance(error, ReloadFailed) else error.problems()
    if isinstance(error, OSError) and error.strerror:
        return [f"{error.filename}: {error.strerror}" if error.filename else error.strerror]
    return [one_line(str(error))]
