//! `venice-image batch`: many jobs, bounded and paced, resumable after a crash.
//!
//! Durability protocol (what makes `--resume` safe after Ctrl-C or `kill -9`):
//! 1. `started` is appended (and fsynced) to `manifest.jsonl` before a job's request is sent;
//! 2. each image is written to a `.partial` file, fsynced and renamed into place, then its
//!    sidecar the same way;
//! 3. `done` is appended once every image and sidecar of the job is in place.
//!
//! On resume, `done` jobs are skipped; a `started` job whose sidecars are all present was
//! saved before the crash and is recovered without a new (charged) request; leftover
//! `.partial` files are removed; a torn last manifest line is cut off. A `failed` job is
//! re-run unless its entry says it may have been charged (the request may have been
//! processed: a 500/504, a timeout, a cut or undecodable 200, or a 200 whose images could
//! not be saved); those are listed and only re-run with `--retry-charged`, so a resume
//! never pays twice for a job without being asked to.
//!
//! Before the first request the batch compares the estimated cost of the jobs still to
//! run with the balance (`/billing/balance` for an API key, the x402 balance for a
//! wallet) and stops, with both numbers, when it is short (`--ignore-balance` starts
//! anyway); and it seeds the client's pacer with the account's per-model limits, so
//! pacing starts right instead of learning the limits from the first answers. The client
//! paces every request (retries included), locally or shared through Redis
//! (`--pacing-redis`).
//!
//! It never burns the provider's error budget: [`StopRules`] stop it starting jobs at the
//! first 401/402/403, after a short run of refusals, or when the budget runs low (exit 5,
//! resumable), and the client waits through a lockout (the wait shows in the progress
//! line). A wallet's batch runs at most five jobs at once (the provider's cap per wallet).

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use venice_image::GenerateRequest;

use crate::args::BatchArgs;
use crate::exit::{self, CliError};
use crate::generate::save_generation;
use crate::job::JobSpec;
use crate::output::Target;
use crate::session::{Pacing, Session};
use crate::stop_rules::StopRules;
use crate::ui::pretty;

/// Name of the manifest inside the output directory.
pub const MANIFEST: &str = "manifest.jsonl";

/// One line of the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The request of a job is about to be sent.
    Started {
        /// Job ID.
        job: String,
        /// Hash of the job's fields, to notice an edited jobs file.
        hash: String,
    },
    /// Every image of the job and its sidecar are saved.
    Done {
        /// Job ID.
        job: String,
        /// Saved image paths.
        files: Vec<PathBuf>,
        /// Request ID.
        request_id: Option<String>,
        /// Estimated cost in USD.
        cost_usd: f64,
        /// True when recovered from files on resume (no new request).
        #[serde(default)]
        recovered: bool,
    },
    /// The job failed.
    Failed {
        /// Job ID.
        job: String,
        /// Why.
        reason: String,
        /// The request may have been processed and charged (absent in old manifests:
        /// false).
        #[serde(default)]
        may_have_been_charged: bool,
    },
}

/// What the manifest says about each job.
#[derive(Debug, Default)]
pub struct ManifestState {
    /// Last event per job.
    pub last: HashMap<String, Event>,
}

impl ManifestState {
    /// Load a manifest, cutting off a torn last line (a crash mid-append).
    pub fn load(path: &Path) -> Result<ManifestState, CliError> {
        let io = |e: std::io::Error| CliError::Io(format!("manifest {}: {e}", path.display()));
        let mut state = ManifestState::default();
        let Ok(bytes) = std::fs::read(path) else {
            return Ok(state);
        };
        let keep = match bytes.iter().rposition(|b| *b == b'\n') {
            Some(i) => i + 1,
            None => 0,
        };
        if keep < bytes.len() {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(io)?;
            f.set_len(keep as u64).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        for line in bytes[..keep].lines() {
            let line = line.map_err(io)?;
            if line.trim().is_empty() {
                continue;
            }
            if let Ok(ev) = serde_json::from_str::<Event>(&line) {
                let job = match &ev {
                    Event::Started { job, .. }
                    | Event::Done { job, .. }
                    | Event::Failed { job, .. } => job.clone(),
                };
                state.last.insert(job, ev);
            }
        }
        Ok(state)
    }

    /// Total estimated spend of the jobs already done.
    pub fn spent(&self) -> f64 {
        self.last
            .values()
            .map(|e| match e {
                Event::Done { cost_usd, .. } => *cost_usd,
                _ => 0.0,
            })
            .sum()
    }
}

/// Appends events to the manifest, one fsynced line each.
pub struct ManifestWriter {
    file: std::fs::File,
}

impl ManifestWriter {
    /// Open for appending.
    pub fn open(path: &Path) -> Result<ManifestWriter, CliError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| CliError::Io(format!("cannot open {}: {e}", path.display())))?;
        Ok(ManifestWriter { file })
    }

    /// Append one event durably.
    pub fn append(&mut self, ev: &Event) -> Result<(), CliError> {
        let mut line = serde_json::to_vec(ev)
            .map_err(|e| CliError::Other(format!("cannot encode manifest event: {e}")))?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| CliError::Io(format!("cannot write the manifest: {e}")))
    }
}

