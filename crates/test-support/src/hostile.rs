//! Hostile files: valid signatures and headers claiming dimensions no limit accepts, with no
//! pixel data behind them. A decoder that trusted the header would allocate gigabytes.

/// `d=` values that must never become a redirect with the default trusted URLs (gravatar.com
/// and its subdomains under `/avatar/`, relative paths): protocol-relative and backslash
/// tricks, other schemes, userinfo and fragment tricks, look-alike and encoded hosts, ports,
/// traversal, control characters, IP literals, the empty string. `avatar-proto` checks its
/// filter refuses each; `avatar-service` sends each raw, percent-encoded once and twice.
pub const OPEN_REDIRECTS: &[&str] = &[
    "//evil.example/avatar/",
    "///evil.example/",
    "////evil.example/",
    "/\\evil.example/",
    "\\/evil.example/",
    "\\\\evil.example",
    "https:\\\\gravatar.com\\avatar\\",
    "https:/\\evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "javascript://gravatar.com/avatar/%0aalert(1)",
    "data:image/png;base64,AAAA",
    "DATA:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "ftp://gravatar.com/avatar/",
    "HTTPS://evil.example/avatar/",
    "http:/gravatar.com/avatar/",
    "http:gravatar.com/avatar/",
    "https://gravatar.com@evil.example/avatar/",
    "https://evil.example@gravatar.com/avatar/",
    "https://user:pw@gravatar.com/avatar/",
    "https://evil.example#@gravatar.com/avatar/",
    "https://evil.example\\@gravatar.com/avatar/",
    "https://evil.example/?x=https://secure.gravatar.com/avatar/",
    "https://gravatar.com.evil.example/avatar/x",
    "https://gravatar.com%2eevil.example/avatar/x",
    "https://evilgravatar.com/avatar/x",
    "https://gr\u{430}vatar.com/avatar/x",
    "https://xn--grvatar-4fg.com/avatar/x",
    "https://gravatar.com/avatar/../../evil",
    "https://gravatar.com/avatar/%2e%2e/%2e%2e/evil",
    "http\t://gravatar.com/avatar/",
    "https://gravatar.com/avatar/\r\nLocation: https://evil.example/",
    "\thttps://evil.example/",
    " //evil.example/",
    "/.//evil.example/x",
    "/a/../..//evil.example/x",
    "https://0x7f.0x0.0x0.0x1/avatar/",
    "https://[::1]/avatar/",
    "JavaScript://gravatar.com/avatar/%0aalert(1)",
    "https://gravatar.com.example.org/avatar/x",
    "https://gravatar.com%2eevil.example/avatar/",
    "https://gravatar.com./avatar/x",
    "https://.gravatar.com/avatar/x",
    "https://gravatar.com:8443/avatar/x",
    "https://gravatar.com/avatar",
    "https://gravatar.com/other/",
    "https://gravatar.com/avatar/../evil",
    "https://gravatar.com/avatar/%2e%2e/evil",
    "https://gravatar.com/avatar/..%2fevil",
    "https://gravatar.com/avatar/..%5Cevil",
    "https://gravatar.com/avatar/\nLocation: evil",
    " https://gravatar.com/avatar/",
    "",
];

/// A PNG whose IHDR claims `width` x `height` (8-bit RGBA), followed by an empty IDAT and IEND,
/// every chunk with a correct CRC.
#[must_use]
pub fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 6, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    png_chunk(&mut out, *b"IHDR", &header);
    // An empty zlib stream: no scanlines at all.
    png_chunk(
        &mut out,
        *b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    png_chunk(&mut out, *b"IEND", &[]);
    out
}

/// Appends one PNG chunk: length, kind, data, CRC-32 of kind and data.
fn png_chunk(out: &mut Vec<u8>, kind: [u8; 4], data: &[u8]) {
    let length = u32::try_from(data.len()).expect("a test chunk is small");
    out.extend_from_slice(&length.to_be_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&kind);
    crc.update(data);
    out.extend_from_slice(&kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
}

/// A GIF whose logical screen and image descriptor claim 65535 x 65535 (the format's largest).
#[must_use]
pub fn gif_claiming_the_largest() -> Vec<u8> {
    let mut gif = b"GIF89a".to_vec();
    gif.extend([0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00]);
    gif.extend([0x2c, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x00]);
    gif.extend([0x02, 0x02, 0x44, 0x01, 0x00, 0x3b]);
    gif
}

/// A WebP (VP8X) whose canvas claims `side` x `side`.
///
/// # Panics
/// If `side` is 0 or over 2^24, which VP8X cannot say.
#[must_use]
pub fn webp_claiming(side: u32) -> Vec<u8> {
    let mut vp8x = b"VP8X".to_vec();
    vp8x.extend(10u32.to_le_bytes());
    vp8x.extend([0, 0, 0, 0]);
    vp8x.extend(&(side - 1).to_le_bytes()[..3]);
    vp8x.extend(&(side - 1).to_le_bytes()[..3]);
    let mut webp = b"RIFF".to_vec();
    webp.extend(u32::try_from(4 + vp8x.len()).expect("small").to_le_bytes());
    webp.extend(b"WEBP");
    webp.extend(vp8x);
    webp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_png_bomb_is_a_well_formed_png_header() {
        let png = png_claiming(100_000, 100_000);
        let decoder = image::ImageReader::new(std::io::Cursor::new(&png))
            .with_guessed_format()
            .unwrap();
        assert_eq!(decoder.format(), Some(image::ImageFormat::Png));
        assert_eq!(decoder.into_dimensions().unwrap(), (100_000, 100_000));
    }
}
