//! HTTP/2 over TLS (ALPN `h2`): each stream is one exchange of the HTTP/1.1 server.
//!
//! The `h2` crate (hyper's own) speaks the protocol: frames, HPACK, flow control, and the
//! rules of RFC 9113 on a request's header section (pseudo-headers, lower-case names,
//! connection-specific headers and `te` other than `trailers` refused with a stream error,
//! `content-length` checked against the DATA received). Each stream's request is then
//! written as an HTTP/1.1 head into an in-memory pipe and served by [`Conn`], the very
//! code that serves an HTTP/1.1 connection: the same framing checks, limits, timeouts,
//! request filter (the head says version `2`, so the rules read `h2` as the session
//! protocol), forwarding over the upstream pool, files, answers and access log line. The
//! response it writes is read back and sent as HEADERS and DATA frames.
//!
//! The head the filter reads: `:method`, `:path` as the target, `:authority` as the first
//! `Host` line; a `host` header that differs from `:authority` is kept as a second line,
//! so the request is refused with a 400 as any request with two `Host` lines is (a client
//! must not name two hosts). `cookie` fields are joined with `; ` (RFC 9113 section
//! 8.2.3). A body without `content-length` is framed `chunked` (an HTTP/2 request may send
//! one without a length). `CONNECT` is answered 501.
//!
//! Ends: a refusal is an answer on its stream; a stream the server cannot answer (a body
//! that stopped, an upstream failure once the response has started) is reset
//! (`INTERNAL_ERROR`); the request filter's `CLOSE` drops the whole connection at once,
//! without a GOAWAY, as it drops an HTTP/1.1 connection: the connection is the client's,
//! and its other streams end with it.
//!
//! Limits against abuse ([`settings`]): at most [`MAX_CONCURRENT_STREAMS`] streams at once;
//! the header list bounded by `max_header_bytes` (431 beyond, and a CONTINUATION flood ends
//! the connection); streams reset by the client before they were accepted, or reset by the
//! server for the client's errors, bounded (rapid reset, CVE-2023-44487: GOAWAY with
//! `ENHANCE_YOUR_CALM`); and a client that resets more than [`RESET_ALLOWANCE`] streams in
//! progress beyond the ones it let finish gets the same GOAWAY. A reset stream's exchange
//! is dropped at once (its upstream connection closed, not pooled). Memory is bounded by
//! the flow-control windows and two small pipes a stream; a client that opens no window
//! for `body_timeout` loses the stream (reset), as one that sends no body. An idle connection (no stream)
//! is closed gracefully after `keepalive_timeout` (`header_timeout` before its first
//! stream); a drain sends GOAWAY and lets the streams in flight finish.

use std::future::poll_fn;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use h2::server::{Builder, SendResponse};
use h2::{Reason, RecvStream, SendStream};
use http::header::{CONTENT_LENGTH, COOKIE, HOST, HeaderName, HeaderValue};
use http::{Method, Request, Response};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, watch};

use crate::http1::{self, Chunked, Decoded, Framing, Head};
use crate::runtime::Shared;
use crate::server::{Conn, End};
use crate::site::Limits;
use crate::stats::{self, Stats};

pub const MAX_CONCURRENT_STREAMS: u32 = 100;
/// Streams the client resets before the server accepted them (h2's rapid-reset guard).
pub const MAX_PENDING_ACCEPT_RESETS: usize = 20;
/// Streams the server resets for the client's errors before it sends GOAWAY.
pub const MAX_LOCAL_ERROR_RESETS: usize = 256;
/// Streams in progress the client may reset beyond those it let finish.
pub const RESET_ALLOWANCE: u64 = 100;
pub const MAX_FRAME_SIZE: u32 = 16 * 1024;
pub const STREAM_WINDOW: u32 = 256 * 1024;
pub const CONNECTION_WINDOW: u32 = 1024 * 1024;
pub const MAX_SEND_BUFFER: usize = 64 * 1024;
/// Each direction of a stream's in-memory pipe.
const PIPE: usize = 32 * 1024;
const READ_SIZE: usize = 16 * 1024;
const MAX_RESPONSE_HEAD: usize = 128 * 1024;

