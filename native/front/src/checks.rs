//! The native decision of a proxy's check request, on the decision listener.
//!
//! The same steps as the Python decision point (`stockade.decision.point`), in Rust: the
//! caller must be one of `[decision] proxies`; the check request's style gives the original
//! request ([`crate::decision`]); the canonical request is built with the decision point's
//! own trusted proxies and forwarding header, and must name its client in that header; the
//! blocklist meets that client; then the [`Ladder`](stockade_core::ladder::Ladder) decides.
//! An allowed request is answered `200` with the client and a decision id; a banned client
//! `403` with the ban's page and `Retry-After`.
//!
//! Whatever else (a caller that may not ask, a bad check, a refused canonical form, a
//! listed client, a body to read, a matched mod_block rule, any [`Outcome::Python`]) goes
//! to the Python decision point, which answers it from the start; nothing is counted here
//! for those, so the Python side counts each request once.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use stockade_core::canonical::HttpVersion;
use stockade_core::ipset::IpSet;
use stockade_core::ladder::{Aside, Detection, Outcome};
use stockade_core::request::Connection;
use stockade_core::{Canonicalizer, RawRequest};

use crate::decision::{original_request, style_for};
use crate::ladder::{LadderSite, addr_of, spell};
use crate::phases::{Answer, Decision, RequestView};

/// What the decision listener reads of a site, beside its ladder.
#[derive(Debug)]
pub struct DecisionSite {
    /// `[decision] proxies`: who may ask.
    pub proxies: IpSet,
    /// The decision point's canonical request: its trusted proxies and forwarding header.
    pub canonicalizer: Canonicalizer,
    /// Decision ids are `<prefix><number>` (the number in hex).
    pub prefix: String,
    pub ids: AtomicU64,
}

/// The check requests decided here, by outcome.
#[derive(Debug, Default)]
pub struct CheckCounts {
    pub allowed: AtomicU64,
    pub banned: AtomicU64,
}

const CLIENT_HEADER: &[u8] = b"x-stockade-client-ip";
const DECISION_HEADER: &[u8] = b"x-stockade-decision-id";

/// The native answer to a check request, or `None` for the Python decision point.
pub fn decide_check(
    site: &LadderSite,
    decision: &DecisionSite,
    view: &RequestView<'_>,
    now: f64,
    counts: &CheckCounts,
) -> Option<Decision> {
    let caller = addr_of(view.facts.peer.ip());
    if !decision.proxies.contains(caller) {
        return None;
    }
    let head = view.head;
    let (style, rest) = style_for(head.target())?;
    if style.body() && announces_body(view) {
        return None; // detection may read the original body
    }
    let original = original_request(style, head.method(), rest, head.headers()).ok()?;
    let lines: Vec<(&[u8], &[u8])> = original
        .headers
        .iter()
        .map(|(name, value)| (name.as_slice(), value.as_slice()))
        .collect();
    let raw = RawRequest {
        method: &original.method,
        path: &original.target,
        query: &original.query,
        headers: &lines,
        peer: Some(caller),
        secure: original.scheme == "https",
        version: HttpVersion::Http11,
        body: None,
    };
    let request = decision.canonicalizer.canonicalize(&raw).ok()?;
    // A check request must name its client: never decide on the asking proxy.
    request.client.header?;
    let client = request.client.address?;
    if matches!(site.ladder.detection, Detection::Native(_)) && request.target.as_ref() != original.target {
        return None;
    }
    let aside = Aside::default();
    if let (Some(blocklist), Some(_)) = (&site.blocklist, &site.block) {
        if aside.connection(blocklist.contains(client)) {
            return None;
        }
    }
    let outcome = site
        .ladder
        .decide(&request, &site.bans.load(), now, |request| match &site.block {
            None => Ok(None),
            // The Python decision point's request has no listener address and no TLS facts.
            Some(block) => block.check(request, Connection::default(), now, &aside).map(Some),
        });
    let id = Bytes::from(format!(
        "{}{:x}",
        decision.prefix,
        decision.ids.fetch_add(1, Ordering::Relaxed)
    ));
    let answer = match outcome {
        Outcome::Pass {
            block_rule: None,
            allowed: false,
        } => {
            counts.allowed.fetch_add(1, Ordering::Relaxed);
            Answer {
                status: 200,
                headers: vec![
                    (Bytes::from_static(CLIENT_HEADER), Bytes::from(spell(client))),
                    (Bytes::from_static(DECISION_HEADER), id),
                    (Bytes::from_static(b"content-length"), Bytes::from_static(b"0")),
                ],
                body: Bytes::new(),
            }
        }
        Outcome::Banned { retry_after, .. } => {
            counts.banned.fetch_add(1, Ordering::Relaxed);
            banned(site, retry_after, id)
        }
        _ => return None,
    };
    if let Some(block) = &site.block {
        block.commit(aside, None);
    }
    Some(Decision::Respond(answer))
}

/// A banned client's answer as a proxy must hear it: the ban's page, `403` unless the page
/// is a `401`, without the page's own framing.
fn banned(site: &LadderSite, retry_after: Option<u64>, id: Bytes) -> Answer {
    let page = &site.ban_answer;
    let mut headers: Vec<(Bytes, Bytes)> = page
        .headers
        .iter()
        .filter(|(name, _)| {
            !matches!(
                name.to_ascii_lowercase().as_slice(),
                b"content-length" | b"connection" | b"transfer-encoding"
            )
        })
        .cloned()
        .collect();
    if let Some(seconds) = retry_after {
        headers.push((
            Bytes::from_static(b"retry-after"),
            Bytes::from(seconds.to_string()),
        ));
    }
    headers.push((
        Bytes::from_static(b"content-length"),
        Bytes::from(page.body.len().to_string()),
    ));
    headers.push((Bytes::from_static(DECISION_HEADER), id));
    Answer {
        status: if page.status == 401 { 401 } else { 403 },
        headers,
        body: page.body.clone(),
    }
}

/// Whether the check request carries a body.
fn announces_body(view: &RequestView<'_>) -> bool {
    view.head.headers().any(|(name, value)| {
        (name.eq_ignore_ascii_case(b"content-length") && value != b"0")
            || name.eq_ignore_ascii_case(b"transfer-encoding")
    })
}
