//! The gate: one linear scan that tells a clean value from one any rule could fire on.
//!
//! Every rule that reads values names its *anchors*: words or characters, one of which any
//! value it fires on holds once decoded. The gate is one expression of every anchor of a
//! target, so a request whose values hold none of them costs one scan. See the Python
//! documentation of `stockade.detection.gate` for the reading of each kind of text: still
//! percent-encoded (a query, a form, a `Cookie` header), a JSON document, a decoded value.

use regex::bytes::{Regex, RegexBuilder};

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
    regex: Regex,
}

impl Gate {
    /// The offset of the first anchor at or after `position`.
    pub fn find(&self, data: &[u8], position: usize) -> Option<usize> {
        self.regex.find_at(data, position).map(|found| found.start())
    }

    /// The expression the gate runs.
    pub fn pattern(&self) -> &str {
        self.regex.as_str()
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
}

/// The gate of `anchors` for text written as `reading` says.
pub fn compile_gate(anchors: &Anchors, reading: Reading<'_>) -> Result<Gate, regex::Error> {
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
    let regex = RegexBuilder::new(&parts.join("|"))
        .case_insensitive(true)
        .size_limit(32 << 20)
        .dfa_size_limit(8 << 20)
        .build()?;
    Ok(Gate { regex })
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
