//! HAProxy's PROXY protocol, versions 1 and 2: the header a proxy in front sends first.
//!
//! Pure functions on bytes, as `stockade.server.http.proxy_protocol` does them: the
//! acceptor peeks at the connection, asks [`header_length`] how many bytes the header
//! spans, reads exactly those (not a byte of the TLS or HTTP stream behind it) and
//! [`parse`]s them.
//!
//! - v1 is one text line, `PROXY TCP4|TCP6|UNKNOWN ...\r\n`, at most 107 bytes;
//! - v2 is a 12-byte signature, a version/command byte, a family/transport byte, a
//!   16-bit length, then the addresses and TLVs.
//!
//! `LOCAL`, `UNKNOWN` and families without IP addresses give no source: the socket peer is
//! the client.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub const V1_PREFIX: &[u8] = b"PROXY ";
pub const V1_MAX: usize = 107;
pub const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\x00\r\nQUIT\n";
pub const V2_FIXED: usize = 16;

/// Which versions a listener accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versions {
    V1,
    V2,
    Any,
}

/// Why a header was refused (the connection is closed without a byte).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyError(pub String);

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad PROXY protocol header: {}", self.0)
    }
}

fn error(reason: impl Into<String>) -> ProxyError {
    ProxyError(reason.into())
}

fn is_prefix(data: &[u8], prefix: &[u8]) -> bool {
    let size = data.len().min(prefix.len());
    data.get(..size) == prefix.get(..size)
}

fn byte(data: &[u8], index: usize) -> u8 {
    data.get(index).copied().unwrap_or(0)
}

fn v2_address_size(family: u8) -> Option<usize> {
    match family {
        0x1 => Some(12),
        0x2 => Some(36),
        0x3 => Some(216),
        _ => None,
    }
}

/// The length of the header `data` starts with, or `None` when more bytes are needed.
///
/// While it answers `None`, every byte of `data` belongs to the header.
pub fn header_length(data: &[u8], versions: Versions) -> Result<Option<usize>, ProxyError> {
    if is_prefix(data, V2_SIGNATURE) {
        if versions == Versions::V1 {
            return Err(error("version 2 header on a version 1 listener"));
        }
        if data.len() < V2_FIXED {
            return Ok(None);
        }
        let version = byte(data, 12) >> 4;
        let command = byte(data, 12) & 0xF;
        if version != 2 {
            return Err(error(format!("version {version} in a version 2 signature")));
        }
        if command > 1 {
            return Err(error(format!("unknown command {command}")));
        }
        let family = byte(data, 13) >> 4;
        let transport = byte(data, 13) & 0xF;
        if family > 3 || transport > 2 {
            return Err(error(format!(
                "unknown address family or transport 0x{:02x}",
                byte(data, 13)
            )));
        }
        let length = usize::from(u16::from_be_bytes([byte(data, 14), byte(data, 15)]));
        let needed = if command == 1 {
            v2_address_size(family).unwrap_or(0)
        } else {
            0
        };
        if length < needed {
            return Err(error(format!("length {length} too short for the address family")));
        }
        return Ok(Some(V2_FIXED + length));
    }
    if is_prefix(data, V1_PREFIX) {
        if versions == Versions::V2 {
            return Err(error("version 1 header on a version 2 listener"));
        }
        let window = data.get(..data.len().min(V1_MAX)).unwrap_or_default();
        if let Some(end) = memchr::memmem::find(window, b"\r\n") {
            return Ok(Some(end + 2));
        }
        if data.len() >= V1_MAX {
            return Err(error(format!("version 1 header longer than {V1_MAX} bytes")));
        }
        return Ok(None);
    }
    Err(error("the connection does not start with a PROXY header"))
}

/// What the proxy in front said: the client's address, when it gave one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyHeader {
    pub version: u8,
    pub source: Option<SocketAddr>,
}

/// Parse one complete header (exactly the bytes [`header_length`] counted).
pub fn parse(header: &[u8], versions: Versions) -> Result<ProxyHeader, ProxyError> {
    if header_length(header, versions)? != Some(header.len()) {
        return Err(error("incomplete header"));
    }
    if header.starts_with(V2_SIGNATURE) {
        parse_v2(header)
    } else {
        parse_v1(header)
    }
}

fn parse_v1(header: &[u8]) -> Result<ProxyHeader, ProxyError> {
    let line = header.get(..header.len().saturating_sub(2)).unwrap_or_default();
    let line = std::str::from_utf8(line)
        .ok()
        .filter(|text| text.is_ascii())
        .ok_or_else(|| error("version 1 header is not ASCII"))?;
    let parts: Vec<&str> = line.split(' ').collect();
    if parts.get(1) == Some(&"UNKNOWN") {
        return Ok(ProxyHeader {
            version: 1,
            source: None,
        });
    }
    let accepted = "expected 'PROXY TCP4|TCP6 source destination sport dport' or 'PROXY UNKNOWN'";
    let [_, family, source, destination, sport, dport] = parts.as_slice() else {
        return Err(error(accepted));
    };
    let v4 = match *family {
        "TCP4" => true,
        "TCP6" => false,
        _ => return Err(error(accepted)),
    };
    let source = v1_address(v4, source)?;
    v1_address(v4, destination)?;
    let port = v1_port(sport)?;
    v1_port(dport)?;
    Ok(ProxyHeader {
        version: 1,
        source: Some(SocketAddr::new(source, port)),
    })
}

