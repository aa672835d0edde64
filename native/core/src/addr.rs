//! IP addresses as bytes: parsing with the C library's `inet_pton` rules, and the spellings
//! BFE's messages use.
//!
//! The Python side parses with `socket.inet_pton`, which is glibc's `inet_pton`; these
//! parsers follow that code step for step so that both sides accept exactly the same
//! texts (the differential tests hold them to it):
//!
//! - IPv4: four decimal parts of at most 255 without leading zeros (`01.2.3.4` is not an
//!   address, nor is `1.2.3`);
//! - IPv6: at most eight groups of one to four hex digits, one `::`, an optional dotted
//!   IPv4 tail; no zone, no brackets, no spaces.
//!
//! Addresses live in the 16-byte space as `u128`, IPv4 as `::ffff:a.b.c.d` (IPv4-mapped
//! IPv6 is IPv4, as BFE compares every address in its 16-byte form).

use std::fmt::Write as _;

/// `::ffff:0.0.0.0`, where the 16-byte form puts IPv4.
pub const MAPPED_START: u128 = 0xFFFF << 32;
/// `::ffff:255.255.255.255`.
pub const MAPPED_END: u128 = MAPPED_START | 0xFFFF_FFFF;

/// An address as the tables key it: IPv4 (mapped IPv6 included) or IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addr {
    V4(u32),
    V6(u128),
}

impl Addr {
    /// The address of a 16-byte value; IPv4-mapped values are IPv4.
    pub fn from_u128(value: u128) -> Self {
        match mapped_v4(value) {
            Some(v4) => Addr::V4(v4),
            None => Addr::V6(value),
        }
    }

    /// The address of packed bytes: 4 (IPv4) or 16 (IPv6), else `None`.
    pub fn from_packed(bytes: &[u8]) -> Option<Self> {
        if let Ok(four) = <[u8; 4]>::try_from(bytes) {
            return Some(Addr::V4(u32::from_be_bytes(four)));
        }
        let sixteen = <[u8; 16]>::try_from(bytes).ok()?;
        Some(Addr::from_u128(u128::from_be_bytes(sixteen)))
    }

    /// Its value in the 16-byte space.
    pub fn to_u128(self) -> u128 {
        match self {
            Addr::V4(v4) => MAPPED_START | u128::from(v4),
            Addr::V6(v6) => v6,
        }
    }

    /// The 16 bytes conditions read (IPv4 as `::ffff:a.b.c.d`).
    pub fn to_sixteen(self) -> [u8; 16] {
        self.to_u128().to_be_bytes()
    }
}

/// The IPv4 address of a value in `::ffff:0:0/96`, else `None`.
pub fn mapped_v4(value: u128) -> Option<u32> {
    if (MAPPED_START..=MAPPED_END).contains(&value) {
        u32::try_from(value - MAPPED_START).ok()
    } else {
        None
    }
}

/// A text as the blocklist reads one address: IPv6 if it has a colon, else IPv4 (as a
/// 16-byte value, mapped).
pub fn parse_address(text: &[u8]) -> Option<u128> {
    if text.contains(&b':') {
        parse_v6(text)
    } else {
        parse_v4(text).map(|v4| MAPPED_START | u128::from(v4))
    }
}

/// A client address as the Python side's `normalize_ip` reads one: spaces and tabs around
/// it ignored, a zone id (`fe80::1%eth0`) on an IPv6 address dropped, IPv4-mapped IPv6 as
/// IPv4. A zone must be printable ASCII without spaces, `%`, `/`, `[` or `]` (the Python
/// side also takes printable non-ASCII zones; no socket reports one).
pub fn parse_text(text: &[u8]) -> Option<Addr> {
    let text = trim_blanks(text);
    if let Some(v4) = parse_v4(text) {
        return Some(Addr::V4(v4)); // the common case
    }
    // Anything else must be IPv6 (which always has a colon), perhaps with a zone.
    let address = match memchr::memchr(b'%', text) {
        None => text,
        Some(at) => {
            let zone = text.get(at + 1..)?;
            let zone_ok = !zone.is_empty()
                && zone
                    .iter()
                    .all(|b| matches!(b, 0x21..=0x7e) && !matches!(b, b'%' | b'/' | b'[' | b']'));
            if !zone_ok {
                return None;
            }
            text.get(..at)?
        }
    };
    parse_v6(address).map(Addr::from_u128)
}

