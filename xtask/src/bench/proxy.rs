//! The proxy part: a release `avatars serve` holding the photo for 1,202 identities (the
//! upstream, its access log on), and a second one proxying it (`--proxy-key-file`; its central
//! server is the upstream, and its nameserver a closed port, so discovery falls back at once):
//! 1. a cached proxy hit against a local hit of the same server (which also holds the photo),
//!    wrk, A/B order alternating, in the same run: target at least [`PROXY_HIT_RATIO`];
//! 2. first-fetch latency: 200 identities, one cold request each, p50 and p99;
//! 3. 1,000 distinct identities cold over 16 connections: time until all are served, and the
//!    fetches the upstream saw for them: exactly 1,000. (They share one photo, so this measures
//!    fetching and single-flight, not rendering: the render cache keys on the content.)

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::{Value, json};

use super::report::Target;
use super::{BenchArgs, OWNER, PHOTO, TASK, client, wrk};
use crate::process::start_server_with;

/// A cached proxy hit against a local hit, requests per second.
const PROXY_HIT_RATIO: f64 = 0.9;
const COLD: usize = 1000;
const LATENCY: usize = 200;
/// The identity the cached-hit rounds ask the proxy for: held by the upstream only, as the
/// proxying server answers those it holds itself from its own store, not from the proxy's
/// cache.
const HIT: usize = COLD + LATENCY + 1;

/// What the proxy part measured.
pub(super) struct ProxyBench {
    hit_rps: Vec<(f64, f64)>,
    first_fetch_ms: Vec<f64>,
    cold_seconds: f64,
    cold_fetches: usize,
    cold_not_200: u64,
}

fn identity(n: usize) -> String {
    format!("person{n}@proxy-bench.test")
}

pub(super) fn run(
    options: &BenchArgs,
    root: &Path,
    avatars: &Path,
    work: &Path,
) -> Result<ProxyBench, String> {
    let upstream_data = work.join("proxy-upstream");
    import_identities(root, avatars, &upstream_data, HIT)?;
    let log = work.join("proxy-upstream.log");
    let (_upstream, upstream_url) =
        start_server_with(avatars, &upstream_data, TASK, &[], Some(&log))?;
    let key = work.join("proxy.key");
    new_key(avatars, &key)?;
    // The proxying server holds the photo for identity 0 itself too: its own local hit is the
    // reference (same process, same settings, no access log), not the upstream's.
    let proxy_data = work.join("proxy-data");
    import_identities(root, avatars, &proxy_data, 0)?;
    let central = format!("{upstream_url}/avatar/");
    let key_text = key.to_str().ok_or("a non-UTF-8 work path")?;
    let (_proxy, proxy_url) = start_server_with(
        avatars,
        &proxy_data,
        TASK,
        &[
            "--proxy-key-file",
            key_text,
            // A closed port, asked briefly: discovery falls back to the central server, the
            // upstream, and caches that for the domain.
            "--nameserver",
            "127.0.0.1:1",
            "--dns-timeout-ms",
            "50",
            "--proxy-central",
            &central,
            "--proxy-allow-net",
            "127.0.0.1/32",
        ],
        None,
    )?;
    let proxy_addr = proxy_url.trim_start_matches("http://").to_owned();
    let path_of = |n: usize| proxy_path(avatars, key_text, n);

    // 1. Cached hit (of an identity only the upstream holds) against a local hit.
    let hit = path_of(HIT)?;
    let warm = client::get(&proxy_addr, &hit, None)?;
    if warm.status != 200 {
        return Err(format!(
            "the proxy answered the warm-up request {} ({})",
            warm.status,
            String::from_utf8_lossy(&warm.body).trim()
        ));
    }
    let local = format!("/avatar/{}?s=80", super::md5_of(avatars, &identity(0))?);
    let hit_rps = hit_rounds(options, work, &proxy_url, &hit, &local)?;

    // 2. First fetches, one at a time.
    eprintln!("{TASK}: proxy: {LATENCY} first fetches ...");
    let mut first_fetch_ms = Vec::with_capacity(LATENCY);
    let mut connection = client::Connection::open(&proxy_addr)?;
    for n in 1..=LATENCY {
        let path = path_of(n)?;
        let started = Instant::now();
        let answer = connection.get(&path, None)?;
        first_fetch_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        if answer.status != 200 {
            return Err(format!("a first fetch answered {}", answer.status));
        }
    }
    first_fetch_ms.sort_by(f64::total_cmp);

    // 3. A thousand cold identities at once.
    let cold: Vec<String> = (LATENCY + 1..=LATENCY + COLD)
        .map(path_of)
        .collect::<Result<_, _>>()?;
    let fetches_before = upstream_fetches(&log)?;
    eprintln!("{TASK}: proxy: {COLD} distinct identities cold ...");
    let started = Instant::now();
    let cold_not_200 = client::drive(&proxy_addr, &cold, COLD as u64)?;
    let cold_seconds = started.elapsed().as_secs_f64();
    let cold_fetches = upstream_fetches(&log)? - fetches_before;
    Ok(ProxyBench {
        hit_rps,
        first_fetch_ms,
        cold_seconds,
        cold_fetches,
        cold_not_200,
    })
}

