//! The rung: a small copy of a stored picture that its smaller sizes are rendered from.
//!
//! Under a long tail most renders are first asks for small sizes (32 to 96 px) of pictures
//! stored at 128 to 512 px, and most of such a render is decoding and resizing the stored
//! picture, not encoding the few pixels asked for. So a still picture whose centred square is
//! larger than [`RUNG_SIDE`] is rendered at sizes up to [`LARGEST_FROM_RUNG`] from its rung:
//! the centred square at [`RUNG_SIDE`], encoded, a sixteenth of a 512 px master to decode and
//! resize. At [`RUNG_SIDE`] itself the rung is the rendition: its very bytes when asked for in
//! its own format (so a photograph's 128 px JPEG is at the rung's quality 95, not 90: closer
//! to the picture, and about 40 % larger), its pixels encoded otherwise. The rung is kept as
//! a rendition file ([`RenditionFiles`]) when the server keeps them, made when the picture is
//! stored ([`RenderAhead::rung_only`], or any [`RenderAhead`]) or on its first small render.
//!
//! With rendition files, every small render of such a picture goes through the rung, read
//! back or made and kept, so a rendition's bytes never depend on whether the rung was there
//! (a fingerprint names one sequence of bytes). A kept rung needs only the picture's digest
//! and format ([`render_from_rung`]): a server that remembers those renders small sizes
//! without reading the stored picture at all. Without rendition files
//! ([`render_square_as`]) small sizes are rendered straight from the picture: making a rung
//! to throw away costs more than it saves (over 1,500 stored pictures larger than 128 px at
//! 32 to 96 px, 2026-12-05: 1.22 ms a render through a rung made each time, 0.72 ms
//! straight, 0.30 ms from a kept rung). The two ways differ by about a level a channel, so
//! servers sharing a database should all keep rendition files or none, or their `ETag`s for
//! small sizes name slightly different bytes.
//!
//! The rung of a photograph (a JPEG or WebP upload) is JPEG at quality 95 with
//! full-resolution colour, about 10 KiB, whose renditions differ from those made straight from
//! the picture by about one level a channel (the tests below). The rest (PNG and GIF uploads,
//! and any picture with transparency) get a PNG rung, so that a logo's flat colours and hard
//! edges pick up no JPEG artefacts on the way.
//!
//! [`RenditionFiles`]: crate::RenditionFiles
//! [`render_square_as`]: crate::render_square_as
//! [`render_from_rung`]: crate::render_from_rung
//! [`RenderAhead`]: crate::RenderAhead
//! [`RenderAhead::rung_only`]: crate::RenderAhead::rung_only

use bytes::Bytes;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{DynamicImage, ExtendedColorType, ImageEncoder as _};
use sha2::{Digest as _, Sha256};

use crate::decode::Decoded;
use crate::encode::{self, Source};
use crate::error::ImageError;
use crate::render::{Rendered, render_decoded};
use crate::rendition_files::RenditionFiles;
use crate::resize::{self, Pixels};
use avatar_proto::ImageFormat;

/// The side of the rung, in pixels. 128 px covers the sizes pages show most (32 to 96 px,
/// and 40 and 80 for 2x screens); over the scale bench's stored pictures (2026-12-04) a 96 px
/// rung measured the same render work and a 256 px one 1.1 times as much.
pub const RUNG_SIDE: u32 = 128;

/// The largest size resized from the rung: a quarter below it, so a rendition is always a
/// real reduction of the rung. Just under the rung's side, resampling it again blurs hard
/// edges (1.5 levels a channel at 127 px for the tests' lettering, against 0.4 to 0.6 at 32 to
/// 96 px); sizes above this are rendered from the picture, but for [`RUNG_SIDE`] itself,
/// which is the rung, not resampled again.
pub const LARGEST_FROM_RUNG: u32 = RUNG_SIDE * 3 / 4;

/// JPEG quality of an opaque rung: above the renditions' 90, as it is encoded twice.
const RUNG_JPEG_QUALITY: u8 = 95;

/// Whether a rendition at `size` of a still `width` x `height` picture (as shown) is rendered
/// from its rung.
pub(crate) const fn serves(size: u32, width: u32, height: u32) -> bool {
    let side = if width < height { width } else { height };
    renders_from(size) && side > RUNG_SIDE
}

