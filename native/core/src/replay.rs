//! `stockade replay`'s reading of combined access-log lines and its JSON output, for the
//! native fast path (`stockade.replay`): only what it can read exactly as the Python
//! driver does. Anything else is `None`, and the Python driver reads that line itself (it
//! also gives the errors), so the two never disagree on a line.
//!
//! - [`combined`]: a line as the driver's regular expression reads it, only for lines of
//!   printable ASCII (there Python's `\S` and `\d` are the ASCII classes) that it reads
//!   without backtracking;
//! - [`log_time`]: `10/Oct/2000:13:55:36 -0700` as `strptime("%d/%b/%Y:%H:%M:%S %z")`
//!   reads it, in its strict spelling (two-digit fields, the month as written in logs);
//! - [`trim`]: `str.strip()` of an ASCII line;
//! - [`push_seconds`]: `json.dumps` of a whole number of seconds as a float (strings:
//!   [`crate::json_text`]).

use std::fmt::Write as _;

/// A combined access-log line, as the driver's regular expression reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Combined<'a> {
    pub ip: &'a [u8],
    pub time: &'a [u8],
    pub method: &'a [u8],
    pub target: &'a [u8],
    /// `None` when the line has no protocol (the driver then takes `HTTP/1.0`).
    pub proto: Option<&'a [u8]>,
    pub status: u16,
    pub referer: Option<&'a [u8]>,
    pub agent: Option<&'a [u8]>,
}

/// Whether `line` is printable ASCII only (`' '` to `'~'`).
pub fn printable(line: &[u8]) -> bool {
    line.iter().all(|&b| (0x20..0x7f).contains(&b))
}

/// `line`, read by the driver's regular expression; `None` when it does not match or is
/// not printable ASCII, or when the expression would backtrack into the target (a line
/// without a protocol, say): the driver then reads it itself.
///
/// The reading is the expression's first path: each `\S+` and `[^x]+` takes all it can,
/// and where that path fails this returns `None` rather than backtrack, so whatever it
/// returns is what the expression matches (a test compares the two).
pub fn combined(line: &[u8]) -> Option<Combined<'_>> {
    if !printable(line) {
        return None;
    }
    let mut rest = line;
    let ip = word(&mut rest)?;
    expect(&mut rest, b" ")?;
    word(&mut rest)?;
    expect(&mut rest, b" ")?;
    word(&mut rest)?;
    expect(&mut rest, b" [")?;
    let time = until(&mut rest, b']')?;
    expect(&mut rest, b"] \"")?;
    let method = span(&mut rest, |b| b.is_ascii_uppercase())?;
    expect(&mut rest, b" ")?;
    let target = word(&mut rest)?;
    expect(&mut rest, b" ")?;
    let proto_start = rest;
    expect(&mut rest, b"HTTP/")?;
    let version = span(&mut rest, |b| b.is_ascii_digit() || b == b'.')?;
    let proto = proto_start.get(..5 + version.len())?;
    expect(&mut rest, b"\" ")?;
    let digits = rest.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    rest = rest.get(3..)?;
    expect(&mut rest, b" ")?;
    word(&mut rest)?;
    let status = digits.iter().fold(0u16, |acc, &b| acc * 10 + u16::from(b - b'0'));
    let (referer, agent) = quoted_pair(rest).map_or((None, None), |(r, a)| (Some(r), Some(a)));
    Some(Combined {
        ip,
        time,
        method,
        target,
        proto: Some(proto),
        status,
        referer,
        agent,
    })
}

/// ` "referer" "agent"` at the start of `rest`.
fn quoted_pair(mut rest: &[u8]) -> Option<(&[u8], &[u8])> {
    expect(&mut rest, b" \"")?;
    let referer = until(&mut rest, b'"').unwrap_or_default();
    expect(&mut rest, b"\" \"")?;
    let agent = until(&mut rest, b'"').unwrap_or_default();
    expect(&mut rest, b"\"")?;
    Some((referer, agent))
}

/// `\S+` (of printable ASCII: not a space), all it can take.
fn word<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    span(rest, |b| b != b' ')
}

/// `[^stop]+`, all it can take.
fn until<'a>(rest: &mut &'a [u8], stop: u8) -> Option<&'a [u8]> {
    span(rest, |b| b != stop)
}