fn v1_address(v4: bool, text: &str) -> Result<IpAddr, ProxyError> {
    let parsed = if v4 {
        text.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
    } else {
        // inet_pton's IPv6: no zone, no brackets.
        text.parse::<Ipv6Addr>().ok().map(|ip| unmapped(IpAddr::V6(ip)))
    };
    let kind = if v4 { "IPv4" } else { "IPv6" };
    parsed.ok_or_else(|| error(format!("'{text}' is not an {kind} address")))
}

fn v1_port(text: &str) -> Result<u16, ProxyError> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let leading_zero = text.len() > 1 && text.starts_with('0');
    match text.parse::<u16>() {
        Ok(port) if digits && !leading_zero && text.len() <= 5 => Ok(port),
        _ => Err(error(format!("'{text}' is not a port number"))),
    }
}

fn parse_v2(header: &[u8]) -> Result<ProxyHeader, ProxyError> {
    let command = byte(header, 12) & 0xF;
    let family = byte(header, 13) >> 4;
    let body = header.get(V2_FIXED..).unwrap_or_default();
    let size = v2_address_size(family).unwrap_or(0);
    check_tlvs(body.get(size..).unwrap_or_default())?;
    if command == 0 {
        return Ok(ProxyHeader {
            version: 2,
            source: None,
        });
    }
    let source = match family {
        0x1 => {
            let ip: [u8; 4] = body.get(..4).and_then(|s| s.try_into().ok()).unwrap_or_default();
            let port = u16::from_be_bytes([byte(body, 8), byte(body, 9)]);
            Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port))
        }
        0x2 => {
            let ip: [u8; 16] = body.get(..16).and_then(|s| s.try_into().ok()).unwrap_or_default();
            let port = u16::from_be_bytes([byte(body, 32), byte(body, 33)]);
            Some(SocketAddr::new(unmapped(IpAddr::V6(Ipv6Addr::from(ip))), port))
        }
        _ => None,
    };
    Ok(ProxyHeader { version: 2, source })
}

fn check_tlvs(data: &[u8]) -> Result<(), ProxyError> {
    let mut offset = 0;
    while offset < data.len() {
        if offset + 3 > data.len() {
            return Err(error("truncated TLV"));
        }
        let kind = byte(data, offset);
        let length = usize::from(u16::from_be_bytes([
            byte(data, offset + 1),
            byte(data, offset + 2),
        ]));
        let end = offset + 3 + length;
        if end > data.len() {
            return Err(error(format!("TLV 0x{kind:02x} longer than the header")));
        }
        offset = end;
    }
    Ok(())
}

/// An IPv4-mapped IPv6 address is the IPv4 address it maps.
pub fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_lengths_and_sources() {
        let header = b"PROXY TCP4 192.0.2.1 192.0.2.2 1234 80\r\nGET";
        assert_eq!(header_length(header, Versions::Any).unwrap(), Some(40));
        let parsed = parse(&header[..40], Versions::Any).unwrap();
        assert_eq!(parsed.source, Some("192.0.2.1:1234".parse().unwrap()));
        assert_eq!(header_length(b"PROXY TCP4 1.2", Versions::Any).unwrap(), None);
        assert!(header_length(b"GET / HTTP/1.1", Versions::Any).is_err());
        assert!(header_length(header, Versions::V2).is_err());
        let mapped = b"PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n";
        assert_eq!(
            parse(mapped, Versions::V1).unwrap().source,
            Some("192.0.2.1:1".parse().unwrap())
        );
        assert!(parse(b"PROXY TCP4 192.0.2.1 192.0.2.2 01 80\r\n", Versions::Any).is_err());
        assert_eq!(
            parse(b"PROXY UNKNOWN whatever\r\n", Versions::Any)
                .unwrap()
                .source,
            None
        );
    }

    #[test]
    fn v2_lengths_and_sources() {
        let mut header = V2_SIGNATURE.to_vec();
        header.extend_from_slice(&[0x21, 0x11, 0, 12, 203, 0, 113, 9, 10, 0, 0, 1, 0x30, 0x39, 0, 80]);
        assert_eq!(header_length(&header[..10], Versions::Any).unwrap(), None);
        assert_eq!(header_length(&header, Versions::V2).unwrap(), Some(28));
        let parsed = parse(&header, Versions::Any).unwrap();
        assert_eq!(parsed.source, Some("203.0.113.9:12345".parse().unwrap()));
        header[12] = 0x20; // LOCAL
        assert_eq!(parse(&header, Versions::Any).unwrap().source, None);
        assert!(header_length(&header, Versions::V1).is_err());
        let mut short = V2_SIGNATURE.to_vec();
        short.extend_from_slice(&[0x21, 0x11, 0, 4, 1, 2, 3, 4]);
        assert!(header_length(&short, Versions::Any).is_err());
    }
}
