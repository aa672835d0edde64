"""SQL injection by tokenising, after libinjection's published algorithm, with a grammar of our own.

No maintained Python binding of libinjection fits (the bindings on PyPI are unmaintained,
source-only, and GPL), so this module follows the algorithm rather than the code:

1. **Contexts.** A value is read as SQL three times: as it stands (the application put it
   where a number or a name goes), and as if it followed an opening ``'`` or ``"`` (a string
   was expected: the first token is then the rest of that string, up to the quote that
   closes it). A quote context is read only when the value holds that quote.
2. **Tokens.** Each reading becomes a list of typed tokens: ``s`` string, ``1`` number (and
   ``TRUE``, ``FALSE``, ``NULL``), ``n`` name, ``v`` variable (``@x``, ``@@version``), ``k``
   keyword, ``E`` SELECT, ``U`` UNION / INTERSECT / EXCEPT, ``B`` ORDER BY / GROUP BY / LIMIT /
   HAVING, ``T`` the start of another statement (``DROP TABLE``, ``INSERT INTO``, ``EXEC``,
   ``DECLARE @``, ``WAITFOR DELAY``, ``SHUTDOWN``), ``&`` AND / OR / XOR / ``&&`` / ``||``,
   ``o`` comparison (``=``, ``<>``, ``LIKE``, ``IN``, ``IS NOT``, ...), ``a`` arithmetic
   (``+ - * / % | ^``, ``DIV``, ``MOD``), ``f`` a function call (any name before ``(``), ``F``
   one of the functions injections use (``SLEEP``, ``BENCHMARK``, ``CHAR``, ``VERSION``,
   ``EXTRACTVALUE``, ...), ``c`` a comment, and the characters ``( ) , ;``. MySQL's
   ``/*! ... */`` is read as SQL; other comments inside the value are dropped, a trailing one
   stays.
3. **Folding.** Unary signs go, ``operand a operand`` folds to one operand (``1+1``, ``'a'||'b'``
   ... are one value), adjacent strings fold, multi-word keywords become one token.
4. **Shapes.** The folded fingerprint (its first :data:`MAX_TOKENS` tokens) is an injection when
   it has one of the shapes an injection takes: a value closed and followed by a boolean
   operator and a comparison, a call or a subquery (``' or 1=1``, ``1 and sleep(5)``,
   ``') or ('a'='a``); a closed string followed by a comment, a statement separator or UNION
   (``admin'--``, ``'; drop table``); UNION followed by SELECT; ``ORDER BY`` a number right
   after the value; a subquery or a call of an injection function as the whole value.

Ordinary text reads as names and keywords: ``rock and roll`` is ``n&n``, ``Tom's or Jerry's``
read after a quote is ``sn&ns``; neither has a shape.
"""

from __future__ import annotations

import re

MAX_TOKENS = 16


def _words(text: str) -> frozenset[str]:
    """The white-space separated words of ``text``: long word lists stay readable as text."""
    return frozenset(text.split())


# Keywords and the token type each one has. Words not listed are names (``n``).
_TYPES: dict[str, str] = {}
for _group, _kind in (
    ("and or xor", "&"),
    ("union intersect except minus", "U"),
    ("select", "E"),
    ("like rlike regexp ilike similar is in between sounds glob match", "o"),
    ("div mod", "a"),
    ("true false null unknown", "1"),
    (
        "from where into values table database schema as on join inner outer left right cross natural "
        "order group by having limit "
        "all distinct top set case when then else end exists not collate asc desc procedure "
        "outfile dumpfile information_schema sysobjects syscolumns escape using offset fetch "
        "for update delete insert drop create alter truncate grant revoke exec execute declare waitfor "
        "delay shutdown use load data infile replace rename handler call begin if while return goto "
        "binary char nchar varchar nvarchar int integer bigint text cast convert",
        "k",
    ),
):
    for _name in _group.split():
        _TYPES[_name] = _kind

# Functions injections call: time delays, fingerprinting, string building, error-based extraction.
INJECTION_FUNCTIONS = _words(
    """
    sleep benchmark pg_sleep waitfor randomblob get_lock release_lock dbms_pipe.receive_message
    dbms_lock.sleep receive_message version database schema user current_user session_user
    system_user user_name db_name host_name suser_name suser_sname is_srvrolemember
    has_dbaccess @@version char chr nchar concat concat_ws group_concat string_agg listagg
    ascii ord hex unhex bin substring substr mid left right length char_length len instr locate
    position reverse lower upper lpad rpad cast convert if iif ifnull nullif coalesce isnull
    extractvalue updatexml exp floor rand name_const geometrycollection polygon multipoint
    multilinestring multipolygon linestring load_file into_outfile utl_inaddr.get_host_address
    utl_inaddr.get_host_name utl_http.request ctxsys.drithsx.sn dbms_xmlgen.getxml xmltype
    extractvalue pg_read_file pg_ls_dir lo_import lo_export current_database current_schema
    inet_server_addr sqlite_version load_extension typeof randomblob zeroblob unicode
    openrowset opendatasource openquery xp_cmdshell sp_executesql sp_oacreate xp_dirtree
    xp_fileexist make_set elt field find_in_set export_set ord uuid row_count found_rows
    last_insert_id connection_id @@datadir @@hostname json_keys json_extract
    """
)

