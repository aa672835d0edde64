//! The parts of a request rules read, each as a list of values.
//!
//! - `path`: the canonical path and the raw path decoded up to three times (distinct forms
//!   only), without RFC 8615's `/.well-known` folder; `path_raw`: the path as sent;
//! - `query_raw`: the query as sent; `args`: every query argument, form field (urlencoded or
//!   multipart, file names included), JSON member and XML attribute or text as a
//!   `name=value` line, decoded once; any other body as text;
//! - `cookies`: every cookie as a `name=value` line, decoded once;
//! - `user_agent`, `referer`, `headers` (the named headers), `any_header` (every header but
//!   the cookies), `method`.
//!
//! Encoded text (a query, a form body, a `Cookie` header) is read lazily: given a gate, only
//! the fields it finds something in are split and decoded.

use std::borrow::Cow;

use regex::Regex;

use super::gate::Gate;
use super::json::json_lines;
use super::text::{lossy, percent_decode, strip, strip_bytes, unquote};

/// The parts of a request a rule may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    Path,
    PathRaw,
    QueryRaw,
    Args,
    Cookies,
    UserAgent,
    Referer,
    Headers,
    AnyHeader,
    Method,
}

impl Target {
    /// Every target with its name, in the rule pack's order.
    pub const ALL: [(&'static str, Target); 10] = [
        ("path", Target::Path),
        ("path_raw", Target::PathRaw),
        ("query_raw", Target::QueryRaw),
        ("args", Target::Args),
        ("cookies", Target::Cookies),
        ("user_agent", Target::UserAgent),
        ("referer", Target::Referer),
        ("headers", Target::Headers),
        ("any_header", Target::AnyHeader),
        ("method", Target::Method),
    ];

    /// The target of a name, `None` for an unknown one.
    pub fn named(name: &str) -> Option<Target> {
        Self::ALL
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, t)| *t)
    }

    /// The target's name in a rule pack.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, t)| *t == self)
            .map_or("", |(name, _)| name)
    }

    /// Targets whose values are `name=value` lines.
    pub fn named_fields(self) -> bool {
        matches!(self, Target::Args | Target::Cookies)
    }

    /// Targets read from headers (a shell reads their `;` and `&` as text).
    pub fn header(self) -> bool {
        matches!(
            self,
            Target::Headers | Target::UserAgent | Target::Referer | Target::AnyHeader
        )
    }

    /// Targets read through the gate of encoded text.
    pub fn gated(self) -> bool {
        matches!(self, Target::QueryRaw | Target::Args | Target::Cookies)
    }
}

const DECODE_ROUNDS: usize = 3;
const JSON_DEPTH: usize = 32;

/// The forms of a path rules read: canonical, as sent, and decoded up to three times.
pub fn path_forms<'a>(path: &'a str, raw_path: &'a str) -> Vec<Cow<'a, str>> {
    let mut forms: Vec<Cow<'a, str>> = vec![Cow::Borrowed(path)];
    let raw = if raw_path.is_empty() { path } else { raw_path };
    if raw != path {
        forms.push(Cow::Borrowed(raw));
    }
    let mut last: Cow<'a, str> = Cow::Borrowed(raw);
    for _ in 0..DECODE_ROUNDS {
        if !last.contains('%') {
            break;
        }
        let decoded = unquote(&last).into_owned();
        if decoded == last.as_ref() {
            break;
        }
        if !forms.iter().any(|form| *form == decoded) {
            forms.push(Cow::Owned(decoded.clone()));
        }
        last = Cow::Owned(decoded);
    }
    if forms.iter().any(|form| names_well_known(form)) {
        forms = forms
            .into_iter()
            .map(|form| without_well_known(&form))
            .map(Cow::Owned)
            .collect();
    }
    forms
}

/// Whether `form`, lower-cased, holds `.well-known`; an ASCII form (nearly every path) is
/// searched in place, any other lower-cased first (a non-ASCII letter may lower-case into
/// ASCII: the Kelvin sign is `k`).
fn names_well_known(form: &str) -> bool {
    const NEEDLE: &[u8] = b".well-known";
    if form.is_ascii() {
        return form
            .as_bytes()
            .windows(NEEDLE.len())
            .any(|window| window.eq_ignore_ascii_case(NEEDLE));
    }
    form.to_lowercase().contains(".well-known")
}

