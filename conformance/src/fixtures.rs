//! The fixture identities and their images: what a server under test must hold before the suite
//! runs. `avatar-conformance fixtures --out DIR` writes them with a manifest so that another
//! implementation can load them first.

use std::io::Cursor;
use std::path::Path;

use avatar_proto::{HashAlgorithm, Identity};
use avatar_store::{MemoryStore, Store as _};
use bytes::Bytes;
use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame, Rgb, RgbImage, Rgba, RgbaImage};
use serde::Serialize;

use crate::error::ConformanceError;

/// One identity the suite refers to by `name` in its request templates.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The short name used in templates: `{george}` is its MD5, `{george.sha256}` its SHA-256.
    pub name: &'static str,
    /// The email address or OpenID URL.
    pub identity: &'static str,
    /// The file name in a fixtures directory, or `None` for identities that must have no avatar.
    pub file: Option<&'static str>,
    /// What the file holds, in words.
    pub description: &'static str,
    /// For another spelling of a stored identity (an OpenID variant): the fixture it resolves to.
    pub variant_of: Option<&'static str>,
}

/// Every identity the suite uses. The ones without a file must have no avatar on the target.
pub const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "george",
        identity: "George@example.com",
        file: Some("george.png"),
        description: "PNG, 300 x 200, three vertical bands: red, green, blue",
        variant_of: None,
    },
    Fixture {
        name: "jpeg",
        identity: "jpeg@example.com",
        file: Some("jpeg.jpg"),
        description: "JPEG, 90 x 120, orange",
        variant_of: None,
    },
    Fixture {
        name: "animated",
        identity: "animated@example.com",
        file: Some("animated.gif"),
        description: "GIF, 40 x 40, three frames of 100 ms",
        variant_of: None,
    },
    Fixture {
        name: "small",
        identity: "small@example.com",
        file: Some("small.png"),
        description: "PNG, 20 x 20, for upscaling",
        variant_of: None,
    },
    Fixture {
        name: "openid",
        identity: "https://example.com/id/Bob",
        file: Some("openid.png"),
        description: "PNG, 64 x 64, stored for an OpenID URL",
        variant_of: None,
    },
    Fixture {
        name: "nobody",
        identity: "nobody@example.com",
        file: None,
        description: "no avatar: every request for it is a miss",
        variant_of: None,
    },
    Fixture {
        name: "stranger",
        identity: "stranger@example.net",
        file: None,
        description: "no avatar: a second miss, to compare generated defaults",
        variant_of: None,
    },
    Fixture {
        name: "writer",
        identity: "writer@example.com",
        file: None,
        description: "no avatar at first; the XMPP storage cases set one as its owner",
        variant_of: None,
    },
    Fixture {
        name: "openid-http",
        identity: "http://example.com/id/Bob",
        file: None,
        description: "the openid fixture over http: ivatar answers to all four variants",
        variant_of: Some("openid"),
    },
    Fixture {
        name: "openid-slash",
        identity: "https://example.com/id/Bob/",
        file: None,
        description: "the openid fixture with a trailing slash",
        variant_of: Some("openid"),
    },
    Fixture {
        name: "openid-http-slash",
        identity: "http://example.com/id/Bob/",
        file: None,
        description: "the openid fixture over http with a trailing slash",
        variant_of: Some("openid"),
    },
];

/// The fixture called `name`.
#[must_use]
pub fn fixture(name: &str) -> Option<&'static Fixture> {
    FIXTURES.iter().find(|fixture| fixture.name == name)
}

impl Fixture {
    /// The parsed identity.
    ///
    /// # Panics
    /// Never for the constants above (a unit test parses every one).
    #[must_use]
    pub fn parsed(&self) -> Identity {
        Identity::parse(self.identity).expect("fixture identities are valid")
    }

    /// Lowercase hex MD5 (SHA-256 for an OpenID, which has no MD5).
    #[must_use]
    pub fn md5(&self) -> String {
        let identity = self.parsed();
        let algorithm = match identity {
            Identity::Email(_) => HashAlgorithm::Md5,
            Identity::OpenId(_) => HashAlgorithm::Sha256,
        };
        identity.hash(algorithm).to_string()
    }

