//! Client-IP resolution: forwarding headers believed only from trusted proxies.

use proptest::prelude::*;

use super::*;
use crate::addr::{MAPPED_START, go_ip, parse_text};
use crate::ipset::IpSetBuilder;

const PROXY: &str = "10.0.0.1";
const CLIENT: &str = "203.0.113.5";
const SPOOF: &str = "198.51.100.66";

fn trusted_networks() -> IpSet {
    let mut builder = IpSetBuilder::new();
    builder
        .add(MAPPED_START | 0x0A00_0000, MAPPED_START | 0x0AFF_FFFF)
        .unwrap(); // 10.0.0.0/8
    builder.add(1, 1).unwrap(); // ::1
    let base = 0x2001_0db8_ffffu128 << 80; // 2001:db8:ffff::/48
    builder.add(base, base | ((1u128 << 80) - 1)).unwrap();
    let link = 0xfe80u128 << 112; // fe80::/10
    builder.add(link, link | ((1u128 << 118) - 1)).unwrap();
    builder.build()
}

fn proxies(header: ForwardingHeader) -> TrustedProxies {
    TrustedProxies::new(trusted_networks(), header)
}

fn addr(text: &str) -> Option<Addr> {
    parse_text(text.as_bytes())
}

/// The client's spelling as the Python side gives it; the peer's when the header is not believed.
fn resolve(header: ForwardingHeader, peer: &str, lines: &[(&str, &str)]) -> ClientIp {
    let lines: Vec<(&[u8], &[u8])> = lines.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())).collect();
    proxies(header).resolve(addr(peer), &lines)
}

fn client_of(peer: &str, lines: &[(&str, &str)]) -> String {
    let first = lines.first().map_or("", |(name, _)| *name);
    let header = ForwardingHeader::of(first.as_bytes()).unwrap_or_default();
    let found = resolve(header, peer, lines);
    found.address.map(|a| go_ip(a.to_u128())).unwrap_or_default()
}

#[test]
fn the_peer_is_the_client_without_headers() {
    let found = resolve(ForwardingHeader::XForwardedFor, CLIENT, &[]);
    assert_eq!(
        found,
        ClientIp {
            address: addr(CLIENT),
            peer: addr(CLIENT),
            trusted: false,
            header: None,
            forwarded: false
        }
    );
    assert!(resolve(ForwardingHeader::XForwardedFor, PROXY, &[]).trusted);
    assert_eq!(client_of("::ffff:203.0.113.5", &[]), CLIENT);
    assert_eq!(client_of("fe80::1%eth0", &[("x-forwarded-for", CLIENT)]), CLIENT);
}

#[test]
fn headers_from_an_untrusted_peer_are_ignored_but_noticed() {
    for name in ["x-forwarded-for", "forwarded", "X-Real-IP"] {
        let found = resolve(ForwardingHeader::XForwardedFor, CLIENT, &[(name, SPOOF)]);
        assert_eq!(
            (found.address, found.header, found.forwarded),
            (addr(CLIENT), None, true)
        );
    }
    let other = resolve(
        ForwardingHeader::XForwardedFor,
        CLIENT,
        &[("x-forwarded-host", "a"), ("host", "b")],
    );
    assert!(!other.forwarded);
}

#[test]
fn x_forwarded_for_is_walked_from_the_right() {
    let spoofed = format!("{SPOOF}, {CLIENT}");
    assert_eq!(client_of(PROXY, &[("x-forwarded-for", &spoofed)]), CLIENT);
    let hops = format!("{SPOOF}, {CLIENT}, 10.1.1.1, 10.2.2.2");
    assert_eq!(client_of(PROXY, &[("X-Forwarded-For", &hops)]), CLIENT);
    assert_eq!(
        client_of(PROXY, &[("x-forwarded-for", "10.9.9.9, 10.1.1.1")]),
        "10.9.9.9"
    );
    assert_eq!(
        client_of(PROXY, &[("x-forwarded-for", SPOOF), ("x-forwarded-for", CLIENT)]),
        CLIENT
    );
    let empty = format!(" {CLIENT},, ,\t10.1.1.1,");
    assert_eq!(client_of(PROXY, &[("x-forwarded-for", &empty)]), CLIENT);
}

