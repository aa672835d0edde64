//! The IP set class: built once from Python, then asked about addresses.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};
use stockade_core::addr::parse_text;
use stockade_core::{Addr, Blocklist, IpSet, IpSetBuilder};

use crate::errors::{guard, invalid_argument};

const RANGE_ACCEPTED: &str = "a pair of ints (start, end) with 0 <= start <= end < 2**128";

/// An immutable set of IPv4 and IPv6 ranges (see `_native.pyi`).
#[pyclass(frozen, module = "stockade._native")]
#[derive(Debug)]
pub struct IPSet {
    set: IpSet,
    #[pyo3(get)]
    version: String,
    #[pyo3(get)]
    singles: u64,
    #[pyo3(get)]
    pairs: u64,
    #[pyo3(get)]
    entries: u64,
}

impl IPSet {
    /// The set itself, for the native tables built around it.
    pub fn set(&self) -> &IpSet {
        &self.set
    }

    pub fn from_blocklist(list: Blocklist) -> Self {
        let entries = list.singles + list.pairs;
        Self {
            set: list.set,
            version: list.version,
            singles: list.singles,
            pairs: list.pairs,
            entries,
        }
    }

    fn lookup(&self, address: &Bound<'_, PyAny>) -> bool {
        let parsed = if let Ok(text) = address.cast::<PyString>() {
            // A str with lone surrogates has no UTF-8 form: it is not an address.
            text.to_str().ok().and_then(|text| parse_text(text.as_bytes()))
        } else if let Ok(packed) = address.cast::<PyBytes>() {
            Addr::from_packed(packed.as_bytes())
        } else {
            None
        };
        parsed.is_some_and(|parsed| self.set.contains(parsed))
    }
}

#[pymethods]
impl IPSet {
    /// A set of inclusive ranges of the 16-byte space (IPv4 as `::ffff:a.b.c.d`).
    #[staticmethod]
    #[pyo3(signature = (ranges, /))]
    fn from_ranges(py: Python<'_>, ranges: &Bound<'_, PyAny>) -> PyResult<Self> {
        guard(py, || {
            let mut builder = IpSetBuilder::new();
            let mut entries = 0u64;
            for item in ranges.try_iter()? {
                let item = item?;
                let bounds = item
                    .cast::<PyTuple>()
                    .ok()
                    .filter(|pair| pair.len() == 2)
                    .and_then(|pair| pair.extract::<(u128, u128)>().ok());
                let added = bounds.is_some_and(|(start, end)| builder.add(start, end).is_ok());
                if !added {
                    return Err(invalid_argument(py, "range", &item, RANGE_ACCEPTED));
                }
                entries += 1;
            }
            let set = builder.build();
            Ok(Self {
                set,
                version: String::new(),
                singles: 0,
                pairs: 0,
                entries,
            })
        })
    }

    /// Whether an address is in the set: a str in any spelling `normalize_ip` accepts, or
    /// 4 or 16 packed bytes. Anything else is not an address, hence not in the set.
    #[pyo3(signature = (address, /))]
    fn contains(&self, py: Python<'_>, address: &Bound<'_, PyAny>) -> PyResult<bool> {
        guard(py, || Ok(self.lookup(address)))
    }

    fn __contains__(&self, py: Python<'_>, address: &Bound<'_, PyAny>) -> PyResult<bool> {
        guard(py, || Ok(self.lookup(address)))
    }

    /// The number of disjoint ranges after merging.
    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        guard(py, || Ok(self.set.len()))
    }

    /// Every merged range in the 16-byte space, IPv4 first.
    fn ranges(&self, py: Python<'_>) -> PyResult<Vec<(u128, u128)>> {
        guard(py, || Ok(self.set.ranges().collect()))
    }

    /// The bytes the set's arrays take.
    fn heap_bytes(&self, py: Python<'_>) -> PyResult<usize> {
        guard(py, || Ok(self.set.heap_bytes()))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        guard(py, || {
            let (entries, ranges, version) = (self.entries, self.set.len(), &self.version);
            Ok(format!(
                "<IPSet of {entries} entries in {ranges} ranges, version {version:?}>"
            ))
        })
    }
}
