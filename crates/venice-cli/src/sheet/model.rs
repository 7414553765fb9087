//! What a contact sheet shows, read from an output directory: one tile per saved image
//! (from its JSON sidecar), per failed batch job (from `manifest.jsonl`) and, while a
//! batch runs with `--sheet`, per job not finished yet (from the job list it records).
//!
//! Everything is read leniently: the sidecars of `generate`, `batch`, `openai` and the
//! image operations differ in shape, older ones lack fields, and a manifest may end in a
//! line a running batch is still writing. The manifest is parsed here rather than with
//! `batch`'s types because `batch` calls the sheet (and the sheet must never repair a
//! manifest a running batch appends to, as `--resume` does).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::job::JobSpec;
use crate::output::{CostBasis, ImageCost};

/// The folder (inside the output directory) holding the sheet's own files: thumbnails
/// and the job list of a batch run with `--sheet`.
pub const FILES_DIR: &str = "sheet";
/// The job list `batch --sheet` records in [`FILES_DIR`].
pub const JOBS_FILE: &str = "jobs.json";
/// The batch manifest's name (as `batch` writes it).
pub const MANIFEST: &str = "manifest.jsonl";
/// Extensions of the images a sheet shows.
pub const IMAGE_EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "webp"];

/// One job of a batch as the sheet shows it before it has an image.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct JobSummary {
    /// Job ID.
    pub id: String,
    /// Prompt.
    pub prompt: String,
    /// Model ID.
    pub model: String,
    /// Requested sizing (`1024x768`, `16:9`, `16:9@2K`), if any.
    #[serde(default)]
    pub sizing: Option<String>,
    /// Requested format, if any.
    #[serde(default)]
    pub format: Option<String>,
    /// Seed, if any.
    #[serde(default)]
    pub seed: Option<i64>,
}

impl JobSummary {
    /// The summary of a job line.
    pub fn of(id: &str, spec: &JobSpec) -> JobSummary {
        let sizing = match (&spec.size, &spec.aspect, &spec.resolution) {
            (Some(size), _, _) => Some(size.clone()),
            (None, Some(aspect), Some(res)) => Some(format!("{aspect}@{res}")),
            (None, Some(aspect), None) => Some(aspect.clone()),
            _ => None,
        };
        JobSummary {
            id: id.to_owned(),
            prompt: spec.prompt.clone(),
            model: spec.model().to_owned(),
            sizing,
            format: spec.format.clone(),
            seed: spec.seed,
        }
    }
}

/// Where a tile's job stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// The image is saved.
    Done,
    /// The job failed.
    Failed {
        /// Why (the batch's one-line reason).
        reason: String,
        /// The request may have been processed and charged.
        may_have_been_charged: bool,
    },
    /// The job's request was sent and has no outcome yet (or the batch was killed).
    Started,
    /// The job has not been started.
    NotStarted,
}

/// One tile of the sheet.
#[derive(Debug, Clone, PartialEq)]
pub struct Tile {
    /// Where the job stands.
    pub status: Status,
    /// The image's file name in the directory (done tiles).
    pub image: Option<String>,
    /// Batch job ID.
    pub job: Option<String>,
    /// The operation (`generate`, `edit`, `upscale`, `openai`…).
    pub operation: String,
    /// Prompt.
    pub prompt: Option<String>,
    /// Negative prompt.
    pub negative_prompt: Option<String>,
    /// The prompt as the server rewrote it (`enhance_prompt`).
    pub enhanced_prompt: Option<String>,
    /// Model ID.
    pub model: Option<String>,
    /// Requested sizing, when not plain pixels (`16:9@2K`, `x2`…).
    pub sizing: Option<String>,
    /// Pixel size of the saved image.
    pub dimensions: Option<(u32, u32)>,
    /// Seed.
    pub seed: Option<i64>,
    /// Variant index within its request.
    pub variant: Option<u64>,
    /// Image format.
    pub format: Option<String>,
    /// What the image cost.
    pub cost: Option<ImageCost>,
    /// Wall time of the request in milliseconds.
    pub elapsed_ms: Option<u64>,
    /// Request ID.
    pub request_id: Option<String>,
    /// Blurred by safe mode.
    pub blurred: bool,
    /// Flagged as a content violation.
    pub content_violation: bool,
    /// Unix time the image was written.
    pub created_unix: Option<u64>,
}

