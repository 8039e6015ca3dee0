//! Storing what a user uploads, for applications that let people set their own picture.
//!
//! [`store_upload`] is the whole upload path of an application: it validates the bytes off the
//! async runtime under the decoding [`Limits`], then stores them once for every verified address
//! of the user. A refused upload is a [`ServiceError`] whose [`status`](ServiceError::status) is
//! the HTTP answer (413, 415 or 422) and whose message can be shown to the user; nothing is
//! stored. `examples/axum.rs` mounts it as an upload route. [`store_upload_with`] also stores
//! the square the person chose in a cropping tool ([`UploadOptions::crop`]) instead of the
//! centred one, and makes the picture's renditions at chosen sizes before storing it
//! ([`UploadOptions::render_ahead`]), so its first visitors get files, not renders.
//!
//! ```
//! use avatar_image::Limits;
//! use avatar_proto::{HashAlgorithm, Identity};
//! use avatar_service::upload::store_upload;
//! use avatar_store::{MemoryStore, Store as _};
//! use http::StatusCode;
//!
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let mut png = Vec::new();
//! image::RgbImage::from_pixel(300, 200, image::Rgb([20, 120, 200]))
//!     .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
//! let store = MemoryStore::new();
//! let alice = [Identity::parse("alice@example.org")?, Identity::parse("alice@work.example")?];
//!
//! let stored = store_upload(&store, &alice, png.into(), &Limits::default()).await?;
//! assert_eq!((stored.image.width, stored.image.height), (300, 200));
//! assert_eq!(stored.version.len(), 12);
//! assert!(store.contains(&alice[1].hash(HashAlgorithm::Md5)).await?);
//!
//! let refused = store_upload(&store, &alice, "not a picture".into(), &Limits::default()).await;
//! assert_eq!(refused.unwrap_err().status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::OnceLock;

use avatar_image::{Crop, ImageError, ImageInfo, Limits, RenderAhead, prepare, prepare_cropped};
use avatar_proto::{Identity, hex};
use avatar_store::{Store, StoredImage};
use bytes::Bytes;
use tokio::sync::Semaphore;

use crate::ServiceError;

/// What [`store_upload`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Uploaded {
    /// The format, and the width and height of the picture as shown (EXIF orientation applied).
    pub image: ImageInfo,
    /// A short digest of the stored bytes (12 hex digits), for the cache-busting `v=` of avatar
    /// URLs ([`AvatarUrlBuilder::version`](avatar_proto::AvatarUrlBuilder::version)): it
    /// changes whenever the picture does, so the uploader sees the new one at once.
    pub version: String,
    /// The side of the square stored instead of the upload: the crop asked for
    /// ([`UploadOptions::crop`]), or the centred square of an upload larger than
    /// [`Limits::master_side`], upright, at most that side; `None` when the upload was stored
    /// as it came.
    pub stored_square: Option<u32>,
    /// The square stored, when one was chosen ([`UploadOptions::crop`]).
    pub crop: Option<Crop>,
    /// How many rendition files were made ahead
    /// ([`store_upload_with`]; 0 otherwise, or when they were all kept already).
    pub rendered_ahead: usize,
}

impl Uploaded {
    /// The picture stored, which is not always the upload: its format (always the upload's),
    /// and the [`stored_square`](Self::stored_square)'s side when a square was stored
    /// instead, else the upload's width and height. What a later look at the store finds.
    #[must_use]
    pub fn stored_image(&self) -> ImageInfo {
        match self.stored_square {
            Some(side) => ImageInfo {
                width: side,
                height: side,
                ..self.image
            },
            None => self.image,
        }
    }
}

/// Validates an uploaded image and stores it for `identities` (the verified addresses of one
/// user): the image is kept once, found by every address's hashes, and replaces what each had.
///
/// The whole file is decoded before anything is stored, on a blocking thread so the async
/// runtime keeps serving (at most one decode per CPU at a time in the process), and refused if
/// it breaks `limits` (use the service's limits; the
/// default allows 8 MiB files). EXIF orientation is honoured: the returned dimensions are those
/// of the upright picture, and every rendition served from it is drawn upright, in sRGB (a
/// picture with a Display P3 or Adobe RGB profile is converted), with the metadata stripped. The stored file is the upload itself, byte for byte, unless its longest
/// side is over [`Limits::master_side`] (512 px by default): then it is the master
/// [`prepare`] makes (the centred square at that side, upright, in sRGB), so that no render ever decodes
/// more than that, whatever was uploaded.
///
/// # Errors
/// - [`ServiceError::Refused`] when the bytes are not an acceptable image ([`status`]: 413 for a
///   file over the size limit, 415 for an unknown format, 422 for refused dimensions, a
///   decompression bomb, too many frames or a corrupt file); the store is untouched;
/// - [`ServiceError::NoIdentity`] when `identities` is empty (a bug in the caller: 500);
/// - [`ServiceError::Store`] when the store fails (500); [`ServiceError::Task`] if the
///   validation thread could not run.
///
/// [`status`]: ServiceError::status
pub async fn store_upload<St: Store>(
    store: &St,
    identities: &[Identity],
    bytes: Bytes,
    limits: &Limits,
) -> Result<Uploaded, ServiceError> {
    store_upload_with(store, identities, bytes, limits, &UploadOptions::new()).await
}

/// What [`store_upload_with`] does beyond [`store_upload`]: store the square the person chose
/// instead of the centred one, and make renditions before storing. The default does neither.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct UploadOptions {
    crop: Option<Crop>,
    ahead: Option<RenderAhead>,
}

