//! The gate: one linear scan that tells a clean value from one any rule could fire on.
//!
//! Every rule that reads values names its *anchors*: words or characters, one of which any
//! value it fires on holds once decoded. The gate is one expression of every anchor of a
//! target, so a request whose values hold none of them costs one scan. See the Python
//! documentation of `stockade.detection.gate` for the reading of each kind of text: still
//! percent-encoded (a query, a form, a `Cookie` header), a JSON document, a decoded value.

use std::sync::Arc;

use regex_automata::hybrid::dfa::DFA;
use regex_automata::nfa::thompson;
use regex_automata::util::syntax;
use regex_automata::{Input, MatchKind, meta};

use super::sweep::Streams;

/// The anchors of the rules of one target, sorted into characters, sequences and words.
#[derive(Debug, Clone, Default)]
pub struct Anchors {
    chars: Vec<char>,
    sequences: Vec<String>,
    words: Vec<String>,
}

impl Anchors {
    /// Sorts anchors: a word of lower-case letters and `_` only, one character, or a sequence.
    pub fn of<'a>(anchors: impl IntoIterator<Item = &'a str>) -> Self {
        let mut chars = Vec::new();
        let mut sequences = Vec::new();
        let mut words = Vec::new();
        for anchor in anchors {
            let lowered = anchor.to_lowercase();
            if !anchor.is_empty() && anchor.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                words.push(lowered);
            } else if lowered.chars().count() == 1 {
                chars.extend(lowered.chars());
            } else {
                sequences.push(lowered);
            }
        }
        chars.sort_unstable();
        chars.dedup();
        sequences.sort();
        sequences.dedup();
        words.sort();
        words.dedup();
        Self {
            chars,
            sequences,
            words,
        }
    }
}

/// A compiled gate: where, in bytes, the first anchor at or after a position starts.
#[derive(Debug, Clone)]
pub struct Gate {
    pattern: String,
    regex: meta::Regex,
    /// The same expression as a lazy DFA stepped over several regions of a long text at once.
    streams: Option<Arc<Streams>>,
}

/// A text this long or longer is first swept region by region.
const SWEPT_LENGTH: usize = 4096;
/// The regions swept at once: each DFA step waits on the table read of the step before it, so
/// four independent regions keep the core busy where one would leave it waiting.
const REGIONS: usize = 4;
/// How far past its region a sweep reads: longer than any match that can cross a field
/// separator (every alternative of a gate is bounded but `=[^sep=]*=`, which never crosses one).
const OVERLAP: usize = 1024;
/// The longest anchor, in characters, for which [`OVERLAP`] holds (at most four bytes a
/// character: three when percent-encoded, four in UTF-8).
const LONGEST_ANCHOR: usize = 128;

/// Which regions of a long text hold a match start (or may: a region is marked when its sweep,
/// overlapping the next region, saw any match).
#[derive(Debug, Clone, Default)]
pub struct Sweep {
    /// Each region's start and whether a match starts in it or may; the last ends at the text's end.
    regions: Vec<(usize, bool)>,
    size: usize,
}

impl Sweep {
    /// The first marked region ending after `position`: where to search from, where the region
    /// ends, and how far a search may read.
    fn next(&self, position: usize) -> Option<(usize, usize, usize)> {
        for (index, &(start, marked)) in self.regions.iter().enumerate() {
            let end = self.regions.get(index + 1).map_or(self.size, |&(next, _)| next);
            if end <= position || !marked {
                continue;
            }
            let limit = end.saturating_add(OVERLAP).min(self.size);
            return Some((start.max(position), end, limit));
        }
        None
    }
}

impl Gate {
    /// The offset of the first anchor at or after `position`.
    pub fn find(&self, data: &[u8], position: usize) -> Option<usize> {
        if position > data.len() {
            return None;
        }
        self.regex
            .search(&Input::new(data).range(position..))
            .map(|found| found.start())
    }

    /// [`Gate::find`] through a [`Gate::sweep`] of the same `data`: the same offset, reading
    /// only the regions the sweep marked.
    pub fn find_swept(&self, data: &[u8], mut position: usize, sweep: Option<&Sweep>) -> Option<usize> {
        let Some(sweep) = sweep else {
            return self.find(data, position);
        };
        while let Some((from, end, limit)) = sweep.next(position) {
            // A match starting before `end` ends before `limit`; one found later may not be the
            // first (an earlier one may run past `limit`): the next region's search finds it.
            let found = self
                .regex
                .search(&Input::new(data).range(from..limit))
                .map(|found| found.start());
            if let Some(start) = found.filter(|&start| start < end) {
                return Some(start);
            }
            position = end;
        }
        None
    }

