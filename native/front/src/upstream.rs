//! The upstream: its keep-alive pool and how an exchange with it fails.
//!
//! Idle connections are kept per worker thread (a socket belongs to the event loop of the
//! thread that opened it), most recently used first, at most `max_idle` of them on each; a
//! connection goes back only when its response was read to the end and neither side said
//! `close`. A connection the upstream closed while idle (at its keep-alive timeout, say) is
//! left in the pool when it is taken: a peek finds its end (as the Python proxy drops it the
//! moment the upstream closes it), so a request that is not safe to retry never meets it.
//! One the upstream closes just as a request goes out is found out by that request, which
//! the proxy then retries once on a fresh connection when that is safe.

use std::fmt;
use std::io;
use std::mem::MaybeUninit;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use bytes::BytesMut;
use socket2::SockRef;
use tokio::net::TcpStream;

use crate::site::UpstreamSpec;

/// Why an exchange with the upstream failed; the status the client gets for it before its
/// response has started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamError {
    /// The connection could not be made.
    Unavailable(String),
    /// No connection, or no (more of the) response, within the timeout.
    Timeout(String),
    /// The upstream closed the connection before the response was complete.
    Closed { detail: String, received: bool },
    /// Not a valid HTTP/1.1 response.
    Bad(String),
}

impl UpstreamError {
    pub fn status(&self) -> u16 {
        match self {
            Self::Timeout(_) => 504,
            _ => 502,
        }
    }
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable(d) | Self::Timeout(d) | Self::Bad(d) | Self::Closed { detail: d, .. } => {
                f.write_str(d)
            }
        }
    }
}

/// Whether an idle `stream` is still open: a peek finds nothing to read yet (it would block).
/// Its end, bytes nobody asked for or an error each mean it cannot carry a request.
fn still_open(stream: &TcpStream) -> bool {
    let mut byte = [MaybeUninit::<u8>::uninit(); 1];
    matches!(SockRef::from(stream).peek(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

/// One connection to the upstream and the bytes read from it but not yet used.
#[derive(Debug)]
pub struct UpConn {
    pub stream: TcpStream,
    pub buf: BytesMut,
    /// It carried an exchange before this one (so it may have been closed while idle).
    pub reused: bool,
}

thread_local! {
    static WORKER: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Name the worker thread running here: each keeps its own idle connections, registered
/// with its own event loop.
pub fn set_worker(index: usize) {
    WORKER.with(|worker| worker.set(index));
}

fn worker() -> usize {
    WORKER.with(std::cell::Cell::get)
}

/// One upstream and its pools of idle connections, one a worker thread.
#[derive(Debug)]
pub struct Upstream {
    pub spec: UpstreamSpec,
    pub name: String,
    /// `Host` for a request that has none (HTTP/1.0).
    pub default_host: Vec<u8>,
    idle: Mutex<Vec<Vec<UpConn>>>,
}

impl Upstream {
    pub fn new(spec: UpstreamSpec) -> Self {
        let host = if spec.host.contains(':') {
            format!("[{}]", spec.host)
        } else {
            spec.host.clone()
        };
        let name = format!("{host}:{}", spec.port);
        let default_host = if spec.port == 80 {
            host.into_bytes()
        } else {
            name.clone().into_bytes()
        };
        Self {
            spec,
            name,
            default_host,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub fn read_timeout(&self) -> Duration {
        self.spec.read_timeout
    }

    /// An idle connection of this worker's that the upstream left open, most recently used first.
    pub fn take(&self) -> Option<UpConn> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let pool = idle.get_mut(worker())?;
        while let Some(conn) = pool.pop() {
            if still_open(&conn.stream) {
                return Some(conn);
            }
        }
        None
    }

    /// Keep `conn` for the next request, if there is room.
    pub fn put(&self, mut conn: UpConn) {
        conn.reused = true;
        if !conn.buf.is_empty() {
            return; // bytes nobody asked for: its state is unknown
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let index = worker();
        if idle.len() <= index {
            idle.resize_with(index + 1, Vec::new);
        }
        if let Some(pool) = idle.get_mut(index) {
            if pool.len() < self.spec.max_idle {
                pool.push(conn);
            }
        }
    }

    /// Close every idle connection.
    pub fn close_idle(&self) {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    /// A new connection, within the connect timeout.
    pub async fn connect(&self) -> Result<UpConn, UpstreamError> {
        let timeout = self.spec.connect_timeout;
        let connecting = TcpStream::connect((self.spec.host.as_str(), self.spec.port));
        let stream = match tokio::time::timeout(timeout, connecting).await {
            Err(_) => {
                return Err(UpstreamError::Timeout(format!(
                    "no connection to {} within {} s",
                    self.name,
                    seconds(timeout)
                )));
            }
            Ok(Err(error)) => {
                return Err(UpstreamError::Unavailable(format!(
                    "cannot connect to {}: {error}",
                    self.name
                )));
            }
            Ok(Ok(stream)) => stream,
        };
        // Small requests and answers go out at once, as nginx's do.
        let _ = stream.set_nodelay(true);
        Ok(UpConn {
            stream,
            buf: BytesMut::with_capacity(16 * 1024),
            reused: false,
        })
    }
}

/// Seconds as Python's `{:g}` writes them.
pub fn seconds(duration: Duration) -> String {
    let value = duration.as_secs_f64();
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    }
}
