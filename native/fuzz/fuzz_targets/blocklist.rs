//! The blocklist parser on any bytes: it must not panic, and what it returns must hold up.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stockade_core::addr::Addr;
use stockade_core::blocklist::{ErrorKind, parse_blocklist};

fuzz_target!(|data: &[u8]| {
    match parse_blocklist(data, b"fuzz.data") {
        Ok(list) => {
            let ranges: Vec<(u128, u128)> = list.set.ranges().collect();
            for &(start, end) in &ranges {
                assert!(start <= end);
                assert!(list.set.contains(Addr::from_u128(start)));
                assert!(list.set.contains(Addr::from_u128(end)));
            }
        }
        Err(error) => {
            let lines = data.split(|&b| b == b'\n').count() as u64;
            assert!(error.line >= 1 && error.line <= lines, "line {} of {}", error.line, lines);
            assert!(!error.message().is_empty());
            assert!(!error.reason().is_empty());
            assert_eq!(error.text.is_none(), error.kind == ErrorKind::TooLong);
            let _ = error.to_string();
        }
    }
});
