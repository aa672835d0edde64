//! An ordered list of conditions where the first that matches wins, with an index.
//!
//! With hundreds of rules most cannot match a given request because they name other hosts
//! or paths, so the list is indexed by what its conditions require ([`Hints`]), as the
//! Python side's `RuleList` is:
//!
//! - by host, when a rule requires one of a set of hosts: a map from the request's host
//!   key to rules;
//! - else by path prefix: a map from prefix to rules, probed for each prefix length in use;
//! - else by method;
//! - else by words, when a rule requires that a value (a header, the path...) holds one of
//!   some literal words: the rules of one value are tried only when one search for all
//!   their words finds one in it (or the value is not ASCII, where folding is not ASCII's);
//! - every other rule is tried for every request.
//!
//! A hint is a necessary condition, so leaving out a rule whose hint the request fails
//! never changes the answer. The groups that apply are tried one after another, each rule
//! only if it comes before the best match found so far: the answer is the first rule in
//! order that matches, exactly what a linear scan finds (the property tests and the fuzz
//! target check this).

use std::collections::HashMap;

use aho_corasick::AhoCorasickBuilder;

use super::context::Context;
use super::hints::WordsKey;
use super::lowered::LowerError;
use super::matchers::Finder;
use super::program::{Program, Value};
use super::view::ConditionRequest;

/// The rules of one value of the words index.
#[derive(Debug, Clone)]
struct Words {
    value: Value,
    finder: Finder,
    members: Vec<u32>,
}

/// Which rules may match a request, by what it has.
#[derive(Debug, Clone, Default)]
struct Index {
    always: Vec<u32>,
    by_host: HashMap<Vec<u8>, Vec<u32>>,
    by_prefix: HashMap<Vec<u8>, Vec<u32>>,
    lengths: Vec<usize>,
    by_method: HashMap<Vec<u8>, Vec<u32>>,
    by_words: Vec<Words>,
    stats: IndexStats,
}

/// Conditions in order, indexed.
#[derive(Debug, Clone)]
pub struct RuleList {
    programs: Vec<Program>,
    index: Index,
}

/// Counts of a list's rules by how its index finds them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexStats {
    pub by_host: usize,
    pub by_prefix: usize,
    pub by_method: usize,
    pub by_words: usize,
    pub always: usize,
}

fn add(map: &mut HashMap<Vec<u8>, Vec<u32>>, key: &[u8], member: u32) {
    let members = map.entry(key.to_vec()).or_default();
    if members.last() != Some(&member) {
        members.push(member);
    }
}

impl RuleList {
    /// Index a list of compiled conditions.
    pub fn new(programs: Vec<Program>) -> Result<Self, LowerError> {
        let mut index = Index::default();
        let mut words: Vec<(WordsKey, Vec<u32>, Vec<Vec<u8>>)> = Vec::new();
        for (position, program) in programs.iter().enumerate() {
            let member = u32::try_from(position).map_err(|_| LowerError {
                item: position,
                problem: "too many rules in one list".to_owned(),
            })?;
            let hints = program.hints();
            if let Some(hosts) = &hints.host {
                index.stats.by_host += 1;
                for host in hosts {
                    add(&mut index.by_host, host, member);
                }
            } else if let Some(prefixes) = &hints.path_prefix {
                index.stats.by_prefix += 1;
                for prefix in prefixes {
                    add(&mut index.by_prefix, prefix, member);
                }
            } else if let Some(methods) = &hints.method {
                index.stats.by_method += 1;
                for method in methods {
                    add(&mut index.by_method, method, member);
                }
            } else if let Some((key, vocabulary)) = hints.words.iter().min_by_key(|(_, words)| words.len()) {
                index.stats.by_words += 1;
                match words.iter_mut().find(|(known, ..)| known == key) {
                    Some((_, members, known)) => {
                        members.push(member);
                        known.extend(
                            vocabulary
                                .iter()
                                .filter(|w| !known.contains(w))
                                .cloned()
                                .collect::<Vec<_>>(),
                        );
                    }
                    None => words.push((key.clone(), vec![member], vocabulary.clone())),
                }
            } else {
                index.stats.always += 1;
                index.always.push(member);
            }
        }
        for ((source, fold), members, vocabulary) in words {
            let automaton = AhoCorasickBuilder::new()
                .ascii_case_insensitive(fold)
                .build(&vocabulary)
                .map_err(|error| LowerError {
                    item: members.first().map_or(0, |&m| m as usize),
                    problem: format!("cannot index {} words: {error}", vocabulary.len()),
                })?;
            index.by_words.push(Words {
                value: Value::build(&source),
                finder: Finder::Many(automaton),
                members,
            });
        }
        let mut lengths: Vec<usize> = index.by_prefix.keys().map(Vec::len).collect();
        lengths.sort_unstable();
        lengths.dedup();
        index.lengths = lengths;
        Ok(Self { programs, index })
    }

    /// How many rules there are.
    pub fn len(&self) -> usize {
        self.programs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.programs.is_empty()
    }

    /// The rule at `position`.
    pub fn program(&self, position: usize) -> Option<&Program> {
        self.programs.get(position)
    }

    /// How many rules the index files by host, prefix, method, words, and for every request.
    pub fn stats(&self) -> IndexStats {
        self.index.stats
    }

    /// The position of the first rule from `start` on whose condition matches, by the index.
    pub fn first_match<R: ConditionRequest + ?Sized>(
        &self,
        ctx: &Context<'_, R>,
        start: usize,
    ) -> Option<usize> {
        let none = self.programs.len();
        let mut best = none;
        let try_group = |members: &[u32], best: &mut usize| {
            let from = members.partition_point(|&member| (member as usize) < start);
            for &member in members.get(from..).unwrap_or_default() {
                let member = member as usize;
                if member >= *best {
                    return;
                }
                if self.programs.get(member).is_some_and(|program| program.eval(ctx)) {
                    *best = member;
                    return;
                }
            }
        };
        let index = &self.index;
        if !index.by_host.is_empty() {
            if let Some(members) = index.by_host.get(ctx.host_lower()) {
                try_group(members, &mut best);
            }
        }
        if !index.by_prefix.is_empty() {
            let path = ctx.request().path();
            for &length in &index.lengths {
                let Some(prefix) = path.get(..length) else {
                    break;
                };
                if let Some(members) = index.by_prefix.get(prefix) {
                    try_group(members, &mut best);
                }
            }
        }
        if !index.by_method.is_empty() {
            if let Some(members) = index.by_method.get(ctx.method_upper()) {
                try_group(members, &mut best);
            }
        }
        for group in &index.by_words {
            if let Some(value) = group.value.read(ctx) {
                if !value.is_ascii() || group.finder.find_in(&value) {
                    try_group(&group.members, &mut best);
                }
            }
        }
        try_group(&index.always, &mut best);
        (best < none).then_some(best)
    }

    /// The first matching rule by trying every rule in order: the reference for the index.
    pub fn first_match_linear<R: ConditionRequest + ?Sized>(
        &self,
        ctx: &Context<'_, R>,
        start: usize,
    ) -> Option<usize> {
        self.programs
            .iter()
            .enumerate()
            .skip(start)
            .find(|(_, program)| program.eval(ctx))
            .map(|(position, _)| position)
    }
}
