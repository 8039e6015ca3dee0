//! Driving the servers: nginx's turns, the server's runs in slices beside them, the
//! counters and CPU seconds read around each, and the restarts.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::prepare::lua_script;
use super::{
    Ahead, MEASURE_SECONDS, SLICES, WARM_FRACTION, WARM_SLICES, WARM_UP_SECONDS, run_json,
};
use crate::bench::TASK;
use crate::bench::client;
use crate::bench::memory::rss_mib;
use crate::bench::nginx::{Nginx, free_loopback_addr, start_nginx};
use crate::bench::wrk::{Run, Timeouts, wrk_script};
use crate::process::{Running, start_server_with, wait_bounded};

/// nginx over the corpus's static files (the static limit), warmed up by the static workload
/// for [`WARM_UP_SECONDS`], then driven in slices between a server's ([`Drive::measured`]).
pub(super) struct StaticReference {
    pub(super) url: String,
    pub(super) script: std::path::PathBuf,
    pub(super) work: std::path::PathBuf,
    /// Stopped when the reference is dropped.
    pub(super) _nginx: Nginx,
}

impl StaticReference {
    pub(super) fn start(work: &Path, corpus: &Path) -> Result<Self, String> {
        let addr = free_loopback_addr()?;
        let nginx = start_nginx(work, &corpus.join("static"), &addr)?;
        let script = lua_script(
            work,
            "scale-static.lua",
            &corpus.join("workload-static.txt"),
        )?;
        let url = format!("http://{addr}");
        eprintln!("{TASK}: scale: nginx, {WARM_UP_SECONDS} s warm-up ...");
        wrk_script(work, &url, &script, WARM_UP_SECONDS, Timeouts::Tolerate)?;
        Ok(Self {
            url,
            script,
            work: work.to_owned(),
            _nginx: nginx,
        })
    }

    /// One slice of `seconds`.
    pub(super) fn slice(&self, seconds: u32) -> Result<Run, String> {
        wrk_script(&self.work, &self.url, &self.script, seconds, Timeouts::Fail)
    }
}

/// Slices of equal length as one run: the mean rate, the mean of the medians, and the highest
/// 99th percentile (wrk reports percentiles, not the latencies they summarise).
pub(super) fn joined(slices: &[Run]) -> Run {
    let count = f64::from(u32::try_from(slices.len()).unwrap_or(u32::MAX)).max(1.0);
    Run {
        requests_per_second: slices
            .iter()
            .map(|run| run.requests_per_second)
            .sum::<f64>()
            / count,
        p50_ms: slices.iter().map(|run| run.p50_ms).sum::<f64>() / count,
        p99_ms: slices.iter().map(|run| run.p99_ms).fold(0.0, f64::max),
    }
}

/// The machine's CPU time stolen by its hypervisor, and left idle, from `/proc/stat`'s first
/// line.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct MachineTicks {
    /// Every state's ticks, summed.
    pub(super) total: u64,
    /// Ticks the virtual CPUs waited for the host (`steal`).
    pub(super) steal: u64,
    /// Ticks no process ran, `iowait`'s included.
    pub(super) idle: u64,
    /// Ticks no process ran while one waited for a disk (`iowait`).
    pub(super) iowait: u64,
}

