"""Checks of a listener's options that need the whole configuration: who may send a PROXY header.

A PROXY header names the client, so believing it from anyone would let any client choose
its address (and step around a ban or the blocklist). A PROXY-protocol listener therefore
believes the header only from the networks of its ``proxy_protocol_from`` (by default the
configuration's ``[proxy] trusted``); the native front closes a connection from any other
peer before a byte of it is read, and counts it.
"""

from __future__ import annotations

from stockade.errors import ConfigError, ConfigIssue
from stockade.server.settings import ListenerSpec


def check_proxy_listener(spec: ListenerSpec) -> None:
    """Raise :class:`ConfigError` for a PROXY-protocol listener that trusts no peer."""
    if spec.proxy_protocol == "off" or spec.proxy_protocol_from:
        return
    raise ConfigError(
        None,
        [
            ConfigIssue(
                f"listener {spec.address}: proxy_protocol_from",
                "a PROXY header is believed only from the proxies in front: name them"
                ' (proxy_protocol_from = ["10.0.0.5"]) or list them in [proxy] trusted',
            )
        ],
    )
