use super::engine::Tokenisers;
use super::transforms::Transform;
use super::{Engine, Kind, RuleSpec, Settings, Subject, Target};

fn tokenisers() -> Tokenisers {
    match Tokenisers::new() {
        Ok(t) => t,
        Err(error) => unreachable!("tokenisers: {error}"),
    }
}

#[test]
fn sql_injections_and_text() {
    let t = tokenisers();
    for attack in [
        "' or 1=1--",
        "1 union select 1,2",
        "1 and sleep(5)",
        "admin'--",
        "'; drop table users",
    ] {
        assert!(t.sql.is_sqli(attack), "{attack}");
    }
    for text in ["rock and roll", "Tom's or Jerry's", "hello world"] {
        assert!(!t.sql.is_sqli(text), "{text}");
    }
}

#[test]
fn markup_and_script() {
    let t = tokenisers();
    for attack in [
        "<script>alert(1)</script>",
        "\" onfocus=alert(1) x=\"",
        "<svg/onload=alert(1)>",
        "<a href=javascript:alert(1)>",
    ] {
        assert!(t.xss.is_xss(attack), "{attack}");
    }
    for text in [
        "<b>bold</b>",
        "a<b",
        "<3",
        "<a href=\"https://example.com\">x</a>",
    ] {
        assert!(!t.xss.is_xss(text), "{text}");
    }
    assert!(t.xss.script_context("';alert(1)//"));
    assert!(!t.xss.script_context("it's fine"));
}

#[test]
fn shell_commands_and_prose() {
    let t = tokenisers();
    for attack in [
        ";cat /etc/passwd",
        "$(id)",
        "`uname -a`",
        "bash -c 'id'",
        "x&id",
        "{cat,/etc/passwd}",
    ] {
        assert!(t.shell.is_shell(attack), "{attack}");
    }
    for text in [
        "Tom & Jerry",
        "I came; I saw",
        "$(document).ready()",
        "copy & paste",
    ] {
        assert!(!t.shell.is_shell(text), "{text}");
    }
}

#[test]
fn transforms_decode() {
    assert_eq!(Transform::Decode.apply("%253Cscript%253E"), "<script>");
    assert_eq!(
        Transform::Decode.apply("&lt;b&gt;&amp;&#x41;&#65;&notit;"),
        "<b>&AA¬it;"
    );
    assert_eq!(Transform::Decode.apply("%u003c%uff1c"), "<<");
    assert_eq!(Transform::RemoveComments.apply("UN/**/ION -- x"), "UN ION  ");
    assert_eq!(Transform::ReplaceComments.apply("SEL/**/ECT"), "SELECT");
    assert_eq!(Transform::CmdLine.apply("C^a\"t  ; /ETC"), "cat;/etc");
    assert_eq!(Transform::NormalizePath.apply("a\\\\b/./c//d"), "a/b/c/d");
}

fn rule(id: &str, pattern: &str, targets: &[Target], anchors: &[&str]) -> RuleSpec {
    RuleSpec {
        id: id.to_owned(),
        pattern: pattern.to_owned(),
        kind: Kind::Regex,
        targets: targets.to_vec(),
        transforms: vec![Transform::Decode],
        score: 5,
        probe: false,
        anchors: anchors.iter().map(|a| (*a).to_owned()).collect(),
    }
}

#[test]
fn an_engine_scores_the_rules_that_fire() {
    let rules = vec![
        rule("traversal", r"\.\./", &[Target::Path, Target::Args], &[".."]),
        rule("env", r"(?:^|/)\.env$", &[Target::Path], &[]),
    ];
    let settings = Settings {
        threshold: 5,
        headers: vec![],
        profiles: vec![],
        body_limit: Some(65536),
    };
    let engine = match Engine::new(rules, settings) {
        Ok(engine) => engine,
        Err(error) => unreachable!("{error}"),
    };
    let clean = Subject {
        method: "GET",
        path: "/shop",
        raw_path: "/shop",
        query: "q=boots",
        ..Subject::default()
    };
    assert_eq!(engine.inspect(&clean, false).score, 0);
    let attack = Subject {
        method: "GET",
        path: "/x",
        raw_path: "/x",
        query: "f=..%2F..%2Fetc",
        ..Subject::default()
    };
    let verdict = engine.inspect(&attack, false);
    assert_eq!((verdict.score, verdict.hits.len()), (5, 1));
    assert_eq!(
        verdict.hits.first().map(|hit| hit.value.as_str()),
        Some("f=../../etc")
    );
}

#[test]
fn a_bad_pattern_names_its_rule() {
    let rules = vec![rule("broken", r"(?:a", &[Target::Path], &[])];
    let settings = Settings {
        threshold: 5,
        headers: vec![],
        profiles: vec![],
        body_limit: None,
    };
    match Engine::new(rules, settings) {
        Ok(_) => unreachable!("compiled"),
        Err(error) => assert_eq!(error.rule, "broken"),
    }
}

