//! The host table: which product a request belongs to, from its Host header.
//!
//! Exact names and `*.` wildcards (any name under the domain, not the domain itself);
//! lookups ignore the port (`:8080`, `[::1]:8080`), one trailing dot and case (Go's
//! folding, as the host primitives fold). An exact name wins over wildcards, and a longer
//! wildcard over a shorter one. The configuration is validated by the Python side.

use std::collections::HashMap;

use foldhash::fast::RandomState;

use crate::conditions::fold::host_key;

/// The Host header without its port: `a.b:80` gives `a.b`, `[::1]:80` gives `[::1]`; a bare
/// IPv6 address (two colons or more) is kept whole.
pub fn strip_port(host: &[u8]) -> &[u8] {
    if host.first() == Some(&b'[') {
        return match memchr::memchr(b']', host) {
            Some(end) => host.get(..=end).unwrap_or(host),
            None => host,
        };
    }
    match memchr::memchr(b':', host) {
        Some(at) if !host.get(at + 1..).unwrap_or_default().contains(&b':') => host.get(..at).unwrap_or(host),
        _ => host,
    }
}

/// The key of a name: one trailing dot dropped, case folded.
pub fn key(name: &[u8]) -> Vec<u8> {
    let name = name.strip_suffix(b".").unwrap_or(name);
    host_key(name).into_owned()
}

/// Request host to product number.
#[derive(Debug, Clone, Default)]
pub struct HostTable {
    // The operator's names: foldhash, seeded at random, keeps the per-request lookup cheap.
    exact: HashMap<Vec<u8>, u32, RandomState>,
    wildcards: HashMap<Vec<u8>, u32, RandomState>,
    default: Option<u32>,
}

impl HostTable {
    /// A table from exact names, wildcard domains (`example.com` for `*.example.com`) and
    /// a default; on two entries with the same key the first stays.
    pub fn new(
        exact: impl IntoIterator<Item = (Vec<u8>, u32)>,
        wildcards: impl IntoIterator<Item = (Vec<u8>, u32)>,
        default: Option<u32>,
    ) -> Self {
        let mut table = HostTable {
            default,
            ..HostTable::default()
        };
        for (name, product) in exact {
            table.exact.entry(key(&name)).or_insert(product);
        }
        for (name, product) in wildcards {
            table.wildcards.entry(key(&name)).or_insert(product);
        }
        table
    }

    /// The product of a request with this Host header, or `None`.
    pub fn product(&self, host: &[u8]) -> Option<u32> {
        if self.exact.is_empty() && self.wildcards.is_empty() {
            return self.default;
        }
        let name = key(strip_port(host));
        if let Some(&product) = self.exact.get(&name) {
            return Some(product);
        }
        if !self.wildcards.is_empty() {
            for (at, _) in name.iter().enumerate().filter(|(_, byte)| **byte == b'.') {
                if let Some(&product) = self.wildcards.get(name.get(at + 1..).unwrap_or_default()) {
                    return Some(product);
                }
            }
        }
        self.default
    }
}

/// A host table with its products' names: where a front looks a request's product up.
#[derive(Debug, Clone, Default)]
pub struct Products {
    pub table: HostTable,
    /// The name of each product number.
    pub names: Vec<Vec<u8>>,
}

impl Products {
    /// The product's name of a request with this `Host` header (see [`HostTable::product`]).
    pub fn product(&self, host: &[u8]) -> Option<&[u8]> {
        let number = self.table.product(host)?;
        self.names.get(number as usize).map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_then_longest_wildcard_then_default() {
        let table = HostTable::new(
            [(b"n.example.org".to_vec(), 0)],
            [(b"example.com".to_vec(), 1), (b"a.example.com".to_vec(), 2)],
            Some(3),
        );
        assert_eq!(table.product(b"N.Example.org:8080"), Some(0));
        assert_eq!(table.product(b"n.example.org."), Some(0));
        assert_eq!(table.product(b"x.example.com"), Some(1));
        assert_eq!(table.product(b"x.a.example.com"), Some(2));
        assert_eq!(table.product(b"example.com"), Some(3));
        assert_eq!(table.product(b"[::1]:80"), Some(3));
        assert_eq!(HostTable::new([], [], None).product(b"x"), None);
    }

    #[test]
    fn ports_and_brackets() {
        assert_eq!(strip_port(b"a.b:80"), b"a.b");
        assert_eq!(strip_port(b"[::1]:80"), b"[::1]");
        assert_eq!(strip_port(b"::1"), b"::1");
        assert_eq!(strip_port(b"[::1"), b"[::1");
    }
}
