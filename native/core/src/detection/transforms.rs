//! Transformations applied to a value before rules match it, after ModSecurity's `t:` functions.
//!
//! Each rule names the transformations it needs, in order; the engine computes each distinct
//! chain once per value. Every function is total: any text in, a text out, borrowed when
//! nothing changed.

use std::borrow::Cow;

use super::entities::{DROPPED, NAMED, REMAPPED};
use super::text::{hex, is_space, unquote};

/// One transformation, by the name a rule pack gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transform {
    Decode,
    FullWidth,
    UrlDecode,
    UrlDecodePlus,
    UrlDecodeUni,
    HtmlEntityDecode,
    Lowercase,
    CompressWhitespace,
    RemoveWhitespace,
    RemoveNulls,
    RemoveComments,
    ReplaceComments,
    CmdLine,
    NormalizePath,
    Utf8Overlong,
}

impl Transform {
    /// Every transformation with its name.
    pub const ALL: [(&'static str, Transform); 15] = [
        ("decode", Transform::Decode),
        ("full_width", Transform::FullWidth),
        ("url_decode", Transform::UrlDecode),
        ("url_decode_plus", Transform::UrlDecodePlus),
        ("url_decode_uni", Transform::UrlDecodeUni),
        ("html_entity_decode", Transform::HtmlEntityDecode),
        ("lowercase", Transform::Lowercase),
        ("compress_whitespace", Transform::CompressWhitespace),
        ("remove_whitespace", Transform::RemoveWhitespace),
        ("remove_nulls", Transform::RemoveNulls),
        ("remove_comments", Transform::RemoveComments),
        ("replace_comments", Transform::ReplaceComments),
        ("cmd_line", Transform::CmdLine),
        ("normalize_path", Transform::NormalizePath),
        ("utf8_overlong", Transform::Utf8Overlong),
    ];

    /// The transformation of a name, `None` for an unknown one.
    pub fn named(name: &str) -> Option<Transform> {
        Self::ALL
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, t)| *t)
    }

    /// `text` transformed.
    pub fn apply<'a>(self, text: &'a str) -> Cow<'a, str> {
        match self {
            Transform::Decode => decode(text),
            Transform::FullWidth => full_width(text),
            Transform::UrlDecode => unquote(text),
            Transform::UrlDecodePlus => url_decode_plus(text),
            Transform::UrlDecodeUni => url_decode_uni(text),
            Transform::HtmlEntityDecode => html_unescape(text),
            Transform::Lowercase => lowercase(text),
            Transform::CompressWhitespace => spaces(text, Some(' ')),
            Transform::RemoveWhitespace => spaces(text, None),
            Transform::RemoveNulls => remove_nulls(text),
            Transform::RemoveComments => remove_comments(text),
            Transform::ReplaceComments => replace_comments(text),
            Transform::CmdLine => Cow::Owned(cmd_line(text)),
            Transform::NormalizePath => normalize_path(text),
            Transform::Utf8Overlong => utf8_overlong(text),
        }
    }
}

/// Applies `step` to an owned-or-borrowed text, keeping the borrow when nothing changed.
fn then<'a>(text: Cow<'a, str>, step: impl Fn(&str) -> Cow<'_, str>) -> Cow<'a, str> {
    match text {
        Cow::Borrowed(borrowed) => step(borrowed),
        Cow::Owned(owned) => match step(&owned) {
            Cow::Borrowed(_) => Cow::Owned(owned),
            Cow::Owned(changed) => Cow::Owned(changed),
        },
    }
}

fn lowercase(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Cow::Owned(text.to_ascii_lowercase());
        }
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.to_lowercase())
}

fn url_decode_plus(text: &str) -> Cow<'_, str> {
    if !text.contains('+') {
        return unquote(text);
    }
    let spaced = text.replace('+', " ");
    Cow::Owned(unquote(&spaced).into_owned())
}

