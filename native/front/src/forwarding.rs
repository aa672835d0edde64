//! The header rules of the reverse proxy: hop-by-hop headers dropped both ways, and the
//! forwarding headers that tell the upstream who the client was.
//!
//! The same rules as `stockade.server.proxy.headers`, header for header: hop-by-hop headers
//! (RFC 9110 section 7.6.1) and whatever `Connection` names are dropped; `X-Forwarded-For`,
//! `X-Forwarded-Proto`, `X-Forwarded-Host`, `Forwarded` (RFC 7239) and `X-Real-IP` are this
//! hop's alone, unless the peer is trusted and sent some, which are then extended. Names
//! are lower case (the codec lower-cases them as it parses).

use bytes::Bytes;

pub type Header = (Bytes, Bytes);

pub const HOP_BY_HOP: [&[u8]; 9] = [
    b"connection",
    b"keep-alive",
    b"proxy-authenticate",
    b"proxy-authorization",
    b"proxy-connection",
    b"te",
    b"trailer",
    b"transfer-encoding",
    b"upgrade",
];

const FORWARDING: [&[u8]; 4] = [
    b"x-forwarded-for",
    b"x-forwarded-proto",
    b"x-forwarded-host",
    b"forwarded",
];
const CONNECTION_OPTIONS: [&[u8]; 2] = [b"close", b"keep-alive"];

pub fn is_hop_by_hop(name: &[u8]) -> bool {
    HOP_BY_HOP.contains(&name)
}

/// Request headers the forwarding step reads, replaces or drops.
fn is_request_special(name: &[u8]) -> bool {
    is_hop_by_hop(name)
        || FORWARDING.contains(&name)
        || matches!(name, b"host" | b"x-real-ip" | b"content-length" | b"expect")
}

