//! The canonical host of a request: one spelling for the product table, every rule and
//! the backend.
//!
//! `Host: Shop.Example.COM. ` and `shop.example.com` name the same site to a backend
//! (servers strip the whitespace, DNS ignores case and the root's trailing dot), so they
//! name the same site to the checks. The canonical host is the value with optional
//! whitespace stripped, lower-cased, one trailing dot dropped and the port split off; an
//! IPv6 literal is written as the C library's `inet_ntop` writes it, in brackets. What is
//! not a host at all (other characters, empty labels, a bad port) is refused.

use std::borrow::Cow;

use super::BadRequest;
use crate::addr::parse_v6;

/// The longest host name DNS allows.
const MAX_NAME: usize = 253;

/// `name` is lower case without a trailing dot (empty when the request named no host);
/// `port` is as sent (empty when there is none).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CanonicalHost<'a> {
    pub name: Cow<'a, str>,
    pub port: &'a str,
}

impl CanonicalHost<'_> {
    /// The value a backend receives as `Host`: `name` or `name:port`.
    pub fn header(&self) -> Cow<'_, str> {
        if self.port.is_empty() {
            Cow::Borrowed(&self.name)
        } else {
            // Not `format!`: its machinery costs a clean request several hundred instructions.
            let mut header = String::with_capacity(self.name.len() + 1 + self.port.len());
            header.push_str(&self.name);
            header.push(':');
            header.push_str(self.port);
            Cow::Owned(header)
        }
    }

    /// Whether `value` is already the spelling [`Self::header`] gives, without building it.
    pub fn spelled_as(&self, value: &[u8]) -> bool {
        let name = self.name.as_bytes();
        if self.port.is_empty() {
            return value == name;
        }
        value.len() == name.len() + 1 + self.port.len()
            && value.starts_with(name)
            && value.get(name.len()) == Some(&b':')
            && value.ends_with(self.port.as_bytes())
    }
}

fn is_blank(byte: &u8) -> bool {
    matches!(byte, b' ' | b'\t')
}

fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'-' | b'.' | b'_')
}

/// The canonical form of a `Host` header value (or an absolute-form target's authority).
pub fn canonical_host(value: &[u8]) -> Result<CanonicalHost<'_>, BadRequest> {
    let start = value.iter().position(|b| !is_blank(b)).unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !is_blank(b))
        .map_or(start, |at| at + 1);
    let value = value.get(start..end).unwrap_or_default();
    if value.is_empty() {
        return Ok(CanonicalHost::default());
    }
    if value.first() == Some(&b'[') {
        let close = memchr::memchr(b']', value).ok_or(BadRequest::NotAHostName)?;
        let name = ipv6_literal(value.get(1..close).unwrap_or_default())?;
        let rest = value.get(close + 1..).unwrap_or_default();
        let port = match rest.split_first() {
            None => "",
            Some((b':', port)) => port_of(port)?,
            Some(_) => return Err(BadRequest::NotAHostName),
        };
        return Ok(CanonicalHost {
            name: Cow::Owned(name),
            port,
        });
    }
    let (name, port) = match memchr::memchr(b':', value) {
        Some(colon) => (value.get(..colon).unwrap_or_default(), value.get(colon + 1..)),
        None => (value, None),
    };
    let name = name.strip_suffix(b".").unwrap_or(name);
    let (valid, lower) = check_name(name);
    if !valid {
        return Err(BadRequest::NotAHostName);
    }
    let name = if lower {
        // Name bytes are ASCII.
        Cow::Borrowed(std::str::from_utf8(name).map_err(|_| BadRequest::NotAHostName)?)
    } else {
        Cow::Owned(String::from_utf8(name.to_ascii_lowercase()).map_err(|_| BadRequest::NotAHostName)?)
    };
    // The name is checked before the port, so that the reason names what a reader meets first.
    let port = port.map_or(Ok(""), port_of)?;
    Ok(CanonicalHost { name, port })
}

/// Whether a name (its one trailing dot dropped) is a host name: 1 to 253 bytes of letters
/// (any case), digits, `-`, `.` and `_`, without an empty label (`.a`, `a..b`, `a.` after
/// the drop); and whether it is lower case already. One pass over the bytes.
fn check_name(name: &[u8]) -> (bool, bool) {
    let (Some(&first), Some(&last)) = (name.first(), name.last()) else {
        return (false, true);
    };
    if name.len() > MAX_NAME || first == b'.' || last == b'.' {
        return (false, true);
    }
    let mut lower = true;
    let mut previous = 0u8;
    for &byte in name {
        lower &= !byte.is_ascii_uppercase();
        if !is_name_byte(byte.to_ascii_lowercase()) || (byte == b'.' && previous == b'.') {
            return (false, lower);
        }
        previous = byte;
    }
    (true, lower)
}

/// An IPv6 literal as `inet_ntop` writes it, in brackets.
fn ipv6_literal(text: &[u8]) -> Result<String, BadRequest> {
    let value = parse_v6(text).ok_or(BadRequest::NotAHostName)?;
    Ok(format!("[{}]", ntop6(value)))
}

/// The port as sent: ASCII digits, at most five, at most 65535; empty for `host:`
/// (which RFC 3986 allows).
fn port_of(text: &[u8]) -> Result<&str, BadRequest> {
    if text.is_empty() {
        return Ok("");
    }
    let digits = text.len() <= 5 && text.iter().all(u8::is_ascii_digit);
    let value = text
        .iter()
        .fold(0u32, |acc, &b| acc * 10 + u32::from(b.wrapping_sub(b'0')));
    if !digits || value > 65_535 {
        return Err(BadRequest::BadPort);
    }
    std::str::from_utf8(text).map_err(|_| BadRequest::BadPort)
}

