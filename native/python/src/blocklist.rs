//! BFE's blocklist format, parsed natively into an [`IPSet`].

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::errors::{blocklist_error, encode, guard};
use crate::ipset::IPSet;

/// Parse a blocklist file's content; raise `BlocklistError` naming `file` and the line.
///
/// The GIL is released while parsing, so a reload does not stall the threads that serve.
#[pyfunction]
#[pyo3(signature = (data, file))]
pub fn parse_ip_blocklist(
    py: Python<'_>,
    data: &Bound<'_, PyBytes>,
    file: &Bound<'_, PyString>,
) -> PyResult<IPSet> {
    guard(py, || {
        let name = encode(file)?;
        let raw = data.as_bytes();
        let parsed = py.detach(|| stockade_core::parse_blocklist(raw, &name));
        match parsed {
            Ok(list) => Ok(IPSet::from_blocklist(list)),
            Err(error) => Err(blocklist_error(py, file, &error)),
        }
    })
}