/// The lower-case options of `Connection` values.
pub fn connection_tokens<'a>(values: impl Iterator<Item = &'a [u8]>) -> Vec<Vec<u8>> {
    let mut tokens: Vec<Vec<u8>> = Vec::new();
    for value in values {
        for part in value.split(|&b| b == b',') {
            let token = part.trim_ascii().to_ascii_lowercase();
            if !token.is_empty() && !tokens.contains(&token) {
                tokens.push(token);
            }
        }
    }
    tokens
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// An RFC 7239 node for `for=`: IPv6 bracketed and quoted, `unknown` when not known.
pub fn forwarded_node(ip: Option<&str>, out: &mut Vec<u8>) {
    match ip {
        None | Some("") => out.extend_from_slice(b"unknown"),
        Some(ip) if ip.contains(':') => {
            out.extend_from_slice(b"\"[");
            out.extend_from_slice(ip.as_bytes());
            out.extend_from_slice(b"]\"");
        }
        Some(ip) => out.extend_from_slice(ip.as_bytes()),
    }
}

/// A value as RFC 7239 wants it: a token as it is, anything else quoted.
pub fn forwarded_value(value: &[u8], out: &mut Vec<u8>) {
    if !value.is_empty() && value.iter().all(|&b| is_tchar(b)) {
        out.extend_from_slice(value);
        return;
    }
    out.push(b'"');
    for &b in value {
        if b == b'\\' || b == b'"' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// This hop's element of `Forwarded`: `for=...;proto=...;host=...`.
pub fn forwarded_element(ip: Option<&str>, proto: &[u8], host: Option<&[u8]>) -> Vec<u8> {
    let mut element = b"for=".to_vec();
    forwarded_node(ip, &mut element);
    element.extend_from_slice(b";proto=");
    element.extend_from_slice(proto);
    if let Some(host) = host {
        element.extend_from_slice(b";host=");
        forwarded_value(host, &mut element);
    }
    element
}

/// Who this hop's client is, as the forwarding headers say it.
#[derive(Debug, Clone, Default)]
pub struct Hop {
    /// The peer appended to the forwarding lists (the socket peer or PROXY source).
    pub peer: Option<String>,
    /// Whether the peer's own forwarding headers are believed (and extended).
    pub trusted: bool,
    /// The client the guard decided on (`X-Real-IP`); the peer by default.
    pub real_ip: Option<String>,
    /// `http` or `https`.
    pub proto: &'static [u8],
}

/// The upstream's request headers: `Host` first, the end-to-end ones, then the forwarding
/// headers. `Content-Length`, `Transfer-Encoding` and `Expect` are left to the framing.
pub fn upstream_headers<'a>(
    headers: impl Iterator<Item = (&'a [u8], &'a [u8])> + Clone,
    hop: &Hop,
    default_host: &[u8],
    mut emit: impl FnMut(&[u8], &[u8]),
) {
    let mut host: Option<&[u8]> = None;
    let mut special = false;
    for (name, value) in headers.clone() {
        if name == b"host" {
            if host.is_none() {
                host = Some(value);
            }
        } else if is_request_special(name) {
            special = true;
        }
    }
    emit(b"host", host.unwrap_or(default_host));
    let listed: Vec<Vec<u8>> = if special {
        let values: Vec<&[u8]> = headers
            .clone()
            .filter(|(n, _)| *n == b"connection")
            .map(|(_, v)| v)
            .collect();
        listed_names(&values)
    } else {
        Vec::new()
    };
    let is_listed = |name: &[u8]| listed.iter().any(|l| l.as_slice() == name);
    for (name, value) in headers.clone() {
        if !is_request_special(name) && !is_listed(name) {
            emit(name, value);
        }
    }
    let seen = |wanted: &[u8]| -> Vec<&[u8]> {
        if is_listed(wanted) {
            return Vec::new();
        }
        headers
            .clone()
            .filter(|(n, _)| *n == wanted)
            .map(|(_, v)| v)
            .collect()
    };
    let proto = hop.proto;
    let peer = hop.peer.as_deref();
    let ip: &[u8] = peer.filter(|p| !p.is_empty()).unwrap_or("unknown").as_bytes();
    let element = forwarded_element(peer, proto, host);
    let real = hop
        .real_ip
        .as_deref()
        .filter(|r| !r.is_empty())
        .or(peer.filter(|p| !p.is_empty()));
    let (xff, fwd, xfp, xfh) = if special && hop.trusted {
        (
            seen(b"x-forwarded-for"),
            seen(b"forwarded"),
            seen(b"x-forwarded-proto"),
            seen(b"x-forwarded-host"),
        )
    } else {
        (Vec::new(), Vec::new(), Vec::new(), Vec::new())
    };
    if xff.is_empty() && fwd.is_empty() && xfp.is_empty() && xfh.is_empty() {
        emit(b"x-forwarded-for", ip);
        emit(b"forwarded", &element);
        emit(b"x-forwarded-proto", proto);
        if let Some(host) = host {
            emit(b"x-forwarded-host", host);
        }
    } else {
        emit(b"x-forwarded-for", &joined(&xff, ip));
        emit(b"forwarded", &joined(&fwd, &element));
        emit(b"x-forwarded-proto", xfp.last().map_or(proto, |v| *v));
        if let Some(forwarded_host) = xfh.last().copied().or(host) {
            emit(b"x-forwarded-host", forwarded_host);
        }
    }
    if let Some(real) = real {
        emit(b"x-real-ip", real.as_bytes());
    }
}

fn joined(earlier: &[&[u8]], last: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for value in earlier {
        out.extend_from_slice(value);
        out.extend_from_slice(b", ");
    }
    out.extend_from_slice(last);
    out
}

/// The header names a request's `Connection` header lists (its options aside).
fn listed_names(values: &[&[u8]]) -> Vec<Vec<u8>> {
    if let [only] = values {
        let lower = only.to_ascii_lowercase();
        if CONNECTION_OPTIONS.contains(&lower.as_slice()) {
            return Vec::new();
        }
    }
    connection_tokens(values.iter().copied())
        .into_iter()
        .filter(|t| !CONNECTION_OPTIONS.contains(&t.as_slice()))
        .collect()
}

/// The upgrade a request asks for, when it is one this proxy must refuse (not `h2c`).
pub fn refused_upgrade<'a>(headers: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> bool {
    let values: Vec<&[u8]> = headers
        .filter(|(n, _)| *n == b"upgrade")
        .map(|(_, v)| v)
        .collect();
    connection_tokens(values.into_iter())
        .iter()
        .any(|t| t.as_slice() != b"h2c")
}

/// What the proxy does with a response header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseHeader {
    Pass,
    Drop,
    Connection,
    TransferEncoding,
    Length,
}

