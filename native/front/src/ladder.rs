//! The native ladder as the front's request filter: decide in Rust first, hand to the
//! Python side only what the native ladder cannot finish.
//!
//! [`LadderPhases`] wraps the Python side's filter (the `fallback`). For each request it
//! builds the canonical request from the head (the same [`Canonicalizer`] the Python side
//! uses), runs the [`Ladder`] over it with the site's [ban view](BanView) and the time now,
//! and then:
//!
//! - a pass is forwarded (or served from the files) at once, with the canonical target and
//!   headers and the client as the Python side would give them: no GIL;
//! - a banned client gets the ban response at once;
//! - anything else goes to the fallback, which decides the whole request again: a request
//!   with no safe canonical form (the Python side counts hostile ones and answers 400), a
//!   target that is not a path or has a fragment, a missing `Host`, forwarding headers from
//!   a peer that is not a trusted proxy (the Python side warns about those), and every
//!   [`Outcome::Python`] of the ladder.
//!
//! A check request on the decision listener is decided by [`crate::checks`] over the same
//! site, or handed to the fallback likewise.
//!
//! The counts of what was decided here reach the Python side's metrics through
//! [`LadderCounts`]. Without a [`LadderSite`] (none given, or the Python side cannot trust
//! a native decision for its site) every request goes to the fallback.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use stockade_core::addr::{Addr, format_v4, format_v6};
use stockade_core::bans::BanView;
use stockade_core::canonical::HttpVersion;
use stockade_core::ipset::IpSet;
use stockade_core::ladder::{Aside, Detection, Ladder, Outcome, SiteBlock};
use stockade_core::request::Connection;
use stockade_core::{Canonicalizer, RawRequest, Request};

use crate::checks::{CheckCounts, DecisionSite, decide_check};
use crate::phases::{Answer, ConnFacts, Decision, Filtered, Forward, Phases, RequestView};

/// What serves a request that passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The site's upstream of this index.
    Upstream(usize),
    /// The document root (`GET` and `HEAD` only; other methods go to the fallback).
    Files,
}

/// The response a banned client gets, without `Retry-After` (added per request).
#[derive(Debug, Clone, Default)]
pub struct BanAnswer {
    pub status: u16,
    pub headers: Vec<(Bytes, Bytes)>,
    pub body: Bytes,
}

/// What the native ladder reads of a site, built by the Python side at load and reload.
#[derive(Debug)]
pub struct LadderSite {
    pub canonicalizer: Canonicalizer,
    pub ladder: Ladder,
    /// mod_block (`None`: the site has none).
    pub block: Option<SiteBlock>,
    pub bans: Arc<BanView>,
    /// Where a request that passed goes; `None`: the site is neither proxied nor files
    /// (only check requests are decided here).
    pub route: Option<Route>,
    pub ban_answer: BanAnswer,
    /// The decision listener's settings, when the site has one.
    pub decision: Option<DecisionSite>,
    /// mod_block's IP blocklist, met by the client of each check request and middleware
    /// request (a front's own connections meet it when they are accepted).
    pub blocklist: Option<Arc<IpSet>>,
}

/// The requests decided here, by outcome (the Python side adds them to its metrics).
#[derive(Debug, Default)]
pub struct LadderCounts {
    pub allowed: AtomicU64,
    pub banned: AtomicU64,
    /// Handed to the fallback.
    pub python: AtomicU64,
    /// Check requests answered here.
    pub checks: CheckCounts,
}

/// The request filter: the native ladder, then the fallback; see the module documentation.
#[derive(Debug)]
pub struct LadderPhases<P> {
    site: ArcSwapOption<LadderSite>,
    fallback: P,
    pub counts: Arc<LadderCounts>,
}

impl<P: Phases> LadderPhases<P> {
    pub fn new(fallback: P, site: Option<Arc<LadderSite>>) -> Self {
        Self {
            site: ArcSwapOption::new(site),
            fallback,
            counts: Arc::default(),
        }
    }

    /// Put a new site in force (`None`: every request to the fallback).
    pub fn swap(&self, site: Option<Arc<LadderSite>>) {
        self.site.store(site);
    }

    pub fn fallback(&self) -> &P {
        &self.fallback
    }
}

impl<P: Phases> Phases for LadderPhases<P> {
    fn admit(&self, facts: &ConnFacts) -> bool {
        self.fallback.admit(facts)
    }

    fn request_filter(&self, view: &RequestView<'_>) -> Filtered {
        if view.facts.admin {
            // The admin API and the console answer there, never the site's checks.
            return self.fallback.request_filter(view);
        }
        if view.facts.decision {
            // A check request describes another request.
            let site = self.site.load();
            let decision = site.as_ref().and_then(|site| {
                let settings = site.decision.as_ref()?;
                decide_check(site, settings, view, now(), &self.counts.checks)
            });
            return match decision {
                Some(decision) => Filtered::Ready(decision),
                None => self.fallback.request_filter(view),
            };
        }
        if let Some(site) = self.site.load().as_ref() {
            if let Some(decision) = decide(site, view, now(), &self.counts) {
                return Filtered::Ready(decision);
            }
            self.counts.python.fetch_add(1, Ordering::Relaxed);
        }
        self.fallback.request_filter(view)
    }

    fn body_filter(&self, view: &RequestView<'_>, body: Bytes, uninspected: u64) -> Filtered {
        self.fallback.body_filter(view, body, uninspected)
    }
}

