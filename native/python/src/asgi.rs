//! The canonical request of an ASGI scope (the protecting server's and the ASGI
//! middleware's), made in place.
//!
//! The scope is read once (`raw_path` or else the decoded `path`, `headers`, `client`,
//! `method`, `query_string`, `http_version`) and written back only where the canonical
//! request differs: `raw_path` and `path`, the header list (one canonical `Host`, no
//! proxy-only header from an untrusted peer), and `client` when a trusted proxy named the
//! client. Objects the scope already holds are handed back as they are when they are
//! canonical (the usual request allocates only the `ClientIp` and the tuple).

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use stockade_core::Addr;
use stockade_core::canonical::path::quote_path;
use stockade_core::canonical::{self, BadRequest, HttpVersion, RawRequest};
use stockade_core::request::{Connection, Request};

use crate::canonical::peer_address;
use crate::client_ip::{self, ClientIp};
use crate::errors::bad_request;
use crate::front_request::{Canonical, CanonicalRequest};
use crate::headers::HeaderLines;
use crate::ladder::Step;
use crate::text::{from_latin1, holds};

/// The address last parsed from a scope's `client` and `server` text, by the very `str`
/// object it came from (held here, so that no other object can take its place): a server
/// hands every request of a connection the same strings, which are then parsed once (and
/// the client's spelled once: see [`AddressCache::spelled_peer`]).
#[derive(Debug, Default)]
pub struct AddressCache {
    peer: ArcSwapOption<Parsed>,
    server: ArcSwapOption<Parsed>,
}

/// One text, its address, and (for a peer) that address's normal spelling.
#[derive(Debug)]
struct Parsed {
    text: Py<PyString>,
    address: Option<Addr>,
    spelled: Option<Py<PyString>>,
}

impl AddressCache {
    fn peer(&self, text: &Bound<'_, PyString>) -> Option<Addr> {
        Self::parsed(&self.peer, text, true)
    }

    fn server(&self, text: &Bound<'_, PyString>) -> Option<Addr> {
        Self::parsed(&self.server, text, false)
    }

    /// `spell(address, text)` when `text` is the peer text last parsed, as that `address`.
    fn spelled_peer<'py>(&self, text: &Bound<'py, PyString>, address: Addr) -> Option<Bound<'py, PyString>> {
        let entry = self.peer.load();
        let entry = entry.as_ref()?;
        if !entry.text.is(text) || entry.address != Some(address) {
            return None;
        }
        entry
            .spelled
            .as_ref()
            .map(|spelled| spelled.bind(text.py()).clone())
    }

    fn parsed(slot: &ArcSwapOption<Parsed>, text: &Bound<'_, PyString>, spell: bool) -> Option<Addr> {
        if let Some(entry) = &*slot.load()
            && entry.text.is(text)
        {
            return entry.address;
        }
        let address = peer_address(text);
        let spelled = address
            .filter(|_| spell)
            .map(|address| client_ip::spell(text.py(), address, text).unbind());
        slot.store(Some(Arc::new(Parsed {
            text: text.clone().unbind(),
            address,
            spelled,
        })));
        address
    }
}