# Calls that are an injection by themselves, whatever surrounds them.
_STRONG_FUNCTIONS = _words(
    """
    sleep benchmark pg_sleep randomblob get_lock dbms_pipe.receive_message dbms_lock.sleep
    extractvalue updatexml load_file name_const utl_inaddr.get_host_address utl_inaddr.get_host_name
    utl_http.request ctxsys.drithsx.sn dbms_xmlgen.getxml pg_read_file pg_ls_dir lo_import
    lo_export load_extension xp_cmdshell sp_executesql sp_oacreate xp_dirtree xp_fileexist
    openrowset opendatasource geometrycollection multipoint multilinestring multipolygon
    """
)
_STATEMENT_OBJECTS = _words("table database schema view index procedure function trigger user login column temporary")
_NOT_OPERATORS = frozenset({"like", "rlike", "regexp", "ilike", "in", "between", "similar", "exists", "null"})
_NAME = re.compile(r"[A-Za-z_$\x80-\uffff][\w$\x80-\uffff]*(?:\.[A-Za-z_$\x80-\uffff][\w$\x80-\uffff]*)*")
_NUMBER = re.compile(r"0x[0-9a-fA-F]*|0b[01]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_OPERATORS = ("<=>", "!=", "<>", "<=", ">=", ":=", "==", "!<", "!>", "<<", ">>", "::")
_COMPARISONS = frozenset({"=", "<", ">", "<=>", "!=", "<>", "<=", ">=", ":=", "==", "!<", "!>"})
_SPACE = " \t\r\n\v\f\x00\xa0"
_OPERAND = "1snv"


def tokens(text: str, quote: str = "") -> list[tuple[str, str]]:  # noqa: PLR0915 - one scanner loop
    """The tokens of ``text`` read after ``quote`` (``''`` for none), folded."""
    out: list[tuple[str, str]] = []
    i, size = 0, len(text)
    if quote:
        end = _string_end(text, 0, quote)
        out.append(("s", text[:end]))
        i = end + 1
    limit = MAX_TOKENS * 4
    while i < size and len(out) < limit:
        char = text[i]
        if char in _SPACE:
            i += 1
            continue
        if char in "'\"":
            end = _string_end(text, i + 1, char)
            out.append(("s", text[i + 1 : end]))
            i = end + 1
            continue
        if char == "`":
            end = text.find("`", i + 1)
            end = size if end < 0 else end
            out.append(("n", text[i + 1 : end]))
            i = end + 1
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if text.startswith("/*!", i):  # MySQL executable comment: its content is SQL
                i += 3
                while i < size and text[i].isdigit():
                    i += 1
                continue
            out.append(("c", text[i + 2 : end if end >= 0 else size]))
            i = size if end < 0 else end + 2
            continue
        if text.startswith("*/", i):  # the end of an executable comment
            i += 2
            continue
        if text.startswith("--", i) or char == "#":
            end = text.find("\n", i)
            out.append(("c", text[i : size if end < 0 else end]))
            i = size if end < 0 else end + 1
            continue
        if char in "(),;":
            out.append((char, char))
            i += 1
            continue
        if char == "@":
            start = i + 2 if text.startswith("@@", i) else i + 1
            found = _NAME.match(text, start)
            end = found.end() if found else start
            out.append(("v", text[i:end]))
            i = end
            continue
        if text.startswith(("&&", "||"), i):
            out.append(("&", text[i : i + 2]))
            i += 2
            continue
        if char.isdigit() or (char == "." and i + 1 < size and text[i + 1].isdigit()):
            number = _NUMBER.match(text, i)
            end = number.end() if number else i + 1
            out.append(("1", text[i:end]))
            i = end
            continue
        name = _NAME.match(text, i)
        if name is not None:
            word = name.group()
            i = name.end()
            if i < size and text[i] in "'\"" and word.lower() in ("n", "x", "b", "e", "_utf8", "_latin1", "_binary"):
                continue  # a string prefix: N'...', X'...', _utf8'...'
            out.append(_word(word, text, i))
            continue
        op = next((o for o in _OPERATORS if text.startswith(o, i)), char)
        out.append(("o" if op in _COMPARISONS else "a", op))
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


def _word(word: str, text: str, end: int) -> tuple[str, str]:
    lowered = word.lower()
    j = end
    while j < len(text) and text[j] in _SPACE:
        j += 1
    if j < len(text) and text[j] == "(" and lowered not in ("outfile", "dumpfile"):
        kind = _TYPES.get(lowered)
        if kind in ("&", "U", "E", "o") or lowered in ("not", "exists", "values", "in"):
            return (kind or "k", word)
        return ("F" if lowered in INJECTION_FUNCTIONS else "f", word)
    return (_TYPES.get(lowered, "n"), word)


def _fold(found: list[tuple[str, str]]) -> list[tuple[str, str]]:  # noqa: PLR0915 - one pass of rewrites
    """Comments inside go (a trailing one stays), unary signs go, ``x a y`` folds to ``x``, and
    multi-word keywords become one token."""
    out: list[tuple[str, str]] = []
    last = len(found) - 1
    for index, (found_kind, text) in enumerate(found):
        kind = found_kind
        if kind == "c" and index != last:
            continue
        lowered = text.lower()
        prev = out[-1] if out else ("", "")
        if kind in "UEBTk&o" and prev == ("a", "+"):
            out.pop()  # "+" read as a space (a form's encoding): 1+union+select
            prev = out[-1] if out else ("", "")
        if kind == "k":
            if prev[0] == "U" and lowered in ("all", "distinct"):
                continue
            if prev[0] == "E" and lowered in ("all", "distinct", "top"):
                continue
            if lowered == "by" and prev[1].lower() in ("order", "group"):
                out[-1] = ("B", prev[1] + " by")
                continue
            if lowered == "not" and prev[1].lower() == "is":
                continue
            starts = ("drop", "create", "alter", "truncate")
            if prev[0] == "k" and prev[1].lower() in starts and lowered in _STATEMENT_OBJECTS:
                out[-1] = ("T", prev[1])
                continue
            if prev[0] == "k" and prev[1].lower() == "insert" and lowered == "into":
                out[-1] = ("T", prev[1])
                continue
            if prev[0] == "k" and prev[1].lower() == "delete" and lowered == "from":
                out[-1] = ("T", prev[1])
                continue
            if prev[0] == "k" and prev[1].lower() == "waitfor" and lowered in ("delay", "time"):
                out[-1] = ("T", prev[1])
                continue
            if prev[0] == "k" and prev[1].lower() == "into" and lowered in ("outfile", "dumpfile"):
                out[-1] = ("T", prev[1])
                continue
            if lowered in ("limit", "having", "procedure"):
                kind = "B"
            elif lowered in ("exec", "execute", "shutdown"):
                kind = "T"
        if kind == "v" and prev[0] == "k" and prev[1].lower() == "declare":
            out[-1] = ("T", prev[1])
        if kind == "o" and prev[0] == "k" and prev[1].lower() == "not":
            out.pop()
            prev = out[-1] if out else ("", "")
        if kind == "k" and lowered == "set" and len(out) >= 2 and out[-1][0] == "n" and out[-2][1].lower() == "update":
            out[-2] = ("T", out[-2][1])
        if kind in _OPERAND or kind in "fF(":
            # A unary sign or NOT before an operand goes; "x a y" folds to "x".
            while out and (out[-1][0] == "a" or out[-1][1].lower() == "not"):
                if len(out) > 1 and out[-2][0] not in "oa&(,kUEBT":
                    break
                out.pop()
            if kind in _OPERAND and len(out) >= 2 and out[-1][0] == "a" and out[-2][0] in _OPERAND + ")":
                out.pop()
                continue
            if kind == "s" and out and out[-1][0] == "s":
                continue
            if len(out) >= 3 and out[-1][0] == "," and out[-2][0] in _OPERAND and out[-3][0] == ",":
                out.pop()  # a list of values reads as its first two: 1,2,3,4 is 1,2
                continue
        if kind == "k" and lowered == "not" and (not out or out[-1][0] in "o&(,"):
            out.append(("a", text))  # a unary NOT: dropped before its operand
            continue
        out.append((kind, text))
    while out and out[0][0] == "a":
        out.pop(0)  # a leading sign: -1 union ..., +if(...)
    return out[:MAX_TOKENS]


def fingerprint(found: list[tuple[str, str]]) -> str:
    return "".join(kind for kind, _ in found)


# Operands: s string, 1 number, n name, v variable.  X = operand, optionally a call f(...)
_SHAPES_AFTER_VALUE = re.compile(
    r"""
    ^\(*(?:[1snv]|\)|,[1snv])(?:\)|,\(*[1snv])*   # the value expected (maybe in a list or parentheses)
    (?:
        &\(*(?:[1snv]\)*o|[fF]\(|E|T|v|k\(|[1s](?:\)*c|\)*$|\)*;|\)*&))    # or 1=1, and sleep(, or (select, ' or 1--
      | [oa]\(*(?:E|F\()                                                 # ' + (select ...), 1*if(
      | \)*;(?:[ETF]|k[kn(v])                                           # '; select, 1; drop table
      | \)*[TB]                                                          # '; waitfor delay, 1 order by 3
      | \)*U\(*E$                                                         # 1 union select
      | \)+c                                                             # 1)-- , '))#
      | o\(*[1sn]\)*(?:c|&[1snv(])                                       # '=1--, x'='y' or ...
    )
    """,
    re.VERBOSE,
)
_SHAPES_AFTER_STRING = re.compile(r"^s\)*(?:c|E[1snvafF(]|k[1sv(]|o[s1]$|U)")  # admin'--, ' select 1, ' having 1=1
_SHAPES_ANYWHERE = re.compile(
    r"U\(*E(?:[1svfF(]|a[k,)]|a$|n[,k)(]|k)|;T|Tv|\(E[1snvfF(a]|F\(\(*F\("  # union select 1, (select x, char(ascii(
    r"|&\(*[1s]\)*o\(*[1s]"  # and 1=1, or 'a'='a'
)
_SHAPES_WHOLE = re.compile(
    r"^\(*(?:E(?:[1svfF(]|a[k,]|a$|n[,k)]|k)|T(?:[v(1sf]|n[;c(ks1v]))"  # (select ..., drop table t;
    r"|^B1(?:[c,]|$)|^B[1n]o"  # order by 9, having 1=1
    r"|^&\(*(?:[1snv]\)*o[1snv(fF]|[fF]\(|E)"  # or 1=1, and sleep(5)
    r"|^\(.*[&oE].*\)c$"  # ( cos ( @a or 1 ) ) --
)


def is_sqli(value: str) -> bool:
    """Whether ``value`` reads as SQL injection in any of the three contexts."""
    return sqli_context(value) is not None


def sqli_context(value: str) -> str | None:
    """The context (``''``, ``"'"`` or ``'"'``) in which ``value`` reads as an injection, or ``None``."""
    for quote in ("", "'", '"'):
        if quote and quote not in value:
            continue
        found = tokens(value, quote)
        if quote and (len(found) == 1 or (found and found[0][1] == value)):
            continue  # no quote closed the string: nothing was injected in this context
        print_ = fingerprint(found)
        if _SHAPES_ANYWHERE.search(print_):
            return quote
        if quote == "" and print_.startswith("s"):
            continue  # a leading quote is read by the quote contexts
        if _dangerous(print_, found, quote):
            return quote
    return None


def _dangerous(print_: str, found: list[tuple[str, str]], quote: str) -> bool:
    if quote == "" and (_SHAPES_WHOLE.match(print_) or _strong_call(found)):
        return True
    if quote and _SHAPES_AFTER_STRING.match(print_):
        return True
    match = _SHAPES_AFTER_VALUE.match(print_)
    if match is None:
        return False
    shape = match.group()
    if shape.endswith("B") and print_[len(shape) : len(shape) + 1] not in ("1", "n", "f", "F"):
        return False
    if shape.endswith("B") and print_[len(shape) : len(shape) + 1] == "n" and "c" not in print_:
        return False  # ORDER BY a column counts with a comment after it: ' order by name--
    if quote == "":
        # Without a quote the value must read as a number or a name followed by SQL; ordinary
        # words ("black and white", "rock or pop") are names, so demand more of them.
        first = print_.lstrip("(")[:1]
        if first == "n" and not _strong_after_name(shape):
            return False
        if shape.endswith(("1", "s")) and "&" in shape and "o" not in shape:
            return False  # "1 or 2": two values and a boolean word, no comparison
    return True


def _strong_call(found: list[tuple[str, str]]) -> bool:
    """The value is a call of a function only injections make: sleep(5), extractvalue(1,...)."""
    for kind, text in found:
        if kind == "(":
            continue
        return kind == "F" and text.lower() in _STRONG_FUNCTIONS
    return False


def _strong_after_name(shape: str) -> bool:
    """After a bare name only unmistakable SQL counts: a comparison with a literal, a call of an
    injection function, a subquery, a stacked statement, UNION, a comment after a parenthesis."""
    body = shape.lstrip("(")[1:]
    return bool(re.match(r"\)*(?:&\(*(?:[1sv]\)*o|n\)*o[1sv]|F\(|E|[1s]\)*c)|\)*;|\)+c|o[1s]\)*c|B1c)", body))
