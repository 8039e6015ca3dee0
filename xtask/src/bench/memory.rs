//! The memory part: the resident set of a fresh `avatars serve` after rounds of 100,000
//! requests over 10,000 (hash, size) pairs, which must stay under the target and flat.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};

use super::TASK;
use super::client::drive;
use super::report::Target;
use crate::process::start_server;

/// The resident set must stay below this, in MiB.
const RSS_TARGET_MIB: f64 = 100.0;
/// Growth allowed between the last two memory rounds (allocator noise), in MiB.
pub(super) const RSS_GROWTH_ALLOWED_MIB: f64 = 4.0;

pub(super) struct Memory {
    requests_per_round: u64,
    distinct_pairs: usize,
    start_mib: f64,
    rounds_mib: Vec<f64>,
}

impl Memory {
    pub(super) fn to_json(&self) -> Value {
        json!({
            "requests_per_round": self.requests_per_round,
            "distinct_hash_size_pairs": self.distinct_pairs,
            "rss_mib_at_start": self.start_mib,
            "rss_mib_after_each_round": self.rounds_mib,
            "cache_budget": "default (64 MiB)",
        })
    }
}

const MEMORY_ROUNDS: usize = 3;
const REQUESTS_PER_ROUND: u64 = 100_000;
const SIZES: [u32; 10] = [24, 32, 48, 64, 80, 100, 128, 200, 256, 512];

/// A fresh server, then rounds of 100,000 requests cycling through 10,000 (hash, size) pairs:
/// the stored photo and 999 hashes without an avatar (identicon, retro, robohash and the rest
/// in turn), each at ten sizes.
pub(super) fn memory_rounds(avatars: &Path, data: &Path, hash: &str) -> Result<Memory, String> {
    let (server, url) = start_server(avatars, data, TASK)?;
    let pid = server.0.id();
    let paths = mixed_paths(hash, 1000, false);
    let addr = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("unexpected server URL {url}"))?
        .to_owned();
    let start_mib = rss_mib(pid)?;
    let mut rounds_mib = Vec::new();
    for round in 1..=MEMORY_ROUNDS {
        eprintln!(
            "{TASK}: memory round {round}/{MEMORY_ROUNDS}: {REQUESTS_PER_ROUND} requests over {} (hash, size) pairs ...",
            paths.len()
        );
        let started = Instant::now();
        let unexpected = drive(&addr, &paths, REQUESTS_PER_ROUND)?;
        if unexpected > 0 {
            return Err(format!(
                "memory round {round}: {unexpected} of {REQUESTS_PER_ROUND} answers were not 200"
            ));
        }
        eprintln!(
            "{TASK}: memory round {round}: {REQUESTS_PER_ROUND} answers in {:.1}s",
            started.elapsed().as_secs_f64()
        );
        let mib = rss_mib(pid)?;
        eprintln!("{TASK}: memory round {round}: resident {mib:.1} MiB");
        rounds_mib.push(mib);
    }
    Ok(Memory {
        requests_per_round: REQUESTS_PER_ROUND,
        distinct_pairs: paths.len(),
        start_mib,
        rounds_mib,
    })
}

/// Paths over `hashes` hashes at each of [`SIZES`]: the stored photo first, then hashes no one
/// has stored, cycling through the drawn defaults (and `d=404` when `with_404`).
pub(super) fn mixed_paths(hash: &str, hashes: usize, with_404: bool) -> Vec<String> {
    let mut keywords = vec![
        "identicon",
        "monsterid",
        "wavatar",
        "retro",
        "robohash",
        "pagan",
        "mp",
    ];
    if with_404 {
        keywords.push("404");
    }
    let mut paths = Vec::new();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for index in 0..hashes {
        let (target, query) = if index == 0 {
            (hash.to_owned(), String::new())
        } else {
            let mut hex = String::new();
            for _ in 0..2 {
                // xorshift64: deterministic hashes that no one has stored.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let _ = write!(hex, "{state:016x}");
            }
            (hex, format!("&d={}", keywords[index % keywords.len()]))
        };
        for size in SIZES {
            paths.push(format!("/avatar/{target}?s={size}{query}"));
        }
    }
    paths
}

pub(super) fn rss_mib(pid: u32) -> Result<f64, String> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|err| format!("reading /proc/{pid}/status: {err}"))?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<f64>().ok())
        .ok_or("no VmRSS in /proc/PID/status")?;
    Ok(kib / 1024.0)
}

pub(super) fn memory_targets(memory: &Memory) -> Vec<Target> {
    let peak = memory.rounds_mib.iter().copied().fold(0.0, f64::max);
    let growth = match memory.rounds_mib.as_slice() {
        [.., before, last] => last - before,
        _ => 0.0,
    };
    vec![
        Target {
            name: format!(
                "resident set after {}x{}k requests",
                memory.rounds_mib.len(),
                memory.requests_per_round / 1000
            ),
            measured: format!("{peak:.1} MiB"),
            required: format!("< {RSS_TARGET_MIB} MiB"),
            met: peak < RSS_TARGET_MIB,
        },
        Target {
            name: "resident set growth, last round".to_owned(),
            measured: format!("{growth:+.1} MiB"),
            required: format!("<= {RSS_GROWTH_ALLOWED_MIB} MiB (flat)"),
            met: growth <= RSS_GROWTH_ALLOWED_MIB,
        },
    ]
}
