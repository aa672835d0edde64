"""TLS for a listener: the server context, and what a handshake told about the client.

The context accepts TLS 1.2 and later. With ``client_ca``, clients are asked for a
certificate (``optional``) or must present one (``required``); a certificate that does not
verify against the CA fails the handshake either way, so a certificate seen after the
handshake is a verified one. The SNI name is recorded by a callback during the handshake,
because ``ssl`` offers no way to read it back on the server side.
"""

from __future__ import annotations

import ssl
from typing import Any

from stockade.errors import StockadeError
from stockade.server.settings import TlsFacts, TlsSettings

_VERIFY = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}
_SNI_ATTRIBUTE = "stockade_sni"
# RFC 4514 section 3: the short names; other attributes keep the name ``ssl`` gives them.
_SHORT_NAMES = {
    "commonName": "CN",
    "countryName": "C",
    "localityName": "L",
    "stateOrProvinceName": "ST",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "streetAddress": "STREET",
    "domainComponent": "DC",
    "userId": "UID",
}


class TlsSetupError(StockadeError):
    """A listener's certificate, key or client CA cannot be loaded."""

    def __init__(self, what: str, path: str, reason: str) -> None:
        super().__init__(what, path, reason)
        self.what = what
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot load the TLS {self.what} {self.path}: {self.reason}"


def server_context(settings: TlsSettings) -> ssl.SSLContext:
    """An ``SSLContext`` for a listener (TLS 1.2+, HTTP/1.1 by ALPN, SNI recorded)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # No renegotiation (TLS 1.2): a client cannot make a write wait on a read (see tls_stream).
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_RENEGOTIATION
    try:
        context.load_cert_chain(settings.certfile, settings.keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise TlsSetupError("certificate or key", f"{settings.certfile}", _reason(exc)) from None
    if settings.client_ca is not None:
        try:
            context.load_verify_locations(cafile=settings.client_ca)
        except (OSError, ssl.SSLError) as exc:
            raise TlsSetupError("client CA", f"{settings.client_ca}", _reason(exc)) from None
    context.verify_mode = _VERIFY[settings.client_auth] if settings.client_ca is not None else ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    context.sni_callback = _record_sni
    return context


def _reason(exc: OSError) -> str:
    if isinstance(exc, ssl.SSLError):
        return str(exc.reason or exc)
    return exc.strerror or str(exc)


def _record_sni(ssl_object: Any, server_name: str | None, context: ssl.SSLContext) -> None:
    setattr(ssl_object, _SNI_ATTRIBUTE, server_name)


def facts_of(ssl_object: ssl.SSLObject | None) -> TlsFacts | None:
    """The TLS facts of a finished handshake (``None`` for a plain connection)."""
    if ssl_object is None:
        return None
    certificate = ssl_object.getpeercert()
    issuer = rfc4514(certificate.get("issuer", ())) if certificate else None
    return TlsFacts(
        sni=getattr(ssl_object, _SNI_ATTRIBUTE, None),
        version=ssl_object.version(),
        client_auth=bool(certificate),
        client_ca=issuer,
    )


def rfc4514(name: Any) -> str:
    """A distinguished name as ``ssl`` reports it (RDNs, most general first) in RFC 4514 form."""
    rdns = []
    for rdn in reversed(tuple(name)):
        rdns.append("+".join(f"{_SHORT_NAMES.get(key, key)}={_escape(str(value))}" for key, value in rdn))
    return ",".join(rdns)


def _escape(value: str) -> str:
    escaped = "".join("\\" + c if c in ',+"\\<>;' else c for c in value)
    if escaped.startswith(("#", " ")):
        escaped = "\\" + escaped
    if value.endswith(" ") and len(value) > 1:
        escaped = escaped[:-1] + "\\ "
    return escaped
