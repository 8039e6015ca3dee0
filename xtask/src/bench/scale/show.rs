//! The part's table lines and its picture.

use super::*;

/// One paragraph for the terminal.
pub(crate) fn print(report: &Value) {
    let avatars = &report["avatars"];
    let nginx = &report["nginx"];
    println!(
        "scale ({} avatars, {} distinct renditions asked): import {:.0}/s ({} rungs); nginx {:.0} req/s \
         (p50 {:.2} ms, p99 {:.2} ms); avatars {:.0} req/s (p50 {:.2} ms, p99 {:.2} ms), {:.2}x, \
         answered without rendering {:.1} % (from memory {:.1} %, {:.0} files/s), {:.0} renders/s \
         ({:.2} ms each), \
         {:.0} MiB resident; warm after a restart in {} with the saved renditions, {} with the \
         rendition files only, {} with neither; with the sizes {} rendered ahead ({:.0} avatars/s, {} \
         files, {:.0} MiB) {:.0} req/s (p50 {:.2} ms, p99 {:.2} ms) against nginx's {:.0} in its \
         turns, {:.2}x, {:.0} renders, from memory {:.1} %, {:.0} MiB resident; CPU time stolen \
         by the host: {:.1} % as asked, {:.1} % ahead, {:.1} % and {:.1} % in nginx's turns",
        report["corpus"]["avatars"],
        report["corpus"]["distinct_pairs"],
        number(&report["imports_per_second"]),
        report["rungs"]["files"],
        number(&nginx["requests_per_second"]),
        number(&nginx["p50_ms"]),
        number(&nginx["p99_ms"]),
        number(&avatars["requests_per_second"]),
        number(&avatars["p50_ms"]),
        number(&avatars["p99_ms"]),
        number(&report["ratio"]),
        number(&avatars["hit_rate"]) * 100.0,
        number(&avatars["memory_hit_rate"]) * 100.0,
        number(&avatars["file_hits_per_second"]),
        number(&avatars["renders_per_second"]),
        number(&avatars["render_ms_mean"]),
        number(&avatars["resident_mib"]),
        seconds(&report["restart_with_saved_renditions"]["seconds_to_warm"]),
        seconds(&report["restart_with_files_only"]["seconds_to_warm"]),
        seconds(&report["restart_without"]["seconds_to_warm"]),
        report["render_ahead"]["sizes"].as_str().unwrap_or_default(),
        number(&report["render_ahead"]["avatars_per_second"]),
        report["render_ahead"]["files"],
        number(&report["render_ahead"]["bytes_on_disk"]) / f64::from(1 << 20),
        number(&report["rendered_ahead"]["requests_per_second"]),
        number(&report["rendered_ahead"]["p50_ms"]),
        number(&report["rendered_ahead"]["p99_ms"]),
        number(&report["rendered_ahead"]["nginx"]["requests_per_second"]),
        number(&report["rendered_ahead_ratio"]),
        number(&report["rendered_ahead"]["renders"]),
        number(&report["rendered_ahead"]["memory_hit_rate"]) * 100.0,
        number(&report["rendered_ahead"]["resident_mib"]),
        number(&avatars["steal_share"]) * 100.0,
        number(&report["rendered_ahead"]["steal_share"]) * 100.0,
        number(&nginx["steal_share"]) * 100.0,
        number(&report["rendered_ahead"]["nginx"]["steal_share"]) * 100.0,
    );
    print_slices("rendering as asked", &report["avatars"]);
    print_slices("over the renditions made ahead", &report["rendered_ahead"]);
    print_idle(report);
    print_cpu_budget(report);
}

