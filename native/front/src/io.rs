//! A client connection's byte stream: plain TCP or TLS over it.

use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, DuplexStream};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

/// What the server needs of a client stream besides reading and writing.
pub trait ClientIo: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// TLS streams do not linger after a refusal (their close is the close_notify).
    fn is_tls(&self) -> bool;
    /// Ready when a read may find input (or the end of it): at once when the stream holds
    /// input already read from the socket, else when the socket is readable. Reads nothing.
    fn poll_input(&self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>>;
}

impl ClientIo for TcpStream {
    fn is_tls(&self) -> bool {
        false
    }

    fn poll_input(&self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.poll_read_ready(cx)
    }
}

impl ClientIo for TlsStream<TcpStream> {
    fn is_tls(&self) -> bool {
        true
    }

    fn poll_input(&self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let (tcp, session) = self.get_ref();
        // rustls processes every whole record it has received; it wants to read unless it
        // holds plaintext or a close_notify, which a read would return at once.
        if session.wants_read() {
            tcp.poll_read_ready(cx)
        } else {
            Poll::Ready(Ok(()))
        }
    }
}

/// One HTTP/2 stream's exchange, framed as HTTP/1.1 in memory (see [`crate::http2`]).
impl ClientIo for DuplexStream {
    /// Nothing to linger for: the stream's input ends when the HTTP/2 side says so.
    fn is_tls(&self) -> bool {
        true
    }

    fn poll_input(&self, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Write every part, in as few system calls as the stream takes.
pub async fn write_parts<W: AsyncWrite + Unpin + ?Sized>(io: &mut W, parts: &[&[u8]]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let total: usize = parts.iter().map(|p| p.len()).sum();
    if total == 0 {
        return Ok(());
    }
    let mut skip = 0usize;
    while skip < total {
        let mut slices = Vec::with_capacity(parts.len());
        let mut offset = 0usize;
        for part in parts {
            let end = offset + part.len();
            if end > skip {
                let from = skip.saturating_sub(offset);
                if let Some(rest) = part.get(from..) {
                    if !rest.is_empty() {
                        slices.push(std::io::IoSlice::new(rest));
                    }
                }
            }
            offset = end;
        }
        let written = io.write_vectored(&slices).await?;
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        skip += written;
    }
    Ok(())
}