    /// Lowercase hex SHA-256.
    #[must_use]
    pub fn sha256(&self) -> String {
        self.parsed().hash(HashAlgorithm::Sha256).to_string()
    }

    /// The image bytes, for fixtures that have one.
    #[must_use]
    pub fn image(&self) -> Option<Vec<u8>> {
        Some(match self.name {
            "george" => encode(
                &RgbImage::from_fn(300, 200, |x, _| match x / 100 {
                    0 => Rgb(RED),
                    1 => Rgb(GREEN),
                    _ => Rgb(BLUE),
                }),
                image::ImageFormat::Png,
            ),
            "jpeg" => encode(
                &RgbImage::from_pixel(90, 120, Rgb(ORANGE)),
                image::ImageFormat::Jpeg,
            ),
            "animated" => animated_gif(),
            "small" => encode(
                &RgbImage::from_fn(20, 20, |x, y| Rgb([channel(x * 12), channel(y * 12), 90])),
                image::ImageFormat::Png,
            ),
            "openid" => encode(
                &RgbImage::from_fn(64, 64, |x, y| {
                    if (x / 8 + y / 8) % 2 == 0 {
                        Rgb(DARK)
                    } else {
                        Rgb(LIGHT)
                    }
                }),
                image::ImageFormat::Png,
            ),
            _ => return None,
        })
    }
}

impl Fixture {
    /// Whether `served` is a rendition of this fixture's image: any centred or off-centre
    /// square crop of it, at any size, through any codec. It tells a hit from a drawn default,
    /// which is what a server holding none of the fixtures serves instead. Fixtures without an
    /// image recognise nothing.
    #[must_use]
    pub fn recognise(&self, served: &RgbImage) -> bool {
        if served.width() == 0 || served.height() == 0 {
            return false;
        }
        let row = middle_row(served);
        let share = |colour: [u8; 3]| {
            row.iter().filter(|pixel| near(**pixel, colour)).count() * 100 / row.len()
        };
        match self.name {
            // Every square crop of the three bands holds all of the green one.
            "george" => {
                let (red, green, blue) = (share(RED), share(GREEN), share(BLUE));
                green >= 35 && red + blue >= 15 && red + green + blue >= 85
            }
            "jpeg" => share(ORANGE) >= 90,
            "animated" => near(at(served, 50, 50), FIRST_FRAME),
            "small" => {
                near(at(served, 10, 10), [24, 24, 90]) && near(at(served, 90, 90), [216, 216, 90])
            }
            "openid" => share(DARK) >= 25 && share(LIGHT) >= 25,
            _ => false,
        }
    }
}

/// George's bands, the JPEG's orange, the first frame of the GIF, the OpenID checkers.
pub(crate) const RED: [u8; 3] = [220, 40, 40];
pub(crate) const GREEN: [u8; 3] = [40, 180, 60];
pub(crate) const BLUE: [u8; 3] = [40, 60, 220];
const ORANGE: [u8; 3] = [200, 120, 30];
const FIRST_FRAME: [u8; 3] = [30, 50, 100];
const DARK: [u8; 3] = [30, 30, 30];
const LIGHT: [u8; 3] = [240, 240, 240];

/// Twenty pixels across the middle row, at 2.5 %, 7.5 %, ... 97.5 % of the width.
fn middle_row(image: &RgbImage) -> Vec<[u8; 3]> {
    (0..20u32)
        .map(|step| {
            let x = (image.width() * (step * 5 + 2) / 100).min(image.width() - 1);
            image.get_pixel(x, image.height() / 2).0
        })
        .collect()
}

/// The pixel at `x_percent`, `y_percent` of the image.
fn at(image: &RgbImage, x_percent: u32, y_percent: u32) -> [u8; 3] {
    let x = (image.width() * x_percent / 100).min(image.width() - 1);
    let y = (image.height() * y_percent / 100).min(image.height() - 1);
    image.get_pixel(x, y).0
}

