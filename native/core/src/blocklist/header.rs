//! The meta header of a blocklist file: `# {"version": "1", "singleIPNum": 2, "pairIPNum": 1}`.
//!
//! BFE (`getCommentFileInfo`) reads the first line (at most 4096 bytes), trims spaces,
//! tabs and line ends, requires a leading `#`, trims every `#` from both ends and decodes
//! the first JSON value of the rest with Go's `encoding/json` into a struct: keys match
//! the fields in any case (with `ſ` as `s`), a later key wins, `null` leaves a field as it
//! was, a value of the wrong type (a float, a string for a number, a number beyond
//! int64) spoils the whole header, and whatever follows the value is never read. The
//! header counts only with a non-empty version and counts of at least 0.
//!
//! This is a small JSON reader of its own because those rules are not a general JSON
//! library's: duplicate keys in order, the first value only, lone `\ud800` escapes read
//! as U+FFFD (and stray bytes in strings kept, each as U+FFFD), no depth limit short of
//! the line's length (it skips nested values with an explicit stack, not recursion).

/// Go's `bufio.Reader` buffer: the header is read from at most this much of the first line.
pub const READLINE_LIMIT: usize = 4096;

/// A meta header BFE uses: a version and capacity limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub version: String,
    pub singles: i64,
    pub pairs: i64,
}

/// The header of a blocklist file's content, or `None` when BFE would not use one.
pub fn read_header(raw: &[u8]) -> Option<Header> {
    let first = match memchr::memchr(b'\n', raw) {
        Some(end) => raw.get(..end)?,
        None => raw,
    };
    let first = first.get(..READLINE_LIMIT).unwrap_or(first);
    let text = trim(first, b" \t\r\n");
    if !text.starts_with(b"#") {
        return None;
    }
    let mut reader = Reader {
        text: trim(text, b"#"),
        at: 0,
    };
    reader.header()
}

fn trim<'a>(mut text: &'a [u8], set: &[u8]) -> &'a [u8] {
    while let [first, rest @ ..] = text {
        if !set.contains(first) {
            break;
        }
        text = rest;
    }
    while let [rest @ .., last] = text {
        if !set.contains(last) {
            break;
        }
        text = rest;
    }
    text
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Version,
    Singles,
    Pairs,
    Other,
}

/// A scalar a field may hold.
enum Scalar {
    Null,
    Text(String),
    Int(i64),
    Other,
}

