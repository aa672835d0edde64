use super::*;
use crate::addr::parse_v4;
use crate::bans::BanView;
use crate::canonical::{Canonicalizer, HttpVersion, RawRequest};
use crate::ipset::IpSetBuilder;

const HEADERS: &[(&[u8], &[u8])] = &[(b"host", b"shop.example")];

fn decide(ladder: &Ladder, view: &BanView, path: &str, client: &str, block: Option<Block>) -> Outcome {
    let raw = RawRequest {
        method: b"GET",
        path: path.as_bytes(),
        query: b"",
        headers: HEADERS,
        peer: parse_v4(client.as_bytes()).map(Addr::V4),
        secure: false,
        version: HttpVersion::Http11,
        body: None,
    };
    let Ok(request) = Canonicalizer::default().canonicalize(&raw) else {
        return Outcome::Python(Why::Lockout);
    };
    ladder.decide(&request, &view.load(), 10.0, |_| block)
}

fn ladder() -> Ladder {
    Ladder {
        bans: true,
        ipv6_prefix: 64,
        ..Ladder::default()
    }
}

#[derive(Debug)]
struct Fixed(DetectOutcome);

impl Detect for Fixed {
    fn inspect(&self, _request: &Request<'_>) -> DetectOutcome {
        self.0
    }
}

const CLEAN: Outcome = Outcome::Pass {
    block_rule: None,
    allowed: false,
};

#[test]
fn bans_come_before_mod_block_and_exemptions_before_bans() {
    let view = BanView::new(100, true);
    view.set("192.0.2.1", Some(12.5), Some(false));
    let mut ladder = ladder();
    let banned = Outcome::Banned {
        until: 12.5,
        retry_after: Some(3),
    };
    assert_eq!(
        decide(&ladder, &view, "/", "192.0.2.1", Some(Block::Close(0))),
        banned
    );
    assert_eq!(
        decide(&ladder, &view, "/", "192.0.2.2", Some(Block::Close(4))),
        Outcome::Close { rule: 4 }
    );
    assert_eq!(decide(&ladder, &view, "/", "192.0.2.2", None), CLEAN);
    ladder.ignore_paths = vec!["/health".into()];
    assert_eq!(decide(&ladder, &view, "/health/x", "192.0.2.1", None), CLEAN);
    assert_eq!(decide(&ladder, &view, "/healthz", "192.0.2.1", None), banned);
    let mut allow = IpSetBuilder::new();
    allow.add_address(Addr::V4(0xC000_0201));
    ladder.allow = allow.build();
    assert_eq!(decide(&ladder, &view, "/", "192.0.2.1", None), CLEAN);
    ladder.allow = IpSet::default();
    ladder.ban_events = true;
    assert_eq!(
        decide(&ladder, &view, "/", "192.0.2.1", None),
        Outcome::Python(Why::BanEvent)
    );
    ladder.bans = false;
    assert_eq!(decide(&ladder, &view, "/", "192.0.2.1", None), CLEAN);
}

#[test]
fn what_the_native_side_cannot_finish_goes_to_python() {
    let view = BanView::new(100, false);
    let mut ladder = ladder();
    assert_eq!(
        decide(&ladder, &view, "/", "192.0.2.2", None),
        Outcome::Python(Why::BanUnknown)
    );
    view.forget(true);
    ladder.ignore_patterns = true;
    assert_eq!(
        decide(&ladder, &view, "/", "192.0.2.2", None),
        Outcome::Python(Why::IgnorePattern)
    );
    ladder.ignore_patterns = false;
    ladder.detection = Detection::Python;
    assert_eq!(
        decide(&ladder, &view, "/", "192.0.2.2", None),
        Outcome::Python(Why::Detection)
    );
    // mod_block's CLOSE comes before detection, as in the Python ladder.
    assert_eq!(
        decide(&ladder, &view, "/", "192.0.2.2", Some(Block::Close(1))),
        Outcome::Close { rule: 1 }
    );
    ladder.detection = Detection::Native(Arc::new(Fixed(DetectOutcome::Hit)));
    assert_eq!(
        decide(&ladder, &view, "/", "192.0.2.2", None),
        Outcome::Python(Why::Detection)
    );
    ladder.detection = Detection::Native(Arc::new(Fixed(DetectOutcome::Clean)));
    assert_eq!(
        decide(&ladder, &view, "/", "192.0.2.2", Some(Block::Allow(2))),
        Outcome::Pass {
            block_rule: Some(2),
            allowed: true
        }
    );
    ladder.directories = vec!["/secure".into()];
    assert_eq!(
        decide(&ladder, &view, "/secure/x", "192.0.2.2", None),
        Outcome::Python(Why::Lockout)
    );
    assert_eq!(decide(&ladder, &view, "/securex", "192.0.2.2", None), CLEAN);
}

#[test]
fn retry_after_is_at_least_a_second() {
    assert_eq!(retry_after(10.2, 10.0), Some(1));
    assert_eq!(retry_after(12.5, 10.0), Some(3));
    assert_eq!(retry_after(f64::INFINITY, 10.0), None);
    assert!(under("/a/b", "/a") && under("/a", "/a") && under("/x", "/") && !under("/ab", "/a"));
}
