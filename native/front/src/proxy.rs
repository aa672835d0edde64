//! One request forwarded to the upstream, both bodies streamed.
//!
//! The first piece of the request body is read before the upstream is asked for anything,
//! so a request refused on its body (too large, badly chunked) never reaches it; the head
//! and that piece then go out in one write. The rest of the body follows as the client
//! sends it (`Content-Length` kept when the client gave one, chunked otherwise), while an
//! early answer of the upstream is watched for. The response is relayed as it arrives:
//! its head and the body bytes already read in one write, then each piece as it comes, so
//! neither body is ever held whole. While the upstream thinks, the client is watched: a
//! reset drops the exchange, a half-close does not.
//!
//! Failures before the response has started are answered here (502, 504, 413, 400); after
//! it has started the client connection is dropped, since a truncated body must not look
//! complete. A pooled connection that the upstream had closed while idle is retried once
//! on a fresh connection when nothing of the response arrived and the request is
//! idempotent and bodiless, as the Python proxy does.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::forwarding::{self, Hop, ResponseHeader};
use crate::http1::{self, Chunked, Decoded, Framing, Head, RequestFraming};
use crate::io::{ClientIo, write_parts};
use crate::pages;
use crate::phases::Forward;
use crate::server::{Ahead, BodyError, BodyReader, Conn, End, Served, date_line, eof, push_date};
use crate::site::Site;
use crate::stats::{self, Stats};
use crate::upstream::{UpConn, Upstream, UpstreamError, seconds};

