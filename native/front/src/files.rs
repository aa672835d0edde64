//! Static files from the document root, with `HEAD`, single byte ranges and validators.
//!
//! The path handed in is the canonical, decoded one the checks read; it is still resolved
//! (symbolic links followed) and must stay inside the root, so a link that points out of
//! it answers 404 rather than serving what it points to. A directory named without its
//! trailing slash is redirected to it; one with it serves its `index.html`. `ETag`
//! (`"mtime-size"` in hexadecimal, as nginx makes it) and `Last-Modified` are sent, and
//! `If-None-Match` / `If-Modified-Since` answer 304; `Range: bytes=...` with one range
//! answers 206 (`If-Range` honoured), an unsatisfiable one 416.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::http1::{self, Head, RequestFraming};
use crate::io::{ClientIo, write_parts};
use crate::server::{Conn, End, Served, push_date};
use crate::site::Site;

const CHUNK: usize = 64 * 1024;
const URL_SAFE: &[u8] = b"/!$&'()*+,;=:@-._~";

/// What a path names under the root.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    File {
        path: PathBuf,
        size: u64,
        modified: SystemTime,
        content_type: &'static str,
    },
    Redirect(String),
}

/// Look `url_path` up under `root` (see the module documentation); `None` is a 404.
pub fn lookup(root: &Path, url_path: &str) -> Option<Found> {
    let root = root.canonicalize().ok()?;
    let target = root.join(url_path.trim_start_matches('/'));
    let mut resolved = target.canonicalize().ok()?;
    if !resolved.starts_with(&root) {
        return None;
    }
    if resolved.is_dir() {
        if !url_path.ends_with('/') {
            return Some(Found::Redirect(format!("{url_path}/")));
        }
        resolved = resolved.join("index.html").canonicalize().ok()?;
        if !resolved.starts_with(&root) {
            return None;
        }
    } else if url_path.ends_with('/') {
        return None;
    }
    let meta = std::fs::metadata(&resolved).ok()?;
    if !meta.is_file() {
        return None;
    }
    let content_type = content_type(&resolved);
    Some(Found::File {
        path: resolved,
        size: meta.len(),
        modified: meta.modified().unwrap_or(UNIX_EPOCH),
        content_type,
    })
}

fn content_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match extension.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "xml" => "text/xml; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json; charset=utf-8",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "ico" => "image/vnd.microsoft.icon",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "wasm" => "application/wasm",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "zip" => "application/zip",
        "tar" => "application/x-tar",
        _ => "application/octet-stream",
    }
}

/// A small HTML page, as `stockade.server.responses.page` makes them.
pub fn html_page(status: u16, title: &str, message: &str) -> Vec<u8> {
    format!(
        "<!DOCTYPE html>\n<html><head><title>{status} {title}</title></head>\n<body><h1>{title}</h1>\n<p>{message}</p>\n</body></html>\n"
    )
    .into_bytes()
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}

fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || URL_SAFE.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `ETag` of a file: `"<mtime>-<size>"` in hexadecimal.
pub fn etag(modified: SystemTime, size: u64) -> String {
    let seconds = modified.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format!("\"{seconds:x}-{size:x}\"")
}

/// A range that starts past the end of the file (416).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsatisfiable;

/// The byte range a `Range` header asks for in a file of `size` bytes: `Ok(None)` for the
/// whole file (no range, or one this server ignores), `Err` for an unsatisfiable one.
pub fn byte_range(value: &[u8], size: u64) -> Result<Option<(u64, u64)>, Unsatisfiable> {
    let Some(spec) = value.trim_ascii().strip_prefix(b"bytes=") else {
        return Ok(None);
    };
    if spec.contains(&b',') {
        return Ok(None); // several ranges: the whole file is a valid answer
    }
    let text = std::str::from_utf8(spec).map_err(|_| Unsatisfiable)?.trim();
    let Some((start, end)) = text.split_once('-') else {
        return Ok(None);
    };
    let number = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            s.parse().ok()
        }
    };
    let (first, last) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let Some(length) = number(suffix) else {
                return Ok(None);
            };
            if length == 0 || size == 0 {
                return Err(Unsatisfiable);
            }
            (size.saturating_sub(length), size - 1)
        }
        (from, "") => {
            let Some(from) = number(from) else { return Ok(None) };
            (from, size.saturating_sub(1))
        }
        (from, to) => {
            let (Some(from), Some(to)) = (number(from), number(to)) else {
                return Ok(None);
            };
            if to < from {
                return Ok(None);
            }
            (from, to.min(size.saturating_sub(1)))
        }
    };
    if first >= size {
        return Err(Unsatisfiable);
    }
    Ok(Some((first, last)))
}

