//! Making what the runs read: importing the corpus (the import rate), the renditions made
//! ahead, the static files nginx serves, and the workload's wrk script.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::Ahead;
use super::drive::{Counters, wait_for_admin};
use crate::bench::TASK;
use crate::bench::client;
use crate::bench::nginx::free_loopback_addr;
use crate::process::{Running, start_server_with, wait_bounded};

/// nginx's files: every distinct rendition the workload asks for (the corpus's
/// `renditions.txt`), as `avatars serve` answers it over the renditions the import made ahead
/// (so nginx serves the server's very bytes), written where the static workload asks for it
/// (`static/r/MD5-SIZE.EXT`). The server must render none: the import made every size of every
/// avatar. The seconds it took.
pub(super) fn static_files(
    avatars: &Path,
    data: &Path,
    ahead: &Ahead,
    corpus: &Path,
) -> Result<f64, String> {
    let started = Instant::now();
    let list = corpus.join("renditions.txt");
    let renditions =
        fs::read_to_string(&list).map_err(|err| format!("reading {}: {err}", list.display()))?;
    let pairs = renditions
        .lines()
        .map(|line| {
            line.split_once(' ')
                .ok_or_else(|| format!("{}: not two paths: {line:?}", list.display()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let root = corpus.join("static");
    fs::create_dir_all(root.join("r"))
        .map_err(|err| format!("creating {}: {err}", root.display()))?;
    eprintln!(
        "{TASK}: scale: nginx's files, the workload's {} renditions as avatars serve answers them over the renditions made ahead ...",
        pairs.len()
    );
    let admin = free_loopback_addr()?;
    let args = ahead.serve_args(&admin);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (server, url) = start_server_with(avatars, data, TASK, &args, None)?;
    wait_for_admin(&admin)?;
    let addr = url.trim_start_matches("http://");
    let next = AtomicUsize::new(0);
    let fetch = || -> Result<(), String> {
        let mut connection = client::Connection::open(addr)?;
        while let Some(&(asked, file)) = pairs.get(next.fetch_add(1, Ordering::Relaxed)) {
            let response = connection.get(asked, None)?;
            if response.status != 200 {
                return Err(format!(
                    "{url}{asked}: {} where 200 was expected",
                    response.status
                ));
            }
            let path = root.join(file.trim_start_matches('/'));
            fs::write(&path, &response.body)
                .map_err(|err| format!("writing {}: {err}", path.display()))?;
        }
        Ok(())
    };
    // Two connections: the server answers one while this writes the other's file.
    std::thread::scope(|scope| {
        let other = scope.spawn(fetch);
        let this = fetch();
        other
            .join()
            .map_err(|_| "a fetching thread panicked".to_owned())??;
        this
    })?;
    let renders = Counters::scrape(&admin)?.renders;
    drop(server);
    if renders > 0.0 {
        return Err(format!(
            "the server rendered {renders} of the workload's renditions, which the import should \
             have made ahead (do the import's and the server's keys disagree?)"
        ));
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "{TASK}: scale: wrote nginx's {} files in {seconds:.0} s",
        pairs.len()
    );
    Ok(seconds)
}

/// The files under `dir` (its folders' files) and the bytes they take in 4 KiB blocks.
pub(super) fn on_disk(dir: &Path) -> Result<(u64, u64), String> {
    let read =
        |dir: &Path| fs::read_dir(dir).map_err(|err| format!("reading {}: {err}", dir.display()));
    let (mut files, mut bytes) = (0, 0);
    for folder in read(dir)?.flatten() {
        if folder.path().is_dir() {
            for file in read(&folder.path())?.flatten() {
                let length = file.metadata().map_or(0, |metadata| metadata.len());
                files += 1;
                bytes += length.div_ceil(4096).max(1) * 4096;
            }
        }
    }
    Ok((files, bytes))
}

/// What [`import`] took and made.
/// How long a step that writes rendition files took, and what it left in their folder.
pub(super) struct Imported {
    pub(super) seconds: f64,
    pub(super) files: u64,
    pub(super) bytes: u64,
}

impl Imported {
    /// The seconds since `started`, and the files in `dir` and the bytes they take.
    pub(super) fn since(started: Instant, dir: &Path) -> Result<Self, String> {
        let seconds = started.elapsed().as_secs_f64();
        let (files, bytes) = on_disk(dir)?;
        Ok(Self {
            seconds,
            files,
            bytes,
        })
    }
}

/// Imports the corpus's `count` avatars from its manifests at once, one `avatars import` each
/// (the rest start once the first has made the store), as a site would: the rung of each
/// picture larger than 128 px made into the data directory's own rendition files, which the
/// server rendering as asked starts from.
pub(super) fn import(
    avatars: &Path,
    data: &Path,
    corpus: &Path,
    count: u32,
) -> Result<Imported, String> {
    let manifests: Vec<_> = (0..u32::MAX)
        .map(|part| corpus.join(format!("manifest-{part}.json")))
        .take_while(|manifest| manifest.exists())
        .collect();
    let (first, others) = manifests
        .split_first()
        .ok_or_else(|| format!("no manifest-0.json in {}", corpus.display()))?;
    eprintln!(
        "{TASK}: scale: importing with {} avatars import --manifest at once ...",
        manifests.len(),
    );
    let started = Instant::now();
    let spawn = |manifest: &Path| {
        Command::new(avatars)
            .arg("import")
            .arg("--data-dir")
            .arg(data)
            .arg("--manifest")
            .arg(manifest)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map(Running)
            .map_err(|err| format!("cannot run avatars import: {err}"))
    };
    let mut importers = vec![spawn(first)?];
    while !data.join("VERSION").exists() {
        if started.elapsed() > Duration::from_secs(60) {
            return Err("the first import made no store within 60 s".to_owned());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for manifest in others {
        importers.push(spawn(manifest)?);
    }
    for importer in &mut importers {
        if !wait_bounded(&mut importer.0, "avatars import", Duration::from_secs(1200))? {
            return Err("avatars import failed".to_owned());
        }
    }
    let imported = Imported::since(started, &data.join("renditions"))?;
    eprintln!(
        "{TASK}: scale: imported {count} avatars in {:.0} s ({:.0} a second), {} rungs made \
         ({} MiB)",
        imported.seconds,
        f64::from(count) / imported.seconds,
        imported.files,
        imported.bytes >> 20
    );
    Ok(imported)
}

/// `avatars render-ahead` over the imported store: every avatar's renditions at the
/// workload's sizes into `ahead`'s folder, as a site turning `--render-ahead` on does.
pub(super) fn render_ahead(
    avatars: &Path,
    data: &Path,
    ahead: &Ahead,
    count: u32,
) -> Result<Imported, String> {
    eprintln!(
        "{TASK}: scale: avatars render-ahead {} over the store ...",
        ahead.sizes
    );
    let started = Instant::now();
    let mut command = Command::new(avatars);
    command
        .arg("render-ahead")
        .arg("--data-dir")
        .arg(data)
        .args(["--render-ahead", &ahead.sizes, "--formats", "none"])
        .args(ahead.files_args())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let mut running = command
        .spawn()
        .map(Running)
        .map_err(|err| format!("cannot run avatars render-ahead: {err}"))?;
    if !wait_bounded(
        &mut running.0,
        "avatars render-ahead",
        Duration::from_secs(1200),
    )? {
        return Err("avatars render-ahead failed".to_owned());
    }
    let made = Imported::since(started, &ahead.dir)?;
    eprintln!(
        "{TASK}: scale: rendered ahead in {:.0} s ({:.0} avatars a second), {} files ({} MiB)",
        made.seconds,
        f64::from(count) / made.seconds,
        made.files,
        made.bytes >> 20
    );
    Ok(made)
}

/// A wrk script whose threads each ask for paths of `paths` (one per line) drawn at random,
/// so every request is an independent draw from the workload's Zipf distribution. Not a walk
/// through the file: two threads walking the same sequence from random offsets replay each
/// other's requests whenever one starts behind the other, and a run's cold ratio then
/// depends on where they happened to start (0.10x and 0.21x in two runs of the same code on
/// 2026-12-03, the better where one thread's requests had been rendered for it by the other).
pub(super) fn lua_script(
    work: &Path,
    name: &str,
    paths: &Path,
) -> Result<std::path::PathBuf, String> {
    let script = format!(
        r#"local paths = {{}}
for line in io.lines("{}") do paths[#paths + 1] = line end
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
function init(args)
  math.randomseed(os.time() * 1000 + id)
end
function request()
  return wrk.format("GET", paths[math.random(#paths)])
end
"#,
        paths.display()
    );
    let path = work.join(name);
    fs::write(&path, script).map_err(|err| format!("writing {}: {err}", path.display()))?;
    Ok(path)
}
