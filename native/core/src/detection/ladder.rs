//! The detection engine as the ladder's [`Detect`] hook.
//!
//! The native ladder decides from the request head alone, so a request whose body detection
//! would read, or whose target was rewritten by the canonical form (the Python side reads
//! the path as sent), goes to the Python side; so does any request a rule fires on, even
//! below the threshold (its hits are counted there). A native `Clean` is therefore always
//! what the Python ladder's detection would have said.

use crate::ladder::{Detect, DetectOutcome};
use crate::request::Request;

use super::Engine;

impl Detect for Engine {
    fn inspect(&self, request: &Request<'_>) -> DetectOutcome {
        let announces_body = request.headers.iter().any(|header| {
            header.name.as_ref() == b"transfer-encoding"
                || (header.name.as_ref() == b"content-length" && header.value.iter().any(|b| *b != b'0'))
        });
        if announces_body || request.body.is_some() {
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