/// Spaces and tabs around a text removed (a quick look first: they are rare).
fn trim_blanks(text: &[u8]) -> &[u8] {
    let blank = |b: &u8| matches!(b, b' ' | b'\t');
    if !text.first().is_some_and(blank) && !text.last().is_some_and(blank) {
        return text;
    }
    let start = text.iter().position(|b| !blank(b)).unwrap_or(text.len());
    let end = text.iter().rposition(|b| !blank(b)).map_or(start, |at| at + 1);
    text.get(start..end).unwrap_or_default()
}

/// glibc's `inet_pton(AF_INET, ...)`.
pub fn parse_v4(text: &[u8]) -> Option<u32> {
    // Part by part rather than byte by byte: fewer branches that depend on the digits.
    let digit = |at: usize| {
        text.get(at)
            .filter(|b| b.is_ascii_digit())
            .map(|b| u32::from(b - b'0'))
    };
    let mut value = 0u32;
    let mut at = 0usize;
    for part in 0..4 {
        if part > 0 {
            if text.get(at) != Some(&b'.') {
                return None;
            }
            at += 1;
        }
        let mut octet = digit(at)?;
        at += 1;
        if let Some(second) = digit(at) {
            if octet == 0 {
                return None; // a leading zero
            }
            octet = octet * 10 + second;
            at += 1;
            if let Some(third) = digit(at) {
                octet = octet * 10 + third;
                at += 1;
                if octet > 255 {
                    return None;
                }
            }
        }
        value = value << 8 | octet;
    }
    (at == text.len()).then_some(value)
}

/// glibc's `inet_pton(AF_INET6, ...)`.
pub fn parse_v6(text: &[u8]) -> Option<u128> {
    // Group by group: up to four hex digits, then `:`, `::`, a dotted IPv4 tail or the end.
    let mut groups = [0u16; 8];
    let mut filled = 0usize;
    let mut gap: Option<usize> = None; // where `::` stands
    let mut at = 0usize;
    let mut done = false;
    if text.first() == Some(&b':') {
        if text.get(1) != Some(&b':') {
            return None; // a leading colon must be half of `::`
        }
        gap = Some(0);
        at = 2;
        done = at == text.len();
    }
    while !done {
        let start = at;
        let mut value = 0u16;
        while let Some(digit) = text.get(at).and_then(|&b| hex_value(b)) {
            if at - start == 4 {
                return None;
            }
            value = value << 4 | u16::from(digit);
            at += 1;
        }
        if at == start {
            return None; // an empty group
        }
        match text.get(at) {
            Some(b'.') => {
                if filled > 6 {
                    return None;
                }
                let v4 = parse_v4(text.get(start..)?)?;
                *groups.get_mut(filled)? = (v4 >> 16) as u16;
                *groups.get_mut(filled + 1)? = v4 as u16;
                filled += 2;
                break;
            }
            Some(b':') | None => {
                *groups.get_mut(filled)? = value;
                filled += 1;
            }
            Some(_) => return None,
        }
        if at == text.len() {
            break;
        }
        at += 1; // past the colon
        match text.get(at) {
            None => return None, // a trailing single colon
            Some(b':') => {
                if gap.is_some() {
                    return None;
                }
                gap = Some(filled);
                at += 1;
                done = at == text.len();
            }
            Some(_) => {}
        }
    }
    if let Some(gap) = gap {
        if filled == 8 {
            return None; // `::` would stand for no group at all
        }
        let moved = filled - gap;
        let mut expanded = [0u16; 8];
        for (offset, group) in groups.iter().take(gap).enumerate() {
            *expanded.get_mut(offset)? = *group;
        }
        for (offset, group) in groups.iter().skip(gap).take(moved).enumerate() {
            *expanded.get_mut(8 - moved + offset)? = *group;
        }
        groups = expanded;
        filled = 8;
    }
    if filled != 8 {
        return None;
    }
    Some(
        groups
            .iter()
            .fold(0u128, |acc, group| acc << 16 | u128::from(*group)),
    )
}

