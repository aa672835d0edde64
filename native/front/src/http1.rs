//! HTTP/1.1 message heads and body framing, for both sides of the proxy.
//!
//! `httparse` reads the grammar of a head; this module decides what a head means for the
//! framing, strictly, because a front and the server behind it must never disagree on
//! where a request ends (request smuggling): a request with both `Content-Length` and
//! `Transfer-Encoding`, with two `Content-Length` lines, with a transfer coding other than
//! `chunked`, or with `Transfer-Encoding` on HTTP/1.0 is refused with a 400, never
//! reinterpreted. The chunked decoder is as strict: hexadecimal sizes without signs or
//! spaces, CRLF line ends only, bounded size lines and trailers.

use std::ops::Range;

use bytes::{Buf, Bytes, BytesMut};

/// A parsed message head; the ranges index `raw`, names are lower-cased in `names`.
#[derive(Debug, Clone)]
pub struct Head {
    pub raw: Bytes,
    pub method: Range<usize>,
    pub target: Range<usize>,
    pub minor: u8,
    /// The request came as an HTTP/2 stream (framed here as HTTP/1.1; `version` says `2`).
    pub h2: bool,
    pub status: u16,
    pub names: Vec<Bytes>,
    pub values: Vec<Range<usize>>,
}

impl Head {
    fn slice(&self, range: &Range<usize>) -> &[u8] {
        self.raw.get(range.clone()).unwrap_or_default()
    }

    pub fn method(&self) -> &[u8] {
        self.slice(&self.method)
    }

    pub fn target(&self) -> &[u8] {
        self.slice(&self.target)
    }

    /// The headers in order: lower-case names and their values.
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> + Clone {
        self.names
            .iter()
            .zip(self.values.iter())
            .map(|(n, v)| (n.as_ref(), self.slice(v)))
    }

    pub fn values<'a>(&'a self, name: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + Clone + 'a {
        self.headers().filter(move |(n, _)| *n == name).map(|(_, v)| v)
    }

    pub fn first(&self, name: &[u8]) -> Option<&[u8]> {
        self.headers().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    pub fn version(&self) -> &'static str {
        if self.h2 {
            "2"
        } else if self.minor == 0 {
            "1.0"
        } else {
            "1.1"
        }
    }
}

/// Why a head could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadError {
    /// Not HTTP/1.x (answered 400).
    Malformed,
    /// Larger than the limit (431 for requests).
    TooLarge,
}

fn offset(base: &[u8], part: &[u8]) -> Range<usize> {
    let start = (part.as_ptr() as usize).saturating_sub(base.as_ptr() as usize);
    start..start + part.len()
}

