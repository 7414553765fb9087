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

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, Semaphore};
use venice_image::{GenerateRequest, ResponseMeta};

use crate::args::BatchArgs;
use crate::exit::{self, CliError};
use crate::generate::save_generation;
use crate::job::JobSpec;
use crate::output::Target;
use crate::session::Session;
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
        let io = |e: std::io::Error| CliError::Other(format!("manifest {}: {e}", path.display()));
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
            .map_err(|e| CliError::Other(format!("cannot open {}: {e}", path.display())))?;
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
            .map_err(|e| CliError::Other(format!("cannot write the manifest: {e}")))
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
        match spec.to_request(false) {
            Ok(request) => {
                let hash = fnv1a(&serde_json::to_vec(&spec).unwrap_or_default());
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

/// Keeps the batch within the server's advertised rate limit.
///
/// The server counts requests per window (identified by its reset time) and answers each
/// with `limit - remaining` = how many it had counted in that window. Responses arrive
/// out of order and the server may count concurrent requests in another order than we
/// started them, so no single `remaining` says how many slots are left. Instead the pacer
/// books every request it starts to the current window and adds a lower bound on the
/// requests of others sharing the key (the CLI's catalogue request, other processes),
/// derived from answers whose position is settled: an answer that counted `used`
/// requests, of which at most `k` can be ours, proves `used - k` requests of others.
/// Every estimate is a lower bound on the real use, and the server's highest count is
/// trusted when it is higher, so the limit's worth of requests can start in each window;
/// an unexpected 429 (others we could not see yet) backs off to the reset.
#[derive(Debug, Default)]
struct Pacer {
    /// Requests per window, from `x-ratelimit-limit-requests`.
    limit: Option<u64>,
    window: Window,
    /// Reset time of the last window known to be over: answers for it are stale.
    expired: Option<SystemTime>,
    /// Our requests without an answer yet: sequence number → generation of the window
    /// they are booked to.
    in_flight: BTreeMap<u64, u64>,
    /// Requests started so far; a request's sequence number is the count before it.
    started: u64,
    /// No request starts before this (after a 429).
    blocked_until: Option<SystemTime>,
}

/// What the pacer knows about one rate-limit window.
#[derive(Debug, Default)]
struct Window {
    /// Counts windows, so stale bookings can be told apart.
    generation: u64,
    /// When the window resets; `None` until an answer from it arrives.
    reset_at: Option<SystemTime>,
    /// Our requests booked to this window.
    ours: u64,
    /// The server's count (`limit - remaining`) in each of our answers, with how many
    /// requests we had started when the answer arrived (later ones cannot be in it).
    answers: Vec<(u64, u64)>,
    /// Highest count the server reported.
    max_used: u64,
    /// Lower bound on the requests of others counted in this window.
    others: u64,
}

/// Extra wait after an advertised reset, for clock granularity between client and server.
const RESET_MARGIN: Duration = Duration::from_millis(20);
/// How long to wait when the window is full but its reset time is not known yet.
const POLL: Duration = Duration::from_millis(50);
/// Never sleep longer than this in one go; the caller asks again afterwards.
const MAX_WAIT: Duration = Duration::from_secs(120);

impl Pacer {
    /// Request `seq` got a response (`meta`); learn from its rate-limit headers.
    fn complete(&mut self, seq: u64, meta: Option<&ResponseMeta>) {
        let booked = self.in_flight.remove(&seq);
        let Some(rl) = meta.and_then(|m| m.rate_limit()) else {
            return;
        };
        if rl.limit().is_some() {
            self.limit = rl.limit();
        }
        let stale = rl.reset_at().is_some_and(|r| {
            self.expired.is_some_and(|e| r <= e) || self.window.reset_at.is_some_and(|w| r < w)
        });
        if stale {
            // Counted in an earlier window: it no longer takes a slot of this one.
            if booked == Some(self.window.generation) {
                self.window.ours = self.window.ours.saturating_sub(1);
            }
            self.refresh_others();
            return;
        }
        match (self.window.reset_at, rl.reset_at()) {
            (None, Some(r)) => self.window.reset_at = Some(r),
            (Some(w), Some(r)) if r > w => {
                // The window rolled over while requests were in flight: any of them may
                // be counted in the new one, so book them there until their answers say.
                self.expired = Some(w);
                self.roll_over(Some(r));
                self.window.ours += 1;
            }
            _ => {}
        }
        let (Some(limit), Some(remaining)) = (self.limit, rl.remaining()) else {
            return;
        };
        let used = limit.saturating_sub(remaining);
        self.window.max_used = self.window.max_used.max(used);
        self.window.answers.push((used, self.started));
        self.refresh_others();
    }

    /// Request `seq` was refused with a 429 after the client's own retries: hold every new
    /// request until the window resets (or as long as the server asked).
    fn rate_limited(&mut self, seq: u64, retry_after: Option<Duration>, now: SystemTime) {
        self.in_flight.remove(&seq);
        let by_hint = retry_after.map(|d| now + d.min(MAX_WAIT));
        let by_reset = self.window.reset_at.filter(|r| *r > now);
        let until = by_hint
            .max(by_reset)
            .unwrap_or(now + Duration::from_secs(1))
            + RESET_MARGIN;
        self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
        self.refresh_others();
    }

    /// Book one more request, returning its sequence number, or say how long to wait
    /// before asking again.
    fn reserve(&mut self, now: SystemTime) -> Result<u64, Duration> {
        if let Some(until) = self.blocked_until {
            if let Ok(wait) = until.duration_since(now)
                && !wait.is_zero()
            {
                return Err(wait.min(MAX_WAIT));
            }
            self.blocked_until = None;
            // A 429 means the window's count is unknown: start afresh after the wait.
            self.expired = self.expired.max(self.window.reset_at.filter(|r| *r <= now));
            self.roll_over(None);
        }
        if let Some(reset) = self.window.reset_at
            && now >= reset
        {
            self.expired = Some(reset);
            self.roll_over(None);
        }
        if let Some(limit) = self.limit
            && self.used() >= limit
        {
            return Err(match self.window.reset_at {
                Some(reset) => {
                    (reset.duration_since(now).unwrap_or_default() + RESET_MARGIN).min(MAX_WAIT)
                }
                None => POLL,
            });
        }
        let seq = self.started;
        self.started += 1;
        self.window.ours += 1;
        self.in_flight.insert(seq, self.window.generation);
        Ok(seq)
    }

    /// Requests counted (or about to be) in the current window, at least.
    fn used(&self) -> u64 {
        (self.window.ours + self.window.others).max(self.window.max_used)
    }

    /// Start a new window; the requests in flight are booked to it.
    fn roll_over(&mut self, reset_at: Option<SystemTime>) {
        let generation = self.window.generation + 1;
        for g in self.in_flight.values_mut() {
            *g = generation;
        }
        self.window = Window {
            generation,
            reset_at,
            ours: self.in_flight.len() as u64,
            ..Window::default()
        };
    }

    /// Tighten the lower bound on others' requests. For an answer that counted `used`,
    /// our requests counted by then are at most those answered with a count ≤ `used`
    /// plus those started before it arrived and still unanswered.
    fn refresh_others(&mut self) {
        let generation = self.window.generation;
        let mut counts: Vec<u64> = self.window.answers.iter().map(|a| a.0).collect();
        counts.sort_unstable();
        for &(used, started_then) in &self.window.answers {
            let answered = counts.partition_point(|c| *c <= used) as u64;
            let pending = self
                .in_flight
                .range(..started_then)
                .filter(|(_, g)| **g == generation)
                .count() as u64;
            let others = used.saturating_sub(answered + pending);
            self.window.others = self.window.others.max(others);
        }
    }
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
    spent_usd: f64,
    spent_before_usd: f64,
}

/// Run `batch`.
pub async fn run(session: &Session, args: BatchArgs) -> Result<ExitCode, CliError> {
    let jobs = read_jobs(&args.jobs)?;
    if args.concurrency == 0 {
        return Err(CliError::Usage("--concurrency must be at least 1".into()));
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| CliError::Other(format!("cannot create {}: {e}", args.out.display())))?;
    let manifest_path = args.out.join(MANIFEST);
    if manifest_path.exists() && !args.resume {
        return Err(CliError::Usage(format!(
            "{} already holds a batch manifest; pass --resume to continue it, or choose another --out",
            args.out.display()
        )));
    }
    remove_partials(&args.out);
    let state = ManifestState::load(&manifest_path)?;
    let writer = Arc::new(std::sync::Mutex::new(ManifestWriter::open(&manifest_path)?));
    let target = Target::Dir(args.out.clone());

    let mut summary = Summary {
        total: jobs.len(),
        spent_before_usd: state.spent(),
        ..Summary::default()
    };
    let mut todo = Vec::new();
    for job in jobs {
        match state.last.get(&job.id) {
            Some(Event::Done { .. }) => summary.already_done += 1,
            Some(Event::Failed {
                reason,
                may_have_been_charged: true,
                ..
            }) if !args.retry_charged => {
                summary
                    .skipped_charged
                    .push((job.id.clone(), reason.clone()));
            }
            Some(Event::Started { hash, .. }) => {
                if *hash != job.hash {
                    eprintln!("warning: job {} changed since it was started", job.id);
                }
                match recover(&args.out, &job) {
                    Some(files) => {
                        let cost = session
                            .client
                            .estimate_cost(&job.request)
                            .await
                            .map(|c| c.total_usd())
                            .unwrap_or(0.0);
                        lock(&writer)?.append(&Event::Done {
                            job: job.id.clone(),
                            files,
                            request_id: None,
                            cost_usd: cost,
                            recovered: true,
                        })?;
                        summary.recovered += 1;
                        summary.spent_before_usd += cost;
                    }
                    None => {
                        remove_job_files(&args.out, &job);
                        todo.push(job);
                    }
                }
            }
            Some(Event::Failed { .. }) => {
                remove_job_files(&args.out, &job);
                todo.push(job);
            }
            _ => todo.push(job),
        }
    }

    let bar = ProgressBar::new(summary.total as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} jobs [{elapsed}] {msg}") {
        bar.set_style(style);
    }
    bar.set_position(
        (summary.already_done + summary.recovered + summary.skipped_charged.len()) as u64,
    );

    let cancelled = Arc::new(AtomicBool::new(false));
    {
        let cancelled = cancelled.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancelled.store(true, Ordering::SeqCst);
            }
        });
    }

    let semaphore = Arc::new(Semaphore::new(args.concurrency));
    let pacer = Arc::new(Mutex::new(Pacer::default()));
    // Err: the reason and whether the job may have been charged.
    let outcomes = Arc::new(Mutex::new(
        Vec::<(String, Result<f64, (String, bool)>)>::new(),
    ));
    let mut committed = summary.spent_before_usd;
    let mut tasks = tokio::task::JoinSet::new();
    let mut pending = todo.into_iter();
    let mut stopped_by_budget = false;
    for job in pending.by_ref() {
        if cancelled.load(Ordering::SeqCst) {
            summary.skipped_cancelled += 1;
            break;
        }
        let cost = match session.client.estimate_cost(&job.request).await {
            Ok(c) => c.total_usd(),
            Err(e) => {
                let reason = e.to_string();
                lock(&writer)?.append(&Event::Failed {
                    job: job.id.clone(),
                    reason: reason.clone(),
                    may_have_been_charged: false,
                })?;
                summary.failed.push((job.id.clone(), reason));
                bar.inc(1);
                continue;
            }
        };
        if let Some(max) = args.max_cost
            && committed + cost > max + 1e-9
        {
            summary.skipped_budget += 1;
            stopped_by_budget = true;
            break;
        }
        committed += cost;
        let permit = semaphore
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| CliError::Other(format!("scheduler closed: {e}")))?;
        let seq = loop {
            let booked = pacer.lock().await.reserve(SystemTime::now());
            match booked {
                Ok(seq) => break seq,
                Err(wait) => {
                    bar.set_message(format!(
                        "pacing: waiting {:.1}s for the rate limit",
                        wait.as_secs_f64()
                    ));
                    tokio::time::sleep(wait).await;
                    bar.set_message(String::new());
                }
            }
        };
        lock(&writer)?.append(&Event::Started {
            job: job.id.clone(),
            hash: job.hash.clone(),
        })?;
        let client = session.client.clone();
        let (writer, pacer, outcomes, target, bar) = (
            writer.clone(),
            pacer.clone(),
            outcomes.clone(),
            target.clone(),
            bar.clone(),
        );
        tasks.spawn(async move {
            let _permit = permit;
            let result = client.generate(&job.request).await;
            {
                let mut pacer = pacer.lock().await;
                match &result {
                    Ok(g) => pacer.complete(seq, Some(g.meta())),
                    Err(venice_image::Error::RateLimited { retry_after, .. }) => {
                        pacer.rate_limited(seq, *retry_after, SystemTime::now());
                    }
                    Err(_) => pacer.complete(seq, None),
                }
            }
            let outcome = match result {
                Ok(generation) => {
                    match save_generation(
                        &generation,
                        &target,
                        &job.id,
                        &job.spec,
                        &job.request,
                        Some(&job.id),
                    )
                    .await
                    {
                        Ok(saved) => {
                            let ev = Event::Done {
                                job: job.id.clone(),
                                files: saved.into_iter().map(|s| s.path).collect(),
                                request_id: generation.meta().request_id().map(str::to_owned),
                                cost_usd: cost,
                                recovered: false,
                            };
                            // Past this point the generation was paid for.
                            match lock(&writer).and_then(|mut w| w.append(&ev)) {
                                Ok(()) => Ok(cost),
                                Err(e) => Err((e.to_string(), true)),
                            }
                        }
                        Err(e) => Err((e.to_string(), true)),
                    }
                }
                Err(e) => Err((e.to_string(), e.may_have_been_charged())),
            };
            if let Err((reason, charged)) = &outcome {
                let _ = lock(&writer).and_then(|mut w| {
                    w.append(&Event::Failed {
                        job: job.id.clone(),
                        reason: reason.clone(),
                        may_have_been_charged: *charged,
                    })
                });
            }
            bar.inc(1);
            outcomes.lock().await.push((job.id, outcome));
        });
    }
    // Jobs never started: after the cap would be crossed, or after Ctrl-C.
    let rest = pending.count();
    if stopped_by_budget {
        summary.skipped_budget += rest;
    } else {
        summary.skipped_cancelled += rest;
    }
    while tasks.join_next().await.is_some() {}
    bar.finish_and_clear();

    for (job, outcome) in outcomes.lock().await.drain(..) {
        match outcome {
            Ok(cost) => {
                summary.done += 1;
                summary.spent_usd += cost;
            }
            Err((reason, charged)) => {
                if charged {
                    summary.may_have_been_charged.push(job.clone());
                }
                summary.failed.push((job, reason));
            }
        }
    }
    print_summary(&summary, args.json);
    let partial = !summary.failed.is_empty()
        || !summary.skipped_charged.is_empty()
        || summary.skipped_budget > 0
        || summary.skipped_cancelled > 0;
    Ok(if partial {
        ExitCode::from(exit::PARTIAL)
    } else {
        ExitCode::SUCCESS
    })
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
        return;
    }
    println!(
        "batch: {} jobs — done {}, recovered {}, already done {}, failed {}, skipped (may have been charged) {}, skipped (budget) {}, skipped (cancelled) {}",
        s.total,
        s.done,
        s.recovered,
        s.already_done,
        s.failed.len(),
        s.skipped_charged.len(),
        s.skipped_budget,
        s.skipped_cancelled
    );
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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const LIMIT: u64 = 10;

    fn t(secs: f64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs_f64(1_900_000_000.0 + secs)
    }

    fn meta(remaining: u64, reset: f64) -> ResponseMeta {
        let mut h = venice_image::raw::reqwest::header::HeaderMap::new();
        let mut set = |name: &'static str, value: String| {
            h.insert(name, value.parse().unwrap());
        };
        set("x-ratelimit-limit-requests", LIMIT.to_string());
        set("x-ratelimit-remaining-requests", remaining.to_string());
        set(
            "x-ratelimit-reset-requests",
            format!("{}", 1_900_000_000.0 + reset),
        );
        let m = ResponseMeta::from_headers(200, &h);
        assert_eq!(m.rate_limit().and_then(|r| r.reset_at()), Some(t(reset)));
        m
    }

    /// Start requests at `now` until the pacer says wait; returns their sequence numbers.
    fn start_all(p: &mut Pacer, now: SystemTime) -> Vec<u64> {
        std::iter::from_fn(|| p.reserve(now).ok())
            .take(1000)
            .collect()
    }

    #[test]
    fn out_of_order_answers_still_let_the_whole_limit_start() {
        let mut p = Pacer::default();
        // Learn the limit from a first request (the server counted 1).
        let first = p.reserve(t(0.0)).unwrap();
        p.complete(first, Some(&meta(LIMIT - 1, 10.0)));
        // Four in flight; the server counted them in the order 3, 1, 4, 2 and the
        // answers arrive in yet another order.
        let seqs: Vec<u64> = (0..4).map(|_| p.reserve(t(1.0)).unwrap()).collect();
        let counted = [3, 1, 4, 2]; // position of seqs[i] in the server's count after `first`
        for i in [2usize, 0, 3, 1] {
            p.complete(seqs[i], Some(&meta(LIMIT - 1 - counted[i], 10.0)));
        }
        // 5 of 10 used: exactly 5 more may start in this window, then it waits.
        let more = start_all(&mut p, t(2.0));
        assert_eq!(more.len(), 5);
        let wait = p.reserve(t(2.0)).unwrap_err();
        assert!(wait >= Duration::from_secs(8) && wait <= Duration::from_millis(8100));
    }

    #[test]
    fn answers_arriving_while_others_are_in_flight_do_not_cost_slots() {
        // The server counts pairs of concurrent requests swapped (2 before 1, 4 before
        // 3, …), so each odd answer reports a count that includes a later request.
        let position = |seq: u64| match seq {
            s if s % 2 == 1 && s + 1 < LIMIT => s + 2,
            s => s + 1 - u64::from(s % 2 == 0 && s > 0),
        };
        let mut p = Pacer::default();
        let first = p.reserve(t(0.0)).unwrap();
        p.complete(first, Some(&meta(LIMIT - position(first), 10.0)));
        // Keep 3 in flight all window long, answering the oldest as each new one starts.
        let mut in_flight: Vec<u64> = (0..3).map(|_| p.reserve(t(1.0)).unwrap()).collect();
        while let Ok(seq) = p.reserve(t(1.0)) {
            in_flight.push(seq);
            let done = in_flight.remove(0);
            p.complete(done, Some(&meta(LIMIT - position(done), 10.0)));
        }
        assert_eq!(p.started, LIMIT, "every slot of the window was used");
    }

    #[test]
    fn requests_of_others_are_counted_once_seen() {
        let mut p = Pacer::default();
        // Another client took 3 slots before our first request.
        let a = p.reserve(t(0.0)).unwrap();
        let b = p.reserve(t(0.0)).unwrap();
        p.complete(a, Some(&meta(LIMIT - 4, 10.0)));
        p.complete(b, Some(&meta(LIMIT - 5, 10.0)));
        assert_eq!(start_all(&mut p, t(1.0)).len(), 5);
    }

    #[test]
    fn server_count_above_ours_is_trusted() {
        let mut p = Pacer::default();
        let a = p.reserve(t(0.0)).unwrap();
        p.complete(a, Some(&meta(0, 10.0)));
        assert!(p.reserve(t(1.0)).is_err());
    }

    #[test]
    fn a_full_window_waits_for_its_reset_then_starts_afresh() {
        let mut p = Pacer::default();
        let first = p.reserve(t(0.0)).unwrap();
        p.complete(first, Some(&meta(LIMIT - 1, 10.0)));
        let rest = start_all(&mut p, t(0.5));
        assert_eq!(rest.len() as u64, LIMIT - 1);
        for (i, seq) in rest.iter().enumerate() {
            p.complete(*seq, Some(&meta(LIMIT - 2 - i as u64, 10.0)));
        }
        let wait = p.reserve(t(1.0)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(9) + RESET_MARGIN);
        // After the reset the whole limit is available again, before any answer.
        assert_eq!(start_all(&mut p, t(10.05)).len() as u64, LIMIT);
        // A late answer of the old window does not confuse the new one.
        p.complete(first, Some(&meta(0, 10.0)));
        assert!(p.reserve(t(10.1)).is_err());
    }

    #[test]
    fn a_429_holds_new_requests_until_the_reset() {
        let mut p = Pacer::default();
        let a = p.reserve(t(0.0)).unwrap();
        p.complete(a, Some(&meta(LIMIT - 1, 10.0)));
        let b = p.reserve(t(1.0)).unwrap();
        p.rate_limited(b, Some(Duration::from_secs(9)), t(1.0));
        let wait = p.reserve(t(1.0)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(9) + RESET_MARGIN);
        assert!(p.reserve(t(10.1)).is_ok());
    }

    #[test]
    fn without_rate_limit_headers_nothing_waits() {
        let mut p = Pacer::default();
        for _ in 0..100 {
            let seq = p.reserve(t(0.0)).unwrap();
            p.complete(seq, None);
        }
    }
}
