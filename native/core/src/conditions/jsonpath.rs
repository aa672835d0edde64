//! The subset of gjson paths that `req_body_json_*` read from a JSON body.
//!
//! BFE takes `gjson.GetBytes(body, path).String()`. This reproduces it for dotted keys
//! (with `\` escapes), array indices and a final `#` (an array's length): strings come
//! back unescaped, numbers as gjson prints them (integers as written, others as Go's
//! `FormatFloat(f, 'f', -1, 64)`), `true`/`false` as text, objects and arrays as their raw
//! JSON. No body, a body that is not valid JSON (within its first 2 MiB), `null`, a
//! missing path or other gjson syntax (wildcards, queries, modifiers) read as `""`.
//!
//! The body is validated whole first, by the rules of the Python side's decoder (which the
//! differential tests hold it to): strict strings, no `NaN`, integers of at most 4300
//! digits, nesting at most [`MAX_DEPTH`] deep. A lone UTF-16 surrogate escape reads as
//! U+FFFD, as gjson reads it.

use std::borrow::Cow;

/// Only the first 2 MiB of a body are read, as in BFE.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;
/// Deeper nesting reads as invalid: bounded work for any body.
pub const MAX_DEPTH: usize = 400;
/// Python's default limit on the digits of an integer it converts.
const MAX_INT_DIGITS: usize = 4300;

/// A path, split once when a condition is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    text: Vec<u8>,
    /// The keys and indices, or `None` for syntax outside the subset (always `""`).
    parts: Option<Vec<Vec<u8>>>,
    /// Whether the path ends with a bare `#` (the array's length).
    count: bool,
}

impl JsonPath {
    /// Split a path on its unescaped dots.
    pub fn new(path: &[u8]) -> Self {
        let (parts, count) = match split(path) {
            Some((parts, count)) => (Some(parts), count),
            None => (None, false),
        };
        Self {
            text: path.to_vec(),
            parts,
            count,
        }
    }

    /// The path as written.
    pub fn text(&self) -> &[u8] {
        &self.text
    }
}

fn split(path: &[u8]) -> Option<(Vec<Vec<u8>>, bool)> {
    if path.is_empty() {
        return None;
    }
    let mut parts = Vec::new();
    let mut current = Vec::new();
    let mut special = false;
    let mut bytes = path.iter();
    while let Some(&byte) = bytes.next() {
        match byte {
            b'\\' => {
                if let Some(&next) = bytes.next() {
                    current.push(next);
                }
            }
            b'.' => {
                if special {
                    return None;
                }
                parts.push(std::mem::take(&mut current));
            }
            _ => {
                special = special || b"*?|@!#".contains(&byte);
                current.push(byte);
            }
        }
    }
    if special && current != b"#" {
        return None;
    }
    if !special {
        parts.push(current);
    }
    Some((parts, special))
}

/// gjson's `String()` of the value at `path` in `body`.
pub fn json_path_value<'b>(body: &'b [u8], path: &JsonPath) -> Cow<'b, [u8]> {
    let Some(parts) = &path.parts else {
        return Cow::Borrowed(b"");
    };
    let text = body.get(..BODY_LIMIT.min(body.len())).unwrap_or_default();
    if std::str::from_utf8(text).is_err() {
        return Cow::Borrowed(b"");
    }
    let json = Json { text };
    if !json.valid() {
        return Cow::Borrowed(b"");
    }
    json.lookup(parts, path.count).unwrap_or(Cow::Borrowed(b""))
}

struct Json<'t> {
    text: &'t [u8],
}

impl<'t> Json<'t> {
    fn at(&self, pos: usize) -> Option<u8> {
        self.text.get(pos).copied()
    }

