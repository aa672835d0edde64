//! The query's pairs as Go's `url.ParseQuery` reads them, which is what BFE's `req_query_*`
//! conditions compare: pairs split at `&`, a pair with a `;` dropped (Go 1.17 and later),
//! `+` read as a space, `%XX` decoded, a pair with a bad escape dropped, and the first
//! value of each key kept.

use std::borrow::Cow;

use super::Pairs;

/// The pairs of a raw query (without `?`), first value per key.
pub fn parse_query(raw: &[u8]) -> Pairs<'_> {
    let mut pairs: Pairs<'_> = Vec::new();
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
        if !pairs.iter().any(|(known, _)| *known == key) {
            pairs.push((key, value));
        }
    }
    pairs
}

/// Go's `url.QueryUnescape`; `None` for a `%` that starts no escape.
pub fn query_unescape(text: &[u8]) -> Option<Cow<'_, [u8]>> {
    if !text.iter().any(|&b| b == b'%' || b == b'+') {
        return Some(Cow::Borrowed(text));
    }
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0usize;
    while let Some(&byte) = text.get(at) {
        match byte {
            b'%' => {
                let high = text.get(at + 1).copied().and_then(hex)?;
                let low = text.get(at + 2).copied().and_then(hex)?;
                out.push(high << 4 | low);
                at += 3;
            }
            b'+' => {
                out.push(b' ');
                at += 1;
            }
            _ => {
                out.push(byte);
                at += 1;
            }
        }
    }
    Some(Cow::Owned(out))
}

fn hex(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|digit| u8::try_from(digit).ok())
}
