"""The protecting server: reverse proxy and static files, Basic-auth directories, admin API.

The application is ``stockade.server.app.StockadeApp`` and ``stockade serve`` runs
``stockade.server.run.serve``; this package imports neither, so that the configuration can
use :mod:`stockade.server.settings` without importing the server.
"""
