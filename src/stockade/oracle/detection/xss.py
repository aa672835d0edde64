"""Cross-site scripting by tokenising HTML, after libinjection's published html5 approach.

A value is read as HTML from the states an application may put it in: as text between tags,
and inside an attribute value quoted with ``"``, with ``'``, or not quoted (the value then
starts by closing that attribute, ``" onfocus=...``). A small state machine, after the
HTML5 tokenizer, reads tags, attribute names and attribute values from each state. The value
is script-capable when it holds:

* a tag that runs or loads script or changes where the page goes: ``script``, ``iframe``,
  ``object``, ``embed``, ``base``, ``meta``, ``link``, ``style``, ``svg`` and ``math`` (and any
  tag starting with them), ``frame``, ``applet``, ``form`` with an action, ...;
* an event handler attribute (``on`` and letters) on any tag, or after a broken attribute;
* a URL attribute (``href``, ``src``, ``action``, ``formaction``, ``data``, ``xlink:href``, ...)
  whose value is a ``javascript:``, ``vbscript:`` or ``data:`` text/HTML/SVG URL, after
  entity decoding and with the spaces and control characters browsers ignore removed;
* a ``style`` attribute with ``expression(``, ``url(javascript:`` or ``behavior:``;
* an SVG animation that sets an event handler or a link (``attributeName="onload"``);
* a closing ``</script>``, ``</title>``, ``</textarea>``, ``</style>`` followed by a tag;
* conditional and processing comments: ``<!--[if``, ``<![CDATA[`` with markup, ``<?import``.

Ordinary markup (``<b>``, ``<a href="https://...">``, ``<img src="photo.jpg">``) and text
that holds ``<`` (``a<b``, ``<3``) are not script-capable. :func:`script_context` reads
values that break out of a JavaScript string (``';alert(1)//``, ``"-alert(1)-"``).
"""

from __future__ import annotations

import html
import re

from stockade.oracle.detection.gate import Search


def _words(text: str) -> frozenset[str]:
    """The white-space separated words of ``text``: long word lists stay readable as text."""
    return frozenset(text.split())


_TAG_NAME = re.compile(r":?[a-zA-Z][^\s/>\x00]*")  # <:vmlframe>: old IE's default namespace
_ATTR_NAME = re.compile(r"[^\s\"'>/=\x00][^\s\"'>/=\x00]*")
_SPACES = " \t\n\r\f\v\x00/"  # "/" separates attributes too: <svg/onload=...>
_DANGEROUS_TAGS = _words(
    """
    script iframe frame frameset object embed applet base meta link style svg math xml xss import
    vmlframe handler listener isindex noscript bgsound layer ilayer portal template xmp plaintext
    """
)
_DANGEROUS_PREFIXES = ("svg", "xsl", "math", "script", "iframe")
# Event handler attributes of HTML, SVG and the old browsers' extensions (without their "on").
EVENTS = _words(
    """
    abort activate afterprint afterscriptexecute afterupdate animationcancel animationend
    animationiteration animationstart auxclick beforeactivate beforecopy beforecut beforedeactivate
    beforeeditfocus beforeinput beforeprint beforescriptexecute beforetoggle beforeunload
    beforeupdate begin blur bounce cancel canplay canplaythrough cellchange change click close
    contextlost contextmenu contextrestored controlselect copy cuechange cut dataavailable
    datasetchanged datasetcomplete dblclick deactivate drag dragdrop dragend dragenter dragexit
    dragleave dragover dragstart drop durationchange emptied end ended error errorupdate filterchange
    finish focus focusin focusout formdata fullscreenchange fullscreenerror gotpointercapture
    hashchange help input invalid keydown keypress keyup languagechange layoutcomplete load
    loadeddata loadedmetadata loadend loadstart losecapture lostpointercapture message messageerror
    mousedown mouseenter mouseleave mousemove mouseout mouseover mouseup mousewheel move moveend
    movestart mozfullscreenchange offline online pagehide pagereveal pageshow pageswap paste pause
    play playing pointercancel pointerdown pointerenter pointerleave pointermove pointerout
    pointerover pointerrawupdate pointerup popstate progress propertychange ratechange
    readystatechange rejectionhandled repeat reset resize resizeend resizestart rowenter rowexit
    rowsdelete rowsinserted scroll scrollend search securitypolicyviolation seek seeked seeking
    select selectionchange selectstart show slotchange stalled start storage submit suspend timer
    timeupdate toggle touchcancel touchend touchmove touchstart transitioncancel transitionend
    transitionrun transitionstart unhandledrejection unload volumechange waiting webkitanimationend
    webkitanimationiteration webkitanimationstart webkittransitionend wheel zoom
    """
)
_URL_ATTRIBUTES = _words(
    """
    href src action formaction data xlink:href background dynsrc lowsrc poster codebase code archive
    cite longdesc usemap profile xml:base from to values by folder datasrc srcset icon manifest
    """
)
_SCRIPT_URL = re.compile(
    r"(?:java|vb|live|mocha|j|ecma)script:|mocha:|livescript:|data:(?:text/html|text/xml|image/svg|application/)", re.I
)
_ATTRIBUTE_START = re.compile(r"\s*[a-z][\w:-]*\s*=", re.I)
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]+|&(?:tab|newline);", re.I)
_STYLE = re.compile(
    r"expression\s*\(|javascript:|vbscript:|behavior\s*:|-moz-binding|@import"
    r"|url\s*\(\s*['\"]?\s*(?:java|vb)script",
    re.I,
)
_RAW_TEXT_CLOSE = re.compile(
    r"</(?:script|style|title|textarea|noscript|xmp|iframe|noembed|template|option|select)\b[^>]*>\s*<[a-z!/]", re.I
)
_COMMENT = re.compile(
    r"<!--\s*\[if|<!\[cdata\[[^\]]*<|<!\[endif\]|<\?import|<!--[^>]*<\s*(?:script|img|svg|iframe)", re.I
)


