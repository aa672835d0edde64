//! What conditions read from a request: the [`ConditionRequest`] trait, and [`SimpleRequest`].
//!
//! The trait asks for the raw parts only (the Host header with its port, the raw query,
//! header lines); everything BFE derives from them (host and port, parsed query and
//! cookies, folded case, the debug time) is derived once per evaluation by the
//! [`Context`](super::Context), exactly as BFE does, whoever implements the trait. Values
//! are bytes: text in any encoding, as received. Addresses are 16 bytes (IPv4 as
//! `::ffff:a.b.c.d`), `None` when missing.
//!
//! Lookups by name return a `Cow`: a request that holds its values lends them, one that
//! must fetch them (from Python, today) hands over a copy.

use std::borrow::Cow;

/// A request as conditions read it.
pub trait ConditionRequest {
    /// The method, as received.
    fn method(&self) -> &[u8];
    /// The Host header, with any port.
    fn host(&self) -> &[u8];
    /// The decoded path.
    fn path(&self) -> &[u8];
    /// The raw request target (path and query as received).
    fn url(&self) -> &[u8];
    /// The raw query, without `?`.
    fn query(&self) -> &[u8];
    /// The request line's protocol (`HTTP/1.1`).
    fn proto(&self) -> &[u8];
    /// The first value of a header whose lower-case name is `name` (given in lower case).
    fn header(&self, name: &[u8]) -> Option<Cow<'_, [u8]>>;
    /// The value of every `Cookie` header line, in order.
    fn cookie_lines(&self) -> Vec<Cow<'_, [u8]>>;
    /// The client address (the socket peer, or what a trusted proxy said).
    fn client_ip(&self) -> Option<[u8; 16]>;
    /// The socket peer's address.
    fn remote_ip(&self) -> Option<[u8; 16]>;
    /// The address the request arrived on.
    fn vip(&self) -> Option<[u8; 16]>;
    /// Whether the connection comes from a trusted source (a proxy whose headers count).
    fn trusted(&self) -> bool;
    /// Whether the connection is TLS.
    fn secure(&self) -> bool;
    /// The TLS session protocol (`https`, `h2`).
    fn session_proto(&self) -> Option<&[u8]>;
    /// The TLS server name.
    fn tls_sni(&self) -> Option<&[u8]>;
    /// Whether the client authenticated with a certificate.
    fn tls_client_auth(&self) -> bool;
    /// The name of the CA that issued the client's certificate.
    fn tls_client_ca(&self) -> Option<&[u8]>;
    /// The route's host tag.
    fn host_tag(&self) -> Option<&[u8]>;
    /// The tags under `name`, in order.
    fn tags(&self, name: &[u8]) -> Vec<Cow<'_, [u8]>>;
    /// The request context's value under `key`, when it is a string.
    fn context_str(&self, key: &[u8]) -> Option<Cow<'_, [u8]>>;
    /// The request body, when there is one.
    fn body(&self) -> Option<&[u8]>;
    /// The response status code (0 when unknown), or `None` before there is a response.
    fn response_code(&self) -> Option<i64>;
    /// The first value of a response header (`name` in lower case); `None` when missing.
    fn response_header(&self, name: &[u8]) -> Option<Cow<'_, [u8]>>;
    /// The current time in epoch seconds.
    fn now(&self) -> f64;
}

/// A request held in plain fields: for tests, benchmarks and fuzzing.
///
/// `headers` are the header lines in order, with names in any case; `url` empty means
/// `path` plus `?query`.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct SimpleRequest {
    pub method: Vec<u8>,
    pub host: Vec<u8>,
    pub path: Vec<u8>,
    pub url: Vec<u8>,
    pub query: Vec<u8>,
    pub proto: Vec<u8>,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub client_ip: Option<[u8; 16]>,
    pub remote_ip: Option<[u8; 16]>,
    pub vip: Option<[u8; 16]>,
    pub trusted: bool,
    pub secure: bool,
    pub session_proto: Option<Vec<u8>>,
    pub tls_sni: Option<Vec<u8>>,
    pub tls_client_auth: bool,
    pub tls_client_ca: Option<Vec<u8>>,
    pub host_tag: Option<Vec<u8>>,
    pub tags: Vec<(Vec<u8>, Vec<Vec<u8>>)>,
    pub context: Vec<(Vec<u8>, Vec<u8>)>,
    pub body: Option<Vec<u8>>,
    pub response_code: Option<i64>,
    pub response_headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub now: f64,
}

/// Whether a header line's name is `wanted` (lower case) once lowered as Python's `str.lower`.
pub fn name_is(name: &[u8], wanted: &[u8]) -> bool {
    if name.is_ascii() {
        return name.eq_ignore_ascii_case(wanted);
    }
    // Rare: a name that is not ASCII lowers by Unicode's full mapping (the Kelvin sign is `k`).
    String::from_utf8_lossy(name).to_lowercase().as_bytes() == wanted
}

/// The first value of a header line list under a lower-case name.
pub fn first_header<'a>(lines: &'a [(Vec<u8>, Vec<u8>)], wanted: &[u8]) -> Option<&'a [u8]> {
    lines
        .iter()
        .find(|(name, _)| name_is(name, wanted))
        .map(|(_, value)| value.as_slice())
}

impl ConditionRequest for SimpleRequest {
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
        &self.url
    }
    fn query(&self) -> &[u8] {
        &self.query
    }
    fn proto(&self) -> &[u8] {
        &self.proto
    }
    fn header(&self, name: &[u8]) -> Option<Cow<'_, [u8]>> {
        first_header(&self.headers, name).map(Cow::Borrowed)
    }
    fn cookie_lines(&self) -> Vec<Cow<'_, [u8]>> {
        self.headers
            .iter()
            .filter(|(name, _)| name_is(name, b"cookie"))
            .map(|(_, value)| Cow::Borrowed(value.as_slice()))
            .collect()
    }
    fn client_ip(&self) -> Option<[u8; 16]> {
        self.client_ip
    }
    fn remote_ip(&self) -> Option<[u8; 16]> {
        self.remote_ip
    }
    fn vip(&self) -> Option<[u8; 16]> {
        self.vip
    }
    fn trusted(&self) -> bool {
        self.trusted
    }
    fn secure(&self) -> bool {
        self.secure
    }
    fn session_proto(&self) -> Option<&[u8]> {
        self.session_proto.as_deref()
    }
    fn tls_sni(&self) -> Option<&[u8]> {
        self.tls_sni.as_deref()
    }
    fn tls_client_auth(&self) -> bool {
        self.tls_client_auth
    }
    fn tls_client_ca(&self) -> Option<&[u8]> {
        self.tls_client_ca.as_deref()
    }
    fn host_tag(&self) -> Option<&[u8]> {
        self.host_tag.as_deref()
    }
    fn tags(&self, name: &[u8]) -> Vec<Cow<'_, [u8]>> {
        self.tags
            .iter()
            .filter(|(key, _)| key.as_slice() == name)
            .flat_map(|(_, values)| values.iter().map(|value| Cow::Borrowed(value.as_slice())))
            .collect()
    }
    fn context_str(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        self.context
            .iter()
            .find(|(name, _)| name.as_slice() == key)
            .map(|(_, value)| Cow::Borrowed(value.as_slice()))
    }
    fn body(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }
    fn response_code(&self) -> Option<i64> {
        self.response_code
    }
    fn response_header(&self, name: &[u8]) -> Option<Cow<'_, [u8]>> {
        first_header(&self.response_headers, name).map(Cow::Borrowed)
    }
    fn now(&self) -> f64 {
        self.now
    }
}
