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
use tokio::sync::{Mutex, Semaphore};
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

/// Run `batch`.
pub async fn run(session: &Session, args: BatchArgs) -> Result<ExitCode, CliError> {
    let jobs = read_jobs(&args.jobs)?;
    let sheet_jobs = args.sheet.then(|| {
        jobs.iter()
            .map(|j| crate::sheet::JobSummary::of(&j.id, &j.spec))
            .collect::<Vec<_>>()
    });
    crate::style::check_all(
        &session.client,
        jobs.iter()
            .filter_map(|j| Some((Some(j.id.as_str()), j.spec.style.as_deref()?))),
    )
    .await?;
    if args.concurrency == 0 {
        return Err(CliError::Usage("--concurrency must be at least 1".into()));
    }
    let concurrency = wallet_concurrency(session, &args);
    std::fs::create_dir_all(&args.out)
        .map_err(|e| CliError::Io(format!("cannot create {}: {e}", args.out.display())))?;
    let manifest_path = args.out.join(MANIFEST);
    if manifest_path.exists() && !args.resume {
        return Err(CliError::Usage(format!(
            "{} already holds a batch manifest; pass --resume to continue it, or choose another --out",
            args.out.display()
        )));
    }
    remove_partials(&args.out);
    let fresh = !manifest_path.exists();
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

    // An unreadable catalogue: a warning now, or (strict) an error before any job.
    if !todo.is_empty() {
        session.models.catalogue(&session.client).await?;
    }

    // What each job still to run is estimated to cost (a job that cannot be estimated
    // fails when its turn comes, as before).
    let mut estimated = Vec::with_capacity(todo.len());
    for job in todo {
        let cost = session.client.estimate_cost(&job.request).await;
        estimated.push((job, cost));
    }
    let mut at_stake: f64 = estimated
        .iter()
        .filter_map(|(_, c)| c.as_ref().ok().map(|c| c.total_usd()))
        .sum();
    if let Some(max) = args.max_cost {
        at_stake = at_stake.min((max - summary.spent_before_usd).max(0.0));
    }
    if !args.ignore_balance
        && at_stake > 0.0
        && let Err(e) = check_balance(session, at_stake, estimated.len()).await
    {
        // Nothing was started: a new batch leaves no manifest behind, so the same
        // command works once the account is topped up (no --resume needed).
        if fresh {
            drop(writer);
            let _ = std::fs::remove_file(&manifest_path);
        }
        return Err(e);
    }
    seed_pacing(session, &estimated).await;
    let sheet = match &sheet_jobs {
        Some(jobs) => Some(crate::sheet::Live::start(&args.out, jobs)?),
        None => None,
    };

    let bar = ProgressBar::new(summary.total as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} jobs [{elapsed}] {msg}") {
        bar.set_style(style);
    }
    bar.set_position(
        (summary.already_done + summary.recovered + summary.skipped_charged.len()) as u64,
    );
    let waits = show_waits(&bar);

    let cancelled = Arc::new(AtomicBool::new(false));
    {
        let cancelled = cancelled.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancelled.store(true, Ordering::SeqCst);
            }
        });
    }

    let semaphore = Arc::new(Semaphore::new(concurrency));
    let rules = Arc::new(std::sync::Mutex::new(StopRules::new(concurrency)));
    // Err: the reason and whether the job may have been charged.
    let outcomes = Arc::new(Mutex::new(
        Vec::<(String, Result<f64, (String, bool)>)>::new(),
    ));
    let mut committed = summary.spent_before_usd;
    let mut tasks = tokio::task::JoinSet::new();
    let mut pending = estimated.into_iter();
    let mut stopped_by_budget = false;
    let mut stopped_by_rules = false;
    for (job, cost) in pending.by_ref() {
        if cancelled.load(Ordering::SeqCst) {
            summary.skipped_cancelled += 1;
            break;
        }
        let cost = match cost {
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
        if rules.lock().is_ok_and(|r| r.stopped().is_some()) {
            summary.skipped_stopped += 1;
            stopped_by_rules = true;
            break;
        }
        lock(&writer)?.append(&Event::Started {
            job: job.id.clone(),
            hash: job.hash.clone(),
        })?;
        let client = session.client.clone();
        let models = session.models.clone();
        let (writer, outcomes, target, bar, rules) = (
            writer.clone(),
            outcomes.clone(),
            target.clone(),
            bar.clone(),
            rules.clone(),
        );
        tasks.spawn(async move {
            let _permit = permit;
            // The client paces each attempt (see `Session::open`).
            let result = match models.check(&client, &job.request).await {
                Ok(()) => client
                    .generate(&job.request)
                    .await
                    .map_err(CliError::Client),
                Err(e) => Err(e),
            };
            // Before this job gives its place to the next one.
            if let Ok(mut rules) = rules.lock() {
                match &result {
                    Ok(generation) => rules.served(generation.meta()),
                    Err(e) => rules.failed(e),
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
                        false,
                        Some(cost),
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
                Err(e) => Err((
                    crate::report::headline(&e),
                    e.client()
                        .is_some_and(venice_image::Error::may_have_been_charged),
                )),
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
    // Jobs never started: after the cap would be crossed, after the stop rules stopped
    // the batch, or after Ctrl-C.
    let rest = pending.count();
    if stopped_by_budget {
        summary.skipped_budget += rest;
    } else if stopped_by_rules {
        summary.skipped_stopped += rest;
    } else {
        summary.skipped_cancelled += rest;
    }
    while tasks.join_next().await.is_some() {}
    waits.abort();
    bar.finish_and_clear();
    if let Some(sheet) = sheet {
        sheet.finish().await;
    }
    summary.stopped = rules
        .lock()
        .ok()
        .and_then(|r| r.stopped().map(str::to_owned));

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
        || summary.skipped_cancelled > 0
        || summary.skipped_stopped > 0;
    Ok(if partial {
        ExitCode::from(exit::PARTIAL)
    } else {
        ExitCode::SUCCESS
    })
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
                let diem = b.diem_balance_usd().unwrap_or(0.0).max(0.0);
                let detail = if diem > 0.0 {
                    format!("wallet credit ${:.4} + DIEM ${diem:.4}", b.balance_usd())
                } else {
                    "wallet credit".to_owned()
                };
                (Some(b.balance_usd().max(0.0) + diem), detail)
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
        Ok(limits) if !limits.is_access_permitted() => {
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
                    part("DIEM", limits.diem()),
                    part("bundled credits", limits.bundled_credits()),
                    part("USD", limits.usd()),
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
                part("DIEM", b.diem()),
                part("earned credits", b.earned_credits()),
                part("bundled credits", b.bundled_credits()),
                part("USD", b.usd()),
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
async fn seed_pacing(
    session: &Session,
    jobs: &[(Job, venice_image::Result<venice_image::models::Cost>)],
) {
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
    let mut models: Vec<&str> = jobs.iter().map(|(j, _)| j.request.model()).collect();
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
