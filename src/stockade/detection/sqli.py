"""SQL injection by tokenising, after libinjection's published algorithm, with a grammar of our own.

No maintained Python binding of libinjection fits (the bindings on PyPI are unmaintained,
source-only, and GPL), so this module follows the algorithm rather than the code: a value is
read as SQL three times, as it stands (a number or a name was expected), and as if it
followed an opening ``'`` or ``"`` (a string was expected). Each reading becomes a sequence of
token types, its fingerprint, and the value is an injection when a fingerprint shows one of
the shapes an injection has: a string or number closed and followed by a boolean operator and
an expression (``' or 1=1``), a closed string followed by a comment (``admin'--``), ``UNION``
followed by ``SELECT`` and a column, a statement stacked after ``;``, or ``ORDER BY`` a number.
Ordinary text becomes names and keywords (``rock and roll`` is ``n&n``) and does not fit.

Token types: ``s`` string, ``1`` number, ``n`` name, ``k`` keyword, ``E`` SELECT, ``U`` UNION
(and INTERSECT, EXCEPT), ``&`` AND/OR/XOR/&&/||, ``o`` operator, ``f`` function (a name or
keyword before ``(``), ``v`` variable (``@x``, ``@@version``), ``c`` comment, and the
characters ``( ) , ;``.
"""

from __future__ import annotations

import itertools
import re

MAX_TOKENS = 12

_KEYWORDS = frozenset(
    [
        "from",
        "where",
        "insert",
        "update",
        "delete",
        "drop",
        "into",
        "values",
        "table",
        "database",
        "exec",
        "execute",
        "declare",
        "case",
        "when",
        "then",
        "else",
        "end",
        "having",
        "group",
        "order",
        "by",
        "limit",
        "offset",
        "in",
        "is",
        "not",
        "null",
        "between",
        "exists",
        "procedure",
        "waitfor",
        "delay",
        "shutdown",
        "truncate",
        "alter",
        "create",
        "grant",
        "revoke",
        "as",
        "on",
        "join",
        "inner",
        "outer",
        "left",
        "right",
        "cross",
        "natural",
        "all",
        "distinct",
        "top",
        "set",
        "load_file",
        "outfile",
        "dumpfile",
        "information_schema",
        "sysobjects",
        "syscolumns",
        "asc",
        "desc",
        "collate",
        "cast",
        "convert",
        "char",
        "nchar",
        "varchar",
        "like",
        "rlike",
        "regexp",
        "sounds",
        "true",
        "false",
        "if",
        "elseif",
        "while",
        "begin",
        "return",
        "returns",
        "function",
        "union",
        "select",
        "intersect",
        "except",
        "minus",
        "xor",
        "div",
        "mod",
        "and",
        "or",
    ]
)
_LOGIC = frozenset({"and", "or", "xor", "&&", "||"})
_UNION = frozenset({"union", "intersect", "except"})
_STATEMENTS = frozenset({"insert", "update", "delete", "drop", "exec", "execute", "declare", "shutdown", "truncate"})
_WORD_OPS = frozenset({"like", "rlike", "regexp", "div", "mod", "is", "between", "sounds", "in"})
_NAME = re.compile(r"[A-Za-z_$\x80-\uffff][\w$\x80-\uffff.]*")
_NUMBER = re.compile(r"0x[0-9a-fA-F]+|0b[01]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?")
_OPERATORS = ("!=", "<>", "<=", ">=", ":=", "<=>", "==", "!<", "!>", "<<", ">>")


def tokens(text: str, quote: str = "") -> list[tuple[str, str]]:  # noqa: PLR0915 - one scanner loop
    """The first :data:`MAX_TOKENS` tokens of ``text`` read after ``quote`` (``''`` for none)."""
    out: list[tuple[str, str]] = []
    i, size = 0, len(text)
    if quote:
        end = _string_end(text, 0, quote)
        out.append(("s", text[:end]))
        i = end + 1
    while i < size and len(out) < MAX_TOKENS:
        char = text[i]
        if char.isspace() or char == "\x00":
            i += 1
            continue
        if char in "'\"`":
            end = _string_end(text, i + 1, char)
            out.append(("s" if char != "`" else "n", text[i + 1 : end]))
            i = end + 1
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            body = text[i + 2 : end if end >= 0 else size]
            if body.startswith("!"):  # MySQL executable comment: its content is SQL
                i += 3 if text.startswith("/*!", i) else 2
                while i < size and text[i].isdigit():
                    i += 1
                continue
            out.append(("c", body))
            i = size if end < 0 else end + 2
            continue
        if text.startswith("--", i) or char == "#":
            out.append(("c", text[i:]))
            break
        if char in "(),;":
            out.append((char, char))
            i += 1
            continue
        if char == "@":
            found = _NAME.match(text, i + 2 if text.startswith("@@", i) else i + 1)
            end = found.end() if found else i + 1
            out.append(("v", text[i:end]))
            i = end
            continue
        if text.startswith(("&&", "||"), i):
            out.append(("&", text[i : i + 2]))
            i += 2
            continue
        number = _NUMBER.match(text, i) if (char.isdigit() or char == ".") else None
        if number is not None:
            out.append(("1", number.group()))
            i = number.end()
            continue
        name = _NAME.match(text, i)
        if name is not None:
            word = name.group()
            i = name.end()
            out.append((_word_type(word.lower(), text, i), word))
            continue
        op = next((o for o in _OPERATORS if text.startswith(o, i)), char)
        out.append(("o", op))
        i += len(op)
    return _fold(out)