/// A parsed, validated job.
struct Job {
    id: String,
    hash: String,
    spec: JobSpec,
    request: GenerateRequest,
}

/// FNV-1a: a stable hash of a job's fields (std's hasher is not stable across releases).
fn fnv1a(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn read_jobs(path: &Path) -> Result<Vec<Job>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
    let mut jobs = Vec::new();
    let mut errors = Vec::new();
    let mut seen = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let spec: JobSpec = match serde_json::from_str(line) {
            Ok(s) => s,
            Err(e) => {
                errors.push(format!("line {line_no}: {e}"));
                continue;
            }
        };
        let id = spec
            .id
            .clone()
            .unwrap_or_else(|| format!("line-{line_no:04}"));
        if !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
            || id.starts_with('.')
        {
            errors.push(format!(
                "line {line_no}: job id `{id}` may only use letters, digits, '-', '_' and '.'"
            ));
            continue;
        }
        if let Some(prev) = seen.insert(id.clone(), line_no) {
            errors.push(format!("line {line_no}: job id `{id}` repeats line {prev}"));
            continue;
        }
        // The line as written identifies the job for `--resume`, wherever it runs from.
        let hash = fnv1a(&serde_json::to_vec(&spec).unwrap_or_default());
        let mut spec = spec;
        spec.resolve_paths_from(path.parent().unwrap_or(Path::new("")));
        match spec.to_request(false) {
            Ok(request) => {
                jobs.push(Job {
                    id,
                    hash,
                    spec,
                    request,
                });
            }
            Err(e) => errors.push(format!("line {line_no}: {e}")),
        }
    }
    if !errors.is_empty() {
        let shown: Vec<_> = errors.iter().take(10).cloned().collect();
        let more = errors.len().saturating_sub(shown.len());
        let mut msg = format!(
            "{} invalid job(s) in {}:\n  {}",
            errors.len(),
            path.display(),
            shown.join("\n  ")
        );
        if more > 0 {
            msg.push_str(&format!("\n  ... and {more} more"));
        }
        return Err(CliError::Usage(msg));
    }
    if jobs.is_empty() {
        return Err(CliError::Usage(format!("{} has no jobs", path.display())));
    }
    Ok(jobs)
}

#[derive(Debug, Default, Serialize)]
struct Summary {
    total: usize,
    done: usize,
    recovered: usize,
    already_done: usize,
    failed: Vec<(String, String)>,
    /// IDs of the `failed` jobs that may have been charged (not re-run by `--resume`).
    may_have_been_charged: Vec<String>,
    /// Failed earlier, may have been charged, not re-run (no `--retry-charged`).
    skipped_charged: Vec<(String, String)>,
    skipped_budget: usize,
    skipped_cancelled: usize,
    /// Jobs not started because the batch stopped (see `stopped`).
    skipped_stopped: usize,
    /// Why the batch stopped starting jobs, when it did.
    stopped: Option<String>,
    spent_usd: f64,
    spent_before_usd: f64,
}

impl Summary {
    /// Count how a job this run attempted ended.
    fn record(&mut self, job: String, outcome: Outcome) {
        match outcome {
            Outcome::Done { cost_usd } => {
                self.done += 1;
                self.spent_usd += cost_usd;
            }
            Outcome::Failed {
                reason,
                may_have_been_charged,
            } => {
                if may_have_been_charged {
                    self.may_have_been_charged.push(job.clone());
                }
                self.failed.push((job, reason));
            }
        }
    }

    /// Count `count` jobs never started because of `halt`.
    fn skip_unstarted(&mut self, halt: Halt, count: usize) {
        match halt {
            Halt::Cancelled => self.skipped_cancelled += count,
            Halt::Budget => self.skipped_budget += count,
            Halt::Rules => self.skipped_stopped += count,
        }
    }

    /// Jobs settled before the pool starts (progress bar's starting position).
    fn settled(&self) -> usize {
        self.already_done + self.recovered + self.skipped_charged.len()
    }

    /// Some job did not end done (failed, or skipped for any reason): exit 5.
    fn is_partial(&self) -> bool {
        !self.failed.is_empty()
            || !self.skipped_charged.is_empty()
            || self.skipped_budget > 0
            || self.skipped_cancelled > 0
            || self.skipped_stopped > 0
    }
}

/// How a job this run attempted ended.
#[derive(Debug)]
enum Outcome {
    /// Every image and sidecar is saved and `done` is in the manifest.
    Done {
        /// Estimated cost in USD.
        cost_usd: f64,
    },
    /// The job failed (and `failed` is in the manifest, as far as it could be written).
    Failed {
        /// Why, as shown to the user.
        reason: String,
        /// The request may have been processed and charged: `--resume` skips the job
        /// unless `--retry-charged`.
        may_have_been_charged: bool,
    },
}