impl MachineTicks {
    pub(super) fn read() -> Result<Self, String> {
        let stat =
            fs::read_to_string("/proc/stat").map_err(|err| format!("reading /proc/stat: {err}"))?;
        let ticks: Vec<u64> = stat
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("cpu "))
            .ok_or("/proc/stat: no cpu line")?
            .split_whitespace()
            .map(|field| field.parse().unwrap_or(0))
            .collect();
        // user nice system idle iowait irq softirq steal guest guest_nice; guest time is
        // counted in user already.
        let tick = |n: usize| ticks.get(n).copied().unwrap_or(0);
        Ok(Self {
            total: ticks.iter().take(8).sum(),
            steal: tick(7),
            idle: tick(3) + tick(4),
            iowait: tick(4),
        })
    }

    /// The ticks from `earlier` to `self`.
    pub(super) fn since(self, earlier: Self) -> Self {
        Self {
            total: self.total.saturating_sub(earlier.total),
            steal: self.steal.saturating_sub(earlier.steal),
            idle: self.idle.saturating_sub(earlier.idle),
            iowait: self.iowait.saturating_sub(earlier.iowait),
        }
    }

    pub(super) fn add(self, other: Self) -> Self {
        Self {
            total: self.total + other.total,
            steal: self.steal + other.steal,
            idle: self.idle + other.idle,
            iowait: self.iowait + other.iowait,
        }
    }

    /// The stolen share of the ticks.
    #[expect(clippy::cast_precision_loss, reason = "tick counts far below 2^52")]
    pub(super) fn steal_share(self) -> f64 {
        self.steal as f64 / self.total.max(1) as f64
    }

    /// The shares of the ticks stolen, idle, and idle waiting for a disk, for a report:
    /// `steal_share`, `idle_share` and `iowait_share`. A server that leaves the CPUs idle
    /// while wrk drives it waits for something, the disk when `iowait` is most of it.
    #[expect(clippy::cast_precision_loss, reason = "tick counts far below 2^52")]
    pub(super) fn shares(self, report: &mut Value) {
        let total = self.total.max(1) as f64;
        report["steal_share"] = json!(self.steal_share());
        report["idle_share"] = json!(self.idle as f64 / total);
        report["iowait_share"] = json!(self.iowait as f64 / total);
    }
}

/// A fresh server whose rendition files are those the import made ahead (every size of every
/// avatar), [`WARM_UP_SECONDS`] then [`MEASURE_SECONDS`] of wrk: its run, the share answered
/// without rendering, the renders it still made (none, unless the import and the server
/// disagree) and its resident memory.
pub(super) fn rendered_ahead(
    avatars: &Path,
    data: &Path,
    ahead: &Ahead,
    work: &Path,
    script: &Path,
    reference: &StaticReference,
) -> Result<Value, String> {
    let admin = free_loopback_addr()?;
    let args = ahead.serve_args(&admin);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    eprintln!(
        "{TASK}: scale: avatars serve over the renditions made ahead, {WARM_UP_SECONDS} s \
         warm-up and {MEASURE_SECONDS} s in {SLICES} slices, each followed by one of nginx ..."
    );
    let measured = Drive {
        avatars,
        data,
        args: &args,
        admin: &admin,
        work,
        script,
    }
    .measured(reference)?;
    let counted = &measured.counted;
    if counted.renders > 0.0 {
        eprintln!(
            "{TASK}: scale: warning: the server rendered {} renditions the import had made \
             ahead: their keys disagree (a format choice changed?)",
            counted.renders
        );
    }
    let mut report = run_json(&measured.run);
    report["hit_rate"] = json!(counted.hit_rate());
    report["memory_hit_rate"] = json!(counted.memory_hit_rate());
    report["file_hits_per_second"] = json!(counted.file_hits / f64::from(MEASURE_SECONDS));
    report["renders"] = json!(counted.renders);
    report["resident_mib"] = json!(measured.resident_mib);
    report["cpu"] = measured.cpu_json(MEASURE_SECONDS);
    measured.ticks.shares(&mut report);
    report["slices"] = measured.slices_json();
    report["nginx"] = measured.reference_json();
    Ok(report)
}

/// A fresh `avatars serve` and the wrk script that drives it.
pub(super) struct Drive<'a> {
    pub(super) avatars: &'a Path,
    pub(super) data: &'a Path,
    pub(super) args: &'a [&'a str],
    pub(super) admin: &'a str,
    pub(super) work: &'a Path,
    pub(super) script: &'a Path,
}