const MAX_RESPONSE_HEAD: usize = 64 * 1024;
const READ_SIZE: usize = 64 * 1024;
/// Request body bytes read ahead (and checked) before the upstream is asked anything.
const FIRST_BYTES: usize = 256 * 1024;
const IDEMPOTENT: [&[u8]; 6] = [b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"];

/// Why an exchange stopped.
enum Failure {
    Upstream(UpstreamError),
    Body(BodyError),
    /// The client reset while the upstream was thinking, or could not be written to.
    ClientGone,
}

impl From<UpstreamError> for Failure {
    fn from(error: UpstreamError) -> Self {
        Self::Upstream(error)
    }
}

/// Forward one request (see the module documentation).
pub async fn forward<S: ClientIo>(
    conn: &mut Conn<S>,
    site: &Site,
    head: &Head,
    framing: &RequestFraming,
    forward: Forward,
    ahead: Option<Ahead>,
) -> Served {
    let head_request = head.method() == b"HEAD";
    let Some(upstream) = site.upstreams.get(forward.upstream).cloned() else {
        return answer(conn, 502, head_request, false).await;
    };
    let mut headers: Vec<(&[u8], &[u8])> = match &forward.headers {
        Some(given) => given.iter().map(|(n, v)| (n.as_ref(), v.as_ref())).collect(),
        None => head.headers().collect(),
    };
    if forward.headers.is_none() {
        if let Some((authority, _)) = split_absolute(head.target()) {
            // RFC 9112 section 3.2.2: an absolute-form target's authority is the host.
            headers.retain(|(name, _)| *name != b"host");
            headers.insert(0, (b"host", authority));
        }
    }
    if forwarding::refused_upgrade(headers.iter().copied()) {
        return answer(conn, 501, head_request, true).await;
    }
    let hop = Hop {
        peer: forward.peer.clone(),
        trusted: forward.trusted,
        real_ip: forward.real_ip.clone(),
        proto: if conn.facts.scheme == "https" {
            b"https"
        } else {
            b"http"
        },
    };
    let request = request_head(head, framing, &forward, &headers, &hop, &upstream);
    let limit = match (forward.max_body_bytes, site.limits.max_body_bytes) {
        (Some(own), Some(site)) => Some(own.min(site)),
        (own, site) => own.or(site),
    };
    if let (Framing::Length(length), Some(limit)) = (&framing.body, limit) {
        if *length > limit {
            return body_failed(conn, BodyError::TooLarge, head_request, false).await;
        }
    }
    // The first piece (or what was read for the checks), and whatever else of the body has
    // arrived with it: all of it is checked (framing, size) before the upstream hears of
    // the request.
    let (mut body, mut first) = match ahead {
        Some(Ahead { mut reader, pieces }) => {
            if let Err(error) = reader.set_limit(limit) {
                return body_failed(conn, error, head_request, false).await;
            }
            (reader, pieces)
        }
        None => (BodyReader::new(framing, limit), Vec::new()),
    };
    if !body.done() {
        if first.is_empty() {
            match body.next(conn, site.limits.body_timeout).await {
                Ok(piece) => first.extend(piece),
                Err(error) => return body_failed(conn, error, head_request, false).await,
            }
        }
        let mut held: usize = first.iter().map(Bytes::len).sum();
        while held < FIRST_BYTES {
            match body.ready(&mut conn.buf) {
                Ok(Some(piece)) => {
                    held += piece.len();
                    first.push(piece);
                }
                Ok(None) => break,
                Err(error) => return body_failed(conn, error, head_request, false).await,
            }
        }
    }
    let has_body = framing.body != Framing::Length(0);
    let idempotent = IDEMPOTENT.contains(&head.method());
    let mut retried = false;
    loop {
        let pooled = upstream.take();
        let fresh = pooled.is_none() || retried;
        let mut up = match (pooled, retried) {
            (Some(pooled), false) => pooled,
            _ => match upstream.connect().await {
                Ok(up) => up,
                Err(error) => break failed(conn, &upstream, head, error, false).await,
            },
        };
        match exchange(
            conn, &upstream, &mut up, head, &request, &first, &mut body, framing, site,
        )
        .await
        {
            Ok(outcome) => {
                if let Some(hook) = forward.on_response {
                    hook(outcome.served.status);
                }
                if outcome.reusable {
                    upstream.put(up);
                }
                return outcome.served;
            }
            Err((Failure::Upstream(UpstreamError::Closed { received: false, .. }), false))
                if up.reused && !fresh && idempotent && !has_body && !retried =>
            {
                // A pooled connection the upstream had closed while idle: once more, afresh.
                retried = true;
            }
            Err((Failure::Upstream(error), started)) => {
                break failed(conn, &upstream, head, error, started).await;
            }
            Err((Failure::Body(error), started)) => {
                break body_failed(conn, error, head_request, started).await;
            }
            Err((Failure::ClientGone, _)) => break Served::new(End::Drop, 0, 0),
        }
    }
}

struct Outcome {
    served: Served,
    reusable: bool,
}

/// The upstream request's head: the method, the target (with the upstream's base path),
/// the headers with the forwarding ones, and the framing of the body.
fn request_head(
    head: &Head,
    framing: &RequestFraming,
    forward: &Forward,
    headers: &[(&[u8], &[u8])],
    hop: &Hop,
    upstream: &Upstream,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(head.method());
    out.push(b' ');
    let target: Cow<'_, [u8]> = match &forward.target {
        Some(target) => Cow::Borrowed(target.as_ref()),
        None => origin_form(head.target()),
    };
    let target = target.as_ref();
    let prefix = &upstream.spec.prefix;
    if !prefix.is_empty() {
        out.extend_from_slice(prefix);
        if target != b"*" {
            out.extend_from_slice(target);
        }
    } else {
        out.extend_from_slice(target);
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    forwarding::upstream_headers(
        headers.iter().copied(),
        hop,
        &upstream.default_host,
        |name, value| {
            out.extend_from_slice(name);
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        },
    );
    match framing.body {
        Framing::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        Framing::Length(length) if head.first(b"content-length").is_some() => {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(length.to_string().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        _ => {}
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The path and query of a target in absolute form (`http://host/path?q`), else the target.
pub fn origin_form(target: &[u8]) -> Cow<'_, [u8]> {
    match split_absolute(target) {
        Some((_, rest)) if rest.first() == Some(&b'/') => Cow::Borrowed(rest),
        Some((_, rest)) => {
            let mut owned = b"/".to_vec();
            owned.extend_from_slice(rest);
            Cow::Owned(owned)
        }
        None => Cow::Borrowed(target),
    }
}

/// The authority and the rest of an absolute-form target (`http://user@host:1/p`: `host:1`, `/p`).
pub fn split_absolute(target: &[u8]) -> Option<(&[u8], &[u8])> {
    if target.first() == Some(&b'/') || target == b"*" {
        return None;
    }
    let start = memchr::memmem::find(target, b"://")?;
    let scheme = target.get(..start)?;
    if !scheme.eq_ignore_ascii_case(b"http") && !scheme.eq_ignore_ascii_case(b"https") {
        return None;
    }
    let rest = target.get(start + 3..)?;
    let end = rest
        .iter()
        .position(|&b| b == b'/' || b == b'?' || b == b'#')
        .unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let host = authority.rsplit(|&b| b == b'@').next().unwrap_or(authority);
    let path = path.split(|&b| b == b'#').next().unwrap_or_default();
    Some((host, path))
}

/// Write to the upstream within `timeout`.
async fn send(
    stream: &mut TcpStream,
    parts: &[&[u8]],
    timeout: Duration,
    name: &str,
) -> Result<(), UpstreamError> {
    match tokio::time::timeout(timeout, write_parts(stream, parts)).await {
        Err(_) => Err(UpstreamError::Timeout(format!(
            "{name} did not take the request within {} s",
            seconds(timeout)
        ))),
        Ok(Err(error)) => Err(UpstreamError::Closed {
            detail: format!("{name} closed the connection: {error}"),
            received: false,
        }),
        Ok(Ok(())) => Ok(()),
    }
}

/// A body piece in the request's framing.
fn framed<'a>(piece: &'a [u8], chunked: bool, size: &'a mut Vec<u8>) -> [&'a [u8]; 3] {
    if chunked && !piece.is_empty() {
        *size = http1::chunk_size_line(piece.len());
        [size.as_slice(), piece, b"\r\n"]
    } else {
        [b"", piece, b""]
    }
}

#[allow(clippy::too_many_arguments, reason = "one exchange's parts, passed once")]
async fn exchange<S: ClientIo>(
    conn: &mut Conn<S>,
    upstream: &Upstream,
    up: &mut UpConn,
    head: &Head,
    request: &[u8],
    first: &[Bytes],
    body: &mut BodyReader,
    framing: &RequestFraming,
    site: &Site,
) -> Result<Outcome, (Failure, bool)> {
    let chunked = framing.body == Framing::Chunked;
    let timeout = upstream.read_timeout();
    let name = upstream.name.as_str();
    let sizes: Vec<Vec<u8>> = first.iter().map(|p| http1::chunk_size_line(p.len())).collect();
    let mut parts: Vec<&[u8]> = Vec::with_capacity(2 + first.len() * 3);
    parts.push(request);
    for (piece, size) in first.iter().zip(sizes.iter()) {
        if chunked {
            parts.extend_from_slice(&[size.as_slice(), piece.as_ref(), b"\r\n"]);
        } else {
            parts.push(piece);
        }
    }
    if chunked && body.done() {
        parts.push(http1::LAST_CHUNK);
    }
    send(&mut up.stream, &parts, timeout, name)
        .await
        .map_err(|e| (e.into(), false))?;
    let mut answered_early = false;
    if !body.done() {
        answered_early = stream_body(conn, up, body, chunked, timeout, name, site)
            .await
            .map_err(|f| (f, false))?;
    }
    let head_request = head.method() == b"HEAD";
    let response = response_head(conn, up, timeout, name, !answered_early && body.done())
        .await
        .map_err(|f| (f, false))?;
    let (response_framing, upstream_keep_alive) =
        http1::response_framing(&response, head_request).map_err(|why| {
            (
                Failure::Upstream(UpstreamError::Bad(format!(
                    "malformed response from {name}: {why}"
                ))),
                false,
            )
        })?;
    let body_complete = body.done() && !answered_early;
    let keep_alive = framing.keep_alive && body_complete && !conn.stopping();
    relay(
        conn,
        up,
        &response,
        response_framing,
        head,
        keep_alive,
        timeout,
        name,
    )
    .await
    .map(|(served, complete)| Outcome {
        served,
        reusable: complete && upstream_keep_alive && body_complete,
    })
}

/// Stream the rest of the request body; `Ok(true)` when the upstream answered before it ended.
async fn stream_body<S: ClientIo>(
    conn: &mut Conn<S>,
    up: &mut UpConn,
    body: &mut BodyReader,
    chunked: bool,
    timeout: Duration,
    name: &str,
    site: &Site,
) -> Result<bool, Failure> {
    let body_timeout = site.limits.body_timeout;
    loop {
        if up.buf.capacity() - up.buf.len() < 1024 {
            up.buf.reserve(READ_SIZE);
        }
        let piece = tokio::select! {
            piece = body.next(conn, body_timeout) => piece.map_err(Failure::Body)?,
            read = up.stream.read_buf(&mut up.buf) => {
                return match read {
                    Ok(0) | Err(_) => Err(Failure::Upstream(UpstreamError::Closed {
                        detail: format!("{name} closed the connection"),
                        received: !up.buf.is_empty(),
                    })),
                    Ok(_) => Ok(true),
                };
            }
        };
        let mut size = Vec::new();
        match piece {
            Some(piece) => {
                let [a, b, c] = framed(&piece, chunked, &mut size);
                let last: &[u8] = if chunked && body.done() {
                    http1::LAST_CHUNK
                } else {
                    b""
                };
                send(&mut up.stream, &[a, b, c, last], timeout, name).await?;
                if body.done() {
                    return Ok(false);
                }
            }
            None => {
                if chunked {
                    send(&mut up.stream, &[http1::LAST_CHUNK], timeout, name).await?;
                }
                return Ok(false);
            }
        }
    }
}

/// The response's head (interim 1xx answers skipped), watching the client meanwhile.
async fn response_head<S: ClientIo>(
    conn: &mut Conn<S>,
    up: &mut UpConn,
    timeout: Duration,
    name: &str,
    watch: bool,
) -> Result<Head, Failure> {
    let mut watching = watch && !conn.client_done;
    let mut deadline = Instant::now() + timeout;
    let mut received = false;
    loop {
        match http1::parse_response(&mut up.buf, MAX_RESPONSE_HEAD) {
            Ok(Some(head)) if head.status == 101 => {
                return Err(Failure::Upstream(UpstreamError::Bad(format!(
                    "{name} switched protocols"
                ))));
            }
            Ok(Some(head)) if head.status < 200 => continue,
            Ok(Some(head)) => return Ok(head),
            Ok(None) => {}
            Err(error) => {
                let why = match error {
                    http1::HeadError::TooLarge => format!("response headers over {MAX_RESPONSE_HEAD} bytes"),
                    http1::HeadError::Malformed => "not an HTTP/1.1 response".to_owned(),
                };
                return Err(Failure::Upstream(UpstreamError::Bad(format!(
                    "malformed response from {name}: {why}"
                ))));
            }
        }
        if up.buf.capacity() - up.buf.len() < 1024 {
            up.buf.reserve(16 * 1024);
        }
        let limit = conn.shared.site.load().limits.max_header_bytes;
        tokio::select! {
            read = up.stream.read_buf(&mut up.buf) => match read {
                Ok(0) | Err(_) => {
                    return Err(Failure::Upstream(UpstreamError::Closed {
                        detail: format!("{name} closed the connection"),
                        received: received || !up.buf.is_empty(),
                    }));
                }
                Ok(_) => {
                    received = true;
                    deadline = Instant::now() + timeout;
                }
            },
            read = conn.io.read_buf(&mut conn.buf), if watching => match read.or_else(eof) {
                Ok(0) => {
                    conn.client_done = true;
                    watching = false;
                }
                Ok(_) => watching = conn.buf.len() <= limit,
                Err(_) => return Err(Failure::ClientGone),
            },
            () = tokio::time::sleep_until(deadline.into()) => {
                let what = if received { "more of the response" } else { "response" };
                return Err(Failure::Upstream(UpstreamError::Timeout(format!(
                    "no {what} from {name} within {} s", seconds(timeout)
                ))));
            }
        }
    }
}

/// How the response's body goes to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Out {
    None,
    Length,
    Chunked,
    UntilClose,
}

/// The client's response head: the upstream's end-to-end headers, this front's date and
/// framing. Returns the head, how the body goes out, and whether the connection stays.
fn client_head(response: &Head, framing: &Framing, head: &Head, keep_alive: bool) -> (Vec<u8>, Out, bool) {
    let mut out = Vec::with_capacity(response.raw.len() + 64);
    http1::status_line(response.status, &mut out);
    let listed = listed_names(response);
    for (name, value) in response.headers() {
        let kind = forwarding::response_header(name);
        if (kind == ResponseHeader::Pass && !listed.iter().any(|l| l.as_slice() == name))
            || kind == ResponseHeader::Length
        {
            out.extend_from_slice(name);
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
    }
    let status = response.status;
    let no_body = head.method() == b"HEAD" || status == 204 || status == 304 || status < 200;
    let mut keep_alive = keep_alive;
    let mode = if no_body {
        Out::None
    } else {
        match framing {
            Framing::Length(_) => Out::Length,
            _ if head.minor == 1 => {
                out.extend_from_slice(b"transfer-encoding: chunked\r\n");
                Out::Chunked
            }
            _ => {
                keep_alive = false;
                Out::UntilClose
            }
        }
    };
    push_date(&mut out);
    if !keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    } else if head.minor == 0 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    (out, mode, keep_alive)
}

fn listed_names(response: &Head) -> Vec<Vec<u8>> {
    let tokens = forwarding::connection_tokens(response.values(b"connection"));
    tokens
        .into_iter()
        .filter(|t| t.as_slice() != b"close" && t.as_slice() != b"keep-alive")
        .collect()
}

/// Relay the response; `(served, complete)`: whether its body was read to its end.
#[allow(clippy::too_many_arguments, reason = "one relay's parts, passed once")]
async fn relay<S: ClientIo>(
    conn: &mut Conn<S>,
    up: &mut UpConn,
    response: &Head,
    framing: Framing,
    head: &Head,
    keep_alive: bool,
    timeout: Duration,
    name: &str,
) -> Result<(Served, bool), (Failure, bool)> {
    let (client, mode, keep_alive) = client_head(response, &framing, head, keep_alive);
    let status = response.status;
    let end = if keep_alive { End::KeepAlive } else { End::Close };
    let gone = |_| (Failure::ClientGone, true);
    let aborted = |error: UpstreamError| (Failure::Upstream(error), true);
    let mut sent: u64 = 0;
    let upstream_framing = framing;
    match upstream_framing {
        Framing::Length(length) => {
            let mut left = length;
            let take = usize::try_from(left).unwrap_or(usize::MAX).min(up.buf.len());
            let piece = up.buf.split_to(take);
            left -= take as u64;
            let body: &[u8] = if mode == Out::None { b"" } else { &piece };
            write_parts(&mut conn.io, &[&client, body]).await.map_err(gone)?;
            sent += body.len() as u64;
            drop(piece);
            while left > 0 {
                read_more(up, timeout, name, true).await.map_err(aborted)?;
                let take = usize::try_from(left).unwrap_or(usize::MAX).min(up.buf.len());
                let piece = up.buf.split_to(take);
                left -= take as u64;
                conn.io.write_all(&piece).await.map_err(gone)?;
                sent += take as u64;
            }
            Ok((Served::new(end, status, sent), true))
        }
        Framing::Chunked | Framing::UntilClose => {
            let mut decoder = (upstream_framing == Framing::Chunked).then(Chunked::default);
            let mut pending_head = Some(client);
            let mut ended = false;
            let mut complete = false;
            while !ended {
                let mut pieces: Vec<Bytes> = Vec::new();
                match &mut decoder {
                    Some(decoder) => loop {
                        match decoder.decode(&mut up.buf) {
                            Ok(Decoded::Data(piece)) => pieces.push(piece),
                            Ok(Decoded::NeedMore) => break,
                            Ok(Decoded::End) => {
                                ended = true;
                                complete = true;
                                break;
                            }
                            Err(why) => {
                                let detail = format!("malformed response from {name}: {why}");
                                return Err((Failure::Upstream(UpstreamError::Bad(detail)), true));
                            }
                        }
                    },
                    None => {
                        if !up.buf.is_empty() {
                            pieces.push(up.buf.split().freeze());
                        }
                    }
                }
                let mut parts: Vec<&[u8]> = Vec::with_capacity(pieces.len() * 3 + 2);
                let sizes: Vec<Vec<u8>> = pieces.iter().map(|p| http1::chunk_size_line(p.len())).collect();
                if let Some(head_bytes) = &pending_head {
                    parts.push(head_bytes);
                }
                for (piece, size) in pieces.iter().zip(sizes.iter()) {
                    if mode == Out::Chunked {
                        parts.extend_from_slice(&[size.as_slice(), piece.as_ref(), b"\r\n"]);
                    } else if mode == Out::UntilClose {
                        parts.push(piece);
                    }
                    sent += if mode == Out::None { 0 } else { piece.len() as u64 };
                }
                if ended && mode == Out::Chunked {
                    parts.push(http1::LAST_CHUNK);
                }
                write_parts(&mut conn.io, &parts).await.map_err(gone)?;
                pending_head = None;
                if !ended {
                    match read_more(up, timeout, name, decoder.is_some()).await {
                        Ok(()) => {}
                        Err(UpstreamError::Closed { .. }) if decoder.is_none() => {
                            // A body delimited by the end of the connection: complete.
                            if mode == Out::Chunked {
                                conn.io.write_all(http1::LAST_CHUNK).await.map_err(gone)?;
                            }
                            ended = true;
                        }
                        Err(error) => return Err(aborted(error)),
                    }
                }
            }
            let end = if mode == Out::UntilClose { End::Close } else { end };
            Ok((Served::new(end, status, sent), complete))
        }
    }
}

/// Read more of the response body within the read timeout.
async fn read_more(
    up: &mut UpConn,
    timeout: Duration,
    name: &str,
    framed: bool,
) -> Result<(), UpstreamError> {
    if up.buf.capacity() - up.buf.len() < 4096 {
        up.buf.reserve(READ_SIZE);
    }
    match tokio::time::timeout(timeout, up.stream.read_buf(&mut up.buf)).await {
        Err(_) => Err(UpstreamError::Timeout(format!(
            "no more of the response from {name} within {} s",
            seconds(timeout)
        ))),
        Ok(Ok(0)) => {
            let detail = if framed {
                format!("{name} closed the connection mid-body")
            } else {
                String::new()
            };
            Err(UpstreamError::Closed {
                detail,
                received: true,
            })
        }
        Ok(Err(error)) => Err(UpstreamError::Closed {
            detail: format!("{name} closed the connection: {error}"),
            received: true,
        }),
        Ok(Ok(_)) => Ok(()),
    }
}

async fn answer<S: ClientIo>(conn: &mut Conn<S>, status: u16, head_request: bool, close: bool) -> Served {
    let close = close || conn.stopping();
    let page = pages::proxy_page(status, &date_line(), close, head_request);
    if conn.io.write_all(&page).await.is_err() {
        return Served::new(End::Drop, status, 0);
    }
    let body = if head_request {
        0
    } else {
        9 + http1::reason(status).len() as u64
    };
    Served::new(if close { End::Close } else { End::KeepAlive }, status, body)
}

/// An upstream failure: a 502 or 504 before the response started, a dropped connection after.
async fn failed<S: ClientIo>(
    conn: &mut Conn<S>,
    upstream: &Upstream,
    head: &Head,
    error: UpstreamError,
    started: bool,
) -> Served {
    let stats = &conn.shared.stats;
    Stats::add(if error.status() == 504 {
        &stats.upstream_timeouts
    } else {
        &stats.upstream_errors
    });
    let path = String::from_utf8_lossy(head.target()).into_owned();
    let method = String::from_utf8_lossy(head.method()).into_owned();
    let detail = if error.to_string().is_empty() {
        format!("{} closed the connection", upstream.name)
    } else {
        error.to_string()
    };
    conn.shared
        .messages
        .push(stats::WARNING, format!("proxy: {method} {path}: {detail}"));
    if started {
        return Served::new(End::Drop, 0, 0);
    }
    let head_request = head.method() == b"HEAD";
    answer(conn, error.status(), head_request, false).await
}

pub async fn body_failed<S: ClientIo>(
    conn: &mut Conn<S>,
    error: BodyError,
    head_request: bool,
    started: bool,
) -> Served {
    if started {
        return Served::new(End::Drop, 0, 0);
    }
    match error {
        BodyError::Timeout | BodyError::Ended => Served::new(End::Drop, 0, 0),
        BodyError::TooLarge => {
            let mut served = answer(conn, 413, head_request, true).await;
            if served.end == End::Close {
                served.end = End::Linger;
            }
            served
        }
        BodyError::Malformed => conn.refuse(400, head_request, true).await,
    }
}

/// Take what a buffer holds (for tests and the files module).
pub fn take_all(buf: &mut BytesMut) -> Bytes {
    buf.split().freeze()
}

#[cfg(test)]
mod tests {
    use super::origin_form;

    #[test]
    fn absolute_targets_lose_their_authority() {
        assert_eq!(origin_form(b"/a?b").as_ref(), b"/a?b");
        assert_eq!(origin_form(b"http://h:1/a/b?c").as_ref(), b"/a/b?c");
        assert_eq!(origin_form(b"http://h:1").as_ref(), b"/");
        assert_eq!(origin_form(b"http://h:1?q").as_ref(), b"/?q");
        assert_eq!(origin_form(b"*").as_ref(), b"*");
    }
}