impl Outcome {
    /// A failure after the request was paid for (saving or recording it failed).
    fn failed_after_payment(e: &CliError) -> Outcome {
        Outcome::Failed {
            reason: e.to_string(),
            may_have_been_charged: true,
        }
    }

    /// A failure of the request itself: charged only when the error says it may be.
    fn refused(e: &CliError) -> Outcome {
        Outcome::Failed {
            reason: crate::report::headline(e),
            may_have_been_charged: e
                .client()
                .is_some_and(venice_image::Error::may_have_been_charged),
        }
    }
}

/// Why the pool stopped starting jobs before the end of the list.
#[derive(Debug, Clone, Copy)]
enum Halt {
    /// Ctrl-C.
    Cancelled,
    /// The next job would cross `--max-cost`.
    Budget,
    /// The [`StopRules`] stopped the batch.
    Rules,
}

/// What the manifest says to do with a job on this run.
#[derive(Debug, PartialEq)]
enum Resume {
    /// `done` earlier: nothing to do.
    AlreadyDone,
    /// Failed earlier and may have been charged: not re-run (no `--retry-charged`).
    SkipCharged(String),
    /// Started earlier and every file is on disk: done without a new request.
    Recover(Vec<PathBuf>),
    /// Started or failed earlier: its leftovers go, and it runs again.
    Rerun,
    /// Never seen: it runs.
    Run,
}

/// A job still to run, with its estimated cost (a job that cannot be estimated fails when
/// its turn comes).
struct Estimated {
    job: Job,
    cost: venice_image::Result<venice_image::models::Cost>,
}

/// The output directory's manifest, opened for this run.
struct Manifest {
    path: PathBuf,
    /// No manifest existed before this run.
    fresh: bool,
    state: ManifestState,
    writer: Arc<std::sync::Mutex<ManifestWriter>>,
}

impl Manifest {
    /// Create `--out`, refuse a manifest already there without `--resume`, remove
    /// leftover `.partial` files, and load what the manifest says.
    fn open(args: &BatchArgs) -> Result<Manifest, CliError> {
        std::fs::create_dir_all(&args.out)
            .map_err(|e| CliError::Io(format!("cannot create {}: {e}", args.out.display())))?;
        let path = args.out.join(MANIFEST);
        if path.exists() && !args.resume {
            return Err(CliError::Usage(format!(
                "{} already holds a batch manifest; pass --resume to continue it, or choose another --out",
                args.out.display()
            )));
        }
        remove_partials(&args.out);
        let fresh = !path.exists();
        let state = ManifestState::load(&path)?;
        let writer = Arc::new(std::sync::Mutex::new(ManifestWriter::open(&path)?));
        Ok(Manifest {
            path,
            fresh,
            state,
            writer,
        })
    }

