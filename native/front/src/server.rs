//! One HTTP/1.1 client connection: requests read in turn, each decided by the request
//! filter, then forwarded, served from the files, answered or dropped.
//!
//! The timeouts are the Python server's: `header_timeout` from the connection (or the end
//! of the previous response) to the end of a request's headers, `keepalive_timeout` for an
//! idle connection between requests, `body_timeout` between two pieces of a request body;
//! a timeout closes the connection without an answer. Pipelined requests wait in the read
//! buffer (reading stops once it holds more than `max_header_bytes`); a client that
//! half-closes after whole requests still gets their answers. A request the front refuses
//! itself (400, 403, 413, 431) is answered, then the connection closes lingering: the write
//! side is shut first and the client's remaining input is read and dropped for a moment,
//! so that it gets the answer rather than a reset.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use crate::accesslog::Entry;
use crate::http1::{self, Chunked, Decoded, Framing, Head, HeadError, RequestFraming};
use crate::io::{ClientIo, write_parts};
use crate::pages;
use crate::phases::{ConnFacts, Decision, Filtered, RequestView};
use crate::runtime::Shared;
use crate::site::Site;
use crate::stats::Stats;

const LINGER: Duration = Duration::from_secs(2);
const READ_SIZE: usize = 16 * 1024;

/// How an exchange left the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Read the next request.
    KeepAlive,
    /// Close after what was written.
    Close,
    /// Shut the write side, read and drop the rest for a moment, then close.
    Linger,
    /// Close at once (a timeout, a response that cannot complete).
    Drop,
    /// Close at once because the request filter said so (mod_block's `CLOSE`): an HTTP/2
    /// connection then ends as a whole, not only the stream.
    Hangup,
}

/// What an exchange answered, for the access log and the response filter.
#[derive(Debug, Clone, Copy)]
pub struct Served {
    pub end: End,
    pub status: u16,
    pub bytes: u64,
}

impl Served {
    pub fn new(end: End, status: u16, bytes: u64) -> Self {
        Self { end, status, bytes }
    }
}

/// A client connection and what has been read from it.
#[derive(Debug)]
pub struct Conn<S: ClientIo> {
    pub io: S,
    pub buf: BytesMut,
    pub facts: Arc<ConnFacts>,
    pub shared: Arc<Shared>,
    /// The client sent its end of input after whole requests.
    pub client_done: bool,
    pub stop: watch::Receiver<bool>,
    /// The connection carries one HTTP/2 stream (see [`crate::http2`]).
    pub h2: bool,
}

/// Append `date: ...\r\n`, made once a second per thread.
pub fn push_date(out: &mut Vec<u8>) {
    with_date(|line| out.extend_from_slice(line));
}

/// `date: ...\r\n` as a new buffer.
pub fn date_line() -> Vec<u8> {
    with_date(<[u8]>::to_vec)
}

fn with_date<T>(use_it: impl FnOnce(&[u8]) -> T) -> T {
    thread_local! {
        static CACHE: std::cell::RefCell<(u64, Vec<u8>)> = const { std::cell::RefCell::new((0, Vec::new())) };
    }
    let now = SystemTime::now();
    let second = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.0 != second || cache.1.is_empty() {
            let mut line = b"date: ".to_vec();
            line.extend_from_slice(httpdate::fmt_http_date(now).as_bytes());
            line.extend_from_slice(b"\r\n");
            *cache = (second, line);
        }
        use_it(&cache.1)
    })
}

impl<S: ClientIo> Conn<S> {
    pub fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Serve requests until the connection ends; how it ended.
    pub async fn run(mut self) -> End {
        let end = self.requests().await;
        // Boxed, as the exchange is: see `requests`.
        Box::pin(self.finish(end)).await;
        end
    }

