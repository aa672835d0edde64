//! The canonical path: examples, refusals, and properties read by an independent RFC 3986
//! reader (the string-buffer form of section 5.2.4, not a segment stack).

use proptest::prelude::*;

use super::*;

const KEEP: PathPolicy = PathPolicy {
    merge_slashes: true,
    escaped_slashes: EscapedSlashes::Keep,
};
const NO_MERGE: PathPolicy = PathPolicy {
    merge_slashes: false,
    escaped_slashes: EscapedSlashes::Reject,
};

fn canon(raw: &[u8], policy: PathPolicy) -> Result<(Vec<u8>, String), BadRequest> {
    canonical_path(raw, policy).map(|c| (c.target.into_owned(), c.path.into_owned()))
}

fn ok(target: &str, path: &str) -> Result<(Vec<u8>, String), BadRequest> {
    Ok((target.as_bytes().to_vec(), path.to_owned()))
}

#[test]
fn examples() {
    let cases: &[(&[u8], &str, &str)] = &[
        (b"/", "/", "/"),
        (b"/a/b/", "/a/b/", "/a/b/"),
        (b"/api/v1/users/123", "/api/v1/users/123", "/api/v1/users/123"),
        (b"//secure/", "/secure/", "/secure/"),
        (b"/%73ecure/", "/secure/", "/secure/"),
        (b"/pub/../secure/", "/secure/", "/secure/"),
        (b"/a/./b", "/a/b", "/a/b"),
        (b"/a/..", "/", "/"),
        (b"/a/b/.", "/a/b/", "/a/b/"),
        (b"/secure/..", "/", "/"),
        (b"/secure/%2e%2e", "/", "/"),
        (b"/secure/.%2e", "/", "/"),
        (b"/secure/%2E%2e/", "/", "/"),
        (b"/admin/x/../..", "/", "/"),
        (b"/admin/.%2e/", "/", "/"),
        (b"/%252e", "/%252e", "/%2e"),
        (
            b"/secure/x%252f..%252f..%252fpub",
            "/secure/x%252f..%252f..%252fpub",
            "/secure/x%2f..%2f..%2fpub",
        ),
        (b"/caf%c3%a9", "/caf%C3%A9", "/caf\u{e9}"),
        (b"/a%20b", "/a%20b", "/a b"),
        (b"/a\"b", "/a%22b", "/a\"b"),
        (b"/100%", "/100%25", "/100%"),
        (b"/a%zz", "/a%25zz", "/a%zz"),
        (b"/a%4", "/a%254", "/a%4"),
        (b"/a;b=c/d", "/a;b=c/d", "/a;b=c/d"),
        (b"/a/.b/..c", "/a/.b/..c", "/a/.b/..c"),
        (b"/\xc3\xa9", "/%C3%A9", "/\u{e9}"),
        (b"*", "*", "*"),
    ];
    for &(raw, target, path) in cases {
        assert_eq!(canon(raw, PathPolicy::default()), ok(target, path), "{raw:?}");
    }
}

#[test]
fn a_canonical_path_borrows_the_raw_one() {
    let found = canonical_path(b"/products/shoes/42", PathPolicy::default()).unwrap();
    assert!(matches!(found.target, Cow::Borrowed(_)));
    assert!(matches!(found.path, Cow::Borrowed(_)));
}