    /// Nothing was started: a new batch leaves no manifest behind, so the same command
    /// works again (no `--resume` needed).
    fn discard_if_fresh(self) {
        let Manifest {
            path,
            fresh,
            writer,
            ..
        } = self;
        drop(writer);
        if fresh {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Run `batch`.
pub async fn run(session: &Session, args: BatchArgs) -> Result<ExitCode, CliError> {
    let jobs = read_jobs(&args.jobs)?;
    let sheet_jobs = args.sheet.then(|| {
        jobs.iter()
            .map(|j| crate::sheet::JobSummary::of(&j.id, &j.spec))
            .collect::<Vec<_>>()
    });
    check_styles(session, &jobs).await?;
    if args.concurrency == 0 {
        return Err(CliError::Usage("--concurrency must be at least 1".into()));
    }
    let concurrency = wallet_concurrency(session, &args);
    let manifest = Manifest::open(&args)?;
    let mut summary = Summary {
        total: jobs.len(),
        spent_before_usd: manifest.state.spent(),
        ..Summary::default()
    };
    let todo = resume(session, &args, &manifest, jobs, &mut summary).await?;
    let estimated = estimate(session, todo).await?;
    if let Err(e) = check_spend(session, &args, summary.spent_before_usd, &estimated).await {
        manifest.discard_if_fresh();
        return Err(e);
    }
    seed_pacing(session, &estimated).await;
    let sheet = match &sheet_jobs {
        Some(jobs) => Some(crate::sheet::Live::start(&args.out, jobs)?),
        None => None,
    };
    run_pool(
        session,
        &args,
        concurrency,
        &manifest,
        estimated,
        &mut summary,
    )
    .await?;
    if let Some(sheet) = sheet {
        sheet.finish().await;
    }
    print_summary(&summary, args.json);
    Ok(if summary.is_partial() {
        ExitCode::from(exit::PARTIAL)
    } else {
        ExitCode::SUCCESS
    })
}

/// Check every job's style against the catalogue before anything is sent.
async fn check_styles(session: &Session, jobs: &[Job]) -> Result<(), CliError> {
    crate::style::check_all(
        &session.client,
        jobs.iter()
            .filter_map(|j| Some((Some(j.id.as_str()), j.spec.style.as_deref()?))),
    )
    .await
}

/// What the manifest says to do with `job`, whose files are in `dir` (warning when a
/// started job's line has changed since).
fn resume_decision(state: &ManifestState, job: &Job, dir: &Path, retry_charged: bool) -> Resume {
    match state.last.get(&job.id) {
        Some(Event::Done { .. }) => Resume::AlreadyDone,
        Some(Event::Failed {
            reason,
            may_have_been_charged: true,
            ..
        }) if !retry_charged => Resume::SkipCharged(reason.clone()),
        Some(Event::Started { hash, .. }) => {
            if *hash != job.hash {
                eprintln!("warning: job {} changed since it was started", job.id);
            }
            match recover(dir, job) {
                Some(files) => Resume::Recover(files),
                None => Resume::Rerun,
            }
        }
        Some(Event::Failed { .. }) => Resume::Rerun,
        None => Resume::Run,
    }
}

/// Settle what the manifest already answers (done, recovered, not to re-run) and return
/// the jobs still to run, their leftovers removed.
async fn resume(
    session: &Session,
    args: &BatchArgs,
    manifest: &Manifest,
    jobs: Vec<Job>,
    summary: &mut Summary,
) -> Result<Vec<Job>, CliError> {
    let mut todo = Vec::new();
    for job in jobs {
        match resume_decision(&manifest.state, &job, &args.out, args.retry_charged) {
            Resume::AlreadyDone => summary.already_done += 1,
            Resume::SkipCharged(reason) => summary.skipped_charged.push((job.id, reason)),
            Resume::Recover(files) => {
                let cost = session
                    .client
                    .estimate_cost(&job.request)
                    .await
                    .map(|c| c.total_usd())
                    .unwrap_or(0.0);
                lock(&manifest.writer)?.append(&Event::Done {
                    job: job.id.clone(),
                    files,
                    request_id: None,
                    cost_usd: cost,
                    recovered: true,
                })?;
                summary.recovered += 1;
                summary.spent_before_usd += cost;
            }
            Resume::Rerun => {
                remove_job_files(&args.out, &job);
                todo.push(job);
            }
            Resume::Run => todo.push(job),
        }
    }
    Ok(todo)
}

/// Estimate what each job still to run costs, after checking the catalogue can be read
/// (a warning now, or, strict, an error before any job).
async fn estimate(session: &Session, todo: Vec<Job>) -> Result<Vec<Estimated>, CliError> {
    if !todo.is_empty() {
        session.models.catalogue(&session.client).await?;
    }
    let mut estimated = Vec::with_capacity(todo.len());
    for job in todo {
        let cost = session.client.estimate_cost(&job.request).await;
        estimated.push(Estimated { job, cost });
    }
    Ok(estimated)
}

/// Stop before the first request when the balance cannot pay what is at stake: the
/// estimated cost of the jobs to run, at most what `--max-cost` leaves after
/// `spent_before` (skipped with `--ignore-balance`).
async fn check_spend(
    session: &Session,
    args: &BatchArgs,
    spent_before: f64,
    estimated: &[Estimated],
) -> Result<(), CliError> {
    let mut at_stake: f64 = estimated
        .iter()
        .filter_map(|e| e.cost.as_ref().ok().map(|c| c.total_usd()))
        .sum();
    if let Some(max) = args.max_cost {
        at_stake = at_stake.min((max - spent_before).max(0.0));
    }
    if !args.ignore_balance && at_stake > 0.0 {
        check_balance(session, at_stake, estimated.len()).await
    } else {
        Ok(())
    }
}

/// What every job of the pool shares.
#[derive(Clone)]
struct JobContext {
    client: venice_image::Client,
    models: Arc<crate::precheck::ModelCheck>,
    writer: Arc<std::sync::Mutex<ManifestWriter>>,
    target: Target,
    bar: ProgressBar,
    rules: Arc<std::sync::Mutex<StopRules>>,
}

/// Run the jobs, at most `concurrency` at once, until done, cancelled, over budget or
/// stopped by the [`StopRules`], and count every outcome in `summary`.
async fn run_pool(
    session: &Session,
    args: &BatchArgs,
    concurrency: usize,
    manifest: &Manifest,
    estimated: Vec<Estimated>,
    summary: &mut Summary,
) -> Result<(), CliError> {
    let bar = progress_bar(summary);
    let waits = show_waits(&bar);
    let ctx = JobContext {
        client: session.client.clone(),
        models: session.models.clone(),
        writer: manifest.writer.clone(),
        target: Target::Dir(args.out.clone()),
        bar,
        rules: Arc::new(std::sync::Mutex::new(StopRules::new(concurrency))),
    };
    let mut tasks = tokio::task::JoinSet::new();
    start_jobs(&ctx, args, concurrency, estimated, summary, &mut tasks).await?;
    let mut outcomes = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(outcome) = joined {
            outcomes.push(outcome);
        }
    }
    waits.abort();
    ctx.bar.finish_and_clear();
    summary.stopped = ctx
        .rules
        .lock()
        .ok()
        .and_then(|r| r.stopped().map(str::to_owned));
    for (job, outcome) in outcomes {
        summary.record(job, outcome);
    }
    Ok(())
}

/// The batch's progress line, starting at the jobs already settled.
fn progress_bar(summary: &Summary) -> ProgressBar {
    let bar = ProgressBar::new(summary.total as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} jobs [{elapsed}] {msg}") {
        bar.set_style(style);
    }
    bar.set_position(summary.settled() as u64);
    bar
}

/// A flag set once Ctrl-C is pressed.
fn watch_ctrl_c() -> Arc<AtomicBool> {
    let cancelled = Arc::new(AtomicBool::new(false));
    let flag = cancelled.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, Ordering::SeqCst);
        }
    });
    cancelled
}

