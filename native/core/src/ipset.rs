//! A set of IPv4 and IPv6 addresses and networks, built once and then only read.
//!
//! Every entry is an inclusive range in the 16-byte space. A range inside `::ffff:0:0/96`
//! is IPv4; an IPv6 range that overlaps that block also holds the IPv4 addresses it maps,
//! so `::/0` holds every address, as BFE's 16-byte comparisons and the Python tables do.
//!
//! Each family's ranges are sorted and merged (overlapping or touching ranges become one),
//! so "is this address listed" is "does the last range starting at or below it reach
//! it": a binary search. A bucket index narrows that search first: the span from the
//! first start to the last is cut into about a quarter as many buckets as there are
//! ranges, and `offsets[b]` counts the ranges starting before bucket `b`, so a lookup
//! reads two offsets and searches the few ranges starting in its bucket (plus the one
//! before them). With a million ranges that is two or three reads outside the CPU's cache
//! instead of about ten.

use crate::addr::{Addr, MAPPED_END, MAPPED_START, mapped_v4};

/// An immutable set of addresses; see the module documentation.
#[derive(Debug, Clone, Default)]
pub struct IpSet {
    v4: Ranges<u32>,
    v6: Ranges<u128>,
}

impl IpSet {
    /// Whether the address is in the set.
    pub fn contains(&self, address: Addr) -> bool {
        match address {
            Addr::V4(v4) => self.v4.contains(v4),
            Addr::V6(v6) => self.v6.contains(v6),
        }
    }

    /// The number of disjoint ranges after merging, IPv4 and IPv6.
    pub fn len(&self) -> usize {
        self.v4.ranges.len() + self.v6.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every merged range in the 16-byte space, IPv4 first.
    pub fn ranges(&self) -> impl Iterator<Item = (u128, u128)> + '_ {
        let v4 = self
            .v4
            .ranges
            .iter()
            .map(|&(start, end)| (MAPPED_START | u128::from(start), MAPPED_START | u128::from(end)));
        v4.chain(self.v6.ranges.iter().copied())
    }

    /// The bytes its arrays hold (for the benchmarks).
    pub fn heap_bytes(&self) -> usize {
        self.v4.heap_bytes() + self.v6.heap_bytes()
    }
}

/// Collects ranges, then [`IpSetBuilder::build`] sorts and merges them.
#[derive(Debug, Clone, Default)]
pub struct IpSetBuilder {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl IpSetBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// An inclusive range of the 16-byte space; nothing is added if it ends before it starts.
    pub fn add(&mut self, start: u128, end: u128) -> Result<(), BackwardsRange> {
        if start > end {
            return Err(BackwardsRange { start, end });
        }
        if let (Some(low), Some(high)) = (mapped_v4(start), mapped_v4(end)) {
            self.v4.push((low, high));
            return Ok(());
        }
        self.v6.push((start, end));
        if start <= MAPPED_END && end >= MAPPED_START {
            // An IPv6 range over the IPv4 block holds the IPv4 addresses it maps.
            let low = mapped_v4(start.max(MAPPED_START)).unwrap_or(0);
            let high = mapped_v4(end.min(MAPPED_END)).unwrap_or(u32::MAX);
            self.v4.push((low, high));
        }
        Ok(())
    }

    /// One address.
    pub fn add_address(&mut self, address: Addr) {
        match address {
            Addr::V4(v4) => self.v4.push((v4, v4)),
            Addr::V6(v6) => self.v6.push((v6, v6)),
        }
    }

    pub fn build(self) -> IpSet {
        IpSet {
            v4: Ranges::new(self.v4),
            v6: Ranges::new(self.v6),
        }
    }
}

/// A range that ends before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackwardsRange {
    pub start: u128,
    pub end: u128,
}

impl std::fmt::Display for BackwardsRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the range {:#x}-{:#x} ends before it starts",
            self.start, self.end
        )
    }
}

impl std::error::Error for BackwardsRange {}

/// What the ranges need of their integer type.
trait Key: Copy + Ord + Default + std::fmt::Debug {
    fn successor(self) -> Option<Self>;
    /// The bit length of `self - base`; `self >= base`.
    fn span_bits(self, base: Self) -> u32;
    /// `(self - base) >> shift`, saturated to `u64`; `self >= base`.
    fn bucket(self, base: Self, shift: u32) -> u64;
}

