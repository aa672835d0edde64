//! The canonical request from Python: a `Canonicalizer` built once from the settings (the
//! path policy, the trusted proxies and their header), then asked per request by the
//! fronts (`asgi`, `wsgi`), and the pieces as functions (for `replay`, the console and the
//! differential tests).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use stockade_core::IpSet;
use stockade_core::canonical::{
    self, CanonicalHeaders, CanonicalPath, EscapedSlashes, PathPolicy, canonical_decoded_path,
    canonical_host, canonical_path,
};
use stockade_core::client_ip::{ForwardingHeader, TrustedProxies, address};

use crate::client_ip::ClientIp;
use crate::errors::{bad_request, guard, invalid_argument};
use crate::headers::HeaderLines;
use crate::ipset::IPSet;
use crate::text::latin1;
use crate::{asgi, wsgi};

const ESCAPED_SLASHES_ACCEPTED: &str = "reject, keep";
const HEADER_ACCEPTED: &str = "x-forwarded-for, forwarded, x-real-ip";

/// The settings of canonical requests, and the per-request calls (see `_native.pyi`).
#[pyclass(frozen, module = "stockade._native")]
#[derive(Debug)]
pub struct Canonicalizer {
    pub inner: canonical::Canonicalizer,
}

pub fn path_policy(
    py: Python<'_>,
    merge_slashes: bool,
    escaped_slashes: &Bound<'_, PyAny>,
) -> PyResult<PathPolicy> {
    let escaped = match escaped_slashes
        .cast::<PyString>()
        .ok()
        .and_then(|s| s.to_str().ok())
    {
        Some("reject") => EscapedSlashes::Reject,
        Some("keep") => EscapedSlashes::Keep,
        _ => {
            return Err(invalid_argument(
                py,
                "escaped_slashes",
                escaped_slashes,
                ESCAPED_SLASHES_ACCEPTED,
            ));
        }
    };
    Ok(PathPolicy {
        merge_slashes,
        escaped_slashes: escaped,
    })
}

fn forwarding_header(py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<ForwardingHeader> {
    name.cast::<PyString>()
        .ok()
        .and_then(|s| s.to_str().ok())
        .and_then(|s| ForwardingHeader::of(s.as_bytes()))
        .ok_or_else(|| invalid_argument(py, "forwarding header", name, HEADER_ACCEPTED))
}

/// A `(target, path)` pair for Python; `raw` is handed back when the target is unchanged.
fn path_pair<'py>(
    py: Python<'py>,
    raw: Option<&Bound<'py, PyBytes>>,
    found: &CanonicalPath<'_>,
) -> (Bound<'py, PyBytes>, Bound<'py, PyString>) {
    let target = match raw {
        Some(raw) if raw.as_bytes() == found.target.as_ref() => raw.clone(),
        _ => PyBytes::new(py, &found.target),
    };
    (target, PyString::new(py, &found.path))
}

/// The peer's address, when its text is one.
pub fn peer_address(peer: &Bound<'_, PyString>) -> Option<stockade_core::Addr> {
    latin1(peer).and_then(|text| address(&text))
}

#[pymethods]
impl Canonicalizer {
    #[new]
    #[pyo3(signature = (*, merge_slashes = true, escaped_slashes = None, trusted = None, header = None))]
    fn new(
        py: Python<'_>,
        merge_slashes: bool,
        escaped_slashes: Option<&Bound<'_, PyAny>>,
        trusted: Option<&Bound<'_, IPSet>>,
        header: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        guard(py, || {
            let policy = match escaped_slashes {
                Some(value) => path_policy(py, merge_slashes, value)?,
                None => PathPolicy {
                    merge_slashes,
                    ..PathPolicy::default()
                },
            };
            let header = header
                .map(|name| forwarding_header(py, name))
                .transpose()?
                .unwrap_or_default();
            let networks: IpSet = trusted.map(|set| set.get().set().clone()).unwrap_or_default();
            let proxies = TrustedProxies::new(networks, header);
            Ok(Self {
                inner: canonical::Canonicalizer::new(policy, proxies),
            })
        })
    }

    #[getter]
    fn merge_slashes(&self) -> bool {
        self.inner.policy.merge_slashes
    }

