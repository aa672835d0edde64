//! An ordered list of conditions where the first that matches wins, with an index.
//!
//! With hundreds of rules most cannot match a given request because they name other hosts,
//! paths, addresses or headers, so the list is indexed by what its conditions require
//! ([`Hints`](super::Hints)), each rule under the first kind it has, in this order:
//!
//! - by host: a map from the request's host key to rules;
//! - by path prefix: a map from prefix to rules, probed for each prefix length in use;
//! - by method;
//! - by words, when a value (a header, the path...) must hold one of some literal words:
//!   the rules of one value are tried only when one search for all their words finds one
//!   in it (or the value is not ASCII, where folding is not ASCII's);
//! - by address range (client, peer or VIP);
//! - by query key, by cookie, by header (present and not empty);
//! - on TLS connections only;
//! - every other rule is tried for every request.
//!
//! The first three are the Python side's `RuleList`'s index too. A hint is a necessary
//! condition, so leaving out a rule whose hint the request fails never changes the answer.
//! The groups that apply are tried one after another, each rule only if it comes before
//! the best match found so far: the answer is the first rule in order that matches,
//! exactly what a linear scan finds (the property tests and the fuzz target check this).

use std::collections::HashMap;

use aho_corasick::AhoCorasickBuilder;
use foldhash::fast::RandomState;

use super::context::Context;
use super::hints::WordsKey;
use super::lowered::{Address, LowerError};
use super::matchers::Finder;
use super::program::{Program, Value};
use super::view::ConditionRequest;

/// How a request is asked for one of its addresses.
type AddressRead<R> = fn(&R) -> Option<[u8; 16]>;

/// Key to rules (keys come from the rules: a request only looks them up).
type Map = HashMap<Vec<u8>, Vec<u32>, RandomState>;

/// A words group of fewer rules is tried with the rules tried for every request: one
/// search for its words would cost about what its rule's own search does.
const WORDS_GROUP_MIN: usize = 2;

/// The rules of one value of the words index.
#[derive(Debug, Clone)]
struct Words {
    value: Value,
    finder: Finder,
    members: Vec<u32>,
}

/// The rules of one address range.
#[derive(Debug, Clone)]
struct Range {
    address: Address,
    first: u128,
    last: u128,
    members: Vec<u32>,
}

/// Which rules may match a request, by what it has.
#[derive(Debug, Clone, Default)]
struct Index {
    by_host: Map,
    by_prefix: Map,
    lengths: Vec<usize>,
    by_method: Map,
    by_words: Vec<Words>,
    by_range: Vec<Range>,
    by_query: Map,
    by_cookie: Map,
    by_header: Vec<(Vec<u8>, Vec<u32>)>,
    secure: Vec<u32>,
    always: Vec<u32>,
    stats: IndexStats,
}

/// Conditions in order, indexed.
#[derive(Debug, Clone)]
pub struct RuleList {
    programs: Vec<Program>,
    index: Index,
}

/// How many rules the index files under each kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexStats {
    pub by_host: usize,
    pub by_prefix: usize,
    pub by_method: usize,
    pub by_words: usize,
    pub by_range: usize,
    pub by_query: usize,
    pub by_cookie: usize,
    pub by_header: usize,
    pub secure: usize,
    pub always: usize,
}

impl IndexStats {
    /// Each kind's name and count, in the order of the index.
    pub fn named(&self) -> [(&'static str, usize); 10] {
        [
            ("host", self.by_host),
            ("path_prefix", self.by_prefix),
            ("method", self.by_method),
            ("words", self.by_words),
            ("address", self.by_range),
            ("query_key", self.by_query),
            ("cookie", self.by_cookie),
            ("header", self.by_header),
            ("secure", self.secure),
            ("always", self.always),
        ]
    }
}

fn add(map: &mut Map, key: &[u8], member: u32) {
    let members = map.entry(key.to_vec()).or_default();
    if members.last() != Some(&member) {
        members.push(member);
    }
}

fn add_all<'k>(map: &mut Map, keys: impl IntoIterator<Item = &'k Vec<u8>>, member: u32) {
    for key in keys {
        add(map, key, member);
    }
}

/// The rules of the words index before its searches are built: per value, members and words.
type WordsDraft = Vec<(WordsKey, Vec<u32>, Vec<Vec<u8>>)>;

/// The words group a rule's hints choose: the value with the fewest words.
fn words_key(program: &Program) -> Option<&(WordsKey, Vec<Vec<u8>>)> {
    program.hints().words.iter().min_by_key(|(_, words)| words.len())
}

