"""The protecting server: static files behind Basic-auth directories with login lockout."""

from stockade.server.app import StockadeApp
from stockade.server.run import serve

__all__ = ["StockadeApp", "serve"]