struct Reader<'a> {
    text: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.text.get(self.at..end)? == word).then_some(())?;
        self.at = end;
        Some(())
    }

    /// The object of the header; `None` for anything else or any mistake.
    fn header(&mut self) -> Option<Header> {
        self.skip_space();
        self.expect(b'{')?;
        let (mut version, mut singles, mut pairs) = (String::new(), -1i64, -1i64);
        self.skip_space();
        if self.peek() == Some(b'}') {
            return None; // an empty object has no version
        }
        loop {
            self.skip_space();
            let field = field(&self.string()?);
            self.skip_space();
            self.expect(b':')?;
            self.skip_space();
            if field == Field::Other {
                self.skip_value()?;
            } else {
                match (field, self.scalar()?) {
                    (_, Scalar::Null) => {}
                    (Field::Version, Scalar::Text(text)) => version = text,
                    (Field::Singles, Scalar::Int(n)) => singles = n,
                    (Field::Pairs, Scalar::Int(n)) => pairs = n,
                    _ => return None,
                }
            }
            self.skip_space();
            match self.next()? {
                b',' => continue,
                b'}' => break,
                _ => return None,
            }
        }
        if version.is_empty() || singles < 0 || pairs < 0 {
            return None;
        }
        Some(Header {
            version,
            singles,
            pairs,
        })
    }

    /// A field's value: a scalar, or `Other` for an array or object (skipped, and valid).
    fn scalar(&mut self) -> Option<Scalar> {
        match self.peek()? {
            b'"' => Some(Scalar::Text(self.string()?)),
            b'n' => self.literal(b"null").map(|()| Scalar::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => self.skip_value().map(|()| Scalar::Other),
        }
    }

    /// A number: `Int` when it is an integer within int64, `Other` for any other valid number.
    fn number(&mut self) -> Option<Scalar> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        let mut integer = true;
        if self.peek() == Some(b'.') && self.text.get(self.at + 1).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
            self.digits();
            integer = false;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            let mut probe = self.at + 1;
            if matches!(self.text.get(probe), Some(b'+' | b'-')) {
                probe += 1;
            }
            if self.text.get(probe).is_some_and(u8::is_ascii_digit) {
                self.at = probe;
                self.digits();
                integer = false;
            }
        }
        if !integer {
            return Some(Scalar::Other);
        }
        let digits = std::str::from_utf8(self.text.get(start..self.at)?).ok()?;
        Some(digits.parse::<i64>().map_or(Scalar::Other, Scalar::Int))
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
    }

    /// A string, decoded: escapes resolved, a lone surrogate and each stray byte as U+FFFD.
    fn string(&mut self) -> Option<String> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            let byte = self.next()?;
            match byte {
                b'"' => return Some(out),
                b'\\' => self.escape(&mut out)?,
                0..=0x1f => return None, // control characters must be escaped
                0x20..=0x7f => out.push(char::from(byte)),
                _ => self.utf8(byte, &mut out),
            }
        }
    }

    /// A non-ASCII character starting with `first`, or U+FFFD for a byte that starts none.
    fn utf8(&mut self, first: u8, out: &mut String) {
        let width = match first {
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf4 => 4,
            _ => 0,
        };
        let start = self.at - 1;
        let decoded = self
            .text
            .get(start..start + width)
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .filter(|_| width > 0);
        match decoded {
            Some(text) => {
                out.push_str(text);
                self.at = start + width;
            }
            None => out.push(char::REPLACEMENT_CHARACTER),
        }
    }

    fn escape(&mut self, out: &mut String) -> Option<()> {
        let decoded = match self.next()? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                if (0xd800..0xdc00).contains(&unit) && self.text.get(self.at..self.at + 2) == Some(b"\\u") {
                    let saved = self.at;
                    self.at += 2;
                    let low = self.hex4()?;
                    if (0xdc00..0xe000).contains(&low) {
                        let value = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
                        out.push(char::from_u32(value).unwrap_or(char::REPLACEMENT_CHARACTER));
                        return Some(());
                    }
                    self.at = saved; // not a pair: the second escape stands alone
                }
                char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER)
            }
            _ => return None,
        };
        out.push(decoded);
        Some(())
    }

    fn hex4(&mut self) -> Option<u32> {
        let mut value = 0u32;
        for _ in 0..4 {
            let digit = char::from(self.next()?).to_digit(16)?;
            value = value << 4 | digit;
        }
        Some(value)
    }

    /// Skip one valid JSON value of any depth.
    fn skip_value(&mut self) -> Option<()> {
        // Open containers: `true` for an object (a key comes next), `false` for an array.
        let mut open: Vec<bool> = Vec::new();
        loop {
            self.skip_space();
            match self.peek()? {
                b'{' | b'[' => {
                    let object = self.next()? == b'{';
                    self.skip_space();
                    let close = if object { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.at += 1;
                    } else {
                        open.push(object);
                        if object {
                            self.key()?;
                        }
                        continue;
                    }
                }
                b'"' => {
                    self.string()?;
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => {
                    self.number()?;
                }
            }
            // A value ended: close what it ends, or go on to the next one.
            loop {
                let Some(&object) = open.last() else {
                    return Some(());
                };
                self.skip_space();
                match (self.next()?, object) {
                    (b',', true) => {
                        self.skip_space();
                        self.key()?;
                        break;
                    }
                    (b',', false) => break,
                    (b'}', true) | (b']', false) => {
                        open.pop();
                    }
                    _ => return None,
                }
            }
        }
    }

    /// A key and its colon.
    fn key(&mut self) -> Option<()> {
        self.string()?;
        self.skip_space();
        self.expect(b':')
    }
}