fn not_modified(head: &Head, tag: &str, modified: SystemTime) -> bool {
    if let Some(value) = head.first(b"if-none-match") {
        let value = String::from_utf8_lossy(value);
        return value.trim() == "*" || value.split(',').any(|t| t.trim().trim_start_matches("W/") == tag);
    }
    if let Some(value) = head.first(b"if-modified-since") {
        if let Ok(since) = httpdate::parse_http_date(&String::from_utf8_lossy(value)) {
            let seconds = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            return seconds(modified) <= seconds(since);
        }
    }
    false
}

fn range_applies(head: &Head, tag: &str, modified: SystemTime) -> bool {
    match head.first(b"if-range") {
        None => true,
        Some(value) => {
            let value = String::from_utf8_lossy(value);
            let value = value.trim();
            if value.starts_with('"') {
                return value == tag;
            }
            httpdate::parse_http_date(value).is_ok_and(|date| date == modified)
        }
    }
}

/// Serve `path` from the document root.
pub async fn serve<S: ClientIo>(
    conn: &mut Conn<S>,
    site: &Site,
    head: &Head,
    framing: &RequestFraming,
    path: &str,
) -> Served {
    let head_request = head.method() == b"HEAD";
    let keep_alive = framing.keep_alive && framing.body == http1::Framing::Length(0) && !conn.stopping();
    if !matches!(head.method(), b"GET" | b"HEAD") {
        let body = html_page(405, "Method Not Allowed", "Only GET and HEAD are allowed here.");
        return simple(
            conn,
            405,
            &[("allow", "GET, HEAD".into())],
            &body,
            head,
            keep_alive,
        )
        .await;
    }
    let found = match &site.document_root {
        None => None,
        Some(root) => {
            let (root, path) = (root.clone(), path.to_owned());
            tokio::task::spawn_blocking(move || lookup(&root, &path))
                .await
                .ok()
                .flatten()
        }
    };
    let (file, size, modified, content_type) = match found {
        None => return not_found(conn, head, keep_alive).await,
        Some(Found::Redirect(location)) => {
            let location = quote(&location);
            let message = format!(
                "The document has moved <a href=\"{}\">here</a>.",
                escape_html(&location)
            );
            let body = html_page(301, "Moved Permanently", &message);
            return simple(conn, 301, &[("location", location)], &body, head, keep_alive).await;
        }
        Some(Found::File {
            path,
            size,
            modified,
            content_type,
        }) => (path, size, modified, content_type),
    };
    let tag = etag(modified, size);
    let last_modified = httpdate::fmt_http_date(modified);
    let mut extra = vec![
        ("etag", tag.clone()),
        ("last-modified", last_modified),
        ("accept-ranges", "bytes".to_owned()),
    ];
    if not_modified(head, &tag, modified) {
        return respond_head(conn, 304, content_type, None, &extra, head, keep_alive).await;
    }
    let range = match head.first(b"range") {
        Some(value) if range_applies(head, &tag, modified) => byte_range(value, size),
        _ => Ok(None),
    };
    let (status, first, length) = match range {
        Err(Unsatisfiable) => {
            extra.push(("content-range", format!("bytes */{size}")));
            let body = b"Requested Range Not Satisfiable\n";
            let mut served = respond_head(
                conn,
                416,
                "text/plain; charset=utf-8",
                Some(body.len() as u64),
                &extra,
                head,
                keep_alive,
            )
            .await;
            if served.end != End::Drop && !head_request {
                if conn.io.write_all(body).await.is_err() {
                    served.end = End::Drop;
                }
                served.bytes = body.len() as u64;
            }
            return served;
        }
        Ok(Some((first, last))) => {
            extra.push(("content-range", format!("bytes {first}-{last}/{size}")));
            (206, first, last - first + 1)
        }
        Ok(None) => (200, 0, size),
    };
    let handle = if head_request {
        None
    } else {
        tokio::fs::File::open(&file).await.ok()
    };
    if handle.is_none() && !head_request {
        return not_found(conn, head, keep_alive).await;
    }
    let mut served = respond_head(conn, status, content_type, Some(length), &extra, head, keep_alive).await;
    if served.end == End::Drop {
        return served;
    }
    let Some(mut handle) = handle else {
        return served;
    };
    if first > 0 && handle.seek(std::io::SeekFrom::Start(first)).await.is_err() {
        served.end = End::Drop;
        return served;
    }
    let mut left = length;
    let mut buffer = vec![0u8; CHUNK];
    while left > 0 {
        let want = usize::try_from(left).unwrap_or(CHUNK).min(CHUNK);
        let Some(slot) = buffer.get_mut(..want) else { break };
        let read = match handle.read(slot).await {
            Ok(0) | Err(_) => {
                served.end = End::Drop; // the file shrank: the length announced cannot be kept
                return served;
            }
            Ok(read) => read,
        };
        let Some(piece) = buffer.get(..read) else { break };
        if conn.io.write_all(piece).await.is_err() {
            served.end = End::Drop;
            return served;
        }
        left -= read as u64;
        served.bytes += read as u64;
    }
    served
}

