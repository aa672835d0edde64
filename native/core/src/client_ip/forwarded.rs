//! One element of a `Forwarded` header (RFC 7239): its `for=` node, if the element is well
//! formed.
//!
//! An element is `name=value` pairs split at semicolons outside quoted strings; a name is
//! a token (any case), a value a token or a quoted string, and a name occurs at most once.
//! An element that breaks any of this is malformed as a whole, so that a walk over the
//! hops stops at it rather than trusting part of it.

use std::borrow::Cow;

/// The unquoted `for=` value of a well-formed element; `None` when it is malformed or has
/// no `for=`.
pub fn for_node(element: &[u8]) -> Option<Cow<'_, [u8]>> {
    let mut seen: Vec<&[u8]> = Vec::new();
    let mut found = None;
    for pair in split_pairs(element)? {
        let equals = memchr::memchr(b'=', pair)?;
        let (name, value) = (pair.get(..equals)?, pair.get(equals + 1..)?);
        if name.is_empty()
            || !name.iter().all(|&b| is_tchar(b))
            || seen.iter().any(|other| other.eq_ignore_ascii_case(name))
        {
            return None;
        }
        seen.push(name);
        let value = unquote(value)?;
        if name.eq_ignore_ascii_case(b"for") {
            found = Some(value);
        }
    }
    found
}

/// A token character of RFC 9110.
fn is_tchar(byte: u8) -> bool {
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

/// The non-empty pairs of an element, split at semicolons outside quoted strings and
/// trimmed; `None` when a quoted string is left open.
fn split_pairs(element: &[u8]) -> Option<Vec<&[u8]>> {
    let mut pairs = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0usize, false, false);
    for (at, &byte) in element.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted {
            match byte {
                b'\\' => escaped = true,
                b'"' => quoted = false,
                _ => {}
            }
        } else if byte == b'"' {
            quoted = true;
        } else if byte == b';' {
            pairs.push(super::trim_blanks(element.get(start..at)?));
            start = at + 1;
        }
    }
    if quoted {
        return None;
    }
    pairs.push(super::trim_blanks(element.get(start..)?));
    pairs.retain(|pair| !pair.is_empty());
    Some(pairs)
}

/// A printable Latin-1 character (Python's `str.isprintable`): the space counts.
fn is_printable(byte: u8) -> bool {
    matches!(byte, 0x20..=0x7E) || (byte >= 0xA1 && byte != 0xAD)
}

/// A token or a quoted string, as its text; `None` if it is neither.
fn unquote(value: &[u8]) -> Option<Cow<'_, [u8]>> {
    let Some(inner) = value.strip_prefix(b"\"") else {
        let token = !value.is_empty() && value.iter().all(|&b| is_printable(b) && b != b'"' && b != b'\\');
        return token.then_some(Cow::Borrowed(value));
    };
    let inner = inner.strip_suffix(b"\"")?;
    if !inner.contains(&b'\\') {
        return (!inner.contains(&b'"')).then_some(Cow::Borrowed(inner));
    }
    let mut out = Vec::with_capacity(inner.len());
    let mut escaped = false;
    for &byte in inner {
        if escaped {
            out.push(byte);
            escaped = false;
        } else if byte == b'\\' {
            escaped = true;
        } else if byte == b'"' {
            return None;
        } else {
            out.push(byte);
        }
    }
    (!escaped).then_some(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(element: &str) -> Option<String> {
        for_node(element.as_bytes()).map(|value| String::from_utf8(value.into_owned()).unwrap())
    }

    #[test]
    fn elements() {
        assert_eq!(node("for=1.2.3.4"), Some("1.2.3.4".into()));
        assert_eq!(node("Proto=http ; FOR=1.2.3.4 ;by=_x"), Some("1.2.3.4".into()));
        assert_eq!(
            node(r#"for="[2001:db8::17]:4711""#),
            Some("[2001:db8::17]:4711".into())
        );
        assert_eq!(node(r#"for="\[2001:db8::17\]""#), Some("[2001:db8::17]".into()));
        assert_eq!(node("proto=https"), None);
        assert_eq!(node("for= 1.2.3.4"), Some(" 1.2.3.4".into()));
    }

    #[test]
    fn malformed_elements() {
        for bad in [
            "for=1.2.3.4;for=5.6.7.8",
            "for=1;FOR=2",
            "for 1.2.3.4",
            "==1.2.3.4",
            r#"for="1.2.3.4"#,
            r#"for=1.2.3.4""#,
            r#"for="1.2.3.4"x"#,
            "f(r=1.2.3.4",
            r#"for="1.2.3.4\""#,
            "for=\"",
            "for=a\\b",
            "for=a\x7fb",
            "for=",
            "for=1;x=\"a\"b\"",
        ] {
            assert_eq!(node(bad), None, "{bad}");
        }
        assert_eq!(for_node(b"for=\xe9"), Some(Cow::Borrowed(&b"\xe9"[..])));
        assert_eq!(for_node(b"for=\xad"), None);
    }
}
