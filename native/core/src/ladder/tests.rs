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
    ladder.decide(&request, &view.load(), 10.0, |_| Ok(block))
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

mod block {
    use std::sync::Arc;

    use crate::addr::Addr;
    use std::sync::atomic::Ordering;

    use crate::block::{BlockTable, Command, Counters, Loaded, MAX_HITS, Outcome, RuleSet};
    use crate::canonical::{Canonicalizer, HttpVersion, RawRequest};
    use crate::conditions::{Item, Primitive, Program, Source, Test};
    use crate::ladder::{Aside, SiteBlock, Why};
    use crate::request::Connection;

    fn path_rule(prefix: &str) -> Program {
        Program::compile(&[Item::Call(Primitive::Match(
            Source::Path,
            Test::Prefix {
                fold: false,
                patterns: vec![prefix.as_bytes().to_vec()],
            },
        ))])
        .unwrap()
    }

    fn site() -> (SiteBlock, Arc<Counters>, Arc<BlockTable<()>>) {
        let body = Program::compile(&[Item::Call(Primitive::Match(
            Source::BodyJson(b"a".to_vec()),
            Test::In {
                fold: false,
                patterns: vec![b"x".to_vec()],
            },
        ))])
        .unwrap();
        let global = vec![(path_rule("/closed"), Command::Close), (body, Command::Close)];
        let rules = RuleSet::new(vec![(b"global".to_vec(), global)]).unwrap();
        let counters = Arc::new(Counters::default());
        let table = Arc::new(BlockTable::new(
            Arc::new(Loaded { rules, extra: () }),
            Arc::clone(&counters),
        ));
        let rules: Arc<dyn crate::block::RequestRules> = table.clone();
        (SiteBlock { rules, hosts: None }, counters, table)
    }

    fn check(block: &SiteBlock, path: &[u8], aside: &Aside) -> Result<Outcome, Why> {
        let headers: [(&[u8], &[u8]); 1] = [(b"host", b"example.com")];
        let raw = RawRequest {
            method: b"GET",
            path,
            query: b"",
            headers: &headers,
            peer: Some(Addr::V4(0x7F00_0001)),
            secure: false,
            version: HttpVersion::Http11,
            body: None,
        };
        let request = Canonicalizer::default().canonicalize(&raw).unwrap();
        block.check(&request, Connection::default(), 0.0, aside)
    }

    #[test]
    fn counts_aside_until_committed_and_hands_a_body_rule_to_python() {
        let (block, counters, table) = site();
        let aside = Aside::default();
        assert_eq!(check(&block, b"/closed/x", &aside), Ok(Outcome::Close(0)));
        assert_eq!(counters.snapshot(), [0; 8], "nothing counted before a commit");
        assert!(block.commit(aside, Some((0, true))));
        assert_eq!(counters.req_total.load(Ordering::Relaxed), 1);
        assert_eq!(counters.req_refuse.load(Ordering::Relaxed), 1);
        let hits = table.take_hits();
        assert_eq!((hits.len(), hits[0].rule, hits[0].closed), (1, 0, true));
        // A commit without a hit counts only.
        let aside = Aside::default();
        assert_eq!(check(&block, b"/open/x", &Aside::default()), Err(Why::Block));
        assert!(block.commit(aside, None));
        assert!(table.take_hits().is_empty());
    }

    #[test]
    fn a_full_hit_list_counts_nothing_and_keeps_the_request_for_python() {
        let (block, counters, table) = site();
        for _ in 0..MAX_HITS {
            let aside = Aside::default();
            check(&block, b"/closed/x", &aside).unwrap();
            assert!(block.commit(aside, Some((0, true))));
        }
        let before = counters.snapshot();
        let aside = Aside::default();
        check(&block, b"/closed/x", &aside).unwrap();
        assert!(!block.commit(aside, Some((0, true))));
        assert_eq!(counters.snapshot(), before);
        assert_eq!(table.take_hits().len(), MAX_HITS);
    }
}
