//! The canonical request as BFE's conditions read it: [`Conditions`].
//!
//! The values are the ones the Python side's facts hold for the same request (a header
//! value's Latin-1 text as UTF-8, an absent or empty header as missing, the query as text,
//! the `Host` a backend receives), so a rule decides the same here and there. What this
//! side cannot answer the way the Python side does, the body (the Python side may have
//! read it for detection), is recorded: [`Conditions::unanswered`] then tells the caller
//! to let the Python side decide instead.

use std::borrow::Cow;
use std::cell::{Cell, OnceCell};

use super::Request;
use crate::addr::Addr;
use crate::canonical::HttpVersion;
use crate::conditions::ConditionRequest;

/// The connection a request came on, as conditions read it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Connection<'c> {
    /// The address the request arrived on.
    pub vip: Option<Addr>,
    /// The TLS server name.
    pub sni: Option<&'c [u8]>,
    /// Whether the client authenticated with a certificate.
    pub client_auth: bool,
    /// The name of the CA that issued the client's certificate.
    pub client_ca: Option<&'c [u8]>,
    /// Header names as a WSGI environ spells them: `_` reads as `-` (`HTTP_X_FOO` is both
    /// `X-Foo` and `X_Foo`, as the Python side's lookup has it).
    pub environ_names: bool,
}

/// A canonical request and its connection, read by conditions at `now`.
pub struct Conditions<'r, 'a> {
    request: &'r Request<'a>,
    connection: Connection<'r>,
    now: f64,
    host: OnceCell<Vec<u8>>,
    url: OnceCell<Vec<u8>>,
    query: OnceCell<Cow<'r, [u8]>>,
    unanswered: Cell<bool>,
}

impl std::fmt::Debug for Conditions<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conditions").finish_non_exhaustive()
    }
}

/// Latin-1 bytes as UTF-8 text (a copy only when some byte is not ASCII).
pub fn latin1_utf8(bytes: &[u8]) -> Cow<'_, [u8]> {
    if bytes.is_ascii() {
        return Cow::Borrowed(bytes);
    }
    Cow::Owned(
        bytes
            .iter()
            .map(|&b| char::from(b))
            .collect::<String>()
            .into_bytes(),
    )
}

impl<'r, 'a> Conditions<'r, 'a> {
    pub fn new(request: &'r Request<'a>, connection: Connection<'r>, now: f64) -> Self {
        Self {
            request,
            connection,
            now,
            host: OnceCell::new(),
            url: OnceCell::new(),
            query: OnceCell::new(),
            unanswered: Cell::new(false),
        }
    }

    /// Whether a condition asked for something only the Python side can answer.
    pub fn unanswered(&self) -> bool {
        self.unanswered.get()
    }
}

impl ConditionRequest for Conditions<'_, '_> {
    fn method(&self) -> &[u8] {
        self.request.method
    }
    fn host(&self) -> &[u8] {
        self.host.get_or_init(|| {
            let host = &self.request.host;
            if host.name.is_empty() {
                Vec::new()
            } else {
                host.header().into_owned().into_bytes()
            }
        })
    }
    fn path(&self) -> &[u8] {
        self.request.path.as_bytes()
    }
    fn url(&self) -> &[u8] {
        self.url.get_or_init(|| {
            let query = self.query();
            let mut url = self.request.target.to_vec();
            if !query.is_empty() {
                url.push(b'?');
                url.extend_from_slice(query);
            }
            url
        })
    }
    fn query(&self) -> &[u8] {
        self.query.get_or_init(|| latin1_utf8(self.request.query))
    }
    fn proto(&self) -> &[u8] {
        match self.request.version {
            HttpVersion::Http10 => b"HTTP/1.0",
            HttpVersion::Http11 => b"HTTP/1.1",
            HttpVersion::Http2 => b"HTTP/2",
            HttpVersion::Http3 => b"HTTP/3",
        }
    }
    fn header(&self, name: &[u8]) -> Option<Cow<'_, [u8]>> {
        let dashed: Vec<u8>;
        let name = if self.connection.environ_names && name.contains(&b'_') {
            dashed = name.iter().map(|&b| if b == b'_' { b'-' } else { b }).collect();
            &dashed
        } else {
            name
        };
        let value = self.request.header(name)?;
        // Only the debug time tells an empty header from an absent one.
        if value.is_empty() && name != b"x-bfe-debug-time" {
            return None;
        }
        Some(latin1_utf8(value))
    }
    fn cookie_lines(&self) -> Vec<Cow<'_, [u8]>> {
        self.request.header_values(b"cookie").map(latin1_utf8).collect()
    }
    fn client_ip(&self) -> Option<[u8; 16]> {
        let client = &self.request.client;
        let named = if client.header.is_some() {
            client.address
        } else {
            client.peer
        };
        named.map(Addr::to_sixteen)
    }
    fn remote_ip(&self) -> Option<[u8; 16]> {
        self.request.client.peer.map(Addr::to_sixteen)
    }
    fn vip(&self) -> Option<[u8; 16]> {
        self.connection.vip.map(Addr::to_sixteen)
    }
    fn trusted(&self) -> bool {
        self.request.client.trusted
    }
    fn secure(&self) -> bool {
        self.request.secure
    }
    fn session_proto(&self) -> Option<&[u8]> {
        if !self.request.secure {
            return None;
        }
        Some(if self.request.version == HttpVersion::Http2 {
            b"h2"
        } else {
            b"https"
        })
    }
    fn tls_sni(&self) -> Option<&[u8]> {
        self.connection.sni
    }
    fn tls_client_auth(&self) -> bool {
        self.connection.client_auth
    }
    fn tls_client_ca(&self) -> Option<&[u8]> {
        self.connection.client_ca
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
        self.unanswered.set(true);
        None
    }
    fn response_code(&self) -> Option<i64> {
        None
    }
    fn response_header(&self, _name: &[u8]) -> Option<Cow<'_, [u8]>> {
        None
    }
    fn now(&self) -> f64 {
        self.now
    }
}
