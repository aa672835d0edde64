//! The native request: one canonical request, as every native check reads it.
//!
//! A front builds it once ([`Canonicalizer::canonicalize`](crate::canonical::Canonicalizer)),
//! and what passes the checks reaches the backend in exactly this form: the escaped
//! `target`, the canonical `Host`, the canonical header list, the query as sent. Fields
//! borrow the bytes the front received where nothing changed (the usual request), so
//! building one copies little.
//!
//! What the checks read, and how (the meanings of BFE's condition primitives):
//!
//! | field | holds | BFE reads it as |
//! | --- | --- | --- |
//! | `method` | the method as sent | `req_method_in` |
//! | `target` | the canonical path, escaped: what the backend receives | the request URI with `query` |
//! | `path` | `target` decoded (UTF-8, no control character) | `req_path_*` |
//! | `query` | the raw query, without `?` | `req_query_*`; [`Request::query_value`] parses it as Go's `url.ParseQuery` |
//! | `host` | lower-case name without a trailing dot, and the port as sent | `req_host_*` (the name), `req_port_in` ([`Request::port`]: `80` when none) |
//! | `headers` | every header line kept, in order, names in lower case | `req_header_*` ([`Request::header`]: the first line of a name) |
//! | `client` | the client the guard believes, the peer, whether the peer is a trusted proxy | `req_cip_*` (`client.address`), `req_vip`'s peer side |
//! | `secure`, `version` | TLS or not; the HTTP version | `req_proto_*`, `ses_*` |
//! | `body` | the first bytes of the body when the front read them (the front bounds them) | `req_body_*`, detection |
//!
//! Cookies and query pairs are parsed on first use and kept: a request that no rule asks
//! about them never parses them. The listener's facts (the address a request arrived on,
//! TLS SNI and client certificates) belong to the connection, not to the request, and
//! join it in the ladder.

use std::borrow::Cow;
use std::cell::OnceCell;

use crate::canonical::{CanonicalHost, CanonicalPath, HttpVersion, RawRequest};
use crate::client_ip::ClientIp;

mod conditions;
mod cookies;
mod query;

pub use conditions::{Conditions, Connection, latin1_utf8};
pub use cookies::parse_cookies;
pub use query::{parse_query, query_unescape};

/// Pairs parsed from the query or the cookies: the first value of each name, in order.
pub type Pairs<'a> = Vec<(Cow<'a, [u8]>, Cow<'a, [u8]>)>;

/// One header line: the name in lower case, the value as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header<'a> {
    pub name: Cow<'a, [u8]>,
    pub value: Cow<'a, [u8]>,
}

impl<'a> Header<'a> {
    /// A header line; the name is lower-cased (only copied when it has capitals).
    pub fn new(name: Cow<'a, [u8]>, value: Cow<'a, [u8]>) -> Self {
        let name = if name.iter().any(u8::is_ascii_uppercase) {
            Cow::Owned(name.to_ascii_lowercase())
        } else {
            name
        };
        Self { name, value }
    }
}

/// One canonical request; see the module documentation.
#[derive(Debug)]
pub struct Request<'a> {
    pub method: &'a [u8],
    pub target: Cow<'a, [u8]>,
    pub path: Cow<'a, str>,
    pub query: &'a [u8],
    pub host: CanonicalHost<'a>,
    pub headers: Vec<Header<'a>>,
    /// Whether the canonical header list differs from the one received (a front then
    /// hands the backend the new one).
    pub headers_changed: bool,
    pub client: ClientIp,
    pub secure: bool,
    pub version: HttpVersion,
    pub body: Option<&'a [u8]>,
    query_params: OnceCell<Pairs<'a>>,
    cookies: OnceCell<Pairs<'a>>,
}

impl<'a> Request<'a> {
    /// A request from its canonical parts (see [`Canonicalizer`](crate::canonical::Canonicalizer)).
    pub fn new(
        raw: &RawRequest<'a>,
        path: CanonicalPath<'a>,
        host: CanonicalHost<'a>,
        headers: Vec<Header<'a>>,
        client: ClientIp,
        headers_changed: bool,
    ) -> Self {
        Self {
            method: raw.method,
            target: path.target,
            path: path.path,
            query: raw.query,
            host,
            headers,
            headers_changed,
            client,
            secure: raw.secure,
            version: raw.version,
            body: raw.body,
            query_params: OnceCell::new(),
            cookies: OnceCell::new(),
        }
    }

    /// The port BFE reads: the `Host` header's, `80` when it names none (even over TLS,
    /// as BFE has it).
    pub fn port(&self) -> &str {
        if self.host.port.is_empty() {
            "80"
        } else {
            self.host.port
        }
    }

    /// The first value of a header; `name` in lower case.
    pub fn header(&self, name: &[u8]) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|header| header.name.as_ref() == name)
            .map(|header| header.value.as_ref())
    }

    /// Every value of a header, in order; `name` in lower case.
    pub fn header_values<'s>(&'s self, name: &'s [u8]) -> impl Iterator<Item = &'s [u8]> + 's {
        self.headers
            .iter()
            .filter(move |header| header.name.as_ref() == name)
            .map(|header| header.value.as_ref())
    }

    /// The query's pairs, parsed on first use (Go's `url.ParseQuery`, first value per key).
    pub fn query_params(&self) -> &Pairs<'a> {
        self.query_params.get_or_init(|| parse_query(self.query))
    }

    /// The first value of a query parameter.
    pub fn query_value(&self, key: &[u8]) -> Option<&[u8]> {
        find(self.query_params(), key)
    }

    /// The cookies of every `Cookie` line, parsed on first use (Go's `readCookies`, the
    /// first cookie of a name wins).
    pub fn cookies(&self) -> &Pairs<'a> {
        self.cookies.get_or_init(|| {
            let lines = self
                .headers
                .iter()
                .filter(|header| header.name.as_ref() == b"cookie")
                .map(|header| header.value.clone());
            parse_cookies(lines)
        })
    }

    /// The value of a cookie.
    pub fn cookie(&self, name: &[u8]) -> Option<&[u8]> {
        find(self.cookies(), name)
    }
}

fn find<'p>(pairs: &'p Pairs<'_>, key: &[u8]) -> Option<&'p [u8]> {
    pairs
        .iter()
        .find(|(name, _)| name.as_ref() == key)
        .map(|(_, value)| value.as_ref())
}

#[cfg(test)]
mod tests;
