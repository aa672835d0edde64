//! The canonical request of a WSGI environ (PEP 3333), made in place.
//!
//! A WSGI server has already percent-decoded `PATH_INFO`; decoding it again would let
//! `%252f` become a slash the app never sees. So the path comes from the raw target the
//! server keeps (gunicorn's `RAW_URI`, uWSGI's and Werkzeug's `REQUEST_URI`) when there
//! is one, and otherwise from `SCRIPT_NAME` + `PATH_INFO`, escaped rather than decoded.
//! The environ is read in one pass over its keys; then the canonical `PATH_INFO`, raw
//! target, `HTTP_HOST` and `REMOTE_ADDR` (when a trusted proxy named the client) are
//! written back where they differ, and the proxy-only headers of an untrusted peer are
//! deleted. Nothing is written when the request is refused.

use std::borrow::Cow;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};
use stockade_core::canonical::path::{path_of_target, trim_trailing_slashes, under_mount_point};
use stockade_core::canonical::{
    self, BadRequest, HttpVersion, RawRequest, canonical_decoded_path, canonical_host, canonical_path,
};
use stockade_core::client_ip::{ClientIp as Decided, ForwardingHeader};
use stockade_core::request::{Connection, Header, Request};

use crate::canonical::peer_address;
use crate::client_ip::ClientIp;
use crate::errors::bad_request;
use crate::front_request::{Canonical, CanonicalRequest};
use crate::ladder::Step;
use crate::text::{from_latin1, holds_latin1, latin1};

/// What the canonical request reads from an environ, found in one pass.
#[derive(Default)]
struct Seen<'py> {
    raw_uri: Option<Bound<'py, PyAny>>,
    request_uri: Option<Bound<'py, PyAny>>,
    script_name: Option<Bound<'py, PyAny>>,
    path_info: Option<Bound<'py, PyAny>>,
    remote_addr: Option<Bound<'py, PyAny>>,
    host: Option<Bound<'py, PyAny>>,
    query: Option<Bound<'py, PyAny>>,
    method: Option<Bound<'py, PyAny>>,
    protocol: Option<Bound<'py, PyAny>>,
    forwarding: Vec<(ForwardingHeader, Bound<'py, PyAny>)>,
    /// Keys of headers only a trusted proxy may send (`HTTP_X_REAL_IP`...).
    proxy_only: Vec<Bound<'py, PyString>>,
    /// The header entries (`HTTP_*`, `CONTENT_TYPE`, `CONTENT_LENGTH`), in the environ's
    /// order, so that the native ladder's header lines need no second pass.
    headers: Vec<(Bound<'py, PyString>, Bound<'py, PyAny>)>,
}

impl<'py> Seen<'py> {
    fn read(environ: &Bound<'py, PyDict>) -> Self {
        let mut seen = Seen::default();
        for (key, value) in environ.iter() {
            let Ok(key) = key.cast_into::<PyString>() else {
                continue;
            };
            let Ok(name) = key.to_str() else {
                continue;
            };
            match name {
                "RAW_URI" => seen.raw_uri = Some(value),
                "REQUEST_URI" => seen.request_uri = Some(value),
                "SCRIPT_NAME" => seen.script_name = Some(value),
                "PATH_INFO" => seen.path_info = Some(value),
                "REMOTE_ADDR" => seen.remote_addr = Some(value),
                "QUERY_STRING" => seen.query = Some(value),
                "REQUEST_METHOD" => seen.method = Some(value),
                "SERVER_PROTOCOL" => seen.protocol = Some(value),
                "HTTP_HOST" => {
                    seen.host = Some(value.clone());
                    seen.headers.push((key, value));
                }
                "CONTENT_TYPE" | "CONTENT_LENGTH" => seen.headers.push((key, value)),
                _ => {
                    let Some(header) = name.strip_prefix("HTTP_") else {
                        continue;
                    };
                    let forwarding = match header {
                        "X_FORWARDED_FOR" => Some(ForwardingHeader::XForwardedFor),
                        "FORWARDED" => Some(ForwardingHeader::Forwarded),
                        "X_REAL_IP" => Some(ForwardingHeader::XRealIp),
                        _ => None,
                    };
                    if let Some(forwarding) = forwarding {
                        seen.forwarding.push((forwarding, value.clone()));
                    }
                    // The environ's own spelling of a header (upper case, `_`), as servers write it.
                    let spelled = !header.bytes().any(|b| b.is_ascii_lowercase() || b == b'-');
                    if spelled && canonical::proxy_only(header.as_bytes()) {
                        seen.proxy_only.push(key.clone());
                    }
                    seen.headers.push((key, value));
                }
            }
        }
        seen
    }
}

