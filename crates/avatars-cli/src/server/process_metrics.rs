//! The process metrics every Prometheus client library exports, named as `client_golang`'s
//! process collector names them: open and most file descriptors, resident and virtual memory,
//! CPU time, threads and the start time, read from `/proc` with `procfs` at each scrape.
//! Dashboards and alerts written for any exporter use them, the open-file alert of
//! `deploy/prometheus-alerts.yml` among them. They are not prefixed with `avatars_`, as no
//! exporter's are. Elsewhere than on Linux there are none.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

/// Encodes the process metrics at each scrape (register it on a registry without a prefix).
#[derive(Debug, Default)]
pub(crate) struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        #[cfg(target_os = "linux")]
        linux::encode(&mut encoder)?;
        #[cfg(not(target_os = "linux"))]
        let _ = &mut encoder;
        Ok(())
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use procfs::WithCurrentSystemInfo as _;
    use procfs::process::{LimitValue, Process};
    use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
    use prometheus_client::metrics::counter::ConstCounter;
    use prometheus_client::metrics::gauge::ConstGauge;

    #[expect(
        clippy::cast_precision_loss,
        reason = "clock ticks and seconds since 1970, far below 2^52"
    )]
    pub(super) fn encode(encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        // What /proc does not give (a sandbox hiding it) is left out, not written as 0.
        let Ok(me) = Process::myself() else {
            return Ok(());
        };
        let mut gauge = |name: &str, help: &str, value: u64| -> Result<(), std::fmt::Error> {
            let metric = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
            metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
        };
        if let Ok(open) = me.fd_count() {
            gauge(
                "process_open_fds",
                "Number of open file descriptors.",
                open as u64,
            )?;
        }
        if let Ok(limits) = me.limits() {
            let most = match limits.max_open_files.soft_limit {
                LimitValue::Value(most) => most,
                LimitValue::Unlimited => u64::MAX,
            };
            gauge(
                "process_max_fds",
                "Maximum number of open file descriptors.",
                most,
            )?;
        }
        let Ok(stat) = me.stat() else {
            return Ok(());
        };
        gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            stat.rss_bytes().get(),
        )?;
        gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            stat.vsize,
        )?;
        gauge(
            "process_threads",
            "Number of OS threads in the process.",
            u64::try_from(stat.num_threads).unwrap_or(0),
        )?;
        let ticks = procfs::ticks_per_second() as f64;
        if let Ok(boot) = procfs::boot_time_secs() {
            let started = ConstGauge::new(boot as f64 + stat.starttime as f64 / ticks);
            started.encode(encoder.encode_descriptor(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                None,
                started.metric_type(),
            )?)?;
        }
        let cpu = ConstCounter::new((stat.utime + stat.stime) as f64 / ticks);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
            None,
            cpu.metric_type(),
        )?)
    }
}
