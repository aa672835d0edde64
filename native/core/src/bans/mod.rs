//! The ban view: every active ban of a store, held in memory so that no request waits on it.
//!
//! The Python side owns the stores and their change feeds; each change it learns of (a
//! strike that banned, a ban by hand, an unban, a sweep, a notification from another
//! process) is [`BanView::set`] here, and a whole load (start-up, a feed that caught up) is
//! [`BanView::replace_all`]. A request asks [`BanView::peek`] with the time it was decided
//! at: no clock is read inside a decision.
//!
//! Two kinds of bans, as the store keeps them:
//!
//! - a ban key: an IPv4 address, an IPv6 address, or an IPv6 prefix (`2001:db8::/64`, what
//!   strikes count against when `ipv6_prefix` aggregates). A key that is none of these (the
//!   dry-run and response-rule counts, `dry|198.51.100.7`) is held as text and never
//!   matches a client;
//! - a network banned by hand (`198.51.100.0/24`), which covers every address inside.
//!
//! A client is an [`Addr`]: IPv4-mapped IPv6 is IPv4 already, so `::ffff:198.51.100.7`
//! meets the bans of `198.51.100.7`. A ban key or network is read as the Python side reads
//! it: an IPv6 spelling stays IPv6 (the stores write IPv4 bans in IPv4 spelling).
//!
//! Readers never lock: the view is an immutable [`Snapshot`] behind an atomic pointer.
//! Writers (one at a time) build the next snapshot and swap it in. So that one change in a
//! view of a million bans does not copy a million entries, a snapshot is a shared `base`
//! plus a small `delta` of the changes since; the delta is folded into a new base once it
//! grows past about the square root of the base. A ban is dropped only by a change that
//! says so (an unban, a sweep, a load without it): an ended ban stays until then, and its
//! end makes it inactive.
//!
//! Past `capacity` ban keys, or while the change feed is lost, the view is not complete and
//! every answer is [`Peek::Ask`]: the store decides.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;

use crate::addr::{Addr, parse_v4, parse_v6};

#[cfg(test)]
mod tests;

/// A ban key, as a client's requests count against it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BanKey {
    V4(u32),
    /// An IPv6 address (prefix 128) or an IPv6 prefix, host bits clear.
    V6(u128, u8),
    /// Anything else: held, counted against the capacity, never matched.
    Text(Box<str>),
}

impl BanKey {
    /// The key of a ban record's text (see the module documentation).
    pub fn parse(text: &str) -> Self {
        let bytes = text.as_bytes();
        let parsed = match text.split_once('/') {
            None if text.contains(':') => parse_v6(bytes).map(|v| BanKey::V6(v, 128)),
            None => parse_v4(bytes).map(BanKey::V4),
            Some((address, length)) if address.contains(':') => {
                // Only the prefixes `ban_key` writes: shorter than 128, host bits clear.
                let prefix = digits(length).filter(|&p| p < 128);
                match (parse_v6(address.as_bytes()), prefix) {
                    (Some(value), Some(prefix)) if value & !mask128(prefix) == 0 => {
                        Some(BanKey::V6(value, prefix))
                    }
                    _ => None,
                }
            }
            Some(_) => None,
        };
        parsed.unwrap_or_else(|| BanKey::Text(text.into()))
    }

    /// The key a client's requests count against (`ipv6_prefix` aggregates IPv6).
    pub fn of(client: Addr, ipv6_prefix: u8) -> Self {
        match client {
            Addr::V4(v4) => BanKey::V4(v4),
            Addr::V6(v6) if ipv6_prefix >= 128 => BanKey::V6(v6, 128),
            Addr::V6(v6) => BanKey::V6(v6 & mask128(ipv6_prefix), ipv6_prefix),
        }
    }
}

/// A network banned by hand: its family, prefix length and value (host bits masked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Network {
    pub v6: bool,
    pub prefix: u8,
    pub value: u128,
}

impl Network {
    /// `a.b.c.d/n` or `v6/n`, host bits masked as the Python side masks them; else `None`.
    pub fn parse(text: &str) -> Option<Self> {
        let (address, length) = text.split_once('/')?;
        let prefix = digits(length)?;
        if address.contains(':') {
            let value = parse_v6(address.as_bytes())?;
            (prefix <= 128).then(|| Network {
                v6: true,
                prefix,
                value: value & mask128(prefix),
            })
        } else {
            let value = parse_v4(address.as_bytes())?;
            (prefix <= 32).then(|| Network {
                v6: false,
                prefix,
                value: u128::from(value & mask32(prefix)),
            })
        }
    }

