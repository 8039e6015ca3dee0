//! Files people send instead of a picture the server reads: an iPhone's HEIC photo, a BMP, an
//! SVG drawing, a PDF, the web page a picture was on. Each is what such a file starts with,
//! enough for its magic number; none has anything a decoder could use.

/// One such file.
#[derive(Debug, Clone)]
pub struct NotAPicture {
    /// A name for it, with the extension such files have.
    pub file: &'static str,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// The words a refusal should name it with.
    pub named: &'static str,
}

/// Every kind of [`NotAPicture`].
#[must_use]
pub fn not_pictures() -> Vec<NotAPicture> {
    // ISO base media: a box size, `ftyp`, the major brand, a version, compatible brands.
    let heic = [&b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"[..], &[0x5a; 64]].concat();
    // A BITMAPFILEHEADER and the start of its BITMAPINFOHEADER.
    let bmp = [&b"BM\x46\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0"[..], &[0; 64]].concat();
    vec![
        NotAPicture {
            file: "photo.heic",
            bytes: heic,
            named: "a HEIC image",
        },
        NotAPicture {
            file: "picture.bmp",
            bytes: bmp,
            named: "a BMP image",
        },
        NotAPicture {
            file: "logo.svg",
            bytes: b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>".to_vec(),
            named: "an SVG drawing",
        },
        NotAPicture {
            file: "scan.pdf",
            bytes: b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n".to_vec(),
            named: "a PDF document",
        },
        NotAPicture {
            file: "saved-from-the-page.png",
            bytes: b"<!DOCTYPE html>\n<html><body><img src=\"me.png\"></body></html>".to_vec(),
            named: "a web page",
        },
    ]
}
