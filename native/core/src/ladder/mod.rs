//! The ladder: the order of the checks, over the native canonical request.
//!
//! The same order as the Python ladder (`stockade.engine._async.ladder`), after the
//! connection blocklist let the connection in:
//!
//! 1. the bans' exemptions: no client, bans off, an allow-listed client, an ignored path
//!    (an exempt request is never refused by a ban nor inspected);
//! 2. bans, from the [`ban view`](crate::bans): a banned client is refused at once;
//! 3. mod_block (given as a closure: the front owns the table in force and the product);
//!    `CLOSE` ends the request, `ALLOW` ends mod_block only;
//! 4. detection, through the [`Detect`] hook: a hit must count a strike in the store;
//! 5. lockout directories: a path under a directory with a gate needs the password check.
//!
//! The ladder decides only what it can finish without Python. Everything else is
//! [`Outcome::Python`], and the front hands the request to the Python ladder, which takes
//! the whole decision again from the start: a ban the view cannot tell (incomplete view,
//! lost feed), a ban when the operator listens to its events, an ignore pattern (a Python
//! regular expression), detection without a native hook or with a hit, a lockout
//! directory. So a native answer is always the Python ladder's answer, and `Python` is
//! never wrong, only slower.
//!
//! No clock is read here: the caller gives `now`.

use std::sync::Arc;

use crate::addr::Addr;
use crate::bans::{Peek, Snapshot};
use crate::block::Outcome as Block;
use crate::ipset::IpSet;
use crate::request::Request;

mod block;
#[cfg(test)]
mod tests;

pub use block::{Aside, SiteBlock};

/// What detection says of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectOutcome {
    Clean,
    /// A rule fired: a strike must be counted (Python's work).
    Hit,
}

/// The detection engine, as the ladder calls it.
pub trait Detect: Send + Sync + std::fmt::Debug {
    fn inspect(&self, request: &Request<'_>) -> DetectOutcome;
}

/// How the ladder treats detection.
#[derive(Debug, Clone, Default)]
pub enum Detection {
    /// Off (bans disabled, no rule): nothing to inspect.
    #[default]
    Off,
    /// On, but only the Python side can inspect (or it samples, or it reports every clean
    /// request as an event): every request that would be inspected goes to Python.
    Python,
    /// On, with a native engine.
    Native(Arc<dyn Detect>),
}

/// What a request is decided on: the client, the path, and the canonical request itself
/// (for detection), when there is one.
pub trait LadderRequest {
    /// The client the guard believes (IPv4-mapped IPv6 as IPv4); `None` when unknown.
    fn client(&self) -> Option<Addr>;
    /// The canonical path, decoded.
    fn path(&self) -> &str;
    /// What a native detection engine says of the canonical request; `None` when there is
    /// none to inspect.
    fn inspect(&self, engine: &dyn Detect) -> Option<DetectOutcome>;
}

impl LadderRequest for Request<'_> {
    fn client(&self) -> Option<Addr> {
        self.client.address
    }

    fn path(&self) -> &str {
        &self.path
    }

    fn inspect(&self, engine: &dyn Detect) -> Option<DetectOutcome> {
        Some(engine.inspect(self))
    }
}

/// Why the ladder handed a request to Python.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The ban view cannot tell: the store must be asked.
    BanUnknown,
    /// The client is banned, and the operator listens to `request_rejected`.
    BanEvent,
    /// An ignore pattern (a Python regular expression) may exempt the path.
    IgnorePattern,
    /// Detection inspects this request (no native engine, or it hit).
    Detection,
    /// The path is under a lockout directory: the password check is Python's.
    Lockout,
    /// A mod_block rule read what only the Python side holds (the body).
    Block,
}

/// The ladder's outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// To the application; the mod_block rule that matched (the counters name it), and
    /// whether it was an `ALLOW`.
    Pass { block_rule: Option<u32>, allowed: bool },
    /// A banned client: the ban's end, and the seconds to retry after (`None` for ever).
    Banned { until: f64, retry_after: Option<u64> },
    /// mod_block's `CLOSE`: no response.
    Close { rule: u32 },
    /// Python decides the whole request.
    Python(Why),
}

