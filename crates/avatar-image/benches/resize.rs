//! Which resizer: `fast_image_resize` (what the pipeline uses) against `image::imageops::resize`,
//! same filter (Lanczos3), same inputs; and the whole cold render of a 512 x 512 JPEG, and of
//! an 8192 x 8192 JPEG upload as stored (its master), which must cost about the same; and of a
//! 512 x 512 JPEG in Display P3, converted to sRGB as it is decoded.
//!
//! `cargo bench -p avatar-image --bench resize`

use std::hint::black_box;

use avatar_image::{Limits, prepare, render_square};
use criterion::{Criterion, criterion_group, criterion_main};
use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;
use image::imageops::{self, FilterType as ImageFilter};
use test_support::icc::{display_p3, with_profile};
use test_support::images::{encode, photo_like};

fn fir(source: &RgbImage, side: u32) -> Vec<u8> {
    let src = Image::from_vec_u8(
        source.width(),
        source.height(),
        source.as_raw().clone(),
        PixelType::U8x3,
    )
    .unwrap();
    let mut dst = Image::new(side, side, PixelType::U8x3);
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .fit_into_destination(Some((0.5, 0.5)));
    Resizer::new().resize(&src, &mut dst, &options).unwrap();
    dst.into_vec()
}

fn image_crate(source: &RgbImage, side: u32) -> RgbImage {
    let short = source.width().min(source.height());
    let cropped = imageops::crop_imm(
        source,
        (source.width() - short) / 2,
        (source.height() - short) / 2,
        short,
        short,
    )
    .to_image();
    imageops::resize(&cropped, side, side, ImageFilter::Lanczos3)
}

fn resizers(c: &mut Criterion) {
    for (width, height, side) in [
        (512, 512, 80),
        (512, 512, 256),
        (1024, 768, 512),
        (64, 64, 512),
    ] {
        let source = photo_like(width, height);
        let mut group = c.benchmark_group(format!("resize {width}x{height} to {side}"));
        group.bench_function("fast_image_resize", |b| {
            b.iter(|| fir(black_box(&source), side));
        });
        group.bench_function("image::imageops", |b| {
            b.iter(|| image_crate(black_box(&source), side));
        });
        group.finish();
    }
}

fn cold_render(c: &mut Criterion) {
    let jpeg = encode(&photo_like(512, 512), image::ImageFormat::Jpeg);
    let limits = Limits::default();
    let mut group = c.benchmark_group("cold render of a 512x512 JPEG");
    for side in [80, 512] {
        group.bench_function(format!("to {side}"), |b| {
            b.iter(|| render_square(black_box(&jpeg), side, &limits).unwrap());
        });
    }
    group.finish();
}

/// The same render of the same picture tagged Display P3, as an iPhone's photos are: what the
/// conversion to sRGB adds to a render (compared in `cargo xtask bench`).
fn cold_render_in_display_p3(c: &mut Criterion) {
    let jpeg = with_profile(
        &encode(&photo_like(512, 512), image::ImageFormat::Jpeg),
        &display_p3(),
    );
    let limits = Limits::default();
    let mut group = c.benchmark_group("cold render of a 512x512 Display P3 JPEG");
    group.bench_function("to 80", |b| {
        b.iter(|| render_square(black_box(&jpeg), 80, &limits).unwrap());
    });
    group.finish();
}

/// The first render of a size from the largest upload the limits accept: what is stored is the
/// master `prepare` made at upload, so this is bounded by the master side, not by 8192.
fn cold_render_of_a_large_upload(c: &mut Criterion) {
    let limits = Limits::default();
    // The 512 x 512 scene of `cold_render`, taken at 16 times the resolution as a camera
    // would: `photo_like(8192, 8192)` would be another picture, with waves 16 times finer.
    let scene = photo_like(512, 512);
    let pixels = RgbImage::from_raw(8192, 8192, fir(&scene, 8192)).unwrap();
    let upload = encode(&pixels, image::ImageFormat::Jpeg);
    assert!(
        upload.len() <= limits.max_input_bytes,
        "{} bytes",
        upload.len()
    );
    let stored = prepare(&upload, &limits)
        .unwrap()
        .master
        .expect("an 8192 px upload is stored as its master")
        .bytes;
    let mut group = c.benchmark_group("cold render of an 8192x8192 JPEG upload");
    group.bench_function("to 80", |b| {
        b.iter(|| render_square(black_box(&stored), 80, &limits).unwrap());
    });
    group.finish();
}

criterion_group!(
    benches,
    resizers,
    cold_render,
    cold_render_in_display_p3,
    cold_render_of_a_large_upload
);
criterion_main!(benches);
