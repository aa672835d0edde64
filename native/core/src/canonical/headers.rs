//! The request headers a backend receives: one canonical `Host`, and no client-address
//! claims from strangers.
//!
//! Backends and their frameworks read the client's address, scheme, host, user or
//! original URL from headers that proxies set (`X-Real-IP`, `X-Forwarded-Proto`,
//! `X-Original-URL`, `X-Forwarded-User`...). From a peer that is not a trusted proxy those
//! headers are the client's own words, so they are removed before anything reads them:
//! the checks and the backend. A trusted proxy's headers are kept.
//!
//! Names are matched in any case and with `_` read as `-`, because WSGI servers turn both
//! into `_` in the environ (`X_Real_IP` would otherwise reach the app as `HTTP_X_REAL_IP`).
//! A request with several `Host` headers is refused (RFC 9112 section 3.2); the one `Host`
//! is replaced by its canonical spelling.

use std::borrow::Cow;

use super::BadRequest;
use super::host::{CanonicalHost, canonical_host};
use crate::request::Header;

/// Headers in which a proxy tells the backend who the client is, how it connected, which
/// URL it asked for or who it is logged in as. Only a trusted peer may send them.
pub const PROXY_ONLY: [&[u8]; 43] = [
    // the client's address
    b"x-forwarded-for",
    b"forwarded",
    b"forwarded-for",
    b"x-forwarded",
    b"x-real-ip",
    b"x-client-ip",
    b"client-ip",
    b"true-client-ip",
    b"cf-connecting-ip",
    b"fastly-client-ip",
    b"x-cluster-client-ip",
    b"x-original-forwarded-for",
    b"x-originating-ip",
    b"x-remote-ip",
    b"x-remote-addr",
    b"x-proxyuser-ip",
    b"x-envoy-external-address",
    // how it connected, to which host and port
    b"x-forwarded-proto",
    b"x-forwarded-scheme",
    b"x-forwarded-ssl",
    b"x-forwarded-protocol",
    b"x-url-scheme",
    b"x-scheme",
    b"front-end-https",
    b"x-forwarded-host",
    b"x-forwarded-server",
    b"x-forwarded-port",
    b"x-forwarded-prefix",
    b"x-original-host",
    b"x-host",
    // which URL it asked for (rewrites honoured by IIS, Symfony, Zend, Envoy...)
    b"x-original-url",
    b"x-rewrite-url",
    b"x-original-uri",
    b"x-envoy-original-path",
    // who it is (set by authenticating proxies such as oauth2-proxy)
    b"x-forwarded-user",
    b"x-forwarded-email",
    b"x-forwarded-groups",
    b"x-forwarded-preferred-username",
    b"x-auth-request-user",
    b"x-auth-request-email",
    b"x-auth-request-groups",
    b"x-remote-user",
    b"remote-user",
];

/// Bit `n` is set when some name of [`PROXY_ONLY`] has `n` bytes: most names are ruled out
/// by their length alone.
const LENGTHS: u64 = {
    let mut bits = 0u64;
    let mut i = 0usize;
    while i < PROXY_ONLY.len() {
        #[allow(clippy::indexing_slicing, reason = "evaluated at compile time")]
        let len = PROXY_ONLY[i].len();
        bits |= 1 << len;
        i += 1;
    }
    bits
};

/// `byte` as a header name compares it: lower case, `_` read as `-`.
fn fold(byte: u8) -> u8 {
    if byte == b'_' {
        b'-'
    } else {
        byte.to_ascii_lowercase()
    }
}

/// Bit `b` is set when some name of [`PROXY_ONLY`] starts with the byte `b` (all ASCII).
const FIRSTS: u128 = {
    let mut bits = 0u128;
    let mut i = 0usize;
    while i < PROXY_ONLY.len() {
        #[allow(clippy::indexing_slicing, reason = "evaluated at compile time")]
        let first = PROXY_ONLY[i][0];
        bits |= 1 << first;
        i += 1;
    }
    bits
};

/// Whether `name` (any case, `_` or `-`) is a header only a trusted proxy may send.
pub fn proxy_only(name: &[u8]) -> bool {
    let len = name.len();
    if len >= 64 || LENGTHS & (1 << len) == 0 {
        return false;
    }
    let first = name.first().map_or(0, |&b| fold(b));
    if first >= 128 || FIRSTS & (1 << first) == 0 {
        return false;
    }
    let mut folded = [0u8; 64];
    for (slot, &byte) in folded.iter_mut().zip(name) {
        *slot = fold(byte);
    }
    let folded = folded.get(..len).unwrap_or_default();
    PROXY_ONLY.contains(&folded)
}

/// `name` is `host`, in any case.
pub fn is_host(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"host")
}

/// What the canonical header list is, found in one pass over the request's headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalHeaders<'a> {
    /// The canonical host (empty without a `Host` header).
    pub host: CanonicalHost<'a>,
    /// The position of the `Host` header.
    pub host_index: Option<usize>,
    /// Whether the peer is a trusted proxy, whose headers are all kept.
    pub trusted: bool,
    /// Whether the list changes at all (the usual request keeps it as it is).
    pub changed: bool,
}

