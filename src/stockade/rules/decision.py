"""The value mod_block's request check returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["PASS", "BlockDecision"]


@dataclass(frozen=True, slots=True)
class BlockDecision:
    """What mod_block decided for a request.

    ``action`` is ``"close"`` (a CLOSE rule matched: close the connection without a
    response; BFE's error code is ``BLOCK``), ``"allow"`` (an ALLOW rule matched: mod_block
    is done, later stages still run) or ``"pass"`` (no rule decided). ``rule`` is the name
    BFE leaves in the request context ``mod_block.block_info``: the rule that decided, or
    for ``"pass"`` a matched rule with an unknown command, else None.
    """

    action: Literal["close", "allow", "pass"]
    rule: str | None = None

    @property
    def closes(self) -> bool:
        return self.action == "close"


PASS = BlockDecision("pass")