/// The header field a key names, matched as Go's `encoding/json` matches struct fields.
fn field(key: &str) -> Field {
    let folded = key.replace('\u{17f}', "s");
    if !folded.is_ascii() {
        return Field::Other;
    }
    let lower = folded.to_ascii_lowercase();
    match lower.as_str() {
        "version" => Field::Version,
        "singleipnum" => Field::Singles,
        "pairipnum" => Field::Pairs,
        _ => Field::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(first: &str) -> Option<(String, i64, i64)> {
        read_header(format!("{first}\n10.0.0.1\n").as_bytes()).map(|h| (h.version, h.singles, h.pairs))
    }

    #[test]
    fn a_valid_header() {
        assert_eq!(
            header(r#"#  {"version": "1234", "pairIPNum":1, "singleIPNum":2}"#),
            Some(("1234".into(), 2, 1))
        );
        assert_eq!(
            header(r#"  ##{"VERSION": "a", "SingleIpNum": 0, "PAIRipnum": 3} trailing ##"#),
            Some(("a".into(), 0, 3))
        );
        assert_eq!(
            header(
                r#"# {"ver\u017fion": "x", "ſingleipnum": 1, "pairipnum": 1, "other": [{"a": [1, {}]}, -2.5e3]}"#
            ),
            Some(("x".into(), 1, 1))
        );
    }

    #[test]
    fn later_keys_win_and_null_keeps_a_value() {
        assert_eq!(
            header(
                r#"# {"version": "a", "version": "b", "singleIPNum": 1, "singleIPNum": null, "pairIPNum": 0}"#
            ),
            Some(("b".into(), 1, 0))
        );
    }

    #[test]
    fn headers_bfe_would_not_use() {
        for first in [
            "",
            "1.2.3.4",
            "# global ip blocklist",
            r#"# {"version": "", "singleIPNum": 1, "pairIPNum": 1}"#,
            r#"# {"singleIPNum": 1, "pairIPNum": 1}"#,
            r#"# {"version": "1", "singleIPNum": -1, "pairIPNum": 1}"#,
            r#"# {"version": "1", "pairIPNum": 1}"#,
            r#"# {"version": "1", "singleIPNum": 1.0, "pairIPNum": 1}"#,
            r#"# {"version": "1", "singleIPNum": "1", "pairIPNum": 1}"#,
            r#"# {"version": 1, "singleIPNum": 1, "pairIPNum": 1}"#,
            r#"# {"version": "1", "singleIPNum": true, "pairIPNum": 1}"#,
            r#"# {"version": "1", "singleIPNum": 9223372036854775808, "pairIPNum": 1}"#,
            r#"# ["version"]"#,
            "# null",
            r#"# {"version": "1", "singleIPNum": 1, "pairIPNum": 1"#,
            r#"# {"version": "1", "singleIPNum": 1, "pairIPNum": 01}"#,
            r#"# {"version": "1", "singleIPNum": 1, "pairIPNum": 1, "x": [1,]}"#,
            r#"# {"version": "1", "singleIPNum": 1, "pairIPNum": 1, "x": NaN}"#,
            "# {\"version\": \"a\tb\", \"singleIPNum\": 1, \"pairIPNum\": 1}",
        ] {
            assert_eq!(header(first), None, "{first}");
        }
    }

    #[test]
    fn strings_decode_as_go_does() {
        assert_eq!(
            header(r#"# {"version": "\ud83d\ude00\ud800x\n", "singleIPNum": 0, "pairIPNum": 0}"#),
            Some(("\u{1f600}\u{fffd}x\n".into(), 0, 0))
        );
        let raw = b"# {\"version\": \"caf\xe9\", \"singleIPNum\": 0, \"pairIPNum\": 0}\n";
        assert_eq!(read_header(raw).map(|h| h.version), Some("caf\u{fffd}".into()));
    }

    #[test]
    fn deep_nesting_is_skipped_without_recursion() {
        let deep = format!(
            r#"# {{"x": {}1{}, "version": "v", "singleIPNum": 0, "pairIPNum": 0}}"#,
            "[".repeat(1500),
            "]".repeat(1500)
        );
        assert_eq!(header(&deep), Some(("v".into(), 0, 0)));
    }

    #[test]
    fn only_the_first_4096_bytes_count() {
        let padded = format!(
            r#"# {{"version": "v", "singleIPNum": 0, "pairIPNum": 0, "x": "{}"}}"#,
            "a".repeat(5000)
        );
        assert_eq!(header(&padded), None);
    }
}
