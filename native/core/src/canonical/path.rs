//! The canonical request path: the escaped `target` the backend receives and the decoded
//! `path` the checks read.
//!
//! The algorithm (RFC 3986 section 6.2.2, as Envoy's `normalize_path` and nginx apply it):
//!
//! 1. Escapes of unreserved characters (`A-Z a-z 0-9 - . _ ~`) are decoded, once; every
//!    other escape stays, its hex digits upper-cased. A `%` that starts no escape becomes
//!    `%25`; bytes that may not appear raw in a path are escaped. A raw backslash or a
//!    control character (raw or escaped) is refused; the refusal names a dot segment
//!    beside it (`..\`, `....\`, `%252e%252e\`, `..%2f`, `../x%00`: a traversal), a Windows
//!    drive behind a backslash (`/C:\boot.ini`) or a null byte (hostile reasons).
//! 2. Segments are split at `/`. An escaped slash or backslash (`%2F`, `%5C`) is refused,
//!    since backends disagree on whether it separates segments, unless the policy keeps
//!    it ([`EscapedSlashes::Keep`]): then it is forwarded escaped, and refused only where
//!    a backend that splits at it would find a dot segment.
//! 3. Dot segments are removed (RFC 3986 section 5.2.4); a `..` above the root is refused
//!    rather than dropped, and so is a dot segment with parameters (`..;x`, which Java
//!    servers read as `..`). Empty segments are merged unless the policy keeps them.
//! 4. The decoded path is the target with every escape decoded; it must be UTF-8 (so the
//!    overlong `%c0%ae` is refused). The refusal is hostile when the bytes, their overlong
//!    encodings of ASCII read as ASCII, hide dot segments (`%c0%ae%c0%ae%c0%af`): two of
//!    them, or one in bytes that are not EUC-JP either (EUC-JP text spells `%c0%ae`).
//!
//! Step 1 runs over the whole path before step 3 looks at any segment, so the first
//! refusal is the one a reader from left to right meets first in each step. Decoding the
//! target once more forms nothing new: every escaped dot was decoded before dot segments
//! were removed, and every escape that could form a separator is refused.

use std::borrow::Cow;

use super::BadRequest;

/// What an escaped slash or backslash gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EscapedSlashes {
    /// Refused (400): the default.
    #[default]
    Reject,
    /// Forwarded escaped (`%2F`, `%5C`), refused only where it would hide a dot segment.
    Keep,
}

/// The operator's choices for what has no single reading (the `[server]` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathPolicy {
    pub merge_slashes: bool,
    pub escaped_slashes: EscapedSlashes,
}

impl Default for PathPolicy {
    fn default() -> Self {
        Self {
            merge_slashes: true,
            escaped_slashes: EscapedSlashes::Reject,
        }
    }
}

/// `target` is what the backend receives (escaped); `path` what the checks read (decoded).
///
/// Both borrow the raw path when it is already canonical, the usual case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalPath<'a> {
    pub target: Cow<'a, [u8]>,
    pub path: Cow<'a, str>,
}

impl CanonicalPath<'_> {
    pub fn into_owned(self) -> CanonicalPath<'static> {
        CanonicalPath {
            target: Cow::Owned(self.target.into_owned()),
            path: Cow::Owned(self.path.into_owned()),
        }
    }
}

const UNRESERVED: u8 = 1;
/// A `pchar` of RFC 3986 other than `%`: unreserved, sub-delims, `:` and `@`.
const RAW_OK: u8 = 2;
/// A byte of a path that needs no change at all: `RAW_OK` or `/`.
const PLAIN: u8 = 4;

#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an index out of range fails the build"
)]
const CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0usize;
    while byte < 256 {
        let b = byte as u8;
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        let raw_ok = unreserved
            || matches!(
                b,
                b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' | b':' | b'@'
            );
        table[byte] = (if unreserved { UNRESERVED } else { 0 })
            | (if raw_ok { RAW_OK | PLAIN } else { 0 })
            | (if b == b'/' { PLAIN } else { 0 });
        byte += 1;
    }
    table
};