/// wrk on a cached proxy hit and on a local hit of the same server, A/B order alternating;
/// requests per second of each, per round.
fn hit_rounds(
    options: &BenchArgs,
    work: &Path,
    proxy_url: &str,
    hit: &str,
    local: &str,
) -> Result<Vec<(f64, f64)>, String> {
    let mut hit_rps = Vec::new();
    for round in 0..options.rounds {
        eprintln!(
            "{TASK}: proxy: hit round {}/{} ...",
            round + 1,
            options.rounds
        );
        let proxy_run = |()| {
            wrk::wrk(
                work,
                &format!("{proxy_url}{hit}"),
                None,
                options.seconds,
                200,
            )
        };
        let local_run = |()| {
            wrk::wrk(
                work,
                &format!("{proxy_url}{local}"),
                None,
                options.seconds,
                200,
            )
        };
        let (proxied, direct) = if round % 2 == 0 {
            let proxied = proxy_run(())?;
            (proxied, local_run(())?)
        } else {
            let direct = local_run(())?;
            (proxy_run(())?, direct)
        };
        hit_rps.push((proxied.requests_per_second, direct.requests_per_second));
    }
    Ok(hit_rps)
}

/// Stores the photo for the bench's identities 0 to `last` (once on disk, hard-linked).
fn import_identities(root: &Path, avatars: &Path, data: &Path, last: usize) -> Result<(), String> {
    eprintln!(
        "{TASK}: proxy: importing the photo for {} identities into {} ...",
        last + 1,
        data.display()
    );
    let mut import = Command::new(avatars);
    import
        .arg("import")
        .arg("--data-dir")
        .arg(data)
        .arg(OWNER)
        .arg(root.join(PHOTO));
    for n in 0..=last {
        import.arg("--also").arg(identity(n));
    }
    let output = import
        .output()
        .map_err(|err| format!("avatars import: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "avatars import failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

/// Writes a fresh proxy key to `key`.
fn new_key(avatars: &Path, key: &Path) -> Result<(), String> {
    let _ = fs::remove_file(key);
    let made = Command::new(avatars)
        .args(["proxy-key", "--out"])
        .arg(key)
        .output()
        .map_err(|err| format!("avatars proxy-key: {err}"))?;
    if !made.status.success() {
        return Err(format!(
            "avatars proxy-key failed: {}",
            String::from_utf8_lossy(&made.stderr)
        ));
    }
    Ok(())
}

/// The proxied path (`/proxy/TOKEN?s=80&d=404`) of the bench's identity `n`.
fn proxy_path(avatars: &Path, key: &str, n: usize) -> Result<String, String> {
    let printed = Command::new(avatars)
        .args([
            "proxy-url",
            "--key-file",
            key,
            "--base",
            "",
            "--size",
            "80",
            "--default",
            "404",
        ])
        .arg(identity(n))
        .output()
        .map_err(|err| format!("avatars proxy-url: {err}"))?;
    let text = String::from_utf8_lossy(&printed.stdout).trim().to_owned();
    if !printed.status.success() || !text.starts_with("/proxy/") {
        return Err(format!("avatars proxy-url printed {text:?}"));
    }
    Ok(text)
}

/// The upstream requests the proxy made so far: its fetches are the only `s=512&d=404` ones.
fn upstream_fetches(log: &Path) -> Result<usize, String> {
    // The access log is written as requests finish; give the last lines a moment.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let text =
        fs::read_to_string(log).map_err(|err| format!("reading {}: {err}", log.display()))?;
    Ok(text
        .lines()
        .filter(|line| line.contains("s=512&d=404"))
        .count())
}

fn percentile(sorted: &[f64], share: f64) -> f64 {
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index into a short list"
    )]
    let index = ((sorted.len() as f64 - 1.0) * share).round() as usize;
    sorted.get(index).copied().unwrap_or(f64::NAN)
}

impl ProxyBench {
    fn hit_ratio(&self) -> f64 {
        let mut ratios: Vec<f64> = self
            .hit_rps
            .iter()
            .map(|(proxied, direct)| proxied / direct)
            .collect();
        ratios.sort_by(f64::total_cmp);
        percentile(&ratios, 0.5)
    }

    pub(super) fn targets(&self) -> Vec<Target> {
        let ratio = self.hit_ratio();
        vec![
            Target {
                name: "proxy: cached hit / local hit".to_owned(),
                measured: format!("{ratio:.2}x"),
                required: format!(">= {PROXY_HIT_RATIO}x"),
                met: ratio >= PROXY_HIT_RATIO,
            },
            Target {
                name: format!("proxy: {COLD} cold identities, upstream fetches"),
                measured: self.cold_fetches.to_string(),
                required: format!("exactly {COLD}, all answered 200"),
                met: self.cold_fetches == COLD && self.cold_not_200 == 0,
            },
        ]
    }

    pub(super) fn print(&self) {
        println!(
            "proxy: cached hit {:.2}x a local hit (median of {} rounds); first fetch p50 {:.2} ms, p99 {:.2} ms; \
             {COLD} cold identities served in {:.2} s with {} upstream fetches",
            self.hit_ratio(),
            self.hit_rps.len(),
            percentile(&self.first_fetch_ms, 0.5),
            percentile(&self.first_fetch_ms, 0.99),
            self.cold_seconds,
            self.cold_fetches,
        );
    }

    pub(super) fn to_json(&self) -> Value {
        json!({
            "hit_rounds_rps": self.hit_rps.iter().map(|(proxied, direct)| json!({"proxy": proxied, "local": direct})).collect::<Vec<_>>(),
            "hit_ratio_median": self.hit_ratio(),
            "first_fetch_ms": {"p50": percentile(&self.first_fetch_ms, 0.5), "p99": percentile(&self.first_fetch_ms, 0.99), "count": self.first_fetch_ms.len()},
            "cold": {"identities": COLD, "seconds": self.cold_seconds, "upstream_fetches": self.cold_fetches, "not_200": self.cold_not_200},
        })
    }
}
