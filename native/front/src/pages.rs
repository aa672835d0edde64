//! The front's own short answers: the server's refusals (400, 413, 431, ...) and the
//! proxy's error pages (502, 504, 501), which never name the upstream.

use crate::http1::{reason, status_line};

/// A complete answer after which the connection closes, as the Python server's `canned`:
/// the reason phrase and a newline as a plain-text body.
pub fn canned(status: u16, date: &[u8], head: bool) -> Vec<u8> {
    let body = format!("{}\n", reason(status));
    page(status, body.as_bytes(), date, true, head)
}

/// The proxy's answer: `502 Bad Gateway\n` and the like.
pub fn proxy_page(status: u16, date: &[u8], close: bool, head: bool) -> Vec<u8> {
    let text = match status {
        413 => "Content Too Large",
        _ => reason(status),
    };
    let body = format!("{status} {text}\n");
    page(status, body.as_bytes(), date, close, head)
}

fn page(status: u16, body: &[u8], date: &[u8], close: bool, head: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(160 + body.len());
    status_line(status, &mut out);
    out.extend_from_slice(b"content-type: text/plain; charset=utf-8\r\ncontent-length: ");
    out.extend_from_slice(body.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(date);
    out.extend_from_slice(b"\r\n");
    if !head {
        out.extend_from_slice(body);
    }
    out
}