impl UploadOptions {
    /// Neither a crop nor renditions ahead: what [`store_upload`] does.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `crop`, the square the person chose of their picture (in pixels of the picture
    /// as shown, EXIF orientation applied: what a page's cropping tool gives), instead of the
    /// centred square, at its own side or [`Limits::master_side`], whichever is smaller. A
    /// crop that does not fit in the picture refuses the upload (422), and nothing is stored.
    pub const fn crop(mut self, crop: Crop) -> Self {
        self.crop = Some(crop);
        self
    }

    /// Makes the picture's renditions at `ahead`'s sizes before it is stored, as files where
    /// the service looks for them ([`RenderAhead`]; give it the service's own
    /// [`rendition_files`](crate::AvatarService::rendition_files)).
    pub fn render_ahead(mut self, ahead: RenderAhead) -> Self {
        self.ahead = Some(ahead);
        self
    }
}

/// [`store_upload`] with `options`: the square the person chose stored instead of the centred
/// one ([`UploadOptions::crop`]), and, before the picture is stored (so no request finds it
/// without them), its renditions made and kept as files where the service looks for them
/// ([`UploadOptions::render_ahead`]). A rendition that cannot be made or kept is logged and
/// made when first asked for instead; the upload is stored all the same.
///
/// ```
/// use std::sync::Arc;
/// use avatar_image::{Crop, OutputFormats, RenderAhead, RenditionFiles};
/// use avatar_proto::Identity;
/// use avatar_service::upload::{UploadOptions, store_upload_with};
/// use avatar_store::MemoryStore;
///
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let mut png = Vec::new();
/// image::RgbImage::from_pixel(300, 200, image::Rgb([20, 120, 200]))
///     .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
/// let dir = tempfile::tempdir()?;
/// let files = Arc::new(RenditionFiles::open(dir.path(), 64 << 20)?);
/// // The sizes the site's pages show, in the stored format and in WebP for browsers.
/// let ahead = RenderAhead::new(Arc::clone(&files), [40, 80], OutputFormats::default())?;
///
/// // The square Alice chose in the page's cropping tool.
/// let options = UploadOptions::new()
///     .crop(Crop { x: 100, y: 10, side: 180 })
///     .render_ahead(ahead);
///
/// let alice = [Identity::parse("alice@example.org")?];
/// let stored = store_upload_with(&MemoryStore::new(), &alice, png.into(),
///     &avatar_image::Limits::default(), &options).await?;
/// assert_eq!(stored.stored_square, Some(180));
/// assert_eq!(stored.rendered_ahead, 4);
/// // And the 128 px rung its sizes up to 96 px (and 128 px) are rendered from (it is larger
/// // than 128 px).
/// assert_eq!(files.len(), 4 + 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`store_upload`]; [`ServiceError::Refused`] with
/// [`ImageError::CropOutside`] (422) when the crop does not fit in the picture.
pub async fn store_upload_with<St: Store>(
    store: &St,
    identities: &[Identity],
    bytes: Bytes,
    limits: &Limits,
    options: &UploadOptions,
) -> Result<Uploaded, ServiceError> {
    if identities.is_empty() {
        return Err(ServiceError::NoIdentity);
    }
    let (image, stored, stored_square, rendered_ahead) =
        prepare_off_runtime(bytes, *limits, options.clone()).await?;
    let content = stored.content;
    store.put_shared(identities, stored.bytes).await?;
    Ok(Uploaded {
        image,
        version: version(&content),
        stored_square,
        crop: options.crop,
        rendered_ahead,
    })
}

/// The [`Uploaded::version`] of a stored picture whose SHA-256 is `content`
/// ([`StoredImage::content`]): its first 12 hex digits.
#[must_use]
pub fn version(content: &[u8; 32]) -> String {
    hex::encode_lower(&content[..6])
}

/// At most one upload is decoded per CPU at a time, in the whole process: each decode may take
/// up to [`Limits::max_decoded_bytes`] of memory, so a burst of large uploads waits its turn
/// rather than taking gigabytes at once.
fn decoding_slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS
        .get_or_init(|| Semaphore::new(std::thread::available_parallelism().map_or(2, usize::from)))
}

/// [`prepare`], the stored file's digest, the side of the square stored instead (if one was)
/// and the renditions made ahead on a blocking thread,
/// once a decoding slot is free; files over the size limit are refused before that, without a
/// thread.
async fn prepare_off_runtime(
    bytes: Bytes,
    limits: Limits,
    options: UploadOptions,
) -> Result<(ImageInfo, StoredImage, Option<u32>, usize), ServiceError> {
    if bytes.len() > limits.max_input_bytes {
        return Err(ServiceError::Refused(ImageError::InputTooLarge {
            size: bytes.len(),
            limit: limits.max_input_bytes,
        }));
    }
    // The semaphore is never closed, so acquiring only fails if it were.
    let _slot = decoding_slots()
        .acquire()
        .await
        .map_err(|err| ServiceError::Task(err.to_string()))?;
    tokio::task::spawn_blocking(move || {
        let prepared = match options.crop {
            Some(crop) => prepare_cropped(&bytes, &limits, crop)?,
            None => prepare(&bytes, &limits)?,
        };
        let stored_square = prepared.master.as_ref().map(|master| master.size);
        let stored = StoredImage::new(prepared.master.map_or(bytes, |master| master.bytes));
        let rendered_ahead = options.ahead.map_or(0, |ahead| {
            ahead
                .render(&stored.bytes, stored.content, &limits)
                .unwrap_or_else(|err| {
                    tracing::warn!(error = %err, "cannot render an upload ahead; its renditions will be made when asked for");
                    0
                })
        });
        Ok((prepared.info, stored, stored_square, rendered_ahead))
    })
    .await
    .map_err(|err| ServiceError::Task(err.to_string()))?
    .map_err(ServiceError::Refused)
}