async fn not_found<S: ClientIo>(conn: &mut Conn<S>, head: &Head, keep_alive: bool) -> Served {
    let body = html_page(
        404,
        "Not Found",
        "The requested URL was not found on this server.",
    );
    simple(conn, 404, &[], &body, head, keep_alive).await
}

async fn simple<S: ClientIo>(
    conn: &mut Conn<S>,
    status: u16,
    extra: &[(&str, String)],
    body: &[u8],
    head: &Head,
    keep_alive: bool,
) -> Served {
    let mut out = Vec::with_capacity(256 + body.len());
    head_bytes(
        &mut out,
        status,
        "text/html; charset=utf-8",
        Some(body.len() as u64),
        extra,
        head,
        keep_alive,
    );
    let body: &[u8] = if head.method() == b"HEAD" { b"" } else { body };
    if write_parts(&mut conn.io, &[&out, body]).await.is_err() {
        return Served::new(End::Drop, status, 0);
    }
    Served::new(
        if keep_alive { End::KeepAlive } else { End::Close },
        status,
        body.len() as u64,
    )
}

#[allow(clippy::too_many_arguments, reason = "a response head's parts")]
async fn respond_head<S: ClientIo>(
    conn: &mut Conn<S>,
    status: u16,
    content_type: &str,
    length: Option<u64>,
    extra: &[(&str, String)],
    head: &Head,
    keep_alive: bool,
) -> Served {
    let mut out = Vec::with_capacity(256);
    head_bytes(&mut out, status, content_type, length, extra, head, keep_alive);
    if conn.io.write_all(&out).await.is_err() {
        return Served::new(End::Drop, status, 0);
    }
    Served::new(if keep_alive { End::KeepAlive } else { End::Close }, status, 0)
}

fn head_bytes(
    out: &mut Vec<u8>,
    status: u16,
    content_type: &str,
    length: Option<u64>,
    extra: &[(&str, String)],
    head: &Head,
    keep_alive: bool,
) {
    http1::status_line(status, out);
    if status != 304 {
        out.extend_from_slice(b"content-type: ");
        out.extend_from_slice(content_type.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(length) = length {
        out.extend_from_slice(format!("content-length: {length}\r\n").as_bytes());
    }
    for (name, value) in extra {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    push_date(out);
    if !keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    } else if head.minor == 0 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(byte_range(b"bytes=0-9", 100), Ok(Some((0, 9))));
        assert_eq!(byte_range(b"bytes=90-", 100), Ok(Some((90, 99))));
        assert_eq!(byte_range(b"bytes=-10", 100), Ok(Some((90, 99))));
        assert_eq!(byte_range(b"bytes=95-200", 100), Ok(Some((95, 99))));
        assert_eq!(byte_range(b"bytes=100-", 100), Err(Unsatisfiable));
        assert_eq!(byte_range(b"bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(byte_range(b"items=0-1", 100), Ok(None));
        assert_eq!(byte_range(b"bytes=5-1", 100), Ok(None));
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("/a b/é"), "/a%20b/%C3%A9");
    }
}
