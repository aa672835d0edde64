//! The ban view and the native ladder from Python.
//!
//! [`BanTable`] is the store's view of every active ban (`stockade.stores.view.BanView`
//! holds one): the stores and their change feeds write it, the request path reads it, from
//! Python (`peek`) or from the native front without the GIL. [`NativeLadder`] is the
//! ladder's settings for one site, with that table; `decide` runs it for the differential
//! tests and the Python ladder, and the native front runs it on every request
//! (`NativeFront.set_ladder`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use stockade_core::addr::{Addr, parse_text, parse_v4, parse_v6};
use stockade_core::bans::{BanKey, BanView, Peek};
use stockade_core::block::RequestRules;
use stockade_core::ladder::{Aside, Detect, Detection, Ladder, LadderRequest, Outcome, SiteBlock, Why};
use stockade_core::request::{Connection, Request};
use stockade_front::checks::DecisionSite;
use stockade_front::ladder::{BanAnswer, LadderSite, Route};

use crate::block::BlockTable;
use crate::canonical::Canonicalizer;
use crate::detection::DetectionEngine;
use crate::errors::guard;
use crate::hosts::HostTable;
use crate::ipset::IPSet;
use crate::{asgi, wsgi};

/// Seconds since the epoch: the time a middleware's request is decided at (the guard's
/// clock is the system's whenever there is a native ladder; see
/// `stockade.server.native_ladder`).
pub(crate) fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64())
}

/// The view of every active ban (see `_native.pyi`).
#[pyclass(frozen, module = "stockade._native")]
#[derive(Debug)]
pub struct BanTable {
    pub view: Arc<BanView>,
}

/// An address as the Python side's ban tables read it: no folding of IPv4-mapped IPv6.
fn plain_address(ip: &str) -> Option<Addr> {
    if ip.contains(':') {
        parse_v6(ip.as_bytes()).map(Addr::V6)
    } else {
        parse_v4(ip.as_bytes()).map(Addr::V4)
    }
}

#[pymethods]
impl BanTable {
    #[new]
    #[pyo3(signature = (capacity=1_000_000, *, trusted=true))]
    fn new(capacity: usize, trusted: bool) -> Self {
        Self {
            view: Arc::new(BanView::new(capacity, trusted)),
        }
    }

    #[getter]
    fn capacity(&self) -> usize {
        self.view.capacity()
    }

    #[getter]
    fn trusted(&self) -> bool {
        self.view.trusted()
    }

    #[setter]
    fn set_trusted(&self, trusted: bool) {
        self.view.set_trusted(trusted);
    }

    #[getter]
    fn complete(&self) -> bool {
        self.view.load().complete()
    }

    fn __len__(&self) -> usize {
        self.view.load().len()
    }

    /// Whether `ip` (a normalised address, ban key `key`) is banned at `now`:
    /// `(known, until)`, `known` False when the store must be asked.
    fn peek(&self, ip: &str, key: &str, now: f64) -> (bool, Option<f64>) {
        match self
            .view
            .load()
            .peek_key(plain_address(ip), &BanKey::parse(key), now)
        {
            Peek::Ask => (false, None),
            Peek::NotBanned => (true, None),
            Peek::Banned(until) => (true, Some(until)),
        }
    }

    /// A ban's new end (`None`: no ban); `network` None when not known.
    #[pyo3(signature = (key, until, *, network))]
    fn set(&self, key: &str, until: Option<f64>, network: Option<bool>) {
        self.view.set(key, until, network);
    }

    /// Load every ban at once: `(key, until, network)` records.
    fn replace_all(&self, py: Python<'_>, records: Vec<(String, f64, bool)>) -> PyResult<()> {
        guard(py, || {
            py.detach(|| {
                self.view.replace_all(
                    records
                        .iter()
                        .map(|(key, until, network)| (key.as_str(), *until, *network)),
                );
            });
            Ok(())
        })
    }

    #[pyo3(signature = (*, trusted))]
    fn forget(&self, trusted: bool) {
        self.view.forget(trusted);
    }
}

/// A request for `NativeLadder.decide`: the client and the path, no canonical request (so
/// a native detection engine cannot run: detection then goes to Python).
#[derive(Debug)]
struct Parts<'a> {
    client: Option<Addr>,
    path: &'a str,
}

impl LadderRequest for Parts<'_> {
    fn client(&self) -> Option<Addr> {
        self.client
    }

    fn path(&self) -> &str {
        self.path
    }

    fn inspect(
        &self,
        _engine: &dyn stockade_core::ladder::Detect,
    ) -> Option<stockade_core::ladder::DetectOutcome> {
        None
    }
}

fn why(reason: Why) -> &'static str {
    match reason {
        Why::BanUnknown => "ban_unknown",
        Why::BanEvent => "ban_event",
        Why::IgnorePattern => "ignore_pattern",
        Why::Detection => "detection",
        Why::Lockout => "lockout",
        Why::Block => "block",
    }
}