/// The CPUs' idle share in each turn, and how much of it waited for a disk, if the report has
/// them (earlier reports do not).
fn print_idle(report: &Value) {
    let turns = [
        ("rendering as asked", &report["avatars"]),
        ("nginx beside it", &report["nginx"]),
        ("over the renditions made ahead", &report["rendered_ahead"]),
        ("nginx beside it", &report["rendered_ahead"]["nginx"]),
    ];
    if turns.iter().any(|(_, turn)| turn["idle_share"].is_null()) {
        return;
    }
    let each: Vec<String> = turns
        .iter()
        .map(|(name, turn)| {
            format!(
                "{:.1} % ({:.1} %) {name}",
                number(&turn["idle_share"]) * 100.0,
                number(&turn["iowait_share"]) * 100.0
            )
        })
        .collect();
    println!(
        "scale, the CPUs idle (of it waiting for a disk): {}; the preparation's writes were on \
         disk {:.1} s after it ended",
        each.join("; "),
        number(&report["writeback_seconds"])
    );
}

/// A run's slices for the terminal, if its report has them (earlier reports do not).
pub(super) fn print_slices(run: &str, report: &Value) {
    let Some(slices) = report["slices"].as_array() else {
        return;
    };
    let each: Vec<String> = slices
        .iter()
        .map(|slice| {
            format!(
                "{:.0} req/s against {:.0} ({:.2}x, {:.0} renders/s)",
                number(&slice["requests_per_second"]),
                number(&slice["nginx_requests_per_second"]),
                number(&slice["ratio"]),
                number(&slice["renders_per_second"]),
            )
        })
        .collect();
    println!("scale, {run}, slice by slice: {}", each.join("; "));
}

/// The CPU budget's sentence for the terminal, if the report has one (earlier reports do not).
pub(super) fn print_cpu_budget(report: &Value) {
    let budget = &report["cpu_budget"];
    if budget.is_null() {
        return;
    }
    let verdict = match (
        budget["render_cpu_ms_that_fits"].as_f64(),
        budget["renders_cheaper_by"].as_f64(),
    ) {
        (Some(fits), Some(by)) => format!(
            "renders of {fits:.2} ms would reach it, {:.0} a second in the window: {}",
            number(&budget["renders_per_second_at_goal"]),
            if by > 1.0 {
                format!("renders would have to be {by:.2}x cheaper")
            } else {
                "room for the renders measured".to_owned()
            }
        ),
        (Some(fits), None) => format!("renders of {fits:.2} ms would reach it"),
        _ => "the answers and wrk alone would take every CPU".to_owned(),
    };
    // Reports before 2026-12-06 10:00 have no effective CPUs.
    let cpus = budget["cpus_effective"].as_f64().map_or_else(
        || format!("on {} CPUs", budget["cpus"]),
        |effective| {
            format!(
                "on the {effective:.2} CPUs that give the measured rate (of {})",
                budget["cpus"]
            )
        },
    );
    let modelled =
        budget["requests_per_second_modelled"]
            .as_f64()
            .map_or_else(String::new, |rate| {
                format!(
                    "; at these costs the whole run's model gives {rate:.0} req/s (measured {:.0})",
                    number(&report["avatars"]["requests_per_second"])
                )
            });
    println!(
        "CPU budget: an answer costs the server {:.1} us and wrk {:.1} us (over the renditions \
         made ahead), a render {} (rendering as asked, the rest of the server's CPU; {:.0} \
         first renders a second predicted, {:.0} measured){modelled}; at the goal, {:.0} \
         req/s, {cpus}, {verdict}",
        number(&budget["answer_cpu_us"]),
        number(&budget["wrk_cpu_us"]),
        budget["render_cpu_ms"].as_f64().map_or_else(
            || "not measured (too few renders)".to_owned(),
            |render| format!("{render:.2} ms")
        ),
        number(&budget["renders_per_second_predicted"]),
        number(&report["avatars"]["renders_per_second"]),
        number(&budget["goal_requests_per_second"]),
    );
}

