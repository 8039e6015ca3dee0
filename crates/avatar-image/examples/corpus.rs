//! The scale bench's corpus: COUNT distinct synthetic photos, deterministic, of varied sizes and
//! formats within the upload limits, and a Zipf workload over (avatar, size), both as requests
//! to `avatars serve` and as the same requests to static files (the static limit: nginx serving
//! every rendition as a file). `cargo xtask bench --only scale` runs it, then fills those files
//! with what `avatars serve` answers over the renditions its import made ahead.
//!
//! `cargo run --release -p avatar-image --example corpus -- DIR [COUNT]` writes into DIR:
//! - `images/NNNNNN.EXT` and `manifest-0.json` to `manifest-7.json` (eighths, for eight
//!   importers at once);
//! - `workload-avatars.txt`: one request path per line, `/avatar/MD5?s=SIZE`;
//! - `workload-static.txt`: the same requests, line for line, as static files,
//!   `/r/MD5-SIZE.EXT`;
//! - `renditions.txt`: each distinct rendition the workload asks for, once, as both paths
//!   separated by a space (`/avatar/MD5?s=SIZE /r/MD5-SIZE.EXT`);
//!
//! and prints a JSON report (counts, bytes, seconds).

use std::fmt::Write as _;
use std::fs;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use avatar_proto::{HashAlgorithm, Identity};
use image::codecs::gif::GifEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::{ExtendedColorType, ImageEncoder as _, RgbImage};

/// The sizes a page asks for: 40 and 80 px for 2x screens, and the rest of a forge's.
const SIZES: [u32; 8] = [32, 40, 48, 64, 80, 96, 128, 256];
/// Zipf's exponent over (avatar, size) pairs.
const ZIPF_EXPONENT: f64 = 1.1;
/// Requests in the workload (the bench's wrk threads draw from them at random).
const REQUESTS: usize = 1_000_000;
/// Manifests the avatars are split into, for as many importers at once. Each waits for its
/// store writes to be synced: four left the two CPUs idle 16 % to 20 % of an import (2 cores,
/// 2026-12-04), eight 5 % to 8 %.
const IMPORTERS: u64 = 8;

/// xorshift64*: a deterministic stream of numbers, seeded per use.
struct Numbers(u64);

impl Numbers {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    #[expect(clippy::cast_precision_loss, reason = "53 random bits")]
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What avatar `n` is: its identity, dimensions and format.
struct Avatar {
    identity: String,
    width: u32,
    height: u32,
    format: image::ImageFormat,
}

impl Avatar {
    /// Mostly small, as uploads are: 85 % of 48 to 256 px a side, 14.5 % up to 640, 0.5 % up
    /// to 2048, and one in 12,500 the largest the limits accept (8192 x 8192). JPEG 65 %, PNG
    /// 25 %, WebP 8 %, GIF 2 % (PNG and WebP only up to 640 px, GIF up to 128: its quantiser
    /// is slow).
    fn of(n: u64) -> Self {
        let mut numbers = Numbers(n.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let pick = numbers.below(10_000);
        let side = |numbers: &mut Numbers, low: u64, high: u64| {
            u32::try_from(low + numbers.below(high - low + 1)).expect("small")
        };
        let (width, height) = if n % 12_500 == 6_250 {
            (8192, 8192)
        } else if pick < 8_500 {
            (side(&mut numbers, 48, 256), side(&mut numbers, 48, 256))
        } else if pick < 9_950 {
            (side(&mut numbers, 256, 640), side(&mut numbers, 256, 640))
        } else {
            (side(&mut numbers, 640, 2048), side(&mut numbers, 640, 2048))
        };
        let kind = numbers.below(100);
        let format = if kind < 65 || width.max(height) > 640 {
            image::ImageFormat::Jpeg
        } else if kind < 90 {
            image::ImageFormat::Png
        } else if kind < 98 || width.max(height) > 128 {
            image::ImageFormat::WebP
        } else {
            image::ImageFormat::Gif
        };
        Self {
            identity: format!("user{n:06}@scale.example"),
            width,
            height,
            format,
        }
    }

    fn extension(&self) -> &'static str {
        self.format.extensions_str()[0]
    }

