"""The 58 primitives of BFE's condition language, grouped by the part of the request they read.

Importing this package registers them all in :data:`stockade.conditions.registry.REGISTRY`.
"""

from stockade.conditions.primitives import header_body, ip, query_cookie, request, session, time_range

__all__ = ["header_body", "ip", "query_cookie", "request", "session", "time_range"]
