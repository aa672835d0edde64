//! `stockade replay`'s fast path: [`ReplayLog`] decides the clean lines of a combined
//! access log through the site's native ladder and writes their JSON lines, and hands back
//! to the Python driver the first line it cannot finish (see `stockade.replay`).
//!
//! A line is finished here only when its whole outcome is known without Python: a printable
//! ASCII combined-log line with a strict time, before the driver's next sweep, from an
//! IPv4 client the driver told is not banned (`set_status`, with its strikes), or one it
//! never saw (`safe`), a status no response rule counts, a target with a canonical form, a
//! connection the blocklist lets in and a request the ladder passes without a mod_block
//! rule, a ban, a detection hit or a lockout directory. Nothing is counted for a line
//! handed back: the driver decides it from the start, as before.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use pyo3::prelude::*;
use stockade_core::Addr;
use stockade_core::addr::parse_v4;
use stockade_core::canonical::{HttpVersion, RawRequest};
use stockade_core::json_text::{Beyond, push_json_str};
use stockade_core::ladder::{Aside, LadderRequest, Outcome};
use stockade_core::replay::{combined, log_time, push_seconds, trim};
use stockade_core::request::Connection;
use stockade_front::ladder::LadderSite;

use crate::errors::guard;
use crate::ladder::NativeLadder;

/// What the driver told of a client's ban status.
#[derive(Debug, Clone)]
enum Known {
    /// Only the driver can tell (banned, or a ban that ended and awaits the sweep).
    Python,
    /// Not banned, with the times of its strikes: `ip_status` is `warning` and how many
    /// of them are still in the window, or `safe` for none (as `stockade.core.bans.status`).
    Strikes(Vec<f64>),
}

#[derive(Debug)]
struct State {
    site: Arc<LadderSite>,
    statuses: HashMap<u32, Known>,
}

/// The fast path of one replay (see `_native.pyi`).
#[pyclass(frozen, module = "stockade._native")]
#[derive(Debug)]
pub struct ReplayLog {
    state: Mutex<State>,
    /// `[bans] window`: how long a strike counts.
    window: f64,
    /// The statuses the response rules count (those lines go to the driver).
    watched: Vec<u16>,
}

/// What [`ReplayLog::run`] made of a batch.
struct Batch {
    out: String,
    at: usize,
    lines: usize,
    now: f64,
}

/// A canonical dotted quad (no leading zero): the address, when its text is the one
/// Python normalises to.
fn dotted_quad(text: &[u8]) -> Option<u32> {
    let address = parse_v4(text)?;
    let canonical = text
        .split(|&b| b == b'.')
        .all(|part| part.len() == 1 || part.first() != Some(&b'0'));
    canonical.then_some(address)
}

impl State {
    /// The JSON lines of one log line, or `None` when the driver must read it.
    fn line(
        &self,
        line: &[u8],
        now: f64,
        next_sweep: f64,
        this: &ReplayLog,
        seconds: &mut String,
        out: &mut String,
    ) -> Option<f64> {
        if line.first() == Some(&b'{') {
            return None;
        }
        let found = combined(line)?;
        let at = log_time(found.time)?;
        seconds.clear();
        if !push_seconds(seconds, at) {
            return None;
        }
        #[allow(
            clippy::cast_precision_loss,
            reason = "whole seconds of years 2 to 9998: exact"
        )]
        let clock = (at as f64).max(now);
        if clock >= next_sweep || this.watched.contains(&found.status) {
            return None;
        }
        let address = dotted_quad(found.ip)?;
        let ip_status = match self.statuses.get(&address) {
            None => None,
            Some(Known::Python) => return None,
            Some(Known::Strikes(strikes)) => {
                // Python's `not now - t > window`: a strike counts unless it is older.
                let live = strikes
                    .iter()
                    .filter(|&&t| (clock - t).partial_cmp(&this.window) != Some(Ordering::Greater))
                    .count();
                (live > 0).then_some(live)
            }
        };
        if found.target.contains(&b'#') {
            return None;
        }
        let version = match found.proto {
            None | Some(b"HTTP/1.0") => HttpVersion::Http10,
            Some(b"HTTP/1.1") => HttpVersion::Http11,
            Some(_) => return None,
        };
        let (path, query) = match found.target.iter().position(|&b| b == b'?') {
            Some(mark) => (found.target.get(..mark)?, found.target.get(mark + 1..)?),
            None => (found.target, &b""[..]),
        };
        // At most the two headers a combined log records, without an allocation.
        let mut pairs: [(&[u8], &[u8]); 2] = [(b"", b""); 2];
        let mut count = 0;
        for (name, value) in [
            (&b"referer"[..], found.referer),
            (&b"user-agent"[..], found.agent),
        ] {
            if let (Some(value), Some(slot)) = (value.filter(|value| !value.is_empty()), pairs.get_mut(count))
            {
                *slot = (name, value);
                count += 1;
            }
        }
        let headers = pairs.get(..count).unwrap_or_default();
        let site = &self.site;
        let peer = Some(Addr::V4(address));
        let request = site
            .canonicalizer
            .canonicalize(&RawRequest {
                method: found.method,
                path,
                query,
                headers,
                peer,
                secure: false,
                version,
                body: None,
            })
            .ok()?;
        let connection = Connection::default();
        let aside = Aside::default();
        if site.block.is_some() {
            let listed = site
                .blocklist
                .as_ref()
                .is_some_and(|list| list.contains(Addr::V4(address)));
            if aside.connection(listed) {
                return None;
            }
        }
        let outcome = site
            .ladder
            .decide(&request, &site.bans.load(), clock, |request| match &site.block {
                None => Ok(None),
                Some(block) => block.check(request, connection, clock, &aside).map(Some),
            });
        if outcome
            != (Outcome::Pass {
                block_rule: None,
                allowed: false,
            })
        {
            return None;
        }
        if let Some(block) = &site.block {
            block.commit(aside, None);
        }
        let ip = std::str::from_utf8(found.ip).ok()?;
        out.push_str("{\"at\": ");
        out.push_str(seconds);
        out.push_str(", \"type\": \"connection\", \"ip\": \"");
        out.push_str(ip);
        out.push_str("\", \"decision\": \"accepted\"}\n{\"at\": ");
        out.push_str(seconds);
        out.push_str(", \"type\": \"request\", \"ip\": \"");
        out.push_str(ip);
        out.push_str("\", \"path\": ");
        push_json_str(out, request.path(), Beyond::Escaped);
        out.push_str(
            ", \"decision\": \"passed_through\", \"status\": null, \"rule\": null, \"malicious\": null, \"ip_status\": ",
        );
        match ip_status {
            None => out.push_str("\"safe\""),
            Some(count) => {
                // Writing an integer into a String cannot fail.
                let _ = write!(out, "\"warning {count}\"");
            }
        }
        out.push_str(", \"events\": []}\n");
        Some(clock)
    }
}

