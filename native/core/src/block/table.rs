//! The rules in force and the counters: what the request path reads, what a reload swaps.
//!
//! A reload builds a new [`RuleSet`] aside and [`BlockTable::swap`]s it in: one atomic
//! pointer store. A check loads the pointer once, so it sees one rule set from start to
//! end; nothing on the read path takes a lock. `extra` travels with the rules in the same
//! swap (the Python boundary keeps there the objects it answers with).

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::counters::Counters;
use super::rules::{Outcome, RuleSet};
use crate::conditions::ConditionRequest;

/// A rule set and what travels with it.
#[derive(Debug, Default)]
pub struct Loaded<X> {
    pub rules: RuleSet,
    pub extra: X,
}

/// The rules in force and the module's counters.
#[derive(Debug)]
pub struct BlockTable<X = ()> {
    current: ArcSwap<Loaded<X>>,
    counters: Arc<Counters>,
}

impl<X> BlockTable<X> {
    /// A table of `loaded` that counts into `counters` (shared with whoever else counts there).
    pub fn new(loaded: Arc<Loaded<X>>, counters: Arc<Counters>) -> Self {
        Self {
            current: ArcSwap::new(loaded),
            counters,
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
    /// [`Counters::add`]s).
    pub fn check_aside<R>(&self, request: &R, product: Option<&[u8]>, counters: &Counters) -> Outcome
    where
        R: ConditionRequest + ?Sized,
    {
        self.current.load().rules.check(request, product, counters)
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
    ) -> Outcome;
    /// The table's own counters.
    fn counters(&self) -> &Arc<Counters>;
}

impl<X: Send + Sync + std::fmt::Debug> RequestRules for BlockTable<X> {
    fn check_aside(
        &self,
        request: &dyn ConditionRequest,
        product: Option<&[u8]>,
        counters: &Counters,
    ) -> Outcome {
        BlockTable::check_aside(self, request, product, counters)
    }
    fn counters(&self) -> &Arc<Counters> {
        BlockTable::counters(self)
    }
}