    fn holding(client: Addr, v6: bool, prefix: u8) -> Option<u128> {
        match client {
            Addr::V4(v4) if !v6 && prefix <= 32 => Some(u128::from(v4 & mask32(prefix))),
            Addr::V6(value) if v6 => Some(value & mask128(prefix)),
            _ => None,
        }
    }
}

/// A decimal prefix length (leading zeros allowed, as `int()` reads one).
fn digits(text: &str) -> Option<u8> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = text.trim_start_matches('0');
    if trimmed.len() > 3 {
        return None;
    }
    trimmed
        .parse::<u16>()
        .ok()
        .map_or(Some(0), |v| u8::try_from(v).ok())
}

fn mask128(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix.min(128)))
    }
}

fn mask32(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    }
}

/// What the view says of a client.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Peek {
    /// The view cannot tell (incomplete, or the feed is lost): ask the store.
    Ask,
    NotBanned,
    /// Banned until then (seconds since the epoch; infinity for ever).
    Banned(f64),
}

/// Whether a ban with this end is in force at `now` (as the Python side has it: `until - now > 0`).
fn active(until: f64, now: f64) -> bool {
    until - now > 0.0
}

/// The bans of networks: one hash probe per (family, prefix length) in use.
#[derive(Debug, Clone, Default)]
struct Networks {
    by_length: Vec<((bool, u8), HashMap<u128, f64>)>,
    /// The texts the networks were banned under (a change with an unknown kind looks here).
    keys: HashSet<Box<str>>,
}

impl Networks {
    fn set(&mut self, key: &str, until: Option<f64>) {
        if until.is_some() {
            self.keys.insert(key.into());
        } else {
            self.keys.remove(key);
        }
        let Some(network) = Network::parse(key) else {
            return;
        };
        let slot = (network.v6, network.prefix);
        let at = self.by_length.iter().position(|(s, _)| *s == slot);
        match (until, at) {
            (Some(until), Some(at)) => {
                if let Some((_, table)) = self.by_length.get_mut(at) {
                    table.insert(network.value, until);
                }
            }
            (Some(until), None) => {
                self.by_length
                    .push((slot, HashMap::from([(network.value, until)])));
            }
            (None, Some(at)) => {
                if let Some((_, table)) = self.by_length.get_mut(at) {
                    table.remove(&network.value);
                    if table.is_empty() {
                        self.by_length.swap_remove(at);
                    }
                }
            }
            (None, None) => {}
        }
    }

    /// The latest end among the active network bans holding `client`.
    fn lookup(&self, client: Addr, now: f64) -> Option<f64> {
        let mut best: Option<f64> = None;
        for ((v6, prefix), table) in &self.by_length {
            let Some(value) = Network::holding(client, *v6, *prefix) else {
                continue;
            };
            match table.get(&value) {
                Some(&until) if active(until, now) && best.is_none_or(|b| until > b) => {
                    best = Some(until);
                }
                _ => {}
            }
        }
        best
    }

    fn len(&self) -> usize {
        self.keys.len()
    }
}

/// The ban keys: a shared base and the changes since (`None`: dropped).
#[derive(Debug, Clone, Default)]
struct Keys {
    base: Arc<HashMap<BanKey, f64>>,
    delta: HashMap<BanKey, Option<f64>>,
    len: usize,
}

impl Keys {
    fn get(&self, key: &BanKey) -> Option<f64> {
        match self.delta.get(key) {
            Some(changed) => *changed,
            None => self.base.get(key).copied(),
        }
    }

    fn set(&mut self, key: BanKey, until: Option<f64>) {
        let had = self.get(&key).is_some();
        match (had, until.is_some()) {
            (false, true) => self.len += 1,
            (true, false) => self.len -= 1,
            _ => {}
        }
        if until.is_some() || self.base.contains_key(&key) {
            self.delta.insert(key, until);
        } else {
            self.delta.remove(&key);
        }
        if self.delta.len() > fold_after(self.base.len()) {
            self.fold();
        }
    }