    /// Read and answer requests in turn; how to end the connection.
    async fn requests(&mut self) -> End {
        let mut head_deadline = Instant::now() + self.shared.site.load().limits.header_timeout;
        let mut idle_deadline: Option<Instant> = None;
        loop {
            let site = self.shared.site.load_full();
            let head = match self.read_head(&site, head_deadline, idle_deadline).await {
                Ok(head) => head,
                Err(end) => return end,
            };
            // The exchange lives on the heap while it lasts: the connection's task holds
            // only what waiting for the next request needs.
            let served = Box::pin(self.exchange(head, &site)).await;
            if served.end != End::KeepAlive {
                return served.end;
            }
            if self.stopping() {
                return End::Close;
            }
            if self.buf.is_empty() {
                if self.client_done {
                    return End::Close;
                }
                // An idle connection holds no read buffer (one is taken when input arrives).
                self.buf = BytesMut::new();
            }
            let now = Instant::now();
            head_deadline = now + site.limits.header_timeout;
            idle_deadline = Some(now + site.limits.keepalive_timeout);
        }
    }

    /// Wait for a whole request head; `Err` says how to end the connection instead.
    async fn read_head(
        &mut self,
        site: &Site,
        head_deadline: Instant,
        idle_deadline: Option<Instant>,
    ) -> Result<Head, End> {
        let limits = &site.limits;
        loop {
            match http1::parse_request(&mut self.buf, limits.max_header_bytes) {
                Ok(Some(mut head)) => {
                    head.h2 = self.h2;
                    return Ok(head);
                }
                Ok(None) => {}
                Err(HeadError::TooLarge) => return Err(self.refuse(431, false, true).await.end),
                Err(HeadError::Malformed) => return Err(self.refuse(400, false, true).await.end),
            }
            if self.client_done {
                return Err(End::Drop); // an end of input inside a request (or between them)
            }
            let idle = self.buf.is_empty();
            let deadline = if idle {
                idle_deadline.unwrap_or(head_deadline)
            } else {
                head_deadline
            };
            let mut stop = self.stop.clone();
            if idle && self.buf.capacity() == 0 {
                // Wait for input before taking a buffer to read it into.
                tokio::select! {
                    ready = std::future::poll_fn(|cx| self.io.poll_input(cx)) => {
                        if ready.is_err() {
                            return Err(End::Drop);
                        }
                    }
                    () = tokio::time::sleep_until(deadline.into()) => return Err(End::Drop),
                    _ = stop.wait_for(|stopping| *stopping) => return Err(End::Close),
                }
            }
            if self.buf.capacity() - self.buf.len() < READ_SIZE / 2 {
                self.buf.reserve(READ_SIZE);
            }
            tokio::select! {
                read = self.io.read_buf(&mut self.buf) => match read.or_else(eof) {
                    Ok(0) => {
                        self.client_done = true;
                        if self.buf.is_empty() {
                            return Err(End::Close);
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return Err(End::Drop),
                },
                () = tokio::time::sleep_until(deadline.into()) => return Err(End::Drop),
                _ = stop.wait_for(|stopping| *stopping), if idle => return Err(End::Close),
            }
        }
    }

    /// One request, from its head to the end of its response.
    async fn exchange(&mut self, head: Head, site: &Arc<Site>) -> Served {
        let started = Instant::now();
        let shared = Arc::clone(&self.shared);
        Stats::add(&shared.stats.requests);
        let head_request = head.method() == b"HEAD";
        let served = match self.checked(&head, site) {
            Err(status) => {
                Stats::add(&shared.stats.bad_requests);
                self.refuse(status, head_request, true).await
            }
            Ok(framing) => self.decided(&head, &framing, site).await,
        };
        if served.status != 0 {
            shared.stats.response(served.status);
        }
        if site.access_log && served.status != 0 {
            if let Some(log) = &shared.access_log {
                log.record(&Entry {
                    time: SystemTime::now(),
                    client: self.facts.client().ip(),
                    method: head.method(),
                    path: head.target(),
                    status: served.status,
                    bytes: served.bytes,
                    duration: started.elapsed(),
                    listener: &self.facts.listener_name,
                });
            }
        }
        served
    }

    /// The front's own checks of a head: its framing and the limits; `Err` is the status.
    fn checked(&self, head: &Head, site: &Site) -> Result<RequestFraming, u16> {
        let framing = http1::request_framing(head).map_err(|_| 400u16)?;
        if framing.websocket {
            return Err(403);
        }
        if let (Framing::Length(length), Some(limit)) = (&framing.body, site.limits.max_body_bytes) {
            if *length > limit {
                return Err(413);
            }
        }
        if head.minor == 1 && head.first(b"host").is_none() {
            return Err(400);
        }
        Ok(framing)
    }

    async fn decided(&mut self, head: &Head, framing: &RequestFraming, site: &Arc<Site>) -> Served {
        let head_request = head.method() == b"HEAD";
        let view = RequestView {
            head,
            facts: &self.facts,
        };
        let mut decision = match self.shared.phases.request_filter(&view) {
            Filtered::Ready(decision) => decision,
            Filtered::Pending(pending) => pending.await,
        };
        let mut ahead = None;
        if let Decision::ReadBody(wanted) = decision {
            // Detection reads the body's first bytes before the checks decide.
            let mut reader = BodyReader::new(framing, site.limits.max_body_bytes);
            let mut pieces = Vec::new();
            let mut held: u64 = 0;
            while held < wanted {
                match reader.next(self, site.limits.body_timeout).await {
                    Ok(Some(piece)) => {
                        held += piece.len() as u64;
                        pieces.push(piece);
                    }
                    Ok(None) => break,
                    Err(error) => return crate::proxy::body_failed(self, error, head_request, false).await,
                }
            }
            let (body, uninspected) = looked_at(&pieces, wanted, framing, reader.received);
            let view = RequestView {
                head,
                facts: &self.facts,
            };
            decision = match self.shared.phases.body_filter(&view, body, uninspected) {
                Filtered::Ready(decision) => decision,
                Filtered::Pending(pending) => pending.await,
            };
            ahead = Some(Ahead { reader, pieces });
        }
        match decision {
            Decision::ReadBody(_) => {
                // Asked twice: a fault of the request filter, not of the client.
                Stats::add(&self.shared.stats.panics);
                self.refuse(500, head_request, true).await
            }
            Decision::Close => {
                Stats::add(&self.shared.stats.closed);
                Served::new(End::Hangup, 0, 0)
            }
            Decision::Respond(answer) => {
                let body_done = framing.body == Framing::Length(0);
                let keep_alive = framing.keep_alive && body_done && !self.stopping();
                let mut out = Vec::with_capacity(256 + answer.body.len());
                http1::status_line(answer.status, &mut out);
                for (name, value) in &answer.headers {
                    if http1::valid_name(name) && http1::valid_value(value) && name.as_ref() != b"connection"
                    {
                        out.extend_from_slice(name);
                        out.extend_from_slice(b": ");
                        out.extend_from_slice(value);
                        out.extend_from_slice(b"\r\n");
                    }
                }
                push_date(&mut out);
                if !keep_alive {
                    out.extend_from_slice(b"connection: close\r\n");
                } else if head.minor == 0 {
                    out.extend_from_slice(b"connection: keep-alive\r\n");
                }
                out.extend_from_slice(b"\r\n");
                let body: &[u8] = if head_request { b"" } else { &answer.body };
                if write_parts(&mut self.io, &[&out, body]).await.is_err() {
                    return Served::new(End::Drop, answer.status, 0);
                }
                let end = if keep_alive {
                    End::KeepAlive
                } else if body_done {
                    End::Close
                } else {
                    End::Linger
                };
                Served::new(end, answer.status, body.len() as u64)
            }
            Decision::Files { path, on_response } => {
                let served = crate::files::serve(self, site, head, framing, &path).await;
                if let Some(hook) = on_response {
                    (hook.0)(served.status);
                }
                served
            }
            Decision::Forward(forward) => {
                crate::proxy::forward(self, site, head, framing, forward, ahead).await
            }
        }
    }

    /// Answer a request the front refuses itself, then close (lingering when input may follow).
    pub async fn refuse(&mut self, status: u16, head_request: bool, pending_input: bool) -> Served {
        let answer = if status == 413 {
            pages::proxy_page(413, &date_line(), true, head_request)
        } else {
            pages::canned(status, &date_line(), head_request)
        };
        if self.io.write_all(&answer).await.is_err() {
            return Served::new(End::Drop, status, 0);
        }
        let end = if pending_input && !self.client_done {
            End::Linger
        } else {
            End::Close
        };
        Served::new(end, status, 0)
    }

    /// End the connection as `end` says.
    async fn finish(mut self, end: End) {
        match end {
            End::Drop | End::Hangup => {}
            End::KeepAlive | End::Close => {
                if self.io.is_tls() {
                    let _ = tokio::time::timeout(LINGER, self.io.shutdown()).await;
                }
            }
            End::Linger => {
                if self.io.is_tls() || self.client_done {
                    let _ = tokio::time::timeout(LINGER, self.io.shutdown()).await;
                    return;
                }
                if self.io.shutdown().await.is_err() {
                    return;
                }
                let until = Instant::now() + LINGER;
                let mut sink = vec![0u8; READ_SIZE];
                while let Ok(Ok(read)) = tokio::time::timeout_at(until.into(), self.io.read(&mut sink)).await
                {
                    if read == 0 {
                        break;
                    }
                }
            }
        }
    }
}

/// A TLS client's end of input without close_notify is an end of input, as the Python
/// server takes it (a client done sending, not gone).
pub fn eof(error: std::io::Error) -> std::io::Result<usize> {
    if error.kind() == std::io::ErrorKind::UnexpectedEof {
        Ok(0)
    } else {
        Err(error)
    }
}

/// The body bytes read before the decision ([`Decision::ReadBody`]) and the reader of the rest.
#[derive(Debug)]
pub struct Ahead {
    pub reader: BodyReader,
    pub pieces: Vec<Bytes>,
}

/// What the checks read of a body read ahead: its first `wanted` bytes, and the count of
/// body bytes known to lie beyond them (the rest of a `Content-Length`, else the bytes
/// that arrived beyond).
fn looked_at(pieces: &[Bytes], wanted: u64, framing: &RequestFraming, received: u64) -> (Bytes, u64) {
    let limit = usize::try_from(wanted).unwrap_or(usize::MAX);
    let body = match pieces {
        [one] => one.slice(..one.len().min(limit)),
        _ => {
            let mut joined = BytesMut::new();
            for piece in pieces {
                let room = limit.saturating_sub(joined.len());
                joined.extend_from_slice(piece.get(..piece.len().min(room)).unwrap_or_default());
            }
            joined.freeze()
        }
    };
    let seen = body.len() as u64;
    let uninspected = match framing.body {
        Framing::Length(length) => length.saturating_sub(seen),
        _ => received.saturating_sub(seen),
    };
    (body, uninspected)
}

/// Why a request body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// A pause longer than `body_timeout`.
    Timeout,
    /// The client's input ended inside the body.
    Ended,
    /// A malformed chunked coding (400).
    Malformed,
    /// Over `max_body_bytes` (413).
    TooLarge,
}

/// Reads a request body piece by piece from a connection's buffer and socket.
#[derive(Debug)]
pub struct BodyReader {
    left: Option<u64>,
    chunked: Option<Chunked>,
    pub received: u64,
    expect_continue: bool,
    limit: Option<u64>,
}

impl BodyReader {
    pub fn new(framing: &RequestFraming, limit: Option<u64>) -> Self {
        let (left, chunked) = match framing.body {
            Framing::Length(length) => (Some(length), None),
            Framing::Chunked => (None, Some(Chunked::default())),
            Framing::UntilClose => (Some(0), None),
        };
        Self {
            left,
            chunked,
            received: 0,
            expect_continue: framing.expect_continue,
            limit,
        }
    }