def is_xss(value: str) -> bool:
    """Whether ``value`` holds script-capable markup in any of the states an application may put it."""
    if "<" not in value and "=" not in value and not any(q in value for q in "\"'`"):
        return False
    if "<" in value and (_RAW_TEXT_CLOSE.search(value) or _COMMENT.search(value)):
        return True
    if "<" in value and _scan(value, 0, in_tag=False):
        return True
    for quote in "\"'`":
        start = value.find(quote)
        if start >= 0 and _scan(value, start + 1, in_tag=True):
            return True
    # The value placed among a tag's attributes: <div {value}>.
    if _ATTRIBUTE_START.match(value) and _scan(value, 0, in_tag=True):
        return True
    # The value as an unquoted attribute value: it ends at the first space.
    space = _first_space(value)
    return space > 0 and "=" in value[space:] and _scan(value, space, in_tag=True)


def _first_space(value: str) -> int:
    for index, char in enumerate(value):
        if char in " \t\n\r\f":
            return index
    return -1


def _scan(text: str, i: int, *, in_tag: bool) -> bool:  # noqa: PLR0915 - one state machine
    """Read ``text`` from ``i``, in a tag's attributes (``in_tag``) or as text, for script-capable markup."""
    size = len(text)
    tag = ""  # "": attributes read from a broken attribute, not from a tag of the value's own
    while i < size:
        if not in_tag:
            i = text.find("<", i)
            if i < 0:
                return False
            i += 1
            if i < size and text[i] == "/":  # a closing tag: read its name, nothing of it runs
                i += 1
            found = _TAG_NAME.match(text, i)
            if found is None:
                continue
            name = found.group().lower()
            tag = name.rsplit(":", 1)[-1]  # <x:script xmlns:x="...xhtml">, <svg:svg>
            if (tag in _DANGEROUS_TAGS or name.startswith(_DANGEROUS_PREFIXES)) and text[i - 1] != "/":
                return True
            i = found.end()
            in_tag = True
            continue
        # Attributes, up to the end of the tag.
        while i < size and text[i] in _SPACES:
            i += 1
        if i >= size:
            return False
        char = text[i]
        if char == ">":
            in_tag = False
            i += 1
            continue
        if char in "\"'`":  # stray quote: skip it, as browsers do in attribute names
            i += 1
            continue
        found = _ATTR_NAME.match(text, i)
        if found is None:
            i += 1
            continue
        name = found.group().lower()
        i = found.end()
        while i < size and text[i] in " \t\n\r\f\v":  # old IE read a vertical tab as a space
            i += 1
        value: str | None = None
        if i < size and text[i] == "=":
            i += 1
            while i < size and text[i] in " \t\n\r\f\v":
                i += 1
            if i < size and text[i] in "\"'`":
                quote = text[i]
                end = text.find(quote, i + 1)
                end = size if end < 0 else end
                value = text[i + 1 : end]
                i = end + 1
            else:
                start = i
                while i < size and text[i] not in " \t\n\r\f>":
                    i += 1
                value = text[start:i]
        if _dangerous_attribute(name, value, tag):
            return True
        if tag and value is not None and name.startswith("on") and len(name) > 4 and name[2:].isalpha():
            return True  # any on* handler in a tag the value opened: <x onxxx=1> probes for filters
    return False