/// The picture: requests per second of avatars and of nginx in the turns beside it, rendering
/// as asked and over the renditions made ahead (each ratio is to its own turns of nginx, so
/// each pair of bars is one ratio), and the hit rate of each second after a restart, with the
/// saved renditions and without, against the measured one.
pub(crate) fn svg(report: &Value, caption: &str) -> String {
    const WIDTH: f64 = 960.0;
    let slices = report["avatars"]["slices"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let height = 390.0 + slices_panel_height(slices);
    let pairs = [
        (
            "rendering as asked",
            drawn(&report["ratio"]),
            drawn(&report["nginx"]["requests_per_second"]),
            drawn(&report["avatars"]["requests_per_second"]),
            "#2b6cb0",
        ),
        (
            "every size rendered ahead",
            drawn(&report["rendered_ahead_ratio"]),
            // Reports from before nginx ran in turns measured it once, for both.
            report["rendered_ahead"]["nginx"]["requests_per_second"]
                .as_f64()
                .unwrap_or_else(|| drawn(&report["nginx"]["requests_per_second"])),
            drawn(&report["rendered_ahead"]["requests_per_second"]),
            "#805ad5",
        ),
    ];
    let steady = drawn(&report["avatars"]["hit_rate"]);
    let most = pairs
        .iter()
        .map(|(_, _, nginx, ours, _)| nginx.max(*ours))
        .fold(1.0, f64::max);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="13">
<rect width="100%" height="100%" fill="white"/>
<text x="20" y="28" font-size="18" font-weight="bold">{} avatars, Zipf 1.1 over (avatar, size), wrk -t2 -c32</text>
<text x="{}" y="28" font-size="12" fill="#4a5568" text-anchor="end">{caption}</text>
<text x="20" y="70" font-weight="bold">requests a second, in turns with nginx (target 0.5x)</text>"##,
        report["corpus"]["avatars"],
        WIDTH - 20.0
    );
    for (group, (name, ratio, nginx, ours, colour)) in pairs.into_iter().enumerate() {
        let top = 92.0 + 110.0 * f64::from(u32::try_from(group).unwrap_or(0));
        let _ = writeln!(
            out,
            r#"<text x="20" y="{top}" font-weight="bold">{name}: {ratio:.2}x</text>"#
        );
        for (row, (label, rate, fill)) in [
            ("nginx, pre-rendered files", nginx, "#a0aec0"),
            ("avatars serve", ours, colour),
        ]
        .into_iter()
        .enumerate()
        {
            let y = top + 10.0 + 42.0 * f64::from(u32::try_from(row).unwrap_or(0));
            let width = 300.0 * rate / most;
            let _ = writeln!(
                out,
                r#"<text x="20" y="{}">{label}</text><rect x="20" y="{}" width="{width:.1}" height="18" fill="{fill}"/><text x="{:.1}" y="{}">{rate:.0}</text>"#,
                y + 10.0,
                y + 16.0,
                26.0 + width,
                y + 29.0
            );
        }
    }
    let _ = writeln!(
        out,
        r##"<text x="20" y="320" fill="#4a5568">as asked: {:.1} % without rendering ({:.1} % from memory),</text>
<text x="20" y="340" fill="#4a5568">{:.0} MiB resident, {:.0} renders a second of {:.2} ms</text>"##,
        steady * 100.0,
        drawn(&report["avatars"]["memory_hit_rate"]) * 100.0,
        drawn(&report["avatars"]["resident_mib"]),
        drawn(&report["avatars"]["renders_per_second"]),
        drawn(&report["avatars"]["render_ms_mean"]),
    );
    restart_panel(&mut out, report, steady);
    slices_panel(&mut out, slices, 390.0);
    out.push_str("</svg>\n");
    out
}

/// The height [`slices_panel`] takes: none without slices (reports from before them).
pub(super) fn slices_panel_height(slices: &[Value]) -> f64 {
    if slices.is_empty() {
        0.0
    } else {
        56.0 + 26.0 * f64::from(u32::try_from(slices.len()).unwrap_or(0))
    }
}