/// The server side's settings for a site's limits.
pub fn settings(limits: &Limits) -> Builder {
    let mut builder = Builder::new();
    builder
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .max_pending_accept_reset_streams(MAX_PENDING_ACCEPT_RESETS)
        .max_local_error_reset_streams(Some(MAX_LOCAL_ERROR_RESETS))
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .max_frame_size(MAX_FRAME_SIZE)
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_send_buffer_size(MAX_SEND_BUFFER);
    builder
}

/// How a stream ended, told to its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Answered,
    /// Reset by the client while in progress.
    Reset,
    /// Not answered (reset by the server).
    Failed,
    /// The request filter said `CLOSE`.
    Hangup,
}

/// Tells the connection how a stream ended, whatever way its task ends.
struct Report {
    events: mpsc::UnboundedSender<Event>,
    event: Event,
}

impl Drop for Report {
    fn drop(&mut self) {
        let _ = self.events.send(self.event);
    }
}

/// Serve an HTTP/2 connection until it ends.
pub async fn serve<S>(
    io: S,
    facts: crate::phases::ConnFacts,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = shared.site.load().limits.clone();
    let handshake = settings(&limits).handshake::<_, Bytes>(io);
    let Ok(Ok(mut connection)) = tokio::time::timeout(limits.header_timeout, handshake).await else {
        return;
    };
    let facts = Arc::new(facts);
    let streams_stop = stop.clone();
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let mut open: u64 = 0;
    let mut answered: u64 = 0;
    let mut resets: u64 = 0;
    let mut idle_since = Instant::now();
    let mut first = true;
    let mut closing = false;
    loop {
        let idle_limit = if first {
            limits.header_timeout
        } else {
            limits.keepalive_timeout
        };
        let idle_deadline = idle_since + idle_limit;
        tokio::select! {
            accepted = connection.accept() => match accepted {
                Some(Ok((request, respond))) => {
                    first = false;
                    open += 1;
                    let report = Report { events: events_tx.clone(), event: Event::Failed };
                    tokio::spawn(stream(request, respond, Arc::clone(&facts), Arc::clone(&shared), streams_stop.clone(), report));
                }
                Some(Err(_)) | None => break,
            },
            Some(event) = events.recv() => {
                open = open.saturating_sub(1);
                if open == 0 {
                    idle_since = Instant::now();
                }
                match event {
                    Event::Answered => answered += 1,
                    Event::Failed => {}
                    Event::Reset => {
                        resets += 1;
                        if resets > RESET_ALLOWANCE + answered && !closing {
                            closing = true;
                            Stats::add(&shared.stats.closed);
                            shared.messages.push(
                                stats::WARNING,
                                format!(
                                    "closed an HTTP/2 connection from {}: it reset {resets} streams in progress \
                                     (rapid reset)",
                                    facts.client().ip()
                                ),
                            );
                            connection.abrupt_shutdown(Reason::ENHANCE_YOUR_CALM);
                        }
                    }
                    // Dropped without a word, as an HTTP/1.1 connection is.
                    Event::Hangup => break,
                }
            },
            () = tokio::time::sleep_until(idle_deadline.into()), if open == 0 && !closing => {
                closing = true;
                connection.graceful_shutdown();
            }
            _ = stop.wait_for(|stopping| *stopping), if !closing => {
                closing = true;
                connection.graceful_shutdown();
            }
        }
    }
}

/// Why a stream's exchange ended without a whole response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Abort {
    /// The client reset the stream.
    Reset,
    /// The exchange ended without a response.
    Unanswered,
    /// The response could not be completed (the stream was reset).
    Broken,
}

