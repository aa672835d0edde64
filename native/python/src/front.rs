//! The native front as Python sees it: bind its listeners, start it with a site, reload,
//! drain, stop, read its counters and log lines.
//!
//! The request filter may be the Python side (the Python ladder, until the native one
//! lands): each request is then queued in an [`Inbox`] whose descriptor the Python event
//! loop watches; the loop takes the queued requests in batches (`take_requests`) and
//! answers each with one of its `forward`, `files`, `answer` or `close`. The front's
//! threads never take the GIL: only the loop's thread runs Python. Without a filter no
//! request touches Python at all.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener as StdListener};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use stockade_front::ladder::LadderPhases;
use stockade_front::phases::{
    Answer, ConnFacts, Decision, Filtered, Forward, OnResponseDebug, Phases, RequestView, Unchecked,
};
use stockade_front::proxy_protocol::Versions;
use stockade_front::runtime::{self, ListenerConfig};
use stockade_front::tls::{self, ClientAuth};
use stockade_front::{Limits, UpstreamSpec};
use tokio::sync::oneshot;

use crate::errors::guard;
use crate::ipset::IPSet;
use crate::ladder::NativeLadder;

/// A bound listening socket, not yet served.
#[pyclass(module = "stockade._native")]
#[derive(Debug)]
pub struct BoundSocket {
    socket: Mutex<Option<StdListener>>,
    #[pyo3(get)]
    host: String,
    #[pyo3(get)]
    port: u16,
}

/// Bind `host:port` (an IP literal); `OSError` with the system's errno when it cannot be.
#[pyfunction]
pub fn bind_socket(py: Python<'_>, host: &str, port: u16) -> PyResult<BoundSocket> {
    guard(py, || {
        let ip: IpAddr = host
            .parse()
            .map_err(|_| PyValueError::new_err(format!("not an IP address: {host:?}")))?;
        let listener = runtime::bind(SocketAddr::new(ip, port))
            .map_err(|e| PyOSError::new_err((e.raw_os_error().unwrap_or(0), e.to_string())))?;
        let port = listener
            .local_addr()
            .map_err(|e| PyOSError::new_err(e.to_string()))?
            .port();
        Ok(BoundSocket {
            socket: Mutex::new(Some(listener)),
            host: host.to_owned(),
            port,
        })
    })
}

#[pymethods]
impl BoundSocket {
    /// Close the socket (when the front is not started).
    fn close(&self) {
        self.socket.lock().unwrap_or_else(PoisonError::into_inner).take();
    }
}

/// The settings a request reads, built by the Python side at start and at each reload.
#[pyclass(frozen, module = "stockade._native")]
#[derive(Debug)]
pub struct FrontSite {
    limits: Limits,
    upstreams: Vec<UpstreamSpec>,
    document_root: Option<PathBuf>,
    blocklist: Option<Arc<stockade_core::IpSet>>,
    access_log: bool,
}

#[pymethods]
impl FrontSite {
    #[new]
    #[pyo3(signature = (*, limits, upstreams, document_root=None, blocklist=None, access_log=false))]
    fn new(
        py: Python<'_>,
        limits: (usize, Option<u64>, f64, f64, f64, f64),
        upstreams: Vec<(String, u16, Vec<u8>, f64, f64, usize)>,
        document_root: Option<PathBuf>,
        blocklist: Option<PyRef<'_, IPSet>>,
        access_log: bool,
    ) -> PyResult<Self> {
        guard(py, || {
            let seconds = |value: f64| {
                Duration::try_from_secs_f64(value)
                    .map_err(|_| PyValueError::new_err(format!("not a duration: {value}")))
            };
            let (max_header_bytes, max_body_bytes, header, body, keepalive, drain) = limits;
            let limits = Limits {
                max_header_bytes,
                max_body_bytes,
                header_timeout: seconds(header)?,
                body_timeout: seconds(body)?,
                keepalive_timeout: seconds(keepalive)?,
                drain_timeout: seconds(drain)?,
            };
            let upstreams = upstreams
                .into_iter()
                .map(|(host, port, prefix, connect, read, max_idle)| {
                    Ok(UpstreamSpec {
                        host,
                        port,
                        prefix,
                        connect_timeout: seconds(connect)?,
                        read_timeout: seconds(read)?,
                        max_idle,
                    })
                })
                .collect::<PyResult<Vec<_>>>()?;
            let blocklist = blocklist.map(|set| Arc::new(set.set().clone()));
            Ok(Self {
                limits,
                upstreams,
                document_root,
                blocklist,
                access_log,
            })
        })
    }
}

