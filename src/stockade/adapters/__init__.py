"""Adapters translate between the outside world (ASGI, WSGI, the protecting server) and the engine."""
