//! The canonical request a front built, kept for the checks: [`CanonicalRequest`], and
//! [`FrontView`], how conditions read it.
//!
//! `Canonicalizer.asgi`/`wsgi` hand it back beside the Python parts, and
//! `stockade.request.incoming.Incoming` keeps it as `native`. It holds what the
//! canonicaliser already has: the Python strings it returns (no copy), the canonical header
//! list (ASGI) or the environ (WSGI), the client's, the peer's and the local 16-byte addresses,
//! whether the peer is trusted, whether the request came over TLS and on HTTP/2. A check
//! then reads every part it needs in native code, in one call: no attribute or method of
//! a Python request is called, and the facts (`RequestFacts`) are not built.
//!
//! Values are exactly the ones the Python request's facts hold, as the part-by-part reader
//! ([`PyParts`]) reads them: Latin-1 header text as UTF-8, an absent or empty header as
//! missing, addresses as `ip16` makes them. What only the facts know (the time) and a
//! header name that is not ASCII are read through [`PyParts`], which builds the facts then
//! (only a rule that reads them pays for them).

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use stockade_core::addr::Addr;
use stockade_core::client_ip::ClientIp as Decided;
use stockade_core::conditions::ConditionRequest;
use stockade_core::request::latin1_utf8;

use crate::conditions::text_bytes;
use crate::errors::guard;
use crate::parts::PyParts;

/// Where the header lines are.
#[derive(Debug)]
enum Lines {
    /// The canonical ASGI header list (`(name, value)` pairs of `bytes`), the TLS facts the
    /// front gave (a `TlsFacts`, or `None`) and the scope's `extensions`.
    Asgi {
        headers: Py<PyAny>,
        tls: Option<Py<PyAny>>,
        extensions: Option<Py<PyAny>>,
    },
    /// The WSGI environ, after canonicalisation: `HTTP_*` keys.
    Wsgi(Py<PyDict>),
}

/// A front's canonical request, kept for the checks (see the module documentation).
#[pyclass(frozen, module = "stockade._native")]
#[derive(Debug)]
pub struct CanonicalRequest {
    method: Py<PyString>,
    host: Py<PyString>,
    path: Py<PyString>,
    uri: Py<PyString>,
    query: Py<PyString>,
    proto: Py<PyString>,
    lines: Lines,
    client_ip: Option<[u8; 16]>,
    remote_ip: Option<[u8; 16]>,
    vip: Option<[u8; 16]>,
    trusted: bool,
    secure: bool,
    http2: bool,
}

/// The parts of a canonical request the canonicaliser hands over.
#[derive(Debug)]
pub struct Canonical<'a, 'py> {
    pub method: &'a Bound<'py, PyString>,
    pub host: &'a Bound<'py, PyString>,
    pub path: &'a Bound<'py, PyString>,
    pub uri: &'a Bound<'py, PyString>,
    pub query: &'a Bound<'py, PyString>,
    pub proto: &'a Bound<'py, PyString>,
    pub decided: &'a Decided,
    /// The address the request arrived on (ASGI's `server`).
    pub vip: Option<Addr>,
    pub secure: bool,
    /// The HTTP version as the front gave it (`2`, `1.1`; WSGI's without `HTTP/`).
    pub version: &'a str,
}

impl CanonicalRequest {
    fn new(parts: &Canonical<'_, '_>, lines: Lines) -> Self {
        let decided = parts.decided;
        // The facts' `client_ip`: the address a forwarding header named, else the peer.
        let client = if decided.header.is_some() {
            decided.address
        } else {
            decided.peer
        };
        Self {
            method: parts.method.clone().unbind(),
            host: parts.host.clone().unbind(),
            path: parts.path.clone().unbind(),
            uri: parts.uri.clone().unbind(),
            query: parts.query.clone().unbind(),
            proto: parts.proto.clone().unbind(),
            lines,
            client_ip: client.map(Addr::to_sixteen),
            remote_ip: decided.peer.map(Addr::to_sixteen),
            vip: parts.vip.map(Addr::to_sixteen),
            trusted: decided.trusted,
            secure: parts.secure,
            http2: parts.version.starts_with('2'),
        }
    }

    /// The request of an ASGI scope whose canonical header list is `headers`; `tls` the
    /// handshake's facts a front gave, `extensions` the scope's.
    pub fn asgi(
        parts: &Canonical<'_, '_>,
        headers: &Bound<'_, PyList>,
        tls: Option<&Bound<'_, PyAny>>,
        extensions: Option<Bound<'_, PyAny>>,
    ) -> Self {
        let lines = Lines::Asgi {
            headers: headers.clone().into_any().unbind(),
            tls: tls.filter(|tls| !tls.is_none()).map(|tls| tls.clone().unbind()),
            extensions: extensions.map(Bound::unbind),
        };
        Self::new(parts, lines)
    }