#[test]
fn the_canonical_request_is_inspected_as_its_text() {
    use crate::addr::{Addr, parse_text};
    use crate::canonical::{Canonicalizer, HttpVersion, PathPolicy, RawRequest};
    use crate::client_ip::{ForwardingHeader, TrustedProxies};
    use crate::ipset::IpSetBuilder;

    let rules = vec![rule(
        "traversal",
        r"\.\./",
        &[Target::Path, Target::Args, Target::Cookies],
        &[".."],
    )];
    let settings = Settings {
        threshold: 5,
        headers: vec![],
        profiles: vec![],
        body_limit: Some(8),
    };
    let Ok(engine) = Engine::new(rules, settings) else {
        unreachable!("compiles")
    };
    let mut trusted = IpSetBuilder::new();
    trusted.add_address(Addr::V4(0x7F00_0001));
    let canonicalizer = Canonicalizer::new(
        PathPolicy::default(),
        TrustedProxies::new(trusted.build(), ForwardingHeader::XForwardedFor),
    );
    let headers: [(&[u8], &[u8]); 2] = [(b"host", b"www.example.com"), (b"cookie", b"f=..%2fetc")];
    let raw = RawRequest {
        method: b"POST",
        path: b"/shop",
        query: b"q=boots",
        headers: &headers,
        peer: parse_text(b"203.0.113.7"),
        secure: false,
        version: HttpVersion::Http11,
        body: Some(b"a=1&b=2&c=3&d=4"),
    };
    let Ok(request) = canonicalizer.canonicalize(&raw) else {
        unreachable!("canonical")
    };
    let verdict = engine.inspect_request(&request, "/shop", false);
    assert_eq!((verdict.score, verdict.uninspected), (5, 7));
    assert_eq!(
        verdict.hits.first().map(|hit| (hit.target, hit.value.as_str())),
        Some((Target::Cookies, "f=../etc"))
    );
}

/// A clean form of about 64 KB: `field{n}=value+number+{n}+with+some+text` fields.
fn long_form() -> Vec<u8> {
    let fields: Vec<String> = (0..2000)
        .map(|n| format!("field{n}=value+number+{n}+with+some+text"))
        .collect();
    let mut form = fields.join("&").into_bytes();
    form.truncate(64 * 1024);
    form
}

/// `payload` written over `form` at `at`.
fn planted(form: &[u8], at: usize, payload: &[u8]) -> Vec<u8> {
    let mut out = form.to_vec();
    if let Some(slot) = out.get_mut(at..at + payload.len()) {
        slot.copy_from_slice(payload);
    }
    out
}

/// Offsets around the places a sweep cuts a 64 KB text (equal windows of four regions, each
/// read 1 KB past its end, cut at the next `&` of the form; a quarter of the text too), the
/// overlap past each, and elsewhere.
fn offsets(form: &[u8]) -> Vec<usize> {
    let size = form.len();
    let mut out: Vec<usize> = (0..size.saturating_sub(40)).step_by(1531).collect();
    for part in 1..4 {
        let even = (size - 1024) / 4 * part;
        let after = form
            .get(even..)
            .and_then(|rest| rest.iter().position(|&b| b == b'&'))
            .map_or(even, |at| even + at);
        for cut in [size / 4 * part, even, after] {
            for delta in [0, 1, 2, 10, 30, 40, 1000, 1023, 1024, 1030] {
                out.push(cut.saturating_sub(delta));
                out.push(cut + delta);
            }
        }
    }
    out.push(size.saturating_sub(40));
    out.retain(|&at| at + 40 <= size);
    out
}

/// Every match of `gate` in `data`, found from each match on, is the same swept as scanned
/// whole; whether `data` was swept at all.
fn sweep_agrees(gate: &super::gate::Gate, data: &[u8], separator: Option<u8>, what: &str) -> bool {
    let sweep = gate.sweep(data, separator);
    let mut position = 0;
    while position < data.len() {
        let whole = gate.find(data, position);
        let swept = gate.find_swept(data, position, sweep.as_ref());
        assert_eq!(whole, swept, "{what}, from {position}");
        position = whole.map_or(data.len(), |found| found + 1);
    }
    sweep.is_some()
}

#[test]
fn a_swept_gate_finds_what_the_whole_scan_finds() {
    use super::gate::{Anchors, Reading, compile_gate};
    let anchors = Anchors::of([
        "<", "'", "(", "..", "://", "/*", "union", "select", "etc/", "sess_", "=", "cmd",
    ]);
    let (Ok(query), Ok(json)) = (
        compile_gate(&anchors, Reading::QUERY),
        compile_gate(&anchors, Reading::JSON),
    ) else {
        unreachable!("gates compile")
    };
    let form = long_form();
    assert!(query.sweep(&form, Some(b'&')).is_some(), "a long form is swept");
    assert_eq!(
        query.find_swept(&form, 0, query.sweep(&form, Some(b'&')).as_ref()),
        None
    );
    let payloads: [&[u8]; 10] = [
        b"%27+or+1",
        b"+union+",
        b"a=b=c",
        b"&#x3c;",
        b"%3Cscript",
        b"..%2f",
        b"ETC/passwd",
        b"%u003c",
        b"sess_",
        b"=cmd&",
    ];
    for (gate, separator) in [(&query, Some(b'&')), (&json, None)] {
        for payload in payloads {
            for at in offsets(&form) {
                let data = planted(&form, at, payload);
                let swept = sweep_agrees(gate, &data, separator, &format!("{payload:?} at {at}"));
                assert!(swept, "swept");
            }
        }
    }
}

