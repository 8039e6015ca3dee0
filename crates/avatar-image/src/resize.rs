//! Centre square crop and resize to exactly N x N, with `fast_image_resize`.
//!
//! Chosen by measurement (`cargo bench -p avatar-image --bench resize`, 2 cores, 2026-11-21):
//! with Lanczos3 on the same RGB inputs, `fast_image_resize` took 349 us for 512x512 -> 80,
//! 511 us for 512x512 -> 256, 1.64 ms for 1024x768 -> 512 and 676 us for 64x64 -> 512, against
//! 3.88 ms, 5.81 ms, 19.9 ms and 6.61 ms for `image::imageops` (10-12x slower). The crop is done
//! by the resizer itself (`fit_into_destination` centred), so no cropped copy is made.
//!
//! The filter is Lanczos3 as `fast_image_resize` defines it, computed with one `sin` per tap
//! instead of two ([`lanczos3`]): the resizer works out its coefficients anew for every
//! render, and under the scale bench's long tail those `sin` calls were 3 % of the server's
//! CPU. Measured on 2 cores (2026-12-02): 200 -> 80 px took 56 us instead of 73, 512 -> 80 px
//! 163 us instead of 206, 100 -> 256 px 129 us instead of 149.

use std::f64::consts::PI;

use fast_image_resize::images::Image;
use fast_image_resize::{Filter, FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, RgbImage, RgbaImage};

/// Pixels ready to encode: RGB for opaque sources, RGBA otherwise.
pub(crate) enum Pixels {
    Rgb(RgbImage),
    Rgba(RgbaImage),
}

/// Crops the centred square out of `source` and resizes it to `size` x `size`. Taken by value:
/// a decoded RGB or RGBA picture (most are) becomes the resizer's input without a copy.
pub(crate) fn square(source: DynamicImage, size: u32) -> Pixels {
    if source.color().has_alpha() {
        let rgba = source.into_rgba8();
        let (width, height) = rgba.dimensions();
        let out = resize_raw(width, height, rgba.into_raw(), PixelType::U8x4, size);
        Pixels::Rgba(RgbaImage::from_raw(size, size, out).expect("resizer output matches its size"))
    } else {
        let rgb = source.into_rgb8();
        let (width, height) = rgb.dimensions();
        let out = resize_raw(width, height, rgb.into_raw(), PixelType::U8x3, size);
        Pixels::Rgb(RgbImage::from_raw(size, size, out).expect("resizer output matches its size"))
    }
}

/// Crops and resizes one RGBA frame (animations keep alpha).
pub(crate) fn square_rgba(source: RgbaImage, size: u32) -> RgbaImage {
    let (width, height) = source.dimensions();
    let out = resize_raw(width, height, source.into_raw(), PixelType::U8x4, size);
    RgbaImage::from_raw(size, size, out).expect("resizer output matches its size")
}

fn resize_raw(
    width: u32,
    height: u32,
    pixels: Vec<u8>,
    pixel_type: PixelType,
    size: u32,
) -> Vec<u8> {
    if (width, height) == (size, size) {
        // Already the square asked for (a rung at its own side, say): nothing to resample.
        return pixels;
    }
    let source = Image::from_vec_u8(width, height, pixels, pixel_type)
        .expect("buffer length matches the decoded dimensions");
    let mut destination = Image::new(size, size, pixel_type);
    let lanczos3 = Filter::new("Lanczos3", lanczos3, 3.0).expect("a finite, positive support");
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Custom(lanczos3)))
        .fit_into_destination(Some((0.5, 0.5)));
    Resizer::new()
        .resize(&source, &mut destination, &options)
        .expect("source and destination share a pixel type");
    destination.into_vec()
}

/// Lanczos3, `sinc(x) sinc(x / 3)` on (-3, 3): with `s = sin(pi x / 3)`, `sin(pi x)` is
/// `s (3 - 4 s^2)` (the triple-angle identity), so one `sin` serves both factors.
pub(crate) fn lanczos3(x: f64) -> f64 {
    if x == 0.0 {
        return 1.0;
    }
    if !(-3.0..3.0).contains(&x) {
        return 0.0;
    }
    let third = (x * PI / 3.0).sin();
    let whole = third * (3.0 - 4.0 * third * third);
    3.0 * whole * third / (PI * PI * x * x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `fast_image_resize`'s own definition, with two `sin` calls.
    fn two_sines(x: f64) -> f64 {
        let sinc = |x: f64| {
            if x == 0.0 {
                1.0
            } else {
                (x * PI).sin() / (x * PI)
            }
        };
        if (-3.0..3.0).contains(&x) {
            sinc(x) * sinc(x / 3.0)
        } else {
            0.0
        }
    }

    #[test]
    fn a_square_already_at_the_size_keeps_its_pixels() {
        let photo = test_support::images::photo_like(128, 128);
        let Pixels::Rgb(kept) = square(DynamicImage::ImageRgb8(photo.clone()), 128) else {
            panic!("opaque stays RGB");
        };
        assert_eq!(kept, photo);
        let Pixels::Rgb(smaller) = square(DynamicImage::ImageRgb8(photo), 127) else {
            panic!("opaque stays RGB");
        };
        assert_eq!(smaller.dimensions(), (127, 127));
    }

    #[test]
    fn one_sine_is_the_same_filter() {
        for step in -4000..=4000 {
            let x = f64::from(step) / 1000.0;
            assert!((lanczos3(x) - two_sines(x)).abs() < 1e-12, "at {x}");
        }
    }
}