/// Hex digit values by byte, 0xFF for the rest: one load instead of three range tests.
#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an index out of range fails the build"
)]
const HEX: [u8; 256] = {
    let mut table = [0xFFu8; 256];
    let mut byte = 0u8;
    loop {
        table[byte as usize] = match byte {
            b'0'..=b'9' => byte - b'0',
            b'a'..=b'f' => byte - b'a' + 10,
            b'A'..=b'F' => byte - b'A' + 10,
            _ => 0xFF,
        };
        if byte == u8::MAX {
            break table;
        }
        byte += 1;
    }
};

fn hex_value(byte: u8) -> Option<u8> {
    HEX.get(usize::from(byte)).copied().filter(|&value| value < 16)
}

/// Go's `net.IP.String()` of a 16-byte address: dotted for IPv4-mapped, RFC 5952 otherwise.
pub fn go_ip(value: u128) -> String {
    match mapped_v4(value) {
        Some(v4) => format_v4(v4),
        None => format_v6(value),
    }
}

/// A dotted quad.
pub fn format_v4(value: u32) -> String {
    let [a, b, c, d] = value.to_be_bytes();
    format!("{a}.{b}.{c}.{d}")
}

/// A dotted quad written into `buffer`, without allocating: what the fronts spell for
/// every request's client.
pub fn write_v4(value: u32, buffer: &mut [u8; 15]) -> &str {
    let mut len = 0usize;
    let mut put = |byte: u8| {
        if let Some(slot) = buffer.get_mut(len) {
            *slot = byte;
        }
        len += 1;
    };
    for (index, octet) in value.to_be_bytes().into_iter().enumerate() {
        if index > 0 {
            put(b'.');
        }
        if octet >= 100 {
            put(b'0' + octet / 100);
        }
        if octet >= 10 {
            put(b'0' + octet / 10 % 10);
        }
        put(b'0' + octet % 10);
    }
    std::str::from_utf8(buffer.get(..len).unwrap_or_default()).unwrap_or_default()
}

