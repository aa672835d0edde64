//! The native front as Python sees it: bind its listeners, start it with a site, reload,
//! drain, stop, read its counters and log lines.
//!
//! The request filter may be a Python object (the Python ladder, until the native one
//! lands): for each request the front takes the GIL once on its own thread to hand the
//! object a [`Request`] (`decide(request)`), which must return at once; the decision comes
//! back whenever the Python side calls one of the request's `forward`, `files`, `answer`
//! or `close` (from any thread), and the front waits for it without holding the GIL.
//! Without a filter no request touches Python at all.

use std::net::{IpAddr, SocketAddr, TcpListener as StdListener};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
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
            let blocklist = blocklist.map(|set| Arc::new(set.inner().clone()));
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
}

#[pymethods]
impl ListenerOptions {
    #[new]
    #[pyo3(signature = (name, *, tls=None, proxy_protocol="off", proxy_from=None, admin=false))]
    fn new(
        py: Python<'_>,
        name: String,
        tls: Option<(String, String, Option<String>, String)>,
        proxy_protocol: &str,
        proxy_from: Option<PyRef<'_, IPSet>>,
        admin: bool,
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
                        tls::server_config(&certfile, &keyfile, client_ca.as_deref(), auth).map_err(|e| {
                            PyValueError::new_err((e.what, e.path.clone(), e.reason.clone(), e.to_string()))
                        })?,
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
            let proxy = versions.map(|v| (v, proxy_from.map(|set| set.inner().clone()).unwrap_or_default()));
            Ok(Self {
                name,
                tls,
                proxy,
                admin,
            })
        })
    }
}

/// The running front.
#[pyclass(module = "stockade._native")]
#[derive(Debug)]
pub struct NativeFront {
    front: Mutex<Option<stockade_front::Front>>,
}

fn stopped() -> PyErr {
    PyRuntimeError::new_err("the native front is stopped")
}

#[pymethods]
impl NativeFront {
    /// Start serving `listeners` on `workers` threads; `phases`, when given, decides each request.
    #[staticmethod]
    #[pyo3(signature = (*, workers, listeners, site, phases=None, access_log=None))]
    fn start(
        py: Python<'_>,
        workers: usize,
        listeners: Vec<(PyRef<'_, BoundSocket>, PyRef<'_, ListenerOptions>)>,
        site: PyRef<'_, FrontSite>,
        phases: Option<Py<PyAny>>,
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
                    proxy_refused: std::sync::atomic::AtomicU64::new(0),
                };
                bound.push((listener, config));
            }
            let built = site.build(None);
            let phases: Arc<dyn Phases> = match phases {
                Some(object) => Arc::new(PyPhases {
                    decide: object.getattr(py, "decide")?,
                }),
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
            })
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

/// The request filter in Python: `decide(request)` is called with a [`Request`].
#[derive(Debug)]
struct PyPhases {
    decide: Py<PyAny>,
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
        let request = Request::of(view, sender);
        let called = Python::attach(|py| -> PyResult<()> {
            let request = Py::new(py, request)?;
            self.decide.call1(py, (request,))?;
            Ok(())
        });
        if let Err(error) = called {
            Python::attach(|py| error.write_unraisable(py, None));
            return Filtered::Ready(internal_error());
        }
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
}

impl Request {
    fn of(view: &RequestView<'_>, sender: oneshot::Sender<Decision>) -> Self {
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

fn on_response(observe: Option<Py<PyAny>>) -> Option<Box<dyn FnOnce(u16) + Send>> {
    observe.map(|observe| -> Box<dyn FnOnce(u16) + Send> {
        Box::new(move |status: u16| {
            Python::attach(|py| {
                if let Err(error) = observe.call1(py, (status,)) {
                    error.write_unraisable(py, None);
                }
            });
        })
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
                on_response: on_response(observe),
            }))
        })
    }

    /// Serve `path` (canonical, decoded) from the document root.
    #[pyo3(signature = (path, *, observe=None))]
    fn files(&self, py: Python<'_>, path: String, observe: Option<Py<PyAny>>) -> PyResult<()> {
        guard(py, || {
            self.send(Decision::Files {
                path,
                on_response: on_response(observe).map(OnResponseDebug),
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

    /// Drop the connection without a response (mod_block's `CLOSE`).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        guard(py, || self.send(Decision::Close))
    }
}