/// Start the jobs in order, each when a place is free, until the list ends or a [`Halt`];
/// the jobs not started are counted in `summary`, as are those that cannot be estimated.
async fn start_jobs(
    ctx: &JobContext,
    args: &BatchArgs,
    concurrency: usize,
    estimated: Vec<Estimated>,
    summary: &mut Summary,
    tasks: &mut tokio::task::JoinSet<(String, Outcome)>,
) -> Result<(), CliError> {
    let cancelled = watch_ctrl_c();
    let semaphore = Arc::new(Semaphore::new(concurrency));
    let mut committed = summary.spent_before_usd;
    let mut pending = estimated.into_iter();
    let mut halt = None;
    for Estimated { job, cost } in pending.by_ref() {
        if cancelled.load(Ordering::SeqCst) {
            halt = Some(Halt::Cancelled);
            break;
        }
        let cost = match cost {
            Ok(c) => c.total_usd(),
            Err(e) => {
                fail_unestimated(ctx, job, &e, summary)?;
                continue;
            }
        };
        if let Some(max) = args.max_cost
            && committed + cost > max + 1e-9
        {
            halt = Some(Halt::Budget);
            break;
        }
        committed += cost;
        let permit = semaphore
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| CliError::Other(format!("scheduler closed: {e}")))?;
        if ctx.rules.lock().is_ok_and(|r| r.stopped().is_some()) {
            halt = Some(Halt::Rules);
            break;
        }
        lock(&ctx.writer)?.append(&Event::Started {
            job: job.id.clone(),
            hash: job.hash.clone(),
        })?;
        tasks.spawn(run_job(ctx.clone(), job, cost, permit));
    }
    if let Some(halt) = halt {
        // The job that met the halt, and every one after it.
        summary.skip_unstarted(halt, 1 + pending.count());
    }
    Ok(())
}

/// A job whose cost cannot be estimated fails without a request.
fn fail_unestimated(
    ctx: &JobContext,
    job: Job,
    e: &venice_image::Error,
    summary: &mut Summary,
) -> Result<(), CliError> {
    let reason = e.to_string();
    lock(&ctx.writer)?.append(&Event::Failed {
        job: job.id.clone(),
        reason: reason.clone(),
        may_have_been_charged: false,
    })?;
    summary.record(
        job.id,
        Outcome::Failed {
            reason,
            may_have_been_charged: false,
        },
    );
    ctx.bar.inc(1);
    Ok(())
}

/// Send one job, save what it made and record how it ended; its place in the pool is
/// `permit`, given back when this returns.
async fn run_job(
    ctx: JobContext,
    job: Job,
    cost: f64,
    permit: OwnedSemaphorePermit,
) -> (String, Outcome) {
    let _permit = permit;
    // The client paces each attempt (see `Session::open`).
    let result = match ctx.models.check(&ctx.client, &job.request).await {
        Ok(()) => ctx
            .client
            .generate(&job.request)
            .await
            .map_err(CliError::Client),
        Err(e) => Err(e),
    };
    // Before this job gives its place to the next one.
    if let Ok(mut rules) = ctx.rules.lock() {
        match &result {
            Ok(generation) => rules.served(generation.meta()),
            Err(e) => rules.failed(e),
        }
    }
    let outcome = match result {
        Ok(generation) => save_job(&ctx, &job, &generation, cost).await,
        Err(e) => Outcome::refused(&e),
    };
    if let Outcome::Failed {
        reason,
        may_have_been_charged,
    } = &outcome
    {
        let _ = lock(&ctx.writer).and_then(|mut w| {
            w.append(&Event::Failed {
                job: job.id.clone(),
                reason: reason.clone(),
                may_have_been_charged: *may_have_been_charged,
            })
        });
    }
    ctx.bar.inc(1);
    (job.id, outcome)
}

/// Save a paid generation's images and sidecars, then record the job `done`.
async fn save_job(
    ctx: &JobContext,
    job: &Job,
    generation: &venice_image::Response<venice_image::Generation>,
    cost: f64,
) -> Outcome {
    let saved = match save_generation(
        generation,
        &ctx.target,
        &job.id,
        &job.spec,
        &job.request,
        Some(&job.id),
        false,
        Some(cost),
    )
    .await
    {
        Ok(saved) => saved,
        Err(e) => return Outcome::failed_after_payment(&e),
    };
    let ev = Event::Done {
        job: job.id.clone(),
        files: saved.into_iter().map(|s| s.path).collect(),
        request_id: generation.meta().request_id().map(str::to_owned),
        cost_usd: cost,
        recovered: false,
    };
    // Past this point the generation was paid for.
    match lock(&ctx.writer).and_then(|mut w| w.append(&ev)) {
        Ok(()) => Outcome::Done { cost_usd: cost },
        Err(e) => Outcome::failed_after_payment(&e),
    }
}