    fn fold(&mut self) {
        let mut base = HashMap::clone(&self.base);
        for (key, until) in self.delta.drain() {
            match until {
                Some(until) => base.insert(key, until),
                None => base.remove(&key),
            };
        }
        self.base = Arc::new(base);
    }
}

/// The delta folds into the base past about twice the square root of the base.
fn fold_after(base: usize) -> usize {
    64 + 2 * base.isqrt()
}

/// The view as one reader sees it; see the module documentation.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    keys: Keys,
    networks: Arc<Networks>,
    trusted: bool,
    overflow: bool,
}

impl Snapshot {
    /// Whether every answer comes from the view (it holds every ban and its feed flows).
    pub fn complete(&self) -> bool {
        self.trusted && !self.overflow
    }

    /// Whether `client` (whose requests count against `ipv6_prefix`) is banned at `now`.
    pub fn peek(&self, client: Addr, ipv6_prefix: u8, now: f64) -> Peek {
        self.peek_key(Some(client), &BanKey::of(client, ipv6_prefix), now)
    }

    /// [`Snapshot::peek`] with the ban key given (the Python side computes it).
    pub fn peek_key(&self, client: Option<Addr>, key: &BanKey, now: f64) -> Peek {
        if !self.complete() {
            return Peek::Ask;
        }
        let mut best = self.keys.get(key).filter(|&until| active(until, now));
        if let Some(covering) = client.and_then(|client| self.networks.lookup(client, now)) {
            if best.is_none_or(|b| covering > b) {
                best = Some(covering);
            }
        }
        best.map_or(Peek::NotBanned, Peek::Banned)
    }

    /// How many bans the view holds (ban keys and networks).
    pub fn len(&self) -> usize {
        self.keys.len + self.networks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Every active ban; see the module documentation.
#[derive(Debug)]
pub struct BanView {
    current: ArcSwap<Snapshot>,
    writer: Mutex<()>,
    capacity: usize,
}

impl BanView {
    pub fn new(capacity: usize, trusted: bool) -> Self {
        Self {
            current: ArcSwap::from_pointee(Snapshot {
                trusted,
                ..Snapshot::default()
            }),
            writer: Mutex::new(()),
            capacity,
        }
    }

    /// The view now (a reader keeps it for one decision).
    pub fn load(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.current.load()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The new end of the ban under `key` (`None`: no ban); `network` is `None` when the
    /// kind is not known (a network if one was banned under that text).
    pub fn set(&self, key: &str, until: Option<f64>, network: Option<bool>) {
        self.change(|next| {
            if network == Some(true) || (network.is_none() && next.networks.keys.contains(key)) {
                Arc::make_mut(&mut next.networks).set(key, until);
                return;
            }
            let key = BanKey::parse(key);
            if until.is_some() && next.keys.get(&key).is_none() && next.keys.len >= self.capacity {
                next.overflow = true;
                return;
            }
            next.keys.set(key, until);
        });
    }

    /// Load every ban at once; the view is complete again (unless over capacity). Readers
    /// meanwhile see the previous view, never a half-loaded one.
    pub fn replace_all<'a>(&self, records: impl IntoIterator<Item = (&'a str, f64, bool)>) {
        let mut base = HashMap::new();
        let mut networks = Networks::default();
        let mut overflow = false;
        for (key, until, network) in records {
            if network {
                networks.set(key, Some(until));
            } else if base.len() < self.capacity {
                base.insert(BanKey::parse(key), until);
            } else {
                overflow = true;
            }
        }
        self.change(|next| {
            next.keys = Keys {
                len: base.len(),
                base: Arc::new(base),
                delta: HashMap::new(),
            };
            next.networks = Arc::new(networks);
            next.overflow = overflow;
        });
    }

    /// Whether the change feed flows (a view that lost it answers [`Peek::Ask`]).
    pub fn trusted(&self) -> bool {
        self.current.load().trusted
    }

    pub fn set_trusted(&self, trusted: bool) {
        self.change(|next| next.trusted = trusted);
    }

    /// Drop everything (the feed was lost); `trusted` says whether it flows again.
    pub fn forget(&self, trusted: bool) {
        self.change(|next| {
            *next = Snapshot {
                trusted,
                ..Snapshot::default()
            };
        });
    }

    fn change(&self, edit: impl FnOnce(&mut Snapshot)) {
        let _writing = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut next = Snapshot::clone(&self.current.load());
        edit(&mut next);
        self.current.store(Arc::new(next));
    }
}