impl Key for u32 {
    fn successor(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn span_bits(self, base: Self) -> u32 {
        u32::BITS - self.wrapping_sub(base).leading_zeros()
    }
    fn bucket(self, base: Self, shift: u32) -> u64 {
        u64::from(self.wrapping_sub(base)).checked_shr(shift).unwrap_or(0)
    }
}

impl Key for u128 {
    fn successor(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn span_bits(self, base: Self) -> u32 {
        u128::BITS - self.wrapping_sub(base).leading_zeros()
    }
    fn bucket(self, base: Self, shift: u32) -> u64 {
        let offset = self.wrapping_sub(base).checked_shr(shift).unwrap_or(0);
        u64::try_from(offset).unwrap_or(u64::MAX)
    }
}

/// Sorted, disjoint, non-touching inclusive ranges of one family, and their bucket index.
#[derive(Debug, Clone, Default)]
struct Ranges<K> {
    ranges: Vec<(K, K)>,
    base: K,
    shift: u32,
    /// `offsets[b]`: how many ranges start before bucket `b`; one more entry than buckets.
    offsets: Vec<u32>,
}

impl<K: Key> Ranges<K> {
    fn new(mut ranges: Vec<(K, K)>) -> Self {
        merge(&mut ranges);
        ranges.shrink_to_fit();
        let (Some(first), Some(last)) = (ranges.first(), ranges.last()) else {
            return Self::default();
        };
        let base = first.0;
        // About four ranges a bucket; the shift makes the span fit that many buckets.
        let want_bits = usize::BITS - ranges.len().leading_zeros();
        let bucket_bits = want_bits.saturating_sub(2).min(24);
        let shift = last.0.span_bits(base).saturating_sub(bucket_bits);
        let buckets = usize::try_from(last.0.bucket(base, shift)).unwrap_or(0) + 1;
        let mut offsets = vec![0u32; buckets + 1];
        for range in &ranges {
            let bucket = usize::try_from(range.0.bucket(base, shift)).unwrap_or(buckets - 1);
            if let Some(count) = offsets.get_mut(bucket + 1) {
                *count += 1;
            }
        }
        let mut total = 0u32;
        for offset in &mut offsets {
            total += *offset;
            *offset = total;
        }
        Self {
            ranges,
            base,
            shift,
            offsets,
        }
    }

    fn contains(&self, x: K) -> bool {
        if x < self.base {
            return false;
        }
        let last_bucket = self.offsets.len().saturating_sub(2);
        let bucket = usize::try_from(x.bucket(self.base, self.shift))
            .unwrap_or(usize::MAX)
            .min(last_bucket);
        let (Some(&low), Some(&high)) = (self.offsets.get(bucket), self.offsets.get(bucket + 1)) else {
            return false;
        };
        let (low, high) = (low as usize, high as usize);
        let Some(candidates) = self.ranges.get(low..high) else {
            return false;
        };
        let at = low + candidates.partition_point(|range| range.0 <= x);
        match at.checked_sub(1).and_then(|i| self.ranges.get(i)) {
            Some(range) => x <= range.1,
            None => false,
        }
    }

