//! BFE's hash buckets: the first half of MurmurHash3 x64 128 (seed 0) of a value, modulo 10000.
//!
//! `*_hash_in` primitives split traffic into 10000 stable buckets, so the hash must be
//! bit-exact with BFE's (`murmur3.Sum64`). It is written out here (it is short, and a
//! crate would bring the 128-bit result and allocation for nothing); the tests pin it to
//! the buckets BFE's own tests quote, and the differential tests to the `mmh3` the Python
//! side uses.

/// How many buckets there are.
pub const BUCKETS: u64 = 10_000;

const C1: u64 = 0x87c3_7b91_1142_53d5;
const C2: u64 = 0x4cf5_ad43_2745_937f;

fn fmix(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

fn mix1(k1: u64) -> u64 {
    k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2)
}

fn mix2(k2: u64) -> u64 {
    k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1)
}

/// Little-endian u64 of up to 8 bytes (missing high bytes are zero).
fn read_le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte))
}

/// `h1` of MurmurHash3 x64 128 with seed 0 (Go's `murmur3.Sum64`).
pub fn murmur3_sum64(data: &[u8]) -> u64 {
    let (mut h1, mut h2) = (0u64, 0u64);
    let mut blocks = data.chunks_exact(16);
    for block in blocks.by_ref() {
        let (low, high) = block.split_at(8);
        h1 ^= mix1(read_le(low));
        h1 = h1
            .rotate_left(27)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(0x52dc_e729);
        h2 ^= mix2(read_le(high));
        h2 = h2
            .rotate_left(31)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(0x3849_5ab5);
    }
    let tail = blocks.remainder();
    if tail.len() > 8 {
        h2 ^= mix2(read_le(tail.get(8..).unwrap_or_default()));
    }
    if !tail.is_empty() {
        h1 ^= mix1(read_le(tail.get(..8.min(tail.len())).unwrap_or_default()));
    }
    let length = data.len() as u64;
    h1 ^= length;
    h2 ^= length;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1.wrapping_add(h2)
}

/// The bucket (0..9999) of a value.
pub fn bucket(value: &[u8]) -> u16 {
    (murmur3_sum64(value) % BUCKETS) as u16
}

/// A set of buckets, one bit each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buckets {
    bits: Box<[u64]>,
}

impl Buckets {
    /// The buckets of inclusive ranges; `None` if a range is backwards or past 9999.
    pub fn from_ranges(ranges: &[(u16, u16)]) -> Option<Self> {
        let mut bits = vec![0u64; (BUCKETS as usize).div_ceil(64)];
        for &(start, end) in ranges {
            if start > end || u64::from(end) >= BUCKETS {
                return None;
            }
            for number in start..=end {
                let word = bits.get_mut(usize::from(number / 64))?;
                *word |= 1 << (number % 64);
            }
        }
        Some(Self {
            bits: bits.into_boxed_slice(),
        })
    }

    /// Whether a bucket is in the set.
    pub fn contains(&self, number: u16) -> bool {
        self.bits
            .get(usize::from(number / 64))
            .is_some_and(|word| word & (1 << (number % 64)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_bfe_quotes() {
        for (value, expected) in [
            ("test-uid-0001", 5968),
            ("test-uid-0002", 4073),
            ("test-uid-0003", 4055),
            ("test-uid-0004", 9683),
            ("TEST-uid-0001", 3140),
            ("abc", 9575),
            ("ABC", 3614),
            ("uid123", 2343),
            ("1.2.3.4", 5535),
            ("2001:db8::1", 4624),
            ("", 0),
        ] {
            assert_eq!(bucket(value.as_bytes()), expected, "{value}");
        }
    }

    #[test]
    fn bucket_sets() {
        let set = Buckets::from_ranges(&[(0, 0), (100, 199), (9999, 9999)]);
        let set = set.as_ref();
        assert!(set.is_some_and(|s| s.contains(0) && s.contains(150) && s.contains(9999)));
        assert!(set.is_some_and(|s| !s.contains(1) && !s.contains(200)));
        assert!(Buckets::from_ranges(&[(5, 4)]).is_none());
        assert!(Buckets::from_ranges(&[(0, 10_000)]).is_none());
    }
}
