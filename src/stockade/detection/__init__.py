"""Recognising malicious requests: a rule pack as data, transformations, tokenisers, scoring.

The engine reads the whole request (path and its decodings, query arguments, form and JSON
body fields up to a limit, cookies, named headers), applies each rule's transformations, and
adds the scores of the rules that fire; a request reaching the threshold is malicious. See
``docs/detection.md``.
"""

from stockade.detection.engine import CLEAN, DEFAULT_THRESHOLD, Engine, Hit, Settings, Verdict
from stockade.detection.pack import CATEGORIES, MAX_LEVEL, Rule, builtin_pack, load_pack, parse_pack
from stockade.detection.profiles import PROFILES, Profile
from stockade.detection.request import DEFAULT_BODY_LIMIT, Request, request_from

__all__ = [
    "CATEGORIES",
    "CLEAN",
    "DEFAULT_BODY_LIMIT",
    "DEFAULT_THRESHOLD",
    "MAX_LEVEL",
    "PROFILES",
    "Engine",
    "Hit",
    "Profile",
    "Request",
    "Rule",
    "Settings",
    "Verdict",
    "builtin_pack",
    "load_pack",
    "parse_pack",
    "request_from",
]