fn names_of(headers: &[httparse::Header<'_>]) -> Vec<Bytes> {
    headers.iter().map(|h| lower_name(h.name.as_bytes())).collect()
}

fn lower_name(name: &[u8]) -> Bytes {
    // The usual names, shared rather than allocated for every request.
    for known in KNOWN_NAMES {
        if known.len() == name.len() && known.eq_ignore_ascii_case(name) {
            return Bytes::from_static(known);
        }
    }
    Bytes::from(name.to_ascii_lowercase())
}

const KNOWN_NAMES: [&[u8]; 24] = [
    b"host",
    b"user-agent",
    b"accept",
    b"accept-encoding",
    b"accept-language",
    b"connection",
    b"content-length",
    b"content-type",
    b"transfer-encoding",
    b"cookie",
    b"authorization",
    b"referer",
    b"cache-control",
    b"date",
    b"server",
    b"set-cookie",
    b"etag",
    b"last-modified",
    b"location",
    b"vary",
    b"expect",
    b"upgrade",
    b"keep-alive",
    b"x-forwarded-for",
];

const MAX_HEADERS: usize = 4096;

/// Parse a request head from the start of `buf`: `Ok(None)` when incomplete.
///
/// On success the head's bytes are split off `buf` (the body, or the next request, stays).
pub fn parse_request(buf: &mut BytesMut, limit: usize) -> Result<Option<Head>, HeadError> {
    // The usual request fits the array on the stack; a larger one retries with more room.
    let parsed = {
        let mut stack = [httparse::EMPTY_HEADER; 48];
        request_with(buf, limit, &mut stack)
    };
    let parsed = match parsed {
        Err(Parsed::TooManyHeaders) => {
            let mut count = 256;
            loop {
                let mut headers = vec![httparse::EMPTY_HEADER; count];
                match request_with(buf, limit, &mut headers) {
                    Err(Parsed::TooManyHeaders) if count < MAX_HEADERS => count *= 4,
                    Err(Parsed::TooManyHeaders) => return Err(HeadError::TooLarge),
                    other => break other,
                }
            }
        }
        other => other,
    };
    match parsed {
        Err(Parsed::Error(error)) => Err(error),
        Err(Parsed::TooManyHeaders) => Err(HeadError::TooLarge),
        Ok(None) => Ok(None),
        Ok(Some((mut head, length))) => {
            head.raw = buf.split_to(length).freeze();
            Ok(Some(head))
        }
    }
}

enum Parsed {
    TooManyHeaders,
    Error(HeadError),
}

fn request_with<'b>(
    buf: &'b [u8],
    limit: usize,
    headers: &mut [httparse::Header<'b>],
) -> Result<Option<(Head, usize)>, Parsed> {
    let mut request = httparse::Request::new(headers);
    match request.parse(buf) {
        Ok(httparse::Status::Complete(length)) => {
            if length > limit {
                return Err(Parsed::Error(HeadError::TooLarge));
            }
            let method = offset(buf, request.method.unwrap_or_default().as_bytes());
            let target = offset(buf, request.path.unwrap_or_default().as_bytes());
            let minor = request.version.unwrap_or(1);
            let names = names_of(request.headers);
            let values = request.headers.iter().map(|h| offset(buf, h.value)).collect();
            let head = Head {
                raw: Bytes::new(),
                method,
                target,
                minor,
                h2: false,
                status: 0,
                names,
                values,
            };
            Ok(Some((head, length)))
        }
        Ok(httparse::Status::Partial) => {
            if buf.len() > limit {
                Err(Parsed::Error(HeadError::TooLarge))
            } else {
                Ok(None)
            }
        }
        Err(httparse::Error::TooManyHeaders) => Err(Parsed::TooManyHeaders),
        Err(_) => Err(Parsed::Error(HeadError::Malformed)),
    }
}

/// Parse a response head from the start of `buf`: `Ok(None)` when incomplete.
pub fn parse_response(buf: &mut BytesMut, limit: usize) -> Result<Option<Head>, HeadError> {
    let mut count = 32;
    loop {
        let mut headers = vec![httparse::EMPTY_HEADER; count];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(buf) {
            Ok(httparse::Status::Complete(length)) => {
                if length > limit {
                    return Err(HeadError::TooLarge);
                }
                let base: &[u8] = buf;
                let minor = response.version.unwrap_or(1);
                let status = response.code.unwrap_or(0);
                let names = names_of(response.headers);
                let values = response.headers.iter().map(|h| offset(base, h.value)).collect();
                let raw = buf.split_to(length).freeze();
                return Ok(Some(Head {
                    raw,
                    method: 0..0,
                    target: 0..0,
                    minor,
                    h2: false,
                    status,
                    names,
                    values,
                }));
            }
            Ok(httparse::Status::Partial) => {
                return if buf.len() > limit {
                    Err(HeadError::TooLarge)
                } else {
                    Ok(None)
                };
            }
            Err(httparse::Error::TooManyHeaders) if count < MAX_HEADERS => count *= 4,
            Err(_) => return Err(HeadError::Malformed),
        }
    }
}

/// How a message body is delimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

/// What a request head means for the exchange, or why it is refused (400).
#[derive(Debug, Clone)]
pub struct RequestFraming {
    pub body: Framing,
    pub keep_alive: bool,
    pub expect_continue: bool,
    /// `Connection: upgrade` with an `Upgrade` header (a WebSocket one is refused with 403).
    pub upgrade: bool,
    pub websocket: bool,
}

fn has_token(values: impl Iterator<Item = impl AsRef<[u8]>>, token: &[u8]) -> bool {
    values.into_iter().any(|v| {
        v.as_ref()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
    })
}

/// A `Content-Length` value: 1 to 18 digits, nothing else.
pub fn content_length(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || value.len() > 18 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// The framing of a request; `Err` with the reason for a 400.
pub fn request_framing(head: &Head) -> Result<RequestFraming, &'static str> {
    let mut lengths = 0;
    let mut codings = 0;
    let mut hosts = 0;
    let mut length = None;
    let mut chunked = false;
    for (name, value) in head.headers() {
        match name {
            b"content-length" => {
                lengths += 1;
                length = content_length(value);
                if length.is_none() {
                    return Err("an invalid Content-Length");
                }
            }
            b"transfer-encoding" => {
                codings += 1;
                chunked = value.trim_ascii().eq_ignore_ascii_case(b"chunked");
            }
            b"host" => hosts += 1,
            _ => {}
        }
    }
    if lengths > 1 {
        return Err("more than one Content-Length");
    }
    if codings > 0 {
        if head.minor == 0 {
            return Err("Transfer-Encoding on HTTP/1.0");
        }
        if lengths > 0 {
            return Err("both Content-Length and Transfer-Encoding");
        }
        if codings > 1 || !chunked {
            return Err("a transfer coding other than chunked");
        }
    }
    if hosts > 1 {
        return Err("more than one Host");
    }
    let connection = head.values(b"connection");
    let close = has_token(connection.clone(), b"close");
    let keep_alive = if head.minor == 0 {
        !close && has_token(connection.clone(), b"keep-alive")
    } else {
        !close
    };
    let upgrade = head.first(b"upgrade").is_some() && has_token(connection, b"upgrade");
    let websocket = upgrade && has_token(head.values(b"upgrade"), b"websocket");
    let body = if chunked {
        Framing::Chunked
    } else {
        Framing::Length(length.unwrap_or(0))
    };
    let expect_continue = head
        .first(b"expect")
        .is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(b"100-continue"));
    Ok(RequestFraming {
        body,
        keep_alive,
        expect_continue,
        upgrade,
        websocket,
    })
}