/// One stream: its request through [`Conn`], its response back.
async fn stream(
    request: Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    facts: Arc<crate::phases::ConnFacts>,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
    mut report: Report,
) {
    let (parts, body) = request.into_parts();
    let chunked = !body.is_end_stream() && !parts.headers.contains_key(CONTENT_LENGTH);
    let refused = if parts.method == Method::CONNECT {
        Err(501)
    } else {
        request_head(&parts, chunked)
    };
    let head = match refused {
        Ok(head) => head,
        Err(status) => {
            Stats::add(&shared.stats.requests);
            Stats::add(&shared.stats.bad_requests);
            shared.stats.response(status);
            let answer = Response::builder().status(status).body(());
            if let Ok(answer) = answer {
                if respond.send_response(answer, true).is_ok() {
                    report.event = Event::Answered;
                }
            }
            return;
        }
    };
    let head_request = parts.method == Method::HEAD;
    let pause = shared.site.load().limits.body_timeout;
    let (inner, outer) = tokio::io::duplex(PIPE);
    let (mut from_front, to_front) = tokio::io::split(outer);
    let conn = Conn {
        io: crate::io::Pipe(inner),
        buf: BytesMut::new(),
        facts,
        shared,
        client_done: false,
        stop,
        h2: true,
    };
    let hung_up = AtomicBool::new(false);
    let served = async {
        if conn.run().await == End::Hangup {
            hung_up.store(true, Ordering::Relaxed);
        }
        Ok::<(), Abort>(())
    };
    let answered = relay_response(&mut from_front, &mut respond, head_request, pause);
    let sending = async {
        pump_request(head, body, to_front, chunked).await;
        std::future::pending::<()>().await;
    };
    let outcome = tokio::select! {
        outcome = async { tokio::try_join!(served, answered) } => outcome.map(|_| ()),
        () = sending => Ok(()),
    };
    report.event = match outcome {
        Ok(()) => Event::Answered,
        Err(Abort::Reset) => Event::Reset,
        Err(Abort::Unanswered) if hung_up.load(Ordering::Relaxed) => Event::Hangup,
        Err(Abort::Unanswered) => {
            respond.send_reset(Reason::INTERNAL_ERROR);
            Event::Failed
        }
        Err(Abort::Broken) => Event::Failed,
    };
}

/// Whether a header is connection-specific (RFC 9113 section 8.2.2; `h2` refuses these
/// already, this is the second lock).
fn connection_specific(name: &HeaderName, value: &HeaderValue) -> bool {
    matches!(
        name.as_str(),
        "connection" | "keep-alive" | "proxy-connection" | "transfer-encoding" | "upgrade"
    ) || (name.as_str() == "te" && value.as_bytes() != b"trailers")
}

/// The HTTP/1.1 head of a stream's request (see the module documentation); `Err` with the
/// status of a request refused before it is framed.
fn request_head(parts: &http::request::Parts, chunked: bool) -> Result<Vec<u8>, u16> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    out.extend_from_slice(if target.is_empty() {
        b"/"
    } else {
        target.as_bytes()
    });
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut line = |name: &[u8], value: &[u8]| {
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    };
    let authority = parts.uri.authority().map(|a| a.as_str().as_bytes());
    if let Some(authority) = authority {
        line(b"host", authority);
    }
    for host in parts.headers.get_all(HOST) {
        if Some(host.as_bytes()) != authority {
            line(b"host", host.as_bytes()); // a second Host line: refused with a 400
        }
    }
    let mut cookies = parts.headers.get_all(COOKIE).iter().peekable();
    if cookies.peek().is_some() {
        let joined: Vec<&[u8]> = cookies.map(HeaderValue::as_bytes).collect();
        line(b"cookie", &joined.join(&b"; "[..]));
    }
    for (name, value) in &parts.headers {
        if name == HOST || name == COOKIE {
            continue;
        }
        if connection_specific(name, value) {
            return Err(400);
        }
        line(name.as_str().as_bytes(), value.as_bytes());
    }
    if chunked {
        line(b"transfer-encoding", b"chunked");
    }
    out.extend_from_slice(b"\r\n");
    Ok(out)
}