impl Tile {
    /// The tile of batch job `job` that has no image (yet), with what its job line says.
    pub fn pending(job: &str, status: Status, summary: Option<&JobSummary>) -> Tile {
        Tile {
            status,
            image: None,
            job: Some(job.to_owned()),
            operation: "generate".to_owned(),
            prompt: summary.map(|s| s.prompt.clone()),
            negative_prompt: None,
            enhanced_prompt: None,
            model: summary.map(|s| s.model.clone()),
            sizing: summary.and_then(|s| s.sizing.clone()),
            dimensions: None,
            seed: summary.and_then(|s| s.seed),
            variant: None,
            format: summary.and_then(|s| s.format.clone()),
            cost: None,
            elapsed_ms: None,
            request_id: None,
            blurred: false,
            content_violation: false,
            created_unix: None,
        }
    }
}

/// The sums shown at the top of the sheet.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Totals {
    /// Tiles.
    pub tiles: usize,
    /// Saved images.
    pub images: usize,
    /// Failed jobs.
    pub failed: usize,
    /// Failed jobs that may have been charged.
    pub may_have_been_charged: usize,
    /// Jobs not finished (started or not).
    pub pending: usize,
    /// Blurred images.
    pub blurred: usize,
    /// Images flagged as content violations.
    pub content_violations: usize,
    /// Sum of the images' costs in USD.
    pub cost_usd: f64,
    /// Whether any of that sum is an estimate (else every cost was reported charged).
    pub cost_estimated: bool,
    /// Images without a recorded cost.
    pub unpriced: usize,
    /// Sum of the requests' wall times in milliseconds (requests that ran at once
    /// overlap, so a batch took less than this).
    pub elapsed_ms: u64,
}

/// Everything a sheet shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    /// Tiles in their default order: a batch's jobs in job order, then other images
    /// by time.
    pub tiles: Vec<Tile>,
    /// Sums over the tiles.
    pub totals: Totals,
    /// Sidecars that could not be read (file name and why): their images are shown
    /// without details.
    pub unreadable: Vec<(String, String)>,
}

/// The fields of any sidecar the CLI writes (each optional: shapes differ by command
/// and age).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SidecarView {
    job: Option<String>,
    operation: Option<String>,
    model: Option<String>,
    prompt: Option<String>,
    negative_prompt: Option<String>,
    enhanced_prompt: Option<String>,
    seed: Option<i64>,
    sizing: Option<String>,
    options: Option<Value>,
    request: Option<Value>,
    format: Option<String>,
    variant: Option<u64>,
    width: Option<u32>,
    height: Option<u32>,
    request_id: Option<String>,
    elapsed_ms: Option<u64>,
    blurred: bool,
    content_violation: bool,
    cost: Option<ImageCost>,
    created_unix: Option<u64>,
}

impl SidecarView {
    /// The requested sizing, when it says more than the pixel size.
    fn sizing(&self) -> Option<String> {
        if let Some(s) = self.sizing.as_deref() {
            let plain = (self.width, self.height) == pixels_of(s);
            return (!plain && s != "default").then(|| s.to_owned());
        }
        let opt = |v: &Option<Value>, k: &str| {
            v.as_ref().and_then(|o| o.get(k)).and_then(|x| match x {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(match n.as_f64() {
                    Some(f) if f.fract() == 0.0 => format!("{f:.0}"),
                    _ => n.to_string(),
                }),
                _ => None,
            })
        };
        if let Some(scale) = opt(&self.options, "scale") {
            return Some(format!("x{scale}"));
        }
        match (
            opt(&self.options, "aspect_ratio"),
            opt(&self.options, "resolution"),
        ) {
            (Some(a), Some(r)) => return Some(format!("{a}@{r}")),
            (Some(a), None) => return Some(a),
            (None, Some(r)) => return Some(r),
            (None, None) => {}
        }
        opt(&self.request, "size").filter(|s| (self.width, self.height) != pixels_of(s))
    }
}

