//! Writes every default-image generator for 12 identities at 32, 80 and 256 px, and an HTML page
//! showing them as grids: generators across, identities down, one grid per size; then
//! `d=initials` for names in a dozen scripts (and the fallback for a script the font lacks)
//! at the same sizes. Run through `cargo xtask gallery --out DIR`, or directly:
//! `cargo run -p avatar-image --example gallery -- DIR`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use avatar_image::render_default;
use avatar_proto::{DefaultKeyword, HashAlgorithm, Identity, Initials};

const SIZES: [u32; 3] = [32, 80, 256];

/// Names for `d=initials`, with the address each belongs to (which picks the colour).
const NAMES: [(&str, &str); 14] = [
    ("Jane Doe", "jane@example.org"),
    ("jean-luc picard", "jl@example.org"),
    ("Élodie Ørsted", "elodie@example.org"),
    ("Σωκράτης Παπαδόπουλος", "sokratis@example.org"),
    ("Александр Пушкин", "pushkin@example.org"),
    ("Արամ Խաչատրյան", "aram@example.org"),
    ("ნინო ბერიძე", "nino@example.org"),
    ("דוד כהן", "david@example.org"),
    ("محمد علي", "mohammed@example.org"),
    ("Nguyễn Văn An", "an@example.org"),
    ("Madonna", "madonna@example.org"),
    ("42 Club", "club@example.org"),
    ("山田太郎 (no glyph: fallback)", "yamada@example.org"),
    ("(no name: fallback)", "anonymous@example.org"),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::args().nth(1).ok_or("usage: gallery OUT-DIR")?);
    let written = write_gallery(&out, &SIZES)?;
    println!(
        "wrote {written} images and {}",
        out.join("index.html").display()
    );
    Ok(())
}

/// Writes the pictures at `sizes` and `index.html` showing them into `out`; how many pictures.
/// (The tests audit the page this writes, at one size, for accessibility.)
pub(crate) fn write_gallery(
    out: &Path,
    sizes: &[u32],
) -> Result<usize, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(out)?;
    // Every drawn keyword but blank (nothing to see) and initials (its own table, by name).
    let keywords: Vec<DefaultKeyword> = DefaultKeyword::ALL
        .into_iter()
        .filter(|k| {
            k.is_drawn() && *k != DefaultKeyword::Blank && !matches!(k, DefaultKeyword::Initials(_))
        })
        .collect();
    let people: Vec<String> = (1..=12).map(|n| format!("person{n}@example.org")).collect();

    let mut html = String::from(
        "<!doctype html><html lang=en><meta charset=utf-8><title>avatars: default images</title>\
         <style>body{font:14px system-ui;margin:2em;background:#fafafa}\
         table{border-collapse:collapse;margin-bottom:2em}\
         td,th{padding:4px 6px;border-bottom:1px solid #ddd;text-align:center;vertical-align:middle}\
         th.person{text-align:left;font-weight:normal;color:#4a5568}\
         img{display:block;margin:auto}</style>\
         <main><h1>Default images</h1><p>Every generator (across) for 12 addresses (down), drawn at \
         each size, not scaled: one grid per size.</p>",
    );
    let mut written = 0;
    for &size in sizes {
        write!(html, "<h2>{size} px</h2><table><tr><th>address</th>")?;
        for keyword in &keywords {
            write!(html, "<th>{}</th>", keyword.label())?;
        }
        html.push_str("</tr>");
        for person in &people {
            let hash = Identity::parse(person)?.hash(HashAlgorithm::Md5);
            write!(html, "<tr><th class=person>{person}</th>")?;
            for &keyword in &keywords {
                let name = keyword.label();
                let rendered = render_default(keyword, &hash, size)?.ok_or("not an image")?;
                let file = format!("{name}-{hash}-{size}.png");
                std::fs::write(out.join(&file), &rendered.bytes)?;
                write!(
                    html,
                    "<td><img src='{file}' width={size} height={size} alt='{name} for {person} at {size} px'></td>"
                )?;
                written += 1;
            }
            html.push_str("</tr>");
        }
        html.push_str("</table>");
    }
    written += initials_grid(out, sizes, &mut html)?;
    html.push_str("</main>");
    std::fs::write(out.join("index.html"), html)?;
    Ok(written)
}

/// `d=initials` for every name of [`NAMES`] at every size of `sizes`, as one table.
fn initials_grid(
    out: &Path,
    sizes: &[u32],
    html: &mut String,
) -> Result<usize, Box<dyn std::error::Error>> {
    html.push_str(
        "<h2>d=initials</h2><p>Letters from <code>name=</code> (first and last word), in \
         DejaVu Sans Bold on the hash's palette colour, white or black text for WCAG AA; a \
         script the font lacks gets the fallback figure.</p><table><tr><th>name</th>",
    );
    for &size in sizes {
        write!(html, "<th>{size} px</th>")?;
    }
    html.push_str("</tr>");
    let mut written = 0;
    for (n, (label, address)) in NAMES.iter().enumerate() {
        let name = label.split(" (").next().unwrap_or(label);
        let name = if name.starts_with('(') { "" } else { name };
        let initials = Initials::from_query(None, Some(name));
        let hash = Identity::parse(address)?.hash(HashAlgorithm::Md5);
        write!(html, "<tr><th class=person>{label} &rarr; {initials}</th>")?;
        for &size in sizes {
            let rendered = render_default(DefaultKeyword::Initials(initials), &hash, size)?
                .ok_or("not an image")?;
            let file = format!("initials-{n}-{size}.png");
            std::fs::write(out.join(&file), &rendered.bytes)?;
            write!(
                html,
                "<td><img src='{file}' width={size} height={size} alt='initials {initials} at {size} px'></td>"
            )?;
            written += 1;
        }
        html.push_str("</tr>");
    }
    html.push_str("</table>");
    Ok(written)
}
