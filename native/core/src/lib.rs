//! Stockade's data plane in plain Rust: what a request touches, with no Python in it.
//!
//! The PyO3 boundary (`native/python`) builds these tables from Python once, at load and
//! reload, and then asks them questions from plain bytes and integers.
//!
//! - [`addr`]: IP addresses as bytes, parsed with the C library's `inet_pton` rules;
//! - [`ipset`]: sets of addresses and networks as sorted merged ranges;
//! - [`blocklist`]: BFE's `ip_blocklist.data` format, with BFE's messages;
//! - [`conditions`]: BFE's condition language, evaluated (the Python side parses it);
//! - [`block`]: BFE's `mod_block`: host table, rule lists, counters.

pub mod addr;
pub mod block;
pub mod blocklist;
pub mod conditions;
pub mod ipset;

pub use addr::Addr;
pub use blocklist::{Blocklist, BlocklistError, parse_blocklist};
pub use ipset::{BackwardsRange, IpSet, IpSetBuilder};