impl Drive<'_> {
    /// Starts the server and waits for its admin listener: the server and its URL.
    pub(super) fn start(&self) -> Result<(Running, String), String> {
        let started = start_server_with(self.avatars, self.data, TASK, self.args, None)?;
        wait_for_admin(self.admin)?;
        Ok(started)
    }

    /// Starts the server, drives it [`WARM_UP_SECONDS`], then [`MEASURE_SECONDS`] measured in
    /// [`SLICES`] slices, each followed by a slice of `reference` as long, and stops it.
    pub(super) fn measured(&self, reference: &StaticReference) -> Result<Measured, String> {
        let slice = MEASURE_SECONDS / SLICES;
        let (mut server, url) = self.start()?;
        let pid = server.0.id().to_string();
        let warm_up = wrk_script(
            self.work,
            &url,
            self.script,
            WARM_UP_SECONDS,
            Timeouts::Tolerate,
        )?;
        let before = Counters::scrape(self.admin)?;
        let mut slice_before = before;
        let mut slices = Vec::new();
        let (mut runs, mut reference_runs) = (Vec::new(), Vec::new());
        let (mut server_cpu_seconds, mut wrk_cpu_seconds) = (0.0, 0.0);
        let (mut ticks, mut reference_ticks) = (MachineTicks::default(), MachineTicks::default());
        for _ in 0..SLICES {
            let (server_before, wrk_before) =
                (cpu_seconds(&pid)?.own, cpu_seconds("self")?.children);
            let ticks_before = MachineTicks::read()?;
            runs.push(wrk_script(
                self.work,
                &url,
                self.script,
                slice,
                Timeouts::Fail,
            )?);
            ticks = ticks.add(MachineTicks::read()?.since(ticks_before));
            server_cpu_seconds += cpu_seconds(&pid)?.own - server_before;
            // wrk's CPU is counted into this process's children's once it has been waited for.
            wrk_cpu_seconds += cpu_seconds("self")?.children - wrk_before;
            let slice_after = Counters::scrape(self.admin)?;
            let renders = slice_after.since(&slice_before).renders;
            slice_before = slice_after;
            let ticks_before = MachineTicks::read()?;
            reference_runs.push(reference.slice(slice)?);
            reference_ticks = reference_ticks.add(MachineTicks::read()?.since(ticks_before));
            slices.push(Slice {
                requests: runs.last().map_or(0.0, |run| run.requests_per_second),
                nginx_requests: reference_runs
                    .last()
                    .map_or(0.0, |run| run.requests_per_second),
                renders: renders / f64::from(slice),
            });
        }
        let counted = Counters::scrape(self.admin)?.since(&before);
        let resident_mib = rss_mib(server.0.id())?;
        terminate(&mut server)?;
        Ok(Measured {
            warm_up_rate: warm_up.requests_per_second,
            run: joined(&runs),
            slices,
            counted,
            resident_mib,
            server_cpu_seconds,
            wrk_cpu_seconds,
            ticks,
            reference: joined(&reference_runs),
            reference_ticks,
        })
    }
}

/// One measured run of a server.
pub(super) struct Measured {
    /// Requests a second during the warm-up.
    pub(super) warm_up_rate: f64,
    /// The slices joined: requests a second, their mean (the slices are equally long).
    pub(super) run: Run,
    /// Each slice, in order.
    pub(super) slices: Vec<Slice>,
    /// The counters' differences over the run.
    pub(super) counted: Counters,
    /// The server's resident MiB at the run's end.
    pub(super) resident_mib: f64,
    /// CPU seconds the server used during the run (all its threads, user and system).
    pub(super) server_cpu_seconds: f64,
    /// CPU seconds wrk used during the run.
    pub(super) wrk_cpu_seconds: f64,
    /// The machine's ticks during the server's slices.
    pub(super) ticks: MachineTicks,
    /// nginx, in the slices between the server's.
    pub(super) reference: Run,
    /// The same during nginx's slices.
    pub(super) reference_ticks: MachineTicks,
}

/// One slice of a measured run: the server's, and nginx's right after it. Rendering as asked,
/// the rate climbs from slice to slice as fewer of the workload's renditions are still to be
/// made (on 2026-12-06, by hand, four 15 s slices gave 24,154, 32,346, 55,157 and 75,165
/// req/s): the minute's mean hides both the render-bound start and the rate reached at its end.
#[derive(Debug, Clone, Copy)]
pub(super) struct Slice {
    /// The server's requests a second.
    pub(super) requests: f64,
    /// nginx's requests a second, in its turn after the server's.
    pub(super) nginx_requests: f64,
    /// Renders the server made in its slice, a second.
    pub(super) renders: f64,
}

