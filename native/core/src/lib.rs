//! Stockade's data plane in plain Rust: what a request touches, with no Python in it.
//!
//! The PyO3 boundary (`native/python`) builds these tables from Python once, at load and
//! reload, and then asks them questions from plain bytes and integers.
//!
//! - [`addr`]: IP addresses as bytes, parsed with the C library's `inet_pton` rules;
//! - [`ipset`]: sets of addresses and networks as sorted merged ranges;
//! - [`blocklist`]: BFE's `ip_blocklist.data` format, with BFE's messages;
//! - [`conditions`]: BFE's condition language, evaluated (the Python side parses it);
//! - [`block`]: BFE's `mod_block`: host table, rule lists, counters;
//! - [`canonical`]: the canonical request (path, host, headers) and its refusals;
//! - [`client_ip`]: the client a request comes from, over trusted proxies;
//! - [`bans`]: the view of every active ban;
//! - [`ladder`]: the order of the checks, and what only Python can finish;
//! - [`replay`]: `stockade replay`'s reading of access-log lines and its JSON output;
//! - [`request`]: the canonical request as every native check reads it.

pub mod addr;
pub mod bans;
pub mod block;
pub mod blocklist;
pub mod canonical;
pub mod client_ip;
pub mod conditions;
pub mod detection;
pub mod ipset;
pub mod json_text;
pub mod ladder;
pub mod replay;
pub mod request;

pub use addr::Addr;
pub use blocklist::{Blocklist, BlocklistError, parse_blocklist};
pub use canonical::{BadRequest, Canonicalizer, RawRequest};
pub use client_ip::{ClientIp, ForwardingHeader, TrustedProxies};
pub use ipset::{BackwardsRange, IpSet, IpSetBuilder};
pub use request::Request;