    fn heap_bytes(&self) -> usize {
        self.ranges.capacity() * std::mem::size_of::<(K, K)>() + self.offsets.capacity() * 4
    }
}

/// Sort and merge in place: overlapping or touching ranges become one.
fn merge<K: Key>(ranges: &mut Vec<(K, K)>) {
    ranges.sort_unstable();
    let mut kept = 0usize;
    for i in 0..ranges.len() {
        let Some(&(start, end)) = ranges.get(i) else { break };
        if let Some(previous) = kept.checked_sub(1).and_then(|k| ranges.get_mut(k)) {
            let touches = previous.1.successor().is_none_or(|next| start <= next);
            if touches {
                previous.1 = previous.1.max(end);
                continue;
            }
        }
        if let Some(slot) = ranges.get_mut(kept) {
            *slot = (start, end);
        }
        kept += 1;
    }
    ranges.truncate(kept);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::parse_address;
    use proptest::prelude::*;

    fn set(ranges: &[(u128, u128)]) -> IpSet {
        let mut builder = IpSetBuilder::new();
        for &(start, end) in ranges {
            builder.add(start, end).unwrap();
        }
        builder.build()
    }

    fn has(set: &IpSet, text: &str) -> bool {
        set.contains(Addr::from_u128(parse_address(text.as_bytes()).unwrap()))
    }

    fn ip(text: &str) -> u128 {
        parse_address(text.as_bytes()).unwrap()
    }

    #[test]
    fn singles_and_ranges_of_both_families() {
        let s = set(&[
            (ip("10.0.0.1"), ip("10.0.0.1")),
            (ip("10.1.0.0"), ip("10.1.255.255")),
            (ip("2001:db8::"), ip("2001:db8::ffff")),
        ]);
        assert!(has(&s, "10.0.0.1"));
        assert!(!has(&s, "10.0.0.2"));
        assert!(has(&s, "10.1.77.1"));
        assert!(has(&s, "::ffff:10.1.77.1"));
        assert!(has(&s, "2001:db8::1234"));
        assert!(!has(&s, "2001:db8::1:0"));
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn touching_ranges_merge_and_the_ends_of_the_spaces_hold() {
        let s = set(&[(ip("0.0.0.0"), ip("0.0.0.9")), (ip("0.0.0.10"), ip("0.0.0.20"))]);
        assert_eq!(s.len(), 1);
        let s = set(&[
            (ip("255.255.255.0"), ip("255.255.255.255")),
            (0, 0),
            (u128::MAX, u128::MAX),
        ]);
        assert!(has(&s, "255.255.255.255"));
        assert!(has(&s, "::"));
        assert!(has(&s, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
        assert!(!has(&s, "::1"));
    }

    #[test]
    fn an_ipv6_range_over_the_ipv4_block_holds_ipv4() {
        let s = set(&[(0, u128::MAX)]);
        assert!(has(&s, "1.2.3.4"));
        assert!(has(&s, "2001:db8::1"));
        let s = set(&[(MAPPED_START - 5, MAPPED_START + 5)]);
        assert!(has(&s, "0.0.0.5"));
        assert!(!has(&s, "0.0.0.6"));
        assert!(has(&s, "::fffe:ffff:ffff"));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn an_empty_set_holds_nothing() {
        let s = IpSetBuilder::new().build();
        assert!(s.is_empty());
        assert!(!has(&s, "0.0.0.0"));
        assert!(!has(&s, "::"));
    }

    #[test]
    fn a_backwards_range_is_refused() {
        let error = IpSetBuilder::new().add(2, 1).unwrap_err();
        assert_eq!(error.to_string(), "the range 0x2-0x1 ends before it starts");
    }

    /// The set as a plain list of ranges, searched linearly.
    /// The 16-byte space makes this the whole rule: a mapped address is IPv4, and a range
    /// holding a value of one family is filed under that family.
    fn naive(ranges: &[(u128, u128)], x: u128) -> bool {
        ranges.iter().any(|&(start, end)| start <= x && x <= end)
    }

    fn address() -> impl Strategy<Value = u128> {
        prop_oneof![
            any::<u32>().prop_map(|v| MAPPED_START | u128::from(v)),
            any::<u16>().prop_map(|v| MAPPED_START | u128::from(v) << 16),
            any::<u128>(),
            (0u128..1 << 20).prop_map(|v| 0x2001_0db8 << 96 | v),
            Just(MAPPED_START - 1),
            Just(MAPPED_END + 1),
        ]
    }

    proptest! {
        #[test]
        fn lookups_agree_with_a_linear_scan(
            spans in proptest::collection::vec((address(), 0u128..1 << 40), 0..200),
            probes in proptest::collection::vec(address(), 1..100),
        ) {
            let ranges: Vec<(u128, u128)> =
                spans.iter().map(|&(start, width)| (start, start.saturating_add(width))).collect();
            let s = set(&ranges);
            for probe in probes.iter().copied().chain(ranges.iter().flat_map(|&(a, b)| [a, b, b.saturating_add(1)])) {
                prop_assert_eq!(s.contains(Addr::from_u128(probe)), naive(&ranges, probe), "{:#x}", probe);
            }
            let v4: Vec<(u128, u128)> = s.v4.ranges.iter().map(|&(a, b)| (a.into(), b.into())).collect();
            for family in [&v4, &s.v6.ranges] {
                for pair in family.windows(2) {
                    prop_assert!(pair[0].0 <= pair[0].1 && pair[0].1.saturating_add(1) < pair[1].0, "{:?}", family);
                }
            }
        }
    }
}