#[test]
fn refusals() {
    let cases: &[(&[u8], BadRequest)] = &[
        (b"secure", BadRequest::PathNotRooted),
        (b"", BadRequest::PathNotRooted),
        (b"/../x", BadRequest::ClimbsAboveRoot),
        (b"/a/../../x", BadRequest::ClimbsAboveRoot),
        (b"/a%00b", BadRequest::NullByte),
        (b"/a\x00b", BadRequest::NullByte),
        (b"/a%01b", BadRequest::ControlCharacter),
        (b"/a%0ab", BadRequest::ControlCharacter),
        (b"/a\x7fb", BadRequest::ControlCharacter),
        (b"/a\\b", BadRequest::Backslash),
        (b"/a%5cb", BadRequest::EscapedSlash),
        (b"/admin%2F", BadRequest::EscapedSlash),
        (b"/a.%2f.b", BadRequest::EscapedSlash),
        (b"/%ff", BadRequest::PathNotUtf8),
        (b"/x/%c0%ae%c0%ae/", BadRequest::PathNotUtf8),
        (b"/%ed%a0%80", BadRequest::PathNotUtf8),
        (b"/..;/admin", BadRequest::DotSegmentWithParameters),
        (b"/a/.;x/b", BadRequest::DotSegmentWithParameters),
        (b"/a/..%3bx/b", BadRequest::DotSegmentWithParameters),
        // A dot segment beside what step 1 refuses: the refusal says so (a traversal).
        (b"/../a%00", BadRequest::HiddenDotSegment),
        (b"/admin%2f..", BadRequest::HiddenDotSegment),
        (b"/..\\..\\windows\\win.ini", BadRequest::HiddenDotSegment),
        (b"/a/%2e%2e%5cetc", BadRequest::HiddenDotSegment),
        (b"/%252e%252e%255c%5cx", BadRequest::EscapedSlash),
        (b"/x%2f..;y%2fetc", BadRequest::HiddenDotSegment),
        (b"/etc/passwd%00/..", BadRequest::HiddenDotSegment),
        (b"/a..\\b", BadRequest::Backslash),
        (b"/a...%2f", BadRequest::EscapedSlash),
        // Runs of dots, dots encoded twice, a drive behind a backslash: traversals too.
        (b"/...%2f", BadRequest::HiddenDotSegment),
        (b"/static/....\\....\\boot.ini", BadRequest::HiddenDotSegment),
        (b"/%252e%252e\\%252e%252e\\x", BadRequest::HiddenDotSegment),
        (b"/%c0%ae%c0%ae\\%c0%ae%c0%ae\\x", BadRequest::HiddenDotSegment),
        (b"/static/C:\\boot.ini", BadRequest::WindowsDrive),
        (
            b"/%c0%2e%c0%2e%c0%5c%c0%2e%c0%2e%c0%5cx",
            BadRequest::HiddenDotSegment,
        ),
        (b"/static/C%3a%5cboot.ini", BadRequest::WindowsDrive),
        (b"/static/AC:\\x", BadRequest::Backslash),
        (b"/a:\\", BadRequest::WindowsDrive),
        // Bytes that are not UTF-8 hiding dot segments once overlong encodings are read.
        (
            b"/%c0%ae%c0%ae%c0%af%c0%ae%c0%ae%c0%afetc",
            BadRequest::OverlongDotSegment,
        ),
        (b"/static/..%c1%9c..%c1%9cx", BadRequest::OverlongDotSegment),
        (b"/%e0%80%ae%e0%80%ae/x", BadRequest::OverlongDotSegment),
        (
            b"/%f8%80%80%80%ae%f8%80%80%80%ae/x",
            BadRequest::OverlongDotSegment,
        ),
        (
            b"/s/%c0%ae%c0%ae%25c1%259c%c0%ae%c0%ae%25c1%259cetc",
            BadRequest::OverlongDotSegment,
        ),
        // One such segment in bytes EUC-JP holds is a Japanese word: not hostile.
        (b"/%c0%ae%c0%ae/%a4%a2", BadRequest::PathNotUtf8),
        (b"/static/etc%c0%afpasswd", BadRequest::PathNotUtf8),
    ];
    for &(raw, reason) in cases {
        assert_eq!(canon(raw, PathPolicy::default()), Err(reason), "{raw:?}");
    }
}

#[test]
fn escaped_slashes_kept_when_the_operator_says_so() {
    assert_eq!(
        canon(b"/api/group%2fproject", KEEP),
        ok("/api/group%2Fproject", "/api/group/project")
    );
    for raw in [
        &b"/admin%2f.."[..],
        b"/admin/x%2F..%2F..",
        b"/a%5c..%5cb",
        b"/a%2f.;x",
    ] {
        assert_eq!(
            canon(raw, KEEP),
            Err(BadRequest::DotSegmentBetweenEscapedSlashes),
            "{raw:?}"
        );
    }
}

#[test]
fn slashes_kept_when_the_operator_says_so() {
    assert_eq!(canon(b"//a//b/", NO_MERGE), ok("//a//b/", "//a//b/"));
    assert_eq!(canon(b"/a//../b", NO_MERGE), ok("/a/b", "/a/b"));
}

#[test]
fn a_decoded_path_is_never_decoded_again() {
    let decoded = |path: &[u8]| {
        canonical_decoded_path(path, PathPolicy::default())
            .map(|c| (c.target.into_owned(), c.path.into_owned()))
    };
    assert_eq!(
        decoded(b"/secure/x%2f..%2f..%2fpub"),
        ok("/secure/x%252f..%252f..%252fpub", "/secure/x%2f..%2f..%2fpub")
    );
    assert_eq!(decoded("/caf\u{e9}/../a b".as_bytes()), ok("/a%20b", "/a b"));
    assert_eq!(decoded(b""), ok("/", "/"));
    assert_eq!(decoded(b"/\xe9"), Err(BadRequest::PathNotUtf8));
    assert_eq!(decoded(b"/a\\b"), Err(BadRequest::Backslash));
    assert_eq!(decoded(b"/a\nb"), Err(BadRequest::ControlCharacter));
    assert_eq!(decoded(b"/a\\..\\b"), Err(BadRequest::HiddenDotSegment));
    assert_eq!(decoded(b"/../a\nb"), Err(BadRequest::HiddenDotSegment));
    // A decoded path is not decoded again: `%2e%2e` is not `..`.
    assert_eq!(decoded(b"/%2e%2e\\b"), Err(BadRequest::Backslash));
}