/// Feed the request head and body into the pipe; its end is the end of the body.
async fn pump_request(head: Vec<u8>, mut body: RecvStream, mut to: WriteHalf<DuplexStream>, chunked: bool) {
    let _ = pumped(&head, &mut body, &mut to, chunked).await;
    let _ = to.shutdown().await;
}

async fn pumped(
    head: &[u8],
    body: &mut RecvStream,
    to: &mut WriteHalf<DuplexStream>,
    chunked: bool,
) -> Result<(), ()> {
    to.write_all(head).await.map_err(drop)?;
    while let Some(data) = body.data().await {
        let data = data.map_err(drop)?;
        let length = data.len();
        if chunked && length > 0 {
            to.write_all(&http1::chunk_size_line(length))
                .await
                .map_err(drop)?;
            to.write_all(&data).await.map_err(drop)?;
            to.write_all(b"\r\n").await.map_err(drop)?;
        } else {
            to.write_all(&data).await.map_err(drop)?;
        }
        // The window reopens only once the bytes are in the pipe: memory stays bounded.
        let _ = body.flow_control().release_capacity(length);
    }
    if chunked {
        to.write_all(http1::LAST_CHUNK).await.map_err(drop)?;
    }
    Ok(())
}

/// Read more of the response from the pipe, watching for the client's reset.
async fn read_more(
    from: &mut ReadHalf<DuplexStream>,
    buf: &mut BytesMut,
    reset: impl FnMut(&mut std::task::Context<'_>) -> std::task::Poll<Result<Reason, h2::Error>>,
) -> Result<usize, Abort> {
    if buf.capacity() - buf.len() < READ_SIZE / 2 {
        buf.reserve(READ_SIZE);
    }
    tokio::select! {
        read = from.read_buf(buf) => read.map_err(|_| Abort::Unanswered),
        _ = poll_fn(reset) => Err(Abort::Reset),
    }
}

/// The response written by [`Conn`], sent as HEADERS and DATA frames.
async fn relay_response(
    from: &mut ReadHalf<DuplexStream>,
    respond: &mut SendResponse<Bytes>,
    head_request: bool,
    pause: Duration,
) -> Result<(), Abort> {
    let mut buf = BytesMut::with_capacity(READ_SIZE);
    let head = loop {
        match http1::parse_response(&mut buf, MAX_RESPONSE_HEAD) {
            Ok(Some(head)) if head.status < 200 => continue, // 100 Continue: h2 needs none
            Ok(Some(head)) => break head,
            Ok(None) => {}
            Err(_) => return Err(Abort::Unanswered),
        }
        if read_more(from, &mut buf, |cx| respond.poll_reset(cx)).await? == 0 {
            return Err(Abort::Unanswered);
        }
    };
    let Ok((framing, _)) = http1::response_framing(&head, head_request) else {
        return Err(Abort::Unanswered);
    };
    let no_body = head_request || matches!(head.status, 204 | 304) || framing == Framing::Length(0);
    let response = response_of(&head).ok_or(Abort::Unanswered)?;
    let mut send = respond
        .send_response(response, no_body)
        .map_err(|_| Abort::Reset)?;
    if no_body {
        return Ok(());
    }
    let relayed = relay_body(from, &mut send, buf, framing, pause).await;
    if relayed == Err(Abort::Broken) {
        send.send_reset(Reason::INTERNAL_ERROR);
    }
    relayed
}

/// The response's HEADERS: the status and the end-to-end headers [`Conn`] wrote.
fn response_of(head: &Head) -> Option<Response<()>> {
    let mut response = Response::builder().status(head.status);
    for (name, value) in head.headers() {
        if matches!(
            name,
            b"connection" | b"keep-alive" | b"proxy-connection" | b"transfer-encoding" | b"upgrade" | b"te"
        ) {
            continue;
        }
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) else {
            continue;
        };
        response = response.header(name, value);
    }
    response.body(()).ok()
}

