"""Lower a compiled condition into the form the native evaluator builds (``stockade._native``).

The Python side keeps the condition language's parser, its checks and its messages: a
condition is parsed, checked and built here (:func:`~stockade.conditions.compile_condition`),
and only then lowered, so the native side never sees a condition that is not valid. The
lowered form is a flat list in pre-order, an operator before its operands, so that
neither side recurses over a deep tree:

- ``("and", n)`` / ``("or", n)``: the next ``n`` operands (chains of one operator are
  flattened, as the compiler flattens them); ``("not",)``: the next operand (pairs of
  ``!`` cancel);
- a primitive, with validated and prepared arguments (lists split on ``|``, addresses as
  16 bytes, hash buckets as ranges, times as epoch seconds): ``("true",)``,
  ``("trusted",)``, ``("secure",)``, ``("tls_client_auth",)``, ``("query_exist",)``;
  ``("match", source, test)`` for a value of the request and a test of it;
  ``("ip_range", address, first, last)``, ``("ip_in", address, [ip, ...])``,
  ``("ip_hash", address, [(lo, hi), ...])`` with ``address`` one of ``client``,
  ``remote``, ``vip``; ``("header_key_in", names)``, ``("response_header_key_in", names)``,
  ``("query_key_in", keys)``, ``("query_key_prefix_in", prefixes)``,
  ``("cookie_key_in", names)``, ``("tag_match", name, value)``,
  ``("context_value_in", key, test)``, ``("time_range", first, last)``,
  ``("periodic_time_range", first, last, offset)``;
- a source: ``("host",)``, ``("path",)``, ``("url",)``, ``("port",)``, ``("method",)``,
  ``("protocol",)``, ``("host_tag",)``, ``("header", name)``, ``("query", key)``,
  ``("cookie", name)``, ``("body_json", path)``, ``("tls_sni",)``, ``("tls_client_ca",)``,
  ``("response_code",)``, ``("response_header", name)``;
- a test: ``("in" | "prefix" | "suffix" | "contain" | "element_prefix", fold, patterns)``,
  ``("exact", pattern)``, ``("hash", fold, [(lo, hi), ...])``, ``("regex", pattern)``.

Each primitive's builder says how it lowers (:attr:`Matcher.lowered
<stockade.conditions.registry.Matcher>`), next to its Python test.
"""

from __future__ import annotations

from collections.abc import Mapping

from stockade.conditions.compiler import Condition
from stockade.conditions.registry import Matcher
from stockade.conditions.syntax import Binary, Call, Ident, Node, Not

__all__ = ["Lowered", "lower", "lowered"]

Lowered = list[tuple[object, ...]]


def _flatten(node: Binary) -> list[Node]:
    """The operands of a chain of one operator, left to right."""
    operands: list[Node] = []
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Binary) and current.op == node.op:
            stack.append(current.right)
            stack.append(current.left)
        else:
            operands.append(current)
    return operands


def lower(tree: Node, matchers: Mapping[int, Matcher]) -> Lowered | None:
    """The pre-order list of a checked tree, or ``None`` if a primitive has no native form."""
    items: Lowered = []
    stack: list[Node] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Call):
            item = matchers[id(node)].lowered
            if item is None:
                return None
            items.append(item)
        elif isinstance(node, Not):
            odd = False
            operand: Node = node
            while isinstance(operand, Not):
                odd = not odd
                operand = operand.operand
            if odd:
                items.append(("not",))
            stack.append(operand)
        elif isinstance(node, Binary):
            operands = _flatten(node)
            items.append(("and" if node.op == "&&" else "or", len(operands)))
            stack.extend(reversed(operands))
        elif isinstance(node, Ident):  # pragma: no cover - the semantic check refuses bare names
            return None
    return items


def lowered(condition: Condition) -> Lowered:
    """The lowered form of a compiled condition; :class:`ValueError` if it has none."""
    items = lower(condition.tree, condition.matchers)
    if items is None:
        raise ValueError(f"the condition {condition.text!r} uses a primitive without a native form")
    return items