/// The framing of a response to a request (`head_request`: a HEAD); `Err` when the
/// upstream's answer is malformed (a 502).
pub fn response_framing(head: &Head, head_request: bool) -> Result<(Framing, bool), &'static str> {
    let mut length: Option<u64> = None;
    let mut lengths = false;
    let mut coding: Option<&[u8]> = None;
    for (name, value) in head.headers() {
        match name {
            b"content-length" => {
                let parsed = content_length(value).ok_or("an invalid Content-Length")?;
                if lengths && length != Some(parsed) {
                    return Err("two different Content-Length values");
                }
                lengths = true;
                length = Some(parsed);
            }
            b"transfer-encoding" => coding = Some(value),
            _ => {}
        }
    }
    if coding.is_some() && lengths {
        return Err("both Content-Length and Transfer-Encoding");
    }
    let connection = head.values(b"connection");
    let close = has_token(connection.clone(), b"close");
    let mut keep_alive = if head.minor == 0 {
        !close && has_token(connection, b"keep-alive")
    } else {
        !close
    };
    let status = head.status;
    if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok((Framing::Length(0), keep_alive));
    }
    let framing = match (coding, length) {
        (Some(value), _) => {
            let last = value.rsplit(|&b| b == b',').next().unwrap_or_default();
            if last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                Framing::Chunked
            } else {
                Framing::UntilClose
            }
        }
        (None, Some(length)) => Framing::Length(length),
        (None, None) => Framing::UntilClose,
    };
    if framing == Framing::UntilClose {
        keep_alive = false;
    }
    Ok((framing, keep_alive))
}

/// A streaming decoder of the chunked transfer coding.
#[derive(Debug, Clone, Default)]
pub struct Chunked {
    state: ChunkState,
    trailer_bytes: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum ChunkState {
    #[default]
    Size,
    Data(u64),
    DataEnd,
    Trailers,
    Done,
}

const MAX_SIZE_LINE: usize = 4096;
const MAX_TRAILERS: usize = 16 * 1024;

/// What the decoder made of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Body bytes (never empty).
    Data(Bytes),
    /// More input is needed.
    NeedMore,
    /// The last chunk and the trailers have been read.
    End,
}

impl Chunked {
    pub fn done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Decode from the front of `buf`, consuming what it reads; `Err` for a malformed coding.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, &'static str> {
        loop {
            match self.state {
                ChunkState::Done => return Ok(Decoded::End),
                ChunkState::Size => {
                    let Some(end) = memchr::memchr(b'\n', buf) else {
                        return if buf.len() > MAX_SIZE_LINE {
                            Err("a chunk size line too long")
                        } else {
                            Ok(Decoded::NeedMore)
                        };
                    };
                    if end > MAX_SIZE_LINE {
                        return Err("a chunk size line too long");
                    }
                    let line = buf.split_to(end + 1);
                    let line = line
                        .strip_suffix(b"\r\n")
                        .ok_or("a chunk size line without CRLF")?;
                    let digits_end = line
                        .iter()
                        .position(|b| !b.is_ascii_hexdigit())
                        .unwrap_or(line.len());
                    let (digits, extension) = line.split_at(digits_end);
                    if digits.is_empty() || digits.len() > 15 {
                        return Err("a malformed chunk size");
                    }
                    if !extension.is_empty()
                        && (extension.first() != Some(&b';') || !valid_extension(extension))
                    {
                        return Err("a malformed chunk extension");
                    }
                    let text = std::str::from_utf8(digits).map_err(|_| "a malformed chunk size")?;
                    let size = u64::from_str_radix(text, 16).map_err(|_| "a malformed chunk size")?;
                    self.state = if size == 0 {
                        ChunkState::Trailers
                    } else {
                        ChunkState::Data(size)
                    };
                }
                ChunkState::Data(left) => {
                    if buf.is_empty() {
                        return Ok(Decoded::NeedMore);
                    }
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                    let data = buf.split_to(take).freeze();
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left)
                    };
                    return Ok(Decoded::Data(data));
                }
                ChunkState::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(Decoded::NeedMore);
                    }
                    if buf.get(..2) != Some(b"\r\n".as_slice()) {
                        return Err("a chunk longer than its size");
                    }
                    buf.advance(2);
                    self.state = ChunkState::Size;
                }
                ChunkState::Trailers => {
                    let Some(end) = memchr::memchr(b'\n', buf) else {
                        return if self.trailer_bytes + buf.len() > MAX_TRAILERS {
                            Err("trailers too long")
                        } else {
                            Ok(Decoded::NeedMore)
                        };
                    };
                    self.trailer_bytes += end + 1;
                    if self.trailer_bytes > MAX_TRAILERS {
                        return Err("trailers too long");
                    }
                    let line = buf.split_to(end + 1);
                    if line.as_ref() == b"\r\n" {
                        self.state = ChunkState::Done;
                        return Ok(Decoded::End);
                    }
                    if !line.ends_with(b"\r\n")
                        || line.iter().take(line.len() - 2).any(|&b| b < 0x20 && b != b'\t')
                    {
                        return Err("a malformed trailer");
                    }
                }
            }
        }
    }
}

