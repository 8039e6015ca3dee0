//! RFC 2782 selection among the SRV records of one name.

use super::SrvRecord;

/// A source of uniform random numbers for the weighted draw, injectable so tests can fix it.
///
/// Any `FnMut(u64) -> u64` is one. A value above `max` is reduced modulo `max + 1`, so a careless
/// source cannot make selection panic.
pub trait UniformRandom {
    /// A uniformly distributed number in `0..=max`.
    fn uniform_inclusive(&mut self, max: u64) -> u64;
}

impl<F: FnMut(u64) -> u64> UniformRandom for F {
    fn uniform_inclusive(&mut self, max: u64) -> u64 {
        self(max)
    }
}

/// A small, fast generator (`SplitMix64`) drawing uniformly by rejection (no modulo bias): the
/// default source for the weighted draw. SRV weights spread load and are no secret, so a
/// non-cryptographic generator is enough; the caller chooses the seed.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl UniformRandom for SplitMix64 {
    fn uniform_inclusive(&mut self, max: u64) -> u64 {
        if max == u64::MAX {
            return self.next_u64();
        }
        let span = max + 1;
        let zone = u64::MAX - (u64::MAX % span);
        loop {
            let value = self.next_u64();
            if value < zone {
                return value % span;
            }
        }
    }
}

/// What the records of a name say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrvChoice<'a> {
    /// This record was drawn.
    Record(&'a SrvRecord),
    /// A record's target is `.`: the domain says it has no avatar service.
    NoService,
    /// There were no records at all.
    NoRecords,
}

/// Picks one record as RFC 2782 and the Libravatar spec demand.
///
/// - A target of `.` anywhere among the records means the service is decidedly not available at
///   this domain (RFC 2782): [`SrvChoice::NoService`].
/// - Only records with the lowest priority value are considered.
/// - Among them, records with weight 0 are placed first (in the order given), the rest follow in
///   the order given; `r` is drawn uniformly from `0..=sum of weights`, and the first record whose
///   running weight sum is `>= r` wins.
/// - If every weight is 0, each of them is equally likely (the RFC's "any order" with nothing to
///   weigh; a plain running-sum draw would always pick the first).
pub fn select<'a>(records: &'a [SrvRecord], random: &mut impl UniformRandom) -> SrvChoice<'a> {
    if records.iter().any(SrvRecord::is_no_service) {
        return SrvChoice::NoService;
    }
    let Some(lowest) = records.iter().map(|record| record.priority).min() else {
        return SrvChoice::NoRecords;
    };
    let zero = records
        .iter()
        .filter(|record| record.priority == lowest && record.weight == 0);
    let weighted = records
        .iter()
        .filter(|record| record.priority == lowest && record.weight > 0);
    let candidates: Vec<&SrvRecord> = zero.chain(weighted).collect();
    let total: u64 = candidates
        .iter()
        .map(|record| u64::from(record.weight))
        .sum();

    let chosen = if total == 0 {
        let count = candidates.len() as u64;
        let index = random.uniform_inclusive(count - 1) % count;
        candidates.get(usize::try_from(index).unwrap_or(0))
    } else {
        let r = random.uniform_inclusive(total) % (total + 1);
        let mut running = 0u64;
        candidates.iter().find(|record| {
            running += u64::from(record.weight);
            running >= r
        })
    };
    // `candidates` is not empty (it holds every record of the lowest priority) and the running
    // sum reaches `total >= r`, so something was chosen; the first candidate is a safe fallback.
    SrvChoice::Record(chosen.copied().unwrap_or(candidates[0]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(priority: u16, weight: u16, target: &str) -> SrvRecord {
        SrvRecord::new(priority, weight, 443, target)
    }

    fn fixed(value: u64) -> impl FnMut(u64) -> u64 {
        move |_| value
    }

    #[test]
    fn empty_and_dot_targets() {
        assert_eq!(select(&[], &mut fixed(0)), SrvChoice::NoRecords);
        assert_eq!(
            select(&[record(0, 0, ".")], &mut fixed(0)),
            SrvChoice::NoService
        );
        let mixed = [record(0, 10, "a.example"), record(5, 0, ".")];
        assert_eq!(select(&mixed, &mut fixed(0)), SrvChoice::NoService);
    }

    #[test]
    fn lowest_priority_value_wins_whatever_the_weights() {
        let records = [
            record(20, 65535, "late.example"),
            record(10, 1, "early.example"),
        ];
        for r in [0, 1, 1000] {
            let SrvChoice::Record(chosen) = select(&records, &mut fixed(r)) else {
                panic!()
            };
            assert_eq!(chosen.target, "early.example");
        }
    }

    #[test]
    fn weighted_draw_follows_running_sums_with_zero_weights_first() {
        // Order after arranging: zero (0), a (running 10), b (running 40).
        let records = [record(1, 10, "a"), record(1, 30, "b"), record(1, 0, "zero")];
        let pick = |r| match select(&records, &mut fixed(r)) {
            SrvChoice::Record(chosen) => chosen.target.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(pick(0), "zero");
        assert_eq!(pick(1), "a");
        assert_eq!(pick(10), "a");
        assert_eq!(pick(11), "b");
        assert_eq!(pick(40), "b");
        // Out-of-range draws are reduced, never a panic.
        assert_eq!(pick(41), "zero");
    }

    #[test]
    fn split_mix_stays_in_range_and_covers_it() {
        let mut random = SplitMix64::new(7);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            seen[usize::try_from(random.uniform_inclusive(4)).unwrap()] = true;
        }
        assert!(seen.iter().all(|&hit| hit));
        assert_eq!(random.uniform_inclusive(0), 0);
    }

    #[test]
    fn all_zero_weights_are_drawn_evenly() {
        let records = [record(0, 0, "a"), record(0, 0, "b"), record(0, 0, "c")];
        let mut asked = None;
        let mut source = |max| {
            asked = Some(max);
            2
        };
        let SrvChoice::Record(chosen) = select(&records, &mut source) else {
            panic!()
        };
        assert_eq!(chosen.target, "c");
        assert_eq!(asked, Some(2));
    }
}
