//! BFE's regular expressions (Go's `regexp` syntax) run by the `regex` crate.
//!
//! Both engines are RE2's kind: linear time, no backreferences or lookarounds, leftmost
//! search. Their syntaxes differ in a few places where the same text means different
//! things, so a pattern is translated, following Go's parser (`regexp/syntax/parse.go`)
//! token by token, into a pattern that means in Rust what the original means in Go:
//!
//! - `\d`, `\s`, `\w` and `\b` are ASCII in Go (`\s` without `\v`), Unicode in Rust: they
//!   become explicit ASCII classes, and `\b`/`\B` become `(?-u:\b)`/`(?-u:\B)`;
//! - inside a class, `[`, `&&`, `--` and `~~` are set syntax in Rust and plain characters
//!   in Go: every class member is written as an escaped code point or range;
//! - `{` that does not start a valid repetition (`a{`, `a{,3}`, `a{01}`) is a literal in
//!   Go, an error or a repetition in Rust; `\<`, `\>` (Rust's word-edge assertions) and
//!   any other escaped punctuation are literals in Go;
//! - `\Q...\E`, octal escapes (`\12`) and `\p{^Greek}` exist only in Go;
//! - a bare script name (`\p{Greek}`) means Script in Go, Script_Extensions in Rust: names
//!   are written out as `gc=` or `sc=`.
//!
//! Text that is not valid UTF-8 is read as Go reads it, each invalid byte as U+FFFD (see
//! [`go_text`](super::fold::go_text)). A pattern Go would refuse is refused (the Python side
//! refuses it first, with Go's message); a pattern the `regex` crate cannot build (too
//! large, nested too deep) is refused too, and the Python side refuses it when the
//! condition is built, so that a rule file never loads with a rule that cannot run.

use std::fmt::Write as _;

use regex::bytes::{Regex, RegexBuilder};

/// Go's Unicode general categories (the names `\p{...}` reads as a category).
const CATEGORIES: &[&str] = &[
    "C", "Cc", "Cf", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn", "N", "Nd", "Nl",
    "No", "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk", "Sm", "So", "Z", "Zl", "Zp", "Zs",
];

/// Go's POSIX classes, as inclusive ranges.
fn posix_class(name: &str) -> Option<&'static [(u32, u32)]> {
    Some(match name {
        "alnum" => &[(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)],
        "alpha" => &[(0x41, 0x5A), (0x61, 0x7A)],
        "ascii" => &[(0x00, 0x7F)],
        "blank" => &[(0x09, 0x09), (0x20, 0x20)],
        "cntrl" => &[(0x00, 0x1F), (0x7F, 0x7F)],
        "digit" => &[(0x30, 0x39)],
        "graph" => &[(0x21, 0x7E)],
        "lower" => &[(0x61, 0x7A)],
        "print" => &[(0x20, 0x7E)],
        "punct" => &[(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)],
        "space" => &[(0x09, 0x0D), (0x20, 0x20)],
        "upper" => &[(0x41, 0x5A)],
        "word" => &[(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A), (0x5F, 0x5F)],
        "xdigit" => &[(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
        _ => return None,
    })
}

/// Go's Perl classes `\d`, `\s`, `\w`, as inclusive ranges.
fn perl_class(letter: char) -> Option<&'static [(u32, u32)]> {
    Some(match letter.to_ascii_lowercase() {
        'd' => &[(0x30, 0x39)],
        's' => &[(0x09, 0x0A), (0x0C, 0x0D), (0x20, 0x20)],
        'w' => &[(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A), (0x5F, 0x5F)],
        _ => return None,
    })
}

/// Why a pattern cannot run.
pub type RegexError = String;

/// Translate and build a pattern; the error says why it cannot run.
pub fn compile(pattern: &str) -> Result<Regex, RegexError> {
    let translated = translate(pattern)?;
    RegexBuilder::new(&translated)
        .build()
        .map_err(|error| match error {
            regex::Error::CompiledTooBig(limit) => {
                format!("the pattern is too large for the native engine (over {limit} bytes compiled)")
            }
            other => {
                let text = other.to_string();
                let last = text.lines().last().unwrap_or_default().trim();
                format!(
                    "the native engine refuses it: {}",
                    last.trim_start_matches("error: ")
                )
            }
        })
}

/// Whether the pattern matches somewhere in `text` (read as Go reads it).
pub fn is_match(regex: &Regex, text: &[u8]) -> bool {
    regex.is_match(&super::fold::go_text(text))
}

