//! The phases of a request through the front, as one trait (after pingora's `ProxyHttp`).
//!
//! - [`Phases::admit`]: a connection, once accepted (and its PROXY header read), before a
//!   byte of HTTP: `false` closes it without a word;
//! - [`Phases::request_filter`]: the ladder's decision for a request: forward it (and how
//!   the upstream should see it), serve a file, answer it, or close the connection; or
//!   first read the body's first bytes ([`Decision::ReadBody`], detection inspects them),
//!   and then [`Phases::body_filter`] decides with them;
//! - the upstream request filter is [`crate::forwarding`] applied to the [`Forward`] the
//!   request filter gave (the canonical target and headers, and the client as this hop
//!   sees it);
//! - the response filter is [`Forward::on_response`], told the status once the response
//!   has gone (the response rules of bans);
//! - logging is the access log (`crate::accesslog`), written off the request path.
//!
//! A request filter that can decide at once (the native ladder, or no checks at all)
//! answers [`Filtered::Ready`] and costs no allocation; one that must wait (the Python
//! ladder on its own thread) answers [`Filtered::Pending`].

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use bytes::Bytes;

use crate::http1::Head;

/// What the TLS handshake told about the client (`ses_tls_*` of the rules).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFacts {
    pub sni: Option<String>,
    pub version: Option<String>,
    pub client_auth: bool,
    pub client_ca: Option<String>,
    /// The protocol chosen by ALPN (`h2`, `http/1.1`), if the client offered any.
    pub alpn: Option<String>,
}

/// The connection a request came on.
#[derive(Debug, Clone)]
pub struct ConnFacts {
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub source: Option<SocketAddr>,
    pub tls: Option<TlsFacts>,
    pub listener: usize,
    pub listener_name: String,
    pub scheme: &'static str,
    /// The decision endpoint's listener: its requests are a proxy's check requests.
    pub decision: bool,
    /// The admin API's listener: every request goes to the Python side, unchecked.
    pub admin: bool,
}

impl ConnFacts {
    /// The client as the connection shows it: the PROXY source, else the socket peer.
    pub fn client(&self) -> SocketAddr {
        self.source.unwrap_or(self.peer)
    }
}

/// A request as the request filter sees it: its head as parsed, and its connection.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    pub head: &'a Head,
    pub facts: &'a std::sync::Arc<ConnFacts>,
}

/// An answer given instead of forwarding (a refusal, a challenge, a ban page).
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(Bytes, Bytes)>,
    pub body: Bytes,
}

/// Told the status of the response once it has gone.
pub type OnResponse = Box<dyn FnOnce(u16) + Send>;

/// How to forward a request that passed the checks.
#[derive(Default)]
pub struct Forward {
    /// Which of the site's upstreams.
    pub upstream: usize,
    /// The target the upstream receives (the canonical one), instead of the client's.
    pub target: Option<Bytes>,
    /// The headers the upstream receives (the canonical ones), instead of the client's.
    pub headers: Option<Vec<(Bytes, Bytes)>>,
    /// The peer appended to the forwarding lists, and whether its own lists are believed.
    pub peer: Option<String>,
    pub trusted: bool,
    /// The client the guard decided on (`X-Real-IP`).
    pub real_ip: Option<String>,
    /// A bound on this request's body below the site's (413 beyond it).
    pub max_body_bytes: Option<u64>,
    pub on_response: Option<OnResponse>,
}

impl std::fmt::Debug for Forward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forward")
            .field("upstream", &self.upstream)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

/// The request filter's decision.
#[derive(Debug)]
pub enum Decision {
    Forward(Forward),
    /// Serve this (canonical, decoded) path from the document root.
    Files {
        path: String,
        on_response: Option<OnResponseDebug>,
    },
    Respond(Answer),
    /// Drop the connection without a response (mod_block's `CLOSE`).
    Close,
    /// Read up to this many bytes of the body (decoded), then ask [`Phases::body_filter`].
    /// What was read is forwarded first, unchanged; the rest streams as before.
    ReadBody(u64),
}

/// [`OnResponse`] in a `Debug` wrapper.
pub struct OnResponseDebug(pub OnResponse);

impl std::fmt::Debug for OnResponseDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnResponse")
    }
}

pub type PendingDecision = Pin<Box<dyn Future<Output = Decision> + Send>>;

/// A decision now, or one to wait for.
pub enum Filtered {
    Ready(Decision),
    Pending(PendingDecision),
}

impl std::fmt::Debug for Filtered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ready(decision) => f.debug_tuple("Ready").field(decision).finish(),
            Self::Pending(_) => f.write_str("Pending"),
        }
    }
}

/// The phases of a request; see the module documentation.
pub trait Phases: Send + Sync + 'static {
    fn admit(&self, _facts: &ConnFacts) -> bool {
        true
    }

    fn request_filter(&self, request: &RequestView<'_>) -> Filtered;

    /// The decision once the body's first bytes were read for it ([`Decision::ReadBody`]):
    /// `body` is at most the bytes asked for, `uninspected` the count of body bytes known
    /// to lie beyond them (the rest of a `Content-Length`, else what arrived beyond).
    fn body_filter(&self, request: &RequestView<'_>, _body: Bytes, _uninspected: u64) -> Filtered {
        self.request_filter(request)
    }
}

/// No checks: every request goes to the first upstream, or to the files when there is none.
#[derive(Debug, Default)]
pub struct Unchecked {
    pub files: bool,
}

impl Phases for Unchecked {
    fn request_filter(&self, request: &RequestView<'_>) -> Filtered {
        if self.files {
            let target = request.head.target();
            let path = target.split(|&b| b == b'?').next().unwrap_or_default();
            return Filtered::Ready(Decision::Files {
                path: String::from_utf8_lossy(path).into_owned(),
                on_response: None,
            });
        }
        let peer = request.facts.client().ip().to_string();
        Filtered::Ready(Decision::Forward(Forward {
            peer: Some(peer),
            ..Forward::default()
        }))
    }
}