#[test]
fn decoded_paths_quoted_as_python_quotes_them() {
    assert_eq!(quote_path(b"/a b/%2f/\\/~x;y"), b"/a%20b/%252f/%5C/~x;y");
    assert_eq!(quote_path("/caf\u{e9}".as_bytes()), b"/caf%C3%A9");
    assert_eq!(quote_path(b""), b"");
}

#[test]
fn targets_as_wsgi_servers_keep_them() {
    let path = |target: &[u8]| path_of_target(target).into_owned();
    assert_eq!(path(b"/a/b?x=1#f"), b"/a/b");
    assert_eq!(path(b"/a#f?x"), b"/a");
    assert_eq!(path(b"*"), b"*");
    assert_eq!(path(b"http://example.com/a/../b?x"), b"/a/../b");
    assert_eq!(path(b"HTTPS://example.com"), b"/");
    assert_eq!(path(b"//example.com/x"), b"//example.com/x"); // origin form: two empty segments
    assert_eq!(path(b"http:/x"), b"/x");
    assert_eq!(path(b"x"), b"x");
    assert_eq!(path(b"1http://a/b"), b"1http://a/b");
    assert_eq!(path(b" http://a/\tb"), b"/b");
}

#[test]
fn mount_points() {
    assert!(under_mount_point(b"/app/page", b"/app"));
    assert!(under_mount_point(b"/app", b"/app"));
    assert!(under_mount_point(b"/app/", b"/app/"));
    assert!(under_mount_point(b"/x", b""));
    assert!(under_mount_point(b"/x", b"/"));
    assert!(!under_mount_point(b"/admin", b"/app"));
    assert!(!under_mount_point(b"/application", b"/app"));
    assert_eq!(trim_trailing_slashes(b"/app//"), b"/app");
    assert_eq!(trim_trailing_slashes(b"/"), b"");
}

// -- an independent reader -------------------------------------------------------------------

/// RFC 3986 section 5.2.4, step by step, on a string buffer.
fn remove_dot_segments(input: &str) -> String {
    let mut path = input.to_owned();
    let mut output = String::new();
    let drop_last = |output: &mut String| {
        let cut = output.rfind('/').unwrap_or(0);
        output.truncate(cut);
    };
    while !path.is_empty() {
        if let Some(rest) = path.strip_prefix("../") {
            path = rest.to_owned();
        } else if path.starts_with("./") || path.starts_with("/./") {
            path = path[2..].to_owned();
        } else if path == "/." {
            path = "/".to_owned();
        } else if path.starts_with("/../") {
            path = path[3..].to_owned();
            drop_last(&mut output);
        } else if path == "/.." {
            path = "/".to_owned();
            drop_last(&mut output);
        } else if path == "." || path == ".." {
            path.clear();
        } else {
            let start = usize::from(path.starts_with('/'));
            let end = path[start..].find('/').map_or(path.len(), |at| at + start);
            output.push_str(&path[..end]);
            path = path[end..].to_owned();
        }
    }
    output
}

fn unhex(pair: &[u8]) -> Option<u8> {
    u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()
}

/// Escapes of unreserved characters decoded, the others' digits upper-cased.
fn decode_unreserved(target: &str) -> String {
    let bytes = target.as_bytes();
    let mut out = String::new();
    let mut at = 0;
    while at < bytes.len() {
        let value = (bytes[at] == b'%')
            .then(|| bytes.get(at + 1..at + 3).and_then(unhex))
            .flatten();
        match value {
            Some(value) if value.is_ascii_alphanumeric() || b"-._~".contains(&value) => {
                out.push(char::from(value));
                at += 3;
            }
            Some(_) => {
                out.push('%');
                out.push_str(&target[at + 1..at + 3].to_ascii_uppercase());
                at += 3;
            }
            None => {
                out.push(char::from(bytes[at]));
                at += 1;
            }
        }
    }
    out
}