    /// Waves and a ramp, their periods and colours varied by `n`: photo-like to the encoders,
    /// and a different picture for every avatar. Per-row and per-column tables keep it cheap.
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "pixel arithmetic on small, positive values"
    )]
    fn pixels(&self, n: u64) -> RgbImage {
        // The same scene at any resolution, as a camera takes it: periods grow with the size.
        let scale = (self.width.max(self.height) as f32 / 256.0).max(1.0);
        let fx = (9.0 + (n % 23) as f32) * scale;
        let fy = (13.0 + (n % 29) as f32) * scale;
        let columns: Vec<u8> = (0..self.width)
            .map(|x| (128.0 + 100.0 * (x as f32 / fx).sin()) as u8)
            .collect();
        let rows: Vec<u8> = (0..self.height)
            .map(|y| (128.0 + 100.0 * (y as f32 / fy).cos()) as u8)
            .collect();
        let shift = (n % 256) as f32;
        RgbImage::from_fn(self.width, self.height, |x, y| {
            image::Rgb([
                columns[x as usize],
                rows[y as usize],
                (((x + y) as f32 / scale + shift) % 256.0) as u8,
            ])
        })
    }

    fn encode(&self, n: u64) -> Vec<u8> {
        let pixels = self.pixels(n);
        let mut out = Vec::new();
        let (width, height) = pixels.dimensions();
        match self.format {
            image::ImageFormat::Jpeg => JpegEncoder::new_with_quality(&mut out, 85)
                .write_image(pixels.as_raw(), width, height, ExtendedColorType::Rgb8)
                .expect("JPEG in memory"),
            image::ImageFormat::Gif => GifEncoder::new(&mut out)
                .encode(pixels.as_raw(), width, height, ExtendedColorType::Rgb8)
                .expect("GIF in memory"),
            other => pixels
                .write_to(&mut std::io::Cursor::new(&mut out), other)
                .expect("PNG or WebP in memory"),
        }
        out
    }
}

/// The workload: `REQUESTS` draws of Zipf ranks over every (avatar, size) pair, each rank
/// mapped to a pair by a fixed permutation (so the popular pairs are spread over avatars and
/// sizes). Returns pair indices (`avatar * 8 + size index`).
fn workload(count: u64) -> Vec<u64> {
    let pairs = count * SIZES.len() as u64;
    let mut cumulative = Vec::with_capacity(usize::try_from(pairs).expect("fits"));
    let mut total = 0.0;
    for rank in 1..=pairs {
        #[expect(clippy::cast_precision_loss, reason = "ranks below 2^53")]
        let weight = (rank as f64).powf(-ZIPF_EXPONENT);
        total += weight;
        cumulative.push(total);
    }
    let mut numbers = Numbers(0x5ca1_ab1e);
    // A multiplier coprime with `pairs` (which is 8 times the count): a prime not dividing it.
    let step = [1_000_003u64, 1_000_033, 1_000_037]
        .into_iter()
        .find(|prime| !pairs.is_multiple_of(*prime))
        .expect("one of three primes does not divide the count");
    (0..REQUESTS)
        .map(|_| {
            let drawn = numbers.unit() * total;
            let rank = cumulative.partition_point(|&sum| sum < drawn) as u64;
            (rank.min(pairs - 1) * step) % pairs
        })
        .collect()
}

/// Writes avatar `n`'s file into `dir/images`; its MD5 and the file's bytes.
fn make_avatar(dir: &Path, n: u64) -> (String, u64) {
    let avatar = Avatar::of(n);
    let file = avatar.encode(n);
    let name = format!("images/{n:06}.{}", avatar.extension());
    fs::write(dir.join(&name), &file).expect("writing an image");
    let md5 = Identity::parse(&avatar.identity)
        .expect("a valid address")
        .hash(HashAlgorithm::Md5)
        .to_string();
    (md5, file.len() as u64)
}