impl FrontSite {
    fn build(&self, previous: Option<&stockade_front::Site>) -> stockade_front::Site {
        stockade_front::Site::build(
            self.limits.clone(),
            self.upstreams.clone(),
            self.document_root.clone(),
            self.blocklist.clone(),
            self.access_log,
            previous,
        )
    }
}

/// A listener's options: its name, TLS, PROXY protocol.
#[pyclass(frozen, module = "stockade._native")]
#[derive(Debug)]
pub struct ListenerOptions {
    name: String,
    tls: Option<Arc<rustls::ServerConfig>>,
    proxy: Option<(Versions, stockade_core::IpSet)>,
    admin: bool,
    decision: bool,
}

#[pymethods]
impl ListenerOptions {
    #[new]
    #[pyo3(signature = (name, *, tls=None, proxy_protocol="off", proxy_from=None, admin=false, decision=false, http2=true))]
    #[allow(
        clippy::too_many_arguments,
        reason = "the keyword arguments of one Python method"
    )]
    fn new(
        py: Python<'_>,
        name: String,
        tls: Option<(String, String, Option<String>, String)>,
        proxy_protocol: &str,
        proxy_from: Option<PyRef<'_, IPSet>>,
        admin: bool,
        decision: bool,
        http2: bool,
    ) -> PyResult<Self> {
        guard(py, || {
            let tls = match tls {
                None => None,
                Some((certfile, keyfile, client_ca, auth)) => {
                    let auth = match auth.as_str() {
                        "optional" => ClientAuth::Optional,
                        "required" => ClientAuth::Required,
                        _ => ClientAuth::None,
                    };
                    Some(
                        tls::server_config(&certfile, &keyfile, client_ca.as_deref(), auth, http2).map_err(
                            |e| {
                                PyValueError::new_err((
                                    e.what,
                                    e.path.clone(),
                                    e.reason.clone(),
                                    e.to_string(),
                                ))
                            },
                        )?,
                    )
                }
            };
            let versions = match proxy_protocol {
                "off" => None,
                "v1" => Some(Versions::V1),
                "v2" => Some(Versions::V2),
                "any" => Some(Versions::Any),
                other => return Err(PyValueError::new_err(format!("proxy_protocol: {other:?}"))),
            };
            let proxy = versions.map(|v| (v, proxy_from.map(|set| set.set().clone()).unwrap_or_default()));
            Ok(Self {
                name,
                tls,
                proxy,
                admin,
                decision,
            })
        })
    }
}

/// The running front.
#[pyclass(module = "stockade._native")]
#[derive(Debug)]
pub struct NativeFront {
    front: Mutex<Option<stockade_front::Front>>,
    inbox: Option<Arc<Inbox>>,
    /// The native ladder in front of the Python filter, when there is one.
    ladder: Option<Arc<LadderPhases<PyPhases>>>,
}

fn stopped() -> PyErr {
    PyRuntimeError::new_err("the native front is stopped")
}

