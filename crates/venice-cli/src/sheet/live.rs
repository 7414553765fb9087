//! The sheet of a running batch (`batch --sheet`): the job list is recorded so that jobs
//! without an image yet have tiles, the page is rewritten whenever the manifest changes
//! (checked every second; the page reloads itself meanwhile), and a last time, without
//! the reloading, when the batch ends.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::model::{FILES_DIR, JOBS_FILE, JobSummary, MANIFEST};
use super::{Options, thumbs, write};
use crate::exit::CliError;

/// How often the manifest is looked at.
const POLL: Duration = Duration::from_secs(1);

/// A sheet kept current while a batch runs.
#[derive(Debug)]
pub struct Live {
    dir: PathBuf,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

/// What the manifest looks like now: its length and modification time.
fn signature(dir: &Path) -> Option<(u64, SystemTime)> {
    let meta = std::fs::metadata(dir.join(MANIFEST)).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

async fn rewrite(dir: &Path, live: bool) -> Result<super::Written, CliError> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || write(&dir, Options { embed: false, live }))
        .await
        .map_err(|e| CliError::Other(format!("the sheet writer stopped: {e}")))?
}

impl Live {
    /// Record `jobs` in `dir` and start keeping its sheet current.
    pub fn start(dir: &Path, jobs: &[JobSummary]) -> Result<Live, CliError> {
        let folder = dir.join(FILES_DIR);
        let file = folder.join(JOBS_FILE);
        let io = |e: std::io::Error| CliError::Io(format!("{}: {e}", file.display()));
        std::fs::create_dir_all(&folder).map_err(io)?;
        let text = serde_json::to_vec(jobs)
            .map_err(|e| CliError::Other(format!("cannot encode the job list: {e}")))?;
        thumbs::write_atomic(&file, &text).map_err(io)?;
        let (stop, mut stopped) = watch::channel(false);
        let task_dir = dir.to_path_buf();
        let task = tokio::spawn(async move {
            let mut seen = None;
            let mut warned = false;
            loop {
                let now = signature(&task_dir);
                if seen != Some(now) {
                    seen = Some(now);
                    if let Err(e) = rewrite(&task_dir, true).await
                        && !warned
                    {
                        warned = true;
                        eprintln!("warning: cannot update the contact sheet: {e}");
                    }
                }
                tokio::select! {
                    _ = stopped.changed() => break,
                    () = tokio::time::sleep(POLL) => {}
                }
            }
        });
        Ok(Live {
            dir: dir.to_path_buf(),
            stop,
            task: Some(task),
        })
    }

    /// Stop refreshing and write the final sheet; its path goes to stderr (stdout may
    /// be the batch's JSON summary), a failure is a warning (the batch's results are
    /// saved either way).
    pub async fn finish(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        match rewrite(&self.dir, false).await {
            Ok(written) => eprintln!("contact sheet: {}", written.path.display()),
            Err(e) => eprintln!("warning: cannot write the contact sheet: {e}"),
        }
    }
}

impl Drop for Live {
    /// A batch that ends early (an error) still leaves a sheet that does not claim to be
    /// running.
    fn drop(&mut self) {
        if self.task.is_none() {
            return;
        }
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
        let _ = write(
            &self.dir,
            Options {
                embed: false,
                live: false,
            },
        );
    }
}
