//! The decision endpoint's check requests: how each proxy asks, and the original request
//! a check request describes (`stockade.decision.styles` is the same in Python, kept as
//! the oracle of a differential test).
//!
//! A proxy the site already runs asks about every request with a check request of its
//! own. The way of asking (the style) is chosen by the path the proxy calls, which only its
//! configuration sets: `/nginx`, `/ingress-nginx`, `/forward`, `/envoy/<original path>`. A
//! style reads its own headers and no other, each at most once, so that a client's own
//! `X-Original-URI` sent through a proxy that sets only `X-Forwarded-*` changes nothing.
//! The original request keeps the check request's other headers (the client's, which the
//! proxy passed along), without those that carried the question and without the check
//! request's own framing; its `Host` is the check's own under `nginx` and `envoy`, the one
//! the style names otherwise.
//!
//! Who may ask, which client the forwarding header names and the answers stay with the
//! caller (the Python decision point, until the native ladder decides): this module only
//! reads bytes.

use std::fmt;

/// One way of asking (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Nginx,
    IngressNginx,
    Forward,
    Envoy,
}

const STYLES: [Style; 4] = [Style::Nginx, Style::IngressNginx, Style::Forward, Style::Envoy];
const MAX_METHOD: usize = 32;

impl Style {
    pub fn name(self) -> &'static str {
        match self {
            Self::Nginx => "nginx",
            Self::IngressNginx => "ingress-nginx",
            Self::Forward => "forward",
            Self::Envoy => "envoy",
        }
    }

    fn path(self) -> &'static [u8] {
        match self {
            Self::Nginx => b"/nginx",
            Self::IngressNginx => b"/ingress-nginx",
            Self::Forward => b"/forward",
            Self::Envoy => b"/envoy",
        }
    }

    /// The headers the style reads (each at most once).
    fn reads(self) -> &'static [&'static [u8]] {
        match self {
            Self::Nginx => &[
                b"x-original-method",
                b"x-original-uri",
                b"x-forwarded-proto",
                b"host",
            ],
            Self::IngressNginx => &[b"x-original-method", b"x-original-url"],
            Self::Forward => &[
                b"x-forwarded-method",
                b"x-forwarded-uri",
                b"x-forwarded-host",
                b"x-forwarded-proto",
            ],
            Self::Envoy => &[b"x-forwarded-proto"],
        }
    }

    /// The headers the proxy sets to describe the original request: not part of it.
    fn consumed(self, name: &[u8]) -> bool {
        match self {
            Self::Nginx => matches!(
                name,
                b"x-original-method" | b"x-original-uri" | b"x-forwarded-proto"
            ),
            // ingress-nginx also sets these; X-Original-URI and X-Scheme only with auth-method.
            Self::IngressNginx => matches!(
                name,
                b"x-original-method"
                    | b"x-original-url"
                    | b"x-original-uri"
                    | b"x-scheme"
                    | b"x-sent-from"
                    | b"x-auth-request-redirect"
            ),
            Self::Forward => self.reads().contains(&name),
            // Envoy says so when with_request_body sent the first bytes of a longer body.
            Self::Envoy => matches!(name, b"x-forwarded-proto" | b"x-envoy-auth-partial-body"),
        }
    }

    /// The check request's `Host` is the original one.
    fn own_host(self) -> bool {
        matches!(self, Self::Nginx | Self::Envoy)
    }

    /// The check request's body is the original one's (Envoy's `with_request_body`).
    pub fn body(self) -> bool {
        self == Self::Envoy
    }
}

/// The style a check target selects, and the rest of the target after its check path.
///
/// The query of a check request is ignored (Caddy keeps the original query on its
/// rewrite), except under `envoy`, whose rest is the original target, query included.
pub fn style_for(target: &[u8]) -> Option<(Style, &[u8])> {
    for style in STYLES {
        let Some(rest) = target.strip_prefix(style.path()) else {
            continue;
        };
        if style == Style::Envoy {
            if rest.starts_with(b"/") || rest == b"*" || rest.starts_with(b"*?") {
                return Some((style, rest));
            }
            continue;
        }
        if rest.is_empty() || rest.starts_with(b"?") {
            return Some((style, b""));
        }
    }
    None
}

/// The request a check request describes, as it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Original {
    pub method: Vec<u8>,
    /// The path as sent (no query, no fragment).
    pub target: Vec<u8>,
    pub query: Vec<u8>,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// Lower-case names, in the check request's order, the original `Host` last when the
    /// style names it in a header of its own.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Why a check request describes no request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadCheck {
    /// The proxy's configuration is wrong (a header missing, repeated or malformed): the
    /// reason, without the style's name.
    Check(String),
    /// The original method is not an HTTP method: a bad request, not a bad check.
    Method,
}

