//! The HTTP part: `avatars serve` and nginx serving the same bytes, driven by wrk with the same
//! load, A/B order alternating every round.

use std::fs;
use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};

use super::client;
use super::nginx::{free_loopback_addr, start_nginx};
use super::report::Target;
use super::wrk::{Run, wrk};
use super::{BenchArgs, HTTP_TARGET_RATIO, TASK};
use crate::process::start_server;

/// One load case, as both servers are asked it.
struct Case {
    name: &'static str,
    /// Our path and query.
    ours: String,
    /// nginx's path.
    nginx: String,
    /// The status every response must have.
    status: u16,
    /// Whether the 0.8x target applies.
    has_target: bool,
    /// Sent as `If-None-Match` (filled in once the ETags are known).
    revalidate: bool,
}

pub(super) struct CaseResult {
    pub(super) name: &'static str,
    pub(super) has_target: bool,
    pub(super) ours: Vec<Run>,
    pub(super) nginx: Vec<Run>,
}

impl CaseResult {
    pub(super) fn median(runs: &[Run], field: impl Fn(&Run) -> f64) -> f64 {
        let mut values: Vec<f64> = runs.iter().map(field).collect();
        values.sort_by(f64::total_cmp);
        let middle = values.len() / 2;
        if values.len() % 2 == 1 {
            values[middle]
        } else {
            f64::midpoint(values[middle - 1], values[middle])
        }
    }

    pub(super) fn rps(runs: &[Run]) -> f64 {
        Self::median(runs, |run| run.requests_per_second)
    }

    pub(super) fn ratio(&self) -> f64 {
        Self::rps(&self.ours) / Self::rps(&self.nginx)
    }

    pub(super) fn to_json(&self) -> Value {
        let side = |runs: &[Run]| {
            json!({
                "requests_per_second_median": Self::rps(runs),
                "p50_ms_median": Self::median(runs, |run| run.p50_ms),
                "p99_ms_median": Self::median(runs, |run| run.p99_ms),
                "rounds": runs.iter().map(|run| json!({
                    "requests_per_second": run.requests_per_second,
                    "p50_ms": run.p50_ms,
                    "p99_ms": run.p99_ms,
                })).collect::<Vec<_>>(),
            })
        };
        json!({
            "case": self.name,
            "avatars": side(&self.ours),
            "nginx": side(&self.nginx),
            "ratio": self.ratio(),
            "target_ratio": self.has_target.then_some(HTTP_TARGET_RATIO),
        })
    }
}

pub(super) fn http_comparison(
    options: &BenchArgs,
    avatars: &Path,
    data: &Path,
    work: &Path,
    hash: &str,
) -> Result<Vec<CaseResult>, String> {
    let (_server, url) = start_server(avatars, data, TASK)?;
    let ours = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("unexpected server URL {url}"))?
        .to_owned();
    let cases = cases(hash);

    // nginx serves exactly the bytes avatars serve.
    let nginx_root = work.join("nginx-root");
    fs::create_dir_all(&nginx_root).map_err(|err| err.to_string())?;
    for case in cases.iter().filter(|case| case.status == 200) {
        let client::Response { status, body, .. } = client::get(&ours, &case.ours, None)?;
        if status != 200 {
            return Err(format!("avatars answered {} with {status}", case.ours));
        }
        fs::write(nginx_root.join(&case.nginx[1..]), body).map_err(|err| err.to_string())?;
    }
    let nginx_addr = free_loopback_addr()?;
    let _nginx = start_nginx(work, &nginx_root, &nginx_addr)?;

    let mut results = Vec::new();
    for case in &cases {
        let ours_etag = etag_of(&ours, &case.ours, case.revalidate)?;
        let nginx_etag = etag_of(&nginx_addr, &case.nginx, case.revalidate)?;
        for (addr, path, etag) in [
            (&ours, &case.ours, &ours_etag),
            (&nginx_addr, &case.nginx, &nginx_etag),
        ] {
            let status = client::get(addr, path, etag.as_deref())?.status;
            if status != case.status {
                return Err(format!(
                    "{}: http://{addr}{path} answered {status}, expected {}",
                    case.name, case.status
                ));
            }
        }
        results.push(CaseResult {
            name: case.name,
            has_target: case.has_target,
            ours: Vec::new(),
            nginx: Vec::new(),
        });
    }

    let total = options.rounds as usize * cases.len() * 2;
    let mut done = 0;
    let started = Instant::now();
    for round in 0..options.rounds {
        for (case, result) in cases.iter().zip(&mut results) {
            let ours_etag = etag_of(&ours, &case.ours, case.revalidate)?;
            let nginx_etag = etag_of(&nginx_addr, &case.nginx, case.revalidate)?;
            let mut sides = [
                ("avatars", &ours, &case.ours, ours_etag, true),
                ("nginx", &nginx_addr, &case.nginx, nginx_etag, false),
            ];
            // A/B, then B/A: neither server always runs on a machine just warmed by the other.
            if round % 2 == 1 {
                sides.reverse();
            }
            for (label, addr, path, etag, is_ours) in sides {
                done += 1;
                eprintln!(
                    "{TASK}: [{done}/{total}] round {}/{}: {} against {label} ({:.0}s elapsed)",
                    round + 1,
                    options.rounds,
                    case.name,
                    started.elapsed().as_secs_f64()
                );
                let run = wrk(
                    work,
                    &format!("http://{addr}{path}"),
                    etag.as_deref(),
                    options.seconds,
                    case.status,
                )?;
                if is_ours {
                    result.ours.push(run);
                } else {
                    result.nginx.push(run);
                }
            }
        }
    }
    Ok(results)
}

