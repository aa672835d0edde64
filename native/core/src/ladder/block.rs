//! mod_block as the ladder runs it over a canonical request: [`SiteBlock`].

use std::sync::Arc;

use super::Why;
use crate::block::{Counters, Outcome, Products, RequestRules};
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

impl SiteBlock {
    /// mod_block's outcome for `request` at `now`, counted into `aside` (the caller
    /// [`commit`](Self::commit)s them once the decision is its own); `Err` when a rule read
    /// what only the Python side can answer.
    pub fn check(
        &self,
        request: &Request<'_>,
        connection: Connection<'_>,
        now: f64,
        aside: &Counters,
    ) -> Result<Outcome, Why> {
        let view = Conditions::new(request, connection, now);
        let product = self.hosts.as_ref().and_then(|hosts| hosts.product(view.host()));
        let outcome = self.rules.check_aside(&view, product, aside);
        if view.unanswered() {
            return Err(Why::Block);
        }
        Ok(outcome)
    }

    /// Count what [`check`](Self::check) counted aside in the table's own counters.
    pub fn commit(&self, aside: &Counters) {
        self.rules.counters().add(aside);
    }
}
