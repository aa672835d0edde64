//! Text as Python reads it: the character classes of `str` methods and `re` patterns, percent
//! decoding as `urllib.parse` does it, slicing by characters.
//!
//! The rule pack and the tokenisers were written against Python's definitions (`str.isspace`
//! counts the information separators U+001C to U+001F, `str.isdigit` counts superscripts);
//! these helpers keep the native reading equal to it.

use std::borrow::Cow;

/// `str.isspace()`: Unicode white space plus the information separators U+001C to U+001F.
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The class of `str.isspace()` as a regex class body (for patterns ported from Python's `re`).
pub const SPACE_CLASS: &str = r"\s\x1C-\x1F";

/// Python's `\w` in a `str` pattern: letters, numbers and `_`.
pub const WORD_CLASS: &str = r"\p{L}\p{N}_";

/// `str.isdigit()`: decimal digits and the other digit forms (superscripts, circled digits);
/// not the fractions. Non-ASCII numbers are told apart approximately (no Unicode category
/// table here): every number that is not a letter (Roman numerals) or a vulgar fraction.
pub fn is_digit(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    c.is_numeric()
        && !c.is_alphabetic()
        && !matches!(c, '\u{bc}'..='\u{be}' | '\u{2150}'..='\u{215f}' | '\u{2189}')
}

/// `str.isalnum()` (letters and numbers).
pub fn is_alnum(c: char) -> bool {
    c.is_alphanumeric()
}

/// `str.isalpha()` (approximately: Unicode's Alphabetic less the letter numbers).
pub fn is_alpha(c: char) -> bool {
    c.is_alphabetic() && !c.is_numeric()
}

/// The hex value of an ASCII hex digit.
pub fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// `urllib.parse.unquote_to_bytes`: `%xx` escapes as bytes, anything else as it stands.
pub fn percent_decode(data: &[u8]) -> Cow<'_, [u8]> {
    if !data.contains(&b'%') {
        return Cow::Borrowed(data);
    }
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while let Some(&byte) = data.get(i) {
        if byte == b'%' {
            if let (Some(high), Some(low)) = (
                data.get(i + 1).copied().and_then(hex),
                data.get(i + 2).copied().and_then(hex),
            ) {
                out.push(high << 4 | low);
                i += 3;
                continue;
            }
        }
        out.push(byte);
        i += 1;
    }
    Cow::Owned(out)
}

/// `urllib.parse.unquote(text, errors="replace")`.
pub fn unquote(text: &str) -> Cow<'_, str> {
    if !text.contains('%') {
        return Cow::Borrowed(text);
    }
    match percent_decode(text.as_bytes()) {
        Cow::Borrowed(_) => Cow::Borrowed(text),
        Cow::Owned(bytes) => Cow::Owned(lossy(bytes)),
    }
}

/// Bytes decoded as UTF-8 with `errors="replace"` (Python and Rust replace the same subparts).
pub fn lossy(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    }
}

/// The first `count` characters of `text` (Python's `text[:count]`).
pub fn head(text: &str, count: usize) -> &str {
    match text.char_indices().nth(count) {
        Some((end, _)) => text.get(..end).unwrap_or(text),
        None => text,
    }
}

/// Python's `bytes.strip()`: ASCII white space off both ends.
pub fn strip_bytes(data: &[u8]) -> &[u8] {
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let start = data.iter().position(|b| !is_space(b)).unwrap_or(data.len());
    let end = data.iter().rposition(|b| !is_space(b)).map_or(start, |p| p + 1);
    data.get(start..end).unwrap_or_default()
}

/// Python's `str.strip()`.
pub fn strip(text: &str) -> &str {
    text.trim_matches(is_space)
}