/// The jobs a batch runs at once: `--concurrency`, at most the wallet's in-flight cap
/// for a wallet (said once when it lowers the flag).
fn wallet_concurrency(session: &Session, args: &BatchArgs) -> usize {
    let Some(max) = session
        .client
        .wallet_slots()
        .map(venice_image::inflight::WalletSlots::max_in_flight)
        .filter(|max| *max < args.concurrency)
    else {
        return args.concurrency;
    };
    let shared = if args.pacing_redis.is_some() {
        ", shared with the other processes of the wallet through --pacing-redis"
    } else {
        ""
    };
    eprintln!(
        "note: a wallet may have at most {max} requests in flight (the provider refuses more); \
         --concurrency {} runs as {max}{shared}",
        args.concurrency
    );
    max
}

/// Show the client's current wait (a server-asked wait, a lockout) in the progress line,
/// refreshed until the returned task is aborted.
fn show_waits(bar: &ProgressBar) -> tokio::task::JoinHandle<()> {
    let bar = bar.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
        loop {
            tick.tick().await;
            bar.set_message(crate::trace::current_wait().unwrap_or_default());
        }
    })
}

/// How `batch` paces: shared through Redis when asked (`--pacing-redis`), else in this
/// process.
pub fn pacing(args: &BatchArgs) -> Pacing {
    match args.pacing_redis.as_deref().map(str::trim) {
        Some(url) if !url.is_empty() => Pacing::Redis(url.to_owned()),
        _ => Pacing::Local,
    }
}

/// Stop before the first request when the balance cannot pay `estimate` (USD) for
/// `jobs` jobs. A balance that cannot be read, or is not reported, is not a reason to
/// stop: the server still refuses what the account cannot pay.
async fn check_balance(session: &Session, estimate: f64, jobs: usize) -> Result<(), CliError> {
    if session.single_use {
        // Asking would spend the one request a static SIGN-IN-WITH-X value allows.
        eprintln!(
            "note: a single-use SIGN-IN-WITH-X value cannot also read the balance; the estimated cost (${estimate:.4}) is not checked"
        );
        return Ok(());
    }
    let (available, detail) = if session.client_is_wallet() {
        match session.client.wallet_balance().await {
            Ok(b) => {
                let diem = b.diem_balance_usd.unwrap_or(0.0).max(0.0);
                let detail = if diem > 0.0 {
                    format!("wallet credit ${:.4} + DIEM ${diem:.4}", b.balance_usd)
                } else {
                    "wallet credit".to_owned()
                };
                (Some(b.balance_usd.max(0.0) + diem), detail)
            }
            Err(e) => {
                eprintln!("warning: cannot read the wallet balance ({e}); the cost is not checked");
                return Ok(());
            }
        }
    } else {
        match account_spendable(session, estimate).await? {
            Some((available, detail)) => (Some(available), detail),
            None => return Ok(()),
        }
    };
    let Some(available) = available else {
        if !session.offline {
            eprintln!(
                "note: the server reports no balance; the estimated cost (${estimate:.4}) is not checked"
            );
        }
        return Ok(());
    };
    // A wallet with --auto-top-up may add up to its cap while the batch runs.
    let (available, detail) = match session.auto_top_up {
        Some(policy) if session.client_is_wallet() => (
            available + policy.max_total_usd,
            format!(
                "{detail} + --auto-top-up up to ${:.2}",
                policy.max_total_usd
            ),
        ),
        _ => (available, detail),
    };
    if estimate > available + 1e-9 {
        let add = if session.client_is_wallet() {
            "Top up"
        } else {
            "Add funds or raise the key's spend limit at https://venice.ai/settings/api"
        };
        return Err(CliError::Funds(format!(
            "the estimated cost of the {jobs} job(s) to run, ${estimate:.4}, exceeds the balance, \
             ${available:.4} ({detail}); nothing was sent. {add}, run fewer jobs (--max-cost), \
             or pass --ignore-balance to start anyway"
        )));
    }
    Ok(())
}