/// Rendering as asked, slice by slice: each slice's ratio to nginx's turn after it as a bar
/// (1x the full width, the goal's 0.5x dashed), with its rates and renders.
pub(super) fn slices_panel(out: &mut String, slices: &[Value], top: f64) {
    if slices.is_empty() {
        return;
    }
    let (left, full) = (90.0, 300.0);
    let bottom = top + slices_panel_height(slices) - 24.0;
    let goal = left + full * TARGET_RATIO;
    let _ = writeln!(
        out,
        r##"<text x="20" y="{}" font-weight="bold">rendering as asked, slice by slice ({} s each): the rate climbs as fewer of the workload's renditions are left to make</text>
<line x1="{goal:.1}" y1="{}" x2="{goal:.1}" y2="{bottom}" stroke="#c53030" stroke-dasharray="4 3"/><text x="{goal:.1}" y="{}" fill="#c53030" text-anchor="middle">{TARGET_RATIO}x</text>"##,
        top + 18.0,
        MEASURE_SECONDS / SLICES,
        top + 28.0,
        bottom + 14.0,
    );
    for (index, slice) in slices.iter().enumerate() {
        let y = top + 32.0 + 26.0 * f64::from(u32::try_from(index).unwrap_or(0));
        let ratio = drawn(&slice["ratio"]);
        let width = full * ratio.clamp(0.0, 1.0);
        let _ = writeln!(
            out,
            r##"<text x="20" y="{:.1}">slice {}</text><rect x="{left}" y="{y:.1}" width="{width:.1}" height="18" fill="#2b6cb0"/><text x="{:.1}" y="{:.1}">{ratio:.2}x: {:.0} req/s against nginx's {:.0}, {:.0} renders a second</text>"##,
            y + 14.0,
            index + 1,
            left + full + 10.0,
            y + 14.0,
            drawn(&slice["requests_per_second"]),
            drawn(&slice["nginx_requests_per_second"]),
            drawn(&slice["renders_per_second"]),
        );
    }
}

/// The right half of [`svg`]: the hit rate (0 to 100 %) of each one-second slice after a
/// restart, with and without the saved renditions, against `steady`.
pub(super) fn restart_panel(out: &mut String, report: &Value, steady: f64) {
    let (left, top, plot_width, plot_height) = (440.0, 80.0, 480.0, 220.0);
    let x_of = |slice: f64| left + plot_width * slice / f64::from(WARM_SLICES);
    let y_of = |rate: f64| top + plot_height * (1.0 - rate);
    let _ = writeln!(
        out,
        r##"<text x="{left}" y="70" font-weight="bold">answered without rendering, each second after a restart</text>
<rect x="{left}" y="{top}" width="{plot_width}" height="{plot_height}" fill="none" stroke="#cbd5e0"/>
<line x1="{left}" y1="{:.1}" x2="{}" y2="{:.1}" stroke="#c53030" stroke-dasharray="4 3"/>
<text x="{left}" y="{}" fill="#4a5568">0 s</text><text x="{}" y="{}" fill="#4a5568" text-anchor="end">{WARM_SLICES} s of traffic</text>
<text x="{}" y="{}" fill="#4a5568" text-anchor="end">100 %</text><text x="{}" y="{}" fill="#4a5568" text-anchor="end">0 %</text>
<text x="{}" y="{:.1}" fill="#c53030" text-anchor="end">before the restart</text>"##,
        y_of(steady),
        left + plot_width,
        y_of(steady),
        top + plot_height + 16.0,
        left + plot_width,
        top + plot_height + 16.0,
        left - 6.0,
        top + 10.0,
        left - 6.0,
        top + plot_height,
        left + plot_width - 4.0,
        y_of(steady) - 4.0,
    );
    for (index, (key, name, colour)) in [
        (
            "restart_with_saved_renditions",
            "with --render-cache-file",
            "#2b6cb0",
        ),
        (
            "restart_with_files_only",
            "with the rendition files only",
            "#38a169",
        ),
        ("restart_without", "with neither", "#dd6b20"),
    ]
    .into_iter()
    .enumerate()
    {
        let points: Vec<(f64, f64)> = report[key]["slices"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(slice, value)| {
                let slice = f64::from(u32::try_from(slice + 1).unwrap_or(u32::MAX));
                (x_of(slice), y_of(drawn(&value["hit_rate"])))
            })
            .collect();
        for (x, y) in &points {
            let _ = writeln!(
                out,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{colour}"/>"#
            );
        }
        let points: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect();
        let legend_y =
            top + plot_height + 36.0 + 18.0 * f64::from(u32::try_from(index).unwrap_or(0));
        let _ = writeln!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>
<line x1="{left}" y1="{:.1}" x2="{}" y2="{:.1}" stroke="{colour}" stroke-width="2"/><text x="{}" y="{:.1}">{name}: warm in {}</text>"#,
            points.join(" "),
            legend_y - 4.0,
            left + 20.0,
            legend_y - 4.0,
            left + 26.0,
            legend_y,
            seconds(&report[key]["seconds_to_warm"]),
        );
    }
}