/// `(status, headers, body)`.
type Response = (u16, Vec<(Vec<u8>, Vec<u8>)>, Vec<u8>);

/// What the native ladder made of a middleware's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// To the application, decided here (mod_block's counters committed).
    Pass,
    /// A banned client: the seconds to retry after (`None` for ever).
    Banned(Option<u64>),
    /// The Python ladder decides the whole request.
    Python,
}

/// The middlewares' requests decided here, by outcome.
#[derive(Debug, Default)]
struct Counts {
    allowed: AtomicU64,
    banned: AtomicU64,
    python: AtomicU64,
}

/// The native ladder of one site (see `_native.pyi`).
#[pyclass(frozen, module = "stockade._native")]
#[derive(Debug)]
pub struct NativeLadder {
    pub site: Arc<LadderSite>,
    counts: Counts,
    /// The middleware's last `client` and `server` addresses (see `asgi::AddressCache`).
    pub addresses: asgi::AddressCache,
}

impl NativeLadder {
    /// The ladder over a middleware's canonical request at `now`, as the Python ladder
    /// takes it after the blocklist: a clean pass and a banned client are decided here,
    /// everything else is the Python side's (nothing counted then).
    pub(crate) fn step(&self, request: &Request<'_>, connection: Connection<'_>, now: f64) -> Step {
        let site = &self.site;
        let aside = Aside::default();
        if let (Some(list), Some(_), Some(client)) = (&site.blocklist, &site.block, request.client.address)
            && aside.connection(list.contains(client))
        {
            return Step::Python;
        }
        let outcome = site
            .ladder
            .decide(request, &site.bans.load(), now, |request| match &site.block {
                None => Ok(None),
                Some(block) => block.check(request, connection, now, &aside).map(Some),
            });
        let step = match outcome {
            // A rule that matched goes to the Python side, which decides and counts it.
            Outcome::Pass {
                block_rule: None,
                allowed: false,
            } => Step::Pass,
            Outcome::Banned { retry_after, .. } => Step::Banned(retry_after),
            _ => Step::Python,
        };
        if step != Step::Python
            && let Some(block) = &site.block
        {
            block.commit(aside, None);
        }
        step
    }

    /// The Python form of a middleware's outcome: what the front hands back for a pass,
    /// `(status, headers, body)` for a banned client, `None` for the Python side.
    pub(crate) fn answer<'py, T: IntoPyObject<'py>>(
        &self,
        py: Python<'py>,
        outcome: Option<(Step, Option<T>)>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match outcome {
            Some((Step::Pass, Some(passed))) => {
                self.counts.allowed.fetch_add(1, Ordering::Relaxed);
                passed.into_bound_py_any(py)
            }
            Some((Step::Banned(retry_after), _)) => {
                self.counts.banned.fetch_add(1, Ordering::Relaxed);
                let answer = &self.site.ban_answer;
                let headers = PyList::empty(py);
                for (name, value) in &answer.headers {
                    headers.append((PyBytes::new(py, name), PyBytes::new(py, value)))?;
                }
                if let Some(seconds) = retry_after {
                    headers.append((
                        PyBytes::new(py, b"retry-after"),
                        PyBytes::new(py, seconds.to_string().as_bytes()),
                    ))?;
                }
                (answer.status, headers, PyBytes::new(py, &answer.body)).into_bound_py_any(py)
            }
            _ => {
                self.counts.python.fetch_add(1, Ordering::Relaxed);
                Ok(py.None().into_bound(py))
            }
        }
    }
}

