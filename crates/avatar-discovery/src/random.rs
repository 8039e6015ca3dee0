//! The default random source for the weighted SRV draw: a small, fast generator.
//!
//! SRV weights spread load; they are not a secret, so a non-cryptographic generator seeded from
//! the clock and the process is enough. Tests inject their own source instead.

use std::time::{SystemTime, UNIX_EPOCH};

/// `SplitMix64`, drawing uniformly from `0..=max` by rejection (no modulo bias).
#[derive(Debug, Clone)]
pub(crate) struct SplitMix(u64);

impl SplitMix {
    pub(crate) fn seeded() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        #[expect(
            clippy::cast_possible_truncation,
            reason = "only the low bits matter for a seed"
        )]
        let seed = (nanos as u64) ^ (u64::from(std::process::id()) << 32);
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn uniform_inclusive(&mut self, max: u64) -> u64 {
        if max == u64::MAX {
            return self.next();
        }
        let span = max + 1;
        let zone = u64::MAX - (u64::MAX % span);
        loop {
            let value = self.next();
            if value < zone {
                return value % span;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_in_range_and_covers_it() {
        let mut random = SplitMix(7);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            let value = random.uniform_inclusive(4);
            seen[usize::try_from(value).unwrap()] = true;
        }
        assert!(seen.iter().all(|&hit| hit));
        assert_eq!(random.uniform_inclusive(0), 0);
    }
}