#[test]
fn a_long_form_is_read_where_a_payload_decodes_to_an_attack() {
    // Each payload fires only once decoded (percent escapes, entities, comments); planted in a
    // 64 KB form near the places the gate's sweep cuts it, its field is still read.
    let mut union = rule("union", r"union\s+select", &[Target::Args], &["union", "/*"]);
    union.transforms = vec![Transform::Decode, Transform::ReplaceComments];
    let rules = vec![
        rule("markup", r"<script", &[Target::Args], &["<"]),
        rule("traversal", r"\.\./", &[Target::Args], &[".."]),
        union,
    ];
    let settings = Settings {
        threshold: 5,
        headers: vec![],
        profiles: vec![],
        body_limit: None,
    };
    let Ok(engine) = Engine::new(rules, settings) else {
        unreachable!("compiles")
    };
    let form = long_form();
    for payload in [
        &b"&x=%253Cscript%253E&"[..],
        b"&x=%26lt%3Bscript%26gt%3B&",
        b"&x=%2e%2e%2fetc&",
        b"&x=1+UN/**/ION+%53ELECT+2&",
    ] {
        for at in offsets(&form) {
            let body = planted(&form, at, payload);
            let subject = Subject {
                method: "POST",
                path: "/form",
                raw_path: "/form",
                content_type: "application/x-www-form-urlencoded",
                body: &body,
                ..Subject::default()
            };
            let verdict = engine.inspect(&subject, false);
            let fired: Vec<&str> = verdict
                .hits
                .iter()
                .filter_map(|hit| engine.rules().get(hit.rule).map(|rule| rule.id.as_str()))
                .collect();
            assert_eq!((verdict.score, fired.len()), (5, 1), "{payload:?} at {at}");
        }
    }
}

/// Words of `length` letters drawn from `letters` by a fixed linear congruential sequence.
fn drawn_words(count: usize, length: usize, letters: &[u8], seed: u64) -> Vec<String> {
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(state >> 33).unwrap_or_default()
    };
    (0..count)
        .map(|_| {
            (0..length)
                .map(|_| char::from(letters.get(next() % letters.len()).copied().unwrap_or(b'a')))
                .collect()
        })
        .collect()
}

#[test]
fn a_sweep_meeting_more_states_than_its_table_holds_finds_what_the_whole_scan_finds() {
    use super::gate::{Anchors, Reading, compile_gate};
    // Thousands of words over a few letters: a text of such words walks through more states
    // of the gate's DFA than the sweep's table holds at once, so the table is emptied and
    // refilled during a sweep.
    let letters = b"abcdefgh";
    let words = drawn_words(4000, 7, letters, 7);
    let anchors = Anchors::of(words.iter().map(String::as_str).chain(["<", ".."]));
    let Ok(gate) = compile_gate(&anchors, Reading::QUERY) else {
        unreachable!("the gate compiles")
    };
    let text: Vec<String> = drawn_words(12_000, 6, letters, 11);
    let fields: Vec<String> = text
        .chunks(4)
        .map(|chunk| format!("f={}", chunk.join("+")))
        .collect();
    let mut form = fields.join("&").into_bytes();
    form.truncate(64 * 1024);
    for payload in [&b"+abcdefg+"[..], b"%3c", b"..", b"+hgfedcb+"] {
        for at in offsets(&form).into_iter().step_by(5) {
            let data = planted(&form, at, payload);
            sweep_agrees(&gate, &data, Some(b'&'), &format!("{payload:?} at {at}"));
        }
    }
}

#[test]
fn a_path_names_well_known_as_its_lower_case_does() {
    use super::parts::path_forms;
    // An ASCII path is searched in place, any other lower-cased first (the Kelvin sign
    // lower-cases to `k`): the forms are those the lower-cased search gave (a segment is
    // then cut only where its letters are ASCII).
    for (path, stripped) in [
        ("/.well-known/security.txt", "/security.txt"),
        ("/.WELL-KNOWN/security.txt", "/security.txt"),
        ("/.well-\u{212a}nown/x", "/.well-\u{212a}nown/x"),
        ("/.well-know", "/.well-know"),
        ("/", "/"),
        ("/caf\u{e9}", "/caf\u{e9}"),
    ] {
        let forms = path_forms(path, path);
        assert_eq!(forms.first().map(AsRef::as_ref), Some(stripped), "{path}");
    }
}
