//! `--render-cache-file`: the render cache read at start and saved while serving, so a
//! restarted server answers from it at once.

use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use avatar_image::RenderCache;
use avatar_service::AvatarService;

use crate::cli::ServeArgs;
use crate::store::AnyStore;

/// Fills the render cache from `file` (`--render-cache-file`), saying how many renditions it
/// held; a file that is missing is a first start, one that cannot be read is reported and the
/// cache starts empty.
fn load_renditions(cache: &RenderCache, file: &Path) {
    let opened = match std::fs::File::open(file) {
        Ok(opened) => opened,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return,
        Err(err) => {
            say!(
                "warning: cannot read the render cache {}: {err}",
                file.display()
            );
            return;
        }
    };
    let started = Instant::now();
    match cache.read_snapshot(&mut BufReader::new(opened)) {
        Ok(read) => say!(
            "render cache: {read} rendition(s) from {} in {:.2} s",
            file.display(),
            started.elapsed().as_secs_f64()
        ),
        Err(err) => say!(
            "warning: render cache {} not used past a damaged part ({err}); {} rendition(s) kept",
            file.display(),
            cache.len()
        ),
    }
}

/// `--render-cache-file`: read when the server starts, saved every
/// `--render-cache-save-secs` while it serves and once more when it stops, one save at a time.
#[derive(Clone)]
pub(super) struct RenditionsFile {
    file: PathBuf,
    saving: Arc<std::sync::Mutex<()>>,
}

impl RenditionsFile {
    /// Fills `service`'s render cache from the file and starts the periodic saves; `None`
    /// without `--render-cache-file`.
    pub(super) fn start(args: &ServeArgs, service: &AvatarService<AnyStore>) -> Option<Self> {
        let file = args.render_cache_file.clone()?;
        load_renditions(service.render_cache(), &file);
        let renditions = Self {
            file,
            saving: Arc::new(std::sync::Mutex::new(())),
        };
        if args.render_cache_save_secs > 0 {
            let every = Duration::from_secs(args.render_cache_save_secs);
            tokio::spawn(renditions.clone().save_every(every, service.clone()));
        }
        Some(renditions)
    }

    pub(super) fn save(&self, cache: &RenderCache) {
        let _one_at_a_time = self
            .saving
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        save_renditions(cache, &self.file);
    }

    /// Saves every `every`, on a blocking thread, while the server runs.
    async fn save_every(self, every: Duration, service: AvatarService<AnyStore>) {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let (renditions, service) = (self.clone(), service.clone());
            let _ =
                tokio::task::spawn_blocking(move || renditions.save(service.render_cache())).await;
        }
    }
}

/// Writes the render cache to `file` through a temporary file renamed into place, so a crash
/// while saving leaves the previous snapshot whole.
fn save_renditions(cache: &RenderCache, file: &Path) {
    let temporary = file.with_extension("tmp");
    let written = std::fs::File::create(&temporary).and_then(|created| {
        let mut out = BufWriter::new(created);
        let count = cache.write_snapshot(&mut out)?;
        out.into_inner()
            .map_err(std::io::IntoInnerError::into_error)?
            .sync_all()?;
        std::fs::rename(&temporary, file)?;
        Ok(count)
    });
    match written {
        Ok(count) => say!(
            "render cache: {count} rendition(s) saved to {}",
            file.display()
        ),
        Err(err) => {
            let _ = std::fs::remove_file(&temporary);
            say!(
                "warning: cannot save the render cache to {}: {err}",
                file.display()
            );
        }
    }
}