/// RFC 5952: lower-case hex, the longest run of two or more zero groups (the first of
/// equals) as `::`.
pub fn format_v6(value: u128) -> String {
    let groups: Vec<u16> = (0..8).rev().map(|i| (value >> (16 * i)) as u16).collect();
    let (mut best_at, mut best_len) = (0usize, 0usize);
    let mut run_at = 0usize;
    let mut run_len = 0usize;
    for (i, group) in groups.iter().enumerate() {
        if *group == 0 {
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
    let mut text = String::with_capacity(39);
    let mut i = 0usize;
    while let Some(group) = groups.get(i) {
        if best_len >= 2 && i == best_at {
            text.push_str(if i == 0 { "::" } else { ":" });
            i += best_len;
            continue;
        }
        let _ = write!(text, "{group:x}");
        if i < 7 {
            text.push(':');
        }
        i += 1;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(text: &str) -> Option<u128> {
        parse_v6(text.as_bytes())
    }

    #[test]
    fn ipv4_is_a_strict_dotted_quad() {
        assert_eq!(parse_v4(b"1.2.3.4"), Some(0x0102_0304));
        assert_eq!(parse_v4(b"0.0.0.0"), Some(0));
        assert_eq!(parse_v4(b"255.255.255.255"), Some(u32::MAX));
        for bad in [
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.",
            "1.2.3.4.5",
            "256.1.1.1",
            "1..2.3",
            ".1.2.3",
            "",
            "1.2.3.4 ",
        ] {
            assert_eq!(parse_v4(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn ipv6_follows_inet_pton() {
        assert_eq!(v6("::"), Some(0));
        assert_eq!(v6("::1"), Some(1));
        assert_eq!(v6("1::"), Some(1 << 112));
        assert_eq!(v6("2001:DB8::1"), Some(0x2001_0db8 << 96 | 1));
        assert_eq!(v6("::ffff:1.2.3.4"), Some(MAPPED_START | 0x0102_0304));
        assert_eq!(
            v6("1:2:3:4:5:6:1.2.3.4"),
            Some(0x0001_0002_0003_0004_0005_0006_0102_0304)
        );
        assert_eq!(
            v6("1:2:3:4:5:6:7::"),
            Some(0x0001_0002_0003_0004_0005_0006_0007_0000)
        );
        assert_eq!(
            v6("0001:2:3:4:5:6:7:8"),
            Some(0x0001_0002_0003_0004_0005_0006_0007_0008)
        );
        for bad in [
            ":",
            ":::",
            "1:",
            ":1",
            "1::2::3",
            "12345::",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7:8::",
            "::1.2.3",
            "::01.2.3.4",
            "::1.2.3.4:1",
            "1:2:3:4:5:6:7:1.2.3.4",
            "fe80::1%eth0",
            "[::1]",
            "::g",
            "",
            "::1 ",
            "1:2:3:4:5:6:7",
        ] {
            assert_eq!(v6(bad), None, "{bad}");
        }
    }

    #[test]
    fn spellings_are_gos() {
        assert_eq!(go_ip(MAPPED_START | 0x0102_0304), "1.2.3.4");
        assert_eq!(go_ip(0x2001_0db8 << 96 | 9), "2001:db8::9");
        assert_eq!(go_ip(0), "::");
        assert_eq!(go_ip(1), "::1");
        assert_eq!(go_ip(0x0001_0000_0000_0002_0000_0000_0000_0003), "1:0:0:2::3");
        assert_eq!(
            go_ip(0x0001_0000_0001_0000_0001_0000_0001_0000),
            "1:0:1:0:1:0:1:0"
        );
        assert_eq!(go_ip(u128::MAX), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    }

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn spellings_parse_back(v4 in any::<u32>(), v6 in any::<u128>()) {
            prop_assert_eq!(parse_v4(format_v4(v4).as_bytes()), Some(v4));
            prop_assert_eq!(parse_v6(format_v6(v6).as_bytes()), Some(v6));
            prop_assert_eq!(parse_text(go_ip(v6).as_bytes()), Some(Addr::from_u128(v6)));
        }

        // The standard library's parsers take the same texts as glibc's for these alphabets;
        // the Python differential tests check against glibc itself.
        #[test]
        fn ipv4_agrees_with_std(text in "[0-9.]{0,17}") {
            let std = text.parse::<std::net::Ipv4Addr>().ok().map(u32::from);
            prop_assert_eq!(parse_v4(text.as_bytes()), std);
        }

        #[test]
        fn ipv6_agrees_with_std(text in "[0-9a-fA-F:.]{0,45}") {
            let std = text.parse::<std::net::Ipv6Addr>().ok().map(u128::from);
            prop_assert_eq!(parse_v6(text.as_bytes()), std);
        }
    }

    #[test]
    fn dotted_quads_without_allocating() {
        let mut buffer = [0u8; 15];
        for value in [0xCB00_7107, 0, u32::MAX, 0x0A00_0A64, 0x6400_0A09] {
            assert_eq!(write_v4(value, &mut buffer), format_v4(value));
        }
    }

    #[test]
    fn packed_forms() {
        assert_eq!(Addr::from_packed(&[1, 2, 3, 4]), Some(Addr::V4(0x0102_0304)));
        let mut mapped = [0u8; 16];
        mapped[10] = 0xff;
        mapped[11] = 0xff;
        mapped[15] = 7;
        assert_eq!(Addr::from_packed(&mapped), Some(Addr::V4(7)));
        assert_eq!(Addr::from_packed(&[0; 5]), None);
    }
}