impl fmt::Display for BadCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Check(reason) => f.write_str(reason),
            Self::Method => f.write_str("the original method is not an HTTP method"),
        }
    }
}

/// The original request a check request describes under `style`; `rest` is what
/// [`style_for`] left of the check target, `headers` the check request's lines.
pub fn original_request<'a>(
    style: Style,
    method: &[u8],
    rest: &[u8],
    headers: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
) -> Result<Original, BadCheck> {
    let reads = style.reads();
    let mut found: Vec<(&'static [u8], &'a [u8])> = Vec::with_capacity(reads.len());
    let mut kept = Vec::new();
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if let Some(&read) = reads.iter().find(|read| **read == lower.as_slice()) {
            if found.iter().any(|(seen, _)| *seen == read) {
                return Err(BadCheck::Check(format!(
                    "the check request has several {} headers",
                    spelled(read)
                )));
            }
            found.push((read, value));
        }
        let framing = matches!(lower.as_slice(), b"content-length" | b"transfer-encoding");
        if style.consumed(&lower) || framing || (!style.own_host() && lower == b"host") {
            continue;
        }
        kept.push((lower, value.to_vec()));
    }
    let get = |name: &[u8]| {
        found
            .iter()
            .find(|(seen, _)| *seen == name)
            .map(|(_, value)| *value)
    };
    let mut scheme = scheme_of(get(b"x-forwarded-proto"));
    let (original_method, (target, query), host) = match style {
        Style::Envoy => (method, split(rest), None),
        Style::Forward => (
            required(get(b"x-forwarded-method"), b"x-forwarded-method")?,
            split(required(get(b"x-forwarded-uri"), b"x-forwarded-uri")?),
            get(b"x-forwarded-host"),
        ),
        Style::Nginx => (
            required(get(b"x-original-method"), b"x-original-method")?,
            split(required(get(b"x-original-uri"), b"x-original-uri")?),
            None,
        ),
        Style::IngressNginx => {
            let original_method = required(get(b"x-original-method"), b"x-original-method")?;
            let (named, host, target, query) =
                absolute(required(get(b"x-original-url"), b"x-original-url")?)?;
            scheme = named;
            (original_method, (target, query), Some(host))
        }
    };
    if let Some(host) = host {
        if !trim(host).is_empty() {
            kept.push((b"host".to_vec(), host.to_vec()));
        }
    }
    let tchar = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
    if original_method.is_empty() || original_method.len() > MAX_METHOD || !original_method.iter().all(tchar)
    {
        return Err(BadCheck::Method);
    }
    Ok(Original {
        method: original_method.to_vec(),
        target: target.to_vec(),
        query: query.to_vec(),
        scheme,
        headers: kept,
    })
}

fn trim(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |end| end + 1);
    value.get(start..end.max(start)).unwrap_or_default()
}

fn required<'a>(value: Option<&'a [u8]>, name: &[u8]) -> Result<&'a [u8], BadCheck> {
    let value = trim(value.unwrap_or_default());
    if value.is_empty() {
        return Err(BadCheck::Check(format!(
            "the check request has no {} header: set it in the proxy's configuration",
            spelled(name)
        )));
    }
    Ok(value)
}

