//! Measures what `cargo xtask bench --only formats` reports: bytes and encode time of every
//! response format against JPEG (the photo) or PNG (the drawn defaults) in the same run, and
//! the time and peak memory of every drawn default and of a photo render at 2048 px against
//! the same work at 512 px.
//!
//! `cargo run --release -p avatar-image --example formats -- PHOTO.jpg > formats.json`
//! (add `--features avif` to measure AVIF too). Times are medians of repeated runs in this
//! process; peak memory is the most the renderer's thread held allocated at once.

use std::hint::black_box;
use std::time::Instant;

use avatar_image::{ImageFormat, Limits, Palette, render_default_with, render_square_as};
use avatar_proto::{AvatarHash, DefaultKeyword, Initials};
use serde_json::{Value, json};

/// Runs per median: odd, so the median is one of them.
const RUNS: usize = 15;
const RUNS_LARGE: usize = 5;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let photo_path = std::env::args()
        .nth(1)
        .ok_or("usage: formats PHOTO.jpg (a JPEG photograph)")?;
    let photo = std::fs::read(&photo_path)?;
    let hash: AvatarHash = "40f8d096a3777232204cb3f796c577b7".parse()?;
    let limits = Limits::default();
    let mut formats = vec![ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Webp];
    if cfg!(feature = "avif") {
        formats.push(ImageFormat::Avif);
    }

    let mut encodings = Vec::new();
    for size in [80, 256] {
        for &format in &formats {
            let (bytes, ns) = median(RUNS, || {
                render_square_as(&photo, size, Some(format), &limits)
                    .map(|rendered| rendered.bytes.len())
            })?;
            encodings.push(json!({"source": "photo", "size": size, "format": format.extension(), "bytes": bytes, "median_ns": ns}));
            eprintln!(
                "photo {size} px {format}: {bytes} bytes, {:.2} ms",
                ns / 1e6
            );
        }
        for (source, keyword) in [
            ("identicon", DefaultKeyword::Identicon),
            (
                "initials",
                DefaultKeyword::Initials(Initials::from_query(None, Some("Jane Doe"))),
            ),
        ] {
            for &format in &formats {
                let (bytes, ns) = median(RUNS, || {
                    render_default_with(keyword, &hash, size, &Palette::DEFAULT, format)
                        .map(|drawn| drawn.map_or(0, |drawn| drawn.bytes.len()))
                })?;
                encodings.push(json!({"source": source, "size": size, "format": format.extension(), "bytes": bytes, "median_ns": ns}));
                eprintln!(
                    "{source} {size} px {format}: {bytes} bytes, {:.2} ms",
                    ns / 1e6
                );
            }
        }
    }

    let mut large = Vec::new();
    let drawn = DefaultKeyword::ALL
        .into_iter()
        .filter(|k| k.is_drawn())
        .map(|keyword| {
            (
                keyword.label(),
                keyword.with_initials(Initials::from_query(None, Some("Jane Doe"))),
            )
        });
    for (label, keyword) in drawn {
        let draw = |size| {
            move || {
                render_default_with(keyword, &hash, size, &Palette::DEFAULT, ImageFormat::Png)
                    .map(|drawn| drawn.map_or(0, |drawn| drawn.bytes.len()))
            }
        };
        large.push(large_entry(&label, draw(512), draw(2048))?);
    }
    let render = |size| {
        let photo = &photo;
        move || render_square_as(photo, size, None, &limits).map(|rendered| rendered.bytes.len())
    };
    large.push(large_entry("photo render", render(512), render(2048))?);

    let report =
        json!({"encodings": encodings, "large": large, "avif_built": cfg!(feature = "avif")});
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// Time at 512 and 2048 px, and the peak allocation at 2048.
fn large_entry<E: std::error::Error + 'static>(
    label: &str,
    at_512: impl Fn() -> Result<usize, E>,
    at_2048: impl Fn() -> Result<usize, E>,
) -> Result<Value, Box<dyn std::error::Error>> {
    let (_, ns_512) = median(RUNS_LARGE, &at_512)?;
    let (_, ns_2048) = median(RUNS_LARGE, &at_2048)?;
    let mut failed = None;
    let peak = allocation_counter::measure(|| {
        if let Err(err) = at_2048() {
            failed = Some(err.to_string());
        }
    })
    .bytes_max;
    if let Some(err) = failed {
        return Err(err.into());
    }
    #[expect(clippy::cast_precision_loss, reason = "byte counts far below 2^52")]
    let peak_bytes = peak as f64;
    let per_pixel = peak_bytes / (2048.0 * 2048.0);
    eprintln!(
        "{label}: 512 px {:.1} ms, 2048 px {:.1} ms, peak {:.1} MiB ({per_pixel:.2} bytes per pixel)",
        ns_512 / 1e6,
        ns_2048 / 1e6,
        peak_bytes / f64::from(1 << 20),
    );
    Ok(json!({
        "label": label,
        "median_ns_512": ns_512,
        "median_ns_2048": ns_2048,
        "peak_bytes_2048": peak,
        "peak_bytes_per_pixel_2048": per_pixel,
    }))
}

/// The output of `work` and the median of `runs` timings of it, in nanoseconds.
fn median<E: std::error::Error + 'static>(
    runs: usize,
    work: impl Fn() -> Result<usize, E>,
) -> Result<(usize, f64), Box<dyn std::error::Error>> {
    let mut times = Vec::with_capacity(runs);
    let mut output = 0;
    for _ in 0..runs {
        let start = Instant::now();
        output = black_box(work()?);
        times.push(start.elapsed().as_secs_f64() * 1e9);
    }
    times.sort_by(f64::total_cmp);
    Ok((output, times[runs / 2]))
}
