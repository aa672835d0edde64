//! The address parsers on any bytes: no panic, agreement with the standard library's
//! parsers (which take the same texts as glibc's `inet_pton`), and spellings that parse back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stockade_core::addr::{Addr, format_v6, go_ip, parse_text, parse_v4, parse_v6};

fuzz_target!(|data: &[u8]| {
    let v4 = parse_v4(data);
    let v6 = parse_v6(data);
    let _ = parse_text(data);
    if let Ok(text) = std::str::from_utf8(data) {
        assert_eq!(v4, text.parse::<std::net::Ipv4Addr>().ok().map(u32::from), "{text:?}");
        assert_eq!(v6, text.parse::<std::net::Ipv6Addr>().ok().map(u128::from), "{text:?}");
    }
    if let Some(value) = v6 {
        assert_eq!(parse_v6(format_v6(value).as_bytes()), Some(value));
        assert_eq!(parse_text(go_ip(value).as_bytes()), Some(Addr::from_u128(value)));
    }
});
