//! The formats part: bytes and time of each response format, and the drawn defaults and a photo
//! render at 2048 px, all from `avatar-image`'s `formats` example (release) in one process, so
//! every figure is judged against a reference measured in the same run:
//! - the photo as WebP: at most [`WEBP_BYTES_RATIO`] of the JPEG's bytes, and at most
//!   [`WEBP_TIME_RATIO`] times its render time (decode, crop, resize and encode);
//! - each drawn default as WebP: no more bytes than its PNG;
//! - at 2048 px: every drawn default costs no more time than rendering the stored photo at
//!   2048 px; that render at most [`LARGE_TIME_RATIO`] times the same render at 512 px (16
//!   times the pixels); the peak memory of each at most [`PEAK_BYTES_PER_PIXEL`] bytes per
//!   pixel (an RGBA canvas is 4).

use std::path::Path;

use serde_json::Value;

use super::report::Target;

const WEBP_BYTES_RATIO: f64 = 0.75;
const WEBP_TIME_RATIO: f64 = 2.5;
const LARGE_TIME_RATIO: f64 = 20.0;
const PEAK_BYTES_PER_PIXEL: f64 = 8.0;

/// Builds and runs the example; its JSON report.
pub(super) fn measure(cargo: &str, root: &Path, photo: &Path, avif: bool) -> Result<Value, String> {
    eprintln!(
        "{}: formats and 2048 px (release build of the formats example{}) ...",
        super::TASK,
        if avif { ", with AVIF" } else { "" }
    );
    let features: &[&str] = if avif { &["avif"] } else { &[] };
    super::run_example_report(
        cargo,
        root,
        ("avatar-image", "formats"),
        features,
        &[photo.as_os_str()],
    )
}

fn find<'a>(report: &'a Value, source: &str, size: u64, format: &str) -> Option<&'a Value> {
    report["encodings"].as_array()?.iter().find(|entry| {
        entry["source"] == source && entry["size"] == size && entry["format"] == format
    })
}

/// The targets the report meets or misses.
pub(super) fn targets(report: &Value) -> Vec<Target> {
    let mut targets = Vec::new();
    let mut ratio = |name: String, measured: Option<f64>, bound: f64| {
        targets.push(ratio_target(name, measured, bound));
    };
    let field = |entry: Option<&Value>, key: &str| entry.and_then(|entry| entry[key].as_f64());
    for size in [80, 256] {
        let (jpeg, webp) = (
            find(report, "photo", size, "jpg"),
            find(report, "photo", size, "webp"),
        );
        let over = |key| {
            field(webp, key)
                .zip(field(jpeg, key))
                .map(|(webp, jpeg)| webp / jpeg)
        };
        ratio(
            format!("photo {size} px: WebP/JPEG bytes"),
            over("bytes"),
            WEBP_BYTES_RATIO,
        );
        ratio(
            format!("photo {size} px: WebP/JPEG time"),
            over("median_ns"),
            WEBP_TIME_RATIO,
        );
        for source in ["identicon", "initials"] {
            let (png, webp) = (
                find(report, source, size, "png"),
                find(report, source, size, "webp"),
            );
            let over = field(webp, "bytes")
                .zip(field(png, "bytes"))
                .map(|(webp, png)| webp / png);
            ratio(format!("{source} {size} px: WebP/PNG bytes"), over, 1.0);
        }
    }
    let mut peaks = Vec::new();
    let large = report["large"].as_array().cloned().unwrap_or_default();
    let photo = large.iter().find(|entry| entry["label"] == "photo render");
    let photo_2048 = field(photo, "median_ns_2048");
    ratio(
        "photo render: 2048 px / 512 px time".to_owned(),
        photo_2048
            .zip(field(photo, "median_ns_512"))
            .map(|(big, small)| big / small),
        LARGE_TIME_RATIO,
    );
    for entry in &large {
        let label = entry["label"].as_str().unwrap_or("?");
        if label != "photo render" {
            ratio(
                format!("{label} at 2048 px / photo render at 2048 px"),
                entry["median_ns_2048"]
                    .as_f64()
                    .zip(photo_2048)
                    .map(|(drawn, photo)| drawn / photo),
                1.0,
            );
        }
        let per_pixel = entry["peak_bytes_per_pixel_2048"].as_f64();
        peaks.push(Target {
            name: format!("{label} at 2048 px: peak memory"),
            measured: per_pixel
                .map_or_else(|| "not run".to_owned(), |bytes| format!("{bytes:.2} B/px")),
            required: format!("<= {PEAK_BYTES_PER_PIXEL} B/px"),
            met: per_pixel.is_some_and(|bytes| bytes <= PEAK_BYTES_PER_PIXEL),
        });
    }
    targets.extend(peaks);
    targets
}

/// A target of a ratio at most `bound`.
fn ratio_target(name: String, measured: Option<f64>, bound: f64) -> Target {
    Target {
        name,
        measured: measured.map_or_else(|| "not run".to_owned(), |ratio| format!("{ratio:.2}x")),
        required: format!("<= {bound}x"),
        met: measured.is_some_and(|ratio| ratio <= bound),
    }
}

/// The table of encodings, for the terminal.
pub(super) fn print_table(report: &Value) {
    println!("formats (bytes, median render time):");
    for entry in report["encodings"].as_array().into_iter().flatten() {
        println!(
            "  {:<10} {:>4} px {:<5} {:>8} bytes {:>8.2} ms",
            entry["source"].as_str().unwrap_or("?"),
            entry["size"],
            entry["format"].as_str().unwrap_or("?"),
            entry["bytes"],
            entry["median_ns"].as_f64().unwrap_or(f64::NAN) / 1e6
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn encoding(source: &str, size: u64, format: &str, bytes: u64, ns: f64) -> Value {
        json!({"source": source, "size": size, "format": format, "bytes": bytes, "median_ns": ns})
    }

    #[test]
    fn ratios_are_judged_against_the_same_runs_references() {
        let mut encodings = Vec::new();
        for size in [80, 256] {
            encodings.push(encoding("photo", size, "jpg", 1000, 1e6));
            encodings.push(encoding("photo", size, "webp", 500, 2e6));
            for source in ["identicon", "initials"] {
                encodings.push(encoding(source, size, "png", 700, 1e5));
                encodings.push(encoding(source, size, "webp", 200, 3e5));
            }
        }
        let report = json!({
            "encodings": encodings,
            "large": [
                {"label": "photo render", "median_ns_512": 1e7, "median_ns_2048": 1.5e8, "peak_bytes_per_pixel_2048": 4.2},
                {"label": "identicon", "median_ns_512": 7e6, "median_ns_2048": 1.6e8, "peak_bytes_per_pixel_2048": 4.1},
            ],
        });
        let targets = targets(&report);
        let missed: Vec<&str> = targets
            .iter()
            .filter(|target| !target.met)
            .map(|target| target.name.as_str())
            .collect();
        assert_eq!(missed, ["identicon at 2048 px / photo render at 2048 px"]);
        assert_eq!(targets.len(), 4 * 2 + 1 + 1 + 2);
    }
}