fn pixels_of(sizing: &str) -> (Option<u32>, Option<u32>) {
    match sizing.split_once(['x', 'X']) {
        Some((w, h)) => (w.trim().parse().ok(), h.trim().parse().ok()),
        None => (None, None),
    }
}

/// What `manifest.jsonl` says about each job: its last event, and the order in which
/// jobs first appear.
#[derive(Debug, Default)]
struct Manifest {
    last: HashMap<String, Value>,
    order: Vec<String>,
}

impl Manifest {
    fn read(dir: &Path) -> Manifest {
        let mut m = Manifest::default();
        let Ok(text) = std::fs::read_to_string(dir.join(MANIFEST)) else {
            return m;
        };
        // A line being written (no newline yet, or cut by a crash) does not parse and is
        // left out.
        for line in text.lines() {
            let Ok(event) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let Some(job) = event.get("job").and_then(Value::as_str) else {
                continue;
            };
            if !m.last.contains_key(job) {
                m.order.push(job.to_owned());
            }
            m.last.insert(job.to_owned(), event);
        }
        m
    }

    fn event(&self, job: &str) -> Option<&str> {
        self.last.get(job)?.get("event")?.as_str()
    }
}

/// Whether `name` is an image the sheet shows.
pub fn is_image(name: &str) -> bool {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Read `dir`: its images and sidecars, the batch manifest and job list if any.
pub fn read(dir: &Path) -> std::io::Result<Sheet> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    let manifest = Manifest::read(dir);
    let jobs: Vec<JobSummary> = std::fs::read(dir.join(FILES_DIR).join(JOBS_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let by_id: HashMap<&str, &JobSummary> = jobs.iter().map(|j| (j.id.as_str(), j)).collect();

    let mut tiles = Vec::new();
    let mut unreadable = Vec::new();
    for name in names.iter().filter(|n| is_image(n)) {
        let sidecar_name = format!("{name}.json");
        let view = if names.binary_search(&sidecar_name).is_ok() {
            match std::fs::read(dir.join(&sidecar_name))
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<SidecarView>(&b).map_err(|e| e.to_string()))
            {
                Ok(v) => v,
                Err(e) => {
                    unreadable.push((sidecar_name, e));
                    SidecarView::default()
                }
            }
        } else {
            SidecarView::default()
        };
        tiles.push(done_tile(name, view, &manifest));
    }

    // Jobs without an image: failed, in flight or not started.
    let mut pending_ids: Vec<&str> = manifest.order.iter().map(String::as_str).collect();
    pending_ids.extend(
        jobs.iter()
            .map(|j| j.id.as_str())
            .filter(|id| !manifest.last.contains_key(*id)),
    );
    let with_image: HashSet<String> = tiles.iter().filter_map(|t| t.job.clone()).collect();
    for id in pending_ids {
        if with_image.contains(id) {
            continue;
        }
        let status = match manifest.event(id) {
            Some("failed") => {
                let event = &manifest.last[id];
                Status::Failed {
                    reason: event
                        .get("reason")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    may_have_been_charged: event
                        .get("may_have_been_charged")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                }
            }
            Some("started") => Status::Started,
            // Done but its files are gone (moved or deleted): nothing to show.
            Some(_) => continue,
            None => Status::NotStarted,
        };
        tiles.push(Tile::pending(id, status, by_id.get(id).copied()));
    }

    // Job order: the job list's when recorded, else the manifest's.
    let mut rank: HashMap<&str, usize> = HashMap::new();
    for (i, id) in jobs
        .iter()
        .map(|j| j.id.as_str())
        .chain(manifest.order.iter().map(String::as_str))
        .enumerate()
    {
        rank.entry(id).or_insert(i);
    }
    tiles.sort_by(|a, b| {
        let key = |t: &Tile| {
            (
                t.job
                    .as_deref()
                    .and_then(|j| rank.get(j).copied())
                    .unwrap_or(usize::MAX),
                t.variant.unwrap_or(0),
                t.created_unix.unwrap_or(u64::MAX),
            )
        };
        key(a).cmp(&key(b)).then_with(|| a.image.cmp(&b.image))
    });
    let totals = totals(&tiles);
    Ok(Sheet {
        tiles,
        totals,
        unreadable,
    })
}

fn done_tile(name: &str, view: SidecarView, manifest: &Manifest) -> Tile {
    let sizing = view.sizing();
    // Sidecars written before costs were recorded: a batch job's estimate from its
    // manifest entry, split over its images.
    let cost = view.cost.clone().or_else(|| {
        let done = manifest.last.get(view.job.as_deref()?)?;
        let usd = done.get("cost_usd")?.as_f64()?;
        let files = done.get("files")?.as_array()?.len();
        let model = view.model.as_deref().unwrap_or("?");
        Some(ImageCost::estimated(
            usd,
            files,
            format!("{model} x{files}"),
        ))
    });
    Tile {
        status: Status::Done,
        image: Some(name.to_owned()),
        job: view.job,
        operation: view.operation.unwrap_or_else(|| "generate".to_owned()),
        prompt: view.prompt,
        negative_prompt: view.negative_prompt,
        enhanced_prompt: view.enhanced_prompt,
        model: view.model,
        sizing,
        dimensions: view.width.zip(view.height),
        seed: view.seed,
        variant: view.variant,
        format: view.format,
        cost,
        elapsed_ms: view.elapsed_ms,
        request_id: view.request_id,
        blurred: view.blurred,
        content_violation: view.content_violation,
        created_unix: view.created_unix,
    }
}

fn totals(tiles: &[Tile]) -> Totals {
    let mut t = Totals {
        tiles: tiles.len(),
        ..Totals::default()
    };
    for tile in tiles {
        match &tile.status {
            Status::Done => {
                t.images += 1;
                t.blurred += usize::from(tile.blurred);
                t.content_violations += usize::from(tile.content_violation);
                t.elapsed_ms += tile.elapsed_ms.unwrap_or(0);
                match &tile.cost {
                    Some(c) => {
                        t.cost_usd += c.usd;
                        t.cost_estimated |= c.basis == CostBasis::Estimate;
                    }
                    None => t.unpriced += 1,
                }
            }
            Status::Failed {
                may_have_been_charged,
                ..
            } => {
                t.failed += 1;
                t.may_have_been_charged += usize::from(*may_have_been_charged);
            }
            Status::Started | Status::NotStarted => t.pending += 1,
        }
    }
    t
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn a_batch_directory_gives_done_failed_and_pending_tiles_in_job_order() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, "b-0.png", "not decoded here");
        write(
            d,
            "b-0.png.json",
            r#"{"image":"b-0.png","job":"b","model":"m1","prompt":"second","seed":3,
                "sizing":"16:9@2K","format":"png","variant":0,"width":2048,"height":1152,
                "request_id":"r-1","elapsed_ms":1500,"blurred":true,"content_violation":false,
                "cost":{"usd":0.25,"basis":"estimate","priced_as":"m1 x1"},"created_unix":5}"#,
        );
        // An older sidecar without a cost: the manifest's estimate is used.
        write(d, "c-0.webp", "");
        write(
            d,
            "c-0.webp.json",
            r#"{"image":"c-0.webp","job":"c","model":"m2","prompt":"third","seed":null,
                "sizing":"512x512","format":"webp","variant":0,"width":512,"height":512,
                "request_id":null,"elapsed_ms":10,"blurred":false,"content_violation":false,
                "created_unix":9}"#,
        );
        write(
            d,
            MANIFEST,
            concat!(
                r#"{"event":"started","job":"a","hash":"1"}"#,
                "\n",
                r#"{"event":"failed","job":"a","reason":"API error 500","may_have_been_charged":true}"#,
                "\n",
                r#"{"event":"started","job":"b","hash":"2"}"#,
                "\n",
                r#"{"event":"done","job":"b","files":["b-0.png"],"request_id":"r-1","cost_usd":0.25}"#,
                "\n",
                r#"{"event":"started","job":"c","hash":"3"}"#,
                "\n",
                r#"{"event":"done","job":"c","files":["c-0.webp"],"request_id":null,"cost_usd":0.04}"#,
                "\n",
                r#"{"event":"started","job":"d","hash":"4"}"#,
                "\n",
                r#"{"event":"done","job":"e","fi"#,
            ),
        );
        std::fs::create_dir(d.join(FILES_DIR)).unwrap();
        let jobs = [
            JobSummary {
                id: "a".into(),
                prompt: "first".into(),
                model: "m0".into(),
                ..JobSummary::default()
            },
            JobSummary {
                id: "e".into(),
                prompt: "fifth".into(),
                model: "m0".into(),
                ..JobSummary::default()
            },
        ];
        write(
            &d.join(FILES_DIR),
            JOBS_FILE,
            &serde_json::to_string(&jobs).unwrap(),
        );
        let sheet = read(d).unwrap();
        let jobs: Vec<_> = sheet
            .tiles
            .iter()
            .map(|t| t.job.as_deref().unwrap())
            .collect();
        assert_eq!(jobs, ["a", "e", "b", "c", "d"]);
        let a = &sheet.tiles[0];
        assert_eq!(a.prompt.as_deref(), Some("first"));
        assert_eq!(
            a.status,
            Status::Failed {
                reason: "API error 500".into(),
                may_have_been_charged: true
            }
        );
        assert_eq!(sheet.tiles[1].status, Status::NotStarted);
        let b = &sheet.tiles[2];
        assert_eq!(b.sizing.as_deref(), Some("16:9@2K"));
        assert_eq!(b.dimensions, Some((2048, 1152)));
        assert!(b.blurred);
        let c = &sheet.tiles[3];
        assert_eq!(c.sizing, None, "plain pixels say nothing more");
        assert_eq!(c.cost.as_ref().unwrap().usd, 0.04);
        assert_eq!(sheet.tiles[4].status, Status::Started);
        let t = &sheet.totals;
        assert_eq!(
            (
                t.tiles,
                t.images,
                t.failed,
                t.may_have_been_charged,
                t.pending
            ),
            (5, 2, 1, 1, 2)
        );
        assert!((t.cost_usd - 0.29).abs() < 1e-12 && t.cost_estimated);
        assert_eq!((t.blurred, t.elapsed_ms), (1, 1510));
    }

    #[test]
    fn operation_sidecars_and_bare_images_are_tiles_too() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, "x-x2-0.png", "");
        write(
            d,
            "x-x2-0.png.json",
            r#"{"image":"x-x2-0.png","operation":"upscale","model":null,"prompt":null,
                "inputs":[],"options":{"scale":2.0},"format":"png","width":8,"height":8,
                "elapsed_ms":3,"blurred":false,"content_violation":false,
                "cost":{"usd":0.02,"basis":"charged","priced_as":"upscaler 2x"},"created_unix":2}"#,
        );
        write(d, "e-edit-0.jpeg", "");
        write(
            d,
            "e-edit-0.jpeg.json",
            r#"{"image":"e-edit-0.jpeg","operation":"edit","prompt":"sky","options":
                {"aspect_ratio":"16:9","resolution":"2K"},"width":1,"height":1,"created_unix":1}"#,
        );
        write(d, "photo.JPG", "");
        write(d, "notes.txt", "");
        write(d, "broken.webp", "");
        write(d, "broken.webp.json", "{not json");
        let sheet = read(d).unwrap();
        let names: Vec<_> = sheet
            .tiles
            .iter()
            .map(|t| t.image.as_deref().unwrap())
            .collect();
        assert_eq!(
            names,
            ["e-edit-0.jpeg", "x-x2-0.png", "broken.webp", "photo.JPG"]
        );
        assert_eq!(sheet.tiles[0].sizing.as_deref(), Some("16:9@2K"));
        assert_eq!(sheet.tiles[0].operation, "edit");
        assert_eq!(sheet.tiles[1].sizing.as_deref(), Some("x2"));
        assert!(!sheet.totals.cost_estimated, "the one cost was charged");
        assert_eq!(sheet.totals.unpriced, 3);
        assert_eq!(sheet.unreadable.len(), 1);
        assert_eq!(sheet.unreadable[0].0, "broken.webp.json");
    }
}
