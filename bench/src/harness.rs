//! `cargo xtask bench`: runs every benchmark client as its own process against
//! `bench-server` on loopback, alternating the client order round by round so machine
//! drift hits all clients alike, and writes `BENCHMARKS.md`.
//!
//! `bench-harness --workspace DIR --cli PATH [--quick] [--no-python] [--only batch|recording|mock-images] [--out FILE]`
//!
//! `--only batch` runs just the batch pacing section and prints it, `--only mock-images`
//! just the mock's image synthesis; either writes a file only when `--out` is given, so a
//! partial run never replaces the full `BENCHMARKS.md`. `--only recording` runs just the
//! recorder's section and prints it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use serde_json::Value;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const MIB: u64 = 1024 * 1024;

const PYTHON_CLIENT: &str = r#"
import base64, json, sys, time
import openai
url, calls, variants = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
client = openai.OpenAI(base_url=url, api_key="venice-mock-key", max_retries=0)
def op():
    images = []
    for _ in range(variants):  # n is capped at 1 by the API
        r = client.images.generate(model="venice-sd35", prompt="bench", n=1,
                                   size="1024x1024", response_format="b64_json")
        images.append(base64.b64decode(r.data[0].b64_json))
    return sum(len(i) for i in images)
decoded = op()
micros = []
for _ in range(calls):
    t = time.perf_counter()
    op()
    micros.append(int((time.perf_counter() - t) * 1e6))
hwm = 0
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        hwm = int(line.split()[1])
print(json.dumps({"kind": "python-openai", "micros": micros, "decoded_bytes": decoded, "vm_hwm_kib": hwm}))
"#;

struct Opts {
    workspace: PathBuf,
    bin_dir: PathBuf,
    cli: Option<PathBuf>,
    quick: bool,
    python: bool,
    /// Run only the batch pacing section.
    only_batch: bool,
    /// Run only the recording section.
    only_recording: bool,
    /// Run only the mock image synthesis section.
    only_mock_images: bool,
    out: PathBuf,
}

fn parse_opts() -> Result<Opts, BoxError> {
    let mut args = std::env::args().skip(1);
    let exe = std::env::current_exe()?;
    let bin_dir = exe.parent().ok_or("no exe dir")?.to_path_buf();
    let mut o = Opts {
        workspace: std::env::current_dir()?,
        bin_dir,
        cli: None,
        quick: false,
        python: true,
        only_batch: false,
        only_recording: false,
        only_mock_images: false,
        out: PathBuf::new(),
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--workspace" => o.workspace = args.next().ok_or("--workspace DIR")?.into(),
            "--cli" => o.cli = Some(args.next().ok_or("--cli PATH")?.into()),
            "--quick" => o.quick = true,
            "--no-python" => o.python = false,
            "--out" => o.out = args.next().ok_or("--out FILE")?.into(),
            "--only" => match args.next().as_deref() {
                Some("batch") => o.only_batch = true,
                Some("recording") => o.only_recording = true,
                Some("mock-images") => o.only_mock_images = true,
                other => {
                    return Err(
                        format!("--only batch|recording|mock-images (got {other:?})").into(),
                    );
                }
            },
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    if o.out.as_os_str().is_empty() && !o.only_batch && !o.only_recording && !o.only_mock_images {
        o.out = o.workspace.join("BENCHMARKS.md");
    }
    Ok(o)
}

/// A child command with the allocator left at its defaults for every client.
fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new(program);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("MALLOC_") || k == "GLIBC_TUNABLES" || k == "LD_PRELOAD" {
            c.env_remove(k);
        }
    }
    c
}

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(o: &Opts, image_bytes: u64, rate: Option<(u32, f64)>) -> Result<Self, BoxError> {
        Self::spawn(o, image_bytes, rate, false, &[])
    }

    /// A server limiting inference to `requests` per `window` seconds per key and model
    /// (the provider's kind of limit; the catalogue and account calls are not counted).
    fn per_model(o: &Opts, image_bytes: u64, requests: u32, window: f64) -> Result<Self, BoxError> {
        Self::spawn(o, image_bytes, Some((requests, window)), true, &[])
    }

    /// A server with `bench-server` options (`wallet=ADDRESS`, `latency=MS`) and the
    /// provider's other limits at their defaults.
    fn with_options(o: &Opts, image_bytes: u64, options: &[String]) -> Result<Self, BoxError> {
        Self::spawn(o, image_bytes, None, false, options)
    }

    /// A server whose JSON body limit is `max_body_bytes` (the upload rows).
    fn with_body_limit(o: &Opts, max_body_bytes: u64) -> Result<Self, BoxError> {
        Self::with_options(o, 1024, &[format!("max_body={max_body_bytes}")])
    }

    fn spawn(
        o: &Opts,
        image_bytes: u64,
        rate: Option<(u32, f64)>,
        per_model: bool,
        options: &[String],
    ) -> Result<Self, BoxError> {
        let mut c = command(o.bin_dir.join("bench-server"));
        c.arg(image_bytes.to_string());
        if let Some((r, w)) = rate {
            c.arg(r.to_string()).arg(w.to_string());
            if per_model {
                c.arg("per-model");
            }
        }
        c.args(options);
        let mut child = c.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
        let stdout = child.stdout.as_mut().ok_or("no server stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let url = line.trim().to_owned();
        if !url.starts_with("http") {
            return Err(format!("bench-server said {url:?}").into());
        }
        Ok(Self { child, url })
    }

    /// Stop the server and return how many responses it sent per status.
    fn stop(self) -> Result<BTreeMap<String, u64>, BoxError> {
        Ok(self.stop_with_stats()?.0)
    }

    /// Stop the server: responses per status, and what its limits saw (`LimitStats`).
    fn stop_with_stats(mut self) -> Result<(BTreeMap<String, u64>, Value), BoxError> {
        drop(self.child.stdin.take());
        let out = self.child.wait_with_output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let v: Value = serde_json::from_str(text.lines().last().unwrap_or("{}"))?;
        let mut counts = BTreeMap::new();
        if let Some(m) = v["status_counts"].as_object() {
            for (k, n) in m {
                counts.insert(k.clone(), n.as_u64().unwrap_or(0));
            }
        }
        Ok((counts, v["limit_stats"].clone()))
    }
}

/// `bench-recorder` in its own process, forwarding to an upstream.
struct RecorderProc {
    child: Child,
    url: String,
}