/// Whether a rendition at `size` is rendered from the rung, when the picture has one: up to
/// [`LARGEST_FROM_RUNG`], and at [`RUNG_SIDE`], which the rung already is (under the scale
/// bench's long tail an eighth of the first asks are for 128 px, and from the picture such a
/// render decoded and resized all of it).
pub(crate) const fn renders_from(size: u32) -> bool {
    size <= LARGEST_FROM_RUNG || size == RUNG_SIDE
}

/// Names the rung of the stored picture whose SHA-256 is `content` among the rendition files:
/// the renderer (its version and JPEG encoder) is in it, as in every rendition's.
pub(crate) fn fingerprint(content: &[u8; 32]) -> [u8; 16] {
    let mut hasher = Sha256::new();
    crate::cache::hash_renderer(&mut hasher);
    hasher.update(b"rung");
    hasher.update(content);
    hasher.update(RUNG_SIDE.to_be_bytes());
    let digest: [u8; 32] = hasher.finalize().into();
    let mut fingerprint = [0u8; 16];
    fingerprint.copy_from_slice(&digest[..16]);
    fingerprint
}

/// The rung of `image` (decoded, upright, stored as `source`), encoded: JPEG when the stored
/// picture is a photograph (JPEG or WebP) without transparency, PNG otherwise.
pub(crate) fn make(image: DynamicImage, source: ImageFormat) -> Result<Vec<u8>, ImageError> {
    match resize::square(image, RUNG_SIDE) {
        Pixels::Rgb(rgb) if Source::of(source) == Source::Lossy => {
            let rgb8 = ExtendedColorType::Rgb8;
            encode::jpeg(rgb.as_raw(), RUNG_SIDE, RUNG_SIDE, rgb8, RUNG_JPEG_QUALITY).map_err(
                |err| ImageError::Encode {
                    format: ImageFormat::Jpeg,
                    detail: format!("the rung: {err}"),
                },
            )
        }
        pixels => {
            let (raw, color) = match &pixels {
                Pixels::Rgb(rgb) => (rgb.as_raw(), ExtendedColorType::Rgb8),
                Pixels::Rgba(rgba) => (rgba.as_raw(), ExtendedColorType::Rgba8),
            };
            let mut out = Vec::new();
            PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
                .write_image(raw, RUNG_SIDE, RUNG_SIDE, color)
                .map_err(|err| ImageError::Encode {
                    format: ImageFormat::Png,
                    detail: format!("the rung: {err}"),
                })?;
            Ok(out)
        }
    }
}

/// Decodes a rung [`make`] encoded; anything else (a damaged file) is refused.
pub(crate) fn decode(rung: &[u8]) -> Result<DynamicImage, ImageError> {
    let format = match ImageFormat::sniff(rung) {
        Some(ImageFormat::Jpeg) => image::ImageFormat::Jpeg,
        Some(ImageFormat::Png) => image::ImageFormat::Png,
        _ => return Err(ImageError::UnknownFormat),
    };
    let corrupt = |err: image::ImageError| ImageError::Corrupt {
        format: ImageFormat::sniff(rung).unwrap_or(ImageFormat::Jpeg),
        detail: format!("the rung: {}", crate::decode::decoder_said(&err)),
    };
    let image = image::load_from_memory_with_format(rung, format).map_err(corrupt)?;
    if (image.width(), image.height()) == (RUNG_SIDE, RUNG_SIDE) {
        Ok(image)
    } else {
        Err(ImageError::Corrupt {
            format: ImageFormat::sniff(rung).unwrap_or(ImageFormat::Jpeg),
            detail: format!(
                "the rung is {} x {} px, not {RUNG_SIDE} x {RUNG_SIDE}",
                image.width(),
                image.height()
            ),
        })
    }
}

/// A rung as made or read back: its file's bytes and its pixels.
#[derive(Clone)]
pub(crate) struct Rung {
    encoded: Bytes,
    image: DynamicImage,
}

impl Rung {
    /// The rendition at `size` (one [`renders_from`]) as `format`, of a picture stored as
    /// `source`: at [`RUNG_SIDE`] in the rung's own format, the rung's bytes; otherwise its
    /// pixels, resized and encoded.
    pub(crate) fn render(
        self,
        source: ImageFormat,
        size: u32,
        format: ImageFormat,
    ) -> Result<Rendered, ImageError> {
        if let Some(rendered) = as_rendition(&self.encoded, size, format) {
            return Ok(rendered);
        }
        render_decoded(source, Decoded::Still(self.image), size, format)
    }
}