impl Index {
    /// File a rule under the first kind it has; `grouped` says whether its words group is
    /// large enough to be one.
    fn file(&mut self, program: &Program, member: u32, words: &mut WordsDraft, grouped: bool) {
        let hints = program.hints();
        let stats = &mut self.stats;
        if let Some(hosts) = &hints.host {
            stats.by_host += 1;
            add_all(&mut self.by_host, hosts, member);
        } else if let Some(prefixes) = &hints.path_prefix {
            stats.by_prefix += 1;
            add_all(&mut self.by_prefix, prefixes, member);
        } else if let Some(methods) = &hints.method {
            stats.by_method += 1;
            add_all(&mut self.by_method, methods, member);
        } else if let Some((key, vocabulary)) = words_key(program).filter(|_| grouped) {
            stats.by_words += 1;
            match words.iter_mut().find(|(known, ..)| known == key) {
                Some((_, members, known)) => {
                    members.push(member);
                    for word in vocabulary {
                        if !known.contains(word) {
                            known.push(word.clone());
                        }
                    }
                }
                None => words.push((key.clone(), vec![member], vocabulary.clone())),
            }
        } else if let Some(ranges) = &hints.ranges {
            stats.by_range += 1;
            for &(address, first, last) in ranges {
                let found = self
                    .by_range
                    .iter_mut()
                    .find(|range| range.address == address && range.first == first && range.last == last);
                match found {
                    Some(range) if range.members.last() == Some(&member) => {}
                    Some(range) => range.members.push(member),
                    None => self.by_range.push(Range {
                        address,
                        first,
                        last,
                        members: vec![member],
                    }),
                }
            }
        } else if let Some(keys) = &hints.query_keys {
            stats.by_query += 1;
            add_all(&mut self.by_query, keys, member);
        } else if let Some(names) = &hints.cookies {
            stats.by_cookie += 1;
            add_all(&mut self.by_cookie, names, member);
        } else if let Some(names) = &hints.headers {
            stats.by_header += 1;
            for name in names {
                match self.by_header.iter_mut().find(|(known, _)| known == name) {
                    Some((_, members)) if members.last() == Some(&member) => {}
                    Some((_, members)) => members.push(member),
                    None => self.by_header.push((name.clone(), vec![member])),
                }
            }
        } else if hints.secure {
            stats.secure += 1;
            self.secure.push(member);
        } else {
            stats.always += 1;
            self.always.push(member);
        }
    }

    fn build_words(&mut self, words: WordsDraft) -> Result<(), LowerError> {
        for ((source, fold), members, vocabulary) in words {
            let automaton = AhoCorasickBuilder::new()
                .ascii_case_insensitive(fold)
                .build(&vocabulary)
                .map_err(|error| LowerError {
                    item: members.first().map_or(0, |&m| m as usize),
                    problem: format!("cannot index {} words: {error}", vocabulary.len()),
                })?;
            self.by_words.push(Words {
                value: Value::build(&source),
                finder: Finder::Many(automaton),
                members,
            });
        }
        Ok(())
    }
}