/// The five load cases.
fn cases(hash: &str) -> [Case; 5] {
    let nobody = "0123456789abcdef0123456789abcdef";
    [
        Case {
            name: "hit s=80",
            ours: format!("/avatar/{hash}?s=80"),
            nginx: "/hit-80.jpg".to_owned(),
            status: 200,
            has_target: true,
            revalidate: false,
        },
        Case {
            name: "hit s=512",
            ours: format!("/avatar/{hash}?s=512"),
            nginx: "/hit-512.jpg".to_owned(),
            status: 200,
            has_target: true,
            revalidate: false,
        },
        Case {
            name: "miss d=404",
            ours: format!("/avatar/{nobody}?d=404"),
            nginx: "/no-such-avatar".to_owned(),
            status: 404,
            has_target: true,
            revalidate: false,
        },
        Case {
            name: "miss d=identicon",
            ours: format!("/avatar/{nobody}?d=identicon"),
            nginx: "/identicon-80.png".to_owned(),
            status: 200,
            has_target: false,
            revalidate: false,
        },
        Case {
            name: "304 revalidation",
            ours: format!("/avatar/{hash}?s=80"),
            nginx: "/hit-80.jpg".to_owned(),
            status: 304,
            has_target: true,
            revalidate: true,
        },
    ]
}

/// The ETag `path` answers with, when the case revalidates.
fn etag_of(addr: &str, path: &str, revalidate: bool) -> Result<Option<String>, String> {
    if !revalidate {
        return Ok(None);
    }
    client::get(addr, path, None)?
        .header("etag")
        .map(|value| Some(value.to_owned()))
        .ok_or_else(|| format!("http://{addr}{path} sent no ETag"))
}

pub(super) fn http_targets(results: &[CaseResult]) -> Vec<Target> {
    results
        .iter()
        .filter(|result| result.has_target)
        .map(|result| Target {
            name: format!("{} vs nginx", result.name),
            measured: format!("{:.2}x", result.ratio()),
            required: format!(">= {HTTP_TARGET_RATIO}x nginx req/s"),
            met: result.ratio() >= HTTP_TARGET_RATIO,
        })
        .collect()
}

pub(super) fn print_table(results: &[CaseResult]) {
    println!();
    println!(
        "{:<18} {:>12} {:>9} {:>9}   {:>12} {:>9} {:>9}   {:>6}",
        "case", "avatars r/s", "p50 ms", "p99 ms", "nginx r/s", "p50 ms", "p99 ms", "ratio"
    );
    for result in results {
        let side = |runs: &[Run]| {
            format!(
                "{:>12.0} {:>9.3} {:>9.3}",
                CaseResult::rps(runs),
                CaseResult::median(runs, |run| run.p50_ms),
                CaseResult::median(runs, |run| run.p99_ms)
            )
        };
        println!(
            "{:<18} {}   {}   {:>5.2}x",
            result.name,
            side(&result.ours),
            side(&result.nginx),
            result.ratio()
        );
    }
    println!("(medians over the rounds; wrk -t2 -c32, loopback)");
}
