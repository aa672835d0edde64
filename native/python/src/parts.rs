//! Requests from Python, as the native conditions read them.
//!
//! Three ways in:
//!
//! - [`NativeRequest`]: a request copied once into native memory from a
//!   `stockade.core.facts.RequestFacts` (tests, benchmarks, replay's vectors), then
//!   evaluated any number of times without touching Python;
//! - [`FrontView`]: an `Incoming` a front built, read from the native canonical request
//!   it keeps (`Incoming.native`, see [`crate::front_request`]): what the fronts take;
//! - [`PyParts`]: any other Python request (replay's, a test's) read where it lies, part
//!   by part and only the parts a decision needs: the path, host and method (which the
//!   rules' index reads) from the object itself, headers through its `header(name)`, and
//!   anything else from its `facts`, which a lazily built request
//!   (`stockade.request.incoming.Incoming`) builds only then (the Python rules read the
//!   same parts the same way). Values are the Python text encoded as UTF-8 (undecodable
//!   bytes as the bytes their surrogate escapes stand for), which is the text the Python
//!   conditions read.
//!
//! A Python error while reading a part (a request whose facts cannot be built) makes that
//! part missing for the evaluation, and the call then raises it.

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyType};
use stockade_core::conditions::view::name_is;
use stockade_core::conditions::{ConditionRequest, SimpleRequest};

use crate::conditions::text_bytes;
use crate::errors::guard;
use crate::front_request::{CanonicalRequest, FrontView};

static FACTS_CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn is_facts(object: &Bound<'_, PyAny>) -> PyResult<bool> {
    let class = FACTS_CLASS.import(object.py(), "stockade.core.facts", "RequestFacts")?;
    object.is_instance(class)
}

fn decode<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyString>> {
    crate::errors::decode(py, bytes)
}

/// A 16-byte address from the facts' `*_ip16` (`b""` when missing).
fn ip16(value: &Bound<'_, PyAny>) -> Option<[u8; 16]> {
    let bytes = value.cast::<PyBytes>().ok()?;
    <[u8; 16]>::try_from(bytes.as_bytes()).ok()
}

fn optional_text(value: &Bound<'_, PyAny>) -> PyResult<Option<Vec<u8>>> {
    if value.is_none() {
        return Ok(None);
    }
    text_bytes(value).map(Some)
}

fn header_pairs(value: &Bound<'_, PyAny>) -> PyResult<Vec<(Vec<u8>, Vec<u8>)>> {
    if value.is_none() {
        return Ok(Vec::new());
    }
    value
        .try_iter()?
        .map(|pair| {
            let (name, text): (Bound<'_, PyAny>, Bound<'_, PyAny>) = pair?.extract()?;
            Ok((text_bytes(&name)?, text_bytes(&text)?))
        })
        .collect()
}

/// A request copied into native memory (see `_native.pyi`).
#[pyclass(frozen, module = "stockade._native")]
#[derive(Debug)]
pub struct NativeRequest {
    pub(crate) request: SimpleRequest,
}

