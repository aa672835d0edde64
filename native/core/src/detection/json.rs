//! JSON as Python's `json.loads` reads it, flattened into the `name=value` lines rules read.
//!
//! The lines must be the ones the Python engine reads: numbers written as Python writes them
//! (`1e+100`, `100000.0`, `0` for `-0`), `NaN` and `Infinity` accepted, a member repeated in an
//! object keeping its first place and its last value, integers of more than 4,300 digits
//! refused, as Python refuses them.

const MAX_NESTING: usize = 512;
const MAX_INT_DIGITS: usize = 4300;

enum Node {
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
    Text(String),
    /// A number or a literal, already written as Python writes it (`""` for null and booleans).
    Scalar(String),
}

/// The `name=value` lines of a JSON document, members nested at most `depth` deep; `None` when
/// `text` is not JSON.
pub fn json_lines(text: &str, depth: usize) -> Option<Vec<String>> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        text,
        at: 0,
    };
    parser.space();
    let node = parser.value(0)?;
    parser.space();
    if parser.at != parser.bytes.len() {
        return None;
    }
    let mut out = Vec::new();
    flatten(&node, "", 0, depth, &mut out);
    Some(out)
}

fn flatten(node: &Node, name: &str, depth: usize, limit: usize, out: &mut Vec<String>) {
    if depth > limit {
        return;
    }
    match node {
        Node::Object(members) => {
            for (key, value) in members {
                flatten(value, key, depth + 1, limit, out);
            }
        }
        Node::Array(items) => {
            for item in items {
                flatten(item, name, depth + 1, limit, out);
            }
        }
        Node::Text(text) | Node::Scalar(text) => out.push(format!("{name}={text}")),
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    text: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn space(&mut self) {
        while matches!(self.bytes.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn eat(&mut self, word: &str) -> bool {
        if self.bytes.get(self.at..self.at + word.len()) == Some(word.as_bytes()) {
            self.at += word.len();
            return true;
        }
        false
    }

    fn value(&mut self, nesting: usize) -> Option<Node> {
        if nesting > MAX_NESTING {
            return None;
        }
        match self.bytes.get(self.at)? {
            b'{' => self.object(nesting),
            b'[' => self.array(nesting),
            b'"' => self.string().map(Node::Text),
            b'n' if self.eat("null") => Some(Node::Scalar(String::new())),
            b't' if self.eat("true") => Some(Node::Scalar(String::new())),
            b'f' if self.eat("false") => Some(Node::Scalar(String::new())),
            b'N' if self.eat("NaN") => Some(Node::Scalar("nan".to_owned())),
            b'I' if self.eat("Infinity") => Some(Node::Scalar("inf".to_owned())),
            b'-' if self.eat("-Infinity") => Some(Node::Scalar("-inf".to_owned())),
            b'-' | b'0'..=b'9' => self.number().map(Node::Scalar),
            _ => None,
        }
    }

    fn object(&mut self, nesting: usize) -> Option<Node> {
        self.at += 1;
        let mut members: Vec<(String, Node)> = Vec::new();
        self.space();
        if self.eat("}") {
            return Some(Node::Object(members));
        }
        loop {
            self.space();
            if self.bytes.get(self.at) != Some(&b'"') {
                return None;
            }
            let key = self.string()?;
            self.space();
            if !self.eat(":") {
                return None;
            }
            self.space();
            let value = self.value(nesting + 1)?;
            match members.iter_mut().find(|(known, _)| *known == key) {
                Some(member) => member.1 = value,
                None => members.push((key, value)),
            }
            self.space();
            if self.eat("}") {
                return Some(Node::Object(members));
            }
            if !self.eat(",") {
                return None;
            }
        }
    }

    fn array(&mut self, nesting: usize) -> Option<Node> {
        self.at += 1;
        let mut items = Vec::new();
        self.space();
        if self.eat("]") {
            return Some(Node::Array(items));
        }
        loop {
            self.space();
            items.push(self.value(nesting + 1)?);
            self.space();
            if self.eat("]") {
                return Some(Node::Array(items));
            }
            if !self.eat(",") {
                return None;
            }
        }
    }

    fn string(&mut self) -> Option<String> {
        self.at += 1;
        let mut out = String::new();
        loop {
            let start = self.at;
            while let Some(&b) = self.bytes.get(self.at) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            out.push_str(self.text.get(start..self.at)?);
            match self.bytes.get(self.at)? {
                b'"' => {
                    self.at += 1;
                    return Some(out);
                }
                b'\\' => {
                    let escaped = *self.bytes.get(self.at + 1)?;
                    self.at += 2;
                    match escaped {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let high = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&high)
                                && self.bytes.get(self.at..self.at + 2) == Some(b"\\u")
                            {
                                let save = self.at;
                                self.at += 2;
                                match self.hex4() {
                                    Some(low) if (0xDC00..0xE000).contains(&low) => {
                                        0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                                    }
                                    _ => {
                                        self.at = save;
                                        high
                                    }
                                }
                            } else {
                                high
                            };
                            // A lone surrogate (Python keeps it) reads as U+FFFD here.
                            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                        }
                        _ => return None,
                    }
                }
                _ => return None, // a control character: Python's strict mode refuses it
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.bytes.get(self.at..self.at + 4)?;
        let mut value = 0u32;
        for &b in digits {
            value = value << 4 | u32::from(super::text::hex(b)?);
        }
        self.at += 4;
        Some(value)
    }

    fn number(&mut self) -> Option<String> {
        let start = self.at;
        self.eat("-");
        let digits = self.digits();
        if digits == 0 {
            return None;
        }
        if digits > 1 && self.bytes.get(self.at - digits) == Some(&b'0') {
            // "01": Python reads 0 and then refuses the extra data.
            return None;
        }
        let mut float = false;
        if self.bytes.get(self.at) == Some(&b'.')
            && self.bytes.get(self.at + 1).is_some_and(u8::is_ascii_digit)
        {
            self.at += 1;
            self.digits();
            float = true;
        }
        if matches!(self.bytes.get(self.at), Some(b'e' | b'E')) {
            let save = self.at;
            self.at += 1;
            if matches!(self.bytes.get(self.at), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if self.digits() == 0 {
                self.at = save;
            } else {
                float = true;
            }
        }
        let literal = self.text.get(start..self.at)?;
        if float {
            return Some(python_float(literal.parse::<f64>().ok()?));
        }
        let (negative, magnitude) = match literal.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, literal),
        };
        if magnitude.len() > MAX_INT_DIGITS {
            return None;
        }
        if magnitude == "0" {
            return Some("0".to_owned());
        }
        Some(if negative {
            format!("-{magnitude}")
        } else {
            magnitude.to_owned()
        })
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        self.at - start
    }
}

/// A float as Python's `repr` writes it: the shortest digits that read back, in scientific
/// notation below 1e-4 and from 1e16.
pub fn python_float(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let scientific = format!("{value:e}"); // shortest digits: "-1.5e-7", "1e100"
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if !(-4..16).contains(&exponent) {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{first}{fraction}e{exp_sign}{:02}", exponent.abs());
    }
    let point = exponent + 1; // digits before the decimal point
    if point <= 0 {
        let zeros = "0".repeat(usize::try_from(-point).unwrap_or(0));
        return format!("{sign}0.{zeros}{digits}");
    }
    let point = usize::try_from(point).unwrap_or(0);
    if digits.len() <= point {
        let zeros = "0".repeat(point - digits.len());
        return format!("{sign}{digits}{zeros}.0");
    }
    let (whole, fraction) = digits.split_at(point);
    format!("{sign}{whole}.{fraction}")
}

#[cfg(test)]
mod tests {
    use super::{json_lines, python_float};

    #[test]
    fn floats_as_python_writes_them() {
        for (value, written) in [
            (1e100, "1e+100"),
            (1.5e-7, "1.5e-07"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (-0.0, "-0.0"),
            (1.25, "1.25"),
            (123456.789, "123456.789"),
        ] {
            assert_eq!(python_float(value), written);
        }
    }

    #[test]
    fn lines_of_a_document() {
        let lines = json_lines(
            r#"{"a": [1, -0, 2.50], "b": {"c": null, "d": "x\u00e9"}, "a": true}"#,
            32,
        );
        assert_eq!(
            lines,
            Some(vec!["a=".to_owned(), "c=".to_owned(), "d=xé".to_owned()])
        );
        assert_eq!(json_lines("[1, 2,]", 32), None);
        assert_eq!(json_lines("01", 32), None);
    }
}