async fn relay_body(
    from: &mut ReadHalf<DuplexStream>,
    send: &mut SendStream<Bytes>,
    mut buf: BytesMut,
    framing: Framing,
    pause: Duration,
) -> Result<(), Abort> {
    let mut left = match framing {
        Framing::Length(length) => Some(length),
        _ => None,
    };
    let mut decoder = (framing == Framing::Chunked).then(Chunked::default);
    loop {
        let piece = if let Some(decoder) = &mut decoder {
            match decoder.decode(&mut buf).map_err(|_| Abort::Broken)? {
                Decoded::Data(piece) => Some(piece),
                Decoded::End => break,
                Decoded::NeedMore => None,
            }
        } else if let Some(remaining) = left {
            if remaining == 0 {
                break;
            }
            let take = usize::try_from(remaining).unwrap_or(usize::MAX).min(buf.len());
            left = Some(remaining - take as u64);
            (take > 0).then(|| buf.split_to(take).freeze())
        } else {
            (!buf.is_empty()).then(|| buf.split().freeze())
        };
        match piece {
            Some(piece) => send_piece(send, piece, pause).await?,
            None => {
                if read_more(from, &mut buf, |cx| send.poll_reset(cx)).await? == 0 {
                    if left.is_none() && decoder.is_none() {
                        break; // delimited by the end of the pipe
                    }
                    return Err(Abort::Broken);
                }
            }
        }
    }
    send.send_data(Bytes::new(), true).map_err(|_| Abort::Reset)
}

/// Send a piece as the client's window allows (nothing more is buffered); a client that
/// opens no window for `pause` (the body timeout) loses the stream.
async fn send_piece(send: &mut SendStream<Bytes>, mut piece: Bytes, pause: Duration) -> Result<(), Abort> {
    while !piece.is_empty() {
        send.reserve_capacity(piece.len());
        let granted = match tokio::time::timeout(pause, poll_fn(|cx| send.poll_capacity(cx))).await {
            Ok(Some(Ok(granted))) => granted,
            Ok(_) => return Err(Abort::Reset),
            Err(_) => return Err(Abort::Broken),
        };
        if granted == 0 {
            continue;
        }
        let chunk = piece.split_to(granted.min(piece.len()));
        send.send_data(chunk, false).map_err(|_| Abort::Reset)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::request_head;

    fn head_of(request: http::Request<()>, chunked: bool) -> String {
        let (parts, ()) = request.into_parts();
        String::from_utf8(request_head(&parts, chunked).unwrap()).unwrap()
    }

    #[test]
    fn pseudo_headers_become_the_request_line_and_host() {
        let request = http::Request::builder()
            .method("GET")
            .uri("https://example.test:8443/a/b?c=d")
            .header("accept", "*/*")
            .header("cookie", "a=1")
            .header("cookie", "b=2")
            .body(())
            .unwrap();
        assert_eq!(
            head_of(request, false),
            "GET /a/b?c=d HTTP/1.1\r\nhost: example.test:8443\r\ncookie: a=1; b=2\r\naccept: */*\r\n\r\n"
        );
    }

    #[test]
    fn a_host_header_that_differs_from_the_authority_is_a_second_host_line() {
        let request = http::Request::builder()
            .method("POST")
            .uri("https://example.test/")
            .header("host", "other.test")
            .body(())
            .unwrap();
        let head = head_of(request, true);
        assert_eq!(
            head,
            "POST / HTTP/1.1\r\nhost: example.test\r\nhost: other.test\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        let same = http::Request::builder()
            .uri("https://example.test/")
            .header("host", "example.test")
            .body(())
            .unwrap();
        assert_eq!(
            head_of(same, false),
            "GET / HTTP/1.1\r\nhost: example.test\r\n\r\n"
        );
    }
}
