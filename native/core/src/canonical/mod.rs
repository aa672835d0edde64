//! The canonical request: one form of each request that the checks decide on and the
//! backend receives.
//!
//! A guard that reads one spelling of a request while the backend reads another can be
//! walked around (`/admin/%2e%2e`, `Host: shop.example.com.`, `X-Real-IP` from anyone), so
//! each front builds the canonical form once and forwards exactly that:
//!
//! - [`path`]: the request target's path, with a stated policy for what has no single
//!   reading;
//! - [`host`]: the `Host` header in one spelling;
//! - [`headers`]: the header list a backend receives (one canonical `Host`, no
//!   client-address or rewrite headers from a peer that is not a trusted proxy);
//! - [`Canonicalizer`]: the three together with the client-IP resolution
//!   ([`crate::client_ip`]), giving a [`Request`](crate::request::Request).
//!
//! What has no safe canonical form is refused with a [`BadRequest`] whose text is the
//! reason a 400 response and the Python side give, word for word.

pub mod headers;
pub mod host;
pub mod path;

use std::fmt;

pub use headers::{CanonicalHeaders, PROXY_ONLY, proxy_only};
pub use host::{CanonicalHost, canonical_host};
pub use path::{CanonicalPath, EscapedSlashes, PathPolicy, canonical_decoded_path, canonical_path};

use crate::addr::Addr;
use crate::client_ip::TrustedProxies;
use crate::request::{Header, Request};

/// Why a request has no safe canonical form (answered 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadRequest {
    PathNotRooted,
    ClimbsAboveRoot,
    EscapedSlash,
    ControlCharacter,
    NullByte,
    Backslash,
    DotSegmentWithParameters,
    DotSegmentBetweenEscapedSlashes,
    HiddenDotSegment,
    WindowsDrive,
    PathNotUtf8,
    OverlongDotSegment,
    LeavesMountPoint,
    NotAHostName,
    BadPort,
    SeveralHosts,
    NoHost,
}

impl BadRequest {
    /// The reason, as the response and `stockade.errors.BadRequest` give it.
    pub fn reason(self) -> &'static str {
        match self {
            BadRequest::PathNotRooted => "the path must start with '/'",
            BadRequest::ClimbsAboveRoot => "the path climbs above the root",
            BadRequest::EscapedSlash => "the path contains an escaped slash or backslash",
            BadRequest::ControlCharacter => "the path contains a control character",
            BadRequest::NullByte => "the path contains a null byte",
            BadRequest::Backslash => "the path contains a backslash",
            BadRequest::DotSegmentWithParameters => "the path has a dot segment with parameters",
            BadRequest::DotSegmentBetweenEscapedSlashes => {
                "the path has a dot segment between escaped slashes"
            }
            BadRequest::HiddenDotSegment => {
                "the path has a dot segment beside a backslash, an escaped slash or a control character"
            }
            BadRequest::WindowsDrive => "the path names a Windows drive beside a backslash",
            BadRequest::PathNotUtf8 => "the path is not UTF-8",
            BadRequest::OverlongDotSegment => "the path hides dot segments in bytes that are not UTF-8",
            BadRequest::LeavesMountPoint => "the path leaves the application's mount point",
            BadRequest::NotAHostName => "the Host header is not a host name",
            BadRequest::BadPort => "the Host header has a bad port",
            BadRequest::SeveralHosts => "the request has several Host headers",
            BadRequest::NoHost => "an HTTP/1.1 request needs a Host header",
        }
    }
}

impl fmt::Display for BadRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for BadRequest {}

/// The HTTP version of a request, as the request line or the server names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVersion {
    Http10,
    Http11,
    Http2,
    Http3,
}

impl HttpVersion {
    /// The version of an ASGI `http_version` (`"1.1"`) or a WSGI `SERVER_PROTOCOL`
    /// (`"HTTP/1.1"`); `None` for anything else.
    pub fn parse(text: &[u8]) -> Option<Self> {
        let number = text.strip_prefix(b"HTTP/").unwrap_or(text);
        match number {
            b"1.0" => Some(HttpVersion::Http10),
            b"1.1" => Some(HttpVersion::Http11),
            b"2" | b"2.0" => Some(HttpVersion::Http2),
            b"3" | b"3.0" => Some(HttpVersion::Http3),
            _ => None,
        }
    }

    /// `HTTP/1.1` and so on: BFE's `req_proto_*` read this.
    pub fn protocol(self) -> &'static str {
        match self {
            HttpVersion::Http10 => "HTTP/1.0",
            HttpVersion::Http11 => "HTTP/1.1",
            HttpVersion::Http2 => "HTTP/2",
            HttpVersion::Http3 => "HTTP/3",
        }
    }
}

/// A request as a front received it, before anything is canonical.
#[derive(Debug, Clone, Copy)]
pub struct RawRequest<'a> {
    pub method: &'a [u8],
    /// The path part of the request target (an origin-form target without its query).
    pub path: &'a [u8],
    /// The query as sent, without `?`.
    pub query: &'a [u8],
    /// Every header line in order, names as the server gave them.
    pub headers: &'a [(&'a [u8], &'a [u8])],
    /// The socket peer (or the PROXY-protocol source a trusted listener believed): `None`
    /// when it is not an IP address (a Unix socket) or there is none.
    pub peer: Option<Addr>,
    pub secure: bool,
    pub version: HttpVersion,
    /// The body, or its first bytes, when the front read it (the front bounds it).
    pub body: Option<&'a [u8]>,
}

/// The operator's settings for canonical requests, built once (at load and reload).
#[derive(Debug, Clone, Default)]
pub struct Canonicalizer {
    pub policy: PathPolicy,
    pub proxies: TrustedProxies,
}

impl Canonicalizer {
    pub fn new(policy: PathPolicy, proxies: TrustedProxies) -> Self {
        Self { policy, proxies }
    }

    /// The canonical request of a raw one; see [`Canonicalizer::parts`] for the order of
    /// the refusals.
    pub fn canonicalize<'a>(&self, raw: &RawRequest<'a>) -> Result<Request<'a>, BadRequest> {
        let Parts {
            path,
            client,
            headers,
        } = self.parts(raw.path, raw.peer, raw.headers)?;
        let lines: Vec<Header<'a>> = headers.apply(raw.headers).collect();
        Ok(Request::new(
            raw,
            path,
            headers.host,
            lines,
            client,
            headers.changed,
        ))
    }

    /// The canonical parts of a request from its raw path, its peer and its header lines,
    /// in the order the checks refuse: the path first, then the headers (several `Host`
    /// headers, a bad `Host`). A front that keeps its own request objects (the Python
    /// fronts, which hand the app its scope or environ) writes these back into them.
    ///
    /// Without `Host`, the request has no host name (`host.name` is empty): the protecting
    /// server then refuses an HTTP/1.1 request ([`BadRequest::NoHost`]), a middleware's app
    /// falls back on its server's name.
    pub fn parts<'a>(
        &self,
        path: &'a [u8],
        peer: Option<Addr>,
        headers: &[(&'a [u8], &'a [u8])],
    ) -> Result<Parts<'a>, BadRequest> {
        let path = canonical_path(path, self.policy)?;
        let client = self.proxies.resolve(peer, headers);
        let headers = CanonicalHeaders::of(headers, client.trusted)?;
        Ok(Parts {
            path,
            client,
            headers,
        })
    }
}

/// The canonical path, the client and what the header list becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parts<'a> {
    pub path: CanonicalPath<'a>,
    pub client: crate::client_ip::ClientIp,
    pub headers: CanonicalHeaders<'a>,
}