/// What an API key can spend, from what the key can read: `GET /api_keys/rate_limits`
/// (any key; what this key may spend now, its own limit included), else `GET
/// /billing/balance` (an ADMIN key only). `None`, after saying why, when neither tells:
/// the cost is then not checked (never "exceeds the balance"). A key the provider does
/// not admit now (`accessPermitted: false`) is refused.
async fn account_spendable(
    session: &Session,
    estimate: f64,
) -> Result<Option<(f64, String)>, CliError> {
    match session.client.account_limits().await {
        Ok(limits) if !limits.access_permitted => {
            return Err(CliError::Funds(
                "the provider does not admit this API key now (accessPermitted is false: \
                 no balance left, or the key's spend limit is used up); nothing was sent. Add \
                 funds or raise the key's limit at https://venice.ai/settings/api, or pass \
                 --ignore-balance to start anyway"
                    .into(),
            ));
        }
        Ok(limits) => {
            if let Some(v) = limits.spendable_usd() {
                let part = |name: &str, v: Option<f64>| v.map(|v| format!("{name} ${v:.4}"));
                let detail = [
                    part("DIEM", limits.balances.diem),
                    part("bundled credits", limits.balances.bundled_credits),
                    part("USD", limits.balances.usd),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" + ");
                return Ok(Some((v, format!("what this key may spend: {detail}"))));
            }
        }
        Err(e) => eprintln!("warning: cannot read the API key's limits ({e})"),
    }
    match session.client.account_balance().await {
        Ok(b) => {
            let part = |name: &str, v: Option<f64>| v.map(|v| format!("{name} ${v:.4}"));
            let detail = [
                part("DIEM", b.balances.diem),
                part("earned credits", b.balances.earned_credits),
                part("bundled credits", b.balances.bundled_credits),
                part("USD", b.balances.usd),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" + ");
            Ok(b.spendable_usd()
                .map(|v| (v, detail))
                .or_else(|| no_balance(session, estimate)))
        }
        Err(e) if e.is_admin_key_required() => {
            eprintln!(
                "note: cannot check the estimated cost (${estimate:.4}) against the balance: the \
                 key's limits report none, and the account balance needs an ADMIN API key"
            );
            Ok(None)
        }
        Err(e) => {
            eprintln!("warning: cannot read the account balance ({e}); the cost is not checked");
            Ok(None)
        }
    }
}

/// The server reports no balance (an unlimited account): nothing to check.
fn no_balance(session: &Session, estimate: f64) -> Option<(f64, String)> {
    if !session.offline {
        eprintln!(
            "note: the server reports no balance; the estimated cost (${estimate:.4}) is not checked"
        );
    }
    None
}

/// Seed the client's pacer with the account's limits of the models the jobs use, so
/// the first window is paced right. Wallets have no API-key limit list: their pacing
/// learns from the answers.
async fn seed_pacing(session: &Session, jobs: &[Estimated]) {
    let Some(pacer) = session.client.pacer() else {
        return;
    };
    if session.client_is_wallet() || jobs.is_empty() {
        return;
    }
    let limits = match session.client.account_limits().await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "warning: cannot read the account's rate limits ({e}); pacing learns them from the first answers"
            );
            return;
        }
    };
    let mut models: Vec<&str> = jobs.iter().map(|e| e.job.request.model()).collect();
    models.sort_unstable();
    models.dedup();
    for model in models {
        if let Some(m) = limits.model(model) {
            pacer
                .seed_limits(model, m.requests_per_minute(), m.requests_per_day())
                .await;
        }
    }
}

fn lock<'a>(
    w: &'a std::sync::Mutex<ManifestWriter>,
) -> Result<std::sync::MutexGuard<'a, ManifestWriter>, CliError> {
    w.lock()
        .map_err(|_| CliError::Other("manifest writer poisoned".into()))
}

/// The images of a started job, if all of them and their sidecars are on disk.
fn recover(dir: &Path, job: &Job) -> Option<Vec<PathBuf>> {
    let count = usize::from(job.request.variants().unwrap_or(1));
    let entries: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let mut files = Vec::with_capacity(count);
    for i in 0..count {
        let prefix = format!("{}-{i}.", job.id);
        let image = entries.iter().find(|n| {
            n.starts_with(&prefix) && !n.ends_with(".json") && !n.ends_with(".partial")
        })?;
        let sidecar = format!("{image}.json");
        if !entries.contains(&sidecar) {
            return None;
        }
        files.push(dir.join(image));
    }
    Some(files)
}

