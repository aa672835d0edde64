"""The transformations a rule may apply before matching, after ModSecurity's ``t:`` functions.

Each rule names the ones it needs, in order; the native engine computes each distinct chain
once per value (``native/core/src/detection/transforms.rs``):

* ``decode``: everything an application or a browser may decode: overlong UTF-8 forms of
  ``.`` ``/`` ``\\``, URL escapes (``%xx``, ``%uxxxx``, ``\\uxxxx``, ``\\xxx``) until nothing
  changes (three rounds at most), HTML entities, full-width forms; null bytes go;
* ``url_decode``, ``url_decode_plus`` (``+`` as a space), ``url_decode_uni`` (IIS's
  ``%uxxxx``), ``html_entity_decode``, ``full_width``, ``utf8_overlong``;
* ``lowercase``, ``compress_whitespace``, ``remove_whitespace``, ``remove_nulls``;
* ``remove_comments`` (SQL and C comments become a space), ``replace_comments`` (C comments
  removed outright: ``SEL/**/ECT``), ``cmd_line`` (ModSecurity's ``cmdLine``),
  ``normalize_path`` (backslashes and look-alike slashes, repeated slashes, ``./``).
"""

TRANSFORMS = (
    "decode",
    "full_width",
    "url_decode",
    "url_decode_plus",
    "url_decode_uni",
    "html_entity_decode",
    "lowercase",
    "compress_whitespace",
    "remove_whitespace",
    "remove_nulls",
    "remove_comments",
    "replace_comments",
    "cmd_line",
    "normalize_path",
    "utf8_overlong",
)
