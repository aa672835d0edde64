//! A client connection's byte stream: plain TCP or TLS over it.

use std::pin::Pin;
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
///
/// A vectored write goes into the pipe as one write (tokio's pipe takes only the first
/// part of one), so that a response's head and its first bytes of body are read together
/// and leave in one TLS write: HEADERS and DATA in the same flush.
#[derive(Debug)]
pub struct Pipe(pub DuplexStream);

/// Parts up to this size are joined into one write.
const JOINED: usize = 16 * 1024;

impl AsyncRead for Pipe {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Pipe {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total > JOINED {
            return Pin::new(&mut self.0).poll_write_vectored(cx, bufs);
        }
        let joined: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
        Pin::new(&mut self.0).poll_write(cx, &joined)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl ClientIo for Pipe {
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
