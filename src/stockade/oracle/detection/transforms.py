"""Transformations applied to a value before rules match it, after ModSecurity's ``t:`` functions.

Each rule names the transformations it needs, in order; the engine computes each distinct
chain once per request and target. All functions are total: any string in, a string out.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import unquote, unquote_plus

Transform = Callable[[str], str]

_UNICODE_ESCAPE = re.compile(r"%u([0-9a-fA-F]{4})|\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})")
_SQL_COMMENT = re.compile(r"/\*.*?(?:\*/|$)|(?:--|#)[^\n]*", re.DOTALL)
_SPACE = re.compile(r"[^\S\n]+")
_CMD_NOISE = re.compile(r"[\\'\"^]")
_CMD_SEPARATOR = re.compile(r"[^\S\n]*([,;/])[^\S\n]*")
_SLASHES = re.compile(r"[/\\]+")
_OVERLONG_CHARS = {"%c0%ae": ".", "%c0%af": "/", "%c1%9c": "\\", "%e0%80%ae": ".", "%c0%2e": "."}
_OVERLONG = re.compile("|".join(re.escape(key) for key in _OVERLONG_CHARS), re.IGNORECASE)
_FULL_WIDTH = re.compile("[\uff01-\uff5e]")
_SLASH_LIKE = str.maketrans(
    {
        "\u2215": "/",
        "\u2216": "\\",
        "\u2044": "/",
        "\u29f8": "/",
        "\u29f9": "\\",
        "\uff0f": "/",
        "\uff3c": "\\",
        "\ufe68": "\\",
    }
)


def url_decode(text: str) -> str:
    """Percent-decoding (``+`` stays); invalid escapes are kept as they are."""
    return unquote(text, errors="replace") if "%" in text else text


def url_decode_plus(text: str) -> str:
    return unquote_plus(text, errors="replace") if ("%" in text or "+" in text) else text


def url_decode_uni(text: str) -> str:
    """Percent-decoding plus IIS ``%uXXXX`` and ``\\uXXXX`` / ``\\xXX`` escapes."""
    if "%u" in text or "\\u" in text or "\\x" in text or "%U" in text:
        text = _UNICODE_ESCAPE.sub(_unicode_char, text)
    return url_decode(text)


def _unicode_char(found: re.Match[str]) -> str:
    digits = found.group(1) or found.group(2) or found.group(3)
    code = int(digits, 16)
    if 0xFF01 <= code <= 0xFF5E:  # full-width forms fold to ASCII, as IIS does
        code -= 0xFEE0
    return chr(code)


def html_entity_decode(text: str) -> str:
    return html.unescape(text) if "&" in text else text


def full_width(text: str) -> str:
    """Full-width forms (U+FF01 to U+FF5E: a full-width ``<script>``) as the ASCII characters they stand for."""
    if text.isascii() or not _FULL_WIDTH.search(text):
        return text
    return _FULL_WIDTH.sub(lambda found: chr(ord(found.group()) - 0xFEE0), text)


def decode(text: str) -> str:
    """Everything an application or a browser may decode: overlong UTF-8 forms of ``.`` ``/`` ``\\``,
    URL escapes (``%xx``, ``%uxxxx``, ``\\uxxxx``, ``\\xxx``) until nothing changes (three rounds at
    most), HTML entities, full-width forms; null bytes go."""
    if "%" in text:
        text = utf8_overlong(text)
    for _ in range(3):
        if "%" not in text and "\\" not in text:
            break
        decoded = url_decode_uni(text)
        if decoded == text:
            break
        text = decoded
    text = html_entity_decode(text)
    if "%" in text and "&" in text:  # an entity that encoded an escape: &#37;27
        text = url_decode(text)
    return remove_nulls(full_width(text))


def lowercase(text: str) -> str:
    return text.lower()


def compress_whitespace(text: str) -> str:
    """Runs of whitespace (line breaks excepted: they separate values) become one space."""
    return _SPACE.sub(" ", text)


def remove_whitespace(text: str) -> str:
    return _SPACE.sub("", text)


def remove_nulls(text: str) -> str:
    return text.replace("\x00", "") if "\x00" in text else text


def remove_comments(text: str) -> str:
    """SQL and C comments become one space (``UN/**/ION`` stays two words: ``UN ION``)."""
    if "/*" not in text and "--" not in text and "#" not in text:
        return text
    return _SQL_COMMENT.sub(" ", text)


def replace_comments(text: str) -> str:
    """C comments removed outright: ``SEL/**/ECT`` reads ``SELECT``."""
    return re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL) if "/*" in text else text


def cmd_line(text: str) -> str:
    """ModSecurity's ``cmdLine``: drop ``\\ ' " ^``, spaces before ``/`` ``(``, fold ``,;`` spacing, lower case."""
    text = _CMD_NOISE.sub("", text.lower())
    if ";" in text or "," in text or "/" in text:
        text = _CMD_SEPARATOR.sub(r"\1", text)
    return _SPACE.sub(" ", text)


def normalize_path(text: str) -> str:
    """Backslashes and the slashes of other scripts (U+2215, U+2216, full-width) as slashes,
    repeated slashes folded, ``./`` segments dropped."""
    if not text.isascii():
        text = text.translate(_SLASH_LIKE)
    text = _SLASHES.sub("/", text)
    return text.replace("/./", "/")


def utf8_overlong(text: str) -> str:
    """Overlong and odd UTF-8 encodings of ``.`` and ``/`` that old servers decode (``%c0%ae``)."""
    lowered = text.lower()
    if "%c0" not in lowered and "%e0" not in lowered and "%c1" not in lowered:
        return text
    return _OVERLONG.sub(lambda found: _OVERLONG_CHARS[found.group().lower()], text)


TRANSFORMS: dict[str, Transform] = {
    "decode": decode,
    "full_width": full_width,
    "url_decode": url_decode,
    "url_decode_plus": url_decode_plus,
    "url_decode_uni": url_decode_uni,
    "html_entity_decode": html_entity_decode,
    "lowercase": lowercase,
    "compress_whitespace": compress_whitespace,
    "remove_whitespace": remove_whitespace,
    "remove_nulls": remove_nulls,
    "remove_comments": remove_comments,
    "replace_comments": replace_comments,
    "cmd_line": cmd_line,
    "normalize_path": normalize_path,
    "utf8_overlong": utf8_overlong,
}


def chain(names: tuple[str, ...]) -> Transform:
    """One function applying ``names`` in order."""
    functions = [TRANSFORMS[name] for name in names]

    def apply(text: str) -> str:
        for function in functions:
            text = function(text)
        return text

    return apply