#[pymethods]
impl NativeFront {
    /// Start serving `listeners` on `workers` threads; with `python_filter`, each request
    /// waits for the Python side's decision (see `inbox_fd` and `take_requests`).
    #[staticmethod]
    #[pyo3(signature = (*, workers, listeners, site, python_filter=false, access_log=None))]
    fn start(
        py: Python<'_>,
        workers: usize,
        listeners: Vec<(PyRef<'_, BoundSocket>, PyRef<'_, ListenerOptions>)>,
        site: PyRef<'_, FrontSite>,
        python_filter: bool,
        access_log: Option<String>,
    ) -> PyResult<Self> {
        guard(py, || {
            let mut bound = Vec::new();
            for (index, (socket, options)) in listeners.iter().enumerate() {
                let listener = socket
                    .socket
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take()
                    .ok_or_else(|| {
                        PyRuntimeError::new_err(format!(
                            "the socket of {} is closed or already served",
                            options.name
                        ))
                    })?;
                let config = ListenerConfig {
                    index,
                    name: options.name.clone(),
                    tls: options.tls.clone(),
                    proxy: options.proxy.clone(),
                    admin: options.admin,
                    decision: options.decision,
                    proxy_refused: std::sync::atomic::AtomicU64::new(0),
                };
                bound.push((listener, config));
            }
            let built = site.build(None);
            let inbox = if python_filter {
                Some(Arc::new(
                    Inbox::new().map_err(|e| PyOSError::new_err(e.to_string()))?,
                ))
            } else {
                None
            };
            let ladder = inbox.as_ref().map(|inbox| {
                let python = PyPhases {
                    inbox: Arc::clone(inbox),
                };
                Arc::new(LadderPhases::new(python, None))
            });
            let phases: Arc<dyn Phases> = match &ladder {
                Some(ladder) => Arc::clone(ladder) as Arc<dyn Phases>,
                None => Arc::new(Unchecked {
                    files: built.upstreams.is_empty(),
                }),
            };
            let front = py
                .detach(move || {
                    stockade_front::Front::start(workers, bound, built, phases, access_log.as_deref())
                })
                .map_err(|e| PyOSError::new_err(e.to_string()))?;
            Ok(Self {
                front: Mutex::new(Some(front)),
                inbox,
                ladder,
            })
        })
    }

    /// Put a native ladder in force before the Python filter (`None`: every request to
    /// Python).
    fn set_ladder(&self, ladder: Option<PyRef<'_, NativeLadder>>) {
        if let Some(phases) = &self.ladder {
            phases.swap(ladder.map(|l| Arc::clone(&l.site)));
        }
    }

    /// The check requests the native ladder answered: `(allowed, banned)`.
    fn check_counts(&self) -> (u64, u64) {
        self.ladder.as_ref().map_or((0, 0), |phases| {
            let checks = &phases.counts.checks;
            (
                checks.allowed.load(Ordering::Relaxed),
                checks.banned.load(Ordering::Relaxed),
            )
        })
    }

    /// The requests the native ladder decided: `(allowed, banned, handed to Python)`.
    fn ladder_counts(&self) -> (u64, u64, u64) {
        self.ladder.as_ref().map_or((0, 0, 0), |phases| {
            let counts = &phases.counts;
            (
                counts.allowed.load(Ordering::Relaxed),
                counts.banned.load(Ordering::Relaxed),
                counts.python.load(Ordering::Relaxed),
            )
        })
    }

    /// The descriptor that becomes readable when requests wait for a decision (-1 without a filter).
    fn inbox_fd(&self) -> i32 {
        self.inbox.as_ref().map_or(-1, |inbox| inbox.reader.as_raw_fd())
    }

    /// The requests waiting for a decision (the responses' statuses are handed to their
    /// observers meanwhile).
    fn take_requests(&self, py: Python<'_>) -> PyResult<Vec<Py<Request>>> {
        guard(py, || {
            let Some(inbox) = &self.inbox else {
                return Ok(Vec::new());
            };
            let mut requests = Vec::new();
            for job in inbox.take() {
                match job {
                    Job::Decide(request) => requests.push(Py::new(py, request)?),
                    Job::Observe(observe, status) => {
                        if let Err(error) = observe.call1(py, (status,)) {
                            error.write_unraisable(py, None);
                        }
                    }
                }
            }
            Ok(requests)
        })
    }

    /// Put a new site in force (pools of unchanged upstreams are kept).
    fn reload(&self, py: Python<'_>, site: PyRef<'_, FrontSite>) -> PyResult<()> {
        guard(py, || {
            let front = self.front.lock().unwrap_or_else(PoisonError::into_inner);
            let front = front.as_ref().ok_or_else(stopped)?;
            let previous = front.shared.site.load_full();
            front.reload(site.build(Some(&previous)));
            Ok(())
        })
    }

