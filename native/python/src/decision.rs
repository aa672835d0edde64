//! The decision endpoint's check requests as Python reads them: the original request a
//! check request describes, read in Rust (`stockade_front::decision`).
//!
//! The decision point (`stockade.decision.point`) asks the native front's request for it
//! (`Request.original`); `describe_check` is the same on plain values, for the
//! differential test against `stockade.decision.styles`.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use stockade_front::decision::{BadCheck, original_request, style_for};

use crate::errors::{bad_check, bad_request_reason, guard};

/// `(style, (method, path, query, scheme, headers))`, or `None` for a target that is no
/// check path.
pub type Described<'py> = Option<(&'static str, Bound<'py, PyTuple>)>;

/// The style and the original request of a check request; raises `BadCheck` (its reason
/// after the style's name, as `stockade.decision.styles.describe` words it) or
/// `BadRequest` (an original method that is no method).
pub fn describe<'py, 'a>(
    py: Python<'py>,
    method: &[u8],
    target: &[u8],
    headers: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
) -> PyResult<Described<'py>> {
    let Some((style, rest)) = style_for(target) else {
        return Ok(None);
    };
    let original = match original_request(style, method, rest, headers) {
        Ok(original) => original,
        Err(BadCheck::Method) => return Err(bad_request_reason(py, &BadCheck::Method.to_string())),
        Err(BadCheck::Check(reason)) => return Err(bad_check(py, &format!("{}: {reason}", style.name()))),
    };
    let lines = original
        .headers
        .iter()
        .map(|(name, value)| PyTuple::new(py, [PyBytes::new(py, name), PyBytes::new(py, value)]))
        .collect::<PyResult<Vec<_>>>()?;
    // The method is ASCII (checked): Latin-1, as the Python side decodes it.
    let method: String = original.method.iter().map(|&b| char::from(b)).collect();
    let tuple = (
        method,
        PyBytes::new(py, &original.target),
        PyBytes::new(py, &original.query),
        original.scheme,
        PyList::new(py, lines)?,
    )
        .into_pyobject(py)?;
    Ok(Some((style.name(), tuple)))
}

/// [`describe`] on a check request's method (text), target and header lines.
#[pyfunction]
pub fn describe_check<'py>(
    py: Python<'py>,
    method: &str,
    target: &[u8],
    headers: Vec<(Vec<u8>, Vec<u8>)>,
) -> PyResult<Described<'py>> {
    guard(py, || {
        // As `str.encode("latin-1")`; a character beyond it is no token character either.
        let method: Vec<u8> = method
            .chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap_or(0xFF))
            .collect();
        describe(
            py,
            &method,
            target,
            headers.iter().map(|(n, v)| (n.as_slice(), v.as_slice())),
        )
    })
}