    /// The request of a WSGI environ (already made canonical).
    pub fn wsgi(parts: &Canonical<'_, '_>, environ: &Bound<'_, PyDict>) -> Self {
        Self::new(parts, Lines::Wsgi(environ.clone().unbind()))
    }
}

#[pymethods]
impl CanonicalRequest {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        guard(py, || {
            Ok(format!(
                "<CanonicalRequest {} {}{}>",
                self.method.bind(py).to_string_lossy(),
                self.host.bind(py).to_string_lossy(),
                self.path.bind(py).to_string_lossy()
            ))
        })
    }
}

/// A `str`'s UTF-8 bytes, borrowed; surrogate escapes as the bytes they stand for.
fn str_bytes<'a>(text: &'a Bound<'_, PyString>) -> PyResult<Cow<'a, [u8]>> {
    match text.to_str() {
        Ok(plain) => Ok(Cow::Borrowed(plain.as_bytes())),
        Err(_) => text_bytes(text.as_any()).map(Cow::Owned),
    }
}

/// A pair of `bytes` from a header list (a 2-tuple, or any pair).
fn pair<'py>(item: &Bound<'py, PyAny>) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyAny>)> {
    match item.cast::<PyTuple>() {
        Ok(tuple) if tuple.len() == 2 => Ok((tuple.get_item(0)?.cast_into()?, tuple.get_item(1)?)),
        _ => {
            let (name, value): (Bound<'py, PyBytes>, Bound<'py, PyAny>) = item.extract()?;
            Ok((name, value))
        }
    }
}

/// The environ key of a header named in lower-case ASCII, as `environ_key` spells it.
fn environ_key(name: &str) -> String {
    match name {
        "content-type" => "CONTENT_TYPE".to_owned(),
        "content-length" => "CONTENT_LENGTH".to_owned(),
        _ => {
            let mut key = String::with_capacity(5 + name.len());
            key.push_str("HTTP_");
            key.extend(
                name.chars()
                    .map(|c| if c == '-' { '_' } else { c.to_ascii_uppercase() }),
            );
            key
        }
    }
}

/// A canonical request as conditions read it, with the request (`Incoming`) it belongs
/// to for what only its facts know.
pub struct FrontView<'a, 'py: 'a> {
    handle: &'a CanonicalRequest,
    incoming: Bound<'py, PyAny>,
    method: Cow<'a, [u8]>,
    host: Cow<'a, [u8]>,
    path: Cow<'a, [u8]>,
    url: OnceCell<Cow<'a, [u8]>>,
    query: OnceCell<Cow<'a, [u8]>>,
    proto: OnceCell<Cow<'a, [u8]>>,
    body: OnceCell<Option<Bound<'py, PyBytes>>>,
    index: OnceCell<HeaderIndex<'py>>,
    tls: OnceCell<Tls>,
    facts: OnceCell<Option<PyParts<'py>>>,
    error: RefCell<Option<PyErr>>,
}

/// An ASGI header list read once: every name in lower case in one buffer, the values
/// fetched only when a condition asks for them.
#[derive(Default)]
struct HeaderIndex<'py> {
    names: Vec<u8>,
    ends: Vec<usize>,
    values: Vec<Bound<'py, PyAny>>,
}

impl<'py> HeaderIndex<'py> {
    fn read(list: &Bound<'py, PyAny>) -> PyResult<Self> {
        let mut index = Self::default();
        for item in list.try_iter()? {
            let (name, value) = pair(&item?)?;
            index
                .names
                .extend(name.as_bytes().iter().map(u8::to_ascii_lowercase));
            index.ends.push(index.names.len());
            index.values.push(value);
        }
        Ok(index)
    }

    /// The values of the lines named `wanted` (lower case), in order.
    fn values<'s>(&'s self, wanted: &'s [u8]) -> impl Iterator<Item = &'s Bound<'py, PyAny>> + 's {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .zip(self.values.iter())
            .filter(move |((start, end), _)| self.names.get(*start..*end) == Some(wanted))
            .map(|(_, value)| value)
    }
}

/// An ASGI request's TLS facts, as the facts hold them.
#[derive(Default)]
struct Tls {
    sni: Option<Vec<u8>>,
    client_auth: bool,
    client_ca: Option<Vec<u8>>,
}

impl std::fmt::Debug for FrontView<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrontView").finish_non_exhaustive()
    }
}