impl RecorderProc {
    fn start(o: &Opts, upstream: &str, cassette: &Path, shrink: bool) -> Result<Self, BoxError> {
        let mut c = command(o.bin_dir.join("bench-recorder"));
        c.arg(upstream).arg(cassette);
        if shrink {
            c.arg("shrink");
        }
        let mut child = c.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
        let stdout = child.stdout.as_mut().ok_or("no recorder stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let url = line.trim().to_owned();
        if !url.starts_with("http") {
            return Err(format!("bench-recorder said {url:?}").into());
        }
        Ok(Self { child, url })
    }

    /// Stop recording: `{vm_hwm_kib, exchanges, bytes}`.
    fn stop(mut self) -> Result<Value, BoxError> {
        drop(self.child.stdin.take());
        let out = self.child.wait_with_output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(serde_json::from_str(text.lines().last().unwrap_or("{}"))?)
    }
}

#[derive(Default, Clone)]
struct Samples {
    micros: Vec<u64>,
    rss_kib: Vec<u64>,
    decoded: u64,
}

impl Samples {
    fn median(&self) -> f64 {
        median(&self.micros)
    }
}

fn median(v: &[u64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_unstable();
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2] as f64,
        n => (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0,
    }
}

/// One client process; `None` when the client cannot run here (Python missing).
fn run_client(
    o: &Opts,
    python: Option<&Path>,
    kind: &str,
    url: &str,
    calls: usize,
    variants: u32,
) -> Result<Option<Samples>, BoxError> {
    let mut c = if kind == "python-openai" {
        let Some(py) = python else { return Ok(None) };
        let mut c = command(py);
        c.arg("-c").arg(PYTHON_CLIENT);
        c
    } else {
        let mut c = command(o.bin_dir.join("bench-client"));
        c.arg(kind);
        c
    };
    c.arg(url).arg(calls.to_string()).arg(variants.to_string());
    if kind == "facade-binary" {
        let dir = o.workspace.join("target/bench-out");
        std::fs::create_dir_all(&dir)?;
        c.arg(dir);
    } else if kind.starts_with("upscale-") || kind.starts_with("multi-edit-") {
        c.arg(uploads_dir(o));
    }
    let out = c.stderr(Stdio::piped()).output()?;
    if !out.status.success() {
        return Err(format!(
            "{kind} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(text.lines().last().unwrap_or(""))?;
    Ok(Some(Samples {
        micros: v["micros"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default(),
        rss_kib: vec![v["vm_hwm_kib"].as_u64().unwrap_or(0)],
        decoded: v["decoded_bytes"].as_u64().unwrap_or(0),
    }))
}

/// Run `kinds` for `rounds` rounds, rotating the order each round (ABC, BCA, CAB…).
fn alternate(
    o: &Opts,
    python: Option<&Path>,
    kinds: &[&str],
    url: &str,
    calls: usize,
    variants: u32,
    rounds: usize,
) -> Result<BTreeMap<String, Samples>, BoxError> {
    let mut all: BTreeMap<String, Samples> = BTreeMap::new();
    for round in 0..rounds {
        for i in 0..kinds.len() {
            let kind = kinds[(i + round) % kinds.len()];
            let Some(s) = run_client(o, python, kind, url, calls, variants)? else {
                continue;
            };
            let e = all.entry(kind.to_owned()).or_default();
            e.micros.extend(s.micros);
            e.rss_kib.extend(s.rss_kib);
            e.decoded = s.decoded;
        }
    }
    Ok(all)
}

fn setup_python(o: &Opts) -> Option<PathBuf> {
    if !o.python {
        eprintln!("python: skipped (--no-python)");
        return None;
    }
    let venv = o.workspace.join("target/bench-venv");
    let py = venv.join("bin/python");
    let ok = |c: &mut Command| c.status().map(|s| s.success()).unwrap_or(false);
    if !py.exists() && !ok(Command::new("python3").arg("-m").arg("venv").arg(&venv)) {
        eprintln!("python: skipped (python3 -m venv failed; is python3 installed?)");
        return None;
    }
    if !ok(Command::new(&py)
        .args(["-c", "import openai"])
        .stderr(Stdio::null()))
        && !ok(Command::new(&py).args(["-m", "pip", "install", "-q", "openai"]))
    {
        eprintln!("python: skipped (pip install openai failed)");
        return None;
    }
    Some(py)
}

fn fmt_ms(us: f64) -> String {
    if us >= 10_000.0 {
        format!("{:.0} ms", us / 1000.0)
    } else if us >= 1000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn shell(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

struct Report {
    md: String,
    verdicts: Vec<(String, bool)>,
}

impl Report {
    fn verdict(&mut self, what: String, ok: bool) {
        self.verdicts.push((what, ok));
    }
}

/// Allowance of the RSS target: the process itself (runtime, TLS, HTTP client,
/// catalogue) plus in-flight socket chunks, measured with a tiny payload.
const RSS_ALLOWANCE_MIB: f64 = 16.0;

fn main() -> Result<(), BoxError> {
    let o = parse_opts()?;
    if o.only_batch {
        return only_batch(&o);
    }
    if o.only_recording {
        return only_recording(&o);
    }
    if o.only_mock_images {
        return only_mock_images(&o);
    }
    let started = Instant::now();
    let rounds = if o.quick { 2 } else { 3 };
    let python = setup_python(&o);
    let mut r = Report {
        md: String::new(),
        verdicts: Vec::new(),
    };
    // 1–5: JSON mode at three payload sizes, binary mode up to ~64 MP.
    let (json_rows, binary_rows) = payload_rows(&o, python.as_deref(), rounds, &mut r)?;
    // 6: small-request overhead.
    let small_rows = small_request_rows(&o, rounds, &mut r)?;
    // 7: the recorder (`venice-mock record`): overhead, throughput, memory, size.
    let recording_md = recording(&o, rounds, &mut r)?;
    // 7b: uploads, as a form and as JSON.
    let upload_rows = uploads(&o, rounds, &mut r)?;
    // 8: the mock's image synthesis, with and without the drawn request.
    let images = mock_images(&o, &mut r)?;
    // 9: batch pacing through the CLI, one process and several.
    let batch = match &o.cli {
        Some(cli) => {
            batch(&o, cli, &mut r)?
                + &batch_processes(&o, cli, &mut r)?
                + &batch_limits(&o, cli, &mut r)?
        }
        None => "skipped: no `--cli` binary given\n".to_owned(),
    };
    let sections = Sections {
        json_rows,
        binary_rows,
        small_rows,
        recording_md,
        upload_rows,
        images,
        batch,
    };
    r.md = markdown(&o, rounds, started, &sections, &r.verdicts);
    std::fs::write(&o.out, &r.md)?;
    let mut stdout = std::io::stdout();
    stdout.write_all(r.md.as_bytes())?;
    eprintln!("wrote {}", o.out.display());
    Ok(())
}

/// `--only recording`: its table and verdicts, printed.
fn only_recording(o: &Opts) -> Result<(), BoxError> {
    let mut r = Report {
        md: String::new(),
        verdicts: Vec::new(),
    };
    let mut md = recording(o, if o.quick { 2 } else { 3 }, &mut r)?;
    md.push('\n');
    push_verdicts(&mut md, &r.verdicts);
    std::io::stdout().write_all(md.as_bytes())?;
    Ok(())
}

/// `--only mock-images`: its table and verdicts, printed (and written to `--out` when
/// given).
fn only_mock_images(o: &Opts) -> Result<(), BoxError> {
    let mut r = Report {
        md: String::new(),
        verdicts: Vec::new(),
    };
    let mut md = mock_images(o, &mut r)?;
    push_verdicts(&mut md, &r.verdicts);
    if !o.out.as_os_str().is_empty() {
        std::fs::write(&o.out, &md)?;
    }
    std::io::stdout().write_all(md.as_bytes())?;
    Ok(())
}

/// One line per verdict, ✅ or ❌.
fn push_verdicts(md: &mut String, verdicts: &[(String, bool)]) {
    for (what, ok) in verdicts {
        let _ = writeln!(md, "- {} {what}", if *ok { "✅" } else { "❌" });
    }
}

/// The measured tables of a full run, in the order BENCHMARKS.md shows them.
struct Sections {
    json_rows: String,
    binary_rows: String,
    small_rows: String,
    recording_md: String,
    upload_rows: String,
    images: String,
    batch: String,
}

/// JSON mode at three payload sizes (1 and 4 variants, every client), and binary mode
/// at the same sizes and at ~64 MP: the rows of both tables.
fn payload_rows(
    o: &Opts,
    python: Option<&Path>,
    rounds: usize,
    r: &mut Report,
) -> Result<(String, String), BoxError> {
    // 1–4: JSON mode at three payload sizes, 1 and 4 variants.
    let sizes: &[(&str, u64)] = &[
        ("~1 MP", 3 * MIB / 2),
        ("~4 MP", 6 * MIB),
        ("~16 MP", 24 * MIB),
    ];
    let kinds = ["facade", "baseline", "async-openai", "python-openai", "raw"];
    let mut json_rows = String::new();
    let mut binary_rows = String::new();
    for &(label, bytes) in sizes {
        let server = Server::start(o, bytes, None)?;
        for variants in [1u32, 4] {
            let json_mib = (bytes * u64::from(variants)) as f64 * 4.0 / 3.0 / MIB as f64;
            let calls = ((256.0 / json_mib) as usize).clamp(3, 10) / if o.quick { 2 } else { 1 };
            let calls = calls.max(2);
            eprintln!("json {label} x{variants}: {calls} calls x {rounds} rounds");
            let res = alternate(o, python, &kinds, &server.url, calls, variants, rounds)?;
            let base = res.get("baseline").map_or(f64::NAN, Samples::median);
            for kind in kinds {
                let Some(s) = res.get(kind) else {
                    let _ = writeln!(
                        json_rows,
                        "| {label} | {variants} | {kind} | skipped | | | |"
                    );
                    continue;
                };
                let med = s.median();
                let min = s.micros.iter().min().copied().unwrap_or(0) as f64;
                let max = s.micros.iter().max().copied().unwrap_or(0) as f64;
                let rss = mib(s.rss_kib.iter().max().copied().unwrap_or(0));
                let decoded_mib = s.decoded as f64 / MIB as f64;
                let _ = writeln!(
                    json_rows,
                    "| {label} | {variants} | {kind} | {} | {}–{} | {:.2}× | {rss:.0} MiB ({:.2}× decoded) |",
                    fmt_ms(med),
                    fmt_ms(min),
                    fmt_ms(max),
                    med / base,
                    rss / decoded_mib
                );
                if kind == "facade" {
                    facade_verdicts(r, label, variants, &res, rss, decoded_mib);
                }
            }
        }
        binary_rows.push_str(&binary_row(o, &server.url, label, rounds, r)?);
        server.stop()?;
    }
    // 5: binary mode beyond 16 MP: RSS must not grow with the image.
    let server = Server::start(o, 96 * MIB, None)?;
    binary_rows.push_str(&binary_row(o, &server.url, "~64 MP (96 MiB)", rounds, r)?);
    server.stop()?;
    Ok((json_rows, binary_rows))
}

/// The facade's targets for one JSON row: against the baseline, its memory, and the
/// peer clients when they ran.
fn facade_verdicts(
    r: &mut Report,
    label: &str,
    variants: u32,
    res: &BTreeMap<String, Samples>,
    rss: f64,
    decoded_mib: f64,
) {
    let Some(s) = res.get("facade") else {
        return;
    };
    let med = s.median();
    let base = res.get("baseline").map_or(f64::NAN, Samples::median);
    let ratio = med / base;
    r.verdict(
        format!("JSON {label} ×{variants}: facade ≤ 1.0× baseline ({ratio:.2}×)"),
        ratio <= 1.0,
    );
    r.verdict(
        format!(
            "JSON {label} ×{variants}: facade ≤ 0.35× baseline, perf-facts target ({ratio:.2}×)"
        ),
        ratio <= 0.35,
    );
    let limit = 1.3 * decoded_mib + RSS_ALLOWANCE_MIB;
    r.verdict(
        format!("JSON {label} ×{variants}: facade peak RSS {rss:.0} MiB ≤ 1.3 × {decoded_mib:.1} MiB + {RSS_ALLOWANCE_MIB} MiB = {limit:.0} MiB"),
        rss <= limit,
    );
    if let Some(ao) = res.get("async-openai") {
        let x = med / ao.median();
        r.verdict(
            format!("JSON {label} ×{variants}: facade ≤ 0.5× async-openai ({x:.2}×)"),
            x <= 0.5,
        );
    }
    if let Some(py) = res.get("python-openai") {
        let x = med / py.median();
        r.verdict(
            format!("JSON {label} ×{variants}: facade ≤ 0.3× Python openai ({x:.2}×)"),
            x <= 0.3,
        );
    }
}

/// Small-request overhead: the facade against raw reqwest and the baseline.
fn small_request_rows(o: &Opts, rounds: usize, r: &mut Report) -> Result<String, BoxError> {
    let server = Server::start(o, 1024, None)?;
    let calls = if o.quick { 100 } else { 300 };
    let small = alternate(
        o,
        None,
        &["facade", "raw", "baseline"],
        &server.url,
        calls,
        1,
        rounds,
    )?;
    server.stop()?;
    let mut small_rows = String::new();
    let raw = small.get("raw").map_or(f64::NAN, Samples::median);
    for (kind, s) in &small {
        let _ = writeln!(
            small_rows,
            "| {kind} | {} | {}–{} | {:+.0} µs |",
            fmt_ms(s.median()),
            fmt_ms(s.micros.iter().min().copied().unwrap_or(0) as f64),
            fmt_ms(s.micros.iter().max().copied().unwrap_or(0) as f64),
            s.median() - raw
        );
    }
    if let Some(f) = small.get("facade") {
        let over = f.median() - raw;
        r.verdict(
            format!("small request: facade overhead over raw reqwest {over:.0} µs ≤ 50 µs"),
            over <= 50.0,
        );
    }
    Ok(small_rows)
}

/// BENCHMARKS.md: the machine, the method, every table and the verdicts.
fn markdown(
    o: &Opts,
    rounds: usize,
    started: Instant,
    t: &Sections,
    verdicts: &[(String, bool)],
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(
        md,
        "Written by `cargo xtask bench{}` on {} in {:.0} s. Do not edit by hand.\n",
        if o.quick { " --quick" } else { "" },
        shell("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        started.elapsed().as_secs_f64()
    );
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_default();
    let _ = writeln!(
        md,
        "- machine: {cpu}, {} CPUs, Linux {}, shared with other work: compare ratios from one run, not absolute numbers across runs",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        shell("uname", &["-r"])
    );
    let _ = writeln!(
        md,
        "- toolchain: {}; release builds",
        shell("rustc", &["-V"])
    );
    let _ = writeln!(
        md,
        "- allocator: the system allocator (glibc malloc, default settings) for every client: `MALLOC_*`, `GLIBC_TUNABLES` and `LD_PRELOAD` are removed from every client's environment"
    );
    let _ = writeln!(
        md,
        "- server: `bench-server` (venice-mock in bench payload mode: one pre-generated random-noise PNG per size, stored uncompressed, JSON bodies cached, no HTTP compression) in its own process on 127.0.0.1"
    );
    let _ = writeln!(
        md,
        "- each client is its own process: one untimed warm-up operation, then N timed operations; clients alternate order round by round ({rounds} rounds); times are per operation (median, min–max over all rounds); peak RSS is the process's `VmHWM`, the largest over its rounds"
    );
    let _ = writeln!(
        md,
        "- ratio = median / median of the hand-written baseline in the same run\n"
    );
    let _ = writeln!(
        md,
        "## JSON mode (`POST /image/generate`, base64 images decoded in memory)\n"
    );
    let _ = writeln!(
        md,
        "Clients: **facade** = `venice_image::Client::generate` (catalogue validation on); **baseline** = hand-written reqwest 0.13 + serde derive + serde_json + base64 0.22 (`bytes()` → `from_slice` → decode); **async-openai** 0.43 and the **Python `openai`** SDK use the OpenAI-compatible `/images/generations` with `b64_json` and the same image; `n` is capped at 1 there, so their 4-variant operation is 4 sequential requests (same decoded bytes, all kept until the operation ends); **raw** = reqwest reading the body into memory without decoding (the transfer floor).\n"
    );
    let _ = writeln!(
        md,
        "| payload per image | variants | client | median | min–max | vs baseline | peak RSS |"
    );
    let _ = writeln!(md, "|---|---:|---|---:|---:|---:|---:|");
    md.push_str(&t.json_rows);
    let _ = writeln!(
        md,
        "\n## Binary mode streamed to disk (`generate_binary` + `save`)\n"
    );
    let _ = writeln!(md, "| payload | median | min–max | peak RSS |");
    let _ = writeln!(md, "|---|---:|---:|---:|");
    md.push_str(&t.binary_rows);
    let _ = writeln!(
        md,
        "\n## Small request (tiny image: a 1024×1 noise PNG of about 3 KiB, 1 variant)\n"
    );
    let _ = writeln!(
        md,
        "**raw** = reqwest POST of the same JSON body, reading the response body without decoding.\n"
    );
    let _ = writeln!(md, "| client | median | min–max | vs raw |");
    let _ = writeln!(md, "|---|---:|---:|---:|");
    md.push_str(&t.small_rows);
    md.push_str(&t.recording_md);
    md.push('\n');
    md.push_str(&t.images);
    let _ = writeln!(
        md,
        "\n## Uploads (`upscale` of a 24 MB PNG, `multi-edit` of three 10 MB PNGs)\n"
    );
    md.push_str(&t.upload_rows);
    let _ = writeln!(
        md,
        "\n## Batch pacing (`venice-image batch` against a rate-limited mock)\n"
    );
    md.push_str(&t.batch);
    let _ = writeln!(md, "\n## Targets\n");
    let _ = writeln!(
        md,
        "RSS allowance: {RSS_ALLOWANCE_MIB} MiB fixed (process, runtime, HTTP client, catalogue, socket buffers).\n"
    );
    push_verdicts(&mut md, verdicts);
    md
}

/// Where the upload rows' input files are written (once per run).
fn uploads_dir(o: &Opts) -> PathBuf {
    o.workspace.join("target/bench-uploads")
}

/// The upload rows: each operation as a form (the facade: files streamed from disk as
/// they are) and as JSON (the generated client streaming the files' base64 into the
/// body: how uploads went before), side by side. The images are small in pixels and
/// padded to size (`venice_mock::fixtures::padded_png`), so the time is the upload's.
fn uploads(o: &Opts, rounds: usize, r: &mut Report) -> Result<String, BoxError> {
    let dir = uploads_dir(o);
    std::fs::create_dir_all(&dir)?;
    let big = venice_mock::fixtures::padded_png(300, 256, 24_000_000).ok_or("padded png")?;
    std::fs::write(dir.join("big.png"), &big)?;
    let layer = venice_mock::fixtures::padded_png(256, 256, 10_000_000).ok_or("padded png")?;
    for i in 0..3 {
        std::fs::write(dir.join(format!("layer{i}.png")), &layer)?;
    }
    // Past the provider's 35 MB, so the 40 MB JSON multi-edit can be measured.
    let server = Server::with_body_limit(o, 64 * MIB)?;
    let calls = if o.quick { 2 } else { 4 };
    let mut rows = String::from(
        "**form** = `venice_image::Client::upscale` / `multi_edit` (`multipart/form-data`, each file \
         streamed from disk as it is); **json** = the generated client with a JSON body whose \
         base64 is streamed from the same files (how the facade uploaded before; three 10 MB \
         layers are 40 MB of JSON, which the provider refuses above 35 MB: measured here against \
         a mock with a raised limit). Throughput = file bytes per second; peak RSS is the client \
         process's `VmHWM`.\n\n\
         | operation | files | body | client | wire bytes | median | min–max | throughput | peak RSS |\n\
         |---|---:|---|---|---:|---:|---:|---:|---:|\n",
    );
    let rows_of = [
        (
            "upscale",
            24_000_000u64,
            1u64,
            ["upscale-form", "upscale-json"],
        ),
        (
            "multi-edit",
            30_000_000,
            3,
            ["multi-edit-form", "multi-edit-json"],
        ),
    ];
    for (operation, file_bytes, files, kinds) in rows_of {
        eprintln!("uploads {operation}: {calls} calls x {rounds} rounds");
        let res = alternate(o, None, &kinds, &server.url, calls, 1, rounds)?;
        let mut rss = BTreeMap::new();
        for kind in kinds {
            let Some(s) = res.get(kind) else { continue };
            let json = kind.ends_with("-json");
            // JSON: base64 (4/3, padded to 4) plus the object around it; a form: the
            // files plus part headers.
            let wire = if json {
                file_bytes.div_ceil(3) * 4
            } else {
                file_bytes
            };
            let med = s.median();
            let peak = mib(s.rss_kib.iter().max().copied().unwrap_or(0));
            rss.insert(kind, peak);
            let _ = writeln!(
                rows,
                "| {operation} | {files} × {:.0} MB | {} | {} | ~{:.1} MB | {} | {}–{} | {:.0} MB/s | {peak:.0} MiB |",
                file_bytes as f64 / files as f64 / 1e6,
                if json { "JSON" } else { "form" },
                if json { "generated client" } else { "facade" },
                wire as f64 / 1e6,
                fmt_ms(med),
                fmt_ms(s.micros.iter().min().copied().unwrap_or(0) as f64),
                fmt_ms(s.micros.iter().max().copied().unwrap_or(0) as f64),
                file_bytes as f64 / (med / 1e6) / 1e6,
            );
        }
        if let Some(form) = rss.get(kinds[0]) {
            let file_mib = file_bytes as f64 / MIB as f64;
            r.verdict(
                format!("uploads: {operation} of {file_mib:.0} MiB as a form: client peak RSS {form:.0} MiB ≤ {RSS_ALLOWANCE_MIB} MiB + 16 MiB, flat (not the file's size)"),
                *form <= RSS_ALLOWANCE_MIB + 16.0,
            );
        }
    }
    server.stop()?;
    Ok(rows)
}

/// The mock's generated images (`ImageKey::produce`: render, then encode), with the
/// request drawn on them and without (`render_pattern` + `encode`, the images before the
/// text), alternated in this process; medians. Bench payload mode does not draw.
fn mock_images(o: &Opts, r: &mut Report) -> Result<String, BoxError> {
    use venice_mock::images::{ImageKey, OutputFormat, encode, render_pattern};
    let reps = if o.quick { 3 } else { 7 };
    let prompt = "a lighthouse at dusk, oil painting, dramatic sky over a rough sea";
    let mut rows = String::new();
    for (w, h, label) in [
        (1024u32, 1024u32, "1024×1024"),
        (2048, 2048, "2048×2048 (4 MP)"),
    ] {
        for (format, name) in [
            (OutputFormat::Webp, "webp"),
            (OutputFormat::Png, "png"),
            (OutputFormat::Jpeg, "jpeg"),
        ] {
            let key = ImageKey {
                model: "venice-sd35".into(),
                prompt: prompt.into(),
                seed: 7,
                variant: 0,
                format,
                width: w,
                height: h,
                exif: false,
            };
            let (mut with_text, mut pattern) = (Vec::new(), Vec::new());
            for _ in 0..reps {
                let t = Instant::now();
                key.produce()?;
                with_text.push(t.elapsed().as_micros() as u64);
                let t = Instant::now();
                let img = render_pattern(&key.model, &key.prompt, 7, 0, w, h);
                encode(&image::DynamicImage::ImageRgb8(img), format, None)?;
                pattern.push(t.elapsed().as_micros() as u64);
            }
            let (a, b) = (median(&pattern), median(&with_text));
            let ratio = b / a;
            let _ = writeln!(
                rows,
                "| {label} | {name} | {} | {} | {ratio:.2}× |",
                fmt_ms(a),
                fmt_ms(b)
            );
            if format == OutputFormat::Webp {
                r.verdict(
                    format!("mock image {label} webp (the default): with the drawn request {ratio:.2}× the pattern alone (≤ 1.10×)"),
                    ratio <= 1.10,
                );
            }
        }
    }
    Ok(format!(
        "## Mock image synthesis (`ImageKey::produce`, in process)\n\nWhat `/image/generate` costs the mock per image outside bench payload mode: render and encode, with the request drawn on the image (prompt, model, size, seed, variant) and without it (the pattern alone, as before the text); {reps} alternated runs each, medians.\n\n| size | format | pattern alone | with the drawn request | ratio |\n|---|---|---:|---:|---:|\n{rows}"
    ))
}

/// `--only batch`: the batch pacing section and its verdicts, nothing else.
fn only_batch(o: &Opts) -> Result<(), BoxError> {
    let cli = o.cli.as_deref().ok_or("--only batch needs --cli PATH")?;
    let mut r = Report {
        md: String::new(),
        verdicts: Vec::new(),
    };
    let mut md =
        String::from("## Batch pacing (`venice-image batch` against a rate-limited mock)\n\n");
    md.push_str(&batch(o, cli, &mut r)?);
    md.push_str(&batch_processes(o, cli, &mut r)?);
    md.push_str(&batch_limits(o, cli, &mut r)?);
    md.push('\n');
    for (what, ok) in &r.verdicts {
        let _ = writeln!(md, "- {} {what}", if *ok { "✅" } else { "❌" });
    }
    if !o.out.as_os_str().is_empty() {
        std::fs::write(&o.out, &md)?;
        eprintln!("wrote {}", o.out.display());
    }
    std::io::stdout().write_all(md.as_bytes())?;
    Ok(())
}

/// Runs `kind` against `direct` and `through` (the recorder) round by round,
/// alternating which goes first.
fn direct_and_recorded(
    o: &Opts,
    kind: &str,
    direct: &str,
    through: &str,
    calls: usize,
    rounds: usize,
    side_files: Option<&Path>,
) -> Result<(Samples, Samples), BoxError> {
    let (mut a, mut b) = (Samples::default(), Samples::default());
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for is_direct in order {
            let url = if is_direct { direct } else { through };
            let Some(s) = run_client(o, None, kind, url, calls, 1)? else {
                continue;
            };
            // The direct client deletes each image it saved; the recorder's copies go
            // too, so both paths start every run with the same amount of dirty cache.
            if let Some(dir) = side_files.filter(|_| !is_direct)
                && let Ok(entries) = std::fs::read_dir(dir)
            {
                for e in entries.flatten() {
                    let _ = std::fs::remove_file(e.path());
                }
            }
            let into = if is_direct { &mut a } else { &mut b };
            into.micros.extend(s.micros);
            into.rss_kib.extend(s.rss_kib);
            into.decoded = s.decoded;
        }
    }
    Ok((a, b))
}

/// The recorder's costs: per small request, on a 96 MiB binary body (throughput and
/// the recorder's own peak RSS), and the size of 20 shrunk generations.
fn recording(o: &Opts, rounds: usize, r: &mut Report) -> Result<String, BoxError> {
    let dir = o.workspace.join("target/bench-recording");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;

    let server = Server::start(o, 1024, None)?;
    let rec = RecorderProc::start(o, &server.url, &dir.join("small.cassette"), false)?;
    let calls = if o.quick { 100 } else { 300 };
    let (direct, through) =
        direct_and_recorded(o, "raw", &server.url, &rec.url, calls, rounds, None)?;
    let small_rec = rec.stop()?;
    server.stop()?;
    let overhead = through.median() - direct.median();
    r.verdict(
        format!("recording: overhead per small request {overhead:.0} µs < 1000 µs"),
        overhead < 1000.0,
    );

    let server = Server::start(o, 96 * MIB, None)?;
    let rec = RecorderProc::start(o, &server.url, &dir.join("big.cassette"), false)?;
    let big_calls = if o.quick { 2 } else { 3 };
    let (big_direct, big_through) = direct_and_recorded(
        o,
        "facade-binary",
        &server.url,
        &rec.url,
        big_calls,
        rounds,
        Some(&dir.join("big.cassette.d")),
    )?;
    let big_rec = rec.stop()?;
    server.stop()?;
    let _ = std::fs::remove_dir_all(dir.join("big.cassette.d"));
    let mib_s = |s: &Samples| s.decoded as f64 / MIB as f64 / (s.median() / 1e6);
    let ratio = big_direct.median() / big_through.median();
    let small_rss = mib(small_rec["vm_hwm_kib"].as_u64().unwrap_or(0));
    let big_rss = mib(big_rec["vm_hwm_kib"].as_u64().unwrap_or(0));
    r.verdict(
        format!(
            "recording: a 96 MiB binary body keeps {:.0}% of direct throughput (≥ 90%)",
            ratio * 100.0
        ),
        ratio >= 0.90,
    );
    // Flat: what the recorder holds does not grow with the body, only its copier's
    // 8 MiB in-flight budget and the sockets' read and write buffers come on top.
    let flat = small_rss + 8.0 + 16.0;
    r.verdict(
        format!(
            "recording: recorder peak RSS {big_rss:.0} MiB after {} × 96 MiB bodies, {small_rss:.0} MiB after small ones (flat: ≤ {small_rss:.0} + 8 MiB copier budget + 16 MiB buffers = {flat:.0} MiB)",
            big_rec["exchanges"].as_u64().unwrap_or(0)
        ),
        big_rss <= flat,
    );

    let server = Server::start(o, 3 * MIB / 2, None)?;
    let path = dir.join("twenty.cassette");
    let rec = RecorderProc::start(o, &server.url, &path, true)?;
    // One warm-up and 19 timed calls: 20 generations of a ~1.5 MiB PNG each.
    run_client(o, None, "raw", &rec.url, 19, 1)?;
    let twenty = rec.stop()?;
    server.stop()?;
    let bytes = twenty["bytes"].as_u64().unwrap_or(0);
    let exchanges = twenty["exchanges"].as_u64().unwrap_or(0);
    r.verdict(
        format!(
            "recording: {exchanges} generations with --shrink-images take {bytes} bytes (< 100 KB)"
        ),
        exchanges == 20 && bytes < 100_000,
    );

    let mut md = String::new();
    let _ = writeln!(
        md,
        "\n## Recording (`venice-mock record`, the forwarder behind `venice-image --record`)\n"
    );
    let _ = writeln!(
        md,
        "The same client straight to the server and through `bench-recorder` (the recorder in its own process, writing a cassette), alternating order round by round. The recorder's peak RSS is its own process's `VmHWM`.\n"
    );
    let _ = writeln!(md, "| case | direct | through the recorder | cost |");
    let _ = writeln!(md, "|---|---:|---:|---:|");
    let _ = writeln!(
        md,
        "| small request (raw reqwest, ~3 KiB PNG in JSON), median | {} | {} | {overhead:+.0} µs per request |",
        fmt_ms(direct.median()),
        fmt_ms(through.median())
    );
    let _ = writeln!(
        md,
        "| 96 MiB binary image streamed to disk (`generate_binary` + `save`), median | {} ({:.0} MiB/s) | {} ({:.0} MiB/s) | {:.0}% of direct throughput |",
        fmt_ms(big_direct.median()),
        mib_s(&big_direct),
        fmt_ms(big_through.median()),
        mib_s(&big_through),
        ratio * 100.0
    );
    let _ = writeln!(
        md,
        "| recorder peak RSS | | {small_rss:.0} MiB (small requests), {big_rss:.0} MiB ({} × 96 MiB bodies) | |",
        big_rec["exchanges"].as_u64().unwrap_or(0)
    );
    let _ = writeln!(
        md,
        "| 20 generations (~1.5 MiB PNG each) recorded with `--shrink-images` | | {bytes} bytes ({exchanges} exchanges) | {:.1} KB per generation |",
        bytes as f64 / 1000.0 / exchanges.max(1) as f64
    );
    Ok(md)
}

fn binary_row(
    o: &Opts,
    url: &str,
    label: &str,
    rounds: usize,
    r: &mut Report,
) -> Result<String, BoxError> {
    let calls = if o.quick { 2 } else { 4 };
    let res = alternate(o, None, &["facade-binary"], url, calls, 1, rounds)?;
    let Some(s) = res.get("facade-binary") else {
        return Ok(String::new());
    };
    let rss = mib(s.rss_kib.iter().max().copied().unwrap_or(0));
    r.verdict(
        format!("binary {label}: peak RSS {rss:.0} MiB ≤ 32 MiB"),
        rss <= 32.0,
    );
    Ok(format!(
        "| {label} ({:.1} MiB file) | {} | {}–{} | {rss:.0} MiB |\n",
        s.decoded as f64 / MIB as f64,
        fmt_ms(s.median()),
        fmt_ms(s.micros.iter().min().copied().unwrap_or(0) as f64),
        fmt_ms(s.micros.iter().max().copied().unwrap_or(0) as f64),
    ))
}

/// Sleep until just after the next multiple of `window` seconds since the Unix epoch:
/// the mock's windows are aligned to it (like common fixed-window limiters), so a run
/// that starts there covers whole windows and the yardsticks below hold.
fn align_to_window(window: f64) -> Result<(), BoxError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs_f64();
    let to_boundary = window - now % window;
    std::thread::sleep(std::time::Duration::from_secs_f64(to_boundary + 0.05));
    Ok(())
}

/// A `redis-server` on 127.0.0.1 at a free port (no persistence), killed when dropped.
struct Redis {
    child: Child,
    url: String,
}

impl Redis {
    /// `None` when `redis-server` is not installed.
    fn start(dir: &Path) -> Result<Option<Redis>, BoxError> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            return Ok(None);
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        std::fs::create_dir_all(dir)?;
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(dir)
            .args(["--loglevel", "warning"])
            .stdout(Stdio::null())
            .spawn()?;
        let redis = Redis {
            child,
            url: format!("redis://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                use std::io::Read as _;
                let mut buf = [0u8; 7];
                let _ = s.set_read_timeout(Some(std::time::Duration::from_millis(200)));
                if s.write_all(b"PING\r\n").is_ok()
                    && s.read_exact(&mut buf).is_ok()
                    && &buf == b"+PONG\r\n"
                {
                    return Ok(Some(redis));
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Err("redis-server did not answer PING".into())
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Several `batch` processes on one key at once, sharing pacing through Redis or each
/// pacing alone: one table row each.
fn batch_processes(o: &Opts, cli: &Path, r: &mut Report) -> Result<String, BoxError> {
    const PROCESSES: u32 = 3;
    let (requests, window, windows) = if o.quick {
        (20u32, 5.0f64, 3u32)
    } else {
        (40, 10.0, 3)
    };
    let jobs = requests * windows / PROCESSES;
    let dir = o.workspace.join("target/bench-batch-processes");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    for p in 0..PROCESSES {
        let mut text = String::new();
        for i in 0..jobs {
            let _ = writeln!(
                text,
                r#"{{"id":"j{i}","prompt":"bench {p} {i}","model":"venice-sd35","size":"1024x1024","format":"png","seed":{i}}}"#
            );
        }
        std::fs::write(dir.join(format!("jobs-{p}.jsonl")), text)?;
    }
    let redis = Redis::start(&dir.join("redis"))?;
    let mut rows = String::new();
    for shared in [true, false] {
        let label = if shared {
            "shared (Redis)"
        } else {
            "each alone"
        };
        if shared && redis.is_none() {
            let _ = writeln!(
                rows,
                "| {PROCESSES} × {jobs} | {label} | skipped: `redis-server` is not installed | | | | |"
            );
            continue;
        }
        let server = Server::per_model(o, 1024, requests, window)?;
        align_to_window(window)?;
        let t = Instant::now();
        let children = (0..PROCESSES)
            .map(|p| {
                let mut c = command(cli);
                c.env("VENICE_API_KEY", "venice-mock-key")
                    .env_remove("VENICE_PACING_REDIS")
                    .arg("--base-url")
                    .arg(&server.url)
                    .arg("batch")
                    .arg(dir.join(format!("jobs-{p}.jsonl")))
                    .arg("--out")
                    .arg(dir.join(format!("out-{shared}-{p}")))
                    .args(["--concurrency", "4", "--json"]);
                if let (true, Some(redis)) = (shared, &redis) {
                    c.arg("--pacing-redis").arg(&redis.url);
                }
                c.stdout(Stdio::piped()).stderr(Stdio::null()).spawn()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut done = 0;
        let mut failed = 0;
        for child in children {
            let out = child.wait_with_output()?;
            let summary: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            done += summary["done"].as_u64().unwrap_or(0);
            failed += summary["failed"].as_array().map_or(0, Vec::len);
        }
        let elapsed = t.elapsed().as_secs_f64();
        let counts = server.stop()?;
        let n429 = counts.get("429").copied().unwrap_or(0);
        let total: u64 = counts.values().sum();
        let ideal = f64::from(windows - 1) * window;
        let pace = ideal / elapsed;
        if shared {
            r.verdict(
                format!(
                    "batch × {PROCESSES} processes shared through Redis: {:.0}% of the advertised rate (≥ 95%), {n429} × 429 (0)",
                    pace * 100.0
                ),
                pace >= 0.95 && n429 == 0 && done == u64::from(jobs * PROCESSES),
            );
        }
        let _ = writeln!(
            rows,
            "| {PROCESSES} × {jobs} | {label} | {done} | {failed} | {elapsed:.1} s | {:.0}% | {n429} / {total} ({:.1}%) |",
            pace * 100.0,
            100.0 * n429 as f64 / total.max(1) as f64
        );
    }
    Ok(format!(
        "\n### Several processes on one key (`batch --pacing-redis`)\n\nMock limit {requests} requests per {window:.0} s per model; {PROCESSES} `batch` processes start together, {jobs} jobs each of one model ({windows} windows' worth in all), concurrency 4 each; the limits are seeded from `/api_keys/rate_limits`. \"shared\" = one budget in a local `redis-server`; \"each alone\" = every process paces by itself (the 429s are retried, held until the reset). Responses count every request the server answered (generations, catalogue, account).\n\n| processes × jobs | pacing | jobs done | failed | elapsed | % of advertised rate | 429s / responses |\n|---|---|---:|---:|---:|---:|---:|\n{rows}"
    ))
}

fn batch(o: &Opts, cli: &Path, r: &mut Report) -> Result<String, BoxError> {
    let (requests, window, windows) = if o.quick {
        (20u32, 5.0f64, 3u32)
    } else {
        (40, 10.0, 3)
    };
    // The limit is per model, like the provider's: the CLI's catalogue and account
    // requests do not take slots.
    let jobs = requests * windows;
    let dir = o.workspace.join("target/bench-batch");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let jobs_file = dir.join("jobs.jsonl");
    let mut text = String::new();
    for i in 0..jobs {
        let _ = writeln!(
            text,
            r#"{{"id":"j{i}","prompt":"bench {i}","model":"venice-sd35","size":"1024x1024","format":"png","seed":{i}}}"#
        );
    }
    std::fs::write(&jobs_file, text)?;
    let server = Server::per_model(o, 1024, requests, window)?;
    align_to_window(window)?;
    let t = Instant::now();
    let out = command(cli)
        .env("VENICE_API_KEY", "venice-mock-key")
        .arg("--base-url")
        .arg(&server.url)
        .arg("batch")
        .arg(&jobs_file)
        .arg("--out")
        .arg(dir.join("out"))
        .args(["--concurrency", "4", "--json"])
        .stderr(Stdio::null())
        .output()?;
    let elapsed = t.elapsed().as_secs_f64();
    let counts = server.stop()?;
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let done = summary["done"].as_u64().unwrap_or(0);
    let failed = summary["failed"].as_array().map_or(0, Vec::len);
    let n429 = counts.get("429").copied().unwrap_or(0);
    let total: u64 = counts.values().sum();
    let advertised = f64::from(requests) / window;
    let achieved = done as f64 / elapsed;
    // A perfectly paced client starts its last window's jobs when that window opens.
    let ideal = f64::from(windows - 1) * window;
    let pace = ideal / elapsed;
    let pct429 = 100.0 * n429 as f64 / total.max(1) as f64;
    r.verdict(
        format!(
            "batch: {:.0}% of the advertised rate sustained (≥ 95%)",
            pace * 100.0
        ),
        pace >= 0.95,
    );
    r.verdict(
        format!("batch: {failed} failed jobs (0)"),
        failed == 0 && done == u64::from(jobs),
    );
    r.verdict(
        format!("batch: {pct429:.1}% of responses were 429 (≤ 1%)"),
        pct429 <= 1.0,
    );
    Ok(format!(
        "Mock limit {requests} requests per {window:.0} s per model (advertised {advertised:.1}/s, seeded by the CLI from `/api_keys/rate_limits`); {jobs} jobs of one model = {windows} windows' worth, concurrency 4.\n\n\
| jobs done | failed | elapsed | jobs/s | ideal elapsed | % of advertised rate | 429s / responses |\n|---:|---:|---:|---:|---:|---:|---:|\n\
| {done} | {failed} | {elapsed:.1} s | {achieved:.2} | {ideal:.1} s | {:.0}% | {n429} / {total} ({pct429:.1}%) |\n\n\
% of advertised rate = ideal elapsed / elapsed, where ideal = ({windows} − 1) windows: a client that paces perfectly \
starts the jobs of the last window the moment it opens. jobs/s is above the advertised rate because the first window's \
quota is available at once. The run starts just after a window boundary (the mock's windows are aligned to the Unix epoch).\n",
        pace * 100.0
    ))
}

/// The throwaway wallet of the wallet row (test vector 1 of x402-facts.md).
const WALLET_KEY: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
const WALLET: &str = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";

/// The provider's other limits, through the CLI against the mock's defaults: a wallet
/// batch asking for more concurrency than the wallet's five slots (in-flight maximum,
/// 429s), and a batch whose every job the server refuses (requests sent before it stops,
/// lockouts of the error budget).
fn batch_limits(o: &Opts, cli: &Path, r: &mut Report) -> Result<String, BoxError> {
    const CONCURRENCY: usize = 8;
    let dir = o.workspace.join("target/bench-batch-limits");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let jobs = |name: &str, n: usize, model: &str| -> Result<PathBuf, BoxError> {
        let mut text = String::new();
        for i in 0..n {
            let _ = writeln!(
                text,
                r#"{{"id":"j{i}","prompt":"{name} {i}","model":"{model}","size":"1024x1024","format":"png","seed":{i}}}"#
            );
        }
        let path = dir.join(format!("{name}.jsonl"));
        std::fs::write(&path, text)?;
        Ok(path)
    };
    let run =
        |server: &Server, file: &Path, out: &str, wallet: bool| -> Result<(Value, f64), BoxError> {
            let mut c = command(cli);
            if wallet {
                c.env("VENICE_WALLET_PRIVATE_KEY", WALLET_KEY)
                    .env_remove("VENICE_API_KEY");
            } else {
                c.env("VENICE_API_KEY", "venice-mock-key")
                    .env_remove("VENICE_WALLET_PRIVATE_KEY")
                    .arg("--no-validate");
            }
            let t = Instant::now();
            let output = c
                .env_remove("VENICE_PACING_REDIS")
                .arg("--base-url")
                .arg(&server.url)
                .arg("batch")
                .arg(file)
                .arg("--out")
                .arg(dir.join(out))
                .args(["--concurrency", &CONCURRENCY.to_string(), "--json"])
                .stderr(Stdio::null())
                .output()?;
            let summary: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
            Ok((summary, t.elapsed().as_secs_f64()))
        };
    let mut rows = String::new();

    // A wallet batch: 40 jobs of 100 ms each, --concurrency 8.
    let wallet_jobs = 40;
    let server = Server::with_options(
        o,
        1024,
        &[format!("wallet={WALLET}"), "latency=100".to_owned()],
    )?;
    let (summary, elapsed) = run(&server, &jobs("wallet", wallet_jobs, "venice-sd35")?, "wallet", true)?;
    let (counts, stats) = server.stop_with_stats()?;
    let done = summary["done"].as_u64().unwrap_or(0);
    let peak = stats["wallet_peak_in_flight"].as_u64().unwrap_or(0);
    let busy = stats["concurrency_refusals"].as_u64().unwrap_or(0);
    let n429 = counts.get("429").copied().unwrap_or(0);
    let sent: u64 = counts.values().sum();
    r.verdict(
        format!(
            "wallet batch --concurrency {CONCURRENCY}: in-flight maximum {peak} (≤ 5), {busy} × X402_CONCURRENCY_LIMIT (0)"
        ),
        peak <= 5 && busy == 0 && done == wallet_jobs as u64,
    );
    let _ = writeln!(
        rows,
        "| wallet, 100 ms per request | {wallet_jobs} | {CONCURRENCY} (runs as 5) | {sent} | {done} | {peak} | {n429} ({busy} X402_CONCURRENCY_LIMIT) | {} | {elapsed:.1} s |",
        stats["lockouts"].as_u64().unwrap_or(0)
    );

    // A batch the server refuses job after job: pixel sizes for a model that answers
    // width/height with a 400 (qwen-image), sent unchecked (`--no-validate`).
    let refused_jobs = 80;
    let server = Server::with_options(o, 1024, &[])?;
    let (summary, elapsed) = run(
        &server,
        &jobs("refused", refused_jobs, "qwen-image")?,
        "refused",
        false,
    )?;
    let (counts, stats) = server.stop_with_stats()?;
    let generations = counts
        .iter()
        .filter(|(status, _)| status.as_str() != "200")
        .map(|(_, n)| n)
        .sum::<u64>();
    let lockouts = stats["lockouts"].as_u64().unwrap_or(0);
    let stopped = summary["skipped_stopped"].as_u64().unwrap_or(0);
    r.verdict(
        format!(
            "refused batch: {generations} requests sent before stopping (≤ {} = concurrency + 5), {lockouts} lockouts (0)",
            CONCURRENCY + 5
        ),
        generations <= (CONCURRENCY + 5) as u64 && lockouts == 0,
    );
    let _ = writeln!(
        rows,
        "| every job refused (400) | {refused_jobs} | {CONCURRENCY} | {generations} refused, then stopped ({stopped} not started) | 0 | – | {} | {lockouts} | {elapsed:.1} s |",
        counts.get("429").copied().unwrap_or(0)
    );
    Ok(format!(
        "\n### The provider's other limits (mock defaults)\n\nThe mock enforces five requests in flight per wallet (the sixth: 429 `X402_CONCURRENCY_LIMIT`) and the error budget (more than 50 refused requests in 30 s lock the key out of the model for 30 s). \"in-flight maximum\" counts a request refused for arriving over the cap; \"requests\" counts every answer (catalogue, balance and account calls included) except in the refused row, which counts the refused generations.\n\n| batch | jobs | --concurrency | requests | done | in-flight maximum | 429s | lockouts | elapsed |\n|---|---:|---:|---|---:|---:|---|---:|---:|\n{rows}"
    ))
}