/// The rung's file as the rendition at `size` in `format`, when that is its side and its
/// format: its bytes as they are.
pub(crate) fn as_rendition(encoded: &Bytes, size: u32, format: ImageFormat) -> Option<Rendered> {
    (size == RUNG_SIDE && ImageFormat::sniff(encoded) == Some(format)).then(|| Rendered {
        bytes: encoded.clone(),
        format,
        size,
    })
}

/// The rung of `image`, decoded as every later render will read it, and kept in `files` under
/// `content` (when the file cannot be written, the next render makes the rung again).
pub(crate) fn make_and_keep(
    image: DynamicImage,
    source: ImageFormat,
    files: &RenditionFiles,
    content: &[u8; 32],
) -> Result<Rung, ImageError> {
    let encoded = Bytes::from(make(image, source)?);
    let image = decode(&encoded)?;
    // Counted and logged by the files (at most once a minute) when it cannot be written.
    let _ = files.put_rung(content, &encoded);
    Ok(Rung { encoded, image })
}

/// The kept rung of `content`, decoded; `None` when none is kept or it cannot be read (a
/// torn one is deleted by the files; one that is intact but no rung is deleted here and
/// logged, so that the caller's render keeps a new one).
pub(crate) fn kept(files: &RenditionFiles, content: &[u8; 32]) -> Option<Rung> {
    decoded(files, content, files.rung(content)?)
}