impl<'a, 'py: 'a> FrontView<'a, 'py> {
    /// The view of `handle`, the canonical request of `incoming`.
    pub fn new(
        py: Python<'py>,
        handle: &'a CanonicalRequest,
        incoming: &Bound<'py, PyAny>,
    ) -> PyResult<Self> {
        Ok(Self {
            method: str_bytes(handle.method.bind(py))?,
            host: str_bytes(handle.host.bind(py))?,
            path: str_bytes(handle.path.bind(py))?,
            handle,
            incoming: incoming.clone(),
            url: OnceCell::new(),
            query: OnceCell::new(),
            proto: OnceCell::new(),
            body: OnceCell::new(),
            index: OnceCell::new(),
            tls: OnceCell::new(),
            facts: OnceCell::new(),
            error: RefCell::new(None),
        })
    }

    fn py(&self) -> Python<'py> {
        self.incoming.py()
    }

    /// The first Python error met while reading, if any.
    pub fn take_error(&self) -> Option<PyErr> {
        let own = self.error.borrow_mut().take();
        let facts = self
            .facts
            .get()
            .and_then(Option::as_ref)
            .and_then(PyParts::take_error);
        own.or(facts)
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

    /// The request read part by part, for what only its facts know.
    fn facts(&self) -> Option<&PyParts<'py>> {
        self.facts
            .get_or_init(|| self.keep(PyParts::new(&self.incoming)))
            .as_ref()
    }

    fn text(&self, cell: &'a Py<PyString>) -> Cow<'a, [u8]> {
        self.keep(str_bytes(cell.bind(self.py()))).unwrap_or_default()
    }

    /// The ASGI header list, read once.
    fn index(&self, list: &Py<PyAny>) -> &HeaderIndex<'py> {
        self.index.get_or_init(|| {
            self.keep(HeaderIndex::read(list.bind(self.py())))
                .unwrap_or_default()
        })
    }

    /// The UTF-8 of a header value's Latin-1 text (`value.decode("latin-1")`).
    fn value_text(value: &Bound<'py, PyAny>) -> PyResult<Vec<u8>> {
        let value = value.cast::<PyBytes>()?;
        Ok(latin1_utf8(value.as_bytes()).into_owned())
    }

    /// The TLS facts of an ASGI request, as `facts_from_asgi` reads them.
    fn read_tls(&self, tls: Option<&Py<PyAny>>, extensions: Option<&Py<PyAny>>) -> PyResult<Tls> {
        let py = self.py();
        let optional = |value: Bound<'py, PyAny>| -> PyResult<Option<Vec<u8>>> {
            if value.is_none() {
                Ok(None)
            } else {
                text_bytes(&value).map(Some)
            }
        };
        if let Some(tls) = tls {
            let tls = tls.bind(py);
            return Ok(Tls {
                sni: optional(tls.getattr(intern!(py, "sni"))?)?,
                client_auth: tls.getattr(intern!(py, "client_auth"))?.is_truthy()?,
                client_ca: optional(tls.getattr(intern!(py, "client_ca"))?)?,
            });
        }
        // `(scope.get("extensions") or {}).get("tls") or {}`
        let Some(extensions) = extensions
            .map(|value| value.bind(py))
            .filter(|value| value.is_truthy().unwrap_or(false))
        else {
            return Ok(Tls::default());
        };
        let found = extensions.call_method1(intern!(py, "get"), (intern!(py, "tls"),))?;
        if !found.is_truthy()? {
            return Ok(Tls::default());
        }
        let server_name = found.call_method1(intern!(py, "get"), (intern!(py, "server_name"),))?;
        let chain = found.call_method1(intern!(py, "get"), (intern!(py, "client_cert_chain"),))?;
        Ok(Tls {
            sni: if server_name.is_truthy()? {
                optional(server_name)?
            } else {
                None
            },
            client_auth: chain.is_truthy()?,
            client_ca: None,
        })
    }

    fn tls(&self) -> &Tls {
        self.tls.get_or_init(|| match &self.handle.lines {
            Lines::Asgi { tls, extensions, .. } => self
                .keep(self.read_tls(tls.as_ref(), extensions.as_ref()))
                .unwrap_or_default(),
            Lines::Wsgi(_) => Tls::default(),
        })
    }

    /// A WSGI header's value under `wanted` (lower-case ASCII), as `Incoming.header` reads it.
    fn wsgi_header(&self, environ: &Bound<'py, PyDict>, wanted: &str) -> PyResult<Option<Vec<u8>>> {
        let key = environ_key(wanted);
        match environ.get_item(key)? {
            None => Ok(None),
            Some(value) => text_bytes(value.str()?.as_any()).map(Some),
        }
    }

    fn cookie_values(&self) -> PyResult<Vec<Vec<u8>>> {
        let py = self.py();
        let mut values = Vec::new();
        match &self.handle.lines {
            Lines::Asgi { headers, .. } => {
                for value in self.index(headers).values(b"cookie") {
                    values.push(Self::value_text(value)?);
                }
            }
            Lines::Wsgi(environ) => {
                // The facts' headers: every `HTTP_*` key, named from the key.
                for (key, value) in environ.bind(py).iter() {
                    let Ok(key) = key.cast_into::<PyString>() else {
                        continue;
                    };
                    let is_cookie = key
                        .to_str()
                        .ok()
                        .and_then(|key| key.strip_prefix("HTTP_"))
                        .is_some_and(|name| name.eq_ignore_ascii_case("cookie"));
                    if is_cookie {
                        values.push(text_bytes(value.str()?.as_any())?);
                    }
                }
            }
        }
        Ok(values)
    }
}