/// `str(value)`, or `default` for a missing value.
fn text<'py>(
    value: Option<&Bound<'py, PyAny>>,
    default: &Bound<'py, PyString>,
) -> PyResult<Bound<'py, PyString>> {
    match value {
        Some(value) => value.str(),
        None => Ok(default.clone()),
    }
}

/// `str(value)` when the value is truthy, else `None` (`environ.get(key) or ...`).
fn truthy_text<'py>(value: Option<&Bound<'py, PyAny>>) -> PyResult<Option<Bound<'py, PyString>>> {
    match value {
        Some(value) if value.is_truthy()? => Ok(Some(value.str()?)),
        _ => Ok(None),
    }
}

/// What the canonical request of an environ is, decided before anything is written.
struct Read<'py> {
    seen: Seen<'py>,
    script_bytes: Vec<u8>,
    raw_target: Option<Bound<'py, PyString>>,
    path: canonical::CanonicalPath<'static>,
    peer: Bound<'py, PyString>,
    decided: Decided,
    raw_host: Option<Bound<'py, PyString>>,
    host_bytes: Vec<u8>,
}

/// Read an environ and decide its canonical parts (the caller checks the host's spelling
/// from `host_bytes`); nothing is written.
fn read<'py>(
    this: &canonical::Canonicalizer,
    py: Python<'py>,
    environ: &Bound<'py, PyDict>,
) -> PyResult<Read<'py>> {
    let seen = Seen::read(environ);
    let empty = intern!(py, "");
    let refuse = |error: BadRequest| bad_request(py, error);
    let not_utf8 = || bad_request(py, BadRequest::PathNotUtf8);

    let script = text(seen.script_name.as_ref(), empty)?;
    let script_bytes = latin1(&script).ok_or_else(not_utf8)?.into_owned();
    let raw_target = match truthy_text(seen.raw_uri.as_ref())? {
        Some(raw) => Some(raw),
        None => truthy_text(seen.request_uri.as_ref())?,
    };
    let path = match &raw_target {
        Some(raw) => {
            let bytes = latin1(raw).ok_or_else(not_utf8)?;
            canonical_path(&path_of_target(&bytes), this.policy)
                .map(canonical::CanonicalPath::into_owned)
                .map_err(refuse)?
        }
        None => {
            let info = text(seen.path_info.as_ref(), empty)?;
            let mut decoded = script_bytes.clone();
            decoded.extend_from_slice(&latin1(&info).ok_or_else(not_utf8)?);
            canonical_decoded_path(&decoded, this.policy).map_err(refuse)?
        }
    };
    if !under_mount_point(path.path.as_bytes(), &script_bytes) {
        return Err(refuse(BadRequest::LeavesMountPoint));
    }

    let peer = match truthy_text(seen.remote_addr.as_ref())? {
        Some(peer) => peer,
        None => empty.clone(),
    };
    let mut values: Vec<(&[u8], Cow<'_, [u8]>)> = Vec::with_capacity(seen.forwarding.len());
    let forwarding_texts = seen
        .forwarding
        .iter()
        .map(|(header, value)| Ok((*header, value.str()?)))
        .collect::<PyResult<Vec<_>>>()?;
    for (header, value) in &forwarding_texts {
        let bytes =
            latin1(value).unwrap_or_else(|| Cow::Owned(value.to_string_lossy().into_owned().into_bytes()));
        values.push((header.name().as_bytes(), bytes));
    }
    let lines: Vec<(&[u8], &[u8])> = values
        .iter()
        .map(|(name, value)| (*name, value.as_ref()))
        .collect();
    let decided = this.proxies.resolve(peer_address(&peer), &lines);

    let raw_host = match &seen.host {
        Some(host) if !host.is_none() => Some(host.str()?),
        _ => None,
    };
    let host_bytes = match &raw_host {
        Some(host) => latin1(host)
            .unwrap_or_else(|| Cow::Owned(host.to_string_lossy().into_owned().into_bytes()))
            .into_owned(),
        None => Vec::new(),
    };
    Ok(Read {
        seen,
        script_bytes,
        raw_target,
        path,
        peer,
        decided,
        raw_host,
        host_bytes,
    })
}

