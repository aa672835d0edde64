"""``[decision]`` as the decision point needs it, independent of how it was configured."""

from __future__ import annotations

from dataclasses import dataclass

from stockade.core.client_ip import XFF


@dataclass(frozen=True, slots=True)
class DecisionSettings:
    """Who may ask, and which of their headers names the client.

    ``proxies`` are addresses or networks (``10.0.0.0/8``); ``client_header`` is
    ``x-forwarded-for``, ``x-real-ip`` or ``forwarded``, read as
    :mod:`stockade.core.client_ip` reads it.
    """

    proxies: tuple[str, ...]
    client_header: str = XFF
