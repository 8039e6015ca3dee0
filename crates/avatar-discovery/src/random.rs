//! The default random source for the weighted SRV draw: `avatar_proto`'s generator, seeded from
//! the clock and the process (tests inject their own source instead).

use std::time::{SystemTime, UNIX_EPOCH};

use avatar_proto::srv::SplitMix64;

pub(crate) fn seeded() -> SplitMix64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    #[expect(
        clippy::cast_possible_truncation,
        reason = "only the low bits matter for a seed"
    )]
    let seed = (nanos as u64) ^ (u64::from(std::process::id()) << 32);
    SplitMix64::new(seed)
}
