"""The admin HTTP API of the protecting server (an ASGI 3 application)."""

from stockade.admin.app import AdminApp
from stockade.admin.openapi import openapi

__all__ = ["AdminApp", "openapi"]
