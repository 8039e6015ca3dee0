//! Colours: straight-alpha RGBA bytes, HSL for hash-chosen hues, and the few fixed colours the
//! generators share.

/// A colour with straight (not premultiplied) alpha.
pub(crate) type Colour = [u8; 4];

/// Eye whites, teeth, fangs.
pub(crate) const WHITE: Colour = [255, 255, 255, 255];

/// HSL (hue in degrees, saturation and lightness in 0..1) to an opaque colour.
pub(crate) fn hsl(hue: f32, saturation: f32, lightness: f32) -> Colour {
    let chroma = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let sector = hue.rem_euclid(360.0) / 60.0;
    let second = chroma * (1.0 - (sector % 2.0 - 1.0).abs());
    let (red, green, blue) = match sector {
        s if s < 1.0 => (chroma, second, 0.0),
        s if s < 2.0 => (second, chroma, 0.0),
        s if s < 3.0 => (0.0, chroma, second),
        s if s < 4.0 => (0.0, second, chroma),
        s if s < 5.0 => (second, 0.0, chroma),
        _ => (chroma, 0.0, second),
    };
    let lift = lightness - chroma / 2.0;
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "clamped to 0..=255"
    )]
    let byte = |value: f32| ((value + lift) * 255.0).round().clamp(0.0, 255.0) as u8;
    [byte(red), byte(green), byte(blue), 255]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_and_grey_hues() {
        assert_eq!(hsl(0.0, 1.0, 0.5), [255, 0, 0, 255]);
        assert_eq!(hsl(120.0, 1.0, 0.5), [0, 255, 0, 255]);
        assert_eq!(hsl(240.0, 1.0, 0.5), [0, 0, 255, 255]);
        assert_eq!(hsl(-120.0, 1.0, 0.5), hsl(240.0, 1.0, 0.5));
        assert_eq!(hsl(77.0, 0.0, 0.5), [128, 128, 128, 255]);
    }
}
