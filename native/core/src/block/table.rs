//! The rules in force and the counters: what the request path reads, what a reload swaps.
//!
//! A reload builds a new [`RuleSet`] aside and [`BlockTable::swap`]s it in: one atomic
//! pointer store. A check loads the pointer once, so it sees one rule set from start to
//! end; nothing on the read path takes a lock. `extra` travels with the rules in the same
//! swap (the Python boundary keeps there the objects it answers with).

use std::any::Any;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::{ArcSwap, Guard};

use super::counters::Counters;
use super::rules::{Outcome, RuleSet};
use crate::conditions::ConditionRequest;

/// A rule set and what travels with it.
#[derive(Debug, Default)]
pub struct Loaded<X> {
    pub rules: RuleSet,
    pub extra: X,
}

/// A rule that matched a request decided by a front (not by the Python side, which counts
/// its own): the rule set it belongs to, its number there, whether it closed the request.
#[derive(Debug)]
pub struct Hit<X> {
    pub loaded: Arc<Loaded<X>>,
    pub rule: u32,
    pub closed: bool,
}

/// The most hits kept until they are taken: a front hands its requests to the Python side
/// rather than drop one.
pub const MAX_HITS: usize = 65_536;

/// The rule set a check read, when a rule matched: what [`RequestRules::record`] takes.
pub type Snapshot = Arc<dyn Any + Send + Sync>;

/// The rules in force and the module's counters.
#[derive(Debug)]
pub struct BlockTable<X = ()> {
    current: ArcSwap<Loaded<X>>,
    counters: Arc<Counters>,
    hits: Mutex<Vec<Hit<X>>>,
}

impl<X> BlockTable<X> {
    /// A table of `loaded` that counts into `counters` (shared with whoever else counts there).
    pub fn new(loaded: Arc<Loaded<X>>, counters: Arc<Counters>) -> Self {
        Self {
            current: ArcSwap::new(loaded),
            counters,
            hits: Mutex::new(Vec::new()),
        }
    }

    /// Put new rules in force, atomically.
    pub fn swap(&self, loaded: Arc<Loaded<X>>) {
        self.current.store(loaded);
    }

    /// The rules in force now.
    pub fn load(&self) -> Arc<Loaded<X>> {
        self.current.load_full()
    }

    /// The counters.
    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// The request check (see [`RuleSet::check`]), with the rules in force; `extra` comes along.
    pub fn check_request<R, T>(
        &self,
        request: &R,
        product: Option<&[u8]>,
        answer: impl FnOnce(Outcome, &X) -> T,
    ) -> T
    where
        R: ConditionRequest + ?Sized,
    {
        let loaded = self.current.load();
        let outcome = loaded.rules.check(request, product, &self.counters);
        answer(outcome, &loaded.extra)
    }

    /// The request check with the rules in force, counted into `counters` instead of the
    /// table's own (a caller that may still hand the request elsewhere counts aside, then
    /// [`Counters::add`]s); with the rule set read when a rule matched.
    pub fn check_aside<R>(
        &self,
        request: &R,
        product: Option<&[u8]>,
        counters: &Counters,
    ) -> (Outcome, Option<Arc<Loaded<X>>>)
    where
        R: ConditionRequest + ?Sized,
    {
        let loaded = self.current.load();
        let outcome = loaded.rules.check(request, product, counters);
        let matched = !matches!(outcome, Outcome::Pass(None));
        (outcome, matched.then(|| Guard::into_inner(loaded)))
    }

    /// Keep a hit until [`Self::take_hits`]; `false` (nothing kept) when [`MAX_HITS`] wait.
    pub fn record(&self, hit: Hit<X>) -> bool {
        let mut hits = self.hits.lock().unwrap_or_else(PoisonError::into_inner);
        if hits.len() >= MAX_HITS {
            return false;
        }
        hits.push(hit);
        true
    }

    /// The hits kept so far, in order.
    pub fn take_hits(&self) -> Vec<Hit<X>> {
        std::mem::take(&mut *self.hits.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The connection check's counting: `listed` (the peer is in the blocklist) closes.
    pub fn check_connection(&self, listed: bool) -> bool {
        self.counters.connection(listed)
    }
}

/// A table's request check without what travels with its rules: what a front holds, whatever
/// the table's `extra`.
pub trait RequestRules: Send + Sync + std::fmt::Debug {
    /// See [`BlockTable::check_aside`].
    fn check_aside(
        &self,
        request: &dyn ConditionRequest,
        product: Option<&[u8]>,
        counters: &Counters,
    ) -> (Outcome, Option<Snapshot>);
    /// Keep the hit of `rule` of the rule set `snapshot` a check read (see
    /// [`BlockTable::record`]); `false` when it is not kept.
    fn record(&self, snapshot: Snapshot, rule: u32, closed: bool) -> bool;
    /// The table's own counters.
    fn counters(&self) -> &Arc<Counters>;
}

impl<X: Send + Sync + std::fmt::Debug + 'static> RequestRules for BlockTable<X> {
    fn check_aside(
        &self,
        request: &dyn ConditionRequest,
        product: Option<&[u8]>,
        counters: &Counters,
    ) -> (Outcome, Option<Snapshot>) {
        let (outcome, loaded) = BlockTable::check_aside(self, request, product, counters);
        (outcome, loaded.map(|loaded| loaded as Snapshot))
    }
    fn record(&self, snapshot: Snapshot, rule: u32, closed: bool) -> bool {
        match snapshot.downcast::<Loaded<X>>() {
            Ok(loaded) => BlockTable::record(self, Hit { loaded, rule, closed }),
            Err(_) => false,
        }
    }
    fn counters(&self) -> &Arc<Counters> {
        BlockTable::counters(self)
    }
}