    fn ws(&self, mut pos: usize) -> usize {
        while matches!(self.at(pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            pos += 1;
        }
        pos
    }

    fn valid(&self) -> bool {
        let start = self.ws(0);
        self.value_end(start, 0)
            .is_some_and(|end| self.ws(end) == self.text.len())
    }

    /// The end of the valid value at `pos`, nested `depth` containers deep.
    fn value_end(&self, pos: usize, depth: usize) -> Option<usize> {
        match self.at(pos)? {
            b'{' | b'[' => self.container_end(pos, depth + 1),
            b'"' => self.string(pos).map(|(end, _)| end),
            b't' => self.literal(pos, b"true"),
            b'f' => self.literal(pos, b"false"),
            b'n' => self.literal(pos, b"null"),
            b'-' | b'0'..=b'9' => self.number_end(pos),
            _ => None,
        }
    }

    fn literal(&self, pos: usize, word: &[u8]) -> Option<usize> {
        let end = pos + word.len();
        (self.text.get(pos..end)? == word).then_some(end)
    }

    fn container_end(&self, pos: usize, depth: usize) -> Option<usize> {
        if depth > MAX_DEPTH {
            return None;
        }
        let object = self.at(pos)? == b'{';
        let closing = if object { b'}' } else { b']' };
        let mut at = self.ws(pos + 1);
        if self.at(at)? == closing {
            return Some(at + 1);
        }
        loop {
            if object {
                if self.at(at)? != b'"' {
                    return None;
                }
                at = self.ws(self.string(at)?.0);
                if self.at(at)? != b':' {
                    return None;
                }
                at = self.ws(at + 1);
            }
            at = self.ws(self.value_end(at, depth)?);
            match self.at(at)? {
                b',' => at = self.ws(at + 1),
                byte if byte == closing => return Some(at + 1),
                _ => return None,
            }
        }
    }

    fn digits(&self, mut pos: usize) -> usize {
        while self.at(pos).is_some_and(|b| b.is_ascii_digit()) {
            pos += 1;
        }
        pos
    }

    fn number_end(&self, pos: usize) -> Option<usize> {
        let start = pos + usize::from(self.at(pos)? == b'-');
        let int_end = match self.at(start)? {
            b'0' => start + 1,
            b'1'..=b'9' => self.digits(start),
            _ => return None,
        };
        let mut end = int_end;
        if self.at(end) == Some(b'.') {
            let after = self.digits(end + 1);
            if after == end + 1 {
                return None;
            }
            end = after;
        }
        if matches!(self.at(end), Some(b'e' | b'E')) {
            let mut exponent = end + 1;
            if matches!(self.at(exponent), Some(b'+' | b'-')) {
                exponent += 1;
            }
            let after = self.digits(exponent);
            if after == exponent {
                return None;
            }
            end = after;
        }
        if end == int_end && int_end - start > MAX_INT_DIGITS {
            return None; // Python refuses to convert so long an integer
        }
        Some(end)
    }

    fn hex4(&self, pos: usize) -> Option<u32> {
        let digits = self.text.get(pos..pos + 4)?;
        digits.iter().try_fold(0u32, |acc, &b| {
            (b as char).to_digit(16).map(|digit| acc * 16 + digit)
        })
    }

    /// The end of the string at `pos` and its decoded bytes.
    fn string(&self, pos: usize) -> Option<(usize, Cow<'t, [u8]>)> {
        let start = pos + 1;
        let mut at = start;
        let mut decoded: Option<Vec<u8>> = None;
        let mut buffer = [0u8; 4];
        loop {
            let byte = self.at(at)?;
            match byte {
                b'"' => {
                    let value = match decoded {
                        Some(owned) => Cow::Owned(owned),
                        None => Cow::Borrowed(self.text.get(start..at)?),
                    };
                    return Some((at + 1, value));
                }
                0x00..=0x1F => return None,
                b'\\' => {
                    let out =
                        decoded.get_or_insert_with(|| self.text.get(start..at).unwrap_or_default().to_vec());
                    let escape = self.at(at + 1)?;
                    at += 2;
                    let simple = match escape {
                        b'"' => Some(b'"'),
                        b'\\' => Some(b'\\'),
                        b'/' => Some(b'/'),
                        b'b' => Some(0x08),
                        b'f' => Some(0x0C),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        b'u' => None,
                        _ => return None,
                    };
                    if let Some(simple) = simple {
                        out.push(simple);
                        continue;
                    }
                    let unit = self.hex4(at)?;
                    at += 4;
                    let mut code = char::from_u32(unit);
                    if (0xD800..0xDC00).contains(&unit)
                        && self.at(at) == Some(b'\\')
                        && self.at(at + 1) == Some(b'u')
                    {
                        if let Some(low) = self.hex4(at + 2).filter(|low| (0xDC00..0xE000).contains(low)) {
                            code = char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00));
                            at += 6;
                        }
                    }
                    let code = code.unwrap_or(char::REPLACEMENT_CHARACTER);
                    out.extend_from_slice(code.encode_utf8(&mut buffer).as_bytes());
                }
                _ => {
                    if let Some(out) = decoded.as_mut() {
                        out.push(byte);
                    }
                    at += 1;
                }
            }
        }
    }

    /// The positions of the members' values of the container at `pos`, with their keys
    /// (objects) or indices (arrays). The text is valid JSON here.
    fn members(&self, pos: usize) -> Vec<(Member<'t>, usize)> {
        let mut found = Vec::new();
        let Some(open) = self.at(pos) else {
            return found;
        };
        let object = open == b'{';
        let closing = if object { b'}' } else { b']' };
        let mut at = self.ws(pos + 1);
        let mut index = 0u64;
        while self.at(at).is_some_and(|b| b != closing) {
            let name = if object {
                let Some((end, key)) = self.string(at) else {
                    return found;
                };
                at = self.ws(self.ws(end) + 1);
                Member::Key(key)
            } else {
                Member::Index(index)
            };
            found.push((name, at));
            let Some(end) = self.value_end(at, 0) else {
                return found;
            };
            at = self.ws(end);
            index += 1;
            if self.at(at) == Some(b',') {
                at = self.ws(at + 1);
            }
        }
        found
    }

    fn lookup(&self, parts: &[Vec<u8>], count: bool) -> Option<Cow<'t, [u8]>> {
        let mut pos = self.ws(0);
        for part in parts {
            let wanted = match self.at(pos)? {
                b'{' => Member::Key(Cow::Borrowed(part.as_slice())),
                b'[' if !part.is_empty() && part.iter().all(u8::is_ascii_digit) => {
                    // An index too large for any array matches none.
                    Member::Index(std::str::from_utf8(part).ok()?.parse().unwrap_or(u64::MAX))
                }
                _ => return None,
            };
            pos = self.members(pos).into_iter().find(|(name, _)| *name == wanted)?.1;
        }
        if count {
            return (self.at(pos)? == b'[')
                .then(|| Cow::Owned(self.members(pos).len().to_string().into_bytes()));
        }
        let end = self.value_end(pos, 0)?;
        match self.at(pos)? {
            b'"' => self.string(pos).map(|(_, value)| value),
            b'n' => Some(Cow::Borrowed(b"")),
            b'-' | b'0'..=b'9' => Some(Cow::Owned(number_text(self.text.get(pos..end)?))),
            _ => self.text.get(pos..end).map(Cow::Borrowed),
        }
    }
}

