//! The detection engine: which rules a request fires, its score, and whether it is malicious.
//!
//! The rules of one configuration are lowered once (the Python control plane parses and
//! checks the rule pack) and grouped by target and transformation chain; each group is one
//! [`RegexSet`], so a value costs one linear pass per group whatever the number of rules. A
//! rule with a tokeniser (`sqli`, `xss`, `script`, `shell`) uses its pattern as a filter and
//! confirms the value with the tokeniser. Values arriving encoded (a query, a form body, the
//! `Cookie` header) first meet the gate: only the fields it finds an anchor in are decoded.
//!
//! A rule fires at most once per request; the score is the sum of the scores of the rules that
//! fired. Probe rules (files an application may really serve) are skipped for the
//! application's own routes (a route the router knows, a path a site profile owns).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use regex::{Regex, RegexSet, RegexSetBuilder};

use super::gate::{Anchors, Gate, Reading, compile_gate};
use super::parts::{BodyGates, BodyPatterns, Target, body_values, fields, path_forms};
use super::pattern::translate;
use super::shell::Shell;
use super::sqli::Sql;
use super::text::head;
use super::transforms::Transform;
use super::xss::Xss;

/// A body's values read by the rules at most (those the gate found something in); the bytes of
/// the rest pass uninspected and are counted.
pub const MAX_BODY_VALUES: usize = 256;
const CONFIRM_LENGTH: usize = 4096; // a longer value is tokenised on its first part only
const SHOWN_LENGTH: usize = 200;
const MEMO_ENTRIES: usize = 4096;
const MEMO_LENGTH: usize = 256; // a longer value is read every time
const PART_LENGTH: usize = 1024; // a longer query or header is read every time

static ENGINES: AtomicU64 = AtomicU64::new(1);

/// What a short value fired, by engine, target and the value's hash (with the value, to tell
/// collisions apart).
// The key already holds the value's hash: foldhash (seeded at random) mixes it cheaply; the
// memo is bounded and emptied when full.
type Memo = HashMap<(u64, u8, u64), (Box<str>, Vec<Hit>), foldhash::fast::RandomState>;

thread_local! {
    // Most requests repeat values seen a moment ago (the User-Agent, the Referer, the path):
    // what a short value fires is remembered per thread (no lock on the read path), in a
    // bounded memo emptied when full.
    static MEMO: RefCell<Memo> = RefCell::new(HashMap::default());
}

/// How a rule decides on a value its pattern selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Regex,
    Sqli,
    Xss,
    Script,
    Shell,
}

impl Kind {
    /// The kind of a rule pack's `match` value.
    pub fn named(name: &str) -> Option<Kind> {
        match name {
            "regex" => Some(Kind::Regex),
            "sqli" => Some(Kind::Sqli),
            "xss" => Some(Kind::Xss),
            "script" => Some(Kind::Script),
            "shell" => Some(Kind::Shell),
            _ => None,
        }
    }
}

/// One rule as the control plane lowers it (already filtered by level and re-scored).
#[derive(Debug, Clone)]
pub struct RuleSpec {
    pub id: String,
    pub pattern: String,
    pub kind: Kind,
    pub targets: Vec<Target>,
    pub transforms: Vec<Transform>,
    pub score: i64,
    pub probe: bool,
    pub anchors: Vec<String>,
}

/// A site profile: the paths an application serves (probe rules never count them).
#[derive(Debug, Clone, Default)]
pub struct ProfileSpec {
    pub prefixes: Vec<String>,
    pub files: Vec<String>,
    /// A regular expression searched in the lower-cased path; empty for none.
    pub pattern: String,
}

/// What an operator chose, lowered.
#[derive(Debug, Clone)]
pub struct Settings {
    pub threshold: i64,
    /// The named headers (lower case) the `headers` target reads.
    pub headers: Vec<String>,
    pub profiles: Vec<ProfileSpec>,
    /// The body bytes read at most by [`Engine::inspect_request`]; `None`: all of it.
    pub body_limit: Option<usize>,
}

/// A rule whose pattern cannot compile, or another fault in the lowered rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The rule's id; empty when the fault is not one rule's.
    pub rule: String,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rule.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "rule {:?}: {}", self.rule, self.message)
        }
    }
}