/// Seconds since the epoch: the time a request is decided at (the Python side's clock is
/// the system's whenever a site is given; see `stockade.server.native_ladder`).
fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64())
}

pub(crate) fn addr_of(address: std::net::IpAddr) -> Addr {
    match address {
        std::net::IpAddr::V4(v4) => Addr::V4(u32::from(v4)),
        std::net::IpAddr::V6(v6) => Addr::from_u128(u128::from(v6)),
    }
}

pub(crate) fn spell(address: Addr) -> String {
    match address {
        Addr::V4(v4) => format_v4(v4),
        Addr::V6(v6) => format_v6(v6),
    }
}

/// The native decision of one request, or `None` for the fallback.
pub fn decide(
    site: &LadderSite,
    view: &RequestView<'_>,
    now: f64,
    counts: &LadderCounts,
) -> Option<Decision> {
    let route = site.route?;
    let head = view.head;
    let target = head.target();
    if target.first() != Some(&b'/') || memchr::memchr(b'#', target).is_some() {
        // Absolute-form and `*` (the Python side reads the authority), and a fragment (it
        // drops it, as the target's parser does).
        return None;
    }
    let (path, query) = match memchr::memchr(b'?', target) {
        Some(at) => (target.get(..at)?, target.get(at + 1..)?),
        None => (target, &b""[..]),
    };
    let lines: Vec<(&[u8], &[u8])> = head.headers().collect();
    let raw = RawRequest {
        method: head.method(),
        path,
        query,
        headers: &lines,
        peer: Some(addr_of(view.facts.client().ip())),
        secure: view.facts.tls.is_some(),
        version: HttpVersion::parse(head.version().as_bytes())?,
        body: None,
    };
    let request = site.canonicalizer.canonicalize(&raw).ok()?;
    if request.host.name.is_empty() || (request.client.forwarded && !request.client.trusted) {
        return None;
    }
    if matches!(site.ladder.detection, Detection::Native(_)) && request.target.as_ref() != path {
        // Rewritten by the canonical form: detection reads the path as sent too, which the
        // native hook is not given (rare: an ordinary path is already canonical).
        return None;
    }
    let aside = Aside::default();
    let outcome = site
        .ladder
        .decide(&request, &site.bans.load(), now, |request| match &site.block {
            None => Ok(None),
            Some(block) => block.check(request, connection(view), now, &aside).map(Some),
        });
    let commit = |hit| site.block.as_ref().is_none_or(|block| block.commit(aside, hit));
    match outcome {
        Outcome::Pass { block_rule, allowed } => {
            let hit = match (block_rule, allowed) {
                (None, _) => None,
                (Some(rule), true) => Some((rule, false)),
                // A matched rule of another command (made in code): the Python side's.
                (Some(_), false) => return None,
            };
            let decision = pass(route, &request, query)?;
            if !commit(hit) {
                return None;
            }
            counts.allowed.fetch_add(1, Ordering::Relaxed);
            Some(decision)
        }
        Outcome::Close { rule } => commit(Some((rule, true))).then_some(Decision::Close),
        Outcome::Banned { retry_after, .. } => {
            counts.banned.fetch_add(1, Ordering::Relaxed);
            let answer = &site.ban_answer;
            let mut headers = answer.headers.clone();
            if let Some(seconds) = retry_after {
                headers.push((
                    Bytes::from_static(b"retry-after"),
                    Bytes::from(seconds.to_string()),
                ));
            }
            Some(Decision::Respond(Answer {
                status: answer.status,
                headers,
                body: answer.body.clone(),
            }))
        }
        _ => None,
    }
}

/// The connection's facts, as conditions read them.
fn connection<'v>(view: &'v RequestView<'_>) -> Connection<'v> {
    let tls = view.facts.tls.as_ref();
    Connection {
        vip: Some(addr_of(view.facts.local.ip())),
        sni: tls.and_then(|tls| tls.sni.as_deref()).map(str::as_bytes),
        client_auth: tls.is_some_and(|tls| tls.client_auth),
        client_ca: tls.and_then(|tls| tls.client_ca.as_deref()).map(str::as_bytes),
        environ_names: false,
    }
}

/// Where a request that passed goes, as the Python side sends it.
fn pass(route: Route, request: &Request<'_>, query: &[u8]) -> Option<Decision> {
    match route {
        Route::Files => {
            if !matches!(request.method, b"GET" | b"HEAD") {
                return None; // 405, answered by the Python side
            }
            Some(Decision::Files {
                path: request.path.clone().into_owned(),
                on_response: None,
            })
        }
        Route::Upstream(upstream) => {
            let target = match &request.target {
                std::borrow::Cow::Borrowed(_) => None,
                std::borrow::Cow::Owned(canonical) => {
                    let mut target = canonical.clone();
                    if !query.is_empty() {
                        target.push(b'?');
                        target.extend_from_slice(query);
                    }
                    Some(Bytes::from(target))
                }
            };
            let headers = request.headers_changed.then(|| {
                request
                    .headers
                    .iter()
                    .map(|h| (Bytes::copy_from_slice(&h.name), Bytes::copy_from_slice(&h.value)))
                    .collect()
            });
            let client = request.client;
            Some(Decision::Forward(Forward {
                upstream,
                target,
                headers,
                peer: client.peer.map(spell),
                trusted: client.trusted,
                real_ip: client.address.map(spell),
                ..Forward::default()
            }))
        }
    }
}
