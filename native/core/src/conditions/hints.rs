//! What every request that satisfies a condition must have: the keys of rule indexes.
//!
//! A primitive contributes a hint when its test implies one: `req_host_in` a set of host
//! keys, `req_path_prefix_in` and `req_path_element_prefix_in` (case-sensitive) path
//! prefixes, `req_method_in` a set of methods, and a regular expression that is an
//! alternation of plain words (`(?i)sqlmap|nikto`, as scanner signatures are) the words
//! one of which an ASCII value must contain. `A && B` must satisfy both, so a kind known on
//! both sides keeps the narrower (sets intersect, the shorter list wins); `A || B` must
//! satisfy one, so only kinds known on both sides survive, united. `!` knows nothing.
//! These are the Python side's rules (`stockade.conditions.compiler`), which the
//! differential tests compare.

use std::collections::BTreeSet;

use super::fold::{go_upper, host_key};
use super::lowered::{Primitive, Source, Test};

/// A value whose words an index can look for.
pub type WordsKey = (Source, bool);

/// Hints by kind; `None` where a kind is unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hints {
    /// The host keys (lower case of the upper case) one of which the request's host has.
    pub host: Option<BTreeSet<Vec<u8>>>,
    /// Prefixes one of which the path starts with.
    pub path_prefix: Option<Vec<Vec<u8>>>,
    /// The upper-case methods one of which the request has.
    pub method: Option<BTreeSet<Vec<u8>>>,
    /// Per value (and whether its words are lower case, for a lower-cased value): words one
    /// of which the value, when ASCII, contains.
    pub words: Vec<(WordsKey, Vec<Vec<u8>>)>,
}

fn keys(source: &Source) -> bool {
    matches!(
        source,
        Source::Host
            | Source::Path
            | Source::Url
            | Source::Port
            | Source::Method
            | Source::Protocol
            | Source::Header(_)
            | Source::Query(_)
            | Source::Cookie(_)
    )
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b" _-/:;,=@#%&'\"<>~!`".contains(&byte)
}

/// The words of `a|b|c` or `(?i)a|b|c` when each is a plain ASCII word, and whether `(?i)` folds them.
pub fn literal_alternatives(pattern: &str) -> Option<(Vec<Vec<u8>>, bool)> {
    let (body, fold) = match pattern.strip_prefix("(?i)") {
        Some(rest) => (rest, true),
        None => (pattern, false),
    };
    let words: Vec<Vec<u8>> = body
        .split('|')
        .map(|word| {
            let bytes = word.as_bytes();
            (!bytes.is_empty() && bytes.iter().all(|&b| is_word_byte(b))).then(|| {
                if fold {
                    bytes.to_ascii_lowercase()
                } else {
                    bytes.to_vec()
                }
            })
        })
        .collect::<Option<_>>()?;
    Some((words, fold))
}

fn dedup(values: impl IntoIterator<Item = Vec<u8>>) -> Vec<Vec<u8>> {
    let mut seen = Vec::new();
    for value in values {
        if !seen.contains(&value) {
            seen.push(value);
        }
    }
    seen
}

impl Hints {
    /// The hint of one primitive.
    pub fn of(primitive: &Primitive) -> Self {
        let mut hints = Hints::default();
        let Primitive::Match(source, test) = primitive else {
            return hints;
        };
        match (source, test) {
            (Source::Host, Test::In { patterns, .. }) => {
                hints.host = Some(patterns.iter().map(|p| host_key(p).into_owned()).collect());
            }
            (
                Source::Path,
                Test::Prefix {
                    fold: false,
                    patterns,
                },
            ) if !patterns.iter().any(Vec::is_empty) => {
                hints.path_prefix = Some(dedup(patterns.iter().cloned()));
            }
            (
                Source::Path,
                Test::ElementPrefix {
                    fold: false,
                    patterns,
                },
            ) => {
                // A path that matches "/api/" (as "/api" + "/") starts with "/api".
                let prefixes: Vec<Vec<u8>> = patterns
                    .iter()
                    .map(|p| p.strip_suffix(b"/").unwrap_or(p).to_vec())
                    .collect();
                if !prefixes.iter().any(Vec::is_empty) {
                    hints.path_prefix = Some(dedup(prefixes));
                }
            }
            (Source::Method, Test::In { patterns, .. }) => {
                hints.method = Some(patterns.iter().map(|p| go_upper(p).into_owned()).collect());
            }
            (source, Test::Regex(pattern)) if keys(source) => {
                if let Some((words, fold)) = literal_alternatives(pattern) {
                    hints.words.push(((source.clone(), fold), dedup(words)));
                }
            }
            _ => {}
        }
        hints
    }

    /// What both `self` and `other` require (`&&`).
    pub fn and(mut self, other: Hints) -> Self {
        self.host = match (self.host, other.host) {
            (Some(a), Some(b)) => Some(a.intersection(&b).cloned().collect()),
            (a, b) => a.or(b),
        };
        self.method = match (self.method, other.method) {
            (Some(a), Some(b)) => Some(a.intersection(&b).cloned().collect()),
            (a, b) => a.or(b),
        };
        self.path_prefix = match (self.path_prefix, other.path_prefix) {
            (Some(a), Some(b)) => Some(if b.len() < a.len() { b } else { a }),
            (a, b) => a.or(b),
        };
        for (key, words) in other.words {
            match self.words.iter_mut().find(|(known, _)| *known == key) {
                Some((_, known)) => {
                    if words.len() < known.len() {
                        *known = words;
                    }
                }
                None => self.words.push((key, words)),
            }
        }
        self
    }

    /// What one of `self` and `other` requires (`||`).
    pub fn or(self, other: Hints) -> Self {
        let union = |a: Option<BTreeSet<Vec<u8>>>, b: Option<BTreeSet<Vec<u8>>>| match (a, b) {
            (Some(a), Some(b)) => Some(a.union(&b).cloned().collect()),
            _ => None,
        };
        let mut words = Vec::new();
        for (key, left) in self.words {
            if let Some((_, right)) = other.words.iter().find(|(known, _)| *known == key) {
                words.push((key, dedup(left.into_iter().chain(right.iter().cloned()))));
            }
        }
        Hints {
            host: union(self.host, other.host),
            method: union(self.method, other.method),
            path_prefix: match (self.path_prefix, other.path_prefix) {
                (Some(a), Some(b)) => Some(dedup(a.into_iter().chain(b))),
                _ => None,
            },
            words,
        }
    }
}