impl std::error::Error for RuleError {}

fn internal(message: impl fmt::Display) -> RuleError {
    RuleError {
        rule: String::new(),
        message: message.to_string(),
    }
}

/// The request detection reads: borrowed text, built once per request.
#[derive(Debug, Clone, Default)]
pub struct Subject<'a> {
    pub method: &'a str,
    /// The canonical (decoded, normalised) path.
    pub path: &'a str,
    /// The path as sent, still percent-encoded.
    pub raw_path: &'a str,
    /// The raw query, without `?`.
    pub query: &'a str,
    /// Every header as sent, in order.
    pub headers: Vec<(&'a str, &'a str)>,
    pub content_type: &'a str,
    /// At most the inspection limit of the body.
    pub body: &'a [u8],
    /// Body bytes beyond the limit.
    pub uninspected: u64,
}

/// A rule that fired, the target it fired on, and the value it saw there (cut to 200 characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The rule's index in the lowered rules.
    pub rule: usize,
    pub target: Target,
    pub value: String,
}

/// The outcome of inspecting one request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    pub score: i64,
    pub threshold: i64,
    pub hits: Vec<Hit>,
    pub uninspected: u64,
}

impl Verdict {
    pub fn malicious(&self) -> bool {
        self.score >= self.threshold
    }
}

#[derive(Debug)]
struct Group {
    transforms: Vec<Transform>,
    set: RegexSet,
    rules: Vec<usize>,
}

#[derive(Debug)]
struct Gates {
    query: Gate,
    cookie: Gate,
    json: Gate,
    value: Gate,
}

#[derive(Debug)]
struct Profile {
    prefixes: Vec<String>,
    files: Vec<String>,
    pattern: Option<Regex>,
}

impl Profile {
    fn owns(&self, path: &str) -> bool {
        let lowered = path.to_lowercase();
        if self.files.contains(&lowered) {
            return true;
        }
        let prefixed = self.prefixes.iter().any(|prefix| {
            lowered.starts_with(prefix.as_str()) && (lowered.len() == prefix.len() || prefix.ends_with('/'))
        });
        prefixed
            || self
                .pattern
                .as_ref()
                .is_some_and(|pattern| pattern.is_match(&lowered))
    }
}

/// The tokenisers, built once per engine.
#[derive(Debug)]
pub struct Tokenisers {
    pub sql: Sql,
    pub xss: Xss,
    pub shell: Shell,
}

impl Tokenisers {
    pub fn new() -> Result<Self, String> {
        Ok(Self {
            sql: Sql::new().map_err(|e| e.to_string())?,
            xss: Xss::new()?,
            shell: Shell::new()?,
        })
    }

    fn confirm(&self, kind: Kind, value: &str, header: bool) -> bool {
        let value = head(value, CONFIRM_LENGTH);
        match kind {
            Kind::Regex => true,
            Kind::Sqli => self.sql.is_sqli(value),
            Kind::Xss => self.xss.is_xss(value),
            Kind::Script => self.xss.script_context(value),
            Kind::Shell if header => self.shell.is_shell_strict(value),
            Kind::Shell => self.shell.is_shell(value),
        }
    }
}

/// The rules of one configuration, compiled.
#[derive(Debug)]
pub struct Engine {
    id: u64,
    hasher: foldhash::fast::RandomState,
    rules: Vec<RuleSpec>,
    /// For each rule, the index of the first rule with its id (a rule fires once per id).
    keys: Vec<usize>,
    groups: [Vec<Group>; 10],
    gates: Option<Gates>,
    header_gate: Option<Gate>,
    profiles: Vec<Profile>,
    headers: Vec<String>,
    threshold: i64,
    body_limit: Option<usize>,
    tokenisers: Tokenisers,
    body_patterns: BodyPatterns,
}

fn slot(target: Target) -> usize {
    Target::ALL.iter().position(|(_, t)| *t == target).unwrap_or(0)
}

