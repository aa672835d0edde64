//! One evaluation's view of a request: the values BFE derives, each computed on first use.
//!
//! Many conditions over one request (a rule list) should not parse its query or cookies
//! once per primitive: a [`Context`] wraps the request for as long as a decision takes and
//! keeps what it derived. Derivations follow BFE (Go) exactly: the host is the Host header
//! up to its first `:` and the port what follows it (`80` when there is none, even on
//! TLS); the query is parsed like `url.ParseQuery`, the cookies like `readCookies`, the
//! debug time header like BFE's `ParseTime`.

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};

use super::fold::{go_upper, host_key};
use super::http::{QueryPair, parse_cookies, parse_query};
use super::jsonpath::{JsonPath, json_path_value};
use super::timespec::parse_time;
use super::view::ConditionRequest;

/// A body value already looked up: its path and its text.
type JsonCache = (Vec<u8>, std::rc::Rc<[u8]>);

/// A request and what has been derived from it so far.
pub struct Context<'r, R: ConditionRequest + ?Sized> {
    pub(crate) request: &'r R,
    host_upper: OnceCell<Cow<'r, [u8]>>,
    host_lower: OnceCell<Cow<'r, [u8]>>,
    path_upper: OnceCell<Cow<'r, [u8]>>,
    method_upper: OnceCell<Cow<'r, [u8]>>,
    query: OnceCell<Vec<QueryPair<'r>>>,
    cookies: OnceCell<Vec<(Vec<u8>, Vec<u8>)>>,
    time: OnceCell<Option<f64>>,
    json: RefCell<Vec<JsonCache>>,
}

impl<R: ConditionRequest + ?Sized> std::fmt::Debug for Context<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

/// The index of the Host header's first `:`.
fn colon(host: &[u8]) -> Option<usize> {
    memchr::memchr(b':', host)
}

impl<'r, R: ConditionRequest + ?Sized> Context<'r, R> {
    /// A fresh view of `request`.
    pub fn new(request: &'r R) -> Self {
        Self {
            request,
            host_upper: OnceCell::new(),
            host_lower: OnceCell::new(),
            path_upper: OnceCell::new(),
            method_upper: OnceCell::new(),
            query: OnceCell::new(),
            cookies: OnceCell::new(),
            time: OnceCell::new(),
            json: RefCell::new(Vec::new()),
        }
    }

    /// The request.
    pub fn request(&self) -> &'r R {
        self.request
    }

    /// The host: the Host header up to its first `:` (so `[::1]:80` gives `[`).
    pub fn host_name(&self) -> &'r [u8] {
        let host = self.request.host();
        match colon(host) {
            Some(at) => host.get(..at).unwrap_or_default(),
            None => host,
        }
    }

    /// The port: what follows the Host header's first `:` if it is not at the start, else `80`.
    pub fn port(&self) -> &'r [u8] {
        let host = self.request.host();
        match colon(host) {
            Some(at) if at > 0 => host.get(at + 1..).unwrap_or_default(),
            _ => b"80",
        }
    }

    /// The host in Go's upper case.
    pub fn host_upper(&self) -> &[u8] {
        self.host_upper.get_or_init(|| go_upper(self.host_name()))
    }

    /// The key of host indexes for this request (lower case of the upper case).
    pub fn host_lower(&self) -> &[u8] {
        self.host_lower.get_or_init(|| host_key(self.host_name()))
    }

    /// The path in Go's upper case.
    pub fn path_upper(&self) -> &[u8] {
        self.path_upper.get_or_init(|| go_upper(self.request.path()))
    }

    /// The method in Go's upper case.
    pub fn method_upper(&self) -> &[u8] {
        self.method_upper.get_or_init(|| go_upper(self.request.method()))
    }

    /// The protocol: the TLS session's on a secure connection (`""` without one), else the
    /// request line's.
    pub fn protocol(&self) -> &'r [u8] {
        if self.request.secure() {
            self.request.session_proto().unwrap_or_default()
        } else {
            self.request.proto()
        }
    }

    /// The query parsed like Go's `url.ParseQuery`, one pair per key (its first value).
    pub fn query_params(&self) -> &[QueryPair<'r>] {
        self.query.get_or_init(|| parse_query(self.request.query()))
    }

    /// The first value of a query key, if the key is there.
    pub fn query_value(&self, key: &[u8]) -> Option<&[u8]> {
        self.query_params()
            .iter()
            .find(|(name, _)| name.as_ref() == key)
            .map(|(_, value)| value.as_ref())
    }

    /// The cookies of every `Cookie` line, parsed like Go's `readCookies` (the first of a name wins).
    pub fn cookies(&self) -> &[(Vec<u8>, Vec<u8>)] {
        self.cookies.get_or_init(|| {
            let lines = self.request.cookie_lines();
            parse_cookies(lines.iter().map(|line| line.as_ref()))
        })
    }

    /// The value of the first cookie of a name.
    pub fn cookie(&self, name: &[u8]) -> Option<&[u8]> {
        self.cookies()
            .iter()
            .find(|(key, _)| key.as_slice() == name)
            .map(|(_, value)| value.as_slice())
    }

    /// The instant the time primitives see: the `X-Bfe-Debug-Time` header when there is
    /// one (`None` if it does not parse), else the request's time (`None` unless finite).
    pub fn time(&self) -> Option<f64> {
        *self
            .time
            .get_or_init(|| match self.request.header(b"x-bfe-debug-time") {
                Some(text) => parse_time(&text).map(|seconds| seconds as f64),
                None => Some(self.request.now()).filter(|now| now.is_finite()),
            })
    }

    /// The JSON body's value at `path`, as gjson prints it (`""` when missing).
    pub fn body_json(&self, path: &JsonPath) -> std::rc::Rc<[u8]> {
        if let Some((_, value)) = self
            .json
            .borrow()
            .iter()
            .find(|(key, _)| key.as_slice() == path.text())
        {
            return value.clone();
        }
        let value: std::rc::Rc<[u8]> = match self.request.body() {
            None => std::rc::Rc::from(&b""[..]),
            Some(body) => std::rc::Rc::from(json_path_value(body, path).as_ref()),
        };
        self.json.borrow_mut().push((path.text().to_vec(), value.clone()));
        value
    }

    /// A header's first value, `""` when missing.
    pub fn header_or_empty(&self, name: &[u8]) -> Cow<'r, [u8]> {
        self.request.header(name).unwrap_or(Cow::Borrowed(b""))
    }
}