    /// Stop accepting, wait up to `timeout` seconds for the connections; how many were left.
    fn drain(&self, py: Python<'_>, timeout: f64) -> PyResult<u64> {
        guard(py, || {
            let timeout = Duration::try_from_secs_f64(timeout).unwrap_or_default();
            py.detach(|| {
                let front = self.front.lock().unwrap_or_else(PoisonError::into_inner);
                Ok(front.as_ref().map_or(0, |front| front.drain(timeout)))
            })
        })
    }

    /// End every connection and the threads (idempotent).
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        guard(py, || {
            py.detach(|| {
                let taken = self.front.lock().unwrap_or_else(PoisonError::into_inner).take();
                if let Some(mut front) = taken {
                    front.stop();
                }
            });
            Ok(())
        })
    }

    /// The counters, by name.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        guard(py, || {
            let dict = PyDict::new(py);
            let front = self.front.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(front) = front.as_ref() {
                for (name, value) in front.shared.stats.snapshot() {
                    dict.set_item(name, value)?;
                }
                dict.set_item(
                    "messages_dropped",
                    front
                        .shared
                        .messages
                        .dropped
                        .load(std::sync::atomic::Ordering::Relaxed),
                )?;
            }
            Ok(dict)
        })
    }

    /// Connections closed because their peer may not send a PROXY header, by listener name.
    fn proxy_refusals(&self, py: Python<'_>) -> PyResult<Vec<(String, u64)>> {
        guard(py, || {
            let front = self.front.lock().unwrap_or_else(PoisonError::into_inner);
            Ok(front.as_ref().map_or_else(Vec::new, |front| {
                front
                    .shared
                    .listeners
                    .iter()
                    .map(|l| {
                        (
                            l.name.clone(),
                            l.proxy_refused.load(std::sync::atomic::Ordering::Relaxed),
                        )
                    })
                    .collect()
            }))
        })
    }

    /// The log lines queued since the last call: `(level, message)`, levels as `logging`'s.
    fn messages(&self, py: Python<'_>) -> PyResult<Vec<(u8, String)>> {
        guard(py, || {
            let front = self.front.lock().unwrap_or_else(PoisonError::into_inner);
            Ok(front
                .as_ref()
                .map(|front| front.shared.messages.drain())
                .unwrap_or_default())
        })
    }
}

/// What waits for the Python side: requests to decide, statuses to observe.
#[derive(Debug)]
enum Job {
    Decide(Request),
    Observe(Py<PyAny>, u16),
}

/// The queue between the front's threads and the Python side's event loop.
///
/// A front thread never takes the GIL for it: it queues the job and, when the queue was
/// idle, writes one byte to a socket pair whose other end the event loop watches. The loop
/// then takes every queued job at once (with the GIL it holds anyway).
#[derive(Debug)]
struct Inbox {
    jobs: Mutex<VecDeque<Job>>,
    signalled: AtomicBool,
    reader: UnixStream,
    writer: UnixStream,
}

impl Inbox {
    fn new() -> std::io::Result<Self> {
        let (reader, writer) = UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        Ok(Self {
            jobs: Mutex::new(VecDeque::new()),
            signalled: AtomicBool::new(false),
            reader,
            writer,
        })
    }

    fn push(&self, job: Job) {
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(job);
        if !self.signalled.swap(true, Ordering::AcqRel) {
            // A full socket buffer means a wake-up is pending already.
            let _ = (&self.writer).write(&[1]);
        }
    }

    fn take(&self) -> Vec<Job> {
        let mut sink = [0u8; 256];
        while matches!((&self.reader).read(&mut sink), Ok(n) if n > 0) {}
        self.signalled.store(false, Ordering::Release);
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .collect()
    }
}

/// The request filter in Python: each request is queued in the [`Inbox`].
#[derive(Debug)]
struct PyPhases {
    inbox: Arc<Inbox>,
}