#[pymethods]
impl NativeLadder {
    #[new]
    #[pyo3(signature = (
        *, bans, enabled, ipv6_prefix, allow=None, ignore_paths=Vec::new(), ignore_patterns=false,
        ban_events=false, detection="off", directories=Vec::new(), canonicalizer=None, route=None,
        ban_response=None, engine=None, block=None, hosts=None, decision=None, blocklist=None,
    ))]
    #[allow(
        clippy::too_many_arguments,
        reason = "the keyword arguments of one Python constructor"
    )]
    fn new(
        py: Python<'_>,
        bans: PyRef<'_, BanTable>,
        enabled: bool,
        ipv6_prefix: u8,
        allow: Option<PyRef<'_, IPSet>>,
        ignore_paths: Vec<String>,
        ignore_patterns: bool,
        ban_events: bool,
        detection: &str,
        directories: Vec<String>,
        canonicalizer: Option<PyRef<'_, Canonicalizer>>,
        route: Option<(String, usize)>,
        ban_response: Option<Response>,
        engine: Option<PyRef<'_, DetectionEngine>>,
        block: Option<PyRef<'_, BlockTable>>,
        hosts: Option<PyRef<'_, HostTable>>,
        decision: Option<(PyRef<'_, IPSet>, PyRef<'_, Canonicalizer>, String)>,
        blocklist: Option<PyRef<'_, IPSet>>,
    ) -> PyResult<Self> {
        guard(py, || {
            let detection = match detection {
                "off" => Detection::Off,
                "python" => Detection::Python,
                "native" => match engine {
                    Some(engine) => Detection::Native(Arc::clone(&engine.engine) as Arc<dyn Detect>),
                    None => return Err(PyValueError::new_err("detection: \"native\" needs an engine")),
                },
                other => return Err(PyValueError::new_err(format!("detection: {other:?}"))),
            };
            let route = match route.as_ref().map(|(kind, index)| (kind.as_str(), *index)) {
                None => None,
                Some(("upstream", index)) => Some(Route::Upstream(index)),
                Some(("files", _)) => Some(Route::Files),
                Some((other, _)) => return Err(PyValueError::new_err(format!("route: {other:?}"))),
            };
            let decision = decision.map(|(proxies, canonicalizer, prefix)| DecisionSite {
                proxies: proxies.set().clone(),
                canonicalizer: canonicalizer.inner.clone(),
                prefix,
                ids: AtomicU64::new(1),
            });
            let ban_answer = ban_response
                .map(|(status, headers, body)| BanAnswer {
                    status,
                    headers: headers
                        .into_iter()
                        .map(|(n, v)| (Bytes::from(n), Bytes::from(v)))
                        .collect(),
                    body: Bytes::from(body),
                })
                .unwrap_or_default();
            let ladder = Ladder {
                bans: enabled,
                allow: allow.map(|set| set.set().clone()).unwrap_or_default(),
                ignore_paths,
                ignore_patterns,
                ipv6_prefix: ipv6_prefix.min(128),
                ban_events,
                detection,
                directories,
            };
            Ok(Self {
                site: Arc::new(LadderSite {
                    canonicalizer: canonicalizer.map(|c| c.inner.clone()).unwrap_or_default(),
                    ladder,
                    block: block.map(|table| SiteBlock {
                        rules: Arc::clone(&table.table) as Arc<dyn RequestRules>,
                        hosts: hosts.map(|hosts| Arc::clone(&hosts.table)),
                    }),
                    bans: Arc::clone(&bans.view),
                    route,
                    ban_answer,
                    decision,
                    blocklist: blocklist.map(|set| Arc::new(set.set().clone())),
                }),
                counts: Counts::default(),
                addresses: asgi::AddressCache::default(),
            })
        })
    }

    /// The ASGI middleware's decision of an `http` scope (see `_native.pyi`).
    fn asgi<'py>(&self, py: Python<'py>, scope: &Bound<'py, PyDict>) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || {
            let now = now();
            let outcome = asgi::decide(
                &self.site.canonicalizer,
                &self.addresses,
                py,
                scope,
                |request, connection| self.step(request, connection, now),
            )?;
            self.answer(py, outcome)
        })
    }

    /// The WSGI middleware's decision of an environ (see `_native.pyi`).
    fn wsgi<'py>(&self, py: Python<'py>, environ: &Bound<'py, PyDict>) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || {
            let now = now();
            let outcome = wsgi::decide(&self.site.canonicalizer, py, environ, |request, connection| {
                self.step(request, connection, now)
            })?;
            self.answer(py, outcome)
        })
    }

    /// The middlewares' requests decided here: `(allowed, banned, python)`.
    #[getter]
    fn counts(&self) -> (u64, u64, u64) {
        (
            self.counts.allowed.load(Ordering::Relaxed),
            self.counts.banned.load(Ordering::Relaxed),
            self.counts.python.load(Ordering::Relaxed),
        )
    }

    /// The decision for a client (a normalised address, or `None`) and a canonical path at
    /// `now`: `("pass",)`, `("banned", until, retry_after)` or `("python", why)`.
    fn decide<'py>(
        &self,
        py: Python<'py>,
        client: Option<&str>,
        path: &str,
        now: f64,
    ) -> PyResult<Bound<'py, PyTuple>> {
        guard(py, || {
            let address = client
                .filter(|text| !text.is_empty())
                .map(|text| parse_text(text.as_bytes()));
            if address == Some(None) {
                // A client that is not an address: the Python side keys its bans by the text.
                return PyTuple::new(py, ["python", "ban_unknown"]);
            }
            let request = Parts {
                client: address.flatten(),
                path,
            };
            let bans = self.site.bans.load();
            match self.site.ladder.decide(&request, &bans, now, |_| Ok(None)) {
                Outcome::Pass { .. } => PyTuple::new(py, ["pass"]),
                Outcome::Banned { until, retry_after } => ("banned", until, retry_after).into_pyobject(py),
                Outcome::Close { .. } => PyTuple::new(py, ["close"]),
                Outcome::Python(reason) => PyTuple::new(py, ["python", why(reason)]),
            }
        })
    }
}