pub(super) fn seconds(value: &Value) -> String {
    value.as_f64().map_or_else(
        || format!("over {WARM_SLICES} s"),
        |seconds| format!("{seconds:.1} s"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_picture_sets_each_server_beside_its_own_turns_of_nginx() {
        let report = json!({
            "corpus": {"avatars": 100},
            "ratio": 0.39,
            "nginx": {"requests_per_second": 118_742.0},
            "avatars": {"requests_per_second": 46_141.0, "hit_rate": 0.965},
            "rendered_ahead_ratio": 0.82,
            "rendered_ahead": {
                "requests_per_second": 86_656.0,
                "nginx": {"requests_per_second": 106_203.0},
            },
        });
        let picture = svg(&report, "caption");
        for shown in [
            "rendering as asked: 0.39x",
            ">118742<",
            ">46141<",
            "every size rendered ahead: 0.82x",
            ">106203<",
            ">86656<",
        ] {
            assert!(picture.contains(shown), "{shown} missing from the picture");
        }
        // A report from before nginx ran in turns: its one nginx rate stands for both.
        let mut older = report.clone();
        older["rendered_ahead"]["nginx"] = Value::Null;
        assert_eq!(svg(&older, "caption").matches(">118742<").count(), 2);
        // Without slices (the reports before 2026-12-06 05:38) there is no slice panel.
        assert!(!picture.contains("slice by slice") && picture.contains(r#"height="390""#));
    }

    #[test]
    fn the_picture_shows_each_slice_rendering_as_asked() {
        let mut report = json!({"corpus": {"avatars": 100}});
        report["avatars"]["slices"] = json!([
            {"requests_per_second": 24_154.0, "nginx_requests_per_second": 120_770.0,
             "ratio": 0.2, "renders_per_second": 2_600.0},
            {"requests_per_second": 75_165.0, "nginx_requests_per_second": 119_309.5,
             "ratio": 0.63, "renders_per_second": 700.0},
        ]);
        let picture = svg(&report, "caption");
        assert!(
            picture.contains(r#"height="498""#),
            "390 and the panel's 108"
        );
        for shown in [
            "slice by slice",
            "0.20x: 24154 req/s against nginx's 120770, 2600 renders a second",
            "0.63x: 75165 req/s against nginx's 119310, 700 renders a second",
        ] {
            assert!(picture.contains(shown), "{shown} missing from the picture");
        }
        // Each bar is its ratio of the 300 px that stand for 1x.
        assert!(picture.contains(r#"width="60.0""#) && picture.contains(r#"width="189.0""#));
    }
}
