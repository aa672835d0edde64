//! What every request that satisfies a condition must have: the keys of rule indexes.
//!
//! A primitive contributes a hint when its test implies one:
//!
//! - `req_host_in`: a set of host keys; `req_path_prefix_in` and
//!   `req_path_element_prefix_in` (case-sensitive): path prefixes; `req_method_in`: a set
//!   of methods (the Python side's `RuleList` indexes these three too);
//! - a regular expression that is an alternation of plain words (`(?i)sqlmap|nikto`, as
//!   scanner signatures are), or a `*_contain` test: words one of which the value, when
//!   ASCII, contains;
//! - `req_cip_range`, `ses_sip_range`, `req_vip_range`, `req_vip_in`: address ranges;
//! - a query key, a cookie or a header that must be there: `req_query_key_in`,
//!   `req_cookie_*`, `req_header_key_in`, and a value test that refuses the empty value
//!   (which a missing header or query key reads as);
//! - a TLS connection: `req_proto_secure`, `ses_tls_*`.
//!
//! `A && B` must satisfy both, so a kind known on both sides keeps the narrower (sets of
//! alternatives intersect where one value must be in both, else the smaller wins); `A || B`
//! must satisfy one, so only kinds known on both sides survive, united. `!` knows nothing.

use std::collections::BTreeSet;

use super::fold::{go_upper, host_key};
use super::lowered::{Address, Primitive, Source, Test};
use super::program::lower_name;

/// A value whose words an index can look for, and whether its words are lower case (for
/// a lower-cased value).
pub type WordsKey = (Source, bool);

/// Alternatives one of which a request has.
type Alternatives = Option<BTreeSet<Vec<u8>>>;

/// Hints by kind; `None` (or `false`) where a kind is unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hints {
    /// The host keys (lower case of the upper case) one of which the request's host has.
    pub host: Alternatives,
    /// Prefixes one of which the path starts with.
    pub path_prefix: Option<Vec<Vec<u8>>>,
    /// The upper-case methods one of which the request has.
    pub method: Alternatives,
    /// Per value: words one of which the value, when ASCII, contains.
    pub words: Vec<(WordsKey, Vec<Vec<u8>>)>,
    /// Inclusive address ranges one of which holds the request's address of that kind.
    pub ranges: Option<Vec<(Address, u128, u128)>>,
    /// Query keys one of which the (parsed) query has.
    pub query_keys: Alternatives,
    /// Cookie names one of which the request has.
    pub cookies: Alternatives,
    /// Header names (lower case) one of which the request has with a non-empty value.
    pub headers: Alternatives,
    /// The connection is TLS.
    pub secure: bool,
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

/// The strings a `*_contain` test needs one of: exact ones, or ASCII ones under folding
/// (where a non-ASCII pattern could fold into ASCII); `None` with the empty pattern.
fn contained_words(fold: bool, patterns: &[Vec<u8>]) -> Option<(Vec<Vec<u8>>, bool)> {
    if patterns.iter().any(Vec::is_empty) || (fold && !patterns.iter().all(|p| p.is_ascii())) {
        return None;
    }
    let words = patterns
        .iter()
        .map(|p| if fold { p.to_ascii_lowercase() } else { p.clone() })
        .collect();
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

fn set(values: impl IntoIterator<Item = Vec<u8>>) -> Alternatives {
    Some(values.into_iter().collect())
}

/// `A && B` for a kind whose one value must be in both sets.
fn intersect(a: Alternatives, b: Alternatives) -> Alternatives {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.intersection(&b).cloned().collect()),
        (a, b) => a.or(b),
    }
}

/// `A && B` for a kind where each side asks for one of its own set: the smaller does.
fn smaller<T: Len>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.size() < a.size() { b } else { a }),
        (a, b) => a.or(b),
    }
}

trait Len {
    fn size(&self) -> usize;
}

impl<T> Len for Vec<T> {
    fn size(&self) -> usize {
        self.len()
    }
}