/// What [`write`] hands back: the `Host` header, the target with its query, the query and
/// the client.
type Written<'py> = (
    Bound<'py, PyString>,
    Bound<'py, PyString>,
    Bound<'py, PyString>,
    ClientIp,
);

/// Header lines as owned `(name, value)` bytes.
type OwnedLines = Vec<(Vec<u8>, Vec<u8>)>;

/// A pass's client and canonical path.
type Passed<'py> = (Bound<'py, PyString>, Bound<'py, PyString>);

/// Make the environ canonical: `(host header, uri, query, client)`.
fn write<'py>(
    py: Python<'py>,
    environ: &Bound<'py, PyDict>,
    read: &Read<'py>,
    host: &canonical::CanonicalHost<'_>,
) -> PyResult<Written<'py>> {
    let empty = intern!(py, "");
    let seen = &read.seen;
    if !read.decided.trusted {
        for key in &seen.proxy_only {
            environ.del_item(key)?;
        }
    }
    let host_header = if host.name.is_empty() {
        if read.raw_host.is_some() {
            environ.del_item(intern!(py, "HTTP_HOST"))?;
        }
        empty.clone()
    } else {
        match &read.raw_host {
            Some(given)
                if given
                    .to_str()
                    .is_ok_and(|given| host.spelled_as(given.as_bytes())) =>
            {
                given.clone()
            }
            _ => {
                let spelled = PyString::new(py, &host.header());
                environ.set_item(intern!(py, "HTTP_HOST"), &spelled)?;
                spelled
            }
        }
    };
    let path = &read.path;
    let info = path
        .path
        .as_bytes()
        .get(trim_trailing_slashes(&read.script_bytes).len()..)
        .unwrap_or_default();
    let info_given = seen
        .path_info
        .as_ref()
        .and_then(|value| value.cast::<PyString>().ok());
    if !info_given.is_some_and(|given| holds_latin1(given, info)) {
        environ.set_item(intern!(py, "PATH_INFO"), from_latin1(py, info))?;
    }
    let query = text(seen.query.as_ref(), empty)?;
    let uri = uri_of(py, &path.target, &query, read.raw_target.as_ref())?;
    for (key, given) in [
        (intern!(py, "RAW_URI"), &seen.raw_uri),
        (intern!(py, "REQUEST_URI"), &seen.request_uri),
    ] {
        if let Some(given) = given
            && !given.is(&uri)
            && !given
                .cast::<PyString>()
                .is_ok_and(|given| given.as_any().eq(&uri).unwrap_or(false))
        {
            environ.set_item(key, &uri)?;
        }
    }
    let client = ClientIp::of(py, &read.decided, &read.peer);
    if client.named_by_header() {
        environ.set_item(intern!(py, "REMOTE_ADDR"), client.address(py))?;
    }
    Ok((host_header, uri, query, client))
}

