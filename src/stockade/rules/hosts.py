"""The host table: which product a request belongs to, from its Host header.

BFE runs mod_block's request rules only once the host table has named the request's
product (``HandleFoundProduct``), and refuses a request whose host maps to no product
before that. stockade lets such a request through to mod_block's ``global`` rules (and to
no product's): a global rule applies to every request. The table is configured as

```toml
[block.hosts]
"n.example.org" = "example_product"   # an exact host
"*.example.com" = "shop"              # any name under example.com (not example.com itself)
default_product = "web"               # optional: the product of every other host
```

Lookups ignore case (Go's folding, like the host primitives) and the port (``:8080``,
``[::1]:8080``) and one trailing dot. An exact host wins over wildcards, and a longer
wildcard over a shorter one (``*.a.example.com`` over ``*.example.com``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from stockade._native import HostTable as NativeHostTable
from stockade.core.facts import host_key
from stockade.errors import ConfigError, ConfigIssue

__all__ = ["HostTable", "strip_port"]


def strip_port(host: str) -> str:
    """The Host header without its port: ``a.b:80`` -> ``a.b``, ``[::1]:80`` -> ``[::1]``; bare IPv6 is kept."""
    if host.startswith("["):
        end = host.find("]")
        return host if end < 0 else host[: end + 1]
    name, colon, _port = host.partition(":")
    if colon and ":" in _port:  # an IPv6 address without brackets
        return host
    return name


def _key(name: str) -> str:
    name = name.removesuffix(".")
    return name.lower() if name.isascii() else host_key(name)


class HostTable:
    """Request host -> product name; ``product(host)`` is None when no entry and no default applies.

    ``product`` is the native table's lookup (bound at construction, so no Python frame
    stands between a caller and it); :meth:`python_product` is the Python lookup it
    replaced, kept as the differential tests' oracle.
    """

    __slots__ = ("_native", "default_product", "exact", "product", "wildcards")

    def __init__(
        self, hosts: Mapping[str, str], default_product: str | None = None, *, where: str = "block.hosts"
    ) -> None:
        issues: list[ConfigIssue] = []
        self.exact: dict[str, str] = {}
        self.wildcards: dict[str, str] = {}  # "example.com" for "*.example.com"
        for pattern, product in hosts.items():
            path = f"{where}.{pattern!r}"
            problem = _pattern_problem(pattern)
            if problem is not None:
                issues.append(ConfigIssue(path, problem, pattern, has_value=True))
                continue
            if not isinstance(product, str) or not product:
                issues.append(ConfigIssue(path, "the product must be a non-empty string", product, has_value=True))
                continue
            table, key = (
                (self.wildcards, _key(pattern[2:])) if pattern.startswith("*.") else (self.exact, _key(pattern))
            )
            if key in table and table[key] != product:
                issues.append(ConfigIssue(path, f"the same host is mapped to {table[key]!r} already", product, True))
                continue
            table[key] = product
        if default_product is not None and (not isinstance(default_product, str) or not default_product):
            issues.append(ConfigIssue(f"{where}.default_product", "must be a non-empty string", default_product, True))
        if issues:
            raise ConfigError(None, issues)
        self.default_product = default_product
        exact = [(pattern, product) for pattern, product in hosts.items() if not pattern.startswith("*.")]
        wildcards = [(pattern[2:], product) for pattern, product in hosts.items() if pattern.startswith("*.")]
        self._native = NativeHostTable(exact, wildcards, default_product)
        self.product: Callable[[str], str | None] = self._native.product

    @property
    def native(self) -> NativeHostTable:
        """The native table (the native front looks products up in it)."""
        return self._native

    @property
    def reads_host(self) -> bool:
        """False when every request gets the default product, whatever its Host."""
        return bool(self.exact or self.wildcards)

    def python_product(self, host: str) -> str | None:
        """The product of a request with this Host header (port and case ignored), or None: the oracle."""
        if not self.reads_host:
            return self.default_product
        name = _key(strip_port(host))
        product = self.exact.get(name)
        if product is not None:
            return product
        if self.wildcards:
            dot = name.find(".")
            while dot >= 0:
                product = self.wildcards.get(name[dot + 1 :])
                if product is not None:
                    return product
                dot = name.find(".", dot + 1)
        return self.default_product

    def __len__(self) -> int:
        return len(self.exact) + len(self.wildcards)

    def __repr__(self) -> str:
        return f"<HostTable {len(self.exact)} hosts, {len(self.wildcards)} wildcards, default {self.default_product!r}>"


def _pattern_problem(pattern: object) -> str | None:
    accepted = "expected a host name such as 'www.example.com' or a wildcard such as '*.example.com'"
    if not isinstance(pattern, str) or not pattern:
        return accepted
    name = pattern[2:] if pattern.startswith("*.") else pattern
    if not name or "*" in name:
        return f"'*' is only allowed as the first label ('*.example.com'); {accepted}"
    if ":" in name and not name.startswith("["):
        return f"a host pattern has no port; {accepted}"
    if any(char in name for char in " \t/\\@?#") or ".." in name:
        return accepted
    return None