fn is(byte: u8, class: u8) -> bool {
    CLASSES
        .get(usize::from(byte))
        .is_some_and(|found| found & class != 0)
}

fn is_control(byte: u8) -> bool {
    byte < 0x20 || byte == 0x7F
}

const HEX_DIGITS: &[u8; 16] = b"0123456789ABCDEF";

fn push_escaped(out: &mut Vec<u8>, byte: u8) {
    out.push(b'%');
    out.extend(
        [byte >> 4, byte & 0xF]
            .iter()
            .filter_map(|&nibble| HEX_DIGITS.get(usize::from(nibble))),
    );
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// The canonical form of a raw request path (the target without its query); `*` (the
/// target of `OPTIONS *`) is its own canonical form.
pub fn canonical_path(raw: &[u8], policy: PathPolicy) -> Result<CanonicalPath<'_>, BadRequest> {
    if raw == b"*" {
        return Ok(CanonicalPath {
            target: Cow::Borrowed(raw),
            path: Cow::Borrowed("*"),
        });
    }
    if raw.first() != Some(&b'/') {
        return Err(BadRequest::PathNotRooted);
    }
    if is_plain(raw) {
        // Plain bytes are ASCII: the path is the target.
        if let Ok(text) = std::str::from_utf8(raw) {
            return Ok(CanonicalPath {
                target: Cow::Borrowed(raw),
                path: Cow::Borrowed(text),
            });
        }
    }
    let escaped = escape(raw, policy)?;
    let target = remove_dots(&escaped, policy)?;
    let path = decode(&target)?;
    Ok(CanonicalPath {
        target: Cow::Owned(target),
        path: Cow::Owned(path),
    })
}

/// The usual path: only plain bytes, no empty segment and no segment starting with a dot.
fn is_plain(raw: &[u8]) -> bool {
    let mut previous = 0u8;
    for &byte in raw {
        if !is(byte, PLAIN) || (previous == b'/' && matches!(byte, b'/' | b'.')) {
            return false;
        }
        previous = byte;
    }
    true
}

/// Step 1 over the whole path (the leading `/` dropped; `/` stays the separator).
fn escape(raw: &[u8], policy: PathPolicy) -> Result<Vec<u8>, BadRequest> {
    let rest = raw.get(1..).unwrap_or_default();
    let mut out = Vec::with_capacity(rest.len() + 8);
    let mut at = 0usize;
    while let Some(&byte) = rest.get(at) {
        at += 1;
        if byte == b'%' {
            let pair = rest
                .get(at)
                .copied()
                .and_then(hex_value)
                .zip(rest.get(at + 1).copied().and_then(hex_value));
            let Some((high, low)) = pair else {
                out.extend_from_slice(b"%25");
                continue;
            };
            at += 2;
            let value = high << 4 | low;
            if is(value, UNRESERVED) {
                out.push(value);
            } else if matches!(value, b'/' | b'\\') {
                if policy.escaped_slashes == EscapedSlashes::Reject {
                    return Err(refusal(raw, BadRequest::EscapedSlash));
                }
                push_escaped(&mut out, value);
            } else if is_control(value) {
                return Err(refusal(raw, control(value)));
            } else {
                push_escaped(&mut out, value);
            }
        } else if byte == b'\\' {
            return Err(refusal(raw, BadRequest::Backslash));
        } else if is_control(byte) {
            return Err(refusal(raw, control(byte)));
        } else if byte == b'/' || is(byte, RAW_OK) {
            out.push(byte);
        } else {
            push_escaped(&mut out, byte);
        }
    }
    Ok(out)
}

/// The refusal of a control character: a null byte has its own (no link holds one; a
/// request that cuts a file name short with it does).
fn control(byte: u8) -> BadRequest {
    if byte == 0 {
        BadRequest::NullByte
    } else {
        BadRequest::ControlCharacter
    }
}