fn valid_extension(extension: &[u8]) -> bool {
    extension.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// `b"%x\r\n"` of a chunk size.
pub fn chunk_size_line(size: usize) -> Vec<u8> {
    format!("{size:x}\r\n").into_bytes()
}

pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// The reason phrase of a status, as Python's `http.HTTPStatus` spells it (the Python
/// server's status lines).
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Requested Range Not Satisfiable",
        417 => "Expectation Failed",
        418 => "I'm a Teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Entity",
        423 => "Locked",
        424 => "Failed Dependency",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// `HTTP/1.1 200 OK\r\n`.
pub fn status_line(status: u16, out: &mut Vec<u8>) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason(status).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// A header value that cannot break the framing (no CR, LF, NUL or other controls but tab).
pub fn valid_value(value: &[u8]) -> bool {
    value.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// A header name that is a token.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &[u8]) -> Head {
        let mut buf = BytesMut::from(text);
        parse_request(&mut buf, 65536).unwrap().unwrap()
    }

    #[test]
    fn parses_a_request() {
        let mut buf = BytesMut::from(&b"GET /a?b HTTP/1.1\r\nHost: x\r\nX-Y: z\r\n\r\nrest"[..]);
        let parsed = parse_request(&mut buf, 65536).unwrap().unwrap();
        assert_eq!(parsed.method(), b"GET");
        assert_eq!(parsed.target(), b"/a?b");
        assert_eq!(
            parsed.headers().collect::<Vec<_>>(),
            vec![(&b"host"[..], &b"x"[..]), (b"x-y", b"z")]
        );
        assert_eq!(&buf[..], b"rest");
        let mut partial = BytesMut::from(&b"GET / HTTP/1.1\r\nHost"[..]);
        assert!(parse_request(&mut partial, 65536).unwrap().is_none());
        let mut large = BytesMut::from(&b"GET / HTTP/1.1\r\nHost: xxxxxxxxxxxxx"[..]);
        assert_eq!(parse_request(&mut large, 20).unwrap_err(), HeadError::TooLarge);
    }

    #[test]
    fn smuggling_heads_are_refused() {
        let refused: [&[u8]; 6] = [
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n",
            b"POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\n",
        ];
        for text in refused {
            assert!(
                request_framing(&head(text)).is_err(),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
        let fine = head(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n");
        assert_eq!(request_framing(&fine).unwrap().body, Framing::Chunked);
    }

    #[test]
    fn chunked_decoding() {
        let mut decoder = Chunked::default();
        let mut buf = BytesMut::from(&b"3\r\nabc\r\n10;x=y\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\nnext"[..]);
        let mut body = Vec::new();
        loop {
            match decoder.decode(&mut buf).unwrap() {
                Decoded::Data(data) => body.extend_from_slice(&data),
                Decoded::End => break,
                Decoded::NeedMore => panic!("needs more"),
            }
        }
        assert_eq!(body, b"abc0123456789abcdef");
        assert_eq!(&buf[..], b"next");
        for bad in [
            &b"zz\r\n"[..],
            b"3\nabc\r\n",
            b"3\r\nabcd\r\n",
            b"-1\r\n",
            b"3 \r\nabc\r\n",
        ] {
            let mut decoder = Chunked::default();
            let mut buf = BytesMut::from(bad);
            let mut result = Ok(Decoded::NeedMore);
            for _ in 0..4 {
                result = decoder.decode(&mut buf);
                if !matches!(result, Ok(Decoded::Data(_))) {
                    break;
                }
            }
            assert!(result.is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