#[pymethods]
impl NativeRequest {
    /// Copy every part of a `RequestFacts`.
    #[staticmethod]
    #[pyo3(signature = (facts, /))]
    fn from_facts(py: Python<'_>, facts: &Bound<'_, PyAny>) -> PyResult<Self> {
        guard(py, || {
            let text = |name: &str| text_bytes(&facts.getattr(name)?);
            let optional = |name: &str| optional_text(&facts.getattr(name)?);
            let flag = |name: &str| facts.getattr(name)?.is_truthy();
            let mut tags = Vec::new();
            for (name, values) in facts.getattr("tags")?.cast_into::<PyDict>()?.iter() {
                let values = values
                    .try_iter()?
                    .map(|value| text_bytes(&value?))
                    .collect::<PyResult<_>>()?;
                tags.push((text_bytes(&name)?, values));
            }
            let mut context = Vec::new();
            for (key, value) in facts.getattr("context")?.cast_into::<PyDict>()?.iter() {
                if value.is_instance_of::<PyString>() {
                    context.push((text_bytes(&key)?, text_bytes(&value)?));
                }
            }
            let has_response = !facts.getattr("response_header_map")?.is_none();
            let code = facts.getattr("response_code")?;
            let body = facts.getattr("body")?;
            let request = SimpleRequest {
                method: text("method")?,
                host: text("host")?,
                path: text("path")?,
                url: text("url")?,
                query: text("query")?,
                proto: text("proto")?,
                headers: header_pairs(&facts.getattr("headers")?)?,
                client_ip: ip16(&facts.getattr("client_ip16")?),
                remote_ip: ip16(&facts.getattr("remote_ip16")?),
                vip: ip16(&facts.getattr("vip16")?),
                trusted: flag("trusted")?,
                secure: flag("secure")?,
                session_proto: optional("session_proto")?,
                tls_sni: optional("tls_sni")?,
                tls_client_auth: flag("tls_client_auth")?,
                tls_client_ca: optional("tls_client_ca")?,
                host_tag: optional("host_tag")?,
                tags,
                context,
                body: if body.is_none() {
                    None
                } else {
                    Some(body.cast::<PyBytes>()?.as_bytes().to_vec())
                },
                response_code: has_response.then(|| code.extract::<i64>().unwrap_or(0)),
                response_headers: header_pairs(&facts.getattr("response_headers")?)?,
                now: facts.getattr("now")?.extract()?,
            };
            Ok(Self { request })
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        guard(py, || {
            let request = &self.request;
            Ok(format!(
                "<NativeRequest {} {}{}>",
                String::from_utf8_lossy(&request.method),
                String::from_utf8_lossy(&request.host),
                String::from_utf8_lossy(&request.path)
            ))
        })
    }
}

/// A Python request read part by part (see the module docstring).
pub struct PyParts<'py> {
    object: Bound<'py, PyAny>,
    /// Not a `RequestFacts`: headers are read through its `header(name)`.
    incoming: bool,
    path: Vec<u8>,
    host: Vec<u8>,
    method: Vec<u8>,
    url: OnceCell<Vec<u8>>,
    query: OnceCell<Vec<u8>>,
    proto: OnceCell<Vec<u8>>,
    facts: OnceCell<Option<Bound<'py, PyAny>>>,
    client_ip: OnceCell<Option<[u8; 16]>>,
    remote_ip: OnceCell<Option<[u8; 16]>>,
    vip: OnceCell<Option<[u8; 16]>>,
    flags: OnceCell<[bool; 3]>,
    session_proto: OnceCell<Option<Vec<u8>>>,
    tls_sni: OnceCell<Option<Vec<u8>>>,
    tls_client_ca: OnceCell<Option<Vec<u8>>>,
    host_tag: OnceCell<Option<Vec<u8>>>,
    body: OnceCell<Option<Vec<u8>>>,
    response: OnceCell<Option<(i64, Bound<'py, PyAny>)>>,
    now: OnceCell<f64>,
    error: RefCell<Option<PyErr>>,
}

impl std::fmt::Debug for PyParts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PyParts").finish_non_exhaustive()
    }
}

impl<'py> PyParts<'py> {
    /// Read the path, host and method of a request now; the rest when asked.
    pub fn new(object: &Bound<'py, PyAny>) -> PyResult<Self> {
        let py = object.py();
        let text = |name: &Bound<'py, PyString>| text_bytes(&object.getattr(name)?);
        Ok(Self {
            incoming: !is_facts(object)?,
            path: text(intern!(py, "path"))?,
            host: text(intern!(py, "host"))?,
            method: text(intern!(py, "method"))?,
            object: object.clone(),
            url: OnceCell::new(),
            query: OnceCell::new(),
            proto: OnceCell::new(),
            facts: OnceCell::new(),
            client_ip: OnceCell::new(),
            remote_ip: OnceCell::new(),
            vip: OnceCell::new(),
            flags: OnceCell::new(),
            session_proto: OnceCell::new(),
            tls_sni: OnceCell::new(),
            tls_client_ca: OnceCell::new(),
            host_tag: OnceCell::new(),
            body: OnceCell::new(),
            response: OnceCell::new(),
            now: OnceCell::new(),
            error: RefCell::new(None),
        })
    }

    /// The first Python error met while reading, if any.
    pub fn take_error(&self) -> Option<PyErr> {
        self.error.borrow_mut().take()
    }