/// The settings of the ladder, built at load and reload.
#[derive(Debug, Clone, Default)]
pub struct Ladder {
    /// `[bans] enabled`: without it nothing is banned nor inspected.
    pub bans: bool,
    pub allow: IpSet,
    /// `[bans] ignore_paths`: path prefixes on segment boundaries.
    pub ignore_paths: Vec<String>,
    /// Whether `[bans] ignore_patterns` has any pattern.
    pub ignore_patterns: bool,
    pub ipv6_prefix: u8,
    /// Whether a refusal by a ban is an event someone listens to.
    pub ban_events: bool,
    pub detection: Detection,
    /// The lockout directories with a gate, normalised (`/secure`, `/`).
    pub directories: Vec<String>,
}

impl Ladder {
    /// Decide `request` at `now` with the ban view `bans`; `block` is mod_block's check
    /// (`Ok(None)`: no mod_block; `Err`: only Python can tell), called only when the
    /// request gets that far.
    pub fn decide<R: LadderRequest + ?Sized>(
        &self,
        request: &R,
        bans: &Snapshot,
        now: f64,
        block: impl FnOnce(&R) -> Result<Option<Block>, Why>,
    ) -> Outcome {
        let path = request.path();
        let client = request.client();
        // 1-2. Exemptions, then bans.
        let exempt = match client {
            None => true,
            Some(client) => {
                let exempt = !self.bans || self.allow.contains(client) || self.ignored(path);
                if !exempt && self.ignore_patterns {
                    return Outcome::Python(Why::IgnorePattern);
                }
                if !exempt {
                    match bans.peek(client, self.ipv6_prefix, now) {
                        Peek::Ask => return Outcome::Python(Why::BanUnknown),
                        Peek::Banned(_) if self.ban_events => return Outcome::Python(Why::BanEvent),
                        Peek::Banned(until) => {
                            return Outcome::Banned {
                                until,
                                retry_after: retry_after(until, now),
                            };
                        }
                        Peek::NotBanned => {}
                    }
                }
                exempt
            }
        };
        // 3. mod_block.
        let step = match block(request) {
            Ok(step) => step,
            Err(why) => return Outcome::Python(why),
        };
        let (block_rule, allowed) = match step {
            None | Some(Block::Pass(None)) => (None, false),
            Some(Block::Pass(rule)) => (rule, false),
            Some(Block::Allow(rule)) => (Some(rule), true),
            Some(Block::Close(rule)) => return Outcome::Close { rule },
        };
        // 4. Detection.
        if !exempt {
            match &self.detection {
                Detection::Off => {}
                Detection::Python => return Outcome::Python(Why::Detection),
                Detection::Native(engine) => {
                    if request.inspect(engine.as_ref()) != Some(DetectOutcome::Clean) {
                        return Outcome::Python(Why::Detection);
                    }
                }
            }
        }
        // 5. Lockout directories.
        if self.directories.iter().any(|d| under(path, d)) {
            return Outcome::Python(Why::Lockout);
        }
        Outcome::Pass { block_rule, allowed }
    }

    /// `[bans] ignore_paths`, as the Python side matches them.
    fn ignored(&self, path: &str) -> bool {
        self.ignore_paths.iter().any(|prefix| {
            prefix == "/"
                || path == prefix
                || (path.starts_with(prefix.as_str()) && path.as_bytes().get(prefix.len()) == Some(&b'/'))
        })
    }
}

/// Whether `path` is `directory` or under it (segment boundaries; `/` holds every path).
pub fn under(path: &str, directory: &str) -> bool {
    directory == "/"
        || path == directory
        || (path.starts_with(directory) && path.as_bytes().get(directory.len()) == Some(&b'/'))
}

/// The `Retry-After` of a ban ending at `until`: at least one second; `None` for ever.
pub fn retry_after(until: f64, now: f64) -> Option<u64> {
    if until.is_infinite() {
        return None;
    }
    let seconds = (until - now).ceil().max(1.0);
    // A float beyond u64 saturates, as `as` does: an end that far is for ever in practice.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "non-negative, saturating"
    )]
    Some(seconds as u64)
}
