//! ICC colour profiles as phones and cameras embed them, and files carrying them: an iPhone's
//! photos are Display P3, some cameras write Adobe RGB, many Android phones tag theirs sRGB.
//! The profiles are those `moxcms` writes for these colour spaces (the standard primaries and
//! tone curves); browsers read them as they read Apple's and Adobe's own.

use moxcms::ColorProfile;

/// A Display P3 profile (an iPhone's photos).
///
/// # Panics
/// If `moxcms` cannot write it (it always can).
#[must_use]
pub fn display_p3() -> Vec<u8> {
    ColorProfile::new_display_p3()
        .encode()
        .expect("a Display P3 profile")
}

/// An Adobe RGB (1998) profile (cameras set to it).
///
/// # Panics
/// If `moxcms` cannot write it (it always can).
#[must_use]
pub fn adobe_rgb() -> Vec<u8> {
    ColorProfile::new_adobe_rgb()
        .encode()
        .expect("an Adobe RGB profile")
}

/// An sRGB profile: what a file without a profile is shown in anyway.
///
/// # Panics
/// If `moxcms` cannot write it (it always can).
#[must_use]
pub fn srgb() -> Vec<u8> {
    ColorProfile::new_srgb().encode().expect("an sRGB profile")
}

/// A grey profile (gamma 2.2), as scanners tag greyscale pictures.
///
/// # Panics
/// If `moxcms` cannot write it (it always can).
#[must_use]
pub fn grey() -> Vec<u8> {
    ColorProfile::new_gray_with_gamma(2.2)
        .encode()
        .expect("a grey profile")
}

/// `file` (a JPEG, PNG or WebP) with `icc` embedded as its colour profile (JPEG APP2, PNG
/// iCCP, WebP ICCP), as phones write it.
///
/// # Panics
/// If `file` is none of those formats.
#[must_use]
pub fn with_profile(file: &[u8], icc: &[u8]) -> Vec<u8> {
    crate::exif::edited(file, |image| {
        img_parts::ImageICC::set_icc_profile(image, Some(bytes::Bytes::copy_from_slice(icc)));
    })
}

/// The sRGB colour a browser shows for the Display P3 colour `p3` (8-bit, each channel 0 to
/// 255), by CSS Color 4's conversion: its matrices and the sRGB tone curve both spaces share,
/// written out here so that tests check the renderer against arithmetic of their own. Colours
/// outside sRGB are clipped, as a browser on an sRGB screen clips them.
#[must_use]
pub fn display_p3_as_srgb(p3: [u8; 3]) -> [u8; 3] {
    // Display P3 to linear sRGB, through XYZ (D65): CSS Color 4, section 18.
    const P3_TO_XYZ: [[f64; 3]; 3] = [
        [
            0.486_570_948_648_216_2,
            0.265_667_693_169_093_06,
            0.198_217_285_234_362_5,
        ],
        [
            0.228_974_564_069_748_8,
            0.691_738_521_836_506_4,
            0.079_286_914_093_745,
        ],
        [0.0, 0.045_113_381_858_902_64, 1.043_944_368_900_976],
    ];
    const XYZ_TO_SRGB: [[f64; 3]; 3] = [
        [
            3.240_969_941_904_522_6,
            -1.537_383_177_570_094,
            -0.498_610_760_293_003_4,
        ],
        [
            -0.969_243_636_280_879_6,
            1.875_967_501_507_720_2,
            0.041_555_057_407_175_59,
        ],
        [
            0.055_630_079_696_993_66,
            -0.203_976_958_888_976_52,
            1.056_971_514_242_878_6,
        ],
    ];
    let linear = p3.map(|level| {
        let v = f64::from(level) / 255.0;
        if v <= 0.040_45 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    });
    let times = |matrix: [[f64; 3]; 3], v: [f64; 3]| {
        matrix.map(|row| row[0] * v[0] + row[1] * v[1] + row[2] * v[2])
    };
    times(XYZ_TO_SRGB, times(P3_TO_XYZ, linear)).map(|v| {
        let v = v.clamp(0.0, 1.0);
        let encoded = if v <= 0.003_130_8 {
            v * 12.92
        } else {
            1.055 * v.powf(1.0 / 2.4) - 0.055
        };
        // In 0..=255 after the clamp, so the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let level = (encoded * 255.0).round() as u8;
        level
    })
}