    /// The regions of `data` a match may start in, found by sweeping them at once, or `None`
    /// (a short text, a text without separators to cut it at, a DFA cache cleared meanwhile):
    /// then [`Gate::find_swept`] reads the whole text. With a separator, regions start on one.
    pub fn sweep(&self, data: &[u8], separator: Option<u8>) -> Option<Sweep> {
        self.sweep_regions::<REGIONS>(data, separator)
    }

    /// [`Gate::sweep`] over `R` regions.
    fn sweep_regions<const R: usize>(&self, data: &[u8], separator: Option<u8>) -> Option<Sweep> {
        let streams = self.streams.as_ref()?;
        let size = data.len();
        if size < SWEPT_LENGTH {
            return None;
        }
        // Regions of equal windows: every region but the last is read `OVERLAP` bytes further.
        let length = (size - OVERLAP) / R;
        let mut starts: Vec<usize> = vec![0];
        for part in 1..R {
            let target = length * part;
            let cut = match separator {
                Some(separator) => target + memchr::memchr(separator, data.get(target..)?)?,
                None => target,
            };
            if starts.last().is_some_and(|&last| cut > last) {
                starts.push(cut);
            }
        }
        if starts.len() != R {
            return None;
        }
        let mut windows: [&[u8]; R] = [&[]; R];
        for (index, window) in windows.iter_mut().enumerate() {
            let start = starts.get(index).copied()?;
            let end = starts
                .get(index + 1)
                .map_or(size, |&next| next.saturating_add(OVERLAP).min(size));
            *window = data.get(start..end)?;
        }
        let starts: [usize; R] = starts.try_into().ok()?;
        let marks = streams.sweep(data, &starts, windows)?;
        Some(Sweep {
            regions: starts.into_iter().zip(marks).collect(),
            size,
        })
    }

    /// The expression the gate runs.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Whether `text` holds an anchor.
    pub fn touches(&self, text: &str) -> bool {
        self.regex.is_match(text.as_bytes())
    }
}

/// How the text a gate reads is written.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reading<'a> {
    /// Characters that are syntax as they stand (`&=+` in a query).
    pub structural: &'a str,
    /// The text may hold percent escapes.
    pub encoded: bool,
    /// The text is a JSON document.
    pub json: bool,
    /// The character between fields (`&`, `;`), if any.
    pub separator: Option<char>,
    /// Long texts are read (a form, a JSON document): [`Gate::sweep`] is worth its DFA.
    pub sweeps: bool,
}

impl Reading<'static> {
    /// A query string or a urlencoded form.
    pub const QUERY: Self = Self {
        structural: "&=+",
        encoded: true,
        separator: Some('&'),
        json: false,
        sweeps: true,
    };
    /// A `Cookie` header.
    pub const COOKIE: Self = Self {
        structural: ";=",
        encoded: true,
        separator: Some(';'),
        json: false,
        sweeps: false,
    };
    /// A JSON document.
    pub const JSON: Self = Self {
        structural: "\"{}[],:",
        encoded: false,
        separator: None,
        json: true,
        sweeps: true,
    };
}