/// Percent-decoding plus IIS `%uXXXX` and `\uXXXX` / `\xXX` escapes.
pub fn url_decode_uni(text: &str) -> Cow<'_, str> {
    if !(text.contains("%u") || text.contains("\\u") || text.contains("\\x") || text.contains("%U")) {
        return unquote(text);
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let (lead, kind) = (bytes.get(i), bytes.get(i + 1));
        let digits = match (lead, kind) {
            (Some(b'%'), Some(b'u')) | (Some(b'\\'), Some(b'u')) => 4,
            (Some(b'\\'), Some(b'x')) => 2,
            _ => 0,
        };
        let code = if digits > 0 {
            hex_value(bytes, i + 2, digits)
        } else {
            None
        };
        match code {
            Some(mut code) => {
                out.push_str(text.get(copied..i).unwrap_or_default());
                if (0xFF01..=0xFF5E).contains(&code) {
                    code -= 0xFEE0; // full-width forms fold to ASCII, as IIS does
                }
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                i += 2 + digits;
                copied = i;
            }
            None => i += 1,
        }
    }
    if copied == 0 {
        return unquote(text);
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    Cow::Owned(unquote(&out).into_owned())
}

fn hex_value(bytes: &[u8], start: usize, digits: usize) -> Option<u32> {
    let mut value = 0u32;
    for index in start..start + digits {
        value = value << 4 | u32::from(hex(*bytes.get(index)?)?);
    }
    Some(value)
}

/// Python's `html.unescape`: HTML5 named and numeric character references.
pub fn html_unescape(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(rest.get(..at).unwrap_or_default());
        let after = rest.get(at + 1..).unwrap_or_default();
        match reference(after, &mut out) {
            Some(used) => rest = after.get(used..).unwrap_or_default(),
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Reads the reference after a `&`: appends its text and returns the bytes it used, or `None`
/// when nothing there is a reference.
fn reference(after: &str, out: &mut String) -> Option<usize> {
    let bytes = after.as_bytes();
    if bytes.first() == Some(&b'#') {
        let hexadecimal = matches!(bytes.get(1), Some(b'x' | b'X'));
        let start = if hexadecimal { 2 } else { 1 };
        let digits = bytes
            .get(start..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| {
                if hexadecimal {
                    b.is_ascii_hexdigit()
                } else {
                    b.is_ascii_digit()
                }
            })
            .count();
        if digits == 0 {
            return None;
        }
        let mut number: u64 = 0;
        for &b in bytes.get(start..start + digits).unwrap_or_default() {
            let digit = u64::from(hex(b).unwrap_or(0));
            number = number
                .saturating_mul(if hexadecimal { 16 } else { 10 })
                .saturating_add(digit);
        }
        let mut used = start + digits;
        if bytes.get(used) == Some(&b';') {
            used += 1;
        }
        numeric(number, out);
        return Some(used);
    }
    // A name: up to 32 characters other than \t \n \f space < & # ;, then maybe ";".
    let mut end = 0;
    for (count, (index, c)) in after.char_indices().enumerate() {
        if count == 32 || matches!(c, '\t' | '\n' | '\x0c' | ' ' | '<' | '&' | '#' | ';') {
            break;
        }
        end = index + c.len_utf8();
    }
    if end == 0 {
        return None;
    }
    let with_semicolon = if bytes.get(end) == Some(&b';') {
        end + 1
    } else {
        end
    };
    let name = after.get(..with_semicolon).unwrap_or_default();
    if let Some(found) = named(name) {
        out.push_str(found);
        return Some(with_semicolon);
    }
    // The longest name that is a prefix (at least two characters).
    let bounds: Vec<usize> = name.char_indices().map(|(i, _)| i).skip(2).collect();
    for &cut in bounds.iter().rev() {
        if let Some(found) = name.get(..cut).and_then(named) {
            out.push_str(found);
            out.push_str(name.get(cut..).unwrap_or_default());
            return Some(with_semicolon);
        }
    }
    out.push('&');
    out.push_str(name);
    Some(with_semicolon)
}

fn named(name: &str) -> Option<&'static str> {
    NAMED
        .binary_search_by(|(key, _)| (*key).cmp(name))
        .ok()
        .and_then(|index| NAMED.get(index))
        .map(|(_, v)| *v)
}

fn numeric(number: u64, out: &mut String) {
    if let Ok(code) = u32::try_from(number) {
        if let Ok(index) = REMAPPED.binary_search_by(|(key, _)| key.cmp(&code)) {
            if let Some((_, text)) = REMAPPED.get(index) {
                out.push_str(text);
                return;
            }
        }
        if (0xD800..=0xDFFF).contains(&code) || code > 0x10FFFF {
            out.push('\u{fffd}');
            return;
        }
        if DROPPED.binary_search(&code).is_ok() {
            return;
        }
        out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
        return;
    }
    out.push('\u{fffd}');
}

/// Full-width forms (U+FF01 to U+FF5E) as the ASCII characters they stand for.
pub fn full_width(text: &str) -> Cow<'_, str> {
    if text.is_ascii() || !text.chars().any(is_full_width) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if is_full_width(c) {
                    char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c)
                } else {
                    c
                }
            })
            .collect(),
    )
}

