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
