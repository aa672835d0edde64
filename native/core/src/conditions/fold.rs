//! Go's view of text: case folding with `strings.ToUpper` / `ToLower`, and invalid UTF-8.
//!
//! Request values are bytes. Go reads a byte that does not start a valid UTF-8 sequence as
//! U+FFFD, one per byte, both when it folds case and when its regexp reads the text; the
//! Python side keeps such bytes as surrogate escapes and maps each to U+FFFD too. Case
//! mappings are Go's simple ones (one code point to one), from the table the Python side
//! generates (`fold_table.rs`), so both sides fold every character alike. ASCII, by far
//! the common case, takes a path without any table.

use std::borrow::Cow;

use super::fold_table::{LOWER, UPPER};

/// The mapping of one code point in a sorted table, or the code point itself.
fn mapped(table: &[(u32, u32)], code: char) -> char {
    let key = u32::from(code);
    match table.binary_search_by_key(&key, |&(from, _)| from) {
        Ok(at) => table
            .get(at)
            .and_then(|&(_, to)| char::from_u32(to))
            .unwrap_or(code),
        Err(_) => code,
    }
}

/// Every character of `bytes` as Go decodes it: each byte of an invalid sequence is U+FFFD.
pub fn go_chars(bytes: &[u8]) -> impl Iterator<Item = char> + '_ {
    bytes.utf8_chunks().flat_map(|chunk| {
        let replaced = std::iter::repeat_n(char::REPLACEMENT_CHARACTER, chunk.invalid().len());
        chunk.valid().chars().chain(replaced)
    })
}

fn map_chars(bytes: &[u8], ascii: fn(&u8) -> u8, table: &[(u32, u32)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 2);
    let mut buffer = [0u8; 4];
    for code in go_chars(bytes) {
        if code.is_ascii() {
            out.push(ascii(&(code as u8)));
        } else {
            out.extend_from_slice(mapped(table, code).encode_utf8(&mut buffer).as_bytes());
        }
    }
    out
}

/// Go's `strings.ToUpper`.
pub fn go_upper(bytes: &[u8]) -> Cow<'_, [u8]> {
    if bytes.is_ascii() {
        if !bytes.iter().any(u8::is_ascii_lowercase) {
            return Cow::Borrowed(bytes);
        }
        return Cow::Owned(bytes.to_ascii_uppercase());
    }
    Cow::Owned(map_chars(bytes, u8::to_ascii_uppercase, &UPPER))
}

/// Values this long or shorter fold on the stack.
const STACK_FOLD: usize = 128;

/// Run `body` on Go's upper case of `bytes`, without allocating for short ASCII text.
pub fn with_upper<T>(bytes: &[u8], body: impl FnOnce(&[u8]) -> T) -> T {
    if bytes.len() <= STACK_FOLD && bytes.is_ascii() {
        if !bytes.iter().any(u8::is_ascii_lowercase) {
            return body(bytes);
        }
        let mut buffer = [0u8; STACK_FOLD];
        let folded = buffer.get_mut(..bytes.len()).unwrap_or_default();
        folded.copy_from_slice(bytes);
        folded.make_ascii_uppercase();
        return body(folded);
    }
    body(&go_upper(bytes))
}

/// Go's `strings.ToLower`.
pub fn go_lower(bytes: &[u8]) -> Cow<'_, [u8]> {
    if bytes.is_ascii() {
        if !bytes.iter().any(u8::is_ascii_uppercase) {
            return Cow::Borrowed(bytes);
        }
        return Cow::Owned(bytes.to_ascii_lowercase());
    }
    Cow::Owned(map_chars(bytes, u8::to_ascii_lowercase, &LOWER))
}

/// The key of host indexes: equal for two names that a case-insensitive host match finds
/// equal (Go's `ToLower(ToUpper(name))`; plain lower case for ASCII).
pub fn host_key(bytes: &[u8]) -> Cow<'_, [u8]> {
    if bytes.is_ascii() {
        return go_lower(bytes);
    }
    Cow::Owned(go_lower(&go_upper(bytes)).into_owned())
}

/// The text Go's regexp reads: `bytes` when valid UTF-8, else with each invalid byte as U+FFFD.
pub fn go_text(bytes: &[u8]) -> Cow<'_, [u8]> {
    if std::str::from_utf8(bytes).is_ok() {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() + 8);
    let mut buffer = [0u8; 4];
    for code in go_chars(bytes) {
        out.extend_from_slice(code.encode_utf8(&mut buffer).as_bytes());
    }
    Cow::Owned(out)
}

/// The Unicode version of the case tables (the Python side's).
pub fn unicode_version() -> &'static str {
    super::fold_table::UNICODE_VERSION
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_folds_without_tables() {
        assert_eq!(go_upper(b"Hello/x"), &b"HELLO/X"[..]);
        assert_eq!(go_lower(b"Hello/X"), &b"hello/x"[..]);
        assert!(matches!(go_upper(b"ABC"), Cow::Borrowed(_)));
    }

    #[test]
    fn simple_mappings_only() {
        // ß has no simple upper case; the long s and the Kelvin sign fold into ASCII.
        assert_eq!(go_upper("ß".as_bytes()), "ß".as_bytes());
        assert_eq!(go_upper("ſ".as_bytes()), &b"S"[..]);
        assert_eq!(go_lower("\u{212A}".as_bytes()), &b"k"[..]);
        assert_eq!(go_lower("İ".as_bytes()), &b"i"[..]);
        assert_eq!(go_upper("ᾀ".as_bytes()), "ᾈ".as_bytes());
        assert_eq!(host_key("Straße.DE".as_bytes()), "straße.de".as_bytes());
    }

    #[test]
    fn invalid_bytes_read_as_replacement_characters_one_per_byte() {
        assert_eq!(go_upper(b"a\xe2\x82b"), "A\u{FFFD}\u{FFFD}B".as_bytes());
        assert_eq!(go_text(b"\xed\xa0\x80"), "\u{FFFD}\u{FFFD}\u{FFFD}".as_bytes());
        assert!(matches!(go_text("é".as_bytes()), Cow::Borrowed(_)));
    }
}