fn is_full_width(c: char) -> bool {
    ('\u{ff01}'..='\u{ff5e}').contains(&c)
}

/// Everything an application or a browser may decode: overlong UTF-8 forms, URL escapes until
/// nothing changes (three rounds at most), HTML entities, full-width forms; null bytes go.
pub fn decode(text: &str) -> Cow<'_, str> {
    let mut text = Cow::Borrowed(text);
    if text.contains('%') {
        text = then(text, utf8_overlong);
    }
    for _ in 0..3 {
        if !text.contains('%') && !text.contains('\\') {
            break;
        }
        let decoded = url_decode_uni(&text);
        if decoded == text.as_ref() {
            break;
        }
        let decoded = decoded.into_owned();
        text = Cow::Owned(decoded);
    }
    text = then(text, html_unescape);
    if text.contains('%') && text.contains('&') {
        text = then(text, unquote);
    }
    text = then(text, full_width);
    then(text, remove_nulls)
}

/// Runs of white space (line breaks excepted) as `with` (one space), or removed.
fn spaces(text: &str, with: Option<char>) -> Cow<'_, str> {
    let horizontal = |c: char| c != '\n' && is_space(c);
    // Nothing to do when every run is already one plain space.
    let mut previous = false;
    let untouched = text.chars().all(|c| {
        let space = horizontal(c);
        let fine = !space || (with == Some(' ') && c == ' ' && !previous);
        previous = space;
        fine
    });
    if untouched {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut in_run = false;
    for c in text.chars() {
        if horizontal(c) {
            if !in_run {
                if let Some(replacement) = with {
                    out.push(replacement);
                }
            }
            in_run = true;
        } else {
            in_run = false;
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn remove_nulls(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', ""))
    } else {
        Cow::Borrowed(text)
    }
}

/// SQL and C comments become one space (`UN/**/ION` stays two words).
fn remove_comments(text: &str) -> Cow<'_, str> {
    if !text.contains("/*") && !text.contains("--") && !text.contains('#') {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let size = bytes.len();
    let mut out = String::with_capacity(size);
    let mut copied = 0;
    let mut i = 0;
    while i < size {
        let end = if bytes.get(i..i + 2) == Some(b"/*") {
            // Up to "*/", or the end (Python's "$": before a final line break).
            match text.get(i + 2..).and_then(|rest| rest.find("*/")) {
                Some(found) => Some(i + 2 + found + 2),
                None if bytes.last() == Some(&b'\n') && size > i + 2 => Some(size - 1),
                None => Some(size),
            }
        } else if bytes.get(i..i + 2) == Some(b"--") || bytes.get(i) == Some(&b'#') {
            Some(
                text.get(i..)
                    .and_then(|rest| rest.find('\n'))
                    .map_or(size, |found| i + found),
            )
        } else {
            None
        };
        match end {
            Some(end) => {
                out.push_str(text.get(copied..i).unwrap_or_default());
                out.push(' ');
                i = end;
                copied = end;
            }
            None => i += 1,
        }
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    Cow::Owned(out)
}

/// C comments removed outright: `SEL/**/ECT` reads `SELECT`.
fn replace_comments(text: &str) -> Cow<'_, str> {
    if !text.contains("/*") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        let Some(close) = rest.get(start + 2..).and_then(|after| after.find("*/")) else {
            break;
        };
        out.push_str(rest.get(..start).unwrap_or_default());
        rest = rest.get(start + 2 + close + 2..).unwrap_or_default();
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// ModSecurity's `cmdLine`: drop `\ ' " ^`, spaces around `,` `;` `/`, fold spaces, lower case.
fn cmd_line(text: &str) -> String {
    let lowered: String = lowercase(text)
        .chars()
        .filter(|c| !matches!(c, '\\' | '\'' | '"' | '^'))
        .collect();
    let separated = if lowered.contains([';', ',', '/']) {
        around_separators(&lowered)
    } else {
        lowered
    };
    spaces(&separated, Some(' ')).into_owned()
}

fn around_separators(text: &str) -> String {
    let horizontal = |c: char| c != '\n' && is_space(c);
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if horizontal(c) || matches!(c, ',' | ';' | '/') {
            let mut j = i;
            while chars.get(j).is_some_and(|&c| horizontal(c)) {
                j += 1;
            }
            if let Some(&sep @ (',' | ';' | '/')) = chars.get(j) {
                out.push(sep);
                j += 1;
                while chars.get(j).is_some_and(|&c| horizontal(c)) {
                    j += 1;
                }
                i = j;
                continue;
            }
            for &kept in chars.get(i..j).unwrap_or_default() {
                out.push(kept);
            }
            i = j;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Backslashes and the slashes of other scripts as slashes, repeated slashes folded, `./`
/// segments dropped.
fn normalize_path(text: &str) -> Cow<'_, str> {
    let slash_like = |c: char| match c {
        '\u{2215}' | '\u{2044}' | '\u{29f8}' | '\u{ff0f}' => Some('/'),
        '\u{2216}' | '\u{29f9}' | '\u{ff3c}' | '\u{fe68}' => Some('\\'),
        _ => None,
    };
    let needs = text.contains(['\\', '/']) || !text.is_ascii();
    if !needs {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut in_slashes = false;
    for c in text.chars() {
        let c = slash_like(c).unwrap_or(c);
        if c == '/' || c == '\\' {
            if !in_slashes {
                out.push('/');
            }
            in_slashes = true;
        } else {
            in_slashes = false;
            out.push(c);
        }
    }
    if out.contains("/./") {
        out = out.replace("/./", "/");
    }
    if out == text {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(out)
    }
}

/// Overlong and odd UTF-8 encodings of `.` and `/` that old servers decode (`%c0%ae`).
pub fn utf8_overlong(text: &str) -> Cow<'_, str> {
    const FORMS: [(&[u8], char); 5] = [
        (b"%c0%ae", '.'),
        (b"%c0%af", '/'),
        (b"%c1%9c", '\\'),
        (b"%e0%80%ae", '.'),
        (b"%c0%2e", '.'),
    ];
    let bytes = text.as_bytes();
    let has = |needle: &[u8]| bytes.windows(3).any(|w| w.eq_ignore_ascii_case(needle));
    if !has(b"%c0") && !has(b"%e0") && !has(b"%c1") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let found = FORMS.iter().find(|(form, _)| {
            bytes
                .get(i..i + form.len())
                .is_some_and(|here| here.eq_ignore_ascii_case(form))
        });
        match found {
            Some((form, c)) => {
                out.push_str(text.get(copied..i).unwrap_or_default());
                out.push(*c);
                i += form.len();
                copied = i;
            }
            None => i += 1,
        }
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    Cow::Owned(out)
}
