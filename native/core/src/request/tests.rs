//! The native request: built by the canonicalizer, read as BFE's conditions read a request.

use std::borrow::Cow;

use crate::addr::{Addr, parse_text};
use crate::canonical::{BadRequest, Canonicalizer, HttpVersion, PathPolicy, RawRequest};
use crate::client_ip::{ForwardingHeader, TrustedProxies};
use crate::ipset::IpSetBuilder;

use super::*;

fn canonicalizer() -> Canonicalizer {
    let mut trusted = IpSetBuilder::new();
    trusted.add_address(Addr::V4(0x7F00_0001));
    Canonicalizer::new(
        PathPolicy::default(),
        TrustedProxies::new(trusted.build(), ForwardingHeader::XForwardedFor),
    )
}

fn raw<'a>(path: &'a [u8], headers: &'a [(&'a [u8], &'a [u8])], peer: &str) -> RawRequest<'a> {
    RawRequest {
        method: b"GET",
        path,
        query: b"a=1&b=x+y&a=2&c=%zz&d;e=1&%41=%42",
        headers,
        peer: parse_text(peer.as_bytes()),
        secure: false,
        version: HttpVersion::Http11,
        body: None,
    }
}

#[test]
fn an_ordinary_request_borrows_what_it_received() {
    let headers: [(&[u8], &[u8]); 3] = [
        (b"host", b"www.example.com"),
        (b"user-agent", b"test"),
        (b"cookie", b"session=abc; lang=en; session=other"),
    ];
    let request = canonicalizer()
        .canonicalize(&raw(b"/products/42", &headers, "203.0.113.7"))
        .unwrap();
    assert!(matches!(request.target, Cow::Borrowed(_)));
    assert!(matches!(request.host.name, Cow::Borrowed(_)));
    assert!(!request.headers_changed);
    assert_eq!(request.path, "/products/42");
    assert_eq!(request.port(), "80");
    assert_eq!(request.header(b"user-agent"), Some(&b"test"[..]));
    assert_eq!(request.header(b"accept"), None);
    assert_eq!(request.cookie(b"session"), Some(&b"abc"[..]));
    assert_eq!(request.cookie(b"lang"), Some(&b"en"[..]));
    assert_eq!(request.query_value(b"a"), Some(&b"1"[..]));
    assert_eq!(request.query_value(b"b"), Some(&b"x y"[..]));
    assert_eq!(request.query_value(b"c"), None);
    assert_eq!(request.query_value(b"d"), None);
    assert_eq!(request.query_value(b"A"), Some(&b"B"[..]));
    assert_eq!(request.client.address, parse_text(b"203.0.113.7"));
}

#[test]
fn a_request_is_made_canonical() {
    let headers: [(&[u8], &[u8]); 3] = [
        (b"Host", b"WWW.Example.com.:8080"),
        (b"x-real-ip", b"6.6.6.6"),
        (b"X-Forwarded-For", b"6.6.6.6"),
    ];
    let request = canonicalizer()
        .canonicalize(&raw(b"/a/%2e%2e/b%20c", &headers, "::ffff:203.0.113.7"))
        .unwrap();
    assert_eq!(
        (request.target.as_ref(), request.path.as_ref()),
        (&b"/b%20c"[..], "/b c")
    );
    assert_eq!(
        (request.host.name.as_ref(), request.port()),
        ("www.example.com", "8080")
    );
    assert!(request.headers_changed);
    assert_eq!(
        request.headers,
        vec![Header::new(
            Cow::Borrowed(b"host"),
            Cow::Borrowed(b"www.example.com:8080")
        )]
    );
    assert_eq!(request.client.address, Some(Addr::V4(0xCB00_7107)));
    assert!(request.client.forwarded && !request.client.trusted);
}

#[test]
fn a_trusted_proxy_names_the_client_and_keeps_its_headers() {
    let headers: [(&[u8], &[u8]); 2] = [(b"host", b"a"), (b"x-forwarded-for", b"6.6.6.6, 198.51.100.4")];
    let request = canonicalizer()
        .canonicalize(&raw(b"/", &headers, "127.0.0.1"))
        .unwrap();
    assert_eq!(request.client.address, parse_text(b"198.51.100.4"));
    assert_eq!(request.client.header, Some(ForwardingHeader::XForwardedFor));
    assert_eq!(request.headers.len(), 2);
    assert_eq!(
        request.header(b"x-forwarded-for"),
        Some(&b"6.6.6.6, 198.51.100.4"[..])
    );
}

