//! Where Rust errors and panics become Python exceptions: only here.
//!
//! The exceptions are the project's own classes from `stockade.errors` (the one tree under
//! `StockadeError`), imported when an error is raised, so that a native error and the
//! Python implementation's error are the same class with the same fields and message.
//! A panic that escapes a native call is caught by [`guard`] and becomes a
//! `stockade.errors.NativeError`: a failed call, never a crashed process.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use stockade_core::{BadRequest, BlocklistError};

/// Run a native call's body; a panic inside it becomes `NativeError`.
pub fn guard<T>(py: Python<'_>, body: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(payload) => Err(native_error(py, &panic_text(payload.as_ref()))),
    }
}

fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

fn native_error(py: Python<'_>, detail: &str) -> PyErr {
    raise(|| class(py, "NativeError")?.call1((detail,)))
}

/// `stockade.errors.BlocklistError` for a rejected file; `file` is the caller's own name for it.
pub fn blocklist_error(py: Python<'_>, file: &Bound<'_, PyString>, error: &BlocklistError) -> PyErr {
    raise(|| {
        let kwargs = PyDict::new(py);
        kwargs.set_item("line", error.line)?;
        let text = error.text.as_deref().map(|text| decode(py, text)).transpose()?;
        kwargs.set_item("text", text)?;
        kwargs.set_item("reason", error.reason())?;
        let message = decode(py, &error.message())?;
        class(py, "BlocklistError")?.call((file, message), Some(&kwargs))
    })
}

/// `stockade.errors.BadRequest(reason)`: a request with no safe canonical form (400).
pub fn bad_request(py: Python<'_>, error: BadRequest) -> PyErr {
    raise(|| class(py, "BadRequest")?.call1((error.reason(),)))
}

/// `stockade.errors.BadRequest(reason)` for a reason the caller words.
pub fn bad_request_reason(py: Python<'_>, reason: &str) -> PyErr {
    raise(|| class(py, "BadRequest")?.call1((reason,)))
}

/// `stockade.errors.BadCheck(reason)`: a proxy's check request that describes no request.
pub fn bad_check(py: Python<'_>, reason: &str) -> PyErr {
    raise(|| class(py, "BadCheck")?.call1((reason,)))
}

/// `stockade.errors.InvalidArgument(name, value, accepted)`.
pub fn invalid_argument(py: Python<'_>, name: &str, value: &Bound<'_, PyAny>, accepted: &str) -> PyErr {
    raise(|| class(py, "InvalidArgument")?.call1((name, value, accepted)))
}

/// Bytes as the Python side decodes file content: UTF-8 with `surrogateescape`.
pub fn decode<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyString>> {
    PyString::from_encoded_object(&PyBytes::new(py, bytes), Some(c"utf-8"), Some(c"surrogateescape"))
}

/// A str as bytes, the inverse of [`decode`].
pub fn encode(text: &Bound<'_, PyString>) -> PyResult<Vec<u8>> {
    let bytes = text.call_method1("encode", ("utf-8", "surrogateescape"))?;
    Ok(bytes.cast_into::<PyBytes>()?.as_bytes().to_vec())
}

fn class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("stockade.errors")?.getattr(name)
}

/// The exception an instance builder makes, or whatever went wrong making it.
fn raise<'py>(make: impl FnOnce() -> PyResult<Bound<'py, PyAny>>) -> PyErr {
    match make() {
        Ok(instance) => PyErr::from_value(instance),
        Err(error) => error,
    }
}

/// Panic on purpose: the test suite proves with it that a panic becomes `NativeError`.
#[pyfunction]
#[allow(clippy::panic, reason = "the one deliberate panic, for the test of the guard")]
pub fn _panic(py: Python<'_>, message: &str) -> PyResult<()> {
    guard(py, || std::panic::panic_any(message.to_owned()))
}