impl Slice {
    pub(super) fn json(self) -> Value {
        json!({
            "requests_per_second": self.requests,
            "nginx_requests_per_second": self.nginx_requests,
            "ratio": self.requests / self.nginx_requests,
            "renders_per_second": self.renders,
        })
    }
}

impl Measured {
    /// Each slice, for the report.
    pub(super) fn slices_json(&self) -> Value {
        Value::Array(self.slices.iter().map(|slice| slice.json()).collect())
    }

    /// The report of the server rendering as asked.
    pub(super) fn rendering_as_asked_json(&self) -> Value {
        let (run, counted) = (&self.run, &self.counted);
        let mut report = json!({
            "requests_per_second": run.requests_per_second,
            "p50_ms": run.p50_ms,
            "p99_ms": run.p99_ms,
            "hit_rate": counted.hit_rate(),
            "memory_hit_rate": counted.memory_hit_rate(),
            "file_hits_per_second": counted.file_hits / f64::from(MEASURE_SECONDS),
            "renders_per_second": counted.renders / f64::from(MEASURE_SECONDS),
            "render_ms_mean": counted.render_ms(),
            "resident_mib": self.resident_mib,
            "cpu": self.cpu_json(MEASURE_SECONDS),
            "slices": self.slices_json(),
        });
        self.ticks.shares(&mut report);
        report
    }

    /// nginx's run beside this one, for the report.
    pub(super) fn reference_json(&self) -> Value {
        let mut report = run_json(&self.reference);
        self.reference_ticks.shares(&mut report);
        report
    }

    /// The CPU figures, per answer (microseconds), for the report.
    pub(super) fn cpu_json(&self, seconds: u32) -> Value {
        let answers = self.run.requests_per_second * f64::from(seconds);
        json!({
            "server_cpu_seconds": self.server_cpu_seconds,
            "wrk_cpu_seconds": self.wrk_cpu_seconds,
            "server_cpu_us_per_answer": self.server_cpu_seconds * 1e6 / answers,
            "wrk_cpu_us_per_answer": self.wrk_cpu_seconds * 1e6 / answers,
        })
    }
}

/// CPU seconds from `/proc/PID/stat` (`pid` a number or `self`).
pub(super) struct CpuSeconds {
    /// The process's own, all threads, user and system.
    pub(super) own: f64,
    /// Its children's that it has waited for.
    pub(super) children: f64,
}

/// The process's CPU seconds so far.
pub(super) fn cpu_seconds(pid: &str) -> Result<CpuSeconds, String> {
    /// Linux reports these times in `USER_HZ` ticks, 100 a second on every architecture's ABI.
    const TICKS_PER_SECOND: f64 = 100.0;
    let path = format!("/proc/{pid}/stat");
    let stat = fs::read_to_string(&path).map_err(|err| format!("reading {path}: {err}"))?;
    // The command name, in parentheses, may hold spaces: the fields counted are after it.
    let fields: Vec<f64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .map(|field| field.parse().unwrap_or(f64::NAN))
        })
        .ok_or_else(|| format!("{path}: no command name"))?
        .collect();
    // utime, stime, cutime and cstime are fields 14 to 17 of stat(5), 11 to 14 after the name.
    let field = |index: usize| {
        fields
            .get(index)
            .copied()
            .filter(|value| value.is_finite())
            .ok_or_else(|| format!("{path}: field {} is not a number", index + 3))
    };
    Ok(CpuSeconds {
        own: (field(11)? + field(12)?) / TICKS_PER_SECOND,
        children: (field(13)? + field(14)?) / TICKS_PER_SECOND,
    })
}