fn internal_error() -> Decision {
    let body = Bytes::from_static(
        b"<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>\n<body><h1>Internal Server Error</h1>\n<p>The server could not answer this request.</p>\n</body></html>\n",
    );
    let headers = vec![
        (
            Bytes::from_static(b"content-type"),
            Bytes::from_static(b"text/html; charset=utf-8"),
        ),
        (
            Bytes::from_static(b"content-length"),
            Bytes::from(body.len().to_string()),
        ),
    ];
    Decision::Respond(Answer {
        status: 500,
        headers,
        body,
    })
}

impl Phases for PyPhases {
    fn request_filter(&self, view: &RequestView<'_>) -> Filtered {
        let (sender, receiver) = oneshot::channel();
        self.inbox
            .push(Job::Decide(Request::of(view, sender, Arc::clone(&self.inbox))));
        Filtered::Pending(Box::pin(async move {
            receiver.await.unwrap_or_else(|_| internal_error())
        }))
    }

    fn body_filter(&self, view: &RequestView<'_>, body: Bytes, uninspected: u64) -> Filtered {
        let (sender, receiver) = oneshot::channel();
        let mut request = Request::of(view, sender, Arc::clone(&self.inbox));
        request.body = Some((body, uninspected));
        self.inbox.push(Job::Decide(request));
        Filtered::Pending(Box::pin(async move {
            receiver.await.unwrap_or_else(|_| internal_error())
        }))
    }
}

/// `(sni, version, client_auth, client_ca)`.
type TlsTuple = (Option<String>, Option<String>, bool, Option<String>);

fn address(address: SocketAddr) -> (String, u16) {
    (address.ip().to_string(), address.port())
}

/// One request handed to the Python request filter, and how it answers.
#[pyclass(frozen, module = "stockade._native")]
#[derive(Debug)]
pub struct Request {
    #[pyo3(get)]
    method: String,
    target: Vec<u8>,
    #[pyo3(get)]
    http_version: &'static str,
    headers: Vec<(Bytes, Vec<u8>)>,
    facts: Arc<ConnFacts>,
    reply: Mutex<Option<oneshot::Sender<Decision>>>,
    inbox: Arc<Inbox>,
    /// The body's first bytes read for the checks, and the count known to lie beyond.
    body: Option<(Bytes, u64)>,
}

impl Request {
    fn of(view: &RequestView<'_>, sender: oneshot::Sender<Decision>, inbox: Arc<Inbox>) -> Self {
        let head = view.head;
        Self {
            method: String::from_utf8_lossy(head.method()).into_owned(),
            target: head.target().to_vec(),
            http_version: head.version(),
            headers: head
                .names
                .iter()
                .cloned()
                .zip(head.headers().map(|(_, v)| v.to_vec()))
                .collect(),
            facts: Arc::clone(view.facts),
            reply: Mutex::new(Some(sender)),
            inbox,
            body: None,
        }
    }

    fn send(&self, decision: Decision) -> PyResult<()> {
        let sender = self.reply.lock().unwrap_or_else(PoisonError::into_inner).take();
        let sender = sender.ok_or_else(|| PyRuntimeError::new_err("this request was answered already"))?;
        // The connection may be gone meanwhile: then nobody waits for the decision.
        let _ = sender.send(decision);
        Ok(())
    }
}

/// The response filter: the status goes to `observe` through the inbox (no GIL here).
fn on_response(observe: Option<Py<PyAny>>, inbox: &Arc<Inbox>) -> Option<Box<dyn FnOnce(u16) + Send>> {
    observe.map(|observe| -> Box<dyn FnOnce(u16) + Send> {
        let inbox = Arc::clone(inbox);
        Box::new(move |status: u16| inbox.push(Job::Observe(observe, status)))
    })
}