/// A pattern in Go's syntax written in the `regex` crate's.
pub fn translate(pattern: &str) -> Result<String, RegexError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 16);
    Translator {
        chars: &chars,
        out: &mut out,
    }
    .top()?;
    Ok(out)
}

struct Translator<'a> {
    chars: &'a [char],
    out: &'a mut String,
}

fn push_code(out: &mut String, code: u32) {
    let _ = write!(out, "\\x{{{code:X}}}");
}

/// A literal character, escaped unless it is alphanumeric or not ASCII.
fn push_literal(out: &mut String, code: char) {
    if code.is_ascii_alphanumeric() || !code.is_ascii() {
        out.push(code);
    } else {
        push_code(out, u32::from(code));
    }
}

/// A class member range, clipped around the surrogates (which no text holds).
fn push_range(out: &mut String, low: u32, high: u32) -> bool {
    let (mut low, mut high) = (low, high);
    if (0xD800..0xE000).contains(&low) {
        low = 0xE000;
    }
    if (0xD800..0xE000).contains(&high) {
        high = 0xD7FF;
    }
    if low > high {
        return false;
    }
    push_code(out, low);
    if high != low {
        out.push('-');
        push_code(out, high);
    }
    true
}

fn push_ranges(out: &mut String, negated: bool, ranges: &[(u32, u32)]) {
    out.push_str(if negated { "[^" } else { "[" });
    for &(low, high) in ranges {
        push_range(out, low, high);
    }
    out.push(']');
}

const NOTHING: &str = r"[^\x00-\x{10FFFF}]";

fn octal(code: char) -> Option<u32> {
    code.to_digit(8).filter(|_| code.is_ascii_digit())
}

