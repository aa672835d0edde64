"""The parts of a request rules read (the targets a rule names).

* ``path``: the canonical path and the raw path decoded up to three times (distinct forms
  only), without RFC 8615's ``/.well-known`` folder;
* ``path_raw``: the path as sent, before any decoding;
* ``query_raw``: the query as sent;
* ``args``: every query argument, form field (urlencoded or multipart, file names included),
  JSON member and XML attribute or text as a ``name=value`` line, decoded once; any other
  body as text;
* ``cookies``: every cookie as a ``name=value`` line, decoded once;
* ``user_agent``, ``referer``: those headers; ``headers``: every named header's value
  (User-Agent, Referer and those the operator adds); ``any_header``: every header's value
  but the cookies (for the few rules whose attacks arrive in any header: Log4Shell,
  Shellshock);
* ``method``: the method, when it is not ``GET``.

The native engine reads them (``native/core/src/detection/parts.rs``); encoded text (a query,
a form body, a ``Cookie`` header) is read through the gate, so that only the fields holding
an anchor are split and decoded.
"""

TARGETS = (
    "path",
    "path_raw",
    "query_raw",
    "args",
    "cookies",
    "user_agent",
    "referer",
    "headers",
    "any_header",
    "method",
)
VALUE_TARGETS = ("query_raw", "args", "cookies", "user_agent", "referer", "headers", "any_header")
GATED_TARGETS = ("query_raw", "args", "cookies")  # read through the gate
DEFAULT_HEADERS = ("user-agent", "referer")
