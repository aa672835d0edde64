//! The detection engine as the ladder's [`Detect`] hook.
//!
//! The native ladder decides from the request head alone. These go to the Python side: a
//! request whose body detection would read; one whose target the canonical form rewrote
//! (the Python side reads the path as sent); one with bytes beyond ASCII in its query or
//! headers (read there as Latin-1); any request a rule fires on, even below the threshold
//! (its hits are counted there). A native `Clean` is therefore what the Python ladder's
//! detection would have said.

use crate::ladder::{Detect, DetectOutcome};
use crate::request::Request;

use super::Engine;

impl Detect for Engine {
    fn inspect(&self, request: &Request<'_>) -> DetectOutcome {
        let announces_body = request.headers.iter().any(|header| {
            header.name.as_ref() == b"transfer-encoding"
                || (header.name.as_ref() == b"content-length" && header.value.iter().any(|b| *b != b'0'))
        });
        // The Python side reads header bytes as Latin-1 and a raw query as it stands: a byte
        // beyond ASCII may read differently here, so only that side decides on it.
        let beyond_ascii =
            !request.query.is_ascii() || request.headers.iter().any(|header| !header.value.is_ascii());
        if announces_body || beyond_ascii || request.body.is_some() {
            return DetectOutcome::Hit;
        }
        let Ok(raw_path) = std::str::from_utf8(&request.target) else {
            return DetectOutcome::Hit;
        };
        let verdict = self.inspect_request(request, raw_path, false);
        if verdict.hits.is_empty() && verdict.uninspected == 0 {
            DetectOutcome::Clean
        } else {
            DetectOutcome::Hit
        }
    }
}