    #[getter]
    fn escaped_slashes(&self) -> &'static str {
        match self.inner.policy.escaped_slashes {
            EscapedSlashes::Reject => "reject",
            EscapedSlashes::Keep => "keep",
        }
    }

    #[getter]
    fn header(&self) -> &'static str {
        self.inner.proxies.header.name()
    }

    /// The client of a request from `peer` with these `(name, value)` header lines.
    fn resolve(
        &self,
        py: Python<'_>,
        peer: &Bound<'_, PyString>,
        headers: &Bound<'_, PyAny>,
    ) -> PyResult<ClientIp> {
        guard(py, || {
            let lines = HeaderLines::read(headers.clone())?;
            let decided = self.inner.proxies.resolve(peer_address(peer), &lines.bytes());
            Ok(ClientIp::of(py, &decided, peer))
        })
    }

    /// Canonicalise an ASGI scope in place; see `_native.pyi`.
    #[pyo3(signature = (scope, require_host = false, tls = None))]
    fn asgi<'py>(
        &self,
        py: Python<'py>,
        scope: &Bound<'py, PyDict>,
        require_host: bool,
        tls: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        guard(py, || {
            asgi::canonicalize(&self.inner, py, scope, require_host, tls)
        })
    }

    /// Canonicalise a WSGI environ in place; see `_native.pyi`.
    fn wsgi<'py>(&self, py: Python<'py>, environ: &Bound<'py, PyDict>) -> PyResult<Bound<'py, PyTuple>> {
        guard(py, || wsgi::canonicalize(&self.inner, py, environ))
    }
}

/// The canonical form of a raw request path: `(target, path)`.
#[pyfunction]
#[pyo3(name = "canonical_path", signature = (raw, /, merge_slashes = true, escaped_slashes = None))]
pub fn py_canonical_path<'py>(
    py: Python<'py>,
    raw: &Bound<'py, PyBytes>,
    merge_slashes: bool,
    escaped_slashes: Option<&Bound<'py, PyAny>>,
) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyString>)> {
    guard(py, || {
        let policy = match escaped_slashes {
            Some(value) => path_policy(py, merge_slashes, value)?,
            None => PathPolicy {
                merge_slashes,
                ..PathPolicy::default()
            },
        };
        let found = canonical_path(raw.as_bytes(), policy).map_err(|error| bad_request(py, error))?;
        Ok(path_pair(py, Some(raw), &found))
    })
}

/// The canonical form of an already decoded path (never decoded again): `(target, path)`.
#[pyfunction]
#[pyo3(name = "canonical_decoded_path", signature = (path, /, merge_slashes = true, escaped_slashes = None))]
pub fn py_canonical_decoded_path<'py>(
    py: Python<'py>,
    path: &Bound<'py, PyString>,
    merge_slashes: bool,
    escaped_slashes: Option<&Bound<'py, PyAny>>,
) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyString>)> {
    guard(py, || {
        let policy = match escaped_slashes {
            Some(value) => path_policy(py, merge_slashes, value)?,
            None => PathPolicy {
                merge_slashes,
                ..PathPolicy::default()
            },
        };
        let utf8 = path
            .to_str()
            .map_err(|_| bad_request(py, canonical::BadRequest::PathNotUtf8))?;
        let found =
            canonical_decoded_path(utf8.as_bytes(), policy).map_err(|error| bad_request(py, error))?;
        Ok(path_pair(py, None, &found))
    })
}

/// A canonical host for Python: `(name, port)`.
type HostPair<'py> = (Bound<'py, PyString>, Bound<'py, PyString>);

/// The canonical host of a `Host` value: `(name, port)`.
#[pyfunction]
#[pyo3(name = "canonical_host", signature = (value, /))]
pub fn py_canonical_host<'py>(py: Python<'py>, value: &Bound<'py, PyBytes>) -> PyResult<HostPair<'py>> {
    guard(py, || {
        let host = canonical_host(value.as_bytes()).map_err(|error| bad_request(py, error))?;
        Ok((PyString::new(py, &host.name), PyString::new(py, host.port)))
    })
}

/// The headers a backend receives and the canonical host: `(headers, (name, port))`.
#[pyfunction]
#[pyo3(name = "canonical_headers", signature = (headers, /, *, trusted))]
pub fn py_canonical_headers<'py>(
    py: Python<'py>,
    headers: &Bound<'py, PyAny>,
    trusted: bool,
) -> PyResult<(Bound<'py, PyList>, HostPair<'py>)> {
    guard(py, || {
        let lines = HeaderLines::read(headers.clone())?;
        let bytes = lines.bytes();
        let canonical = CanonicalHeaders::of(&bytes, trusted).map_err(|error| bad_request(py, error))?;
        let list = lines.canonical(py, &canonical)?;
        let host = (
            PyString::new(py, &canonical.host.name),
            PyString::new(py, canonical.host.port),
        );
        Ok((list, host))
    })
}

/// Whether a header name (any case, `_` or `-`) is one only a trusted proxy may send.
#[pyfunction]
#[pyo3(name = "proxy_only", signature = (name, /))]
pub fn py_proxy_only(py: Python<'_>, name: &Bound<'_, PyBytes>) -> PyResult<bool> {
    guard(py, || Ok(canonical::proxy_only(name.as_bytes())))
}

/// The names of the headers only a trusted proxy may send, in lower case.
#[pyfunction]
pub fn proxy_only_headers(py: Python<'_>) -> PyResult<Bound<'_, PyTuple>> {
    guard(py, || {
        PyTuple::new(
            py,
            canonical::PROXY_ONLY.iter().map(|name| PyBytes::new(py, name)),
        )
    })
}
