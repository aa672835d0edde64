"""One exception tree, rooted at :class:`StockadeError`.

Every error carries structured fields (file, line, field path, user, directory) and
builds its message in ``__str__``, so callers can both show it and act on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class StockadeError(Exception):
    """Root of every error stockade raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem found in a configuration file."""

    path: str
    message: str
    value: object = None
    has_value: bool = False

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


class FileFormatError(StockadeError):
    """A data file (htpasswd, rule file, blocklist) has a bad line."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(file, line, message)
        self.file = file
        self.line = line
        self.message = message

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


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
        product: str | None = None,
        rule: int | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(file, message, line, product, rule)
        self.file = file
        self.message = message
        self.line = line
        self.product = product
        self.rule = rule
        self.name = name

    @property
    def bfe_message(self) -> str:
        """The error as BFE words it."""
        return self.message

    def _where(self) -> str:
        return self.file if self.line is None else f"{self.file}:{self.line}"

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
        if not self.issues:
            return f"{self.file}: {self.message}"
        lines = [
            f"{self.file}:{line}:{col}: {message}" if line else f"{self.file}: {message}"
            for line, col, message in self.issues
        ]
        return "\n".join(lines)


class RuleFileError(BlockFileError):
    """``block_rules.data`` failed to decode, to validate, or one rule's condition failed to compile.

    ``cause`` is the condition's own error (its ``str()`` shows the condition with a caret
    under the mistake); BFE reports that error alone, so ``bfe_message`` is its text.
    """

    def __init__(
        self,
        file: str,
        message: str,
        *,
        line: int | None = None,
        product: str | None = None,
        rule: int | None = None,
        name: str | None = None,
        cause: StockadeError | None = None,
    ) -> None:
        super().__init__(file, message, line=line, product=product, rule=rule, name=name)
        self.cause = cause

    def __str__(self) -> str:
        if self.cause is None:
            return f"{self._where()}: {self.message}"
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

    def __init__(self, value: object) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        if self.value is None or self.value == "":
            return "invalid_ip_address: no client address"
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