/// `(path, target, host, client, method, query, proto, uri, request)`, the scope made
/// canonical; `request` is the [`CanonicalRequest`] the checks read (`tls`: the TLS facts
/// of the front's handshake, which it keeps).
pub fn canonicalize<'py>(
    this: &canonical::Canonicalizer,
    py: Python<'py>,
    scope: &Bound<'py, PyDict>,
    require_host: bool,
    tls: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyTuple>> {
    let sent = match SentPath::read(py, scope)? {
        Ok(sent) => sent,
        Err(PathProblem::NotBytes(error)) => return Err(error),
        Err(PathProblem::NotUtf8) => return Err(bad_request(py, BadRequest::PathNotUtf8)),
    };
    let (raw_path, given_path, raw) = (&sent.raw_path, &sent.given, sent.bytes());
    let peer = peer_text(py, scope)?;
    let given_headers = match scope.get_item(intern!(py, "headers"))? {
        Some(headers) => headers,
        None => PyList::empty(py).into_any(),
    };
    let lines = HeaderLines::read(given_headers)?;
    let bytes = lines.bytes();
    let parts = this
        .parts(raw, peer_address(&peer), &bytes)
        .map_err(|error| bad_request(py, error))?;
    let host = &parts.headers.host;
    let version = scope.get_item(intern!(py, "http_version"))?;
    if require_host && host.name.is_empty() {
        let is_11 = match &version {
            Some(version) => holds(&version.str()?, "1.1"),
            None => true,
        };
        if is_11 {
            return Err(bad_request(py, BadRequest::NoHost));
        }
    }
    let client = ClientIp::of(py, &parts.client, &peer);

    let target = match &raw_path {
        Some(bytes) if bytes.as_bytes() == parts.path.target.as_ref() => bytes.clone(),
        _ => {
            let target = PyBytes::new(py, &parts.path.target);
            scope.set_item(intern!(py, "raw_path"), &target)?;
            target
        }
    };
    let path = match given_path.as_ref().and_then(|path| path.cast::<PyString>().ok()) {
        Some(path) if holds(path, &parts.path.path) => path.clone(),
        _ => {
            let path = PyString::new(py, &parts.path.path);
            scope.set_item(intern!(py, "path"), &path)?;
            path
        }
    };
    let headers = lines.canonical(py, &parts.headers)?;
    if !headers.is(lines.given()) {
        scope.set_item(intern!(py, "headers"), &headers)?;
    }
    if client.named_by_header() {
        scope.set_item(intern!(py, "client"), (client.address(py), 0))?;
    }

    let host = if host.name.is_empty() {
        intern!(py, "").clone()
    } else {
        PyString::new(py, &host.header())
    };
    let method = match scope.get_item(intern!(py, "method"))? {
        Some(method) => method.str()?,
        None => intern!(py, "GET").clone(),
    };
    let query = match scope.get_item(intern!(py, "query_string"))? {
        Some(query) if !query.is_none() => {
            let bytes = query.cast_into::<PyBytes>()?;
            if bytes.as_bytes().is_empty() {
                intern!(py, "").clone()
            } else {
                from_latin1(py, bytes.as_bytes())
            }
        }
        _ => intern!(py, "").clone(),
    };
    let proto = match &version {
        None => intern!(py, "HTTP/1.1").clone(),
        Some(version) => proto(py, &version.str()?)?,
    };
    let uri = uri_of(py, &parts.path.target, &path, &query)?;
    let scheme = scope.get_item(intern!(py, "scheme"))?;
    let secure = scheme
        .as_ref()
        .and_then(|scheme| scheme.cast::<PyString>().ok())
        .is_some_and(|scheme| matches!(scheme.to_str(), Ok("https" | "wss")));
    let version_text = match &version {
        Some(version) => version.str()?,
        None => intern!(py, "1.1").clone(),
    };
    let request = CanonicalRequest::asgi(
        &Canonical {
            method: &method,
            host: &host,
            path: &path,
            uri: &uri,
            query: &query,
            proto: &proto,
            decided: &parts.client,
            vip: server_address(py, scope)?,
            secure,
            version: &version_text.to_string_lossy(),
        },
        &headers,
        tls,
        scope.get_item(intern!(py, "extensions"))?,
    );
    let client = Bound::new(py, client)?;
    PyTuple::new(
        py,
        [
            path.into_any(),
            target.into_any(),
            host.into_any(),
            client.into_any(),
            method.into_any(),
            query.into_any(),
            proto.into_any(),
            uri.into_any(),
            Bound::new(py, request)?.into_any(),
        ],
    )
}

