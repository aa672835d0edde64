//! Counters of the front, atomics read by the Python side (metrics, status) without a lock.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// What the front counted since it started.
#[derive(Debug, Default)]
pub struct Stats {
    pub connections: AtomicU64,
    pub active: AtomicU64,
    pub requests: AtomicU64,
    pub responses: [AtomicU64; 6],
    pub upstream_errors: AtomicU64,
    pub upstream_timeouts: AtomicU64,
    pub proxy_refused: AtomicU64,
    pub conn_total: AtomicU64,
    pub conn_refuse: AtomicU64,
    pub conn_accept: AtomicU64,
    pub closed: AtomicU64,
    pub bad_requests: AtomicU64,
    pub log_dropped: AtomicU64,
    pub panics: AtomicU64,
}

impl Stats {
    pub fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn response(&self, status: u16) {
        let class = usize::from(status / 100).min(5);
        if let Some(counter) = self.responses.get(class) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Every counter by name.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = vec![
            ("connections", get(&self.connections)),
            ("active_connections", get(&self.active)),
            ("requests", get(&self.requests)),
            ("upstream_errors", get(&self.upstream_errors)),
            ("upstream_timeouts", get(&self.upstream_timeouts)),
            ("proxy_refused", get(&self.proxy_refused)),
            ("conn_total", get(&self.conn_total)),
            ("conn_refuse", get(&self.conn_refuse)),
            ("conn_accept", get(&self.conn_accept)),
            ("closed", get(&self.closed)),
            ("bad_requests", get(&self.bad_requests)),
            ("access_log_dropped", get(&self.log_dropped)),
            ("panics", get(&self.panics)),
        ];
        let names = [
            "responses_other",
            "responses_1xx",
            "responses_2xx",
            "responses_3xx",
            "responses_4xx",
            "responses_5xx",
        ];
        for (name, counter) in names.iter().zip(self.responses.iter()) {
            out.push((name, get(counter)));
        }
        out
    }
}

/// Log lines for the Python side's `logging`, drained by it once in a while; bounded, so a
/// flood of failures costs a counter, not memory.
#[derive(Debug, Default)]
pub struct Messages {
    queue: Mutex<VecDeque<(u8, String)>>,
    pub dropped: AtomicU64,
}

pub const WARNING: u8 = 30;
pub const ERROR: u8 = 40;
pub const DEBUG: u8 = 10;
const MAX_MESSAGES: usize = 1024;

impl Messages {
    pub fn push(&self, level: u8, message: String) {
        let mut queue = self
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if queue.len() >= MAX_MESSAGES {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        queue.push_back((level, message));
    }

    pub fn drain(&self) -> Vec<(u8, String)> {
        let mut queue = self
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        queue.drain(..).collect()
    }
}