/// Waits (10 s at most) for the admin listener a server binds after its public one.
pub(super) fn wait_for_admin(admin: &str) -> Result<(), String> {
    let started = Instant::now();
    while std::net::TcpStream::connect(admin).is_err() {
        if started.elapsed() > Duration::from_secs(10) {
            return Err(format!("no admin listener on {admin} within 10 s"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// The render counters of `/metrics`.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Counters {
    pub(super) hits: f64,
    pub(super) misses: f64,
    /// Misses answered from a rendition file.
    pub(super) file_hits: f64,
    pub(super) renders: f64,
    /// Seconds the renders took, summed (from a render's start on its thread to its end).
    pub(super) render_seconds: f64,
}

impl Counters {
    pub(super) fn scrape(admin: &str) -> Result<Self, String> {
        let response = client::get(admin, "/metrics", None)?;
        let text = String::from_utf8_lossy(&response.body);
        let value = |name: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
                .and_then(|value| value.trim().parse::<f64>().ok())
                .ok_or_else(|| format!("no {name} in /metrics"))
        };
        Ok(Self {
            hits: value("avatars_render_cache_hits_total")?,
            misses: value("avatars_render_cache_misses_total")?,
            file_hits: value("avatars_rendition_file_hits_total")?,
            renders: value("avatars_renders_total")?,
            render_seconds: value("avatars_render_seconds_total")?,
        })
    }

    pub(super) fn since(&self, before: &Self) -> Self {
        Self {
            hits: self.hits - before.hits,
            misses: self.misses - before.misses,
            file_hits: self.file_hits - before.file_hits,
            renders: self.renders - before.renders,
            render_seconds: self.render_seconds - before.render_seconds,
        }
    }

    /// The mean time of one render on its thread, milliseconds (other threads compete for the
    /// CPUs meanwhile, so it is wall time, not CPU time).
    pub(super) fn render_ms(&self) -> f64 {
        if self.renders > 0.0 {
            self.render_seconds * 1000.0 / self.renders
        } else {
            0.0
        }
    }

    /// The share of requests for a stored avatar answered without rendering: from memory or
    /// from a rendition file.
    pub(super) fn hit_rate(&self) -> f64 {
        let lookups = self.hits + self.misses;
        if lookups > 0.0 {
            (self.hits + self.file_hits) / lookups
        } else {
            0.0
        }
    }

    /// The share answered from the render cache in memory.
    pub(super) fn memory_hit_rate(&self) -> f64 {
        let lookups = self.hits + self.misses;
        if lookups > 0.0 {
            self.hits / lookups
        } else {
            0.0
        }
    }
}

/// SIGTERM, and waits for the server to save its renditions and exit.
pub(super) fn terminate(server: &mut Running) -> Result<(), String> {
    let sent = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .map_err(|err| format!("cannot run kill: {err}"))?;
    if !sent.success() {
        return Err("kill -TERM failed".to_owned());
    }
    wait_bounded(&mut server.0, "avatars serve", Duration::from_secs(60))?;
    Ok(())
}

/// How the server is restarted, and what it had reached before.
pub(super) struct Restart<'a> {
    /// The server as the measured run drove it.
    pub(super) drive: Drive<'a>,
    /// The share answered without rendering before the restart.
    pub(super) steady: f64,
}

impl Restart<'_> {
    /// With the saved renditions (`snapshot`) and the rendition files, with the files only,
    /// and with neither.
    pub(super) fn three(&self, snapshot: &Path) -> Result<(Value, Value, Value), String> {
        eprintln!(
            "{TASK}: scale: restarts, with the saved renditions, with the rendition files only, and with neither ..."
        );
        let remove_snapshot = || {
            fs::remove_file(snapshot)
                .map_err(|err| format!("removing {}: {err}", snapshot.display()))
        };
        let with_file = self.warm()?;
        remove_snapshot()?;
        let files_only = self.warm()?;
        remove_snapshot()?;
        let files = self.drive.data.join("renditions");
        fs::remove_dir_all(&files).map_err(|err| format!("removing {}: {err}", files.display()))?;
        Ok((with_file, files_only, self.warm()?))
    }

    /// Starts the server again and drives it in one-second slices until a slice's share
    /// answered without rendering is [`WARM_FRACTION`] of `steady`: the seconds from the start
    /// (reading the saved renditions included) to the end of that slice, and every slice's
    /// share and renders.
    pub(super) fn warm(&self) -> Result<Value, String> {
        let started = Instant::now();
        let (mut server, url) = self.drive.start()?;
        let mut slices = Vec::new();
        let mut warm_after = None;
        let mut last = Counters::scrape(self.drive.admin)?;
        for _ in 0..WARM_SLICES {
            wrk_script(self.drive.work, &url, self.drive.script, 1, Timeouts::Fail)?;
            let now = Counters::scrape(self.drive.admin)?;
            let slice = now.since(&last);
            last = now;
            slices.push(json!({"hit_rate": slice.hit_rate(), "renders": slice.renders}));
            if slice.hit_rate() >= WARM_FRACTION * self.steady {
                warm_after = Some(started.elapsed().as_secs_f64());
                break;
            }
        }
        terminate(&mut server)?;
        Ok(json!({"seconds_to_warm": warm_after, "slices": slices}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_join_into_the_mean_rate_and_the_worst_tail() {
        let run = |requests_per_second, p50_ms, p99_ms| Run {
            requests_per_second,
            p50_ms,
            p99_ms,
        };
        let joined = joined(&[run(100.0, 1.0, 9.0), run(300.0, 2.0, 4.0)]);
        assert_eq!(joined, run(200.0, 1.5, 9.0));
    }

    #[test]
    fn the_machine_s_stolen_share_is_read_from_proc_stat() {
        let before = MachineTicks::read().unwrap();
        let after = MachineTicks::read().unwrap().since(before);
        assert!((0.0..=1.0).contains(&after.steal_share()));
        let ticks = MachineTicks {
            total: 300,
            steal: 30,
            idle: 60,
            iowait: 30,
        }
        .add(MachineTicks {
            total: 100,
            steal: 10,
            idle: 20,
            iowait: 10,
        });
        assert!((ticks.steal_share() - 0.1).abs() < 1e-12);
        let mut report = json!({});
        ticks.shares(&mut report);
        assert_eq!(
            report,
            json!({"steal_share": 0.1, "idle_share": 0.2, "iowait_share": 0.1})
        );
        assert!(
            MachineTicks::default().steal_share().abs() < 1e-12,
            "no ticks, none stolen"
        );
    }

    #[test]
    fn each_slice_is_reported_beside_its_own_turn_of_nginx() {
        let slices = [(24_000.0, 120_000.0, 2_600.0), (75_000.0, 125_000.0, 700.0)]
            .map(|(requests, nginx_requests, renders)| Slice {
                requests,
                nginx_requests,
                renders,
            })
            .map(Slice::json);
        assert!((slices[0]["ratio"].as_f64().unwrap() - 0.2).abs() < 1e-12);
        assert!((slices[1]["ratio"].as_f64().unwrap() - 0.6).abs() < 1e-12);
        assert_eq!(slices[1]["renders_per_second"].as_f64(), Some(700.0));
        assert_eq!(
            slices[1]["nginx_requests_per_second"].as_f64(),
            Some(125_000.0)
        );
    }

    #[test]
    fn cpu_seconds_are_read_for_this_process() {
        let cpu = cpu_seconds("self").expect("/proc/self/stat");
        assert!(cpu.own >= 0.0 && cpu.children >= 0.0);
        assert!(cpu_seconds("0").is_err());
    }

    #[test]
    fn hit_rates_come_from_counter_differences() {
        let before = Counters {
            hits: 10.0,
            misses: 10.0,
            file_hits: 5.0,
            renders: 5.0,
            render_seconds: 1.0,
        };
        let after = Counters {
            hits: 100.0,
            misses: 30.0,
            file_hits: 15.0,
            renders: 15.0,
            render_seconds: 1.02,
        };
        let slice = after.since(&before);
        assert!((slice.memory_hit_rate() - 0.818_181_8).abs() < 1e-6);
        assert!(
            (slice.hit_rate() - 0.909_090_9).abs() < 1e-6,
            "misses from files count"
        );
        assert!(
            (slice.render_ms() - 2.0).abs() < 1e-9,
            "20 ms over 10 renders"
        );
        assert!(Counters::default().hit_rate().abs() < f64::EPSILON);
        assert!(Counters::default().render_ms().abs() < f64::EPSILON);
    }
}