impl Engine {
    /// Compiles lowered rules; a pattern that cannot compile names its rule.
    pub fn new(rules: Vec<RuleSpec>, settings: Settings) -> Result<Self, RuleError> {
        let mut translated = Vec::with_capacity(rules.len());
        let mut untranslated = None;
        for rule in &rules {
            match translate(&rule.pattern) {
                Ok(pattern) => translated.push(format!("(?m){pattern}")),
                Err(message) => {
                    untranslated = Some(RuleError {
                        rule: rule.id.clone(),
                        message: format!("pattern not supported: {message}"),
                    });
                    break;
                }
            }
        }
        // Each rule is compiled alone only to name the one a group cannot compile (or one no
        // group holds): compiling every rule twice cost a third of the engine's build.
        let alone = |index: usize| -> Result<(), RuleError> {
            let (Some(rule), Some(full)) = (rules.get(index), translated.get(index)) else {
                return Ok(());
            };
            regex::RegexBuilder::new(full)
                .case_insensitive(true)
                .size_limit(64 << 20)
                .build()
                .map(drop)
                .map_err(|error| RuleError {
                    rule: rule.id.clone(),
                    message: format!("not a valid RE2 expression: {error}"),
                })
        };
        if let Some(error) = untranslated {
            // A rule before it that does not compile is named first, as the rules' order has it.
            for index in 0..translated.len() {
                alone(index)?;
            }
            return Err(error);
        }
        for (index, rule) in rules.iter().enumerate() {
            if rule.targets.is_empty() {
                alone(index)?;
            }
        }
        // Groups by (target, transformation chain), in the order the rules first name them.
        let mut keyed: Vec<(Target, Vec<Transform>, Vec<usize>)> = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            for &target in &rule.targets {
                match keyed
                    .iter_mut()
                    .find(|(t, chain, _)| *t == target && *chain == rule.transforms)
                {
                    Some((_, _, members)) => members.push(index),
                    None => keyed.push((target, rule.transforms.clone(), vec![index])),
                }
            }
        }
        let mut groups: [Vec<Group>; 10] = Default::default();
        for (target, transforms, members) in keyed {
            let patterns = members.iter().filter_map(|&index| translated.get(index));
            let set = RegexSetBuilder::new(patterns)
                .case_insensitive(true)
                .size_limit(256 << 20)
                .dfa_size_limit(16 << 20)
                .build();
            let set = match set {
                Ok(set) => set,
                Err(error) => {
                    // The first rule that does not compile alone, in the rules' order.
                    for index in 0..rules.len() {
                        alone(index)?;
                    }
                    return Err(internal(format!(
                        "the rules of target {}: {error}",
                        target.name()
                    )));
                }
            };
            if let Some(list) = groups.get_mut(slot(target)) {
                list.push(Group {
                    transforms,
                    set,
                    rules: members,
                });
            }
        }
        let keys = rules
            .iter()
            .map(|rule| rules.iter().position(|other| other.id == rule.id).unwrap_or(0))
            .collect();
        let gates = match anchors(&rules, |t| t.gated()) {
            None => None,
            Some(found) => Some(Gates {
                query: compile_gate(&found, Reading::QUERY).map_err(internal)?,
                cookie: compile_gate(&found, Reading::COOKIE).map_err(internal)?,
                json: compile_gate(&found, Reading::JSON).map_err(internal)?,
                value: compile_gate(&found, Reading::default()).map_err(internal)?,
            }),
        };
        let header_gate = match anchors(&rules, |t| t == Target::AnyHeader) {
            None => None,
            Some(found) => Some(compile_gate(&found, Reading::default()).map_err(internal)?),
        };
        let mut profiles = Vec::new();
        for profile in settings.profiles {
            let pattern = if profile.pattern.is_empty() {
                None
            } else {
                Some(
                    Regex::new(&profile.pattern)
                        .map_err(|error| internal(format!("profile pattern: {error}")))?,
                )
            };
            profiles.push(Profile {
                prefixes: profile.prefixes,
                files: profile.files,
                pattern,
            });
        }
        let mut headers: Vec<String> = Vec::new();
        for name in settings.headers {
            let lowered = name.to_lowercase();
            if !headers.contains(&lowered) {
                headers.push(lowered);
            }
        }
        Ok(Self {
            id: ENGINES.fetch_add(1, Ordering::Relaxed),
            hasher: foldhash::fast::RandomState::default(),
            rules,
            keys,
            groups,
            gates,
            header_gate,
            profiles,
            headers,
            threshold: settings.threshold,
            body_limit: settings.body_limit,
            tokenisers: Tokenisers::new().map_err(internal)?,
            body_patterns: BodyPatterns::new().map_err(internal)?,
        })
    }

    /// The lowered rules, by index (a [`Hit`] names its rule by index).
    pub fn rules(&self) -> &[RuleSpec] {
        &self.rules
    }

    pub fn threshold(&self) -> i64 {
        self.threshold
    }

    /// The rules a request fires and its score. `known_route`: one of the application's own routes.
    pub fn inspect(&self, request: &Subject<'_>, known_route: bool) -> Verdict {
        self.inspect_with(request, known_route, true)
    }

    /// [`Engine::inspect`], with the gates off when `gated` is false: every value is read (the
    /// tests prove with it that the gates hide nothing a rule fires on).
    pub fn inspect_with(&self, request: &Subject<'_>, known_route: bool, gated: bool) -> Verdict {
        let mut found: Vec<Hit> = Vec::new();
        let gates = if gated { self.gates.as_ref() } else { None };
        for form in path_forms(request.path, request.raw_path) {
            self.value_hits(Target::Path, &form, &mut found);
        }
        if !request.raw_path.is_empty() && self.has(Target::PathRaw) {
            self.value_hits(Target::PathRaw, request.raw_path, &mut found);
        }
        let mut uninspected = request.uninspected;
        if !request.query.is_empty() {
            let part = if gated { 40 } else { 41 };
            self.remember(part, request.query, PART_LENGTH, &mut found, |found| {
                let data = request.query.as_bytes();
                if gates.is_none_or(|g| g.query.find(data, 0).is_some()) {
                    self.value_hits(Target::QueryRaw, request.query, found);
                    for line in fields(data, b'&', gates.map(|g| &g.query), true) {
                        self.value_hits(Target::Args, &line, found);
                    }
                }
            });
        }
        if !request.body.is_empty() {
            let body_gates = BodyGates {
                query: gates.map(|g| &g.query),
                json: gates.map(|g| &g.json),
                value: gates.map(|g| &g.value),
            };
            let lines = body_values(
                request.body,
                request.content_type,
                body_gates,
                &self.body_patterns,
            );
            for (index, line) in lines.iter().enumerate() {
                if index < MAX_BODY_VALUES {
                    self.value_hits(Target::Args, line, &mut found);
                } else {
                    uninspected += line.len() as u64;
                }
            }
        }
        for &(name, value) in &request.headers {
            if !value.is_empty() {
                self.header_hits(name, value, gates, gated, &mut found);
            }
        }
        if request.method != "GET" && self.has(Target::Method) {
            self.value_hits(Target::Method, request.method, &mut found);
        }
        if found.is_empty() {
            return Verdict {
                score: 0,
                threshold: self.threshold,
                hits: Vec::new(),
                uninspected,
            };
        }
        let own = known_route || self.profiles.iter().any(|profile| profile.owns(request.path));
        let mut chosen: Vec<Hit> = Vec::new();
        let mut seen: Vec<usize> = Vec::new();
        for hit in found {
            let Some(rule) = self.rules.get(hit.rule) else {
                continue;
            };
            let key = self.keys.get(hit.rule).copied().unwrap_or(hit.rule);
            if (own && rule.probe) || seen.contains(&key) {
                continue;
            }
            seen.push(key);
            chosen.push(hit);
        }
        let score = chosen
            .iter()
            .filter_map(|hit| self.rules.get(hit.rule))
            .map(|rule| rule.score)
            .sum();
        Verdict {
            score,
            threshold: self.threshold,
            hits: chosen,
            uninspected,
        }
    }

    /// [`Engine::inspect`] of the native canonical request, `raw_path` being the path as sent
    /// (the request target before `?`); the body is cut at the configured limit.
    pub fn inspect_request(
        &self,
        request: &crate::request::Request<'_>,
        raw_path: &str,
        known_route: bool,
    ) -> Verdict {
        // Borrowed where the bytes are UTF-8 (nearly always): no copy of a header per request.
        let text = String::from_utf8_lossy;
        let method = text(request.method);
        let query = text(request.query);
        let borrowed: Option<Vec<(&str, &str)>> = request
            .headers
            .iter()
            .map(|header| {
                let name = std::str::from_utf8(&header.name).ok()?;
                Some((name, std::str::from_utf8(&header.value).ok()?))
            })
            .collect();
        // Only a header beyond UTF-8 has its text made (lossily) apart.
        let lossy: Vec<(Cow<'_, str>, Cow<'_, str>)> = match borrowed {
            Some(_) => Vec::new(),
            None => request
                .headers
                .iter()
                .map(|header| (text(&header.name), text(&header.value)))
                .collect(),
        };
        let headers: Vec<(&str, &str)> = match borrowed {
            Some(headers) => headers,
            None => lossy
                .iter()
                .map(|(name, value)| (name.as_ref(), value.as_ref()))
                .collect(),
        };
        let content_type = headers
            .iter()
            .find(|(name, _)| *name == "content-type")
            .map_or("", |(_, v)| v);
        let body = request.body.unwrap_or_default();
        let (body, uninspected) = match self.body_limit {
            Some(limit) if body.len() > limit => {
                (body.get(..limit).unwrap_or_default(), (body.len() - limit) as u64)
            }
            _ => (body, 0),
        };
        let subject = Subject {
            method: &method,
            path: &request.path,
            raw_path,
            query: &query,
            headers,
            content_type,
            body,
            uninspected,
        };
        self.inspect(&subject, known_route)
    }

    fn has(&self, target: Target) -> bool {
        self.groups
            .get(slot(target))
            .is_some_and(|groups| !groups.is_empty())
    }

    fn header_hits(&self, name: &str, value: &str, gates: Option<&Gates>, gated: bool, found: &mut Vec<Hit>) {
        let lowered: Cow<'_, str> = if name.bytes().any(|b| b.is_ascii_uppercase()) || !name.is_ascii() {
            Cow::Owned(name.to_lowercase())
        } else {
            Cow::Borrowed(name)
        };
        let named = self.headers.iter().any(|known| *known == *lowered);
        let kind = match lowered.as_ref() {
            "cookie" => 0,
            "user-agent" => 1,
            "referer" => 2,
            _ if named => 3,
            _ => 4,
        };
        let part = 20 + kind + if gated { 0 } else { 10 };
        self.remember(part, value, PART_LENGTH, found, |found| {
            if kind == 0 {
                for line in fields(value.as_bytes(), b';', gates.map(|g| &g.cookie), false) {
                    self.value_hits(Target::Cookies, &line, found);
                }
                return;
            }
            if kind == 1 {
                self.value_hits(Target::UserAgent, value, found);
            } else if kind == 2 {
                self.value_hits(Target::Referer, value, found);
            }
            if named {
                self.value_hits(Target::Headers, value, found);
            }
            let gate = if gated { self.header_gate.as_ref() } else { None };
            if self.has(Target::AnyHeader) && gate.is_none_or(|gate| gate.touches(value)) {
                self.value_hits(Target::AnyHeader, value, found);
            }
        });
    }

    fn value_hits(&self, target: Target, text: &str, found: &mut Vec<Hit>) {
        let part = u8::try_from(slot(target)).unwrap_or(u8::MAX);
        self.remember(part, text, MEMO_LENGTH, found, |found| {
            self.read_value(target, text, found)
        });
    }

    /// The hits `read` finds in `text` (one part of a request, or one value of a target),
    /// remembered per thread when `text` is at most `limit` bytes.
    fn remember(
        &self,
        part: u8,
        text: &str,
        limit: usize,
        found: &mut Vec<Hit>,
        read: impl FnOnce(&mut Vec<Hit>),
    ) {
        if text.len() > limit {
            read(found);
            return;
        }
        let key = (self.id, part, self.hasher.hash_one(text));
        let known = MEMO.with(|memo| {
            let memo = memo.try_borrow().ok()?;
            let (seen, hits) = memo.get(&key)?;
            (**seen == *text).then(|| found.extend(hits.iter().cloned()))
        });
        if known.is_some() {
            return;
        }
        let before = found.len();
        read(found);
        let hits = found.get(before..).unwrap_or_default().to_vec();
        MEMO.with(|memo| {
            if let Ok(mut memo) = memo.try_borrow_mut() {
                if memo.len() >= MEMO_ENTRIES {
                    memo.clear();
                }
                memo.insert(key, (text.into(), hits));
            }
        });
    }

    fn read_value(&self, target: Target, text: &str, found: &mut Vec<Hit>) {
        let Some(groups) = self.groups.get(slot(target)) else {
            return;
        };
        let mut views: Vec<(&[Transform], Cow<'_, str>)> = vec![(&[], Cow::Borrowed(text))];
        for group in groups {
            let view = view(&mut views, &group.transforms);
            // A clean value (the usual one) costs one forward scan; which rules matched only
            // when something did.
            if !group.set.is_match(&view) {
                continue;
            }
            let matched = group.set.matches(&view);
            if !matched.matched_any() {
                continue;
            }
            for index in matched.iter() {
                let Some(&rule_index) = group.rules.get(index) else {
                    continue;
                };
                let Some(rule) = self.rules.get(rule_index) else {
                    continue;
                };
                if rule.kind == Kind::Regex || self.confirmed(rule.kind, &view, target) {
                    found.push(Hit {
                        rule: rule_index,
                        target,
                        value: shown(&view),
                    });
                }
            }
        }
    }

    /// Whether the tokeniser reads the value (or, for a named field, its name) as an attack.
    fn confirmed(&self, kind: Kind, view: &str, target: Target) -> bool {
        if target.named_fields() {
            if let Some((name, rest)) = view.split_once('=') {
                if self.tokenisers.confirm(kind, rest, false) {
                    return true;
                }
                let reads_names = matches!(kind, Kind::Sqli | Kind::Xss | Kind::Script);
                return reads_names && name.chars().count() > 2 && self.tokenisers.confirm(kind, name, false);
            }
            return self.tokenisers.confirm(kind, view, false);
        }
        self.tokenisers.confirm(kind, view, target.header())
    }

    /// The tokenisers (for the fuzz targets and tests).
    pub fn tokenisers(&self) -> &Tokenisers {
        &self.tokenisers
    }
}