impl RuleList {
    /// Index a list of compiled conditions.
    pub fn new(programs: Vec<Program>) -> Result<Self, LowerError> {
        let mut index = Index::default();
        let mut words = WordsDraft::new();
        // Only rules that the host, prefix and method indexes leave reach the words index.
        let mut sizes: Vec<(&WordsKey, usize)> = Vec::new();
        for program in &programs {
            let hints = program.hints();
            if hints.host.is_some() || hints.path_prefix.is_some() || hints.method.is_some() {
                continue;
            }
            if let Some((key, _)) = words_key(program) {
                match sizes.iter_mut().find(|(known, _)| *known == key) {
                    Some((_, size)) => *size += 1,
                    None => sizes.push((key, 1)),
                }
            }
        }
        for (position, program) in programs.iter().enumerate() {
            let member = u32::try_from(position).map_err(|_| LowerError {
                item: position,
                problem: "too many rules in one list".to_owned(),
            })?;
            let grouped = words_key(program).is_some_and(|(key, _)| {
                sizes
                    .iter()
                    .any(|(known, size)| *known == key && *size >= WORDS_GROUP_MIN)
            });
            index.file(program, member, &mut words, grouped);
        }
        index.build_words(words)?;
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

    /// How many rules the index files under each kind.
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
        let request = ctx.request();
        if !index.by_host.is_empty() {
            if let Some(members) = index.by_host.get(ctx.host_lower()) {
                try_group(members, &mut best);
            }
        }
        if !index.by_prefix.is_empty() {
            let path = request.path();
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
        if !index.by_range.is_empty() {
            // Each address read once, and only when a range asks for it: a request that
            // must fetch one (the local address from Python's facts) fetches only that.
            let [client, remote, vip]: [std::cell::OnceCell<Option<u128>>; 3] = Default::default();
            let address = |kind: Address| {
                let (cell, read) = match kind {
                    Address::Client => (&client, R::client_ip as AddressRead<R>),
                    Address::Remote => (&remote, R::remote_ip as AddressRead<R>),
                    Address::Vip => (&vip, R::vip as AddressRead<R>),
                };
                *cell.get_or_init(|| read(request).map(u128::from_be_bytes))
            };
            for range in &index.by_range {
                let ip = address(range.address);
                if ip.is_some_and(|ip| range.first <= ip && ip <= range.last) {
                    try_group(&range.members, &mut best);
                }
            }
        }
        if !index.by_query.is_empty() {
            for (key, _) in ctx.query_params() {
                if let Some(members) = index.by_query.get(key.as_ref()) {
                    try_group(members, &mut best);
                }
            }
        }
        if !index.by_cookie.is_empty() {
            for (name, _) in ctx.cookies() {
                if let Some(members) = index.by_cookie.get(name.as_slice()) {
                    try_group(members, &mut best);
                }
            }
        }
        for (name, members) in &index.by_header {
            if request.header(name).is_some_and(|value| !value.is_empty()) {
                try_group(members, &mut best);
            }
        }
        if !index.secure.is_empty() && request.secure() {
            try_group(&index.secure, &mut best);
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

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::cell::Cell;

    use super::super::lowered::{Address, Item, Primitive};
    use super::super::{ConditionRequest, Context, Program, SimpleRequest};
    use super::RuleList;

    /// A request that counts how often it is asked for its local address.
    struct Counting {
        inner: SimpleRequest,
        vip_reads: Cell<u32>,
    }

    impl ConditionRequest for Counting {
        fn method(&self) -> &[u8] {
            self.inner.method()
        }
        fn host(&self) -> &[u8] {
            self.inner.host()
        }
        fn path(&self) -> &[u8] {
            self.inner.path()
        }
        fn url(&self) -> &[u8] {
            self.inner.url()
        }
        fn query(&self) -> &[u8] {
            self.inner.query()
        }
        fn proto(&self) -> &[u8] {
            self.inner.proto()
        }
        fn header(&self, name: &[u8]) -> Option<Cow<'_, [u8]>> {
            self.inner.header(name)
        }
        fn cookie_lines(&self) -> Vec<Cow<'_, [u8]>> {
            self.inner.cookie_lines()
        }
        fn client_ip(&self) -> Option<[u8; 16]> {
            self.inner.client_ip()
        }
        fn remote_ip(&self) -> Option<[u8; 16]> {
            self.inner.remote_ip()
        }
        fn vip(&self) -> Option<[u8; 16]> {
            self.vip_reads.set(self.vip_reads.get() + 1);
            self.inner.vip()
        }
        fn trusted(&self) -> bool {
            self.inner.trusted()
        }
        fn secure(&self) -> bool {
            self.inner.secure()
        }
        fn session_proto(&self) -> Option<&[u8]> {
            self.inner.session_proto()
        }
        fn tls_sni(&self) -> Option<&[u8]> {
            self.inner.tls_sni()
        }
        fn tls_client_auth(&self) -> bool {
            self.inner.tls_client_auth()
        }
        fn tls_client_ca(&self) -> Option<&[u8]> {
            self.inner.tls_client_ca()
        }
        fn host_tag(&self) -> Option<&[u8]> {
            self.inner.host_tag()
        }
        fn tags(&self, name: &[u8]) -> Vec<Cow<'_, [u8]>> {
            self.inner.tags(name)
        }
        fn context_str(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
            self.inner.context_str(key)
        }
        fn body(&self) -> Option<&[u8]> {
            self.inner.body()
        }
        fn response_code(&self) -> Option<i64> {
            self.inner.response_code()
        }
        fn response_header(&self, name: &[u8]) -> Option<Cow<'_, [u8]>> {
            self.inner.response_header(name)
        }
        fn now(&self) -> f64 {
            self.inner.now()
        }
    }

    fn mapped(v4: [u8; 4]) -> [u8; 16] {
        let mut address = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0];
        if let Some(tail) = address.get_mut(12..) {
            tail.copy_from_slice(&v4);
        }
        address
    }

    fn range(address: Address, first: [u8; 4], last: [u8; 4]) -> Program {
        let item = Item::Call(Primitive::IpRange(address, mapped(first), mapped(last)));
        Program::compile(&[item]).unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn the_index_reads_only_the_addresses_its_ranges_ask_for() {
        let request = Counting {
            inner: SimpleRequest {
                client_ip: Some(mapped([10, 0, 0, 5])),
                vip: Some(mapped([192, 0, 2, 1])),
                ..SimpleRequest::default()
            },
            vip_reads: Cell::new(0),
        };
        let clients = RuleList::new(vec![range(Address::Client, [10, 0, 0, 0], [10, 0, 0, 9])])
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(clients.first_match(&Context::new(&request), 0), Some(0));
        assert_eq!(request.vip_reads.get(), 0);
        let locals = RuleList::new(vec![
            range(Address::Vip, [192, 0, 2, 0], [192, 0, 2, 9]),
            range(Address::Vip, [192, 0, 2, 1], [192, 0, 2, 1]),
        ])
        .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(locals.first_match(&Context::new(&request), 0), Some(0));
    }
}
