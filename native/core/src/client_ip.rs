//! The real client IP: forwarding headers are believed only from trusted proxies.
//!
//! The peer (the socket peer, or the PROXY-protocol source) is the client unless it is a
//! trusted proxy. From a trusted peer one configured header decides, as nginx's
//! `real_ip_header` does (`X-Forwarded-For` by default): reading several headers in an
//! order would let a client choose its address through a proxy that sets only one of
//! them and passes the others through. The header is read as follows:
//!
//! - `X-Forwarded-For`: every line, in order, is a list of hops, walked from the right
//!   (where the proxies closest to us appended what they saw): trusted hops are skipped
//!   and the first untrusted address is the client; when every hop is trusted, the
//!   leftmost is. An entry that is not an address stops the walk, and the last good hop
//!   (the peer itself when the broken entry is the rightmost) is the client: nothing left
//!   of a broken entry can be vouched for.
//! - `Forwarded` (RFC 7239): the `for=` node of each element, walked the same way; quoted
//!   and bracketed IPv6 and ports are understood; `unknown`, obfuscated identifiers
//!   (`_hidden`) and elements without `for=` stop the walk like garbage.
//! - `X-Real-IP`: one address (the last line's), believed as it is.
//!
//! Lists are split at every comma before anything else, quoted or not: a client writes
//! anything left of what a trusted proxy appends (an unterminated quote, say), and
//! splitting first keeps the proxy's entries intact whatever comes before them.
//!
//! Header values are bytes read as Latin-1 (each byte one character), which is how the
//! Python side reads them; an address is spelled the one way `stockade.netaddr` spells it
//! (IPv4-mapped IPv6 is IPv4; a valid zone id is dropped).

use crate::addr::{Addr, parse_v4, parse_v6};
use crate::ipset::IpSet;

mod forwarded;

/// The forwarding header an operator configures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ForwardingHeader {
    #[default]
    XForwardedFor,
    Forwarded,
    XRealIp,
}

impl ForwardingHeader {
    pub const ALL: [ForwardingHeader; 3] = [
        ForwardingHeader::XForwardedFor,
        ForwardingHeader::Forwarded,
        ForwardingHeader::XRealIp,
    ];

    /// Its name in lower case.
    pub fn name(self) -> &'static str {
        match self {
            ForwardingHeader::XForwardedFor => "x-forwarded-for",
            ForwardingHeader::Forwarded => "forwarded",
            ForwardingHeader::XRealIp => "x-real-ip",
        }
    }

    /// The header a name (in any case) is, if it is one of the three.
    pub fn of(name: &[u8]) -> Option<Self> {
        if name.len() != 15 && name.len() != 9 {
            return None;
        }
        Self::ALL
            .into_iter()
            .find(|header| name.eq_ignore_ascii_case(header.name().as_bytes()))
    }
}

/// Peers whose forwarding header is believed (`[proxy] trusted`), and which header that is.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    pub networks: IpSet,
    pub header: ForwardingHeader,
}

/// Who the client is, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp {
    /// The client the guard believes; `None` only when the peer is not an address either
    /// (a Unix socket, or no peer at all): then the client is the peer as given.
    pub address: Option<Addr>,
    /// The peer, if it is an address.
    pub peer: Option<Addr>,
    /// Whether the peer is a trusted proxy.
    pub trusted: bool,
    /// The forwarding header that named the client (`None` when the client is the peer).
    pub header: Option<ForwardingHeader>,
    /// Whether the request carried any forwarding header, believed or not.
    pub forwarded: bool,
}

impl TrustedProxies {
    pub fn new(networks: IpSet, header: ForwardingHeader) -> Self {
        Self { networks, header }
    }

    /// The client of a request from `peer` with these `(name, value)` header lines.
    pub fn resolve(&self, peer: Option<Addr>, headers: &[(&[u8], &[u8])]) -> ClientIp {
        let trusted = peer.is_some_and(|peer| self.networks.contains(peer));
        let mut plain = ClientIp {
            address: peer,
            peer,
            trusted,
            header: None,
            forwarded: false,
        };
        let mut lines = headers
            .iter()
            .filter_map(|&(name, value)| Some((ForwardingHeader::of(name)?, value)));
        let Some((first, value)) = lines.next() else {
            return plain;
        };
        plain.forwarded = true;
        if !trusted {
            return plain;
        }
        let wanted = self.header;
        let mut found = std::iter::once((first, value))
            .chain(lines)
            .filter(|&(header, _)| header == wanted)
            .map(|(_, value)| value)
            .peekable();
        if found.peek().is_none() {
            return plain;
        }
        let client = match wanted {
            ForwardingHeader::XRealIp => found.last().and_then(|line| node(trim_blanks(line))),
            ForwardingHeader::XForwardedFor => self.walk(found.flat_map(split_list).map(node)),
            ForwardingHeader::Forwarded => self.walk(
                found
                    .flat_map(split_list)
                    .map(|element| forwarded::for_node(element).and_then(|value| node(&value))),
            ),
        };
        match client {
            Some(address) => ClientIp {
                address: Some(address),
                header: Some(wanted),
                ..plain
            },
            None => plain,
        }
    }