    /// Bound the body to `limit` from now on (a request's own bound, below the site's).
    pub fn set_limit(&mut self, limit: Option<u64>) -> Result<(), BodyError> {
        self.limit = limit;
        if limit.is_some_and(|limit| self.received > limit) {
            return Err(BodyError::TooLarge);
        }
        Ok(())
    }

    pub fn done(&self) -> bool {
        self.left == Some(0) || self.chunked.as_ref().is_some_and(Chunked::done)
    }

    fn counted(&mut self, piece: Bytes) -> Result<Option<Bytes>, BodyError> {
        self.received += piece.len() as u64;
        if self.limit.is_some_and(|limit| self.received > limit) {
            return Err(BodyError::TooLarge);
        }
        Ok(Some(piece))
    }

    /// A piece of the body already read from the client (no waiting): `Ok(None)` when none
    /// is (more input is needed, or the body has ended).
    pub fn ready(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, BodyError> {
        if let Some(left) = self.left {
            if left == 0 || buf.is_empty() {
                return Ok(None);
            }
            let take = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
            self.left = Some(left - take as u64);
            let piece = buf.split_to(take).freeze();
            return self.counted(piece);
        }
        if let Some(decoder) = &mut self.chunked {
            return match decoder.decode(buf).map_err(|_| BodyError::Malformed)? {
                Decoded::Data(piece) => self.counted(piece),
                Decoded::End | Decoded::NeedMore => Ok(None),
            };
        }
        Ok(None)
    }

    /// The next piece of the body, `None` at its end.
    pub async fn next<S: ClientIo>(
        &mut self,
        conn: &mut Conn<S>,
        timeout: Duration,
    ) -> Result<Option<Bytes>, BodyError> {
        loop {
            if let Some(piece) = self.ready(&mut conn.buf)? {
                return Ok(Some(piece));
            }
            if self.done() {
                return Ok(None);
            }
            if self.expect_continue {
                self.expect_continue = false;
                if conn.io.write_all(http1::CONTINUE).await.is_err() {
                    return Err(BodyError::Ended);
                }
            }
            if conn.client_done {
                return Err(BodyError::Ended);
            }
            if conn.buf.capacity() - conn.buf.len() < READ_SIZE / 2 {
                conn.buf.reserve(64 * 1024);
            }
            match tokio::time::timeout(timeout, conn.io.read_buf(&mut conn.buf))
                .await
                .map(|r| r.or_else(eof))
            {
                Err(_) => return Err(BodyError::Timeout),
                Ok(Ok(0)) => {
                    conn.client_done = true;
                    return Err(BodyError::Ended);
                }
                Ok(Ok(_)) => {}
                Ok(Err(_)) => return Err(BodyError::Ended),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::looked_at;
    use crate::http1::{Framing, RequestFraming};

    fn framing(body: Framing) -> RequestFraming {
        RequestFraming {
            body,
            keep_alive: true,
            expect_continue: false,
            upgrade: false,
            websocket: false,
        }
    }

    #[test]
    fn the_checks_read_at_most_what_they_asked_for() {
        let pieces = [Bytes::from_static(b"abcd"), Bytes::from_static(b"efgh")];
        let (body, beyond) = looked_at(&pieces, 6, &framing(Framing::Length(20)), 8);
        assert_eq!((body.as_ref(), beyond), (&b"abcdef"[..], 14));
        let (body, beyond) = looked_at(&pieces, 6, &framing(Framing::Chunked), 8);
        assert_eq!((body.as_ref(), beyond), (&b"abcdef"[..], 2));
        let (body, beyond) = looked_at(&pieces[..1], 64, &framing(Framing::Length(4)), 4);
        assert_eq!((body.as_ref(), beyond), (&b"abcd"[..], 0));
        let (body, beyond) = looked_at(&[], 64, &framing(Framing::Chunked), 0);
        assert_eq!((body.as_ref(), beyond), (&b""[..], 0));
    }
}