/// `(path, target, host, client, uri, query, method, protocol, request)`, the environ made
/// canonical; `request` is the [`CanonicalRequest`] the checks read.
pub fn canonicalize<'py>(
    this: &canonical::Canonicalizer,
    py: Python<'py>,
    environ: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyTuple>> {
    let read = read(this, py, environ)?;
    let host = canonical_host(&read.host_bytes).map_err(|error| bad_request(py, error))?;
    // Everything is decided: write the environ.
    let (host_header, uri, query, client) = write(py, environ, &read, &host)?;
    let seen = &read.seen;
    let target = PyBytes::new(py, &read.path.target);
    let path = PyString::new(py, &read.path.path);
    let method = text(seen.method.as_ref(), intern!(py, "GET"))?;
    let protocol = text(seen.protocol.as_ref(), intern!(py, "HTTP/1.1"))?;
    let secure = match environ.get_item(intern!(py, "wsgi.url_scheme"))? {
        Some(scheme) => scheme.eq(intern!(py, "https"))?,
        None => false,
    };
    let protocol_text = protocol.to_string_lossy();
    let request = CanonicalRequest::wsgi(
        &Canonical {
            method: &method,
            host: &host_header,
            path: &path,
            uri: &uri,
            query: &query,
            proto: &protocol,
            decided: &read.decided,
            vip: None,
            secure,
            version: protocol_text.strip_prefix("HTTP/").unwrap_or(&protocol_text),
        },
        environ,
    );
    let client = Bound::new(py, client)?;
    PyTuple::new(
        py,
        [
            path.into_any(),
            target.into_any(),
            host_header.into_any(),
            client.into_any(),
            uri.into_any(),
            query.into_any(),
            method.into_any(),
            protocol.into_any(),
            Bound::new(py, request)?.into_any(),
        ],
    )
}

/// The header lines of an environ as the checks read them, names in lower case with `-`
/// (`HTTP_USER_AGENT` is `user-agent`), `Host` canonical, a stranger's proxy-only headers
/// gone; `None` when the native ladder cannot read them as the Python side does (a value
/// beyond ASCII, a key not spelled as servers spell it).
fn header_lines(
    seen: &Seen<'_>,
    trusted: bool,
    host: &canonical::CanonicalHost<'_>,
) -> PyResult<Option<OwnedLines>> {
    let mut lines = Vec::with_capacity(seen.headers.len());
    for (key, value) in &seen.headers {
        let Ok(name) = key.to_str() else {
            continue;
        };
        let header = match name {
            "CONTENT_TYPE" | "CONTENT_LENGTH" => {
                if !value.is_truthy()? {
                    continue;
                }
                name
            }
            "HTTP_HOST" => {
                if !host.name.is_empty() {
                    lines.push((b"host".to_vec(), host_value(host)));
                }
                continue;
            }
            _ => match name.strip_prefix("HTTP_") {
                Some(header) => header,
                None => continue,
            },
        };
        if header.bytes().any(|b| b.is_ascii_lowercase() || b == b'-') {
            return Ok(None);
        }
        if !trusted && canonical::proxy_only(header.as_bytes()) {
            continue;
        }
        let value = value.str()?;
        let Ok(value) = value.to_str() else {
            return Ok(None);
        };
        if !value.is_ascii() {
            return Ok(None);
        }
        let name = header
            .bytes()
            .map(|b| if b == b'_' { b'-' } else { b.to_ascii_lowercase() })
            .collect();
        lines.push((name, value.as_bytes().to_vec()));
    }
    Ok(Some(lines))
}

/// The `Host` value [`canonical::CanonicalHost::header`] spells, built straight into bytes.
fn host_value(host: &canonical::CanonicalHost<'_>) -> Vec<u8> {
    let mut value = Vec::with_capacity(host.name.len() + 1 + host.port.len());
    value.extend_from_slice(host.name.as_bytes());
    if !host.port.is_empty() {
        value.push(b':');
        value.extend_from_slice(host.port.as_bytes());
    }
    value
}

