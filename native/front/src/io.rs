//! A client connection's byte stream: plain TCP or TLS over it.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

/// What the server needs of a client stream besides reading and writing.
pub trait ClientIo: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// The TCP socket under it.
    fn tcp(&self) -> &TcpStream;
    /// TLS streams do not linger after a refusal (their close is the close_notify).
    fn is_tls(&self) -> bool;
}

impl ClientIo for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }

    fn is_tls(&self) -> bool {
        false
    }
}

impl ClientIo for TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }

    fn is_tls(&self) -> bool {
        true
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
