//! JSON string literals as Python's `json` module writes them, so that a line the native
//! side writes is the very line the Python side would have written.

use std::fmt::Write;

/// How a character beyond ASCII is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beyond {
    /// As `\uXXXX` escapes of its UTF-16 units: `json.dumps` (`ensure_ascii`, the default).
    Escaped,
    /// As it is: `json.encoder.encode_basestring` (`ensure_ascii=False`).
    Kept,
}

/// `text` as a JSON string literal, appended to `out`: `"`, `\` and the control characters
/// escaped as Python escapes them, and what is beyond ASCII as `beyond` says (with
/// [`Beyond::Escaped`], DEL too, as Python does).
pub fn push_json_str(out: &mut String, text: &str, beyond: Beyond) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            c if beyond == Beyond::Kept && u32::from(c) >= 0x20 => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_are_pythons() {
        let text = "a\"b\\c\n\u{1}\u{7f}\u{e9}\u{1f600}/";
        let mut out = String::new();
        push_json_str(&mut out, text, Beyond::Escaped);
        assert_eq!(out, r#""a\"b\\c\n\u0001\u007f\u00e9\ud83d\ude00/""#);
        out.clear();
        push_json_str(&mut out, text, Beyond::Kept);
        assert_eq!(out, "\"a\\\"b\\\\c\\n\\u0001\u{7f}\u{e9}\u{1f600}/\"");
    }
}