impl Translator<'_> {
    fn at(&self, pos: usize) -> Option<char> {
        self.chars.get(pos).copied()
    }

    fn starts_with(&self, pos: usize, text: &str) -> bool {
        text.chars()
            .enumerate()
            .all(|(offset, code)| self.at(pos + offset) == Some(code))
    }

    fn top(&mut self) -> Result<(), RegexError> {
        let mut pos = 0;
        while let Some(code) = self.at(pos) {
            pos = match code {
                '\\' => self.top_escape(pos)?,
                '[' => self.class(pos)?,
                '{' => self.repeat(pos)?,
                '(' => self.group(pos)?,
                ')' | '|' | '*' | '+' | '?' | '.' | '^' | '$' => {
                    self.out.push(code);
                    pos + 1
                }
                _ => {
                    push_literal(self.out, code);
                    pos + 1
                }
            };
        }
        Ok(())
    }

    /// Go's `parseInt`: digits without a leading zero; the value (-1 when too large) and the end.
    fn int(&self, pos: usize) -> Option<(i64, usize)> {
        let first = self.at(pos).filter(char::is_ascii_digit)?;
        if first == '0' && self.at(pos + 1).is_some_and(|code| code.is_ascii_digit()) {
            return None;
        }
        let mut end = pos;
        let mut value = 0i64;
        while let Some(digit) = self.at(end).filter(char::is_ascii_digit) {
            if value >= 0 {
                value = if value >= 100_000_000 {
                    -1
                } else {
                    value * 10 + i64::from(digit.to_digit(10).unwrap_or_default())
                };
            }
            end += 1;
        }
        Some((value, end))
    }

    /// Go's `parseRepeat` at a `{`: `(min, max, end)` with `max` -1 for `{n,}`.
    fn repeat_at(&self, pos: usize) -> Option<(i64, i64, usize)> {
        let (min, mut at) = self.int(pos + 1)?;
        let max = match self.at(at)? {
            ',' => {
                at += 1;
                if self.at(at)? == '}' {
                    -1
                } else {
                    let (max, end) = self.int(at)?;
                    at = end;
                    if max < 0 { -2 } else { max }
                }
            }
            _ => min,
        };
        (self.at(at)? == '}').then_some((min, max, at + 1))
    }

    fn repeat(&mut self, pos: usize) -> Result<usize, RegexError> {
        let Some((min, max, end)) = self.repeat_at(pos) else {
            push_literal(self.out, '{'); // not a repetition: a literal in Go
            return Ok(pos + 1);
        };
        if !(0..=1000).contains(&min) || max > 1000 || max == -2 || (max >= 0 && min > max) {
            return Err("invalid repeat count".to_owned());
        }
        let _ = if max == -1 {
            write!(self.out, "{{{min},}}")
        } else {
            write!(self.out, "{{{min},{max}}}")
        };
        Ok(end)
    }

    fn group(&mut self, pos: usize) -> Result<usize, RegexError> {
        if self.at(pos + 1) != Some('?') {
            self.out.push('(');
            return Ok(pos + 1);
        }
        let name_at = if self.starts_with(pos + 2, "P<") {
            Some(pos + 4)
        } else if self.starts_with(pos + 2, "<") {
            Some(pos + 3)
        } else {
            None
        };
        if let Some(start) = name_at {
            let mut end = start;
            while let Some(code) = self.at(end).filter(|&code| code != '>') {
                if !(code.is_ascii_alphanumeric() || code == '_') {
                    return Err("invalid named capture".to_owned());
                }
                end += 1;
            }
            if end == start || self.at(end) != Some('>') {
                return Err("invalid named capture".to_owned());
            }
            let name: String = self.chars.get(start..end).unwrap_or_default().iter().collect();
            let _ = write!(self.out, "(?P<{name}>");
            return Ok(end + 1);
        }
        // Flags: (?flags) or (?flags:re), with Go's letters.
        let mut at = pos + 2;
        let mut flags = String::new();
        let (mut negated, mut saw_flag) = (false, false);
        loop {
            let code = self.at(at).ok_or_else(|| "missing closing )".to_owned())?;
            at += 1;
            match code {
                'i' | 'm' | 's' | 'U' => {
                    flags.push(code);
                    saw_flag = true;
                }
                '-' if !negated => {
                    flags.push(code);
                    negated = true;
                    saw_flag = false;
                }
                ':' | ')' => {
                    if negated && !saw_flag {
                        break;
                    }
                    match (code, flags.is_empty()) {
                        (':', true) => self.out.push_str("(?:"),
                        (')', true) => {}
                        _ => {
                            let _ = write!(self.out, "(?{flags}{code}");
                        }
                    }
                    return Ok(at);
                }
                _ => break,
            }
        }
        Err("invalid or unsupported Perl syntax".to_owned())
    }

    /// Go's `parseEscape`: the character of the escape at `pos` and the position after it.
    fn escape(&self, pos: usize) -> Result<(u32, usize), RegexError> {
        let code = self
            .at(pos + 1)
            .ok_or_else(|| "trailing backslash at end of expression".to_owned())?;
        let mut at = pos + 2;
        let invalid = || Err("invalid escape sequence".to_owned());
        match code {
            '1'..='7' | '0' => {
                if code != '0' && self.at(at).and_then(octal).is_none() {
                    return invalid(); // a backreference
                }
                let mut value = octal(code).unwrap_or_default();
                for _ in 0..2 {
                    match self.at(at).and_then(octal) {
                        Some(digit) => {
                            value = value * 8 + digit;
                            at += 1;
                        }
                        None => break,
                    }
                }
                Ok((value, at))
            }
            'x' => {
                if self.at(at) == Some('{') {
                    at += 1;
                    let mut value = 0u32;
                    let mut digits = 0;
                    loop {
                        let Some(next) = self.at(at) else {
                            return invalid();
                        };
                        at += 1;
                        if next == '}' {
                            break;
                        }
                        let Some(digit) = next.to_digit(16).filter(|_| next.is_ascii()) else {
                            return invalid();
                        };
                        value = value * 16 + digit;
                        if value > 0x10FFFF {
                            return invalid();
                        }
                        digits += 1;
                    }
                    if digits == 0 {
                        return invalid();
                    }
                    return Ok((value, at));
                }
                let high = self.at(at).filter(char::is_ascii).and_then(|c| c.to_digit(16));
                let low = self
                    .at(at + 1)
                    .filter(char::is_ascii)
                    .and_then(|c| c.to_digit(16));
                match (high, low) {
                    (Some(high), Some(low)) => Ok((high * 16 + low, at + 2)),
                    _ => invalid(),
                }
            }
            'a' => Ok((0x07, at)),
            'f' => Ok((0x0C, at)),
            'n' => Ok((0x0A, at)),
            'r' => Ok((0x0D, at)),
            't' => Ok((0x09, at)),
            'v' => Ok((0x0B, at)),
            _ if code.is_ascii() && !code.is_ascii_alphanumeric() => Ok((u32::from(code), at)),
            _ => invalid(),
        }
    }

    /// `\p{Name}`, `\pL`, `\P...`, `\p{^Name}` at `pos`: the Rust class and the position after it.
    fn unicode_class(&self, pos: usize) -> Result<(String, usize), RegexError> {
        let mut positive = self.at(pos + 1) == Some('p');
        let (mut name, end): (String, usize) = match self.at(pos + 2) {
            Some('{') => {
                let mut end = pos + 3;
                while self.at(end).is_some_and(|code| code != '}') {
                    end += 1;
                }
                if self.at(end).is_none() {
                    return Err("invalid character class range".to_owned());
                }
                (
                    self.chars.get(pos + 3..end).unwrap_or_default().iter().collect(),
                    end + 1,
                )
            }
            Some(letter) => (letter.to_string(), pos + 3),
            None => return Err("invalid character class range".to_owned()),
        };
        if let Some(rest) = name.strip_prefix('^') {
            positive = !positive;
            name = rest.to_owned();
        }
        if name.is_empty()
            || !name
                .chars()
                .all(|code| code.is_ascii_alphanumeric() || code == '_')
        {
            return Err("invalid character class range".to_owned());
        }
        let letter = if positive { 'p' } else { 'P' };
        let class = if name == "Any" {
            format!("\\{letter}{{Any}}")
        } else if CATEGORIES.contains(&name.as_str()) {
            format!("\\{letter}{{gc={name}}}")
        } else {
            format!("\\{letter}{{sc={name}}}")
        };
        Ok((class, end))
    }

    fn top_escape(&mut self, pos: usize) -> Result<usize, RegexError> {
        match self.at(pos + 1) {
            Some('A') => self.out.push_str(r"\A"),
            Some('z') => self.out.push_str(r"\z"),
            Some('b') => self.out.push_str(r"(?-u:\b)"),
            Some('B') => self.out.push_str(r"(?-u:\B)"),
            Some('C') => return Err("invalid escape sequence".to_owned()),
            Some('Q') => {
                let mut at = pos + 2;
                while let Some(code) = self.at(at) {
                    if code == '\\' && self.at(at + 1) == Some('E') {
                        return Ok(at + 2);
                    }
                    push_literal(self.out, code);
                    at += 1;
                }
                return Ok(at);
            }
            Some('p' | 'P') => {
                let (class, end) = self.unicode_class(pos)?;
                self.out.push_str(&class);
                return Ok(end);
            }
            Some(letter @ ('d' | 'D' | 's' | 'S' | 'w' | 'W')) => {
                if let Some(ranges) = perl_class(letter) {
                    push_ranges(self.out, letter.is_ascii_uppercase(), ranges);
                }
            }
            _ => {
                let (code, end) = self.escape(pos)?;
                match char::from_u32(code) {
                    Some(code) => push_literal(self.out, code),
                    None => self.out.push_str(NOTHING), // a surrogate: no text holds one
                }
                return Ok(end);
            }
        }
        Ok(pos + 2)
    }

    /// One character of a class (a literal or an escape) and the position after it.
    fn class_char(&self, pos: usize) -> Result<(u32, usize), RegexError> {
        match self.at(pos) {
            None => Err("missing closing ]".to_owned()),
            Some('\\') => self.escape(pos),
            Some(code) => Ok((u32::from(code), pos + 1)),
        }
    }

    fn class(&mut self, start: usize) -> Result<usize, RegexError> {
        let mut pos = start + 1;
        let negated = self.at(pos) == Some('^');
        if negated {
            pos += 1;
        }
        let mut body = String::new();
        let mut members = 0usize;
        let mut first = true;
        loop {
            let code = self.at(pos).ok_or_else(|| "missing closing ]".to_owned())?;
            if code == ']' && !first {
                pos += 1;
                break;
            }
            first = false;
            if code == '[' && self.at(pos + 1) == Some(':') {
                // [:name:] up to the next ":]" anywhere after it, as Go looks for it.
                let close = (pos + 2..self.chars.len()).find(|&at| self.starts_with(at, ":]"));
                if let Some(close) = close {
                    let name: String = self
                        .chars
                        .get(pos + 2..close)
                        .unwrap_or_default()
                        .iter()
                        .collect();
                    let (negate, name) = match name.strip_prefix('^') {
                        Some(rest) => (true, rest.to_owned()),
                        None => (false, name),
                    };
                    let ranges =
                        posix_class(&name).ok_or_else(|| "invalid character class range".to_owned())?;
                    push_ranges(&mut body, negate, ranges);
                    members += 1;
                    pos = close + 2;
                    continue;
                }
            }
            if code == '\\' {
                match self.at(pos + 1) {
                    Some('p' | 'P') => {
                        let (class, end) = self.unicode_class(pos)?;
                        body.push_str(&class);
                        members += 1;
                        pos = end;
                        continue;
                    }
                    Some(letter @ ('d' | 'D' | 's' | 'S' | 'w' | 'W')) => {
                        if let Some(ranges) = perl_class(letter) {
                            push_ranges(&mut body, letter.is_ascii_uppercase(), ranges);
                            members += 1;
                        }
                        pos += 2;
                        continue;
                    }
                    _ => {}
                }
            }
            let (low, next) = self.class_char(pos)?;
            pos = next;
            let mut high = low;
            if self.at(pos) == Some('-') && self.at(pos + 1).is_some_and(|code| code != ']') {
                let (end, next) = self.class_char(pos + 1)?;
                if end < low {
                    return Err("invalid character class range".to_owned());
                }
                high = end;
                pos = next;
            }
            if push_range(&mut body, low, high) {
                members += 1;
            }
        }
        match (members, negated) {
            (0, false) => self.out.push_str(NOTHING),
            (0, true) => self.out.push_str("(?s:.)"),
            _ => {
                self.out.push_str(if negated { "[^" } else { "[" });
                self.out.push_str(&body);
                self.out.push(']');
            }
        }
        Ok(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        compile(pattern).is_ok_and(|regex| is_match(&regex, text.as_bytes()))
    }

    #[test]
    fn perl_classes_and_boundaries_are_ascii() {
        assert!(!matches(r"^\d$", "٣"));
        assert!(matches(r"^\d$", "3"));
        assert!(!matches(r"^\w$", "é"));
        assert!(!matches(r"^\s$", "\u{0B}"));
        assert!(matches(r"^\S$", "\u{0B}"));
        assert!(matches(r"(?i)^\w$", "\u{212A}")); // Go folds \w under (?i): the Kelvin sign
        assert!(matches(r"\bx\b", "éxé"));
        assert!(!matches(r"^[\d]$", "٣"));
    }

    #[test]
    fn go_literals() {
        assert!(matches(r"a{,3}", "a{,3}"));
        assert!(!matches(r"a{,3}", "aa"));
        assert!(matches(r"a{01}", "a{01}"));
        assert!(matches(r"^a{2}$", "aa"));
        assert!(matches(r"x{", "x{"));
        assert!(matches(r"\<a\>", "<a>"));
        assert!(matches(r"[a&&b]", "&"));
        assert!(matches(r"[[a]", "["));
        assert!(matches(r"^[a-c-e]+$", "b-e"));
        assert!(matches(r"[~~]", "~"));
        assert!(matches(r"\Qa.b\E.", "a.bx"));
        assert!(!matches(r"\Qa.b", "axb"));
        assert!(matches(r"^\101\0$", "A\0"));
        assert!(matches(r"]}", "]}"));
        assert!(matches(r"\b{start}", "a{start}"));
        assert!(matches(r"[]a]", "]"));
        assert!(matches(r"^[^\n]$", "x") && !matches(r"^[^\n]$", "\n"));
    }

    #[test]
    fn unicode_classes_by_go_names() {
        assert!(matches(r"^\p{Greek}$", "α"));
        assert!(!matches(r"^\p{^Greek}$", "α"));
        assert!(matches(r"^\P{^Greek}$", "α"));
        assert!(matches(r"^\pL$", "é"));
        assert!(matches(r"^[\p{Lu}]$", "É"));
        assert!(matches(r"^[[:^alpha:]]$", "1"));
        assert!(compile(r"[[:foo:]]").is_err());
    }

    #[test]
    fn go_refusals() {
        for pattern in [
            r"\C", r"\1", r"a{1001}", r"a{2,1}", r"(?x)a", r"[a", r"\", r"(?P<>a)", r"\8", r"[z-a]",
        ] {
            assert!(compile(pattern).is_err(), "{pattern}");
        }
        assert!(compile(r"(?)a").is_ok());
        assert!(compile(r"(?i-s:a)").is_ok());
    }

    #[test]
    fn invalid_text_reads_as_replacement_characters() {
        let regex = compile(r"^a.b$");
        assert!(regex.is_ok_and(|regex| is_match(&regex, b"a\xffb") && !is_match(&regex, b"a\xff\xffb")));
    }
}
