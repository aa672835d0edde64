//! The canonical request on any bytes: no panic, and what must hold of a canonical
//! request holds (an escaped target that is its own canonical form, and that an RFC 3986
//! reader decodes to exactly the path the checks read; a host that respells to itself;
//! a client named by a header only behind a trusted peer).
//!
//! The input: a flags byte (path policy, forwarding header, peer), then lines: the raw
//! path, the `Host` value, and `name:value` header lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stockade_core::addr::Addr;
use stockade_core::canonical::path::{path_of_target, quote_path, under_mount_point};
use stockade_core::canonical::{
    CanonicalHeaders, Canonicalizer, EscapedSlashes, HttpVersion, PathPolicy, RawRequest, canonical_decoded_path,
    canonical_host, canonical_path,
};
use stockade_core::client_ip::{ForwardingHeader, TrustedProxies};
use stockade_core::ipset::IpSetBuilder;

fn is_pchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&byte)
}

/// Escaped as a canonical target is: pchars, `/` and `%XX` with upper-case digits.
fn escaped(target: &[u8]) -> bool {
    let mut at = 0;
    while at < target.len() {
        if target[at] == b'%' {
            let ok = target
                .get(at + 1..at + 3)
                .is_some_and(|d| d.iter().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b)));
            if !ok {
                return false;
            }
            at += 3;
        } else if is_pchar(target[at]) {
            at += 1;
        } else {
            return false;
        }
    }
    true
}

/// RFC 3986 section 5.2.4 on a string buffer, then every escape decoded.
fn backend_reads(target: &[u8]) -> Option<String> {
    let mut input = std::str::from_utf8(target).ok()?.to_owned();
    let mut output = String::new();
    while !input.is_empty() {
        if input.starts_with("../") {
            input.drain(..3);
        } else if input.starts_with("./") || input.starts_with("/./") {
            input.drain(..2);
        } else if input == "/." {
            input = "/".into();
        } else if input.starts_with("/../") || input == "/.." {
            input = if input == "/.." { "/".into() } else { input[3..].to_owned() };
            output.truncate(output.rfind('/').unwrap_or(0));
        } else if input == "." || input == ".." {
            input.clear();
        } else {
            let start = usize::from(input.starts_with('/'));
            let end = input[start..].find('/').map_or(input.len(), |at| at + start);
            output.push_str(&input[..end]);
            input.drain(..end);
        }
    }
    let bytes = output.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let value = (bytes[at] == b'%')
            .then(|| bytes.get(at + 1..at + 3))
            .flatten()
            .and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 16).ok());
        match value {
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

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let policy = PathPolicy {
        merge_slashes: flags & 1 == 0,
        escaped_slashes: if flags & 2 == 0 { EscapedSlashes::Reject } else { EscapedSlashes::Keep },
    };
    let header = ForwardingHeader::ALL[usize::from(flags >> 2 & 3) % 3];
    let peer = if flags & 16 == 0 { Addr::V4(0x0A00_0001) } else { Addr::V4(0xCB00_7105) };
    let mut lines = rest.split(|&b| b == b'\n');
    let raw = lines.next().unwrap_or_default();
    let host = lines.next().unwrap_or_default();
    let mut headers: Vec<(&[u8], &[u8])> = vec![(b"host", host)];
    for line in lines {
        let colon = line.iter().position(|&b| b == b':').unwrap_or(line.len());
        headers.push((&line[..colon], line.get(colon + 1..).unwrap_or_default()));
    }

    if let Ok(found) = canonical_path(raw, policy) {
        assert!(found.target.as_ref() == b"*" || escaped(&found.target), "{found:?}");
        assert_eq!(canonical_path(&found.target, policy).as_ref(), Ok(&found), "{raw:?}");
        if policy.escaped_slashes == EscapedSlashes::Reject && found.target.as_ref() != b"*" {
            assert_eq!(backend_reads(&found.target).as_deref(), Some(found.path.as_ref()), "{raw:?}");
            let again = canonical_decoded_path(found.path.as_bytes(), policy).expect("a decoded canonical path");
            assert_eq!(again.path, found.path);
        }
    }
    let _ = canonical_decoded_path(raw, policy);
    let _ = canonical_path(&quote_path(raw), policy);
    let _ = canonical_path(&path_of_target(raw), policy);
    let _ = under_mount_point(raw, host);

    if let Ok(found) = canonical_host(host) {
        let spelled = found.header();
        let again = canonical_host(spelled.as_bytes()).expect("a canonical host");
        assert_eq!(again, found, "{host:?}");
        assert!(found.spelled_as(spelled.as_bytes()));
    }

    let mut trusted = IpSetBuilder::new();
    trusted.add_address(Addr::V4(0x0A00_0001));
    trusted.add_address(Addr::V4(0x0A00_0002));
    let proxies = TrustedProxies::new(trusted.build(), header);
    let client = proxies.resolve(Some(peer), &headers);
    if client.header.is_some() {
        assert!(client.trusted && client.address.is_some());
    } else {
        assert_eq!(client.address, Some(peer));
    }
    if let Ok(canonical) = CanonicalHeaders::of(&headers, client.trusted) {
        let kept = canonical.apply(&headers).count();
        assert!(kept <= headers.len());
    }
    let request = RawRequest {
        method: b"GET",
        path: raw,
        query: host,
        headers: &headers,
        peer: Some(peer),
        secure: false,
        version: HttpVersion::Http11,
        body: None,
    };
    if let Ok(request) = Canonicalizer::new(policy, proxies).canonicalize(&request) {
        let _ = request.query_params();
        let _ = request.cookies();
    }
});