    /// The first untrusted hop from the right; the last good one if garbage comes first.
    /// `None` when there is no hop at all (only empty entries) or garbage is rightmost.
    fn walk(&self, hops: impl Iterator<Item = Option<Addr>>) -> Option<Addr> {
        let hops: Vec<Option<Addr>> = hops.collect();
        let mut last_good = None;
        for hop in hops.iter().rev() {
            let Some(hop) = *hop else {
                return last_good;
            };
            if !self.networks.contains(hop) {
                return Some(hop);
            }
            last_good = Some(hop);
        }
        last_good
    }
}

/// The non-empty entries of a comma-separated list, optional whitespace trimmed.
fn split_list(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b == b',')
        .map(trim_blanks)
        .filter(|entry| !entry.is_empty())
}

pub(crate) fn trim_blanks(text: &[u8]) -> &[u8] {
    let blank = |b: &u8| matches!(b, b' ' | b'\t');
    let start = text.iter().position(|b| !blank(b)).unwrap_or(text.len());
    let end = text.iter().rposition(|b| !blank(b)).map_or(start, |at| at + 1);
    text.get(start..end).unwrap_or_default()
}

/// The address of a node (`1.2.3.4`, `1.2.3.4:80`, `[::1]:80`, `::1`), or `None`.
///
/// `unknown` and obfuscated identifiers (`_x`) are not addresses; an obfuscated port after
/// a real address is fine (`[::1]:_p` is `::1`).
fn node(text: &[u8]) -> Option<Addr> {
    if let Some(inner) = text.strip_prefix(b"[") {
        let close = memchr::memchr(b']', inner)?;
        let rest = inner.get(close + 1..).unwrap_or_default();
        if !rest.is_empty() && !rest.strip_prefix(b":").is_some_and(is_port) {
            return None;
        }
        let inner = inner.get(..close)?;
        return if inner.contains(&b':') {
            address(inner)
        } else {
            None
        };
    }
    let parsed = address(text);
    if parsed.is_some() || text.iter().filter(|&&b| b == b':').count() != 1 {
        return parsed;
    }
    let colon = memchr::memchr(b':', text)?;
    let (host, port) = (text.get(..colon)?, text.get(colon + 1..)?);
    if is_port(port) { address(host) } else { None }
}

fn is_port(text: &[u8]) -> bool {
    match text.split_first() {
        Some((b'_', rest)) => {
            !rest.is_empty()
                && rest
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        }
        _ => !text.is_empty() && text.len() <= 5 && text.iter().all(u8::is_ascii_digit),
    }
}

/// An address as `stockade.netaddr.normalize_ip` reads Latin-1 text: spaces and tabs
/// around it ignored, a valid zone id dropped (printable, without a space, `%`, `/`, `[`
/// or `]`), IPv4-mapped IPv6 as IPv4.
pub fn address(text: &[u8]) -> Option<Addr> {
    let text = trim_blanks(text);
    if !text.contains(&b':') {
        if text.contains(&b'%') {
            return None; // a zone needs an IPv6 address
        }
        return parse_v4(text).map(Addr::V4);
    }
    let text = match memchr::memchr(b'%', text) {
        None => text,
        Some(at) => {
            let zone = text.get(at + 1..)?;
            if zone.is_empty() || !zone.iter().all(|&b| zone_byte(b)) {
                return None;
            }
            text.get(..at)?
        }
    };
    // An address before its zone must still hold the colon that made it IPv6.
    if !text.contains(&b':') {
        return None;
    }
    parse_v6(text).map(Addr::from_u128)
}

/// A byte of a zone id read as Latin-1: a printable character (Python's `isprintable`)
/// other than a space, `%`, `/`, `[` and `]`.
fn zone_byte(byte: u8) -> bool {
    let printable = matches!(byte, 0x21..=0x7E) || (byte >= 0xA1 && byte != 0xAD);
    printable && !matches!(byte, b'%' | b'/' | b'[' | b']')
}

#[cfg(test)]
#[path = "client_ip_tests.rs"]
mod tests;