    fn keep<T>(&self, result: PyResult<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                let mut slot = self.error.borrow_mut();
                if slot.is_none() {
                    *slot = Some(error);
                }
                None
            }
        }
    }

    fn facts(&self) -> Option<&Bound<'py, PyAny>> {
        self.facts
            .get_or_init(|| self.keep(self.object.getattr(intern!(self.py(), "facts"))))
            .as_ref()
    }

    fn py(&self) -> Python<'py> {
        self.object.py()
    }

    /// A part of the facts (names interned: no string is built or hashed per read).
    fn fact(&self, name: &Bound<'py, PyString>) -> Option<Bound<'py, PyAny>> {
        let facts = self.facts()?;
        self.keep(facts.getattr(name))
    }

    fn fact_text(&self, name: &Bound<'py, PyString>) -> Option<Vec<u8>> {
        let value = self.fact(name)?;
        self.keep(optional_text(&value)).flatten()
    }

    fn address(&self, name: &Bound<'py, PyString>) -> Option<[u8; 16]> {
        ip16(&self.fact(name)?)
    }

    fn flags(&self) -> [bool; 3] {
        *self.flags.get_or_init(|| {
            let py = self.py();
            [
                intern!(py, "trusted"),
                intern!(py, "secure"),
                intern!(py, "tls_client_auth"),
            ]
            .map(|name| {
                self.fact(name)
                    .is_some_and(|value| self.keep(value.is_truthy()).unwrap_or(false))
            })
        })
    }

    fn mapping_get(&self, mapping: &Bound<'py, PyAny>, key: &[u8]) -> Option<Vec<u8>> {
        let py = self.object.py();
        let key = self.keep(decode(py, key))?;
        let value = self.keep(mapping.call_method1(intern!(py, "get"), (key,)))?;
        if value.is_none() {
            return None;
        }
        self.keep(text_bytes(&value))
    }

    fn response(&self) -> Option<&(i64, Bound<'py, PyAny>)> {
        self.response
            .get_or_init(|| {
                let headers = self.fact(intern!(self.py(), "response_header_map"))?;
                if headers.is_none() {
                    return None;
                }
                let code = self.fact(intern!(self.py(), "response_code"))?;
                Some((code.extract::<i64>().unwrap_or(0), headers))
            })
            .as_ref()
    }
}

