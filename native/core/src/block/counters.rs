//! mod_block's counters, named as BFE names them, incremented as BFE increments them.
//!
//! Atomics with relaxed ordering: each counter is exact, and no decision waits on one. They
//! belong to the module, not to a rule set, so a reload never resets them.

use std::sync::atomic::{AtomicU64, Ordering};

/// The counters' names, in the order of [`Counters::snapshot`].
pub const COUNTER_NAMES: [&str; 8] = [
    "CONN_TOTAL",
    "CONN_ACCEPT",
    "CONN_REFUSE",
    "REQ_TOTAL",
    "REQ_ACCEPT",
    "REQ_REFUSE",
    "WRONG_COMMAND",
    "REQ_TO_CHECK",
];

/// The counters (see `COUNTER_NAMES`); `REQ_TO_CHECK` counts the requests for which at
/// least one rule list is evaluated (listed in BFE's documentation, gone from its code).
#[derive(Debug, Default)]
pub struct Counters {
    pub conn_total: AtomicU64,
    pub conn_accept: AtomicU64,
    pub conn_refuse: AtomicU64,
    pub req_total: AtomicU64,
    pub req_accept: AtomicU64,
    pub req_refuse: AtomicU64,
    pub wrong_command: AtomicU64,
    pub req_to_check: AtomicU64,
}

/// One increment.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    /// Every counter's value, in the order of [`COUNTER_NAMES`].
    pub fn snapshot(&self) -> [u64; 8] {
        self.all().map(|counter| counter.load(Ordering::Relaxed))
    }

    /// Set every counter (to carry values over from elsewhere), in the order of [`COUNTER_NAMES`].
    pub fn restore(&self, values: [u64; 8]) {
        for (counter, value) in self.all().into_iter().zip(values) {
            counter.store(value, Ordering::Relaxed);
        }
    }

    /// Add every counter of `other` to this one's.
    pub fn add(&self, other: &Counters) {
        for (counter, value) in self.all().into_iter().zip(other.snapshot()) {
            if value != 0 {
                counter.fetch_add(value, Ordering::Relaxed);
            }
        }
    }

    fn all(&self) -> [&AtomicU64; 8] {
        [
            &self.conn_total,
            &self.conn_accept,
            &self.conn_refuse,
            &self.req_total,
            &self.req_accept,
            &self.req_refuse,
            &self.wrong_command,
            &self.req_to_check,
        ]
    }

    /// The connection check's increments: `listed` peers are refused.
    pub fn connection(&self, listed: bool) -> bool {
        bump(&self.conn_total);
        bump(if listed {
            &self.conn_refuse
        } else {
            &self.conn_accept
        });
        listed
    }
}