/// `manifest-0.json` to `manifest-{IMPORTERS - 1}.json`: every avatar, in turn.
fn write_manifests(dir: &Path, count: u64) {
    for part in 0..IMPORTERS {
        let mut manifest = String::from("{\"avatars\": [\n");
        let mut first = true;
        for n in (part..count).step_by(usize::try_from(IMPORTERS).expect("small")) {
            let avatar = Avatar::of(n);
            if !first {
                manifest.push_str(",\n");
            }
            first = false;
            let _ = write!(
                manifest,
                "{{\"identity\": \"{}\", \"file\": \"images/{n:06}.{}\"}}",
                avatar.identity,
                avatar.extension()
            );
        }
        manifest.push_str("\n]}\n");
        fs::write(dir.join(format!("manifest-{part}.json")), manifest).expect("writing");
    }
}

fn write_lines(path: &Path, lines: impl Iterator<Item = String>) {
    let mut out = BufWriter::new(fs::File::create(path).expect("a file in DIR"));
    for line in lines {
        writeln!(out, "{line}").expect("writing");
    }
    out.flush().expect("writing");
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().expect("usage: corpus DIR [COUNT]"));
    let count: u64 = args
        .next()
        .map_or(100_000, |count| count.parse().expect("COUNT is a number"));
    fs::create_dir_all(dir.join("images")).expect("DIR can be written");

    let started = Instant::now();
    let requests = workload(count);
    let mut distinct_pairs = requests.clone();
    distinct_pairs.sort_unstable();
    distinct_pairs.dedup();
    let workload_seconds = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let md5s: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|worker| {
                let dir = &dir;
                scope.spawn(move || {
                    let mut md5s = Vec::new();
                    let mut bytes = 0u64;
                    for n in (worker as u64..count).step_by(threads) {
                        let (md5, file_bytes) = make_avatar(dir, n);
                        bytes += file_bytes;
                        md5s.push((n, md5));
                    }
                    (md5s, bytes)
                })
            })
            .collect();
        let mut all = vec![String::new(); usize::try_from(count).expect("fits")];
        let mut bytes = 0;
        for worker in workers {
            let (md5s, worker_bytes) = worker.join().expect("a worker");
            bytes += worker_bytes;
            for (n, md5) in md5s {
                all[usize::try_from(n).expect("fits")] = md5;
            }
        }
        eprintln!(
            "corpus: {count} images ({} MiB) in {:.0} s",
            bytes >> 20,
            started.elapsed().as_secs_f64()
        );
        all
    });
    let corpus_seconds = started.elapsed().as_secs_f64();

    write_manifests(&dir, count);
    let md5_of = |pair: u64| &md5s[usize::try_from(pair / 8).expect("fits")];
    let size_of = |pair: u64| SIZES[usize::try_from(pair % 8).expect("below 8")];
    let avatar_path = |pair: u64| format!("/avatar/{}?s={}", md5_of(pair), size_of(pair));
    let static_path = |pair: u64| {
        format!(
            "/r/{}-{}.{}",
            md5_of(pair),
            size_of(pair),
            Avatar::of(pair / 8).extension()
        )
    };
    write_lines(
        &dir.join("workload-avatars.txt"),
        requests.iter().map(|&pair| avatar_path(pair)),
    );
    write_lines(
        &dir.join("workload-static.txt"),
        requests.iter().map(|&pair| static_path(pair)),
    );
    write_lines(
        &dir.join("renditions.txt"),
        distinct_pairs
            .iter()
            .map(|&pair| format!("{} {}", avatar_path(pair), static_path(pair))),
    );
    let report = serde_json::json!({
        "avatars": count,
        "requests": REQUESTS,
        "distinct_pairs": distinct_pairs.len(),
        "zipf_exponent": ZIPF_EXPONENT,
        "sizes": SIZES,
        "workload_seconds": workload_seconds,
        "corpus_seconds": corpus_seconds,
    });
    println!("{report:#}");
}