/// `chain` applied to the value, from the longest prefix already computed (decode once).
fn view<'t, 'g>(views: &mut Vec<(&'g [Transform], Cow<'t, str>)>, chain: &'g [Transform]) -> Cow<'t, str> {
    if let Some((_, found)) = views.iter().find(|(known, _)| *known == chain) {
        return found.clone();
    }
    let mut done = chain.len().saturating_sub(1);
    while done > 0 && !views.iter().any(|(known, _)| Some(*known) == chain.get(..done)) {
        done -= 1;
    }
    let start = chain.get(..done).unwrap_or_default();
    let mut current = views
        .iter()
        .find(|(known, _)| *known == start)
        .map_or(Cow::Borrowed(""), |(_, v)| v.clone());
    for index in done..chain.len() {
        let Some(step) = chain.get(index) else { break };
        current = match current {
            Cow::Borrowed(text) => step.apply(text),
            Cow::Owned(text) => Cow::Owned(step.apply(&text).into_owned()),
        };
        views.push((chain.get(..=index).unwrap_or_default(), current.clone()));
    }
    current
}

fn shown(value: &str) -> String {
    if value.chars().count() <= SHOWN_LENGTH {
        return value.to_owned();
    }
    format!("{}...", head(value, SHOWN_LENGTH - 3))
}

/// Every anchor of the rules reading a target `reads` selects, or `None` when one of them has none.
fn anchors(rules: &[RuleSpec], reads: impl Fn(Target) -> bool) -> Option<Anchors> {
    let mut all: Vec<&str> = Vec::new();
    for rule in rules {
        if rule.targets.iter().any(|&t| reads(t)) {
            if rule.anchors.is_empty() {
                return None;
            }
            all.extend(rule.anchors.iter().map(String::as_str));
        }
    }
    Some(Anchors::of(all))
}