def _dangerous_attribute(name: str, value: str | None, tag: str) -> bool:
    if value is None:
        return False  # an attribute without a value does nothing here
    if name.startswith("on") and name[2:] in EVENTS:
        return True
    name = name.rsplit(":", 1)[-1] if name.startswith(("xlink:", "xml:")) is False else name
    if name in _URL_ATTRIBUTES:
        url = _URL_NOISE.sub("", html.unescape(value) if "&" in value else value)
        if _SCRIPT_URL.match(url):
            return True
    if name == "srcdoc" and "<" in html.unescape(value):
        return True
    if name == "attributename" and _ANIMATED.match(value.strip()):
        return True  # SVG <set>/<animate> writing a handler or a link: attributeName="onload"
    if "&{" in value:  # Netscape's JavaScript entities: <br size="&{alert(1)}">
        return True
    if name == "style" and _STYLE.search(_css(html.unescape(value) if "&" in value else value)):
        return True
    return name in ("formaction", "xmlns:ev", "ev:event") or (name == "action" and tag in ("form", "isindex"))


_ANIMATED = re.compile(r"on[a-z]{3,}$|(?:xlink:)?href$", re.I)
_CSS_NOISE = re.compile(r"/\*.*?\*/|\\(?![0-9a-f])", re.I | re.S)
_CSS_ESCAPE = re.compile(r"\\([0-9a-f]{1,6})\s?", re.I)


def _css(value: str) -> str:
    """A style's text as CSS reads it: comments removed, ``\\65`` escapes decoded (``expr/**/ession``)."""
    if "/*" not in value and "\\" not in value:
        return value
    value = _CSS_ESCAPE.sub(lambda found: chr(min(int(found.group(1), 16), 0x10FFFF)), value)
    return _CSS_NOISE.sub("", value)


# JavaScript: a value that closes a string or a script and calls something, or a call of the
# functions that proofs of concept and cookie thieves use.
_JS_BREAK = re.compile(
    r"""(?:^|[^\\\w])['"`]\s*\)*\s*(?:[-+*/%^|&,;?:]|\|\||&&)\s*\(*\s*      # close a string, an operator
        (?:[\w$.\[\]'"`]+\s*(?:\(|`)|new\s+\w|(?:top|self|window|this|parent|document|globalThis)\s*\[)  # then a call
    |(?:^|[^\\\w])['"`]\s*;\s*\w+\s*[=(]                                      # "; x=..."
    |</script\s*>
    """,
    re.VERBOSE | re.IGNORECASE,
)
_JS_SINK = Search(
    r"""\b(?:alert|prompt|confirm)\s*(?:`|\)\s*\()                                       # alert`1`, (alert)(1)
    |\b(?:alert|prompt|confirm)\s*\(\s*(?:document\.|window\.|/|`|\d+\s*\)\s*(?:[;/<>]|$)|['"][^'"]*xss)
    |\b(?:eval|settimeout|setinterval|execscript|function|atob|fromcharcode|importscripts)\s*\(\s*(?:['"`]|atob|unescape|decodeuri|string\.|\w+\s*\()
    |\bdocument\s*\.\s*(?:cookie|domain|write(?:ln)?\s*\(|location\s*=|body\.innerhtml)
    |\b(?:window|document|top|self)\s*\.\s*location\s*(?:\.\s*href\s*)?=
    |\b(?:window|top|self|this|parent|globalThis)\s*\[\s*['"`/]
    |\[\s*['"`]constructor['"`]\s*\]|\bconstructor\s*\.\s*constructor\b|\bconstructor\s*\(\s*['"`]
    |\bstring\s*\.\s*fromcharcode\s*\(|\binnerhtml\s*=|\bouterhtml\s*=|\.\s*src\s*=\s*['"`]?(?:https?:)?//
    |\bnew\s+image\s*\(\s*\)\s*\.\s*src|\bfetch\s*\(\s*['"`]?(?:https?:)?//|\bxmlhttprequest\b|\bnavigator\.sendbeacon
    |\b(?:settimeout|setinterval|eval|function|execscript)\s*\(\s*(?:location|name|document\.|window\.|top\.|self\.|atob|unescape|decodeuricomponent)
    |\.\s*(?:parentnode|innerhtml|outerhtml)\s*(?:=|\.|\()|\bdocument\s*\.\s*(?:body|createelement|queryselector|getelementbyid)\s*[.(]
    |\$\{\s*(?:alert|prompt|confirm|eval|function)\s*\}|\+ad[w4]-|\bon(?:error|load)\s*=\s*(?:alert|eval|prompt)\b
    |\bjavascript\s*:\s*[\w$.\[\]'"`]+\s*(?:\(|`|=)|\bvbscript\s*:\s*\w|\bdata\s*:\s*text/html\s*[;,]
    """,
    verbose=True,
)


def script_context(value: str) -> bool:
    """Whether ``value`` breaks out of a JavaScript string into code, or calls the functions attacks call."""
    return _JS_SINK(value) or bool(_JS_BREAK.search(value))
