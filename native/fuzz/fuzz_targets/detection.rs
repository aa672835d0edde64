//! The detection tokenisers and transformations on any text: no panic, no runaway; the
//! tokenisers answer the same for the same text; `decode` leaves no NUL; a small engine
//! reads any request (query, cookies, a body of every kind) without a panic and scores
//! exactly the rules it names.
//!
//! The input: a selector byte (the body's content type), then the text (lossy UTF-8), also
//! used as the query, a cookie header, a User-Agent and the body.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use stockade_core::detection::{Engine, Kind, RuleSpec, Settings, Subject, Target, Tokenisers, Transform};

fn tokenisers() -> Option<&'static Tokenisers> {
    static CELL: OnceLock<Option<Tokenisers>> = OnceLock::new();
    CELL.get_or_init(|| Tokenisers::new().ok()).as_ref()
}

fn engine() -> Option<&'static Engine> {
    static CELL: OnceLock<Option<Engine>> = OnceLock::new();
    CELL.get_or_init(|| {
        let rule = |id: &str, pattern: &str, kind: Kind, anchors: &[&str]| RuleSpec {
            id: id.to_owned(),
            pattern: pattern.to_owned(),
            kind,
            targets: vec![Target::Path, Target::Args, Target::Cookies, Target::UserAgent, Target::AnyHeader],
            transforms: vec![Transform::Decode, Transform::Lowercase],
            score: 3,
            probe: false,
            anchors: anchors.iter().map(|a| (*a).to_owned()).collect(),
        };
        let rules = vec![
            rule("sqli", r"['\x22();=]|\b(?:union|select|or|and)\b", Kind::Sqli, &["'", "(", "=", "union", "select"]),
            rule("xss", r"<|on\w+\s*=|javascript:", Kind::Xss, &["<", "javascript"]),
            rule("script", r#"['"`(]"#, Kind::Script, &["'", "\"", "`", "("]),
            rule("shell", r"[;|&`$(\n]", Kind::Shell, &[";", "|", "&", "`", "$"]),
            rule("traversal", r"\.\./", Kind::Regex, &[".."]),
        ];
        let settings = Settings { threshold: 5, headers: vec!["user-agent".to_owned()], profiles: Vec::new(), body_limit: Some(4096) };
        Engine::new(rules, settings).ok()
    })
    .as_ref()
}

const CONTENT_TYPES: [&str; 6] = [
    "",
    "application/x-www-form-urlencoded",
    "application/json",
    "multipart/form-data; boundary=b",
    "text/xml",
    "text/plain",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    if let Some(t) = tokenisers() {
        let first = (
            t.sql.is_sqli(&text),
            t.xss.is_xss(&text),
            t.xss.script_context(&text),
            t.shell.is_shell(&text),
            t.shell.is_shell_strict(&text),
        );
        let again = (
            t.sql.is_sqli(&text),
            t.xss.is_xss(&text),
            t.xss.script_context(&text),
            t.shell.is_shell(&text),
            t.shell.is_shell_strict(&text),
        );
        assert_eq!(first, again);
    }
    for (_, transform) in Transform::ALL {
        let out = transform.apply(&text);
        if transform == Transform::Decode {
            assert!(!out.contains('\0'));
        }
    }
    if let Some(engine) = engine() {
        let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
        let subject = Subject {
            method: "POST",
            path: &text,
            raw_path: &text,
            query: &text,
            headers: vec![("Cookie", &text), ("User-Agent", &text), ("X-Other", &text)],
            content_type,
            body: rest,
            uninspected: 0,
        };
        for gated in [true, false] {
            let verdict = engine.inspect_with(&subject, false, gated);
            let score: i64 = verdict.hits.iter().map(|hit| engine.rules()[hit.rule].score).sum();
            assert_eq!(score, verdict.score);
        }
    }
});
