//! BFE's `ip_blocklist.data`: the addresses whose connections are closed before a byte is read.
//!
//! The format, as BFE's loader (`bfe_util/ipdict/txt_load`) reads it:
//!
//! - Lines end at `\n`; one `\r` before it is dropped, then spaces and tabs around the
//!   line. Empty lines and lines starting with `#` are skipped; there are no trailing
//!   comments. A line of 64 KiB or more is an error (Go's `bufio.Scanner` limit).
//! - Each other line is tried, in this order, as a CIDR (host bits masked), as
//!   `start end` split at the first space (each part trimmed), then at the first tab, and
//!   as one address. A pair must be of one family (IPv4-mapped IPv6 counts as IPv4) with
//!   `start <= end`.
//! - One bad line rejects the whole file.
//! - The first line may be a meta header (see [`header`]); its counts are then capacity
//!   limits, and BFE skips the pass that checks every line's format first. Without one, a
//!   bad line anywhere wins over an earlier range that BFE refuses.
//!
//! The Python parser (`stockade.rules.ip_blocklist`) reads the same format with the same
//! messages; the differential tests keep the two equal.

pub mod error;
pub mod header;

pub use error::{BlocklistError, Counted, ErrorKind, Problem, SCAN_LIMIT};
pub use header::{Header, read_header};

use crate::addr::{Addr, MAPPED_START, mapped_v4, parse_address, parse_v4, parse_v6};
use crate::ipset::{IpSet, IpSetBuilder};

/// A loaded blocklist: the set, and what the file said of itself.
#[derive(Debug, Clone)]
pub struct Blocklist {
    pub set: IpSet,
    /// The meta header's version, empty without one.
    pub version: String,
    /// Entries of one address (a single, a pair or CIDR of one address) and of more.
    pub singles: u64,
    pub pairs: u64,
}

/// Parse a blocklist file's content; `file` names it in the errors.
pub fn parse_blocklist(raw: &[u8], file: &[u8]) -> Result<Blocklist, BlocklistError> {
    let header = read_header(raw);
    let mut loader = Loader {
        file,
        max_singles: header.as_ref().map_or(-1, |h| h.singles),
        max_pairs: header.as_ref().map_or(-1, |h| h.pairs),
        with_header: header.is_some(),
        builder: IpSetBuilder::new(),
        singles: 0,
        pairs: 0,
        pending: None,
    };
    loader.run(raw)?;
    Ok(Blocklist {
        set: loader.builder.build(),
        version: header.map(|h| h.version).unwrap_or_default(),
        singles: loader.singles,
        pairs: loader.pairs,
    })
}

struct Loader<'a> {
    file: &'a [u8],
    max_singles: i64,
    max_pairs: i64,
    with_header: bool,
    builder: IpSetBuilder,
    singles: u64,
    pairs: u64,
    /// Without a header, the first range BFE refuses waits until every line is read.
    pending: Option<BlocklistError>,
}

/// What one line holds.
enum Entry {
    Range { start: u128, end: u128 },
    Refused(Problem),
}