#[test]
fn garbage_stops_the_walk_at_the_last_good_hop() {
    let garbage = format!("{SPOOF}, garbage, 10.1.1.1");
    assert_eq!(client_of(PROXY, &[("x-forwarded-for", &garbage)]), "10.1.1.1");
    let unknown = format!("{SPOOF}, unknown");
    assert_eq!(client_of(PROXY, &[("x-forwarded-for", &unknown)]), PROXY);
    let short = format!("{SPOOF}, 1.2.3");
    assert_eq!(
        resolve(
            ForwardingHeader::XForwardedFor,
            PROXY,
            &[("x-forwarded-for", &short)]
        )
        .header,
        None
    );
    let spaced = format!("{SPOOF} {CLIENT}");
    assert_eq!(client_of(PROXY, &[("x-forwarded-for", &spaced)]), PROXY);
}

#[test]
fn nodes_with_ports_and_brackets() {
    let cases = [
        ("203.0.113.5:4711", CLIENT),
        ("[2001:DB8::7]:443", "2001:db8::7"),
        ("[2001:db8::7]", "2001:db8::7"),
        ("2001:db8::7", "2001:db8::7"),
        ("203.0.113.5:http", PROXY),
        ("[1.2.3.4]", PROXY),
        ("[2001:db8::7", PROXY),
        ("[2001:db8::7]x", PROXY),
        ("::ffff:203.0.113.5", CLIENT),
        ("[fe80::9%eth0]:80", "fe80::9"), // trusted, but the only hop: the leftmost
    ];
    for (value, client) in cases {
        assert_eq!(client_of(PROXY, &[("x-forwarded-for", value)]), client, "{value}");
    }
}