impl ReplayLog {
    fn batch(&self, data: &[u8], start: usize, mut now: f64, next_sweep: f64, last: bool) -> Batch {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        // About twice the input's size comes out for clean lines, and a batch ends at the
        // next line for the driver (one in 50 in a usual log): room for a typical batch.
        let mut out =
            String::with_capacity(data.len().saturating_sub(start).saturating_mul(5).min(1 << 17) / 2);
        let mut seconds = String::with_capacity(24);
        let mut at = start;
        let mut lines = 0;
        while let Some(rest) = data.get(at..) {
            if rest.is_empty() {
                break;
            }
            let (line, next) = match memchr_newline(rest) {
                Some(end) => (rest.get(..end).unwrap_or_default(), at + end + 1),
                None if last => (rest, data.len()),
                None => break,
            };
            let text = trim(line);
            if text.is_empty() || text.first() == Some(&b'#') {
                // Blank lines and comments: nothing, as in the driver (unless it is not
                // ASCII: then only the driver can tell what its strip leaves).
                if !line.is_ascii() {
                    break;
                }
            } else {
                let mark = out.len();
                match state.line(text, now, next_sweep, self, &mut seconds, &mut out) {
                    Some(clock) => now = clock,
                    None => {
                        out.truncate(mark);
                        break;
                    }
                }
            }
            at = next;
            lines += 1;
        }
        Batch { out, at, lines, now }
    }
}

/// Seconds since the epoch of a log time in its strict spelling (see `_native.pyi`).
#[pyfunction]
pub fn replay_log_time(text: &str) -> Option<f64> {
    #[allow(
        clippy::cast_precision_loss,
        reason = "whole seconds of years 2 to 9998: exact"
    )]
    log_time(text.as_bytes()).map(|seconds| seconds as f64)
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

#[pymethods]
impl ReplayLog {
    #[new]
    #[pyo3(signature = (ladder, *, window, watched=Vec::new()))]
    fn new(ladder: PyRef<'_, NativeLadder>, window: f64, watched: Vec<u16>) -> Self {
        Self {
            state: Mutex::new(State {
                site: Arc::clone(&ladder.site),
                statuses: HashMap::new(),
            }),
            window,
            watched,
        }
    }

    /// Put another ladder in force (after a reload); the statuses stay.
    fn set_ladder(&self, ladder: PyRef<'_, NativeLadder>) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).site = Arc::clone(&ladder.site);
    }

    /// What the driver knows of a client's ban status (see `_native.pyi`).
    fn set_status(&self, ip: &str, strikes: Option<Vec<f64>>) {
        let Some(address) = dotted_quad(ip.as_bytes()) else {
            return;
        };
        let known = strikes.map_or(Known::Python, Known::Strikes);
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .statuses
            .insert(address, known);
    }

    /// Replay the lines of `data` from `start` (see `_native.pyi`): `(output, at, lines, now)`.
    #[pyo3(signature = (data, start, now, next_sweep, *, last=false))]
    fn run(
        &self,
        py: Python<'_>,
        data: &[u8],
        start: usize,
        now: f64,
        next_sweep: f64,
        last: bool,
    ) -> PyResult<(String, usize, usize, f64)> {
        guard(py, || {
            let batch = py.detach(|| self.batch(data, start, now, next_sweep, last));
            Ok((batch.out, batch.at, batch.lines, batch.now))
        })
    }
}