/// Remove what an unfinished or failed attempt of `job` left (images, sidecars): the job
/// runs again under the same names, and saving never overwrites a file.
fn remove_job_files(dir: &Path, job: &Job) {
    let count = usize::from(job.request.variants().unwrap_or(1));
    let prefixes: Vec<String> = (0..count).map(|i| format!("{}-{i}.", job.id)).collect();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if prefixes.iter().any(|p| name.starts_with(p)) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

fn remove_partials(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().ends_with(".partial") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

fn print_summary(s: &Summary, json: bool) {
    if json {
        if let Ok(v) = serde_json::to_value(s) {
            println!("{}", pretty(&v));
        }
        if let Some(why) = &s.stopped {
            eprintln!("{why}");
        }
        return;
    }
    println!(
        "batch: {} jobs — done {}, recovered {}, already done {}, failed {}, skipped (may have been charged) {}, skipped (budget) {}, skipped (cancelled) {}, skipped (stopped) {}",
        s.total,
        s.done,
        s.recovered,
        s.already_done,
        s.failed.len(),
        s.skipped_charged.len(),
        s.skipped_budget,
        s.skipped_cancelled,
        s.skipped_stopped
    );
    if let Some(why) = &s.stopped {
        println!("{why}");
    }
    println!(
        "spent (estimated): ${:.4} this run, ${:.4} in total",
        s.spent_usd,
        s.spent_usd + s.spent_before_usd
    );
    for (job, reason) in &s.failed {
        let charged = if s.may_have_been_charged.contains(job) {
            " (may have been charged: --resume skips it unless --retry-charged)"
        } else {
            ""
        };
        println!("  failed {job}: {reason}{charged}");
    }
    for (job, reason) in &s.skipped_charged {
        println!(
            "  not re-run {job} (may have been charged; pass --retry-charged to re-run): {reason}"
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Three jobs `a`, `b`, `c` read from a jobs file in `dir`.
    fn jobs(dir: &Path) -> Vec<Job> {
        let path = dir.join("jobs.jsonl");
        let lines: Vec<String> = ["a", "b", "c"]
            .iter()
            .map(|id| {
                serde_json::json!({"id": id, "prompt": "p", "size": "64x64", "format": "png"})
                    .to_string()
            })
            .collect();
        std::fs::write(&path, lines.join("\n")).unwrap();
        read_jobs(&path).unwrap()
    }

    fn state(events: Vec<Event>) -> ManifestState {
        let mut state = ManifestState::default();
        for ev in events {
            let job = match &ev {
                Event::Started { job, .. }
                | Event::Done { job, .. }
                | Event::Failed { job, .. } => job.clone(),
            };
            state.last.insert(job, ev);
        }
        state
    }

    fn failed(job: &str, charged: bool) -> Event {
        Event::Failed {
            job: job.into(),
            reason: "why".into(),
            may_have_been_charged: charged,
        }
    }

    #[test]
    fn the_manifest_decides_what_each_job_does_on_resume() {
        let dir = tempfile::tempdir().unwrap();
        let jobs = jobs(dir.path());
        let started = |j: &Job| Event::Started {
            job: j.id.clone(),
            hash: j.hash.clone(),
        };
        let s = state(vec![]);
        assert_eq!(
            resume_decision(&s, &jobs[0], dir.path(), false),
            Resume::Run
        );
        let s = state(vec![Event::Done {
            job: "a".into(),
            files: vec![],
            request_id: None,
            cost_usd: 0.01,
            recovered: false,
        }]);
        assert_eq!(
            resume_decision(&s, &jobs[0], dir.path(), false),
            Resume::AlreadyDone
        );
        // A charged failure runs again only when asked; an uncharged one always.
        let s = state(vec![failed("a", true), failed("b", false)]);
        assert_eq!(
            resume_decision(&s, &jobs[0], dir.path(), false),
            Resume::SkipCharged("why".into())
        );
        assert_eq!(
            resume_decision(&s, &jobs[0], dir.path(), true),
            Resume::Rerun
        );
        assert_eq!(
            resume_decision(&s, &jobs[1], dir.path(), false),
            Resume::Rerun
        );
        // A started job is recovered only when its image and sidecar are both on disk.
        let s = state(vec![started(&jobs[2])]);
        assert_eq!(
            resume_decision(&s, &jobs[2], dir.path(), false),
            Resume::Rerun
        );
        std::fs::write(dir.path().join("c-0.png"), b"x").unwrap();
        assert_eq!(
            resume_decision(&s, &jobs[2], dir.path(), false),
            Resume::Rerun
        );
        std::fs::write(dir.path().join("c-0.png.json"), b"{}").unwrap();
        assert_eq!(
            resume_decision(&s, &jobs[2], dir.path(), false),
            Resume::Recover(vec![dir.path().join("c-0.png")])
        );
    }

    #[test]
    fn outcomes_and_halts_are_counted_and_any_shortfall_is_partial() {
        let mut s = Summary::default();
        s.record("a".into(), Outcome::Done { cost_usd: 0.25 });
        assert!(!s.is_partial());
        s.record(
            "b".into(),
            Outcome::Failed {
                reason: "refused".into(),
                may_have_been_charged: false,
            },
        );
        s.record(
            "c".into(),
            Outcome::Failed {
                reason: "timeout".into(),
                may_have_been_charged: true,
            },
        );
        assert_eq!((s.done, s.spent_usd), (1, 0.25));
        assert_eq!(s.failed.len(), 2);
        assert_eq!(s.may_have_been_charged, vec!["c".to_owned()]);
        assert!(s.is_partial());

        for (halt, count) in [(Halt::Cancelled, 1), (Halt::Budget, 2), (Halt::Rules, 3)] {
            let mut s = Summary::default();
            s.skip_unstarted(halt, count);
            assert_eq!(
                (s.skipped_cancelled, s.skipped_budget, s.skipped_stopped),
                match halt {
                    Halt::Cancelled => (1, 0, 0),
                    Halt::Budget => (0, 2, 0),
                    Halt::Rules => (0, 0, 3),
                }
            );
            assert!(s.is_partial());
        }
    }
}