def _string_end(text: str, start: int, quote: str) -> int:
    i, size = start, len(text)
    while i < size:
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == quote:
            if i + 1 < size and text[i + 1] == quote:  # '' inside a string
                i += 2
                continue
            return i
        i += 1
    return size


def _word_type(lowered: str, text: str, end: int) -> str:
    j = end
    while j < len(text) and text[j] in " \t\r\n":
        j += 1
    if j < len(text) and text[j] == "(" and lowered not in _LOGIC and lowered not in _UNION and lowered != "in":
        return "f"
    if lowered in _LOGIC:
        return "&"
    if lowered in _UNION:
        return "U"
    if lowered == "select":
        return "E"
    if lowered in _WORD_OPS:
        return "o"
    if lowered in _KEYWORDS:
        return "k"
    return "n"


def _fold(found: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Unary signs before numbers go; ``UNION ALL`` / ``UNION DISTINCT`` become one ``U``; only a
    trailing comment stays (``1/**/UNION/**/SELECT`` reads as ``1 UNION SELECT``)."""
    out: list[tuple[str, str]] = []
    last = len(found) - 1
    for index, (kind, text) in enumerate(found):
        if kind == "c" and index != last:
            continue
        if kind == "1" and out and out[-1] == ("o", "-") and (len(out) == 1 or out[-2][0] in "o&(,"):
            out.pop()
        if kind == "k" and out and out[-1][0] == "U" and text.lower() in ("all", "distinct"):
            continue
        out.append((kind, text))
    return out


def fingerprint(found: list[tuple[str, str]]) -> str:
    return "".join(kind for kind, _ in found)


_SHAPES = re.compile(
    r"""
    ^[s1n]\)*&[(]*(?:[1sv]o|f\(|[1s]c|[1s]$|\(|v|[1s]&|k[(1sn]|E|ko)       # ' or 1=1, 1 and sleep(5), ') or ('a'='a
    |^\)*&[(]*(?:1o1|sos|f\()                                              # or 1=1 at the very start
    |^s\)*c                                                                 # admin'--
    |^s\)*o[s1]c?$|^sos&                                                    # '=' , ' = '1
    |U\(*E[(]*(?:[1sv*(]|f|n[,k)]|k[,)k]|k$|o)                             # union select 1, union select col from
    |^[s1n]?\)*;(?:E[1sfvn(*]|k(?:k|n|f|v|1|\(|$)|n(?:n|k|v|1|s)|[fv])       # ; drop table t, ; exec xp_cmdshell
    |^[s1n]\)*kk1                                                          # 1 order by 24
    |^[s1]\)*U                                                             # 1 union ..., ' union ...
    |^[s1]\)*o[s1]o?[s1]?&                                                 # ' + 1 or ...
    |^[s1]\)*ok\(?E                                                        # 1 in (select ...
    """,
    re.VERBOSE,
)
_ORDER_BY = frozenset({("order", "by"), ("group", "by")})


def is_sqli(value: str) -> bool:
    """Whether ``value`` reads as SQL injection in any of the three contexts."""
    for quote in ("", "'", '"'):
        found = tokens(value, quote)
        if quote and len(found) == 1:
            continue  # no quote closed the string: nothing was injected in this context
        print_ = fingerprint(found)
        match = _SHAPES.search(print_)
        if match is None:
            continue
        if "kk1" in match.group() and not _order_by(found):
            continue
        if quote == "" and print_.startswith("s"):
            continue  # a leading quote is read by the quote contexts
        return True
    return False


def _order_by(found: list[tuple[str, str]]) -> bool:
    words = [text.lower() for kind, text in found if kind == "k"]
    return any(pair in _ORDER_BY for pair in itertools.pairwise(words))