/// The scope's path as sent: its `raw_path` up to any `?`, or, from a server that gives only
/// the decoded `path`, that path escaped (never decoded again).
struct SentPath<'py> {
    raw_path: Option<Bound<'py, PyBytes>>,
    given: Option<Bound<'py, PyAny>>,
    quoted: Vec<u8>,
}

/// Why a scope's path cannot be read.
enum PathProblem {
    /// `raw_path` is not `bytes`.
    NotBytes(PyErr),
    /// The decoded `path` is not UTF-8 text.
    NotUtf8,
}

impl<'py> SentPath<'py> {
    fn read(py: Python<'py>, scope: &Bound<'py, PyDict>) -> PyResult<Result<Self, PathProblem>> {
        let raw_path = match scope.get_item(intern!(py, "raw_path"))? {
            Some(value) if !value.is_none() => match value.cast_into::<PyBytes>() {
                Ok(bytes) => Some(bytes),
                Err(error) => return Ok(Err(PathProblem::NotBytes(error.into()))),
            },
            _ => None,
        };
        let given = scope.get_item(intern!(py, "path"))?;
        let mut quoted = Vec::new();
        if raw_path.is_none() {
            let text = match &given {
                Some(path) => path.str()?,
                None => intern!(py, "/").clone(),
            };
            let Ok(utf8) = text.to_str() else {
                return Ok(Err(PathProblem::NotUtf8));
            };
            quoted = quote_path(utf8.as_bytes());
        }
        Ok(Ok(Self {
            raw_path,
            given,
            quoted,
        }))
    }

    fn bytes(&self) -> &[u8] {
        match &self.raw_path {
            Some(bytes) => {
                let bytes = bytes.as_bytes();
                let end = bytes.iter().position(|&b| b == b'?').unwrap_or(bytes.len());
                bytes.get(..end).unwrap_or(bytes)
            }
            None => &self.quoted,
        }
    }
}

/// `target?query` as text (the target alone without a query); the path's own `str` when
/// it spells the target (an ordinary path has no escape).
fn uri_of<'py>(
    py: Python<'py>,
    target: &[u8],
    path: &Bound<'py, PyString>,
    query: &Bound<'py, PyString>,
) -> PyResult<Bound<'py, PyString>> {
    // A canonical target is ASCII.
    let target = std::str::from_utf8(target).unwrap_or_default();
    let query_text = query.to_str().ok();
    if query_text == Some("") {
        return Ok(if holds(path, target) {
            path.clone()
        } else {
            PyString::new(py, target)
        });
    }
    match query_text {
        Some(query) => {
            let mut uri = String::with_capacity(target.len() + 1 + query.len());
            uri.push_str(target);
            uri.push('?');
            uri.push_str(query);
            Ok(PyString::new(py, &uri))
        }
        None => PyString::new(py, target)
            .add("?")?
            .add(query)?
            .cast_into::<PyString>()
            .map_err(Into::into),
    }
}

/// [`server_address`], its text parsed once a `str` object (see [`AddressCache`]).
fn cached_server_address(
    py: Python<'_>,
    scope: &Bound<'_, PyDict>,
    cache: &AddressCache,
) -> PyResult<Option<stockade_core::Addr>> {
    if let Some(server) = scope.get_item(intern!(py, "server"))?
        && let Ok(pair) = server.cast::<PyTuple>()
        && !pair.is_empty()
        && let Ok(first) = pair.get_item(0)?.cast_into_exact::<PyString>()
    {
        return Ok(if first.to_str().is_ok_and(str::is_empty) {
            None
        } else {
            cache.server(&first)
        });
    }
    server_address(py, scope)
}