/// The gate of `anchors` for text written as `reading` says.
pub fn compile_gate(anchors: &Anchors, reading: Reading<'_>) -> Result<Gate, String> {
    let mut parts: Vec<String> = Vec::new();
    let mut class = String::from("[");
    for &c in anchors.chars.iter().filter(|c| !reading.structural.contains(**c)) {
        class_char(&mut class, c);
    }
    class.push_str(r"\x00-\x08\x0A-\x1F\x7F]");
    parts.push(class);
    parts.extend(
        anchors
            .sequences
            .iter()
            .map(|sequence| sequence_pattern(sequence, reading.encoded)),
    );
    if let Some(separator) = reading.separator {
        if anchors.chars.contains(&'=') && reading.structural.contains('=') {
            // A field's second "=" is its value's own: q=1 or 1=1 (clients leave it unencoded).
            let mut sep = String::new();
            class_char(&mut sep, separator);
            parts.push(format!("=[^{sep}=]*="));
        }
    }
    if !anchors.words.is_empty() {
        let mut words: Vec<&String> = anchors.words.iter().collect();
        words.sort_by_key(|word| std::cmp::Reverse(word.chars().count()));
        let alternatives: Vec<String> = words.iter().map(|word| regex::escape(word)).collect();
        parts.push(format!("(?:^|[^a-z])(?:{})(?:[^a-z]|$)", alternatives.join("|")));
    }
    parts.push(r"%u[0-9a-f]{4}|\\|&#|&[a-z]{2,8};|[\x{ff01}-\x{ff5e}]".to_owned());
    if reading.encoded {
        let mut significant: Vec<char> = anchors.chars.clone();
        significant.extend(reading.structural.chars());
        parts.push(format!("%(?:{})", escapes(&significant)));
    } else {
        parts.push("%[0-9a-f]{2}".to_owned());
    }
    if reading.json {
        parts.push(r"[^\t\n\x0C\r :\[,]\{|\{\{|\$\{".to_owned());
    }
    let pattern = parts.join("|");
    // What `regex::bytes::RegexBuilder` builds, case-insensitive: the oracle's RE2 meaning.
    let syntax = syntax::Config::new().case_insensitive(true).utf8(false);
    let regex = meta::Builder::new()
        .configure(
            meta::Config::new()
                .match_kind(MatchKind::LeftmostFirst)
                .utf8_empty(false)
                .nfa_size_limit(Some(32 << 20))
                .hybrid_cache_capacity(8 << 20),
        )
        .syntax(syntax)
        .build(&pattern)
        .map_err(|error| error.to_string())?;
    let bounded = anchors
        .sequences
        .iter()
        .chain(&anchors.words)
        .all(|anchor| anchor.chars().count() <= LONGEST_ANCHOR);
    let streams = if reading.sweeps && bounded {
        let dfa = DFA::builder()
            .syntax(syntax)
            .thompson(thompson::Config::new().utf8(false).nfa_size_limit(Some(32 << 20)))
            .configure(
                DFA::config()
                    .match_kind(MatchKind::LeftmostFirst)
                    .cache_capacity(8 << 20),
            )
            .build(&pattern)
            .map_err(|error| error.to_string())?;
        Some(Arc::new(Streams::new(dfa)))
    } else {
        None
    };
    Ok(Gate {
        pattern,
        regex,
        streams,
    })
}

fn class_char(out: &mut String, c: char) {
    if matches!(c, '[' | ']' | '\\' | '^' | '-' | '&' | '~') {
        out.push('\\');
    }
    out.push(c);
}

/// A sequence anchor, each of its punctuation characters as it stands or percent-encoded.
fn sequence_pattern(sequence: &str, encoded: bool) -> String {
    if !encoded {
        return regex::escape(sequence);
    }
    let mut out = String::new();
    for c in sequence.chars() {
        if c.is_alphanumeric() || !c.is_ascii() {
            out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
        } else {
            out.push_str(&format!(
                "(?:{}|%{:02x})",
                regex::escape(c.encode_utf8(&mut [0; 4])),
                u32::from(c)
            ));
        }
    }
    out
}

/// The percent escapes worth a look: of significant characters, letters, digits, controls, `%`.
fn escapes(significant: &[char]) -> String {
    let mut wanted: Vec<u32> = (0x00..0x20).chain([0x7F, 0x25]).collect();
    wanted.extend(u32::from(b'0')..=u32::from(b'9'));
    wanted.extend(u32::from(b'a')..=u32::from(b'z'));
    wanted.extend(u32::from(b'A')..=u32::from(b'Z'));
    wanted.extend(
        significant
            .iter()
            .map(|&c| u32::from(c))
            .filter(|&code| code < 0x80),
    );
    wanted.retain(|&code| code != 0x20);
    wanted.sort_unstable();
    wanted.dedup();
    let mut alternatives: Vec<String> = Vec::new();
    let mut index = 0;
    while let Some(&code) = wanted.get(index) {
        let high = code >> 4;
        let mut digits = String::new();
        while let Some(&low) = wanted.get(index).filter(|&&c| c >> 4 == high) {
            digits.push_str(&format!("{:x}", low & 0xF));
            index += 1;
        }
        alternatives.push(format!("{high:x}[{digits}]"));
    }
    alternatives.push("c[01]|e0%[89]|f0%8|f[89a-f]|ef%b[cd]".to_owned());
    alternatives.join("|")
}
