"""Print a condition tree back as source, with the grouping made explicit.

BFE's precedence surprises people (``||`` binds tighter than ``&&``, bfe.md §1.2), so
``stockade conditions explain`` shows how a condition was read by printing every binary
operation in parentheses: ``a() && b() || c()`` prints as ``(a() && (b() || c()))``.

The output parses back to the same tree. Literals keep their original quoting: a raw string
is printed between backquotes, and a ``"..."`` string is printed with its raw text, which is
valid because the scanner keeps escapes undecoded and has already validated them.
"""

from __future__ import annotations

from stockade.conditions.syntax import Binary, Call, Literal, Node, Not

__all__ = ["to_source"]


def to_source(tree: Node) -> str:
    """The source of ``tree`` with every ``&&`` and ``||`` in parentheses and ``!`` on its operand."""
    out: list[str] = []
    # An explicit stack instead of recursion: a long chain of one operator is a very deep tree.
    pending: list[Node | str] = [tree]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, Binary):
            pending.extend((")", item.right, f" {item.op} ", item.left, "("))
        elif isinstance(item, Not):
            pending.extend((item.operand, "!"))
        elif isinstance(item, Call):
            out.append(f"{item.name}({', '.join(_literal(arg) for arg in item.args)})")
        else:
            out.append(item.name)
    return "".join(out)


def _literal(literal: Literal) -> str:
    if literal.kind == "BOOL":
        return "true" if literal.value else "false"
    if literal.kind == "INT":
        return str(literal.value)
    quote = literal.quote or '"'
    return f"{quote}{literal.value}{quote}"
