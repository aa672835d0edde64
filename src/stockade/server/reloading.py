"""What a reload changed, said in the log and the audit log.

A site remembers the files it was built from by their size, modification time and inode
(no second read of a large blocklist); a reload compares the new site's with the old
one's and the configuration's sections one by one, and says which sections and which
files changed. A reload that changed nothing says so too: an operator who sent SIGHUP
learns that the edit was not saved. A failed reload's errors are one per line, each with
its place (``file:line:column`` where known; :meth:`stockade.errors.ConfigError.problems`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stockade.config import Config
from stockade.config.schema import ConfigFile
from stockade.engine.audit import AuditLog, iso_utc
from stockade.errors import BlocklistError, ConfigError, RuleFileError
from stockade.rules import BlockReloader

__all__ = ["Changes", "Fingerprint", "ReloadLog", "count_failed_files", "fingerprint", "fingerprints"]

log = logging.getLogger("stockade.server")


@dataclass(frozen=True, slots=True)
class Fingerprint:
    size: int
    mtime_ns: int
    inode: int


def fingerprint(path: str) -> Fingerprint | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return Fingerprint(stat.st_size, stat.st_mtime_ns, stat.st_ino)


def fingerprints(config: Config) -> dict[str, Fingerprint | None]:
    """The files a site is built from: the configuration, the htpasswd files, mod_block's files."""
    paths = [str(config.path), *(str(d.users.path) for d in config.directories)]
    if config.block is not None:
        paths += [config.block.rules_path, config.block.blocklist_path]
    return {path: fingerprint(path) for path in paths}


@dataclass(frozen=True, slots=True)
class Changes:
    """The sections of the configuration and the files whose content changed."""

    sections: tuple[str, ...] = ()
    files: tuple[str, ...] = ()

    @classmethod
    def between(
        cls,
        old: Config,
        new: Config,
        old_files: Mapping[str, Fingerprint | None],
        new_files: Mapping[str, Fingerprint | None],
    ) -> Changes:
        sections = tuple(name for name in ConfigFile.model_fields if getattr(old.raw, name) != getattr(new.raw, name))
        files = tuple(sorted(path for path in {*old_files, *new_files} if old_files.get(path) != new_files.get(path)))
        return cls(sections, files)

    def as_dict(self) -> dict[str, list[str]]:
        return {"sections": list(self.sections), "files": list(self.files)}

    def __str__(self) -> str:
        parts = []
        if self.sections:
            parts.append("sections " + ", ".join(f"[{name}]" for name in self.sections))
        if self.files:
            parts.append("files " + ", ".join(self.files))
        return "; ".join(parts) if parts else "nothing changed"


def count_failed_files(block: BlockReloader | None, error: BaseException) -> None:
    """A mod_block file that failed a full reload counts as a failed reload of that file, as BFE's do."""
    if block is None or not isinstance(error, ConfigError):
        return
    for issue in error.issues:
        if isinstance(issue.cause, RuleFileError):
            block.errors["block_rules"] += 1
        elif isinstance(issue.cause, BlocklistError):
            block.errors["ip_blocklist"] += 1


class ReloadLog:
    """Says every reload of one process: in the log, in the audit log, and in its own counts for the status.

    ``on_failure`` counts a refused reload (the metrics' ``stockade_reload_errors``).
    """

    def __init__(self, on_failure: Callable[[], object]) -> None:
        self.on_failure = on_failure
        self.ok = 0
        self.failed = 0
        self.last: dict[str, str] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "failed": self.failed, "last": self.last}

    def succeeded(
        self, what: str, trigger: str, changes: Changes, audit: AuditLog | None, now: float
    ) -> dict[str, Any]:
        """Log and audit a reload that took effect; its answer for the admin API."""
        self.ok += 1
        self.last = {"at": iso_utc(now), "trigger": trigger, "target": what, "reload": "ok"}
        log.info(
            "reloaded %s (%s): %s",
            what,
            trigger,
            changes,
            extra={"event": "reload", "trigger": trigger, "changed": changes.as_dict()},
        )
        if audit is not None:
            audit.reload(now, trigger, what, changed=changes.as_dict())
        return {"reload": "ok", "changed": changes.as_dict()}

    def refused(self, what: str, trigger: str, errors: list[str], audit: AuditLog | None, now: float) -> dict[str, Any]:
        """Log and audit a refused reload, one line per error; its answer for the admin API."""
        self.failed += 1
        self.last = {"at": iso_utc(now), "trigger": trigger, "target": what, "reload": "error"}
        self.on_failure()
        log.error(
            "reload of %s refused (%s), the state in force stays: %d error%s",
            what,
            trigger,
            len(errors),
            "" if len(errors) == 1 else "s",
            extra={"event": "reload_failed", "trigger": trigger, "errors": errors},
        )
        for line in errors:
            log.error("reload error: %s", line, extra={"event": "reload_error", "trigger": trigger, "error": line})
        if audit is not None:
            audit.reload(now, trigger, what, errors=errors)
        return {"reload": "error", "errors": errors}
