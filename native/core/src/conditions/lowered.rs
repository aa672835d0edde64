//! The lowered form of a condition: what the Python side hands over once per load.
//!
//! The Python side keeps the condition language's parser, its checks and its messages.
//! A condition that compiled there is lowered into a list of [`Item`]s in pre-order: an
//! operator comes before its operands (`And(3)` then its three operands), a primitive is
//! one item with its arguments already validated (IP addresses as 16 bytes, hash buckets
//! as ranges, times as epoch seconds, lists already split on `|`). [`Program::compile`]
//! turns the list into something to evaluate, and checks it again, since a list is only
//! data: it refuses one that is not a single well-formed tree or whose arguments do not
//! hold, with a [`LowerError`] that names the item.
//!
//! [`Program::compile`]: super::Program::compile

use std::fmt;

/// One node of a condition, in pre-order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Item {
    /// True if all of the next `n` operands are (`n` >= 1), tried left to right.
    And(u32),
    /// True if one of the next `n` operands is (`n` >= 1), tried left to right.
    Or(u32),
    /// The negation of the next operand.
    Not,
    /// A primitive.
    Call(Primitive),
}

/// A primitive with its validated arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Primitive {
    /// `default_t()`.
    True,
    /// `req_cip_trusted()`.
    Trusted,
    /// `req_proto_secure()`.
    Secure,
    /// `ses_tls_client_auth()`: a secure connection whose client authenticated.
    TlsClientAuth,
    /// `req_query_exist()`.
    QueryExist,
    /// A test of one value of the request (most primitives).
    Match(Source, Test),
    /// An address within an inclusive range of 16-byte addresses.
    IpRange(Address, [u8; 16], [u8; 16]),
    /// An address equal to one of a list.
    IpIn(Address, Vec<[u8; 16]>),
    /// The hash bucket of an address's text (`net.IP.String()`) in a list of ranges.
    IpHash(Address, Vec<(u16, u16)>),
    /// A non-empty request header with one of these names.
    HeaderKeyIn(Vec<Vec<u8>>),
    /// A response with a non-empty header of one of these names.
    ResponseHeaderKeyIn(Vec<Vec<u8>>),
    /// A query key (decoded) equal to one of these.
    QueryKeyIn(Vec<Vec<u8>>),
    /// A query key starting with one of these.
    QueryKeyPrefixIn(Vec<Vec<u8>>),
    /// A cookie with one of these names.
    CookieKeyIn(Vec<Vec<u8>>),
    /// A tag under `name` whose text before its first `:` is `value`.
    TagMatch(Vec<u8>, Vec<u8>),
    /// A string in the request context under a key (an empty key is never there).
    ContextValueIn(Vec<u8>, Test),
    /// The request time within an inclusive range of epoch seconds.
    TimeRange(i64, i64),
    /// The request time's second of the day, in a zone `offset` seconds east of UTC,
    /// within an inclusive range.
    PeriodicTimeRange(i64, i64, i64),
}

/// Which address of the request a primitive reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Address {
    /// The client (`req_cip_*`): the socket peer, or what a trusted proxy said.
    Client,
    /// The socket peer (`ses_sip_range`).
    Remote,
    /// The address the request arrived on (`req_vip_*`, `ses_vip_range`).
    Vip,
}

/// A value of the request that a [`Test`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Source {
    /// The Host header up to its first `:`.
    Host,
    /// The decoded path.
    Path,
    /// The raw request target.
    Url,
    /// The text after the Host header's first `:` (if not at its start), else `80`.
    Port,
    /// The method.
    Method,
    /// The TLS session protocol on a secure connection, else the request line's protocol.
    Protocol,
    /// The route's host tag (`""` without one).
    HostTag,
    /// The first value of a header (`""` when missing); the name in any case.
    Header(Vec<u8>),
    /// The first value of a query key (`""` when missing).
    Query(Vec<u8>),
    /// The first cookie of a name (missing: the primitive is false).
    Cookie(Vec<u8>),
    /// The value at a path in the JSON body, as gjson prints it (`""` when missing).
    BodyJson(Vec<u8>),
    /// The TLS server name on a secure connection (missing: false).
    TlsSni,
    /// The client certificate's CA after client authentication (missing: false).
    TlsClientCa,
    /// The response status as text (missing before a response: false).
    ResponseCode,
    /// The first value of a response header (`""` when missing; false before a response).
    ResponseHeader(Vec<u8>),
}

/// How a value is tested. `fold` folds case (Go's upper case; hashes fold to lower case).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Test {
    /// Equal to one of the patterns.
    In { fold: bool, patterns: Vec<Vec<u8>> },
    /// Starts with one of the patterns.
    Prefix { fold: bool, patterns: Vec<Vec<u8>> },
    /// Ends with one of the patterns.
    Suffix { fold: bool, patterns: Vec<Vec<u8>> },
    /// Contains one of the patterns.
    Contain { fold: bool, patterns: Vec<Vec<u8>> },
    /// Starts with one of the patterns as whole path segments (`/` appended to both).
    ElementPrefix { fold: bool, patterns: Vec<Vec<u8>> },
    /// Equal to the pattern, folding case (`req_proto_match`).
    Exact(Vec<u8>),
    /// The hash bucket (0..9999) in one of the inclusive ranges.
    Hash { fold: bool, buckets: Vec<(u16, u16)> },
    /// A regular expression in Go's syntax, searched anywhere in the value.
    Regex(String),
}

/// Why a lowered condition was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LowerError {
    /// The position of the offending item in the list (its length for a missing one).
    pub item: usize,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for LowerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lowered condition, item {}: {}", self.item, self.problem)
    }
}

impl std::error::Error for LowerError {}