#[derive(Debug, PartialEq)]
enum Member<'t> {
    Key(Cow<'t, [u8]>),
    Index(u64),
}

/// gjson's text of a number: an integer as written, else Go's shortest `'f'` formatting.
fn number_text(raw: &[u8]) -> Vec<u8> {
    let integer = raw.strip_prefix(b"-").unwrap_or(raw);
    if !integer.is_empty() && integer.iter().all(u8::is_ascii_digit) {
        return raw.to_vec();
    }
    let value: f64 = std::str::from_utf8(raw)
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(0.0);
    if value.is_infinite() {
        return if value > 0.0 {
            b"+Inf".to_vec()
        } else {
            b"-Inf".to_vec()
        };
    }
    // Rust prints the shortest digits that read back, never with an exponent: Go's 'f', -1.
    format!("{value}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(body: &str, path: &str) -> String {
        String::from_utf8(json_path_value(body.as_bytes(), &JsonPath::new(path.as_bytes())).into_owned())
            .unwrap_or_default()
    }

    #[test]
    fn values_as_gjson_prints_them() {
        let body = r#"{"a": {"b": [1, 2.50, {"c": "x\u00e9\"y"}]}, "n": null, "t": true, "big": 1e400,
                     "o": {"k" : [ 1 ]}, "e": 1E2, "z": -0.0, "dot.key": 7}"#;
        assert_eq!(get(body, "a.b.0"), "1");
        assert_eq!(get(body, "a.b.1"), "2.5");
        assert_eq!(get(body, "a.b.2.c"), "xé\"y");
        assert_eq!(get(body, "a.b.#"), "3");
        assert_eq!(get(body, "n"), "");
        assert_eq!(get(body, "t"), "true");
        assert_eq!(get(body, "big"), "+Inf");
        assert_eq!(get(body, "o"), r#"{"k" : [ 1 ]}"#);
        assert_eq!(get(body, "e"), "100");
        assert_eq!(get(body, "z"), "-0");
        assert_eq!(get(body, r"dot\.key"), "7");
        assert_eq!(get(body, "a.*"), "");
        assert_eq!(get(body, "missing"), "");
        assert_eq!(get(body, ""), "");
    }

    #[test]
    fn invalid_bodies_read_as_empty() {
        assert_eq!(get(r#"{"a": 1,}"#, "a"), "");
        assert_eq!(get(r#"{"a": NaN}"#, "a"), "");
        assert_eq!(get("{\"a\": \"\u{1}\"}", "a"), "");
        assert_eq!(get(r#"{"a": 1} x"#, "a"), "");
        let deepest = format!("{}1{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(get(&deepest, "0"), deepest[1..deepest.len() - 1]);
        assert_eq!(
            get(
                &format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1)),
                "0"
            ),
            ""
        );
        assert_eq!(get(&format!("[{}]", "1".repeat(4301)), "0"), "");
        assert_eq!(get(&format!("[{}]", "1".repeat(4300)), "0"), "1".repeat(4300));
    }

    #[test]
    fn surrogate_escapes() {
        assert_eq!(get(r#"{"a": "\ud83d\ude00"}"#, "a"), "😀");
        assert_eq!(get(r#"{"a": "\ud83dx"}"#, "a"), "\u{FFFD}x");
        assert_eq!(get(r#"{"\udc00": 1}"#, "\u{FFFD}"), "1");
    }
}
