//! The tests of BFE's primitives, built once: what a value is compared with, and how.
//!
//! Patterns come split on `|` (no trimming, empty patterns kept: every value has the empty
//! prefix). Folding upper-cases both sides with Go's mapping, except for hashes, which
//! lower-case; element prefixes append `/` to both sides. All of it is done here, when a
//! condition is built, so that a request only compares.

use std::collections::HashSet;

use foldhash::fast::RandomState;

use aho_corasick::AhoCorasick;
use memchr::memmem;
use regex::bytes::Regex;

use super::fold::{go_lower, go_upper, with_upper};
use super::hash::{Buckets, bucket};
use super::lowered::Test;

/// Lists longer than this are hashed; shorter ones compared one by one.
const SMALL_SET: usize = 8;

/// A set of byte strings.
#[derive(Debug, Clone)]
pub(crate) enum Set {
    Few(Vec<Vec<u8>>),
    Many(HashSet<Vec<u8>, RandomState>),
}

impl Set {
    pub(crate) fn new(values: Vec<Vec<u8>>) -> Self {
        let mut values = values;
        values.sort();
        values.dedup();
        if values.len() <= SMALL_SET {
            Set::Few(values)
        } else {
            Set::Many(values.into_iter().collect())
        }
    }

    pub(crate) fn contains(&self, value: &[u8]) -> bool {
        match self {
            Set::Few(values) => values.iter().any(|known| known.as_slice() == value),
            Set::Many(values) => values.contains(value),
        }
    }
}

/// Finds any of several strings inside a value.
#[derive(Debug, Clone)]
pub(crate) enum Finder {
    /// The empty pattern is in every value.
    Always,
    One(Box<memmem::Finder<'static>>),
    Many(AhoCorasick),
}

impl Finder {
    pub(crate) fn new(patterns: &[Vec<u8>]) -> Result<Self, String> {
        if patterns.iter().any(Vec::is_empty) {
            return Ok(Finder::Always);
        }
        match patterns {
            [one] => Ok(Finder::One(Box::new(memmem::Finder::new(one).into_owned()))),
            _ => AhoCorasick::new(patterns)
                .map(Finder::Many)
                .map_err(|error| format!("cannot build the matcher of {} strings: {error}", patterns.len())),
        }
    }

    pub(crate) fn find_in(&self, value: &[u8]) -> bool {
        match self {
            Finder::Always => true,
            Finder::One(finder) => finder.find(value).is_some(),
            Finder::Many(automaton) => automaton.is_match(value),
        }
    }
}

/// A built test of one value.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    In(bool, Set),
    Prefix(bool, Vec<Vec<u8>>),
    Suffix(bool, Vec<Vec<u8>>),
    Contain(bool, Box<Finder>),
    ElementPrefix(bool, Vec<Vec<u8>>),
    Exact(Vec<u8>),
    Hash(bool, Buckets),
    Regex(Box<Regex>),
}

fn upper_all(fold: bool, patterns: &[Vec<u8>]) -> Vec<Vec<u8>> {
    patterns
        .iter()
        .map(|pattern| {
            if fold {
                go_upper(pattern).into_owned()
            } else {
                pattern.clone()
            }
        })
        .collect()
}

fn with_slash(value: &[u8]) -> Vec<u8> {
    let mut owned = value.to_vec();
    if !owned.ends_with(b"/") {
        owned.push(b'/');
    }
    owned
}

impl Matcher {
    /// Build a test; the error says what cannot be built.
    pub(crate) fn build(test: &Test) -> Result<Self, String> {
        Ok(match test {
            Test::In { fold, patterns } => Matcher::In(*fold, Set::new(upper_all(*fold, patterns))),
            Test::Prefix { fold, patterns } => Matcher::Prefix(*fold, upper_all(*fold, patterns)),
            Test::Suffix { fold, patterns } => Matcher::Suffix(*fold, upper_all(*fold, patterns)),
            Test::Contain { fold, patterns } => {
                Matcher::Contain(*fold, Box::new(Finder::new(&upper_all(*fold, patterns))?))
            }
            Test::ElementPrefix { fold, patterns } => {
                let slashed: Vec<Vec<u8>> = patterns.iter().map(|pattern| with_slash(pattern)).collect();
                Matcher::ElementPrefix(*fold, upper_all(*fold, &slashed))
            }
            Test::Exact(pattern) => Matcher::Exact(go_upper(pattern).into_owned()),
            Test::Hash { fold, buckets } => Matcher::Hash(
                *fold,
                Buckets::from_ranges(buckets)
                    .ok_or_else(|| "a hash bucket range is backwards or past 9999".to_owned())?,
            ),
            Test::Regex(pattern) => Matcher::Regex(Box::new(
                super::regex::compile(pattern).map_err(|error| format!("regexp {pattern:?}: {error}"))?,
            )),
        })
    }

    /// Whether this test upper-cases the value first.
    pub(crate) fn folds_upper(&self) -> bool {
        match self {
            Matcher::In(fold, _)
            | Matcher::Prefix(fold, _)
            | Matcher::Suffix(fold, _)
            | Matcher::Contain(fold, _)
            | Matcher::ElementPrefix(fold, _) => *fold,
            Matcher::Exact(_) => true,
            Matcher::Hash(..) | Matcher::Regex(_) => false,
        }
    }

    /// The test of a value, already upper-cased when [`folds_upper`](Self::folds_upper).
    pub(crate) fn test(&self, value: &[u8]) -> bool {
        match self {
            Matcher::In(_, set) => set.contains(value),
            Matcher::Prefix(_, patterns) => patterns.iter().any(|pattern| value.starts_with(pattern)),
            Matcher::Suffix(_, patterns) => patterns.iter().any(|pattern| value.ends_with(pattern)),
            Matcher::Contain(_, finder) => finder.find_in(value),
            Matcher::ElementPrefix(_, patterns) => {
                if value.ends_with(b"/") {
                    patterns.iter().any(|pattern| value.starts_with(pattern))
                } else {
                    let slashed = with_slash(value);
                    patterns.iter().any(|pattern| slashed.starts_with(pattern))
                }
            }
            Matcher::Exact(pattern) => value == pattern.as_slice(),
            Matcher::Hash(fold, buckets) => {
                let hashed = if *fold {
                    go_lower(value)
                } else {
                    std::borrow::Cow::Borrowed(value)
                };
                buckets.contains(bucket(&hashed))
            }
            Matcher::Regex(regex) => super::regex::is_match(regex, value),
        }
    }

    /// The test of a raw value, folding it first when the test does.
    pub(crate) fn test_raw(&self, value: &[u8]) -> bool {
        if self.folds_upper() {
            with_upper(value, |upper| self.test(upper))
        } else {
            self.test(value)
        }
    }
}