/// Why a path step 1 refuses is refused: `reason`, or a hostile reason when the path, its
/// escapes decoded once and split at slashes and backslashes, holds a piece of dots
/// (`/..\\..\\win.ini`, `/....\\`, `/%2e%2e%2f`, `/../etc/passwd%00`; also once decoded
/// further, `/%252e%252e\\`): a backend that decodes or splits further would climb, and no
/// browser sends a dot segment (it removes them first); or a Windows drive behind a
/// backslash (`/C:\\boot.ini`).
fn refusal(raw: &[u8], reason: BadRequest) -> BadRequest {
    if hides_dot_segment(raw, true) || hides_encoded_dots(&unescape(raw)) {
        BadRequest::HiddenDotSegment
    } else if names_drive(raw) {
        BadRequest::WindowsDrive
    } else {
        reason
    }
}

/// Whether a path holds a piece of two dots or more (before any `;` parameters) once split
/// at `/` and `\\`, its escapes decoded once first when `escaped`.
fn hides_dot_segment(path: &[u8], escaped: bool) -> bool {
    let mut piece: Vec<u8> = Vec::with_capacity(8);
    let mut at = 0usize;
    while at <= path.len() {
        let mut byte = path.get(at).copied();
        at += 1;
        if escaped && byte == Some(b'%') {
            let pair = path
                .get(at)
                .copied()
                .and_then(hex_value)
                .zip(path.get(at + 1).copied().and_then(hex_value));
            if let Some((high, low)) = pair {
                byte = Some(high << 4 | low);
                at += 2;
            }
        }
        match byte {
            None | Some(b'/' | b'\\') => {
                if is_dot_run(before_parameters(&piece)) {
                    return true;
                }
                piece.clear();
            }
            Some(other) => {
                if piece.len() < 8 {
                    piece.push(other);
                }
            }
        }
    }
    false
}

/// `..`, `...`, `....`: what a traversal climbs with (Windows reads a run of dots as `..`).
fn is_dot_run(piece: &[u8]) -> bool {
    piece.len() >= 2 && piece.iter().all(|&b| b == b'.')
}

/// How many pieces of dots `bytes` holds once its overlong encodings of ASCII are read as
/// ASCII and its escapes decoded, twice (`%c0%ae%c0%ae%c1%9c`, `%25c0%25ae`, `%252e`).
fn encoded_dot_runs(bytes: &[u8]) -> usize {
    let read = fold_overlong(&unescape(&fold_overlong(bytes)));
    read.split(|&b| b == b'/' || b == b'\\')
        .filter(|piece| is_dot_run(before_parameters(piece)))
        .count()
}

/// Whether bytes hide a traversal in encodings no honest client writes: two pieces of dots,
/// or one in bytes that EUC-JP text cannot hold either (`%c0%ae` is a character of EUC-JP).
fn hides_encoded_dots(bytes: &[u8]) -> bool {
    match encoded_dot_runs(bytes) {
        0 => false,
        1 => !is_euc_jp(bytes),
        _ => true,
    }
}

/// Overlong UTF-8 encodings of ASCII (`C0 AE`, `E0 80 AF`, `F8 80 80 80 AE`) read as the
/// ASCII byte they spell, and a `C0` or `C1` before an ASCII byte dropped (`C0 2E`: decoders
/// that skip what they cannot read leave the `.`); every other byte stays.
fn fold_overlong(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0usize;
    while let Some(&lead) = bytes.get(at) {
        if matches!(lead, 0xC0 | 0xC1) && bytes.get(at + 1).is_some_and(u8::is_ascii) {
            at += 1;
            continue;
        }
        let (count, mask) = match lead {
            0xC0 | 0xC1 => (1usize, 0x1Fu32),
            0xE0 => (2, 0x0F),
            0xF0 => (3, 0x07),
            0xF8 => (4, 0x03),
            0xFC => (5, 0x01),
            _ => (0, 0),
        };
        let tail = bytes.get(at + 1..at + 1 + count).unwrap_or_default();
        if count > 0 && tail.len() == count && tail.iter().all(|&b| (0x80..=0xBF).contains(&b)) {
            let value = tail.iter().fold(u32::from(lead) & mask, |value, &b| {
                value << 6 | u32::from(b & 0x3F)
            });
            if let Some(ascii) = u8::try_from(value).ok().filter(u8::is_ascii) {
                out.push(ascii);
                at += 1 + count;
                continue;
            }
        }
        out.push(lead);
        at += 1;
    }
    out
}