fn span<'a>(rest: &mut &'a [u8], keep: impl Fn(u8) -> bool) -> Option<&'a [u8]> {
    let end = rest.iter().position(|&b| !keep(b)).unwrap_or(rest.len());
    if end == 0 {
        return None;
    }
    let (taken, left) = rest.split_at_checked(end)?;
    *rest = left;
    Some(taken)
}

fn expect(rest: &mut &[u8], text: &[u8]) -> Option<()> {
    *rest = rest.strip_prefix(text)?;
    Some(())
}

/// The driver's `_COMBINED`, over bytes with ASCII classes: the oracle of [`combined`]'s
/// tests (see the module docs).
#[cfg(test)]
fn by_regex(line: &[u8]) -> Option<Combined<'_>> {
    use regex::bytes::Regex;
    let pattern = Regex::new(concat!(
        r#"(?-u)^(\S+) \S+ \S+ \[([^\]]+)\] "([A-Z]+) (\S+)(?: (HTTP/[0-9.]+))?" "#,
        r#"([0-9]{3}) \S+(?: "([^"]*)" "([^"]*)")?"#,
    ))
    .ok()?;
    if !printable(line) {
        return None;
    }
    let found = pattern.captures(line)?;
    let group = |n: usize| found.get(n).map(|m| m.as_bytes());
    let status = group(6)?
        .iter()
        .fold(0u16, |acc, &b| acc * 10 + u16::from(b - b'0'));
    Some(Combined {
        ip: group(1)?,
        time: group(2)?,
        method: group(3)?,
        target: group(4)?,
        proto: group(5),
        status,
        referer: group(7),
        agent: group(8),
    })
}

/// Python's `str.strip()` of an ASCII line: the whitespace it strips (`\x1c`-`\x1f` too).
pub fn trim(line: &[u8]) -> &[u8] {
    let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0x1c..=0x1f);
    let start = line.iter().position(|b| !blank(b)).unwrap_or(line.len());
    let end = line.iter().rposition(|b| !blank(b)).map_or(start, |at| at + 1);
    line.get(start..end).unwrap_or_default()
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Seconds since the epoch of a log time `DD/Mon/YYYY:HH:MM:SS +HHMM`, as Python's
/// `datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z").timestamp()` gives it; `None` for
/// any other spelling or an invalid date (the driver then reads the line itself).
pub fn log_time(text: &[u8]) -> Option<i64> {
    let [
        d1,
        d2,
        b'/',
        m1,
        m2,
        m3,
        b'/',
        y1,
        y2,
        y3,
        y4,
        b':',
        h1,
        h2,
        b':',
        n1,
        n2,
        b':',
        s1,
        s2,
        b' ',
        sign,
        zh1,
        zh2,
        zm1,
        zm2,
    ] = *text
    else {
        return None;
    };
    let two = |a: u8, b: u8| -> Option<i64> {
        (a.is_ascii_digit() && b.is_ascii_digit()).then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
    };
    let day = two(d1, d2)?;
    let month = MONTHS.iter().position(|m| **m == [m1, m2, m3])?;
    let year = two(y1, y2)? * 100 + two(y3, y4)?;
    let (hour, minute, second) = (two(h1, h2)?, two(n1, n2)?, two(s1, s2)?);
    let (zone_hours, zone_minutes) = (two(zh1, zh2)?, two(zm1, zm2)?);
    let sign = match sign {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    // Years where Python's datetime raises nothing for any offset.
    if !(2..=9998).contains(&year)
        || hour > 23
        || minute > 59
        || second > 59
        || zone_hours > 23
        || zone_minutes > 59
    {
        return None;
    }
    let month = i64::try_from(month).ok()? + 1;
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let offset = sign * (zone_hours * 3600 + zone_minutes * 60);
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let of_era = year - era * 400;
    let shifted = if month > 2 { month - 3 } else { month + 9 };
    let of_year = (153 * shifted + 2) / 5 + day - 1;
    let of_era_days = of_era * 365 + of_era / 4 - of_era / 100 + of_year;
    era * 146_097 + of_era_days - 719_468
}

/// `json.dumps(float(seconds))` for a whole number of seconds (`1800000000.0`); `false`
/// when Python would spell it otherwise (beyond 10**16, it switches to an exponent).
pub fn push_seconds(out: &mut String, seconds: i64) -> bool {
    if seconds.unsigned_abs() >= 10_000_000_000_000_000 {
        return false;
    }
    // Writing an integer into a String cannot fail.
    let _ = write!(out, "{seconds}.0");
    true
}

#[cfg(test)]
mod tests;
