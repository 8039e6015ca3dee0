//! The load test: a fresh release `avatars serve` under `wrk -t2 -c256 -d60s` with a mix of
//! stored hits, drawn defaults and `d=404` misses over 2,000 (hash, size) pairs; no status but
//! 200 and 404 may come back, and the resident set, sampled every 5 s, must be flat once
//! warmed up (after 15 s).

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::TASK;
use super::memory::{RSS_GROWTH_ALLOWED_MIB, mixed_paths, rss_mib};
use super::report::Target;
use super::wrk::parse_latency;
use crate::process::{start_server, wait_bounded};

const SECONDS: u64 = 60;
const CONNECTIONS: u32 = 256;
const WARM_UP: Duration = Duration::from_secs(15);
const SAMPLE_EVERY: Duration = Duration::from_secs(5);

pub(super) struct Load {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    ok: u64,
    not_found: u64,
    unexpected: u64,
    socket_errors: String,
    /// (seconds since the start, resident MiB).
    rss: Vec<(f64, f64)>,
    pairs: usize,
}

impl Load {
    pub(super) fn to_json(&self) -> Value {
        json!({
            "seconds": SECONDS,
            "connections": CONNECTIONS,
            "distinct_hash_size_pairs": self.pairs,
            "requests_per_second": self.requests_per_second,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "status_200": self.ok,
            "status_404": self.not_found,
            "unexpected": self.unexpected,
            "socket_errors": self.socket_errors,
            "rss_mib_samples": self.rss.iter().map(|(at, mib)| json!({"at_s": at, "mib": mib})).collect::<Vec<_>>(),
        })
    }

    /// Growth of the resident set between the first and the last sample after warm-up.
    fn growth_after_warm_up(&self) -> f64 {
        let warm: Vec<f64> = self
            .rss
            .iter()
            .filter(|(at, _)| *at >= WARM_UP.as_secs_f64())
            .map(|(_, mib)| *mib)
            .collect();
        match (warm.first(), warm.last()) {
            (Some(first), Some(last)) => last - first,
            _ => f64::NAN,
        }
    }

    pub(super) fn targets(&self) -> Vec<Target> {
        let growth = self.growth_after_warm_up();
        vec![
            Target {
                name: format!("load {CONNECTIONS} conns {SECONDS} s: unexpected statuses"),
                measured: self.unexpected.to_string(),
                required: "0 (only 200 and 404)".to_owned(),
                met: self.unexpected == 0 && self.ok > 0 && self.not_found > 0,
            },
            Target {
                name: "load: resident set growth after warm-up".to_owned(),
                measured: format!("{growth:+.1} MiB"),
                required: format!("<= {RSS_GROWTH_ALLOWED_MIB} MiB (flat)"),
                met: growth <= RSS_GROWTH_ALLOWED_MIB,
            },
        ]
    }

    pub(super) fn print(&self) {
        println!();
        println!(
            "load: {CONNECTIONS} connections for {SECONDS} s over {} (hash, size) pairs: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms; {} x 200, {} x 404, {} unexpected{}",
            self.pairs,
            self.requests_per_second,
            self.p50_ms,
            self.p99_ms,
            self.ok,
            self.not_found,
            self.unexpected,
            if self.socket_errors.is_empty() {
                String::new()
            } else {
                format!("; {}", self.socket_errors)
            }
        );
        let samples: Vec<String> = self
            .rss
            .iter()
            .map(|(at, mib)| format!("{at:.0}s {mib:.1}"))
            .collect();
        println!("load: resident MiB: {}", samples.join(", "));
    }
}

pub(super) fn run(avatars: &Path, data: &Path, work: &Path, hash: &str) -> Result<Load, String> {
    let (server, url) = start_server(avatars, data, TASK)?;
    let pid = server.0.id();
    let paths = mixed_paths(hash, 200, true);
    let script = work.join("load.lua");
    fs::write(&script, lua(&paths)).map_err(|err| err.to_string())?;
    eprintln!(
        "{TASK}: load: {CONNECTIONS} connections for {SECONDS} s over {} (hash, size) pairs ...",
        paths.len()
    );
    let out_path = work.join("wrk-load.out");
    let out = fs::File::create(&out_path).map_err(|err| err.to_string())?;
    let started = Instant::now();
    let mut child = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{CONNECTIONS}"),
            &format!("-d{SECONDS}s"),
            "--latency",
            "-s",
        ])
        .arg(&script)
        .arg(&url)
        .stdout(out)
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|err| format!("cannot run wrk: {err}"))?;
    let mut rss = Vec::new();
    // Sample until wrk ends; bounded by the run's length plus a margin.
    while child.try_wait().map_err(|err| err.to_string())?.is_none() {
        if started.elapsed() > Duration::from_secs(SECONDS + 30) {
            break;
        }
        rss.push((started.elapsed().as_secs_f64(), rss_mib(pid)?));
        std::thread::sleep(SAMPLE_EVERY);
    }
    let ok = wait_bounded(&mut child, "wrk", Duration::from_secs(30))?;
    let text = fs::read_to_string(&out_path).map_err(|err| err.to_string())?;
    if !ok {
        return Err(format!("wrk failed:\n{text}"));
    }
    let count = |label: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(label))
            .and_then(|value| value.trim().parse::<u64>().ok())
            .ok_or_else(|| format!("no {label:?} line from the load script:\n{text}"))
    };
    let (p50_ms, p99_ms) = parse_latency(&text).ok_or_else(|| format!("no latencies:\n{text}"))?;
    Ok(Load {
        requests_per_second: text
            .lines()
            .find_map(|line| line.strip_prefix("Requests/sec:"))
            .and_then(|value| value.trim().parse().ok())
            .ok_or("no Requests/sec line")?,
        p50_ms,
        p99_ms,
        ok: count("status 200")?,
        not_found: count("status 404")?,
        unexpected: count("status other")?,
        socket_errors: text
            .lines()
            .find(|line| line.trim_start().starts_with("Socket errors:"))
            .map(|line| line.trim().to_owned())
            .unwrap_or_default(),
        rss,
        pairs: paths.len(),
    })
}

/// A wrk script cycling each thread through `paths` from its own offset, counting answers by
/// status; `done` prints the counts of all threads.
fn lua(paths: &[String]) -> String {
    let mut script = String::from("local paths = {\n");
    for path in paths {
        let _ = writeln!(script, "  \"{path}\",");
    }
    script.push_str(
        r#"}
local threads = {}
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end
function init(args)
  counter = id * 997
  ok, missing, other = 0, 0, 0
end
function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end
function response(status, headers, body)
  if status == 200 then ok = ok + 1
  elseif status == 404 then missing = missing + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, thread in ipairs(threads) do
    a = a + thread:get("ok")
    b = b + thread:get("missing")
    c = c + thread:get("other")
  end
  io.write(string.format("status 200 %d\nstatus 404 %d\nstatus other %d\n", a, b, c))
end
"#,
    );
    script
}
