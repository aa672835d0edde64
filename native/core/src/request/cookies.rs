//! Cookies as Go's `readCookies` reads them, which is what BFE's `req_cookie_*` conditions
//! compare: every `Cookie` line split at `;`, each part trimmed of Go's white space, a name
//! that is a token, a value of cookie octets (one pair of surrounding quotes removed), and
//! the first cookie of each name kept.

use std::borrow::Cow;

use super::Pairs;

/// The cookies of these `Cookie` lines, first value per name.
pub fn parse_cookies<'a>(lines: impl Iterator<Item = Cow<'a, [u8]>>) -> Pairs<'a> {
    let mut jar: Pairs<'a> = Vec::new();
    for line in lines {
        match line {
            Cow::Borrowed(line) => {
                for (name, value) in cookies_of(line) {
                    add(&mut jar, Cow::Borrowed(name), Cow::Borrowed(value));
                }
            }
            Cow::Owned(line) => {
                for (name, value) in cookies_of(&line) {
                    add(&mut jar, Cow::Owned(name.to_vec()), Cow::Owned(value.to_vec()));
                }
            }
        }
    }
    jar
}

fn add<'a>(jar: &mut Pairs<'a>, name: Cow<'a, [u8]>, value: Cow<'a, [u8]>) {
    if !jar.iter().any(|(known, _)| *known == name) {
        jar.push((name, value));
    }
}

fn cookies_of(line: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    line.split(|&b| b == b';').filter_map(|part| {
        let part = trim_go_space(part);
        let (name, value) = match memchr::memchr(b'=', part) {
            Some(at) => (part.get(..at)?, part.get(at + 1..)?),
            None => (part, &b""[..]),
        };
        if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
            return None;
        }
        let value = match value {
            [b'"', inner @ .., b'"'] => inner,
            _ => value,
        };
        value.iter().all(|&b| is_cookie_octet(b)).then_some((name, value))
    })
}

/// Go's `unicode.IsSpace` over Latin-1: the ASCII spaces, U+0085 and U+00A0.
fn is_go_space(byte: u8) -> bool {
    matches!(byte, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ' | 0x85 | 0xA0)
}

fn trim_go_space(text: &[u8]) -> &[u8] {
    let start = text.iter().position(|&b| !is_go_space(b)).unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|&b| !is_go_space(b))
        .map_or(start, |at| at + 1);
    text.get(start..end).unwrap_or_default()
}

fn is_token(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// RFC 6265's cookie-octet: printable ASCII but `"`, `,`, `;` and `\`.
fn is_cookie_octet(byte: u8) -> bool {
    matches!(byte, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}
