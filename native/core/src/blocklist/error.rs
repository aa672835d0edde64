//! Why BFE rejects a blocklist file, in BFE's words and in a person's.
//!
//! A file name and a line are bytes here: a line need not be UTF-8, and the Python side
//! decodes both with `surrogateescape`, so that its messages are those of the Python
//! parser to the byte.

use std::fmt;

use crate::addr::go_ip;

/// Go's `bufio.MaxScanTokenSize`: a line (with its `\r`) must be shorter.
pub const SCAN_LIMIT: usize = 64 * 1024;

/// A rejected blocklist file: the file, the line (1-based) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlocklistError {
    pub file: Vec<u8>,
    pub line: u64,
    /// The offending line, trimmed as BFE trims it (none for a line too long).
    pub text: Option<Vec<u8>>,
    pub kind: ErrorKind,
    /// Whether the file had a meta header: BFE words its errors differently then.
    pub with_header: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// Neither an address, a CIDR nor a `start end` pair.
    BadLine,
    /// A line of [`SCAN_LIMIT`] bytes or more.
    TooLong,
    /// More entries of one kind than the meta header declares.
    Exceeded { what: Counted, limit: i64 },
    /// A well-formed entry that BFE's `InsertPair` refuses.
    Refused(Problem),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    Singles,
    Pairs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// One end IPv4 (mapped included), the other not.
    Mixed,
    /// `start > end`.
    Backwards { start: u128, end: u128 },
    /// An IPv6 CIDR whose last address starts with a zero byte: BFE computes it with
    /// `big.Int.Bytes()`, which drops leading zero bytes, and then rejects the short address.
    ShortEnd { end: u128 },
}

impl Problem {
    /// BFE's text after `InsertPair failed: `.
    fn bfe_text(self) -> String {
        match self {
            Problem::Mixed => "startIP and endIP should both be ipv4 or non-ipv4".to_owned(),
            Problem::Backwards { start, end } => {
                format!("startIPStr {} > endIPStr {}", go_ip(start), go_ip(end))
            }
            Problem::ShortEnd { end } => {
                let bytes = end.to_be_bytes();
                let significant = bytes
                    .iter()
                    .position(|&b| b != 0)
                    .map_or(&[][..], |at| bytes.get(at..).unwrap_or_default());
                if significant.is_empty() {
                    "invalid endIP: <nil>".to_owned()
                } else {
                    let hex: String = significant.iter().map(|b| format!("{b:02x}")).collect();
                    format!("invalid endIP: ?{hex}")
                }
            }
        }
    }

    fn reason(self) -> String {
        match self {
            Problem::Mixed => "start and end are not of one family".to_owned(),
            Problem::Backwards { start, end } => {
                format!(
                    "the range starts after it ends ({} > {})",
                    go_ip(start),
                    go_ip(end)
                )
            }
            Problem::ShortEnd { .. } => {
                "BFE cannot load an IPv6 CIDR whose last address starts with 00".to_owned()
            }
        }
    }
}

impl BlocklistError {
    /// BFE's chain of messages (the reload API adds `load dict: ` before it).
    pub fn message(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match &self.kind {
            ErrorKind::BadLine => {
                let text = self.text.as_deref().unwrap_or_default();
                let mut split = b"checkSplit(): line ".to_vec();
                split.extend_from_slice(text);
                split.extend_from_slice(b" format err");
                if self.with_header {
                    out.extend_from_slice(b"loadFile(): err, checkLine(): err, ");
                    out.extend_from_slice(&split);
                } else {
                    out.extend_from_slice(b"loadFile(): ");
                    out.extend_from_slice(&self.file);
                    out.extend_from_slice(b" checkLine(): line[");
                    out.extend_from_slice(text);
                    out.extend_from_slice(b"] err[checkLine(): err, ");
                    out.extend_from_slice(&split);
                    out.push(b']');
                }
            }
            ErrorKind::TooLong => {
                if self.with_header {
                    out.extend_from_slice(b"loadFile(): err, ");
                } else {
                    out.extend_from_slice(b"loadFile(): ");
                    out.extend_from_slice(&self.file);
                    out.extend_from_slice(b" scan file: err, ");
                }
                out.extend_from_slice(b"bufio.Scanner: token too long");
            }
            ErrorKind::Exceeded { .. } => out.extend_from_slice(b"Max line exceed"),
            ErrorKind::Refused(problem) => {
                out.extend_from_slice(b"loadFile(): err, InsertPair failed: ");
                out.extend_from_slice(problem.bfe_text().as_bytes());
            }
        }
        out
    }

    /// What is wrong, for a person.
    pub fn reason(&self) -> String {
        match &self.kind {
            ErrorKind::BadLine => "not an IP address, a CIDR or a 'start end' range".to_owned(),
            ErrorKind::TooLong => format!("line of {SCAN_LIMIT} bytes or more"),
            ErrorKind::Exceeded { what, limit } => {
                let what = match what {
                    Counted::Singles => "single addresses",
                    Counted::Pairs => "ranges",
                };
                format!("more {what} than the meta header declares ({limit})")
            }
            ErrorKind::Refused(problem) => problem.reason(),
        }
    }
}

impl fmt::Display for BlocklistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}",
            String::from_utf8_lossy(&self.file),
            self.line,
            self.reason()
        )?;
        if let Some(text) = &self.text {
            write!(f, ": {:?}", String::from_utf8_lossy(text))?;
        }
        Ok(())
    }
}

impl std::error::Error for BlocklistError {}
