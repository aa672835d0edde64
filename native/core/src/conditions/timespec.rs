//! BFE's debug time: the `X-Bfe-Debug-Time` header's `yyyymmddhhmmssZ` instants.
//!
//! BFE reads the header with Go's `fmt.Sscanf("%14s%s")` and `time.Parse` (`ParseTime`),
//! and so does this, step for step as the Python side does (`stockade.conditions.timespec`,
//! which also validates the time primitives' own arguments when a condition is built):
//! leading white space is skipped, a space may separate the zone, text after the zone is
//! ignored, a newline is an error, the year may carry a sign, days are checked against the
//! month. The zone is a military letter (`Z` is UTC, `A`..`M` without `J` are +1..+12 hours,
//! `N`..`Y` are -1..-12), in any case.

use super::fold::go_chars;
use super::http::is_go_space_char;

const DAY: i64 = 86_400;

/// The instant in epoch seconds, or `None` where BFE's parser refuses the text.
pub fn parse_time(text: &[u8]) -> Option<i64> {
    let chars: Vec<char> = go_chars(text).collect();
    let (stamp, zone) = scan_two(&chars, 14)?;
    let [year, month, day, hour, minute, second] = parse_layout(stamp)?;
    let offset = zone_offset(zone)?;
    let seconds = epoch_days(year, month, day) * DAY + hour * 3600 + minute * 60 + second;
    Some(seconds - offset)
}

/// Go's `fmt.Sscanf(text, "%<width>s%s")`: two words, the first at most `width` long.
fn scan_two(text: &[char], width: usize) -> Option<(&[char], &[char])> {
    let mut pos = 0;
    let mut words: [&[char]; 2] = [&[], &[]];
    for (word, limit) in words.iter_mut().zip([width, text.len()]) {
        while let Some(&code) = text.get(pos) {
            if !is_go_space_char(code) {
                break;
            }
            if code == '\n' {
                return None;
            }
            pos += 1;
        }
        if pos == text.len() {
            return None;
        }
        let start = pos;
        while text
            .get(pos)
            .is_some_and(|&code| pos - start < limit && !is_go_space_char(code))
        {
            pos += 1;
        }
        *word = text.get(start..pos)?;
    }
    let [stamp, zone] = words;
    Some((stamp, zone))
}

fn digit(value: &[char], pos: usize) -> Option<i64> {
    value
        .get(pos)
        .filter(|code| code.is_ascii_digit())
        .and_then(|code| code.to_digit(10))
        .map(i64::from)
}

/// Go's `getnum`: one or two digits (exactly two when `fixed`), and the next position.
fn number(value: &[char], pos: usize, fixed: bool) -> Option<(i64, usize)> {
    let first = digit(value, pos)?;
    match digit(value, pos + 1) {
        Some(second) => Some((first * 10 + second, pos + 2)),
        None if fixed => None,
        None => Some((first, pos + 1)),
    }
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Go's `time.Parse("20060102150405", value)`: year, month, day, hour, minute, second.
fn parse_layout(value: &[char]) -> Option<[i64; 6]> {
    let year_text = value.get(..4)?;
    let (sign, digits) = match year_text.split_first() {
        Some((&'+', rest)) => (1, rest),
        Some((&'-', rest)) => (-1, rest),
        _ => (1, year_text),
    };
    let mut year = 0i64;
    for &code in digits {
        year = year * 10 + i64::from(code.to_digit(10).filter(|_| code.is_ascii_digit())?);
    }
    let mut fields = [sign * year, 0, 0, 0, 0, 0];
    // Month, day (checked against the month below), hour (one or two digits), minute, second.
    let elements = [
        (true, 1, 12),
        (true, 0, 99),
        (false, 0, 23),
        (true, 0, 59),
        (true, 0, 59),
    ];
    let mut pos = 4;
    for (slot, (fixed, low, high)) in fields.iter_mut().skip(1).zip(elements) {
        let (found, next) = number(value, pos, fixed)?;
        if !(low..=high).contains(&found) {
            return None;
        }
        *slot = found;
        pos = next;
    }
    if pos < value.len() {
        return None;
    }
    let [year, month, day, ..] = fields;
    (1..=days_in_month(year, month)).contains(&day).then_some(fields)
}

/// The offset of a military zone letter, in seconds east of UTC.
fn zone_offset(zone: &[char]) -> Option<i64> {
    let [letter] = zone else {
        return None;
    };
    let hours = match letter.to_ascii_uppercase() {
        'Z' => 0,
        code @ 'A'..='I' => i64::from(u32::from(code) - u32::from('A')) + 1,
        code @ 'K'..='M' => i64::from(u32::from(code) - u32::from('K')) + 10,
        code @ 'N'..='Y' => -(i64::from(u32::from(code) - u32::from('N')) + 1),
        _ => return None,
    };
    Some(hours * 3600)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
pub fn epoch_days(year: i64, month: i64, day: i64) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    era * 146_097 + year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants() {
        assert_eq!(parse_time(b"20240101000000Z"), Some(1_704_067_200));
        assert_eq!(parse_time(b"20240101080000H"), Some(1_704_067_200));
        assert_eq!(parse_time(b"  20240101000000 z trailing"), Some(1_704_067_200));
        assert_eq!(parse_time(b"19700101000000N"), Some(3600));
        assert_eq!(parse_time(b"20240229000000Z"), Some(1_709_164_800));
        assert_eq!(parse_time(b"2024010112000Z"), None); // the zone letter is then part of the stamp
        assert_eq!(parse_time(b"20230229000000Z"), None);
        assert_eq!(parse_time(b"20240101000000J"), None);
        assert_eq!(parse_time(b"20240101000000"), None);
        assert_eq!(parse_time(b"\n20240101000000Z"), None);
        assert_eq!(parse_time(b""), None);
        assert_eq!(parse_time("２0240101000000Z".as_bytes()), None);
    }
}
