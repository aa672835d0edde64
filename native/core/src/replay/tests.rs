#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

use super::*;

const LINE: &[u8] = br#"198.51.0.7 - - [15/Jan/2027:08:00:00 +0000] "GET /shop/item/3?q=1 HTTP/1.1" 200 512 "-" "Mozilla/5.0""#;

#[test]
fn a_combined_line_reads_as_the_driver_reads_it() {
    let line = combined(LINE).unwrap();
    assert_eq!(line.ip, b"198.51.0.7");
    assert_eq!(line.time, b"15/Jan/2027:08:00:00 +0000");
    assert_eq!(
        (line.method, line.target),
        (&b"GET"[..], &b"/shop/item/3?q=1"[..])
    );
    assert_eq!(line.proto, Some(&b"HTTP/1.1"[..]));
    assert_eq!(line.status, 200);
    assert_eq!(
        (line.referer, line.agent),
        (Some(&b"-"[..]), Some(&b"Mozilla/5.0"[..]))
    );
}

#[test]
fn optional_parts_and_backtracking() {
    // Without a protocol the expression backtracks into the target: the driver reads it.
    let line = by_regex(br#"10.0.0.1 - - [t] "GET /a" 404 -"#).unwrap();
    assert_eq!((line.target, line.proto, line.referer), (&b"/a"[..], None, None));
    assert!(combined(br#"10.0.0.1 - - [t] "GET /a" 404 -"#).is_none());
    let line = combined(br#"10.0.0.1 - - [t] "GET /a"b HTTP/1.0" 200 1 trailing"#).unwrap();
    assert_eq!((line.target, line.proto), (&b"/a\"b"[..], Some(&b"HTTP/1.0"[..])));
    assert_eq!(line.referer, None);
    assert!(combined(b"not a log line").is_none());
    assert!(combined(br#"10.0.0.1 - - [t] "get /a" 200 1"#).is_none());
    // Beyond printable ASCII: the Python driver reads the line.
    assert!(combined("10.0.0.1 - - [t] \"GET /\u{e9} HTTP/1.1\" 200 1".as_bytes()).is_none());
}

#[test]
fn log_times_as_strptime_reads_them() {
    assert_eq!(log_time(b"01/Jan/1970:00:00:00 +0000"), Some(0));
    assert_eq!(log_time(b"10/Oct/2000:13:55:36 -0700"), Some(971_211_336));
    assert_eq!(
        log_time(b"29/Feb/2024:23:59:59 +0530"),
        Some(1_709_251_199 - 19_800)
    );
    assert_eq!(log_time(b"31/Dec/1969:23:59:59 +0000"), Some(-1));
    for bad in [
        &b"29/Feb/2023:00:00:00 +0000"[..],
        b"31/Apr/2024:00:00:00 +0000",
        b"01/jan/2024:00:00:00 +0000",
        b"1/Jan/2024:00:00:00 +0000",
        b"01/Jan/2024:24:00:00 +0000",
        b"01/Jan/2024:00:00:60 +0000",
        b"01/Jan/2024:00:00:00 +00:00",
        b"01/Jan/2024:00:00:00 Z",
        b"01/Jan/2024:00:00:00",
    ] {
        assert_eq!(log_time(bad), None, "{}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn strip_and_json_as_python_spells_them() {
    assert_eq!(trim(b" \t a b\r\x1f"), b"a b");
    assert_eq!(trim(b" \r "), b"");
    let mut out = String::new();
    assert!(push_seconds(&mut out, 1_800_000_000));
    assert!(push_seconds(&mut out, -5));
    assert_eq!(out, "1800000000.0-5.0");
    assert!(!push_seconds(&mut out, 10_000_000_000_000_000));
}

/// Lines near the usual shape, with the characters that matter to the expression.
fn near_lines() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let piece = prop::sample::select(vec![
        &b"10.0.0.1"[..],
        b" ",
        b"-",
        b"[",
        b"]",
        b"\"",
        b"GET",
        b"/a",
        b"HTTP/",
        b"1.1",
        b"200",
        b"4040",
        b"x",
        b"01/Jan/2027:00:00:00 +0000",
    ]);
    let shaped = (
        prop::collection::vec(piece.clone(), 0..4),
        prop::collection::vec(piece, 0..6),
    )
        .prop_map(|(a, b)| {
            let mut line = br#"10.0.0.1 - - [01/Jan/2027:00:00:00 +0000] "GET /a"#.to_vec();
            line.extend(a.concat());
            line.extend_from_slice(br#" HTTP/1.1" 200 512"#);
            line.extend(b.concat());
            line
        });
    prop_oneof![shaped, prop::collection::vec(0x20u8..0x7f, 0..80)]
}

proptest::proptest! {
    #[test]
    fn the_reading_is_the_expression_s_whenever_there_is_one(line in near_lines()) {
        if let Some(read) = combined(&line) {
            proptest::prop_assert_eq!(Some(read), by_regex(&line));
        }
    }
}

#[test]
fn the_usual_lines_are_read_without_the_driver() {
    for line in [
        LINE,
        br#"::1 - - [t] "POST /a?b=c HTTP/1.0" 404 - "" """#,
        br#"10.0.0.1 - - [t] "GET /a HTTP/2.0" 200 1"#,
        br#"10.0.0.1 - - [t] "GET /a HTTP/1.1" 200 1 "ref" "agent" extra"#,
        br#"10.0.0.1 - - [t] "GET /a HTTP/1.1" 200 1 "ref" unterminated"#,
    ] {
        assert_eq!(combined(line), by_regex(line));
        assert!(combined(line).is_some());
    }
}