/// Run `decide` (the native ladder) over the canonical request of an environ without
/// touching it; on a pass, make the environ canonical exactly as [`canonicalize`] does and
/// hand back the client the guard believes and the canonical path. `None`: the Python side decides the request
/// from the start (the environ is then untouched): a request with no safe canonical form,
/// a peer that is not an address, text beyond ASCII, an unknown protocol, or whatever
/// `decide` hands on.
pub fn decide<'py>(
    this: &canonical::Canonicalizer,
    py: Python<'py>,
    environ: &Bound<'py, PyDict>,
    decide: impl FnOnce(&Request<'_>, Connection<'_>) -> Step,
) -> PyResult<Option<(Step, Option<Passed<'py>>)>> {
    let Ok(read) = read(this, py, environ) else {
        return Ok(None);
    };
    let Ok(host) = canonical_host(&read.host_bytes) else {
        return Ok(None);
    };
    let peer = read.decided.peer;
    if peer.is_none() && !read.peer.to_str().is_ok_and(str::is_empty) {
        // The Python side keys a non-address client's bans by its text.
        return Ok(None);
    }
    let seen = &read.seen;
    let method = text(seen.method.as_ref(), intern!(py, "GET"))?;
    let protocol = text(seen.protocol.as_ref(), intern!(py, "HTTP/1.1"))?;
    let query = text(seen.query.as_ref(), intern!(py, ""))?;
    let (Ok(method), Ok(protocol), Ok(query_text)) = (method.to_str(), protocol.to_str(), query.to_str())
    else {
        return Ok(None);
    };
    if !method.is_ascii() || !query_text.is_ascii() {
        return Ok(None);
    }
    let Some(version) = HttpVersion::parse(protocol.as_bytes()) else {
        return Ok(None);
    };
    let secure = match environ.get_item(intern!(py, "wsgi.url_scheme"))? {
        Some(scheme) => scheme.eq(intern!(py, "https"))?,
        None => false,
    };
    let Some(owned) = header_lines(&read.seen, read.decided.trusted, &host)? else {
        return Ok(None);
    };
    let headers = owned
        .iter()
        .map(|(name, value)| Header::new(Cow::Borrowed(name.as_slice()), Cow::Borrowed(value.as_slice())))
        .collect();
    let request = Request::new(
        &RawRequest {
            method: method.as_bytes(),
            path: &read.path.target,
            query: query_text.as_bytes(),
            headers: &[],
            peer,
            secure,
            version,
            body: None,
        },
        read.path.clone(),
        host.clone(),
        headers,
        read.decided,
        false,
    );
    let connection = Connection {
        environ_names: true,
        ..Connection::default()
    };
    let step = decide(&request, connection);
    if step != Step::Pass {
        return Ok(Some((step, None)));
    }
    let (_, _, _, client) = write(py, environ, &read, &host)?;
    let path = PyString::new(py, &read.path.path);
    Ok(Some((step, Some((client.address(py).clone(), path)))))
}

/// The canonical target and the query: `target?query`, or the target alone. The raw
/// target the server gave is handed back when it is exactly that.
fn uri_of<'py>(
    py: Python<'py>,
    target: &[u8],
    query: &Bound<'py, PyString>,
    given: Option<&Bound<'py, PyString>>,
) -> PyResult<Bound<'py, PyString>> {
    // A canonical target is ASCII.
    let target = std::str::from_utf8(target).unwrap_or_default();
    let Ok(query_text) = query.to_str() else {
        // A query with lone surrogates: Python joins what Rust cannot hold.
        return PyString::new(py, target)
            .add("?")?
            .add(query)?
            .cast_into::<PyString>()
            .map_err(Into::into);
    };
    let same = given.is_some_and(|given| {
        given.to_str().is_ok_and(|given| {
            if query_text.is_empty() {
                given == target
            } else {
                given.len() == target.len() + 1 + query_text.len()
                    && given.starts_with(target)
                    && given.ends_with(query_text)
                    && given.as_bytes().get(target.len()) == Some(&b'?')
            }
        })
    });
    if let (true, Some(given)) = (same, given) {
        return Ok(given.clone());
    }
    if query_text.is_empty() {
        Ok(PyString::new(py, target))
    } else {
        let mut uri = String::with_capacity(target.len() + 1 + query_text.len());
        uri.push_str(target);
        uri.push('?');
        uri.push_str(query_text);
        Ok(PyString::new(py, &uri))
    }
}