/// How an RFC 3986 backend reads a forwarded target: normalise, then decode every escape.
fn backend_reads(target: &[u8]) -> Option<String> {
    let text = remove_dot_segments(&decode_unreserved(std::str::from_utf8(target).ok()?));
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match (bytes[at] == b'%')
            .then(|| bytes.get(at + 1..at + 3).and_then(unhex))
            .flatten()
        {
            Some(value) => {
                out.push(value);
                at += 3;
            }
            None => {
                out.push(bytes[at]);
                at += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn under(path: &str, prefix: &str) -> bool {
    path == prefix || path.starts_with(&format!("{}/", prefix.trim_end_matches('/')))
}

const PIECES: &[&str] = &[
    "a",
    "B",
    "secure",
    ".",
    "..",
    "",
    "%2e",
    "%2E",
    ".%2e",
    "%2e.",
    "%2f",
    "%2F",
    "%5c",
    "%00",
    "%0a",
    "%25",
    "%252e",
    "%252f",
    "%41",
    "%7e",
    "%zz",
    "%",
    "%c0%ae",
    "%c3%a9",
    "%e2%80%ae",
    ";x",
    "..;",
    "x;..",
    "\\",
    ":@!$&'()*+,=",
    "%3b",
    "%3f",
    "%23",
    "<>",
    "\u{e9}",
];

fn raw_paths() -> impl Strategy<Value = Vec<u8>> {
    let segment =
        prop::collection::vec(prop::sample::select(PIECES), 0..=3).prop_map(|pieces| pieces.concat());
    (prop::collection::vec(segment, 0..=7), any::<bool>()).prop_map(|(segments, trailing)| {
        let mut raw = format!("/{}", segments.join("/"));
        if trailing {
            raw.push('/');
        }
        raw.into_bytes()
    })
}

fn policies() -> impl Strategy<Value = PathPolicy> {
    prop::sample::select(vec![
        PathPolicy::default(),
        KEEP,
        NO_MERGE,
        PathPolicy {
            merge_slashes: false,
            escaped_slashes: EscapedSlashes::Keep,
        },
    ])
}

fn target_is_escaped(target: &[u8]) -> bool {
    let mut at = 0;
    while at < target.len() {
        let byte = target[at];
        if byte == b'%' {
            let digits = target.get(at + 1..at + 3);
            if !digits.is_some_and(|d| d.iter().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b))) {
                return false;
            }
            at += 3;
        } else if byte == b'/' || is(byte, RAW_OK) {
            at += 1;
        } else {
            return false;
        }
    }
    true
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_backend_reads_what_the_checks_read(raw in raw_paths(), policy in policies()) {
        let Ok(found) = canonical_path(&raw, policy) else { return Ok(()); };
        prop_assert!(target_is_escaped(&found.target), "{:?}", found.target);
        prop_assert!(!found.path.contains('\0'));
        if policy.escaped_slashes == EscapedSlashes::Reject {
            prop_assert!(memchr::memmem::find(&found.target, b"%2F").is_none());
            prop_assert!(memchr::memmem::find(&found.target, b"%5C").is_none());
            let read = backend_reads(&found.target);
            prop_assert_eq!(read.as_deref(), Some(found.path.as_ref()));
            // A server's decoding of the target changes nothing either.
            let again = canonical_decoded_path(found.path.as_bytes(), policy).unwrap();
            prop_assert_eq!(again.path.as_ref(), found.path.as_ref());
        }
        // Idempotent: the canonical target is its own canonical form.
        let twice = canonical_path(&found.target, policy).unwrap();
        prop_assert_eq!(&twice, &found);
    }

    #[test]
    fn a_gate_is_never_passed_by_a_path_under_it(
        raw in raw_paths(),
        prefix in prop::sample::select(vec!["/secure", "/admin", "/a/b"]),
    ) {
        let Ok(found) = canonical_path(&raw, PathPolicy::default()) else { return Ok(()); };
        let read = backend_reads(&found.target).unwrap();
        prop_assert_eq!(under(&read, prefix), under(&found.path, prefix));
    }

    #[test]
    fn any_bytes_are_canonical_or_refused(raw in prop::collection::vec(any::<u8>(), 0..64), policy in policies()) {
        let mut rooted = b"/".to_vec();
        rooted.extend_from_slice(&raw);
        if let Ok(found) = canonical_path(&rooted, policy) {
            prop_assert!(target_is_escaped(&found.target));
            let twice = canonical_path(&found.target, policy).unwrap();
            prop_assert_eq!(&twice, &found);
        }
        let _ = canonical_decoded_path(&raw, policy);
        let _ = path_of_target(&raw);
    }
}