impl<T> Len for BTreeSet<T> {
    fn size(&self) -> usize {
        self.len()
    }
}

fn union(a: Alternatives, b: Alternatives) -> Alternatives {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.union(&b).cloned().collect()),
        _ => None,
    }
}

impl Hints {
    /// The hints of one primitive; `accepts_empty` says whether its test accepts the empty
    /// value (which a missing header or query key reads as).
    pub fn of(primitive: &Primitive, accepts_empty: bool) -> Self {
        let mut hints = Hints::default();
        match primitive {
            Primitive::Match(source, test) => hints.of_match(source, test, accepts_empty),
            Primitive::Secure | Primitive::TlsClientAuth => hints.secure = true,
            Primitive::IpRange(address, first, last) => {
                hints.ranges = Some(vec![(
                    *address,
                    u128::from_be_bytes(*first),
                    u128::from_be_bytes(*last),
                )]);
            }
            Primitive::IpIn(address, list) => {
                let ranges = list
                    .iter()
                    .map(|ip| u128::from_be_bytes(*ip))
                    .map(|ip| (*address, ip, ip));
                hints.ranges = Some(ranges.collect());
            }
            Primitive::HeaderKeyIn(names) => hints.headers = set(names.iter().map(|name| lower_name(name))),
            Primitive::QueryKeyIn(keys) => hints.query_keys = set(keys.iter().cloned()),
            Primitive::CookieKeyIn(names) => hints.cookies = set(names.iter().cloned()),
            _ => {}
        }
        hints
    }

    fn of_match(&mut self, source: &Source, test: &Test, accepts_empty: bool) {
        match (source, test) {
            (Source::Host, Test::In { patterns, .. }) => {
                self.host = set(patterns.iter().map(|p| host_key(p).into_owned()));
            }
            (
                Source::Path,
                Test::Prefix {
                    fold: false,
                    patterns,
                },
            ) if !patterns.iter().any(Vec::is_empty) => {
                self.path_prefix = Some(dedup(patterns.iter().cloned()));
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
                    self.path_prefix = Some(dedup(prefixes));
                }
            }
            (Source::Method, Test::In { patterns, .. }) => {
                self.method = set(patterns.iter().map(|p| go_upper(p).into_owned()));
            }
            (source, Test::Regex(pattern)) if keys(source) => {
                if let Some((words, fold)) = literal_alternatives(pattern) {
                    self.words.push(((source.clone(), fold), dedup(words)));
                }
            }
            (source, Test::Contain { fold, patterns }) if keys(source) => {
                if let Some((words, fold)) = contained_words(*fold, patterns) {
                    self.words.push(((source.clone(), fold), dedup(words)));
                }
            }
            _ => {}
        }
        match source {
            Source::Header(name) if !accepts_empty => self.headers = set([lower_name(name)]),
            Source::Query(key) if !accepts_empty => self.query_keys = set([key.clone()]),
            Source::Cookie(name) => self.cookies = set([name.clone()]),
            Source::TlsSni | Source::TlsClientCa => self.secure = true,
            _ => {}
        }
    }

    /// What both `self` and `other` require (`&&`).
    pub fn and(mut self, other: Hints) -> Self {
        self.host = intersect(self.host, other.host);
        self.method = intersect(self.method, other.method);
        self.path_prefix = smaller(self.path_prefix, other.path_prefix);
        self.ranges = smaller(self.ranges, other.ranges);
        self.query_keys = smaller(self.query_keys, other.query_keys);
        self.cookies = smaller(self.cookies, other.cookies);
        self.headers = smaller(self.headers, other.headers);
        self.secure = self.secure || other.secure;
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
            ranges: match (self.ranges, other.ranges) {
                (Some(mut a), Some(b)) => {
                    a.extend(b);
                    Some(a)
                }
                _ => None,
            },
            query_keys: union(self.query_keys, other.query_keys),
            cookies: union(self.cookies, other.cookies),
            headers: union(self.headers, other.headers),
            secure: self.secure && other.secure,
        }
    }
}