/// `str(value)`: a `str` as it is, without a call.
fn text_of(value: Bound<'_, PyAny>) -> PyResult<Bound<'_, PyString>> {
    match value.cast_into_exact::<PyString>() {
        Ok(text) => Ok(text),
        Err(error) => error.into_inner().str(),
    }
}

/// The address of the scope's `server` (`str(server[0])`), as the facts read it.
fn server_address(py: Python<'_>, scope: &Bound<'_, PyDict>) -> PyResult<Option<stockade_core::Addr>> {
    let Some(server) = scope.get_item(intern!(py, "server"))? else {
        return Ok(None);
    };
    let first = match (server.cast::<PyTuple>(), server.cast::<PyList>()) {
        (Ok(pair), _) if !pair.is_empty() => pair.get_item(0)?,
        (_, Ok(list)) if !list.is_empty() => list.get_item(0)?,
        _ => return Ok(None),
    };
    if !first.is_truthy()? {
        return Ok(None);
    }
    Ok(peer_address(&first.str()?))
}

/// The peer's address as text (`str(client[0])`); `""` without a client.
fn peer_text<'py>(py: Python<'py>, scope: &Bound<'py, PyDict>) -> PyResult<Bound<'py, PyString>> {
    let Some(client) = scope.get_item(intern!(py, "client"))? else {
        return Ok(intern!(py, "").clone());
    };
    let first = match client.cast::<PyTuple>() {
        Ok(pair) if pair.is_empty() => return Ok(intern!(py, "").clone()),
        Ok(pair) => pair.get_item(0)?,
        Err(_) if client.is_none() || !client.is_truthy()? => return Ok(intern!(py, "").clone()),
        Err(_) => client.get_item(0)?,
    };
    if first.is_none() {
        return Ok(intern!(py, "").clone());
    }
    match first.cast_into::<PyString>() {
        Ok(text) => Ok(text),
        Err(error) => error.into_inner().str(),
    }
}

/// `HTTP/` and the version, the usual ones built once.
fn proto<'py>(py: Python<'py>, version: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyString>> {
    Ok(match version.to_str() {
        Ok("1.1") => intern!(py, "HTTP/1.1").clone(),
        Ok("1.0") => intern!(py, "HTTP/1.0").clone(),
        Ok("2") => intern!(py, "HTTP/2").clone(),
        _ => intern!(py, "HTTP/").add(version)?.cast_into::<PyString>()?,
    })
}

/// Whether a scope's `extensions` carry TLS facts (conditions would read them: the Python
/// side decides such a request).
fn has_tls(py: Python<'_>, scope: &Bound<'_, PyDict>) -> PyResult<bool> {
    match scope.get_item(intern!(py, "extensions"))? {
        None => Ok(false),
        Some(extensions) if extensions.is_none() => Ok(false),
        Some(extensions) => match extensions.cast::<PyDict>() {
            Ok(extensions) => Ok(extensions.contains(intern!(py, "tls"))?),
            Err(_) => Ok(true),
        },
    }
}

/// Run `decide` (the native ladder) over the canonical request of an `http` scope, without
/// touching the scope; on a pass, make the scope canonical exactly as [`canonicalize`]
/// does and hand back the client the guard believes. `None`: the Python side decides the
/// request from the start (the scope is then untouched): a request with no safe canonical
/// form, a peer that is not an address, text beyond ASCII in the method, query or header
/// values, an unknown HTTP version, TLS facts in the scope, or whatever `decide` hands on.
pub fn decide<'py>(
    this: &canonical::Canonicalizer,
    addresses: &AddressCache,
    py: Python<'py>,
    scope: &Bound<'py, PyDict>,
    decide: impl FnOnce(&Request<'_>, Connection<'_>) -> Step,
) -> PyResult<Option<(Step, Option<Bound<'py, PyString>>)>> {
    if has_tls(py, scope)? {
        return Ok(None);
    }
    let Ok(sent) = SentPath::read(py, scope)? else {
        return Ok(None);
    };
    let (raw_path, given_path, raw) = (&sent.raw_path, &sent.given, sent.bytes());
    let peer = peer_text(py, scope)?;
    let peer_addr = addresses.peer(&peer);
    if peer_addr.is_none() && !peer.to_str().is_ok_and(str::is_empty) {
        // The Python side keys a non-address client's bans by its text.
        return Ok(None);
    }
    let given_headers = match scope.get_item(intern!(py, "headers"))? {
        Some(headers) => headers,
        None => PyList::empty(py).into_any(),
    };
    let lines = HeaderLines::read_all(given_headers)?;
    let bytes = lines.bytes();
    if bytes.iter().any(|(_, value)| !value.is_ascii()) {
        return Ok(None);
    }
    let method_text = match scope.get_item(intern!(py, "method"))? {
        Some(method) => text_of(method)?,
        None => intern!(py, "GET").clone(),
    };
    let Ok(method) = method_text.to_str() else {
        return Ok(None);
    };
    let query_bytes = match scope.get_item(intern!(py, "query_string"))? {
        Some(query) if !query.is_none() => match query.cast_into::<PyBytes>() {
            Ok(query) => Some(query),
            Err(_) => return Ok(None),
        },
        _ => None,
    };
    let query = query_bytes.as_ref().map_or(&b""[..], |query| query.as_bytes());
    if !method.is_ascii() || !query.is_ascii() {
        return Ok(None);
    }
    let version = match scope.get_item(intern!(py, "http_version"))? {
        None => HttpVersion::Http11,
        Some(version) => match text_of(version)?
            .to_str()
            .ok()
            .and_then(|v| HttpVersion::parse(v.as_bytes()))
        {
            Some(version) => version,
            None => return Ok(None),
        },
    };
    let secure = scope
        .get_item(intern!(py, "scheme"))?
        .as_ref()
        .and_then(|scheme| scheme.cast::<PyString>().ok())
        .is_some_and(|scheme| matches!(scheme.to_str(), Ok("https" | "wss")));
    let Ok(parts) = this.parts(raw, peer_addr, &bytes) else {
        return Ok(None);
    };
    let request = Request::new(
        &RawRequest {
            method: method.as_bytes(),
            path: raw,
            query,
            headers: &bytes,
            peer: peer_addr,
            secure,
            version,
            body: None,
        },
        parts.path.clone(),
        parts.headers.host.clone(),
        parts.headers.apply(&bytes).collect(),
        parts.client,
        parts.headers.changed,
    );
    let connection = Connection {
        vip: cached_server_address(py, scope, addresses)?,
        ..Connection::default()
    };
    let step = decide(&request, connection);
    if !matches!(step, Step::Pass) {
        return Ok(Some((step, None)));
    }
    // Passed: the scope becomes the canonical request, as `canonicalize` writes it.
    if raw_path
        .as_ref()
        .is_none_or(|given| given.as_bytes() != parts.path.target.as_ref())
    {
        scope.set_item(intern!(py, "raw_path"), PyBytes::new(py, &parts.path.target))?;
    }
    let same_path = given_path
        .as_ref()
        .and_then(|path| path.cast::<PyString>().ok())
        .is_some_and(|path| holds(path, &parts.path.path));
    if !same_path {
        scope.set_item(intern!(py, "path"), PyString::new(py, &parts.path.path))?;
    }
    let headers = lines.canonical(py, &parts.headers)?;
    if !headers.is(lines.given()) {
        scope.set_item(intern!(py, "headers"), &headers)?;
    }
    // The usual client: the peer itself, spelled once per connection's text.
    let cached = match (&parts.client.header, parts.client.peer) {
        (None, Some(address)) => addresses.spelled_peer(&peer, address),
        _ => None,
    };
    let (client, named_by_header) = match cached {
        Some(client) => (client, false),
        None => ClientIp::address_of(py, &parts.client, &peer),
    };
    if named_by_header {
        scope.set_item(intern!(py, "client"), (&client, 0))?;
    }
    Ok(Some((step, Some(client))))
}
