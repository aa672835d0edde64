//! Python text as the fronts' bytes, and back: WSGI and ASGI give Latin-1 text (PEP 3333,
//! ASGI's `query_string` decoded by the Python side), where each character is one byte.

use std::borrow::Cow;

use pyo3::prelude::*;
use pyo3::types::PyString;

/// A `str` as the bytes it stands for in Latin-1; `None` when it has a character above
/// U+00FF (or a lone surrogate), which no server puts in a WSGI environ.
pub fn latin1<'a>(text: &'a Bound<'_, PyString>) -> Option<Cow<'a, [u8]>> {
    let utf8 = text.to_str().ok()?;
    if utf8.is_ascii() {
        return Some(Cow::Borrowed(utf8.as_bytes()));
    }
    utf8.chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<Vec<u8>>>()
        .map(Cow::Owned)
}

/// Bytes as Latin-1 text (`bytes.decode("latin-1")`).
pub fn from_latin1<'py>(py: Python<'py>, bytes: &[u8]) -> Bound<'py, PyString> {
    match std::str::from_utf8(bytes) {
        Ok(text) if bytes.is_ascii() => PyString::new(py, text),
        _ => PyString::new(py, &bytes.iter().map(|&b| char::from(b)).collect::<String>()),
    }
}

/// Whether a `str` holds exactly `text` (compared without building a new `str`).
pub fn holds(given: &Bound<'_, PyString>, text: &str) -> bool {
    given.to_str().is_ok_and(|known| known == text)
}

/// Whether a `str` holds exactly these Latin-1 bytes.
pub fn holds_latin1(given: &Bound<'_, PyString>, bytes: &[u8]) -> bool {
    latin1(given).is_some_and(|known| known.as_ref() == bytes)
}