/// `form` without each `/.well-known` segment (followed by `/` or the end).
fn without_well_known(form: &str) -> String {
    const SEGMENT: &[u8] = b"/.well-known";
    let bytes = form.as_bytes();
    let mut out = String::with_capacity(form.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let here = bytes
            .get(i..i + SEGMENT.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(SEGMENT));
        if here && matches!(bytes.get(i + SEGMENT.len()), None | Some(b'/')) {
            out.push_str(form.get(copied..i).unwrap_or_default());
            i += SEGMENT.len();
            copied = i;
            continue;
        }
        i += 1;
    }
    out.push_str(form.get(copied..).unwrap_or_default());
    out
}

/// `name=value` lines of the fields of `data` (a query, a form, a cookie header), decoded; with
/// a gate, only the fields it finds an anchor in.
pub fn fields(data: &[u8], separator: u8, gate: Option<&Gate>, plus: bool) -> Vec<String> {
    let Some(gate) = gate else {
        return data
            .split(|&b| b == separator)
            .filter(|raw| !strip_bytes(raw).is_empty())
            .map(|raw| field(raw, plus))
            .collect();
    };
    let mut out = Vec::new();
    let size = data.len();
    let sweep = gate.sweep(data, Some(separator));
    let mut position = 0;
    while position < size {
        let Some(mut start) = gate.find_swept(data, position, sweep.as_ref()) else {
            break;
        };
        if data.get(start) == Some(&separator) {
            start += 1;
        }
        let before = data.get(..start).unwrap_or_default();
        let begin = before.iter().rposition(|&b| b == separator).map_or(0, |p| p + 1);
        let end = data
            .get(start..)
            .unwrap_or_default()
            .iter()
            .position(|&b| b == separator)
            .map_or(size, |p| start + p);
        let raw = data.get(begin..end).unwrap_or_default();
        if !strip_bytes(raw).is_empty() {
            out.push(field(raw, plus));
        }
        position = end + 1;
    }
    out
}

fn field(raw: &[u8], plus: bool) -> String {
    let raw = strip_bytes(raw);
    let spaced: Cow<'_, [u8]> = if plus && raw.contains(&b'+') {
        Cow::Owned(raw.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect())
    } else {
        Cow::Borrowed(raw)
    };
    lossy(percent_decode(&spaced).into_owned())
}

/// The gates a body is read through.
#[derive(Debug, Clone, Copy, Default)]
pub struct BodyGates<'a> {
    pub query: Option<&'a Gate>,
    pub json: Option<&'a Gate>,
    pub value: Option<&'a Gate>,
}

/// The expressions the body's forms are read with.
#[derive(Debug)]
pub struct BodyPatterns {
    disposition: Regex,
    xml_attribute: Regex,
    xml_text: Regex,
}