impl ConditionRequest for PyParts<'_> {
    fn method(&self) -> &[u8] {
        &self.method
    }
    fn host(&self) -> &[u8] {
        &self.host
    }
    fn path(&self) -> &[u8] {
        &self.path
    }
    fn url(&self) -> &[u8] {
        self.url
            .get_or_init(|| self.fact_text(intern!(self.py(), "url")).unwrap_or_default())
    }
    fn query(&self) -> &[u8] {
        self.query
            .get_or_init(|| self.fact_text(intern!(self.py(), "query")).unwrap_or_default())
    }
    fn proto(&self) -> &[u8] {
        self.proto
            .get_or_init(|| self.fact_text(intern!(self.py(), "proto")).unwrap_or_default())
    }
    fn header(&self, name: &[u8]) -> Option<Cow<'_, [u8]>> {
        // A request's own `header` reads an absent header as "", as every header primitive
        // does; only the debug time tells absent from empty, and reads the facts' map.
        if self.incoming && name != b"x-bfe-debug-time" {
            let py = self.object.py();
            let key = self.keep(decode(py, name))?;
            let value = self.keep(self.object.call_method1(intern!(py, "header"), (key,)))?;
            let bytes = self.keep(text_bytes(&value))?;
            return (!bytes.is_empty()).then_some(Cow::Owned(bytes));
        }
        let map = self.fact(intern!(self.py(), "header_map"))?;
        self.mapping_get(&map, name).map(Cow::Owned)
    }
    fn cookie_lines(&self) -> Vec<Cow<'_, [u8]>> {
        let Some(headers) = self.fact(intern!(self.py(), "headers")) else {
            return Vec::new();
        };
        let pairs = self.keep(header_pairs(&headers)).unwrap_or_default();
        pairs
            .into_iter()
            .filter(|(name, _)| name_is(name, b"cookie"))
            .map(|(_, value)| Cow::Owned(value))
            .collect()
    }
    fn client_ip(&self) -> Option<[u8; 16]> {
        *self
            .client_ip
            .get_or_init(|| self.address(intern!(self.py(), "client_ip16")))
    }
    fn remote_ip(&self) -> Option<[u8; 16]> {
        *self
            .remote_ip
            .get_or_init(|| self.address(intern!(self.py(), "remote_ip16")))
    }
    fn vip(&self) -> Option<[u8; 16]> {
        *self.vip.get_or_init(|| self.address(intern!(self.py(), "vip16")))
    }
    fn trusted(&self) -> bool {
        self.flags()[0]
    }
    fn secure(&self) -> bool {
        self.flags()[1]
    }
    fn session_proto(&self) -> Option<&[u8]> {
        self.session_proto
            .get_or_init(|| self.fact_text(intern!(self.py(), "session_proto")))
            .as_deref()
    }
    fn tls_sni(&self) -> Option<&[u8]> {
        self.tls_sni
            .get_or_init(|| self.fact_text(intern!(self.py(), "tls_sni")))
            .as_deref()
    }
    fn tls_client_auth(&self) -> bool {
        self.flags()[2]
    }
    fn tls_client_ca(&self) -> Option<&[u8]> {
        self.tls_client_ca
            .get_or_init(|| self.fact_text(intern!(self.py(), "tls_client_ca")))
            .as_deref()
    }
    fn host_tag(&self) -> Option<&[u8]> {
        self.host_tag
            .get_or_init(|| self.fact_text(intern!(self.py(), "host_tag")))
            .as_deref()
    }
    fn tags(&self, name: &[u8]) -> Vec<Cow<'_, [u8]>> {
        let py = self.object.py();
        let found = self.fact(intern!(self.py(), "tags")).and_then(|tags| {
            let key = self.keep(decode(py, name))?;
            self.keep(tags.call_method1(intern!(py, "get"), (key, PyList::empty(py))))
        });
        let Some(values) = found else {
            return Vec::new();
        };
        let Some(iterator) = self.keep(values.try_iter()) else {
            return Vec::new();
        };
        iterator
            .filter_map(|value| self.keep(value.and_then(|value| text_bytes(&value))))
            .map(Cow::Owned)
            .collect()
    }
    fn context_str(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        let py = self.object.py();
        let context = self.fact(intern!(self.py(), "context"))?;
        let name = self.keep(decode(py, key))?;
        let value = self.keep(context.call_method1(intern!(py, "get"), (name,)))?;
        if !value.is_instance_of::<PyString>() {
            return None;
        }
        self.keep(text_bytes(&value)).map(Cow::Owned)
    }
    fn body(&self) -> Option<&[u8]> {
        self.body
            .get_or_init(|| {
                let body = self.fact(intern!(self.py(), "body"))?;
                let bytes = body.cast::<PyBytes>().ok()?;
                Some(bytes.as_bytes().to_vec())
            })
            .as_deref()
    }
    fn response_code(&self) -> Option<i64> {
        self.response().map(|(code, _)| *code)
    }
    fn response_header(&self, name: &[u8]) -> Option<Cow<'_, [u8]>> {
        let (_, headers) = self.response()?;
        self.mapping_get(headers, name).map(Cow::Owned)
    }
    fn now(&self) -> f64 {
        *self.now.get_or_init(|| {
            self.fact(intern!(self.py(), "now"))
                .and_then(|now| self.keep(now.extract::<f64>()))
                .unwrap_or(f64::NAN)
        })
    }
}

/// Something to do with a request, whatever its kind (one compiled copy per kind).
pub trait Visit {
    type Output;
    fn visit<R: ConditionRequest + ?Sized>(self, request: &R) -> Self::Output;
}

/// Run `visit` on a request from Python: a [`NativeRequest`] as it is, an `Incoming` that
/// holds a front's [`CanonicalRequest`] (its `native`) through [`FrontView`], anything
/// else (a `RequestFacts`, an `Incoming` without one) through [`PyParts`]; a Python error
/// met while reading is raised.
pub fn with_request<V: Visit>(request: &Bound<'_, PyAny>, visit: V) -> PyResult<V::Output> {
    if let Ok(native) = request.cast::<NativeRequest>() {
        return Ok(visit.visit(&native.get().request));
    }
    let py = request.py();
    if !is_facts(request)?
        && let Ok(held) = request.getattr(intern!(py, "native"))
        && let Ok(handle) = held.cast::<CanonicalRequest>()
    {
        let view = FrontView::new(py, handle.get(), request)?;
        let answer = visit.visit(&view);
        return match view.take_error() {
            Some(error) => Err(error),
            None => Ok(answer),
        };
    }
    let parts = PyParts::new(request)?;
    let answer = visit.visit(&parts);
    match parts.take_error() {
        Some(error) => Err(error),
        None => Ok(answer),
    }
}