fn pairs(items: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<(Bytes, Bytes)> {
    items
        .into_iter()
        .map(|(n, v)| (Bytes::from(n), Bytes::from(v)))
        .collect()
}

#[pymethods]
impl Request {
    /// A check request on the decision endpoint: its style and the original request it
    /// describes, read in Rust (see `crate::decision::describe`); `None` for a target that
    /// is no check path.
    fn original<'py>(&self, py: Python<'py>) -> PyResult<crate::decision::Described<'py>> {
        guard(py, || {
            let lines = self
                .headers
                .iter()
                .map(|(name, value)| (name.as_ref(), value.as_slice()));
            crate::decision::describe(py, self.method.as_bytes(), &self.target, lines)
        })
    }

    /// The request target as sent.
    #[getter]
    fn target<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.target)
    }

    /// The headers as sent, names lower-cased.
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items = self
            .headers
            .iter()
            .map(|(name, value)| PyTuple::new(py, [PyBytes::new(py, name), PyBytes::new(py, value)]))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }

    /// The body's first bytes, read for the checks after [`Request::read_body`]; else `None`.
    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.body.as_ref().map(|(body, _)| PyBytes::new(py, body))
    }

    /// The count of body bytes known to lie beyond [`Request::body`].
    #[getter]
    fn uninspected(&self) -> u64 {
        self.body.as_ref().map_or(0, |(_, uninspected)| *uninspected)
    }

    #[getter]
    fn peer(&self) -> (String, u16) {
        address(self.facts.peer)
    }

    #[getter]
    fn local(&self) -> (String, u16) {
        address(self.facts.local)
    }

    #[getter]
    fn source(&self) -> Option<(String, u16)> {
        self.facts.source.map(address)
    }

    #[getter]
    fn scheme(&self) -> &'static str {
        self.facts.scheme
    }

    #[getter]
    fn listener(&self) -> usize {
        self.facts.listener
    }

    /// `(sni, version, client_auth, client_ca)` of a TLS connection, else `None`.
    #[getter]
    fn tls(&self) -> Option<TlsTuple> {
        self.facts.tls.as_ref().map(|t| {
            (
                t.sni.clone(),
                t.version.clone(),
                t.client_auth,
                t.client_ca.clone(),
            )
        })
    }

    /// Forward the request to upstream `upstream`.
    #[pyo3(signature = (*, upstream=0, target=None, headers=None, peer=None, trusted=false, real_ip=None, max_body_bytes=None, observe=None))]
    #[allow(
        clippy::too_many_arguments,
        reason = "the keyword arguments of one Python method"
    )]
    fn forward(
        &self,
        py: Python<'_>,
        upstream: usize,
        target: Option<Vec<u8>>,
        headers: Option<Vec<(Vec<u8>, Vec<u8>)>>,
        peer: Option<String>,
        trusted: bool,
        real_ip: Option<String>,
        max_body_bytes: Option<u64>,
        observe: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        guard(py, || {
            self.send(Decision::Forward(Forward {
                upstream,
                target: target.map(Bytes::from),
                headers: headers.map(pairs),
                peer,
                trusted,
                real_ip,
                max_body_bytes,
                on_response: on_response(observe, &self.inbox),
            }))
        })
    }

    /// Serve `path` (canonical, decoded) from the document root.
    #[pyo3(signature = (path, *, observe=None))]
    fn files(&self, py: Python<'_>, path: String, observe: Option<Py<PyAny>>) -> PyResult<()> {
        guard(py, || {
            self.send(Decision::Files {
                path,
                on_response: on_response(observe, &self.inbox).map(OnResponseDebug),
            })
        })
    }

    /// Answer with this response (a refusal, a challenge).
    fn answer(
        &self,
        py: Python<'_>,
        status: u16,
        headers: Vec<(Vec<u8>, Vec<u8>)>,
        body: Vec<u8>,
    ) -> PyResult<()> {
        guard(py, || {
            self.send(Decision::Respond(Answer {
                status,
                headers: pairs(headers),
                body: Bytes::from(body),
            }))
        })
    }

    /// Read up to `limit` bytes of the body first: the request comes back through the inbox
    /// with them as `body`, to be decided then.
    fn read_body(&self, py: Python<'_>, limit: u64) -> PyResult<()> {
        guard(py, || {
            if self.body.is_some() || limit == 0 {
                return Err(PyRuntimeError::new_err(
                    "read_body: the body was read already, or nothing was asked",
                ));
            }
            self.send(Decision::ReadBody(limit))
        })
    }

    /// Drop the connection without a response (mod_block's `CLOSE`).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        guard(py, || self.send(Decision::Close))
    }
}