/// glibc's `inet_ntop(AF_INET6, ...)`: lower-case hex, the first longest run of two or
/// more zero groups as `::`, and a dotted IPv4 tail after `::` alone (IPv4-compatible)
/// or `::ffff:` (IPv4-mapped).
pub fn ntop6(value: u128) -> String {
    use std::fmt::Write as _;
    let groups: [u16; 8] = std::array::from_fn(|i| (value >> (16 * (7 - i))) as u16);
    let (mut best_at, mut best_len) = (0usize, 0usize);
    let (mut run_at, mut run_len) = (0usize, 0usize);
    for (i, &group) in groups.iter().enumerate() {
        if group == 0 {
            if run_len == 0 {
                run_at = i;
            }
            run_len += 1;
            if run_len > best_len {
                (best_at, best_len) = (run_at, run_len);
            }
        } else {
            run_len = 0;
        }
    }
    if best_len < 2 {
        best_len = 0;
    }
    let mut text = String::with_capacity(41);
    let mut i = 0usize;
    while let Some(&group) = groups.get(i) {
        if best_len > 0 && i >= best_at && i < best_at + best_len {
            if i == best_at {
                text.push(':');
            }
            i += 1;
            continue;
        }
        if i != 0 {
            text.push(':');
        }
        let tail =
            i == 6 && best_at == 0 && (best_len == 6 || (best_len == 5 && groups.get(5) == Some(&0xFFFF)));
        if tail {
            let [a, b, c, d] = (value as u32).to_be_bytes();
            let _ = write!(text, "{a}.{b}.{c}.{d}");
            return text;
        }
        let _ = write!(text, "{group:x}");
        i += 1;
    }
    if best_len > 0 && best_at + best_len == 8 {
        text.push(':');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(value: &str) -> Result<(String, String), BadRequest> {
        canonical_host(value.as_bytes()).map(|host| (host.name.into_owned(), host.port.to_owned()))
    }

    fn ok(name: &str, port: &str) -> Result<(String, String), BadRequest> {
        Ok((name.to_owned(), port.to_owned()))
    }

    #[test]
    fn spellings() {
        assert_eq!(host("shop.example.com"), ok("shop.example.com", ""));
        assert_eq!(host("shop.example.com "), ok("shop.example.com", ""));
        assert_eq!(host("\tshop.example.com \t"), ok("shop.example.com", ""));
        assert_eq!(host("SHOP.Example.COM."), ok("shop.example.com", ""));
        assert_eq!(host("shop.example.com.:8080"), ok("shop.example.com", "8080"));
        assert_eq!(host("shop.example.com:"), ok("shop.example.com", ""));
        assert_eq!(host("a:080"), ok("a", "080"));
        assert_eq!(host("[2001:DB8:0::1]:443"), ok("[2001:db8::1]", "443"));
        assert_eq!(host("[::ffff:1.2.3.4]"), ok("[::ffff:1.2.3.4]", ""));
        assert_eq!(host("192.0.2.1"), ok("192.0.2.1", ""));
        assert_eq!(host("under_score.example"), ok("under_score.example", ""));
        assert_eq!(host(""), ok("", ""));
        assert_eq!(host(" \t "), ok("", ""));
    }

    #[test]
    fn refusals() {
        for bad in [
            "a..b",
            ".a",
            "a b",
            "a,b",
            "a/b",
            "a@b",
            "[::1",
            "[zz]",
            "\u{e9}.fr",
            ".",
            "[::1]x",
            "[::1%eth0]",
        ] {
            assert_eq!(host(bad), Err(BadRequest::NotAHostName), "{bad}");
        }
        assert_eq!(host("a b:x"), Err(BadRequest::NotAHostName));
        for bad in [
            "a:b:c", "a:99999", "a:x", "a:123456", "[::1]:x", "a:65536", "a: 80",
        ] {
            assert_eq!(host(bad), Err(BadRequest::BadPort), "{bad}");
        }
        let long = "a".repeat(254);
        assert_eq!(host(&long), Err(BadRequest::NotAHostName));
        assert_eq!(host(&long[1..]), Ok((long[1..].to_owned(), String::new())));
    }

    #[test]
    fn header_spelling() {
        let parsed = canonical_host(b"A.example:80").unwrap();
        assert_eq!(parsed.header(), "a.example:80");
        assert!(parsed.spelled_as(b"a.example:80"));
        assert!(!parsed.spelled_as(b"A.example:80"));
        let plain = canonical_host(b"a.example").unwrap();
        assert!(matches!(plain.name, Cow::Borrowed(_)));
        assert!(plain.spelled_as(b"a.example"));
    }

    #[test]
    fn inet_ntop_spellings() {
        let spell = |text: &str| ntop6(parse_v6(text.as_bytes()).unwrap());
        assert_eq!(spell("::"), "::");
        assert_eq!(spell("::1"), "::1");
        assert_eq!(spell("1::"), "1::");
        assert_eq!(spell("::1.2.3.4"), "::1.2.3.4");
        assert_eq!(spell("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
        assert_eq!(spell("::ffff:0:0"), "::ffff:0.0.0.0");
        assert_eq!(spell("::ffff"), "::ffff");
        assert_eq!(spell("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
        assert_eq!(spell("1:0:1:0:1:0:1:0"), "1:0:1:0:1:0:1:0");
        assert_eq!(spell("2001:db8::1:0:0:1"), "2001:db8::1:0:0:1");
        assert_eq!(spell("0:0:1::"), "0:0:1::");
    }
}
