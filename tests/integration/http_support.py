"""Helpers for the server tests over real sockets: raw-socket clients, test certificates.

- :class:`Wire` is a raw connection that reads responses with the stdlib parser
  (``http.client.HTTPResponse``) from one shared buffer, so pipelined answers can be read
  one after the other.
- :func:`make_certificates` writes a CA, a server certificate and a client certificate with
  the ``openssl`` command-line tool.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import socket
import ssl
import struct
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO


class _OneFile:
    """Hands ``http.client.HTTPResponse`` the same buffered file for every response, never closed by it."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file

    def makefile(self, *args: Any, **kwargs: Any) -> _OneFile:
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self.file, name)

    def close(self) -> None:
        pass


class Wire:
    """One raw client connection."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.file: BinaryIO = sock.makefile("rb")  # type: ignore[assignment]

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def response(self, method: str = "GET") -> http.client.HTTPResponse:
        """Read the next response, body included (``.body``)."""
        response = http.client.HTTPResponse(_OneFile(self.file), method=method)  # type: ignore[arg-type]
        response.begin()
        response.body = response.read()  # type: ignore[attr-defined]
        return response

    def read_all(self) -> bytes:
        """Everything until the server closes; a reset counts as the end too."""
        chunks = []
        try:
            while chunk := self.file.read1(65536):  # type: ignore[attr-defined]
                chunks.append(chunk)
        except ConnectionResetError:
            pass
        return b"".join(chunks)

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def reset(self) -> None:
        """Close abortively (a TCP reset): how a client that is gone, not merely done sending, looks."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close()

    def half_close(self) -> None:
        """``shutdown(SHUT_WR)``: the client sends nothing more but still reads."""
        self.sock.shutdown(socket.SHUT_WR)

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TlsWire:
    """A TLS client on memory BIOs, so that it can send close_notify and still read (``ssl`` sockets cannot)."""

    def __init__(self, port: int, context: ssl.SSLContext, server_hostname: str = "example.test") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname=server_hostname)
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush()
                self._receive()
        self._flush()

    def _flush(self) -> None:
        data = self.outgoing.read()
        if data:
            self.sock.sendall(data)

    def _receive(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.incoming.write(data)
        return True

    def send(self, data: bytes) -> None:
        self.tls.write(data)
        self._flush()

    def close_notify(self) -> None:
        """Send close_notify: the client is done sending (TLS's half-close)."""
        with contextlib.suppress(ssl.SSLWantReadError):
            self.tls.unwrap()
        self._flush()

    def half_close(self) -> None:
        """``shutdown(SHUT_WR)`` under TLS, without close_notify."""
        self.sock.shutdown(socket.SHUT_WR)

    def read_all(self) -> tuple[bytes, str]:
        """The plaintext until the end, and how it ended: ``close_notify``, ``eof`` or ``reset``."""
        received = b""
        while True:
            try:
                chunk = self.tls.read(65536)
            except ssl.SSLWantReadError:
                try:
                    if not self._receive():
                        return received, "eof"
                except ConnectionResetError:
                    return received, "reset"
                continue
            except ssl.SSLZeroReturnError:
                return received, "close_notify"
            if not chunk:
                return received, "close_notify"
            received += chunk

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> TlsWire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def responses(data: bytes) -> list[http.client.HTTPResponse]:
    """The HTTP/1.1 responses one after the other in ``data`` (bodies in ``.body``)."""
    file = io.BytesIO(data)
    found = []
    while file.tell() < len(data):
        response = http.client.HTTPResponse(_OneFile(file))  # type: ignore[arg-type]
        response.begin()
        response.body = response.read()  # type: ignore[attr-defined]
        found.append(response)
    return found


def closed_without_a_byte(sock: socket.socket) -> bool:
    """The server closed (FIN or reset) without sending anything."""
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


def request(method: str, path: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: test", *(f"{k}: {v}" for k, v in headers)]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass(frozen=True)
class Certificates:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def client_context(self, *, with_certificate: bool) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca)
        if with_certificate:
            context.load_cert_chain(self.client_cert, self.client_key)
        return context


def make_certificates(directory: Path) -> Certificates:
    """A test CA, a server certificate for ``localhost``/``example.test``/127.0.0.1, a client certificate."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    days = ("-days", "2")
    ca_subject = "/C=DE/O=Stockade Test/CN=Test CA"
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        *days,
        "-subj",
        ca_subject,
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    )
    (directory / "server.ext").write_text("subjectAltName=DNS:localhost,DNS:example.test,IP:127.0.0.1\n")
    # An X.509 v3 client certificate: rustls (the native front) refuses v1 ones, as WebPKI does.
    (directory / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, subject in (("server", "/CN=localhost"), ("client", "/CN=client one")):
        openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", f"{name}.key", "-out", f"{name}.csr"
        )
        extensions = ("-extfile", f"{name}.ext")
        openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            *days, "-out", f"{name}.pem", *extensions,
        )  # fmt: skip
    return Certificates(
        directory / "ca.pem",
        directory / "server.pem",
        directory / "server.key",
        directory / "client.pem",
        directory / "client.key",
    )
