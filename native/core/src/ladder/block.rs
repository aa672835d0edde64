//! mod_block as the ladder runs it over a canonical request: [`SiteBlock`].

use std::cell::RefCell;
use std::sync::Arc;

use super::Why;
use crate::block::{Counters, Outcome, Products, RequestRules, Snapshot};
use crate::conditions::ConditionRequest;
use crate::request::{Conditions, Connection, Request};

/// A site's mod_block: the rules in force (the Python side's table, which its reloads
/// swap) and its host table.
#[derive(Debug, Clone)]
pub struct SiteBlock {
    pub rules: Arc<dyn RequestRules>,
    /// `None`: no host table; a request has no product, and only `global` applies.
    pub hosts: Option<Arc<Products>>,
}

/// What a check counted and which rule set it read, kept aside until the decision is the
/// caller's own (else the Python side decides and counts the request again, once).
#[derive(Debug, Default)]
pub struct Aside {
    counters: Counters,
    snapshot: RefCell<Option<Snapshot>>,
}

impl Aside {
    /// The connection check's counting (see [`Counters::connection`]), aside.
    pub fn connection(&self, listed: bool) -> bool {
        self.counters.connection(listed)
    }
}

impl SiteBlock {
    /// mod_block's outcome for `request` at `now`, kept in `aside` (the caller
    /// [`commit`](Self::commit)s it once the decision is its own); `Err` when a rule read
    /// what only the Python side can answer.
    pub fn check(
        &self,
        request: &Request<'_>,
        connection: Connection<'_>,
        now: f64,
        aside: &Aside,
    ) -> Result<Outcome, Why> {
        let view = Conditions::new(request, connection, now);
        let product = self.hosts.as_ref().and_then(|hosts| hosts.product(view.host()));
        let (outcome, snapshot) = self.rules.check_aside(&view, product, &aside.counters);
        if view.unanswered() {
            return Err(Why::Block);
        }
        *aside.snapshot.borrow_mut() = snapshot;
        Ok(outcome)
    }

    /// Count what [`check`](Self::check) kept aside in the table's own counters, with the
    /// `(rule, closed)` that matched, if any (the Python side names it in its metrics);
    /// `false`, counting nothing, when the table keeps no more hits: the caller then hands
    /// the request to the Python side.
    pub fn commit(&self, aside: Aside, hit: Option<(u32, bool)>) -> bool {
        if let Some((rule, closed)) = hit {
            let Some(snapshot) = aside.snapshot.into_inner() else {
                return false;
            };
            if !self.rules.record(snapshot, rule, closed) {
                return false;
            }
        }
        self.rules.counters().add(&aside.counters);
        true
    }
}