/// A header's name as the proxies' documentation writes it (`X-Original-URI`, `X-Forwarded-Uri`).
fn spelled(name: &[u8]) -> String {
    let text = String::from_utf8_lossy(name);
    let words: Vec<&str> = text.split('-').collect();
    let original = words.get(..2) == Some(&["x", "original"][..]);
    words
        .iter()
        .map(|word| {
            if original && matches!(*word, "uri" | "url") {
                word.to_ascii_uppercase()
            } else {
                let mut chars = word.chars();
                chars.next().map_or_else(String::new, |first| {
                    first
                        .to_uppercase()
                        .chain(chars.flat_map(char::to_lowercase))
                        .collect()
                })
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Path and query of a target, each without a fragment.
fn split(target: &[u8]) -> (&[u8], &[u8]) {
    let (path, query) = match target.iter().position(|&b| b == b'?') {
        Some(at) => (
            target.get(..at).unwrap_or_default(),
            target.get(at + 1..).unwrap_or_default(),
        ),
        None => (target, &b""[..]),
    };
    (before_fragment(path), before_fragment(query))
}

fn before_fragment(part: &[u8]) -> &[u8] {
    part.iter()
        .position(|&b| b == b'#')
        .map_or(part, |at| part.get(..at).unwrap_or_default())
}

/// Scheme, host, path and query of an absolute URL.
type Absolute<'a> = (&'static str, &'a [u8], &'a [u8], &'a [u8]);

/// Scheme, host, path and query of ingress-nginx's `$scheme://$http_host$request_uri`.
fn absolute(url: &[u8]) -> Result<Absolute<'_>, BadCheck> {
    let at = url.windows(3).position(|w| w == b"://");
    let scheme = at.map(|at| url.get(..at).unwrap_or_default().to_ascii_lowercase());
    let named = match scheme.as_deref() {
        Some(b"http") => "http",
        Some(b"https") => "https",
        _ => {
            return Err(BadCheck::Check(
                "X-Original-URL is not an absolute http or https URL".to_owned(),
            ));
        }
    };
    let rest = at.and_then(|at| url.get(at + 3..)).unwrap_or_default();
    let Some(slash) = rest.iter().position(|&b| b == b'/') else {
        return Err(BadCheck::Check("X-Original-URL has no path".to_owned()));
    };
    let (target, query) = split(rest.get(slash..).unwrap_or_default());
    Ok((named, rest.get(..slash).unwrap_or_default(), target, query))
}

/// The scheme of `X-Forwarded-Proto`: the first hop's, when a chain of proxies appended theirs.
fn scheme_of(value: Option<&[u8]>) -> &'static str {
    let Some(value) = value else {
        return "http";
    };
    let first = value.split(|&b| b == b',').next().unwrap_or_default();
    match trim(first).to_ascii_lowercase().as_slice() {
        b"https" | b"wss" => "https",
        _ => "http",
    }
}

#[cfg(test)]
mod tests {
    use super::{BadCheck, Style, original_request, style_for};

    fn lines<'a>(pairs: &'a [(&'a str, &'a str)]) -> Vec<(&'a [u8], &'a [u8])> {
        pairs.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())).collect()
    }

    #[test]
    fn the_check_path_selects_the_style() {
        assert_eq!(style_for(b"/nginx"), Some((Style::Nginx, &b""[..])));
        assert_eq!(style_for(b"/nginx?x=1"), Some((Style::Nginx, &b""[..])));
        assert_eq!(style_for(b"/nginxx"), None);
        assert_eq!(style_for(b"/envoy/a?b"), Some((Style::Envoy, &b"/a?b"[..])));
        assert_eq!(style_for(b"/envoy"), None);
        assert_eq!(style_for(b"/envoy*"), Some((Style::Envoy, &b"*"[..])));
    }

    #[test]
    fn nginx_reads_its_own_headers_only() {
        let headers = lines(&[
            ("Host", "shop.example.com"),
            ("X-Original-URI", "/a/b?c=d#e"),
            ("X-Original-Method", "POST"),
            ("X-Forwarded-Uri", "/.env"),
            ("X-Forwarded-Proto", "HTTPS, http"),
            ("Content-Length", "0"),
        ]);
        let original = original_request(Style::Nginx, b"GET", b"", headers);
        let expected = super::Original {
            method: b"POST".to_vec(),
            target: b"/a/b".to_vec(),
            query: b"c=d".to_vec(),
            scheme: "https",
            headers: vec![
                (b"host".to_vec(), b"shop.example.com".to_vec()),
                (b"x-forwarded-uri".to_vec(), b"/.env".to_vec()),
            ],
        };
        assert_eq!(original, Ok(expected));
    }

    #[test]
    fn a_missing_or_repeated_header_is_a_bad_check() {
        let missing = original_request(Style::Nginx, b"GET", b"", lines(&[("X-Original-Method", "GET")]));
        let reason = "the check request has no X-Original-URI header: set it in the proxy's configuration";
        assert_eq!(missing, Err(BadCheck::Check(reason.to_owned())));
        let twice = lines(&[("X-Forwarded-Method", "GET"), ("x-forwarded-method", "GET")]);
        let reason = "the check request has several X-Forwarded-Method headers";
        assert_eq!(
            original_request(Style::Forward, b"GET", b"", twice),
            Err(BadCheck::Check(reason.to_owned()))
        );
        let bad_method = lines(&[("X-Forwarded-Method", "G T"), ("X-Forwarded-Uri", "/")]);
        assert_eq!(
            original_request(Style::Forward, b"GET", b"", bad_method),
            Err(BadCheck::Method)
        );
    }

    #[test]
    fn ingress_nginx_reads_an_absolute_url() {
        let headers = lines(&[
            ("X-Original-Method", "GET"),
            ("X-Original-URL", "HTTPS://h.example/p?q"),
            ("Host", "auth"),
        ]);
        let expected = super::Original {
            method: b"GET".to_vec(),
            target: b"/p".to_vec(),
            query: b"q".to_vec(),
            scheme: "https",
            headers: vec![(b"host".to_vec(), b"h.example".to_vec())],
        };
        assert_eq!(
            original_request(Style::IngressNginx, b"GET", b"", headers),
            Ok(expected)
        );
    }
}