/// Whether two colours are close: each channel within 40 (codecs and resampling move them).
pub(crate) fn near(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(a, b)| a.abs_diff(b) <= 40)
}

/// A colour channel from a small computed value (saturating at 255).
fn channel(value: u32) -> u8 {
    u8::try_from(value).unwrap_or(u8::MAX)
}

fn encode(image: &RgbImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    // Encoding an in-memory RGB image into a Vec cannot fail for these formats.
    let _ = image.write_to(&mut Cursor::new(&mut out), format);
    out
}

fn animated_gif() -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut out);
        let _ = encoder.set_repeat(Repeat::Infinite);
        for shade in [FIRST_FRAME[0], 130, 230] {
            let frame =
                RgbaImage::from_pixel(40, 40, Rgba([shade, FIRST_FRAME[1], FIRST_FRAME[2], 255]));
            let _ = encoder.encode_frame(Frame::from_parts(
                frame,
                0,
                0,
                Delay::from_numer_denom_ms(100, 1),
            ));
        }
    }
    out
}

/// A memory store holding every fixture avatar: what the in-process targets serve.
///
/// # Errors
/// [`ConformanceError::Store`] if a fixture cannot be stored (it never should).
pub async fn memory_store() -> Result<MemoryStore, ConformanceError> {
    let store = MemoryStore::new();
    for fixture in FIXTURES {
        if let Some(bytes) = fixture.image() {
            store.put(&fixture.parsed(), Bytes::from(bytes)).await?;
        }
    }
    Ok(store)
}

/// The manifest written next to the images: which identity each file belongs to.
#[derive(Debug, Serialize)]
pub struct Manifest {
    /// Format version of this file.
    pub version: u32,
    /// Identities to import before running the suite (the ones with a file).
    pub avatars: Vec<ManifestEntry>,
    /// Identities that must have no avatar.
    pub absent: Vec<String>,
}

/// One avatar to import.
#[derive(Debug, Serialize)]
pub struct ManifestEntry {
    /// The email address or OpenID URL.
    pub identity: String,
    /// The file, relative to the manifest.
    pub file: String,
    /// Its MD5 (SHA-256 for an OpenID).
    pub md5: String,
    /// Its SHA-256.
    pub sha256: String,
    /// What the image is.
    pub description: String,
}

/// The manifest for [`FIXTURES`].
#[must_use]
pub fn manifest() -> Manifest {
    Manifest {
        version: 1,
        avatars: FIXTURES
            .iter()
            .filter_map(|fixture| {
                Some(ManifestEntry {
                    identity: fixture.identity.to_owned(),
                    file: fixture.file?.to_owned(),
                    md5: fixture.md5(),
                    sha256: fixture.sha256(),
                    description: fixture.description.to_owned(),
                })
            })
            .collect(),
        absent: FIXTURES
            .iter()
            .filter(|fixture| fixture.file.is_none() && fixture.variant_of.is_none())
            .map(|fixture| fixture.identity.to_owned())
            .collect(),
    }
}

/// Writes every fixture image and `manifest.json` into `dir` (created if missing).
///
/// # Errors
/// [`ConformanceError::File`] when the directory or a file cannot be written.
pub fn write_fixtures(dir: &Path) -> Result<Manifest, ConformanceError> {
    let io = |source, path: &Path| ConformanceError::File {
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|err| io(err, dir))?;
    for fixture in FIXTURES {
        if let (Some(file), Some(bytes)) = (fixture.file, fixture.image()) {
            let path = dir.join(file);
            std::fs::write(&path, bytes).map_err(|err| io(err, &path))?;
        }
    }
    let manifest = manifest();
    let path = dir.join("manifest.json");
    let text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    std::fs::write(&path, text + "\n").map_err(|err| io(err, &path))?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixture_parses_and_every_file_has_an_image() {
        for fixture in FIXTURES {
            let _ = fixture.parsed();
            assert_eq!(
                fixture.file.is_some(),
                fixture.image().is_some(),
                "{}",
                fixture.name
            );
        }
        assert_eq!(
            fixture("george").unwrap().md5(),
            "40f8d096a3777232204cb3f796c577b7"
        );
    }
}