#[test]
fn refusals_come_path_first() {
    let two: [(&[u8], &[u8]); 2] = [(b"host", b"a"), (b"host", b"b")];
    let found = canonicalizer().canonicalize(&raw(b"/../x", &two, "1.2.3.4"));
    assert_eq!(found.err(), Some(BadRequest::ClimbsAboveRoot));
    let found = canonicalizer().canonicalize(&raw(b"/x", &two, "1.2.3.4"));
    assert_eq!(found.err(), Some(BadRequest::SeveralHosts));
}

#[test]
fn queries_as_go_parses_them() {
    let pairs = parse_query(b"&x=1&&y&z=%2&w=%C3%A9&x=2&=empty");
    let spelled: Vec<(&[u8], &[u8])> = pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
    assert_eq!(
        spelled,
        vec![
            (&b"x"[..], &b"1"[..]),
            (b"y", b""),
            (b"w", b"\xc3\xa9"),
            (b"", b"empty")
        ]
    );
    assert_eq!(query_unescape(b"a+b%20c").as_deref(), Some(&b"a b c"[..]));
    assert_eq!(query_unescape(b"%"), None);
}

#[test]
fn cookies_as_go_reads_them() {
    let lines = [
        Cow::Borrowed(&b" a=1 ; b=\"q\"; c=x y; d; e=\"\xa0; bad name=1; f=,;"[..]),
        Cow::Owned(b"a=2;\xa0g=3\x85".to_vec()),
    ];
    let jar = parse_cookies(lines.into_iter());
    let spelled: Vec<(&[u8], &[u8])> = jar.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
    assert_eq!(
        spelled,
        vec![(&b"a"[..], &b"1"[..]), (b"b", b"q"), (b"d", b""), (b"g", b"3")]
    );
}

#[test]
fn conditions_read_the_values_the_python_side_holds() {
    use crate::conditions::ConditionRequest;
    let headers: [(&[u8], &[u8]); 6] = [
        (b"host", b"Shop.Example.:8080"),
        (b"x-name", b"caf\xe9"),
        (b"x-empty", b""),
        (b"x-bfe-debug-time", b""),
        (b"cookie", b"a=1"),
        (b"cookie", b"b=\xe9"),
    ];
    let mut request = raw(b"/a/./b%20c", &headers, "127.0.0.1");
    request.query = b"q=caf\xe9";
    request.secure = true;
    let request = canonicalizer().canonicalize(&request).unwrap();
    let connection = Connection {
        vip: parse_text(b"192.0.2.1"),
        sni: Some(b"shop.example"),
        ..Connection::default()
    };
    let view = Conditions::new(&request, connection, 12.5);
    assert_eq!(view.host(), b"shop.example:8080");
    assert_eq!(view.path(), b"/a/b c");
    assert_eq!(view.query(), "q=café".as_bytes());
    assert_eq!(view.url(), "/a/b%20c?q=café".as_bytes());
    assert_eq!(view.proto(), b"HTTP/1.1");
    assert_eq!(view.header(b"x-name").as_deref(), Some("café".as_bytes()));
    assert_eq!(view.header(b"x-empty"), None, "an empty header reads as absent");
    assert_eq!(view.header(b"x-bfe-debug-time").as_deref(), Some(&b""[..]));
    let cookies: Vec<Vec<u8>> = view.cookie_lines().into_iter().map(Cow::into_owned).collect();
    assert_eq!(cookies, [b"a=1".to_vec(), "b=é".as_bytes().to_vec()]);
    assert_eq!(view.session_proto(), Some(&b"https"[..]));
    assert_eq!(view.tls_sni(), Some(&b"shop.example"[..]));
    assert_eq!(view.vip(), Some(Addr::V4(0xC000_0201).to_u128().to_be_bytes()));
    assert_eq!(view.now(), 12.5);
    assert!(!view.unanswered());
    assert_eq!(view.body(), None);
    assert!(view.unanswered(), "the body is the Python side's to read");
}
