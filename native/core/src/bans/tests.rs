use super::*;

fn v4(text: &str) -> Addr {
    Addr::V4(parse_v4(text.as_bytes()).unwrap_or_default())
}

fn v6(text: &str) -> Addr {
    Addr::from_u128(parse_v6(text.as_bytes()).unwrap_or_default())
}

#[test]
fn keys_parse_as_the_stores_write_them() {
    assert_eq!(BanKey::parse("198.51.100.7"), BanKey::V4(0xC633_6407));
    assert!(matches!(BanKey::parse("2001:db8::/64"), BanKey::V6(_, 64)));
    assert!(matches!(BanKey::parse("2001:db8::1"), BanKey::V6(_, 128)));
    // Host bits set, /128, IPv4 with a length, counts: text, never matched.
    for text in [
        "2001:db8::1/64",
        "2001:db8::1/128",
        "10.0.0.0/8",
        "dry|198.51.100.7",
        "x",
    ] {
        assert!(matches!(BanKey::parse(text), BanKey::Text(_)), "{text}");
    }
    assert_eq!(
        Network::parse("198.51.100.7/24").map(|n| n.value),
        Some(0xC633_6400)
    );
    assert_eq!(Network::parse("10.0.0.0/33"), None);
    assert_eq!(Network::parse("10.0.0.0/"), None);
    assert_eq!(Network::parse("::/0").map(|n| (n.v6, n.prefix)), Some((true, 0)));
}

#[test]
fn a_ban_holds_until_its_end_and_not_after() {
    let view = BanView::new(10, true);
    view.set("198.51.100.7", Some(100.0), Some(false));
    let snap = view.load();
    assert_eq!(snap.peek(v4("198.51.100.7"), 64, 99.5), Peek::Banned(100.0));
    assert_eq!(snap.peek(v4("198.51.100.7"), 64, 100.0), Peek::NotBanned);
    assert_eq!(snap.peek(v4("198.51.100.8"), 64, 0.0), Peek::NotBanned);
    // IPv4-mapped IPv6 is the IPv4 client.
    assert_eq!(snap.peek(v6("::ffff:198.51.100.7"), 64, 0.0), Peek::Banned(100.0));
    view.set("198.51.100.7", None, None);
    assert_eq!(view.load().peek(v4("198.51.100.7"), 64, 0.0), Peek::NotBanned);
}

#[test]
fn ipv6_prefixes_and_networks_cover_their_addresses() {
    let view = BanView::new(10, true);
    view.set("2001:db8::/64", Some(f64::INFINITY), Some(false));
    view.set("203.0.113.0/24", Some(50.0), Some(true));
    view.set("203.0.0.0/16", Some(70.0), Some(true));
    let snap = view.load();
    assert_eq!(
        snap.peek(v6("2001:db8::1:2"), 64, 0.0),
        Peek::Banned(f64::INFINITY)
    );
    assert_eq!(snap.peek(v6("2001:db8::1:2"), 128, 0.0), Peek::NotBanned);
    assert_eq!(snap.peek(v4("203.0.113.9"), 64, 0.0), Peek::Banned(70.0));
    assert_eq!(snap.peek(v4("203.0.113.9"), 64, 60.0), Peek::Banned(70.0));
    assert_eq!(snap.peek(v6("::ffff:203.0.113.9"), 64, 0.0), Peek::Banned(70.0));
    // A network of unknown kind, unbanned by its text.
    view.set("203.0.0.0/16", None, None);
    assert_eq!(view.load().peek(v4("203.0.113.9"), 64, 60.0), Peek::NotBanned);
    assert_eq!(view.load().len(), 2);
}

#[test]
fn past_capacity_or_untrusted_the_store_decides() {
    let view = BanView::new(2, true);
    view.set("192.0.2.1", Some(10.0), Some(false));
    view.set("192.0.2.2", Some(10.0), Some(false));
    assert_eq!(view.load().peek(v4("192.0.2.3"), 64, 0.0), Peek::NotBanned);
    view.set("192.0.2.3", Some(10.0), Some(false));
    assert_eq!(view.load().peek(v4("192.0.2.9"), 64, 0.0), Peek::Ask);
    view.replace_all([("192.0.2.1", 10.0, false)]);
    assert_eq!(view.load().peek(v4("192.0.2.1"), 64, 0.0), Peek::Banned(10.0));
    view.forget(false);
    assert_eq!(view.load().peek(v4("192.0.2.1"), 64, 0.0), Peek::Ask);
}

#[test]
fn the_delta_folds_without_losing_a_ban() {
    let view = BanView::new(1_000_000, true);
    let keys: Vec<String> = (0..5_000u32)
        .map(|i| format!("10.{}.{}.1", i >> 8, i & 255))
        .collect();
    for (i, key) in keys.iter().enumerate() {
        view.set(
            key,
            Some(1.0 + f64::from(u32::try_from(i).unwrap_or(0))),
            Some(false),
        );
    }
    for key in keys.iter().step_by(2) {
        view.set(key, None, Some(false));
    }
    let snap = view.load();
    assert_eq!(snap.len(), 2_500);
    for (i, key) in keys.iter().enumerate() {
        let peek = snap.peek(v4(key), 64, 0.0);
        assert_eq!(peek == Peek::NotBanned, i % 2 == 0, "{key}");
    }
}
