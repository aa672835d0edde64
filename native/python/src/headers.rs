//! ASGI header lists: read as `(name, value)` byte slices without copying, and written back
//! as the canonical list.
//!
//! A line is normally a 2-tuple of `bytes` (what servers make); its bytes are read in
//! place, and the tuple itself goes into the canonical list when the line is kept. Any
//! other pair of `bytes` (a list, say) is read too; anything else is a `TypeError`.
//!
//! Only the values the canonical request reads are fetched from their tuples: `Host`'s and
//! the forwarding headers'. Every other value reads as empty here (each fetch is several
//! calls through the stable ABI, the larger part of a request's cost).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use stockade_core::canonical::CanonicalHeaders;
use stockade_core::canonical::headers::is_host;
use stockade_core::client_ip::ForwardingHeader;

struct Line<'py> {
    /// The line's own tuple, handed on when the line is kept.
    tuple: Option<Bound<'py, PyTuple>>,
    name: Bound<'py, PyBytes>,
    /// The value, when the canonical request reads it.
    value: Option<Bound<'py, PyBytes>>,
}

/// Whether the canonical request reads the value of a header so named.
fn value_read(name: &[u8]) -> bool {
    is_host(name) || ForwardingHeader::of(name).is_some()
}

/// The lines of a header list, held while their bytes are read.
pub struct HeaderLines<'py> {
    given: Bound<'py, PyAny>,
    lines: Vec<Line<'py>>,
}

impl<'py> HeaderLines<'py> {
    /// The lines of `headers` (a list, or any iterable of pairs of `bytes`).
    pub fn read(headers: Bound<'py, PyAny>) -> PyResult<Self> {
        Self::read_values(headers, false)
    }

    /// The lines of `headers` with every value (the native ladder's conditions and
    /// detection read any header).
    pub fn read_all(headers: Bound<'py, PyAny>) -> PyResult<Self> {
        Self::read_values(headers, true)
    }

    fn read_values(headers: Bound<'py, PyAny>, all: bool) -> PyResult<Self> {
        let line = |item: Bound<'py, PyAny>| -> PyResult<Line<'py>> {
            match item.cast_into::<PyTuple>() {
                Ok(tuple) if tuple.len() == 2 => {
                    let name: Bound<'py, PyBytes> = tuple.get_item(0)?.cast_into()?;
                    let value = if all || value_read(name.as_bytes()) {
                        Some(tuple.get_item(1)?.cast_into()?)
                    } else {
                        None
                    };
                    Ok(Line {
                        tuple: Some(tuple),
                        name,
                        value,
                    })
                }
                Ok(tuple) => {
                    let (name, value) = tuple.extract()?;
                    Ok(Line {
                        tuple: None,
                        name,
                        value: Some(value),
                    })
                }
                Err(error) => {
                    let (name, value) = error.into_inner().extract()?;
                    Ok(Line {
                        tuple: None,
                        name,
                        value: Some(value),
                    })
                }
            }
        };
        let lines = if let Ok(list) = headers.cast::<PyList>() {
            let mut lines = Vec::with_capacity(list.len());
            for item in list.iter() {
                lines.push(line(item)?);
            }
            lines
        } else {
            headers
                .try_iter()?
                .map(|item| line(item?))
                .collect::<PyResult<_>>()?
        };
        Ok(Self {
            given: headers,
            lines,
        })
    }

    /// The `(name, value)` bytes of every line (values the canonical request never reads
    /// are empty).
    pub fn bytes(&self) -> Vec<(&[u8], &[u8])> {
        self.lines
            .iter()
            .map(|line| {
                let value = line.value.as_ref().map_or(&b""[..], |value| value.as_bytes());
                (line.name.as_bytes(), value)
            })
            .collect()
    }

    /// The list as it was given.
    pub fn given(&self) -> &Bound<'py, PyAny> {
        &self.given
    }

    /// The canonical header list: the list given when nothing changes (a list made of its
    /// lines when it was no list), else a new list of the lines kept, in order, the `Host`
    /// line respelled.
    pub fn canonical(
        &self,
        py: Python<'py>,
        canonical: &CanonicalHeaders<'_>,
    ) -> PyResult<Bound<'py, PyList>> {
        if !canonical.changed
            && let Ok(list) = self.given.cast::<PyList>()
        {
            return Ok(list.clone());
        }
        let out = PyList::empty(py);
        for (index, line) in self.lines.iter().enumerate() {
            if canonical.changed && Some(index) == canonical.host_index {
                if !canonical.host.name.is_empty() {
                    let spelled = PyBytes::new(py, canonical.host.header().as_bytes());
                    out.append((PyBytes::new(py, b"host"), spelled))?;
                }
                continue;
            }
            if canonical.changed && !canonical.keeps(index, line.name.as_bytes()) {
                continue;
            }
            match (&line.tuple, &line.value) {
                (Some(tuple), _) => out.append(tuple)?,
                (None, Some(value)) => out.append((&line.name, value))?,
                (None, None) => {}
            }
        }
        Ok(out)
    }
}