/// `encoded`, the kept rung of `content`, decoded; `None`, and the file deleted, when it is
/// intact but no rung.
pub(crate) fn decoded(files: &RenditionFiles, content: &[u8; 32], encoded: Bytes) -> Option<Rung> {
    match decode(&encoded) {
        Ok(image) => Some(Rung { encoded, image }),
        Err(err) => {
            tracing::warn!(dir = %files.dir().display(), error = %err, "a rung file does not decode; deleting it and making the rung again");
            files.remove_rung(content);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use image::Rgba;
    use test_support::images::{checkers, encode, photo_like, translucent_disc};

    use super::*;
    use crate::Limits;
    use crate::decode::{self, Decoded};
    use crate::render::{render_decoded, render_stored};

    /// Mean absolute difference per channel, in levels, of two encoded pictures, with colour
    /// weighed by opacity: what a viewer sees over any background.
    #[expect(clippy::cast_precision_loss, reason = "sums far below 2^52")]
    fn seen_difference(a: &[u8], b: &[u8]) -> f64 {
        let (a, b) = (
            image::load_from_memory(a).unwrap().to_rgba8(),
            image::load_from_memory(b).unwrap().to_rgba8(),
        );
        let mut total = 0u64;
        for (x, y) in a.pixels().zip(b.pixels()) {
            for channel in 0..3 {
                let seen = |p: &Rgba<u8>| u64::from(p[channel]) * u64::from(p[3]) / 255;
                total += seen(x).abs_diff(seen(y));
            }
            total += u64::from(x[3].abs_diff(y[3]));
        }
        total as f64 / (a.as_raw().len()) as f64
    }

    /// The centred square of `picture` at `size`, resized as every rendition is, as PNG.
    fn lossless(picture: DynamicImage, size: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let written = match resize::square(picture, size) {
            Pixels::Rgb(rgb) => rgb.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png),
            Pixels::Rgba(rgba) => {
                rgba.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            }
        };
        written.unwrap();
        out
    }

    /// Red strokes 20 px wide on white, every 60 px: the hard edges of a logo's lettering.
    fn strokes(side: u32) -> image::RgbImage {
        image::RgbImage::from_fn(side, side, |x, y| {
            if (x + y / 3) % 60 < 20 {
                image::Rgb([200, 30, 30])
            } else {
                image::Rgb([255, 255, 255])
            }
        })
    }

    /// Against the same pipeline straight from the picture, in levels a channel (measured on
    /// 2026-12-05): a JPEG photo 0.75 to 1.17 (its rung is JPEG), a PNG photo under 0.25,
    /// lettering under 0.65, a translucent badge under 0.15; detail finer than the rung's
    /// 128 px can hold differs more (2.7 to 5.3), as any two ways of scaling it down alias
    /// differently.
    #[test]
    fn renditions_from_the_rung_look_like_those_from_the_picture() {
        let limits = Limits::default();
        let sources = [
            (
                "photo as JPEG",
                encode(&photo_like(512, 384), image::ImageFormat::Jpeg),
                1.5,
            ),
            (
                "photo as PNG",
                encode(&photo_like(300, 300), image::ImageFormat::Png),
                0.5,
            ),
            (
                "lettering",
                encode(&strokes(400), image::ImageFormat::Png),
                1.0,
            ),
            // Squares of 5 px in 400, finer than 128 px can hold: both ways alias, differently.
            (
                "fine print",
                encode(&checkers(400, 400, [200, 30, 30]), image::ImageFormat::Png),
                6.0,
            ),
            ("badge with alpha", translucent_disc(256), 0.5),
        ];
        for (what, source, within) in &sources {
            let (info, decoded) = decode::decode(source, &limits).unwrap();
            let Decoded::Still(picture) = decoded else {
                panic!("a still picture");
            };
            for size in [32, 40, 48, 64, 80, LARGEST_FROM_RUNG, RUNG_SIDE] {
                let direct = render_decoded(
                    info.format,
                    Decoded::Still(picture.clone()),
                    size,
                    info.format,
                )
                .unwrap();
                let dir = tempfile::tempdir().unwrap();
                let files = RenditionFiles::open(dir.path(), 1 << 20).unwrap();
                let content = [7; 32];
                let from_rung =
                    render_stored(source, &content, size, None, &limits, &files).unwrap();
                if size == RUNG_SIDE {
                    let rung = files.rung(&content).unwrap();
                    assert_eq!(
                        from_rung.bytes, rung,
                        "{what} at {size} px: the rung itself"
                    );
                }
                if size == RUNG_SIDE && info.format == ImageFormat::Png {
                    // A lossless rung is the very pixels, and bytes, rendered straight.
                    assert_eq!(direct, from_rung, "{what} at {size} px");
                    continue;
                }
                if size == RUNG_SIDE {
                    // A JPEG rung (quality 95) is nearer the resized pixels than a rendition
                    // at quality 90: 0.93 levels against 1.23 for this photo (1.01 and 1.28
                    // by libjpeg-turbo).
                    let resized = lossless(picture.clone(), size);
                    let (rung_loss, direct_loss) = (
                        seen_difference(&from_rung.bytes, &resized),
                        seen_difference(&direct.bytes, &resized),
                    );
                    assert!(
                        rung_loss < direct_loss,
                        "{what} at {size} px: {rung_loss:.2} levels from the resized pixels \
                         against {direct_loss:.2}"
                    );
                    continue;
                }
                assert_ne!(
                    direct.bytes, from_rung.bytes,
                    "{what} at {size} px: from the rung"
                );
                let difference = seen_difference(&direct.bytes, &from_rung.bytes);
                assert!(
                    difference < *within,
                    "{what} at {size} px: {difference:.2} levels"
                );
            }
        }
    }

    #[test]
    fn small_sizes_and_the_rung_s_own_of_larger_pictures_use_the_rung() {
        assert!(serves(80, 512, 512));
        assert!(serves(96, 129, 4000));
        assert!(serves(RUNG_SIDE, 129, 4000), "the rung's own side");
        assert!(
            !serves(97, 512, 512) && !serves(RUNG_SIDE - 1, 512, 512),
            "sizes near the rung's are rendered from the picture"
        );
        assert!(!serves(RUNG_SIDE + 1, 512, 512) && !serves(256, 512, 512));
        assert!(
            !serves(80, 128, 512),
            "a picture no larger than the rung is its own rung"
        );
    }

    #[test]
    fn a_rung_decodes_to_its_side_and_anything_else_is_refused() {
        let opaque = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            300,
            200,
            image::Rgb([9, 99, 199]),
        ));
        let rung = make(opaque.clone(), ImageFormat::Jpeg).unwrap();
        assert_eq!(ImageFormat::sniff(&rung), Some(ImageFormat::Jpeg));
        assert_eq!(decode(&rung).unwrap().width(), RUNG_SIDE);
        let clear = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
            300,
            200,
            image::Rgba([9, 99, 199, 0]),
        ));
        let rung = make(clear, ImageFormat::Webp).unwrap();
        assert_eq!(ImageFormat::sniff(&rung), Some(ImageFormat::Png));
        assert!(decode(&rung).unwrap().color().has_alpha());
        let exact = make(opaque, ImageFormat::Png).unwrap();
        assert_eq!(
            ImageFormat::sniff(&exact),
            Some(ImageFormat::Png),
            "lossless for PNG"
        );
        assert!(decode(b"GIF89a").is_err());
        let mut small = Vec::new();
        image::RgbImage::from_pixel(64, 64, image::Rgb([1, 2, 3]))
            .write_to(&mut Cursor::new(&mut small), image::ImageFormat::Png)
            .unwrap();
        assert!(decode(&small).is_err(), "a rung is {RUNG_SIDE} px");
    }
}