/// Every well-formed escape of `bytes` decoded; the rest as it stands.
fn unescape(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0usize;
    while let Some(&byte) = bytes.get(at) {
        let pair = if byte == b'%' {
            bytes
                .get(at + 1)
                .copied()
                .and_then(hex_value)
                .zip(bytes.get(at + 2).copied().and_then(hex_value))
        } else {
            None
        };
        match pair {
            Some((high, low)) => {
                out.push(high << 4 | low);
                at += 3;
            }
            None => {
                out.push(byte);
                at += 1;
            }
        }
    }
    out
}

/// Whether bytes read as EUC-JP: ASCII, two bytes of `A1`-`FE`, `8E` and one, `8F` and two.
fn is_euc_jp(bytes: &[u8]) -> bool {
    let high = |b: Option<&u8>| b.is_some_and(|&b| (0xA1..=0xFE).contains(&b));
    let mut at = 0usize;
    while let Some(&byte) = bytes.get(at) {
        let width = match byte {
            0x00..=0x7F => 1,
            0x8E if bytes.get(at + 1).is_some_and(|&b| (0xA1..=0xDF).contains(&b)) => 2,
            0x8F if high(bytes.get(at + 1)) && high(bytes.get(at + 2)) => 3,
            0xA1..=0xFE if high(bytes.get(at + 1)) => 2,
            _ => return false,
        };
        at += width;
    }
    true
}

/// Whether a path, its escapes decoded once, holds a Windows drive (`C:`) as a whole piece
/// right before a backslash: `/static/C:\\boot.ini`.
fn names_drive(raw: &[u8]) -> bool {
    let bytes = unescape(raw);
    let mut start = 0usize;
    for (at, &byte) in bytes.iter().enumerate() {
        let drive = matches!(bytes.get(start..at), Some(&[letter, b':']) if letter.is_ascii_alphabetic());
        if byte == b'\\' && drive {
            return true;
        }
        if byte == b'/' || byte == b'\\' {
            start = at + 1;
        }
    }
    false
}

/// Steps 2 and 3 over escaped segments: the target, built in one buffer.
fn remove_dots(escaped: &[u8], policy: PathPolicy) -> Result<Vec<u8>, BadRequest> {
    let mut target = Vec::with_capacity(escaped.len() + 2);
    // Where each kept segment's `/` stands in `target`, to drop it again for a `..`.
    let mut starts: Vec<usize> = Vec::new();
    let mut trailing = false;
    let mut segments = escaped.split(|&b| b == b'/').peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        match dot_name(segment, policy)? {
            Some(Dots::One) => trailing = last,
            Some(Dots::Two) => {
                let start = starts.pop().ok_or(BadRequest::ClimbsAboveRoot)?;
                target.truncate(start);
                trailing = last;
            }
            None if segment.is_empty() && policy.merge_slashes => trailing = last,
            None => {
                starts.push(target.len());
                target.push(b'/');
                target.extend_from_slice(segment);
                trailing = false;
            }
        }
    }
    if target.is_empty() || trailing {
        target.push(b'/');
    }
    Ok(target)
}

enum Dots {
    One,
    Two,
}

