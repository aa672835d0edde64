//! The query string and the cookies, parsed as Go's `net/url` and `net/http` parse them.
//!
//! - query: split on `&`; a pair holding `;` or a bad `%` escape is dropped; `+` is a
//!   space; a key without `=` has the value `""`; the first value of a key wins;
//! - cookies: every `Cookie` line split on `;`, each part trimmed of Go's white space; a
//!   name must be an RFC token, a value (its surrounding `"` removed) only cookie-octets;
//!   anything else is skipped; the first cookie of a name wins.

use std::borrow::Cow;

/// A query key and its first value, borrowed from the query when it needs no decoding.
pub type QueryPair<'q> = (Cow<'q, [u8]>, Cow<'q, [u8]>);

/// Go's `url.QueryUnescape`; `None` for a bad `%` escape.
fn query_unescape(text: &[u8]) -> Option<Cow<'_, [u8]>> {
    if !text.iter().any(|&b| b == b'%' || b == b'+') {
        return Some(Cow::Borrowed(text));
    }
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0;
    while let Some(&byte) = text.get(at) {
        match byte {
            b'%' => {
                let high = text.get(at + 1).and_then(|b| (*b as char).to_digit(16))?;
                let low = text.get(at + 2).and_then(|b| (*b as char).to_digit(16))?;
                out.push((high * 16 + low) as u8);
                at += 3;
            }
            b'+' => {
                out.push(b' ');
                at += 1;
            }
            other => {
                out.push(other);
                at += 1;
            }
        }
    }
    Some(Cow::Owned(out))
}

/// Go's `url.ParseQuery`, keeping the first value of each key, in order of first appearance.
pub fn parse_query(raw: &[u8]) -> Vec<QueryPair<'_>> {
    let mut params: Vec<QueryPair<'_>> = Vec::new();
    for pair in raw.split(|&b| b == b'&') {
        if pair.is_empty() || pair.contains(&b';') {
            continue;
        }
        let (key, value) = match memchr::memchr(b'=', pair) {
            Some(at) => (
                pair.get(..at).unwrap_or_default(),
                pair.get(at + 1..).unwrap_or_default(),
            ),
            None => (pair, &b""[..]),
        };
        let (Some(key), Some(value)) = (query_unescape(key), query_unescape(value)) else {
            continue;
        };
        if !params.iter().any(|(known, _)| *known == key) {
            params.push((key, value));
        }
    }
    params
}

/// Go's `unicode.IsSpace`.
pub(crate) fn is_go_space_char(code: char) -> bool {
    matches!(
        code,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{85}' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

/// The character that starts `bytes`, if it is valid UTF-8, with its length.
fn first_char(bytes: &[u8]) -> Option<(char, usize)> {
    let chunk = bytes.utf8_chunks().next()?;
    let code = chunk.valid().chars().next()?;
    Some((code, code.len_utf8()))
}

/// The character that ends `bytes`, if it is valid UTF-8, with its length.
fn last_char(bytes: &[u8]) -> Option<(char, usize)> {
    let start = bytes.len().saturating_sub(4);
    let tail = bytes.get(start..)?;
    (0..tail.len()).find_map(|skip| {
        let piece = tail.get(skip..)?;
        let text = std::str::from_utf8(piece).ok()?;
        let code = text.chars().next_back()?;
        (code.len_utf8() == piece.len()).then_some((code, piece.len()))
    })
}

/// `bytes` without Go's white space at either end.
pub fn trim_go_space(mut bytes: &[u8]) -> &[u8] {
    while let Some((code, size)) = first_char(bytes) {
        if !is_go_space_char(code) {
            break;
        }
        bytes = bytes.get(size..).unwrap_or_default();
    }
    while let Some((code, size)) = last_char(bytes) {
        if !is_go_space_char(code) {
            break;
        }
        bytes = bytes.get(..bytes.len() - size).unwrap_or_default();
    }
    bytes
}

fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

fn is_cookie_octet(byte: u8) -> bool {
    matches!(byte, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// Go's `readCookies` over every `Cookie` line; the first cookie of a name wins.
pub fn parse_cookies<'a>(lines: impl Iterator<Item = &'a [u8]>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut jar: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for line in lines {
        for part in line.split(|&b| b == b';') {
            let part = trim_go_space(part);
            let (name, mut value) = match memchr::memchr(b'=', part) {
                Some(at) => (
                    part.get(..at).unwrap_or_default(),
                    part.get(at + 1..).unwrap_or_default(),
                ),
                None => (part, &b""[..]),
            };
            if name.is_empty() || !name.iter().all(|&b| is_token_byte(b)) {
                continue;
            }
            if value.len() > 1 && value.first() == Some(&b'"') && value.last() == Some(&b'"') {
                value = value.get(1..value.len() - 1).unwrap_or_default();
            }
            if !value.iter().all(|&b| is_cookie_octet(b)) {
                continue;
            }
            if !jar.iter().any(|(known, _)| known.as_slice() == name) {
                jar.push((name.to_vec(), value.to_vec()));
            }
        }
    }
    jar
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
        items
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    fn owned(pairs: Vec<QueryPair<'_>>) -> Vec<(Vec<u8>, Vec<u8>)> {
        pairs
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn query_follows_go() {
        assert_eq!(
            owned(parse_query(b"a=1&a=2&b&c=x+y%21&d;e=1&f=%zz&&g=%41")),
            pairs(&[("a", "1"), ("b", ""), ("c", "x y!"), ("g", "A")])
        );
        assert!(parse_query(b"").is_empty());
        assert!(parse_query(b"&").is_empty());
    }

    #[test]
    fn cookies_follow_go() {
        let lines: [&[u8]; 2] = [b" a=1; b=\"q\"; bad name=2; c=x y; a=3", "d=4\u{a0}".as_bytes()];
        assert_eq!(
            parse_cookies(lines.into_iter()),
            pairs(&[("a", "1"), ("b", "q"), ("d", "4")])
        );
    }

    #[test]
    fn trims_unicode_space() {
        assert_eq!(trim_go_space("\u{3000} x\u{2028}".as_bytes()), b"x");
        assert_eq!(trim_go_space(b"\xa0x"), b"\xa0x");
        assert_eq!(trim_go_space(b"   "), b"");
    }
}
