//! Writes every default-image generator for 12 hashes at 32, 80 and 256 px, plus an HTML page
//! showing them side by side. Run through `cargo xtask gallery --out DIR`, or directly:
//! `cargo run -p avatar-image --example gallery -- DIR`.

use std::fmt::Write as _;
use std::path::PathBuf;

use avatar_image::render_default;
use avatar_proto::{DefaultKeyword, HashAlgorithm, Identity};

const SIZES: [u32; 3] = [32, 80, 256];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::args().nth(1).ok_or("usage: gallery OUT-DIR")?);
    std::fs::create_dir_all(&out)?;
    // Every drawn keyword but blank (nothing to see).
    let keywords = DefaultKeyword::ALL
        .into_iter()
        .filter(|k| k.is_drawn() && *k != DefaultKeyword::Blank);
    let people: Vec<String> = (1..=12).map(|n| format!("person{n}@example.org")).collect();

    let mut html = String::from(
        "<!doctype html><meta charset=utf-8><title>avatars: default images</title>\
         <style>body{font:14px system-ui;margin:2em;background:#fafafa}table{border-collapse:collapse}\
         td,th{padding:6px;border-bottom:1px solid #ddd;vertical-align:middle;text-align:left}\
         img{image-rendering:auto;margin-right:6px;vertical-align:middle}</style>\
         <h1>Default images</h1><p>Each generator for 12 addresses at 32, 80 and 256 px, drawn at that size.</p>",
    );
    let mut written = 0;
    for keyword in keywords {
        let name = keyword.label();
        write!(html, "<h2>{name}</h2><table>")?;
        for person in &people {
            let hash = Identity::parse(person)?.hash(HashAlgorithm::Md5);
            write!(html, "<tr><th>{person}</th><td>")?;
            for size in SIZES {
                let rendered = render_default(keyword, &hash, size)?.ok_or("not an image")?;
                let file = format!("{name}-{hash}-{size}.png");
                std::fs::write(out.join(&file), &rendered.bytes)?;
                write!(
                    html,
                    "<img src='{file}' width={size} height={size} alt='{name} {size}'>"
                )?;
                written += 1;
            }
            html.push_str("</td></tr>");
        }
        html.push_str("</table>");
    }
    std::fs::write(out.join("index.html"), html)?;
    println!(
        "wrote {written} images and {}",
        out.join("index.html").display()
    );
    Ok(())
}
