//! Renditions made when a picture is stored, before anyone asks for them.
//!
//! A rendition is made the first time it is asked for, and under a long tail most requests of
//! a busy minute can be first ones: each costs a decode, a resize and an encode (about a
//! millisecond), where a file costs microseconds. A site that knows the sizes its pages show
//! (say 40 and 80 px, for 1x and 2x screens) can have them made when a picture is stored:
//! [`RenderAhead`] decodes the stored file once and writes its renditions at those sizes into
//! the [`RenditionFiles`], where the server finds them as if it had rendered them itself (the
//! same bytes: the same pipeline, from the same stored file). This is what nginx serving
//! pre-rendered files does; it costs disk (about 50 KiB an avatar for the eight sizes 32 to
//! 256 px) and time when storing.
//!
//! The formats made are those a request without an extension gets: the stored format, and
//! each format the server converts to on `Accept` ([`OutputFormats`]), so a browser's request
//! finds its WebP too.

use std::sync::Arc;

use avatar_proto::{ImageFormat, OutputFormats};

use crate::cache::RenderKey;
use crate::decode::{Decoded, ImageInfo, decode, probe};
use crate::error::ImageError;
use crate::limits::Limits;
use crate::render::{Rendered, check_size, render_decoded};
use crate::rendition_files::RenditionFiles;
use crate::rung;

/// The most sizes rendered ahead: each one is a file per stored avatar and format.
pub const MAX_AHEAD_SIZES: usize = 16;

/// Makes the renditions of a stored picture at chosen sizes and keeps them as files.
///
/// ```
/// use std::sync::Arc;
/// use avatar_image::{ImageFormat, Limits, OutputFormats, RenderAhead, RenderKey, RenditionFiles};
///
/// let mut png = Vec::new();
/// image::RgbImage::from_pixel(300, 200, image::Rgb([20, 120, 200]))
///     .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
/// let content = [7; 32]; // the stored file's SHA-256, as the store computes it
///
/// let dir = tempfile::tempdir()?;
/// let files = Arc::new(RenditionFiles::open(dir.path(), 1 << 20)?);
/// let ahead = RenderAhead::new(Arc::clone(&files), [40, 80], OutputFormats::STORED_ONLY)?;
/// assert_eq!(ahead.render(&png, content, &Limits::default())?, 2);
///
/// let key = RenderKey::Stored { content, size: 80, format: ImageFormat::Png };
/// assert_eq!(files.get(&key).expect("made ahead").size, 80);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct RenderAhead {
    files: Arc<RenditionFiles>,
    sizes: Vec<u32>,
    formats: OutputFormats,
}

impl RenderAhead {
    /// Renders at `sizes` (each 1 to [`MAX_RENDER_SIZE`](crate::render::MAX_RENDER_SIZE),
    /// at most [`MAX_AHEAD_SIZES`] different ones) into `files`, in the stored format and in
    /// each of `formats` a client's `Accept` may get (the server's own setting).
    ///
    /// # Errors
    /// [`ImageError::InvalidSize`] for a size out of range; [`ImageError::AheadSizes`] for no
    /// sizes, or more than [`MAX_AHEAD_SIZES`] different ones.
    pub fn new(
        files: Arc<RenditionFiles>,
        sizes: impl IntoIterator<Item = u32>,
        formats: OutputFormats,
    ) -> Result<Self, ImageError> {
        Ok(Self {
            files,
            sizes: Self::check_sizes(sizes)?,
            formats,
        })
    }

    /// Makes no rendition ahead, only each stored picture's rung ([`crate::rung`]): what
    /// storing a picture should do whenever the server keeps rendition files, so that its
    /// small renditions, when first asked for, start from the rung instead of the picture.
    #[must_use]
    pub const fn rung_only(files: Arc<RenditionFiles>) -> Self {
        Self {
            files,
            sizes: Vec::new(),
            formats: OutputFormats::STORED_ONLY,
        }
    }