impl ConditionRequest for FrontView<'_, '_> {
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
        self.url.get_or_init(|| self.text(&self.handle.uri))
    }
    fn query(&self) -> &[u8] {
        self.query.get_or_init(|| self.text(&self.handle.query))
    }
    fn proto(&self) -> &[u8] {
        self.proto.get_or_init(|| self.text(&self.handle.proto))
    }
    fn header(&self, name: &[u8]) -> Option<Cow<'_, [u8]>> {
        // The debug time tells an absent header from an empty one, and reads the facts;
        // a name that is not ASCII is matched as Python matches it; and once this
        // evaluation has built the facts, `Incoming.header` reads them (a WSGI name with
        // `_` then reads differently), so it is asked.
        let built = self.facts.get().is_some_and(Option::is_some);
        if built || name == b"x-bfe-debug-time" || !name.is_ascii() {
            return self.facts()?.header(name);
        }
        let py = self.py();
        let found = match &self.handle.lines {
            Lines::Asgi { headers, .. } => {
                let first = self.index(headers).values(name).next();
                first.map(Self::value_text).transpose()
            }
            Lines::Wsgi(environ) => {
                let wanted = std::str::from_utf8(name).unwrap_or_default();
                self.wsgi_header(environ.bind(py), wanted)
            }
        };
        // An empty value reads as absent, as every header primitive has it.
        self.keep(found)
            .flatten()
            .filter(|value| !value.is_empty())
            .map(Cow::Owned)
    }
    fn cookie_lines(&self) -> Vec<Cow<'_, [u8]>> {
        let values = self.keep(self.cookie_values()).unwrap_or_default();
        values.into_iter().map(Cow::Owned).collect()
    }
    fn client_ip(&self) -> Option<[u8; 16]> {
        self.handle.client_ip
    }
    fn remote_ip(&self) -> Option<[u8; 16]> {
        self.handle.remote_ip
    }
    fn vip(&self) -> Option<[u8; 16]> {
        self.handle.vip
    }
    fn trusted(&self) -> bool {
        self.handle.trusted
    }
    fn secure(&self) -> bool {
        self.handle.secure
    }
    fn session_proto(&self) -> Option<&[u8]> {
        if !self.handle.secure {
            return None;
        }
        Some(if self.handle.http2 { b"h2" } else { b"https" })
    }
    fn tls_sni(&self) -> Option<&[u8]> {
        self.tls().sni.as_deref()
    }
    fn tls_client_auth(&self) -> bool {
        self.tls().client_auth
    }
    fn tls_client_ca(&self) -> Option<&[u8]> {
        self.tls().client_ca.as_deref()
    }
    fn host_tag(&self) -> Option<&[u8]> {
        None
    }
    fn tags(&self, _name: &[u8]) -> Vec<Cow<'_, [u8]>> {
        Vec::new()
    }
    fn context_str(&self, _key: &[u8]) -> Option<Cow<'_, [u8]>> {
        None
    }
    fn body(&self) -> Option<&[u8]> {
        self.body
            .get_or_init(|| {
                let body = self.keep(self.incoming.getattr(intern!(self.py(), "body")))?;
                body.cast_into::<PyBytes>().ok()
            })
            .as_ref()
            .map(|body| body.as_bytes())
    }
    fn response_code(&self) -> Option<i64> {
        None
    }
    fn response_header(&self, _name: &[u8]) -> Option<Cow<'_, [u8]>> {
        None
    }
    fn now(&self) -> f64 {
        self.facts().map_or(f64::NAN, PyParts::now)
    }
}
