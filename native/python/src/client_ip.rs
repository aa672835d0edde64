//! `ClientIp`, who the client of a request is and why, as Python reads it.
//!
//! Addresses are spelled as `stockade.netaddr.normalize_ip` spells them. A front gives the
//! peer as a `str`; when that text is already the normal spelling (the usual case: a
//! server reports `203.0.113.7`), the very same `str` object is handed back rather than a
//! new one.

use pyo3::prelude::*;
use pyo3::pyclass::CompareOp;
use pyo3::types::PyString;
use pyo3::{IntoPyObjectExt, intern};
use stockade_core::addr::{Addr, format_v6, write_v4};
use stockade_core::client_ip::{ClientIp as Decided, ForwardingHeader};

use crate::errors::guard;

/// Who the client is, and why (see `_native.pyi`).
#[pyclass(frozen, module = "stockade._native")]
#[derive(Debug)]
pub struct ClientIp {
    #[pyo3(get)]
    address: Py<PyString>,
    #[pyo3(get)]
    peer: Py<PyString>,
    #[pyo3(get)]
    trusted: bool,
    #[pyo3(get)]
    header: Option<Py<PyString>>,
    #[pyo3(get)]
    forwarded: bool,
}

impl ClientIp {
    /// The Python form of a decision; `peer_text` is the peer as the front gave it.
    pub fn of(py: Python<'_>, decided: &Decided, peer_text: &Bound<'_, PyString>) -> Self {
        let peer = match decided.peer {
            Some(peer) => spell(py, peer, peer_text),
            None => peer_text.clone(),
        };
        let address = match decided.address {
            Some(address) if decided.header.is_some() => spell(py, address, peer_text),
            _ => peer.clone(),
        };
        Self {
            address: address.unbind(),
            peer: peer.unbind(),
            trusted: decided.trusted,
            header: decided
                .header
                .map(|header| header_name(py, header).clone().unbind()),
            forwarded: decided.forwarded,
        }
    }

    /// Only the address of [`ClientIp::of`], and whether a header named it: what a
    /// middleware's clean pass hands on (no `ClientIp` made).
    pub fn address_of<'py>(
        py: Python<'py>,
        decided: &Decided,
        peer_text: &Bound<'py, PyString>,
    ) -> (Bound<'py, PyString>, bool) {
        match (decided.address, decided.header, decided.peer) {
            (Some(address), Some(_), _) => (spell(py, address, peer_text), true),
            (_, named, Some(peer)) => (spell(py, peer, peer_text), named.is_some()),
            (_, named, None) => (peer_text.clone(), named.is_some()),
        }
    }

    pub fn address<'py>(&self, py: Python<'py>) -> &Bound<'py, PyString> {
        self.address.bind(py)
    }

    pub fn named_by_header(&self) -> bool {
        self.header.is_some()
    }
}

fn header_name(py: Python<'_>, header: ForwardingHeader) -> &Bound<'_, PyString> {
    match header {
        ForwardingHeader::XForwardedFor => intern!(py, "x-forwarded-for"),
        ForwardingHeader::Forwarded => intern!(py, "forwarded"),
        ForwardingHeader::XRealIp => intern!(py, "x-real-ip"),
    }
}

/// The normal spelling of an address: `given` itself when it is spelled so already.
pub fn spell<'py>(py: Python<'py>, address: Addr, given: &Bound<'py, PyString>) -> Bound<'py, PyString> {
    let mut buffer = [0u8; 15];
    let text: std::borrow::Cow<'_, str> = match address {
        Addr::V4(v4) => std::borrow::Cow::Borrowed(write_v4(v4, &mut buffer)),
        Addr::V6(v6) => std::borrow::Cow::Owned(format_v6(v6)),
    };
    if given.to_str().is_ok_and(|known| known == text) {
        return given.clone();
    }
    PyString::new(py, &text)
}

#[pymethods]
impl ClientIp {
    #[new]
    #[pyo3(signature = (address, peer, trusted = false, header = None, forwarded = false))]
    fn new(
        address: Bound<'_, PyString>,
        peer: Bound<'_, PyString>,
        trusted: bool,
        header: Option<Bound<'_, PyString>>,
        forwarded: bool,
    ) -> Self {
        Self {
            address: address.unbind(),
            peer: peer.unbind(),
            trusted,
            header: header.map(Bound::unbind),
            forwarded,
        }
    }

    fn __richcmp__(&self, py: Python<'_>, other: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        guard(py, || {
            let Ok(other) = other.cast::<ClientIp>() else {
                return Ok(py.NotImplemented());
            };
            let other = other.get();
            let equal = self.trusted == other.trusted
                && self.forwarded == other.forwarded
                && self.address.bind(py).as_any().eq(other.address.bind(py))?
                && self.peer.bind(py).as_any().eq(other.peer.bind(py))?
                && match (&self.header, &other.header) {
                    (None, None) => true,
                    (Some(mine), Some(theirs)) => mine.bind(py).as_any().eq(theirs.bind(py))?,
                    _ => false,
                };
            match op {
                CompareOp::Eq => equal.into_py_any(py),
                CompareOp::Ne => (!equal).into_py_any(py),
                _ => Ok(py.NotImplemented()),
            }
        })
    }

    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        guard(py, || {
            let fields = (
                self.address.bind(py),
                self.peer.bind(py),
                self.trusted,
                self.header.as_ref().map(|header| header.bind(py)),
                self.forwarded,
            );
            fields.into_pyobject(py)?.hash()
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        guard(py, || {
            let header = match &self.header {
                Some(header) => header.bind(py).repr()?.to_string(),
                None => "None".to_owned(),
            };
            Ok(format!(
                "ClientIp(address={}, peer={}, trusted={}, header={header}, forwarded={})",
                self.address.bind(py).repr()?,
                self.peer.bind(py).repr()?,
                if self.trusted { "True" } else { "False" },
                if self.forwarded { "True" } else { "False" },
            ))
        })
    }
}