#[test]
fn forwarded_elements() {
    let value = format!("for={SPOOF}, for={CLIENT};proto=https;by=10.0.0.1, for=10.1.1.1");
    let found = resolve(ForwardingHeader::Forwarded, PROXY, &[("forwarded", &value)]);
    assert_eq!(
        (found.address, found.header),
        (addr(CLIENT), Some(ForwardingHeader::Forwarded))
    );
    assert_eq!(
        client_of(PROXY, &[("forwarded", r#"for="[2001:DB8:CAFE::17]:4711""#)]),
        "2001:db8:cafe::17"
    );
    assert_eq!(
        client_of(PROXY, &[("forwarded", r#"for="[2001:db8::17]:_port""#)]),
        "2001:db8::17"
    );
    let hidden = format!("for={SPOOF}, for=_hidden, for=10.1.1.1");
    assert_eq!(client_of(PROXY, &[("forwarded", &hidden)]), "10.1.1.1");
    let no_for = format!("for={SPOOF}, proto=https");
    assert_eq!(client_of(PROXY, &[("forwarded", &no_for)]), PROXY);
    // The client writes the left part, the trusted proxy appends its entry on the same line.
    let open = format!(r#"for="{SPOOF}, for={CLIENT}"#);
    assert_eq!(client_of(PROXY, &[("forwarded", &open)]), CLIENT);
}

#[test]
fn x_real_ip_is_one_address() {
    let found = resolve(ForwardingHeader::XRealIp, PROXY, &[("x-real-ip", CLIENT)]);
    assert_eq!(
        (found.address, found.header),
        (addr(CLIENT), Some(ForwardingHeader::XRealIp))
    );
    assert_eq!(client_of(PROXY, &[("x-real-ip", "10.5.5.5")]), "10.5.5.5");
    assert_eq!(client_of(PROXY, &[("x-real-ip", " ::ffff:203.0.113.5 ")]), CLIENT);
    assert_eq!(
        client_of(PROXY, &[("x-real-ip", SPOOF), ("x-real-ip", CLIENT)]),
        CLIENT
    );
    let two = format!("{SPOOF}, {CLIENT}");
    assert_eq!(client_of(PROXY, &[("x-real-ip", &two)]), PROXY);
}

#[test]
fn only_the_configured_header_decides() {
    let both = [
        ("x-real-ip", SPOOF),
        ("forwarded", "for=203.0.113.5"),
        ("x-forwarded-for", "192.0.2.1"),
    ];
    let spell = |header| {
        let found = resolve(header, PROXY, &both);
        go_ip(found.address.unwrap().to_u128())
    };
    assert_eq!(spell(ForwardingHeader::XForwardedFor), "192.0.2.1");
    assert_eq!(spell(ForwardingHeader::Forwarded), CLIENT);
    assert_eq!(spell(ForwardingHeader::XRealIp), SPOOF);
    let absent = resolve(ForwardingHeader::XForwardedFor, PROXY, &[("x-real-ip", SPOOF)]);
    assert_eq!(
        (absent.address, absent.header, absent.forwarded),
        (addr(PROXY), None, true)
    );
    let empty = resolve(
        ForwardingHeader::XForwardedFor,
        PROXY,
        &[("x-forwarded-for", " , ")],
    );
    assert_eq!((empty.address, empty.header), (addr(PROXY), None));
}

#[test]
fn a_peer_that_is_not_an_address_is_never_trusted() {
    let lines: [(&[u8], &[u8]); 1] = [(b"x-forwarded-for", b"198.51.100.66")];
    let found = proxies(ForwardingHeader::XForwardedFor).resolve(None, &lines);
    assert_eq!(
        found,
        ClientIp {
            address: None,
            peer: None,
            trusted: false,
            header: None,
            forwarded: true
        }
    );
}

#[test]
fn addresses_read_as_latin1_text() {
    assert_eq!(address(b" 1.2.3.4\t"), addr("1.2.3.4"));
    assert_eq!(address(b"fe80::1%\xe9"), addr("fe80::1"));
    assert_eq!(address(b"fe80::1%\xad"), None);
    assert_eq!(address(b"fe80::1%a b"), None);
    assert_eq!(address(b"1.2.3.4%a:b"), None);
    assert_eq!(address(b"1.2.3.4%a"), None);
    assert_eq!(address(b"::ffff:1.2.3.4"), Some(Addr::V4(0x0102_0304)));
}

proptest! {
    /// Whatever a client writes, the hop the trusted proxy appends is the client.
    #[test]
    fn a_client_cannot_hide_behind_what_it_writes(
        prefix in prop::collection::vec(any::<u8>(), 0..80),
        real in prop::sample::select(vec![CLIENT, "2001:db8::7", "192.0.2.33"]),
        same_line in any::<bool>(),
    ) {
        let node = if real.contains(':') { format!("\"[{real}]\"") } else { real.to_owned() };
        for (header, appended) in [
            (ForwardingHeader::XForwardedFor, real.to_owned()),
            (ForwardingHeader::Forwarded, format!("for={node}")),
        ] {
            let name = header.name().as_bytes();
            let mut joined = prefix.clone();
            joined.extend_from_slice(b", ");
            joined.extend_from_slice(appended.as_bytes());
            let lines: Vec<(&[u8], &[u8])> = if same_line {
                vec![(name, &joined)]
            } else {
                vec![(name, &prefix), (name, appended.as_bytes())]
            };
            let found = proxies(header).resolve(addr(PROXY), &lines);
            prop_assert_eq!(found.address, addr(real));
        }
    }

    #[test]
    fn the_client_is_from_the_headers_or_the_peer(
        lines in prop::collection::vec(
            (prop::sample::select(vec!["x-forwarded-for", "forwarded", "x-real-ip", "Forwarded", "host"]),
             prop::collection::vec(any::<u8>(), 0..40)),
            0..5,
        ),
        peer in prop::sample::select(vec![PROXY, CLIENT, "::1", "::ffff:10.0.0.1"]),
    ) {
        let lines: Vec<(&[u8], &[u8])> = lines.iter().map(|(n, v)| (n.as_bytes(), v.as_slice())).collect();
        let found = proxies(ForwardingHeader::XForwardedFor).resolve(addr(peer), &lines);
        prop_assert_eq!(found.peer, addr(peer));
        if !found.trusted || found.header.is_none() {
            prop_assert_eq!(found.address, found.peer);
        }
    }
}