impl Loader<'_> {
    fn run(&mut self, raw: &[u8]) -> Result<(), BlocklistError> {
        let mut number = 0u64;
        let mut rest = raw;
        while !rest.is_empty() {
            let (line, after) = match memchr::memchr(b'\n', rest) {
                Some(end) => (
                    rest.get(..end).unwrap_or_default(),
                    rest.get(end + 1..).unwrap_or_default(),
                ),
                None => (rest, &[][..]),
            };
            rest = after;
            number += 1;
            if line.len() >= SCAN_LIMIT {
                return Err(self.error(number, None, ErrorKind::TooLong));
            }
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let line = line.trim_blanks();
            if line.is_empty() || line.starts_with(b"#") {
                continue;
            }
            if line.iter().any(|&b| matches!(b, b'/' | b' ' | b'\t')) {
                self.entry(number, line)?;
                continue;
            }
            // The common case, one address.
            let Some(value) = parse_address(line) else {
                return Err(self.error(number, Some(line), ErrorKind::BadLine));
            };
            self.builder.add_address(Addr::from_u128(value));
            self.singles += 1;
            self.check_limits(number, line)?;
        }
        match self.pending.take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// A CIDR or `start end` line.
    fn entry(&mut self, number: u64, line: &[u8]) -> Result<(), BlocklistError> {
        let Some(entry) = parse_entry(line) else {
            return Err(self.error(number, Some(line), ErrorKind::BadLine));
        };
        if self.pending.is_some() {
            return Ok(());
        }
        match entry {
            Entry::Refused(problem) => {
                let error = self.error(number, Some(line), ErrorKind::Refused(problem));
                if self.with_header {
                    return Err(error);
                }
                self.pending = Some(error);
                Ok(())
            }
            Entry::Range { start, end } => {
                if start == end {
                    self.singles += 1;
                } else {
                    self.pairs += 1;
                }
                if self.builder.add(start, end).is_err() {
                    let kind = ErrorKind::Refused(Problem::Backwards { start, end });
                    return Err(self.error(number, Some(line), kind));
                }
                self.check_limits(number, line)
            }
        }
    }

    fn check_limits(&self, number: u64, line: &[u8]) -> Result<(), BlocklistError> {
        let exceeded = |count: u64, limit: i64| limit >= 0 && count > limit.unsigned_abs();
        if exceeded(self.singles, self.max_singles) {
            let kind = ErrorKind::Exceeded {
                what: Counted::Singles,
                limit: self.max_singles,
            };
            return Err(self.error(number, Some(line), kind));
        }
        if exceeded(self.pairs, self.max_pairs) {
            let kind = ErrorKind::Exceeded {
                what: Counted::Pairs,
                limit: self.max_pairs,
            };
            return Err(self.error(number, Some(line), kind));
        }
        Ok(())
    }

    fn error(&self, line: u64, text: Option<&[u8]>, kind: ErrorKind) -> BlocklistError {
        BlocklistError {
            file: self.file.to_vec(),
            line,
            text: text.map(<[u8]>::to_vec),
            kind,
            with_header: self.with_header,
        }
    }
}

/// Spaces and tabs around a line or a part of one.
trait TrimBlanks {
    fn trim_blanks(&self) -> &Self;
}

impl TrimBlanks for [u8] {
    fn trim_blanks(&self) -> &[u8] {
        let start = self
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t'))
            .unwrap_or(self.len());
        let end = self
            .iter()
            .rposition(|b| !matches!(b, b' ' | b'\t'))
            .map_or(start, |at| at + 1);
        self.get(start..end).unwrap_or_default()
    }
}

/// A CIDR or `start end` line as BFE's `checkLine` tries it; `None` if it is neither.
fn parse_entry(line: &[u8]) -> Option<Entry> {
    if let Some(slash) = memchr::memchr(b'/', line) {
        if let Some(cidr) = parse_cidr(line.get(..slash)?, line.get(slash + 1..)?) {
            return Some(cidr);
        }
    }
    if let Some(space) = memchr::memchr(b' ', line) {
        if let Some(pair) = parse_pair(line.get(..space)?, line.get(space + 1..)?) {
            return Some(pair);
        }
    } else if let Some(single) = parse_address(line) {
        return Some(Entry::Range {
            start: single,
            end: single,
        });
    }
    let tab = memchr::memchr(b'\t', line)?;
    parse_pair(line.get(..tab)?, line.get(tab + 1..)?)
}

fn parse_pair(first: &[u8], second: &[u8]) -> Option<Entry> {
    let start = parse_address(first.trim_blanks())?;
    let end = parse_address(second.trim_blanks())?;
    if mapped_v4(start).is_some() != mapped_v4(end).is_some() {
        return Some(Entry::Refused(Problem::Mixed));
    }
    if start > end {
        return Some(Entry::Refused(Problem::Backwards { start, end }));
    }
    Some(Entry::Range { start, end })
}