impl<'a> CanonicalHeaders<'a> {
    /// The canonical headers of a list of `(name, value)` lines. Refuses several `Host`
    /// headers or one that is not a host.
    pub fn of(headers: &[(&'a [u8], &'a [u8])], trusted: bool) -> Result<Self, BadRequest> {
        let mut host_index = None;
        let mut dropped = false;
        for (index, (name, _)) in headers.iter().enumerate() {
            if is_host(name) {
                if host_index.is_some() {
                    return Err(BadRequest::SeveralHosts);
                }
                host_index = Some(index);
            } else if !trusted && proxy_only(name) {
                dropped = true;
            }
        }
        let value: &'a [u8] = host_index
            .and_then(|index| headers.get(index))
            .map_or(b"", |&(_, value)| value);
        let host = canonical_host(value)?;
        let changed = dropped || !host.spelled_as(value);
        Ok(Self {
            host,
            host_index,
            trusted,
            changed,
        })
    }

    /// Whether the line at `index` named `name` reaches the backend (the `Host` line does
    /// when the request names a host: spelled as [`CanonicalHost::header`]).
    pub fn keeps(&self, index: usize, name: &[u8]) -> bool {
        if Some(index) == self.host_index {
            return !self.host.name.is_empty() || !self.changed;
        }
        self.trusted || !proxy_only(name)
    }

    /// The canonical list: the lines kept, in order, the `Host` line respelled.
    pub fn apply<'h>(&'h self, headers: &'h [(&'a [u8], &'a [u8])]) -> impl Iterator<Item = Header<'a>> + 'h {
        headers
            .iter()
            .enumerate()
            .filter(|(index, (name, _))| !self.changed || self.keeps(*index, name))
            .map(|(index, &(name, value))| {
                if self.changed && Some(index) == self.host_index {
                    let spelled = self.host.header().into_owned().into_bytes();
                    Header::new(Cow::Borrowed(b"host"), Cow::Owned(spelled))
                } else {
                    Header::new(Cow::Borrowed(name), Cow::Borrowed(value))
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_headers_only_a_proxy_may_send() {
        for name in [
            &b"X-Real-IP"[..],
            b"x_forwarded_for",
            b"X-Original-URL",
            b"Remote-User",
            b"CF-Connecting-IP",
            b"x-forwarded-preferred-username",
        ] {
            assert!(proxy_only(name), "{name:?}");
        }
        for name in [
            &b"host"[..],
            b"user-agent",
            b"x-requested-with",
            b"authorization",
            b"cookie",
            b"",
        ] {
            assert!(!proxy_only(name), "{name:?}");
        }
        assert!(proxy_only(b"x-forwarded"));
        assert!(!proxy_only(&[b'x'; 200]));
    }

    fn names(canonical: &CanonicalHeaders<'_>, headers: &[(&[u8], &[u8])]) -> Vec<(Vec<u8>, Vec<u8>)> {
        canonical
            .apply(headers)
            .map(|header| (header.name.into_owned(), header.value.into_owned()))
            .collect()
    }

    #[test]
    fn the_usual_request_is_unchanged() {
        let headers: [(&[u8], &[u8]); 2] = [(b"host", b"a.example"), (b"accept", b"*/*")];
        let canonical = CanonicalHeaders::of(&headers, false).unwrap();
        assert!(!canonical.changed);
        assert_eq!(canonical.host.name, "a.example");
        assert_eq!(names(&canonical, &headers).len(), 2);
    }

    #[test]
    fn strangers_lose_their_proxy_headers_and_host_is_respelled() {
        let headers: [(&[u8], &[u8]); 4] = [
            (b"Host", b"A.Example.:80 "),
            (b"x-real-ip", b"6.6.6.6"),
            (b"accept", b"*/*"),
            (b"X_Forwarded_For", b"6.6.6.6"),
        ];
        let canonical = CanonicalHeaders::of(&headers, false).unwrap();
        assert!(canonical.changed);
        assert_eq!(
            names(&canonical, &headers),
            vec![
                (b"host".to_vec(), b"a.example:80".to_vec()),
                (b"accept".to_vec(), b"*/*".to_vec())
            ]
        );
        let trusted = CanonicalHeaders::of(&headers, true).unwrap();
        assert_eq!(names(&trusted, &headers).len(), 4);
    }

    #[test]
    fn an_empty_host_is_dropped_only_when_the_list_changes() {
        let kept: [(&[u8], &[u8]); 1] = [(b"host", b"")];
        let canonical = CanonicalHeaders::of(&kept, false).unwrap();
        assert!(!canonical.changed);
        assert_eq!(names(&canonical, &kept).len(), 1);
        let blank: [(&[u8], &[u8]); 1] = [(b"host", b" ")];
        let canonical = CanonicalHeaders::of(&blank, false).unwrap();
        assert!(canonical.changed);
        assert!(names(&canonical, &blank).is_empty());
    }

    #[test]
    fn refusals() {
        let two: [(&[u8], &[u8]); 2] = [(b"host", b"a"), (b"HOST", b"b")];
        assert_eq!(CanonicalHeaders::of(&two, true), Err(BadRequest::SeveralHosts));
        let bad: [(&[u8], &[u8]); 1] = [(b"host", b"a b")];
        assert_eq!(CanonicalHeaders::of(&bad, true), Err(BadRequest::NotAHostName));
    }
}