pub fn response_header(lower: &[u8]) -> ResponseHeader {
    match lower {
        b"connection" => ResponseHeader::Connection,
        b"transfer-encoding" => ResponseHeader::TransferEncoding,
        b"content-length" => ResponseHeader::Length,
        // Date: the front sends its own, as nginx does; two would be wrong.
        b"date" => ResponseHeader::Drop,
        _ if is_hop_by_hop(lower) => ResponseHeader::Drop,
        _ => ResponseHeader::Pass,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(headers: &[(&str, &str)], hop: &Hop) -> Vec<(String, String)> {
        let list: Vec<(Vec<u8>, Vec<u8>)> = headers
            .iter()
            .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        let mut out = Vec::new();
        upstream_headers(
            list.iter().map(|(n, v)| (n.as_slice(), v.as_slice())),
            hop,
            b"up:80",
            |n, v| {
                out.push((
                    String::from_utf8(n.to_vec()).unwrap(),
                    String::from_utf8(v.to_vec()).unwrap(),
                ));
            },
        );
        out
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn an_untrusted_peer_starts_the_lists() {
        let hop = Hop {
            peer: Some("127.0.0.1".into()),
            trusted: false,
            real_ip: None,
            proto: b"http",
        };
        let out = run(
            &[
                ("host", "example.test:8443"),
                ("connection", "keep-alive, x-secret-hop"),
                ("x-secret-hop", "1"),
                ("x-forwarded-for", "6.6.6.6"),
                ("x-custom", "kept"),
            ],
            &hop,
        );
        assert_eq!(
            out,
            pairs(&[
                ("host", "example.test:8443"),
                ("x-custom", "kept"),
                ("x-forwarded-for", "127.0.0.1"),
                ("forwarded", "for=127.0.0.1;proto=http;host=\"example.test:8443\""),
                ("x-forwarded-proto", "http"),
                ("x-forwarded-host", "example.test:8443"),
                ("x-real-ip", "127.0.0.1"),
            ])
        );
    }

    #[test]
    fn a_trusted_peer_is_extended() {
        let hop = Hop {
            peer: Some("2001:db8::1".into()),
            trusted: true,
            real_ip: None,
            proto: b"http",
        };
        let out = run(
            &[
                ("x-forwarded-for", "203.0.113.9"),
                ("forwarded", "for=203.0.113.9"),
            ],
            &hop,
        );
        assert_eq!(
            out,
            pairs(&[
                ("host", "up:80"),
                ("x-forwarded-for", "203.0.113.9, 2001:db8::1"),
                ("forwarded", "for=203.0.113.9, for=\"[2001:db8::1]\";proto=http"),
                ("x-forwarded-proto", "http"),
                ("x-real-ip", "2001:db8::1"),
            ])
        );
    }

    #[test]
    fn upgrades() {
        let h2c: [(&[u8], &[u8]); 1] = [(b"upgrade", b"h2c")];
        assert!(!refused_upgrade(h2c.into_iter()));
        let ws: [(&[u8], &[u8]); 1] = [(b"upgrade", b"websocket")];
        assert!(refused_upgrade(ws.into_iter()));
    }
}