/// Whether an escaped segment is `.` or `..`; refuses the ambiguous spellings of either.
fn dot_name(segment: &[u8], policy: PathPolicy) -> Result<Option<Dots>, BadRequest> {
    let keep = policy.escaped_slashes == EscapedSlashes::Keep;
    if segment.first() != Some(&b'.') && !(keep && segment.contains(&b'%')) {
        return Ok(None);
    }
    match segment {
        b"." => return Ok(Some(Dots::One)),
        b".." => return Ok(Some(Dots::Two)),
        _ => {}
    }
    // `;` starts parameters for Java servers, escaped or not once a framework decoded it.
    if is_dots(before_parameters(segment)) {
        return Err(BadRequest::DotSegmentWithParameters);
    }
    if keep {
        // An escaped slash kept in the target must not hide a dot segment from a backend
        // that splits at it.
        let mut rest = segment;
        loop {
            let (piece, after) = split_escaped_slash(rest);
            if is_dots(before_parameters(piece)) {
                return Err(BadRequest::DotSegmentBetweenEscapedSlashes);
            }
            match after {
                Some(after) => rest = after,
                None => break,
            }
        }
    }
    Ok(None)
}

fn is_dots(piece: &[u8]) -> bool {
    matches!(piece, b"." | b"..")
}

/// The part of an escaped segment before its first `;` or `%3B`. (Every `%` of an escaped
/// segment starts an escape with upper-case digits.)
fn before_parameters(segment: &[u8]) -> &[u8] {
    let end = segment
        .iter()
        .enumerate()
        .position(|(at, &byte)| byte == b';' || segment.get(at..at + 3) == Some(b"%3B"))
        .unwrap_or(segment.len());
    segment.get(..end).unwrap_or(segment)
}

/// An escaped segment split at its first `%2F` or `%5C`: the piece before, and the rest.
fn split_escaped_slash(segment: &[u8]) -> (&[u8], Option<&[u8]>) {
    let found = memchr::memchr_iter(b'%', segment)
        .find(|&at| matches!(segment.get(at + 1..at + 3), Some(b"2F" | b"5C")));
    match found {
        Some(at) => (
            segment.get(..at).unwrap_or_default(),
            Some(segment.get(at + 3..).unwrap_or_default()),
        ),
        None => (segment, None),
    }
}