/// A CIDR as Go's `net.ParseCIDR` reads it: an address without a zone, a decimal prefix length.
fn parse_cidr(address: &[u8], length: &[u8]) -> Option<Entry> {
    if length.is_empty() || !length.iter().all(u8::is_ascii_digit) || address.contains(&b'%') {
        return None;
    }
    // Leading zeros are fine (Go's dtoi); anything past 128 is too long anyway.
    let bits = length.iter().try_fold(0u32, |n, d| {
        let n = n * 10 + u32::from(d - b'0');
        (n <= 128).then_some(n)
    });
    let bits = bits?;
    if address.contains(&b':') {
        let value = parse_v6(address)?;
        let host = u128::MAX.checked_shr(bits).unwrap_or(0);
        let (start, end) = (value & !host, value | host);
        if end >= 1 << 120 {
            return Some(Entry::Range { start, end });
        }
        // BFE's last address is big.Int.Bytes(): leading zero bytes are gone, and a short IP fails.
        let size = 16 - end.leading_zeros() / 8;
        let problem = if size == 4 {
            Problem::Mixed
        } else {
            Problem::ShortEnd { end }
        };
        return Some(Entry::Refused(problem));
    }
    if bits > 32 {
        return None;
    }
    let value = parse_v4(address)?;
    let host = u32::MAX.checked_shr(bits).unwrap_or(0);
    let (start, end) = (value & !host, value | host);
    Some(Entry::Range {
        start: MAPPED_START | u128::from(start),
        end: MAPPED_START | u128::from(end),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Blocklist {
        parse_blocklist(text.as_bytes(), b"bl.data").unwrap()
    }

    fn rejects(text: &[u8]) -> BlocklistError {
        parse_blocklist(text, b"bl.data").unwrap_err()
    }

    fn has(list: &Blocklist, address: &str) -> bool {
        list.set
            .contains(Addr::from_u128(parse_address(address.as_bytes()).unwrap()))
    }

    fn message(error: &BlocklistError) -> String {
        String::from_utf8(error.message()).unwrap()
    }

    #[test]
    fn lines_are_trimmed_and_comments_skipped() {
        let list = parse(" \t10.0.0.1 \t\r\n\n# comment\n   # indented comment\n\r\n10.0.0.2");
        assert!(has(&list, "10.0.0.1"));
        assert!(has(&list, "10.0.0.2"));
        assert_eq!((list.singles, list.pairs), (2, 0));
    }

    #[test]
    fn cidrs_mask_host_bits() {
        let list = parse("192.168.1.250/20\n2001:db8:1234::1/32\n10.0.0.0/08\n1.2.3.4/32\n");
        assert!(has(&list, "192.168.0.0"));
        assert!(has(&list, "192.168.15.255"));
        assert!(!has(&list, "192.168.16.0"));
        assert!(has(&list, "2001:db8:ffff::1"));
        assert!(has(&list, "10.255.255.255"));
        assert_eq!((list.singles, list.pairs), (1, 3));
        assert!(has(&parse("::/0\n"), "1.2.3.4"));
    }

    #[test]
    fn pairs_split_at_the_first_space_then_the_first_tab() {
        let list =
            parse("10.0.0.1 10.0.0.9\n10.0.1.1\t10.0.1.9\n10.0.2.1   \t 10.0.2.9\n10.0.3.1\t  10.0.3.9\n");
        for prefix in ["10.0.0", "10.0.1", "10.0.2", "10.0.3"] {
            assert!(has(&list, &format!("{prefix}.5")));
            assert!(!has(&list, &format!("{prefix}.10")));
        }
        assert_eq!(list.pairs, 4);
    }

    #[test]
    fn bad_lines_in_bfes_words() {
        for line in [
            "1.1.1.1 # no",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/+8",
            "fe80::/10%eth0",
            "01.2.3.4",
            "1.2.3.4\x0b",
            "1.2.3.4/24 1.2.3.9",
        ] {
            let error = rejects(format!("10.0.0.1\n{line}\n").as_bytes());
            assert_eq!(error.line, 2);
            assert_eq!(error.text.as_deref(), Some(line.as_bytes()));
            assert_eq!(
                message(&error),
                format!(
                    "loadFile(): bl.data checkLine(): line[{line}] err[checkLine(): err, checkSplit(): line {line} format err]"
                )
            );
            assert_eq!(
                error.to_string(),
                format!("bl.data:2: not an IP address, a CIDR or a 'start end' range: {line:?}")
            );
        }
        let error = rejects(b"# {\"version\": \"1\", \"singleIPNum\": 9, \"pairIPNum\": 9}\nbad\n");
        assert_eq!(
            message(&error),
            "loadFile(): err, checkLine(): err, checkSplit(): line bad format err"
        );
    }

    #[test]
    fn refused_ranges() {
        let error = rejects(b"1.1.1.5 1.1.1.1\n");
        assert_eq!(
            message(&error),
            "loadFile(): err, InsertPair failed: startIPStr 1.1.1.5 > endIPStr 1.1.1.1"
        );
        assert_eq!(
            error.reason(),
            "the range starts after it ends (1.1.1.5 > 1.1.1.1)"
        );
        let error = rejects(b"1.1.1.1 2001:db8::1\n");
        assert_eq!(
            message(&error),
            "loadFile(): err, InsertPair failed: startIP and endIP should both be ipv4 or non-ipv4"
        );
        for (cidr, shown) in [
            ("::1/128", "invalid endIP: ?01"),
            ("::/128", "invalid endIP: <nil>"),
            ("::ffff:10.0.0.0/104", "invalid endIP: ?ffff0affffff"),
            ("::/8", "invalid endIP: ?ffffffffffffffffffffffffffffff"),
            (
                "::1.0.0.0/104",
                "startIP and endIP should both be ipv4 or non-ipv4",
            ),
        ] {
            let error = rejects(format!("{cidr}\n").as_bytes());
            assert_eq!(
                message(&error),
                format!("loadFile(): err, InsertPair failed: {shown}"),
                "{cidr}"
            );
        }
    }

    #[test]
    fn a_bad_line_anywhere_wins_without_a_header_and_the_first_problem_with_one() {
        let error = rejects(b"1.1.1.5 1.1.1.1\ngarbage\n");
        assert_eq!((error.line, error.kind.clone()), (2, ErrorKind::BadLine));
        let error = rejects(
            b"# {\"version\": \"1\", \"singleIPNum\": 9, \"pairIPNum\": 9}\n1.1.1.5 1.1.1.1\ngarbage\n",
        );
        assert_eq!(error.line, 2);
        assert!(matches!(error.kind, ErrorKind::Refused(_)));
    }

    #[test]
    fn long_lines() {
        let mut ok = b"#".to_vec();
        ok.extend(std::iter::repeat_n(b'x', 65534));
        ok.extend_from_slice(b"\n1.2.3.4\n");
        assert!(has(&parse_blocklist(&ok, b"f").unwrap(), "1.2.3.4"));
        let mut long = b"#".to_vec();
        long.extend(std::iter::repeat_n(b'x', 65535));
        let error = rejects(&long);
        assert_eq!(
            message(&error),
            "loadFile(): bl.data scan file: err, bufio.Scanner: token too long"
        );
        assert_eq!(error.text, None);
    }

    #[test]
    fn header_counts_are_limits() {
        let ok = "# {\"version\": \"1\", \"singleIPNum\": 2, \"pairIPNum\": 1}\n1.1.1.1\n2.2.2.2/32\n3.3.3.1 3.3.3.9\n";
        let list = parse(ok);
        assert_eq!((list.set.len(), list.version.as_str()), (3, "1"));
        let error =
            rejects(b"# {\"version\": \"1\", \"singleIPNum\": 1, \"pairIPNum\": 5}\n1.1.1.1\n1.1.1.1\n");
        assert_eq!(message(&error), "Max line exceed");
        assert_eq!(error.line, 3);
        assert_eq!(
            error.to_string(),
            "bl.data:3: more single addresses than the meta header declares (1): \"1.1.1.1\""
        );
    }

    #[test]
    fn bytes_that_are_not_utf8() {
        assert!(has(
            &parse_blocklist(b"# caf\xe9\n1.2.3.4\n", b"f").unwrap(),
            "1.2.3.4"
        ));
        assert_eq!(rejects(b"1.2.3.\xe9\n").text, Some(b"1.2.3.\xe9".to_vec()));
        assert_eq!(rejects(b"\xef\xbb\xbf1.2.3.4\n").line, 1);
    }
}