impl BodyPatterns {
    pub fn new() -> Result<Self, regex::Error> {
        let word = super::text::WORD_CLASS;
        let space = super::text::SPACE_CLASS;
        Ok(Self {
            disposition: Regex::new(r#"(?i)\b(name|filename)="([^"]*)""#)?,
            xml_attribute: Regex::new(&format!(
                r#"([{word}:.-]+)[{space}]*=[{space}]*(?:"([^"]*)"|'([^']*)')"#
            ))?,
            xml_text: Regex::new(r">([^<]+)<")?,
        })
    }
}

/// The `args` lines of a body: form fields, JSON members, multipart parts, XML values, or the text.
pub fn body_values(
    body: &[u8],
    content_type: &str,
    gates: BodyGates<'_>,
    patterns: &BodyPatterns,
) -> Vec<String> {
    if body.is_empty() {
        return Vec::new();
    }
    let kind = content_type.to_lowercase();
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let head = match body.first() {
        Some(first) if !is_space(first) => Some(*first),
        _ => body.iter().find(|b| !is_space(b)).copied(),
    };
    let structured = matches!(head, Some(b'{' | b'['));
    if kind.contains("x-www-form-urlencoded")
        || (kind.is_empty() && body.contains(&b'=') && !body.contains(&b'<') && !structured)
    {
        return fields(body, b'&', gates.query, true);
    }
    if kind.contains("json") || (kind.is_empty() && structured) {
        if let Some(gate) = gates.json {
            if gate
                .find_swept(body, 0, gate.sweep(body, None).as_ref())
                .is_none()
            {
                return Vec::new();
            }
        }
        let text = lossy(body.to_vec());
        return match json_lines(&text, JSON_DEPTH) {
            Some(lines) => gated(lines, gates.value),
            None => gated(vec![text], gates.value),
        };
    }
    let text = lossy(body.to_vec());
    if kind.contains("multipart/form-data") {
        let values = match boundary(content_type) {
            Some(boundary) => multipart_lines(&text, boundary, patterns),
            None => vec![text],
        };
        return gated(values, gates.value);
    }
    if kind.contains("xml")
        || strip(&text).starts_with('<')
        || text.trim_start_matches(super::text::is_space).starts_with('<')
    {
        let mut values = Vec::new();
        for found in patterns.xml_attribute.captures_iter(&text) {
            let name = found.get(1).map_or("", |m| m.as_str());
            let value = found.get(2).or_else(|| found.get(3)).map_or("", |m| m.as_str());
            values.push(format!("{name}={value}"));
        }
        for found in patterns.xml_text.captures_iter(&text) {
            if let Some(inner) = found.get(1) {
                if !strip(inner.as_str()).is_empty() {
                    values.push(inner.as_str().to_owned());
                }
            }
        }
        values.insert(0, text);
        return gated(values, gates.value);
    }
    if is_binary(&text) {
        return Vec::new();
    }
    gated(vec![text], gates.value)
}

/// Whether a file's or a body's content is binary rather than text: it holds a NUL, or bytes
/// that are not UTF-8 before its last character (the inspection limit may cut one in two).
/// Images, archives and documents are uploaded every day; read as text, their bytes match
/// injection shapes by chance in about half the files.
fn is_binary(text: &str) -> bool {
    text.contains('\0') || text.trim_end_matches('\u{FFFD}').contains('\u{FFFD}')
}

fn gated(values: Vec<String>, gate: Option<&Gate>) -> Vec<String> {
    match gate {
        None => values,
        Some(gate) => values.into_iter().filter(|value| gate.touches(value)).collect(),
    }
}

/// `boundary="?([^";,]+)"?` of a content type, the first place it matches.
fn boundary(content_type: &str) -> Option<&str> {
    const KEY: &[u8] = b"boundary=";
    let bytes = content_type.as_bytes();
    let mut i = 0;
    while i + KEY.len() <= bytes.len() {
        if bytes
            .get(i..i + KEY.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(KEY))
        {
            let mut start = i + KEY.len();
            let stop = |b: &u8| matches!(b, b'"' | b';' | b',');
            if bytes.get(start) == Some(&b'"') && bytes.get(start + 1).is_some_and(|b| !stop(b)) {
                start += 1;
            }
            let length = bytes
                .get(start..)
                .unwrap_or_default()
                .iter()
                .take_while(|b| !stop(b))
                .count();
            if length > 0 {
                return content_type.get(start..start + length);
            }
        }
        i += 1;
    }
    None
}

fn multipart_lines(text: &str, boundary: &str, patterns: &BodyPatterns) -> Vec<String> {
    let mut out = Vec::new();
    let delimiter = format!("--{boundary}");
    for part in text.split(delimiter.as_str()) {
        let split = part.split_once("\r\n\r\n").or_else(|| part.split_once("\n\n"));
        let Some((head, content)) = split else { continue };
        let mut name = "";
        let mut filename = None;
        for found in patterns.disposition.captures_iter(head) {
            let key = found.get(1).map_or("", |m| m.as_str()).to_lowercase();
            let value = found.get(2).map_or("", |m| m.as_str());
            if key == "name" {
                name = value;
            } else {
                filename = Some(value);
            }
        }
        let content = content.strip_suffix("\r\n").unwrap_or(content);
        let content = content.strip_suffix('\n').unwrap_or(content);
        if let Some(filename) = filename {
            out.push(format!("{name}.filename={filename}"));
            if is_binary(content) {
                continue;
            }
        }
        out.push(format!("{name}={content}"));
    }
    out
}