/// Step 4: every escape of a canonical target decoded (they are all well formed).
fn decode(target: &[u8]) -> Result<String, BadRequest> {
    if !target.contains(&b'%') {
        return String::from_utf8(target.to_vec()).map_err(|err| not_utf8(err.as_bytes()));
    }
    let mut bytes = Vec::with_capacity(target.len());
    let mut at = 0usize;
    while let Some(&byte) = target.get(at) {
        let escaped = if byte == b'%' {
            target
                .get(at + 1)
                .copied()
                .and_then(hex_value)
                .zip(target.get(at + 2).copied().and_then(hex_value))
        } else {
            None
        };
        match escaped {
            Some((high, low)) => {
                bytes.push(high << 4 | low);
                at += 3;
            }
            None => {
                bytes.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8(bytes).map_err(|err| not_utf8(err.as_bytes()))
}

/// The refusal of a decoded path that is not UTF-8: hostile when it hides dot segments.
fn not_utf8(bytes: &[u8]) -> BadRequest {
    if hides_encoded_dots(bytes) {
        BadRequest::OverlongDotSegment
    } else {
        BadRequest::PathNotUtf8
    }
}

/// The canonical form of a path a server has already percent-decoded once (a WSGI
/// server's `PATH_INFO` without a raw target, replay's `path`): it is never decoded again.
/// Each byte is escaped as needed to build a target, so a `%2f` in the given path stays
/// the three characters `%2f` (forwarded as `%252f`). An empty path is `/`.
pub fn canonical_decoded_path(
    decoded: &[u8],
    policy: PathPolicy,
) -> Result<CanonicalPath<'static>, BadRequest> {
    if std::str::from_utf8(decoded).is_err() {
        return Err(BadRequest::PathNotUtf8);
    }
    let mut escaped = Vec::with_capacity(decoded.len() + 8);
    for &byte in decoded {
        if byte == b'/' || is(byte, RAW_OK) {
            escaped.push(byte);
        } else if byte == b'\\' || is_control(byte) {
            return Err(if hides_dot_segment(decoded, false) {
                BadRequest::HiddenDotSegment
            } else if byte == b'\\' {
                BadRequest::Backslash
            } else {
                control(byte)
            });
        } else {
            push_escaped(&mut escaped, byte);
        }
    }
    if escaped.is_empty() {
        escaped.push(b'/');
    }
    canonical_path(&escaped, policy).map(CanonicalPath::into_owned)
}

/// A decoded path escaped as Python's `urllib.parse.quote(path, safe="/:@!$&'()*+,;=~")`
/// escapes it (every byte but `/` and the raw `pchar`s): what an ASGI front reads when its
/// server gives only the decoded `path` (no `raw_path`). Nothing is refused here; the
/// canonical path of the result refuses what needs refusing.
pub fn quote_path(decoded: &[u8]) -> Vec<u8> {
    let mut quoted = Vec::with_capacity(decoded.len() + 8);
    for &byte in decoded {
        if byte == b'/' || is(byte, RAW_OK) {
            quoted.push(byte);
        } else {
            push_escaped(&mut quoted, byte);
        }
    }
    quoted
}

/// The path of a raw request target as a WSGI server keeps it (`RAW_URI`, `REQUEST_URI`):
/// the query and fragment cut off, and the path of an absolute-form target
/// (`http://host/path`, `/` when it has none). A target that is neither is returned as
/// it is, for [`canonical_path`] to refuse.
pub fn path_of_target(target: &[u8]) -> Cow<'_, [u8]> {
    let end = memchr::memchr2(b'?', b'#', target).unwrap_or(target.len());
    let path = target.get(..end).unwrap_or(target);
    if path.first() == Some(&b'/') || path == b"*" {
        return Cow::Borrowed(path);
    }
    absolute_form_path(path)
}

/// The path of a URL as Python's `urlsplit` finds it (a server would have refused what
/// it cannot read): leading controls and spaces and any tab or line break ignored, the
/// scheme (`http:`) and the authority (`//host`) skipped.
fn absolute_form_path(url: &[u8]) -> Cow<'_, [u8]> {
    let start = url.iter().position(|&b| b > b' ').unwrap_or(url.len());
    let mut url = Cow::Borrowed(url.get(start..).unwrap_or_default());
    if url.iter().any(|b| matches!(b, b'\t' | b'\r' | b'\n')) {
        url = Cow::Owned(
            url.iter()
                .copied()
                .filter(|b| !matches!(b, b'\t' | b'\r' | b'\n'))
                .collect(),
        );
    }
    let mut at = 0usize;
    if let Some(colon) = memchr::memchr(b':', &url) {
        let scheme = url.get(..colon).unwrap_or_default();
        let is_scheme = scheme.first().is_some_and(u8::is_ascii_alphabetic)
            && scheme
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if is_scheme {
            at = colon + 1;
        }
    }
    if url.get(at..at + 2) == Some(b"//") {
        at = memchr::memchr(b'/', url.get(at + 2..).unwrap_or_default())
            .map_or(url.len(), |slash| at + 2 + slash);
    }
    let path: Cow<'_, [u8]> = match url {
        Cow::Borrowed(url) => Cow::Borrowed(url.get(at..).unwrap_or_default()),
        Cow::Owned(url) => Cow::Owned(url.get(at..).unwrap_or_default().to_vec()),
    };
    if path.is_empty() {
        Cow::Borrowed(b"/")
    } else {
        path
    }
}

/// Whether a canonical path stays under a WSGI application's mount point (`SCRIPT_NAME`):
/// the mount point itself, or below it.
pub fn under_mount_point(path: &[u8], mount: &[u8]) -> bool {
    if mount.is_empty() || path == mount {
        return true;
    }
    let stem = trim_trailing_slashes(mount);
    path.strip_prefix(stem)
        .is_some_and(|rest| rest.first() == Some(&b'/'))
}

/// A mount point without its trailing slashes: what `PATH_INFO` follows.
pub fn trim_trailing_slashes(mount: &[u8]) -> &[u8] {
    let end = mount.iter().rposition(|&b| b != b'/').map_or(0, |at| at + 1);
    mount.get(..end).unwrap_or_default()
}

#[cfg(test)]
#[path = "path_tests.rs"]
mod tests;