    /// The sizes [`new`](Self::new) would render at (ascending, each once), or why it would
    /// refuse them: to check a configuration before anything is opened.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn check_sizes(sizes: impl IntoIterator<Item = u32>) -> Result<Vec<u32>, ImageError> {
        let mut sizes: Vec<u32> = sizes.into_iter().collect();
        for &size in &sizes {
            check_size(size)?;
        }
        sizes.sort_unstable();
        sizes.dedup();
        if sizes.is_empty() || sizes.len() > MAX_AHEAD_SIZES {
            return Err(ImageError::AheadSizes {
                count: sizes.len(),
                limit: MAX_AHEAD_SIZES,
            });
        }
        Ok(sizes)
    }

    /// The sizes rendered, ascending.
    #[must_use]
    pub fn sizes(&self) -> &[u32] {
        &self.sizes
    }

    /// The rendition files written to.
    #[must_use]
    pub fn files(&self) -> &Arc<RenditionFiles> {
        &self.files
    }

    /// The formats a request without an extension may get for a picture stored as `source`:
    /// `source` first, then each format `Accept` can choose instead, by the server's own rule.
    #[must_use]
    pub fn formats_for(&self, source: ImageFormat) -> Vec<ImageFormat> {
        let mut formats = vec![source];
        for candidate in [ImageFormat::Webp, ImageFormat::Avif] {
            let chosen = self
                .formats
                .choose(None, Some(candidate.mime_type().as_bytes()), source)
                .format;
            if !formats.contains(&chosen) {
                formats.push(chosen);
            }
        }
        formats
    }

    /// Decodes `stored` (the bytes as stored, whose SHA-256 is `content`) once and keeps its
    /// rendition at every size and format as a file, and its rung ([`crate::rung`]) when it
    /// has one (a still larger than [`RUNG_SIDE`](crate::rung::RUNG_SIDE)); answers how many
    /// renditions were written (a rendition already kept is not made again, and storing a
    /// picture again decodes nothing). Blocks: call it from a blocking thread.
    ///
    /// # Errors
    /// Anything the decoder refuses (`stored` breaks `limits`), or an encoder's error; the
    /// files made before it stay. A file that cannot be written is logged and skipped: the
    /// rendition is made when first asked for instead.
    pub fn render(
        &self,
        stored: &[u8],
        content: [u8; 32],
        limits: &Limits,
    ) -> Result<usize, ImageError> {
        let source = ImageFormat::sniff(stored).ok_or(ImageError::UnknownFormat)?;
        let mut picture = Picture::new(stored, &content, &self.files, limits);
        if may_have_rung(stored, limits)? && !self.files.has_rung(&content) {
            picture.rung()?;
        }
        let mut written = 0;
        for format in self.formats_for(source) {
            for &size in &self.sizes {
                let key = RenderKey::Stored {
                    content,
                    size,
                    format,
                };
                if self.files.has_file(&key) {
                    continue;
                }
                let rendered = picture.render(size, format)?;
                // One that cannot be written is made when asked for; the files count and log
                // the failure (at most once a minute: a full disk fails every one).
                if self.files.put(&key, &rendered).is_ok() {
                    written += 1;
                }
            }
        }
        Ok(written)
    }
}

/// Whether the header of `stored` says it is larger than the rung: the smaller side does not
/// change when EXIF turns the picture upright. An animation may say so and still have none.
fn may_have_rung(stored: &[u8], limits: &Limits) -> Result<bool, ImageError> {
    let info = probe(stored, limits)?;
    Ok(rung::serves(0, info.width, info.height))
}

/// A stored picture rendered at several sizes: decoded once, its rung made (or read) once.
struct Picture<'a> {
    stored: &'a [u8],
    content: &'a [u8; 32],
    files: &'a RenditionFiles,
    limits: &'a Limits,
    decoded: Option<(ImageInfo, Decoded)>,
    rung: Option<rung::Rung>,
}

impl<'a> Picture<'a> {
    const fn new(
        stored: &'a [u8],
        content: &'a [u8; 32],
        files: &'a RenditionFiles,
        limits: &'a Limits,
    ) -> Self {
        Self {
            stored,
            content,
            files,
            limits,
            decoded: None,
            rung: None,
        }
    }

    fn decoded(&mut self) -> Result<&(ImageInfo, Decoded), ImageError> {
        match self.decoded {
            Some(ref done) => Ok(done),
            None => Ok(self.decoded.insert(decode(self.stored, self.limits)?)),
        }
    }

    /// Makes the rung and keeps it, if the picture has one.
    fn rung(&mut self) -> Result<(), ImageError> {
        let image = match self.decoded()? {
            (_, Decoded::Still(image)) if rung::serves(0, image.width(), image.height()) => {
                image.clone()
            }
            _ => return Ok(()),
        };
        let source = ImageFormat::sniff(self.stored).ok_or(ImageError::UnknownFormat)?;
        self.rung = Some(rung::make_and_keep(
            image,
            source,
            self.files,
            self.content,
        )?);
        Ok(())
    }

    /// The rendition at `size` as `format`, as [`render_stored`](crate::render_stored) makes
    /// it.
    fn render(&mut self, size: u32, format: ImageFormat) -> Result<Rendered, ImageError> {
        if rung::renders_from(size) && self.rung.is_none() && self.decoded.is_none() {
            self.rung = rung::kept(self.files, self.content);
        }
        if rung::renders_from(size) && self.rung.is_none() {
            self.rung()?;
        }
        let source = ImageFormat::sniff(self.stored).ok_or(ImageError::UnknownFormat)?;
        match &self.rung {
            Some(rung) if rung::renders_from(size) => rung.clone().render(source, size, format),
            _ => {
                let (_, picture) = self.decoded()?;
                render_decoded(source, picture.clone(), size, format)
            }
        }
    }
}
