"""TLS of a listener, checked before anything is bound: the certificate, its key and the client CA.

The native front loads them itself (rustls); they are loaded here first, so that a file
that cannot be read or parsed is refused at startup with the file named and the reason,
before a socket is bound.
"""

from __future__ import annotations

import ssl

from stockade.errors import StockadeError
from stockade.server.settings import TlsSettings


class TlsSetupError(StockadeError):
    """A listener's certificate, key or client CA cannot be loaded."""

    def __init__(self, what: str, path: str, reason: str) -> None:
        super().__init__(what, path, reason)
        self.what = what
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot load the TLS {self.what} {self.path}: {self.reason}"


def check_tls(settings: TlsSettings) -> None:
    """Load the listener's certificate chain, key and client CA; raise :class:`TlsSetupError` if one fails."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(settings.certfile, settings.keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise TlsSetupError("certificate or key", f"{settings.certfile}", _reason(exc)) from None
    if settings.client_ca is not None:
        try:
            context.load_verify_locations(cafile=settings.client_ca)
        except (OSError, ssl.SSLError) as exc:
            raise TlsSetupError("client CA", f"{settings.client_ca}", _reason(exc)) from None


def _reason(exc: OSError) -> str:
    if isinstance(exc, ssl.SSLError):
        return str(exc.reason or exc)
    return exc.strerror or str(exc)
