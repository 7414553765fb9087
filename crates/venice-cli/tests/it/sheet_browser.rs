//! The contact sheet as a person sees it, in headless Chromium (Debian's `chromium`,
//! installed by `.ci/run`; without it these tests fail, saying how to install it):
//! the sheet of an offline batch with failed jobs and hostile prompts shows one tile per
//! job, the totals, the failures' reasons, the prompts as text with none of their
//! scripts run, makes no request (every connection goes to a counting proxy: 0), sorts
//! by cost, and keeps its grid without JavaScript. The screenshots and DOM dumps are
//! kept under `target/tmp/sheet/`. A 1,000-job sheet prints the page's own timing.
#![allow(clippy::unwrap_used, missing_docs)]

use crate::common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::chromium::{Chromium, CountingProxy};
use common::*;
use serde_json::{Value, json};
use venice_mock::{Fault, MockConfig, MockServer};

const XSS1: &str = "<script>alert(1)</script>";
const XSS2: &str = "</script><script>alert(2)</script>";
const XSS3: &str = "\" onmouseover=\"alert(3)\" x=\"<img src=x onerror=alert(4)>";

/// Where the screenshots and DOM dumps are kept.
fn artefacts() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("sheet")
}

fn file_url(path: &Path) -> String {
    let abs = std::fs::canonicalize(path).unwrap();
    // Test directories hold no characters that need escaping in a URL.
    format!("file://{}", abs.display())
}

/// An offline batch (the mock in this process) with `--sheet`: 7 jobs, of which one
/// fails with a 500 (may have been charged) and one names an unknown model (not
/// charged); its JSON summary.
fn batch_with_failures(dir: &Path) -> Value {
    let rt = rt();
    let server = rt
        .block_on(MockServer::start(MockConfig::default()))
        .unwrap();
    // The first paid request (job `lighthouse`, concurrency 1) gets a 500.
    server.push_faults(vec![Fault::Status500]);
    let jobs = [
        json!({"id": "lighthouse", "prompt": "a lighthouse at dusk", "size": "512x512", "seed": 1}),
        json!({"id": "xss1", "prompt": XSS1, "size": "512x512", "seed": 2}),
        json!({"id": "xss2", "prompt": XSS2, "size": "512x512", "seed": 3, "format": "png"}),
        json!({"id": "xss3", "prompt": XSS3, "size": "512x512", "seed": 4}),
        json!({"id": "fox-sd35", "prompt": "a red fox in the snow", "size": "512x512", "seed": 5}),
        json!({"id": "fox-pro", "prompt": "a red fox in the snow", "model": "nano-banana-pro",
               "aspect": "1:1", "resolution": "1K", "seed": 5}),
        json!({"id": "unknown", "prompt": "a castle", "model": "no-such-model"}),
    ];
    let text: Vec<String> = jobs.iter().map(Value::to_string).collect();
    let file = dir.join("jobs.jsonl");
    std::fs::write(&file, text.join("\n") + "\n").unwrap();
    let out = dir.join("out");
    let (code, stdout, stderr) = run(against(&server).args([
        "batch",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--concurrency",
        "1",
        "--sheet",
        "--json",
    ]));
    assert_eq!(code, 5, "two jobs fail: {stdout}\n{stderr}");
    assert!(stderr.contains("contact sheet: "), "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

fn tile_orders(browser: &mut Chromium) -> Vec<u64> {
    let v = browser.eval(
        "Array.from(document.querySelectorAll('#grid .tile')).map(t => Number(t.dataset.order))",
    );
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

/// The tiles' costs in page order (an unpriced tile: -1).
fn tile_costs(browser: &mut Chromium) -> Vec<f64> {
    let costs = browser.eval(
        "Array.from(document.querySelectorAll('#grid .tile')).map(t => t.dataset.cost === undefined ? -1 : Number(t.dataset.cost))",
    );
    costs
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_f64().unwrap())
        .collect()
}

#[test]
#[ignore = "needs chromium"]
fn the_sheet_of_a_batch_shows_every_job_safely_and_offline() {
    let dir = tempfile::tempdir().unwrap();
    let summary = batch_with_failures(dir.path());
    let out = dir.path().join("out");
    let index = out.join("index.html");
    let html = std::fs::read_to_string(&index).unwrap();
    assert!(
        !html.contains("http-equiv=\"refresh\""),
        "the final sheet stops reloading"
    );

    let proxy = CountingProxy::start();
    let mut browser = Chromium::start(&proxy.addr, 1400, 1000);
    browser.open(&file_url(&index));
    let saved = artefacts();
    browser.screenshot(&saved.join("sheet.png"));
    let dom = browser.eval("document.documentElement.outerHTML");
    std::fs::write(saved.join("sheet.dom.html"), dom.as_str().unwrap()).unwrap();

    // The page's own script ran (its controls are shown)...
    assert_eq!(
        browser.eval("document.getElementById('controls').hidden"),
        json!(false)
    );
    // ...and nothing else did: no dialog, one script element, no error.
    assert!(browser.dialogs.is_empty(), "{:?}", browser.dialogs);
    assert_eq!(browser.eval("document.scripts.length"), json!(1));
    assert!(browser.errors.is_empty(), "{:?}", browser.errors);

    // One tile per job.
    assert_eq!(
        browser.eval("document.querySelectorAll('#grid .tile').length"),
        json!(7)
    );
    // The totals.
    let total = |b: &mut Chromium, k: &str| {
        b.eval(&format!(
            "document.querySelector('[data-total={k}]').dataset.value"
        ))
        .as_str()
        .unwrap()
        .to_owned()
    };
    assert_eq!(total(&mut browser, "images"), "5");
    assert_eq!(total(&mut browser, "failed"), "2");
    let cost: f64 = total(&mut browser, "cost").parse().unwrap();
    let spent = summary["spent_usd"].as_f64().unwrap();
    assert!(
        spent > 0.0 && (cost - spent).abs() < 1e-6,
        "{cost} vs {spent}"
    );
    let mut elapsed = 0;
    for entry in std::fs::read_dir(&out).unwrap().flatten() {
        if entry.path().to_string_lossy().ends_with(".webp.json")
            || entry.path().to_string_lossy().ends_with(".png.json")
        {
            let v: Value = serde_json::from_slice(&std::fs::read(entry.path()).unwrap()).unwrap();
            elapsed += v["elapsed_ms"].as_u64().unwrap();
        }
    }
    assert_eq!(total(&mut browser, "time"), elapsed.to_string());
    let totals_text = browser.eval("document.getElementById('totals').textContent");
    assert!(
        totals_text
            .as_str()
            .unwrap()
            .contains("1 may have been charged"),
        "{totals_text}"
    );

    // The failed tiles say why, and whether they may have been charged.
    let failed = browser
        .eval("Array.from(document.querySelectorAll('.tile.failed')).map(t => t.textContent)");
    let failed: Vec<&str> = failed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(failed.len(), 2);
    assert!(
        failed[0].contains("a lighthouse at dusk")
            && failed[0].contains("API error 500")
            && failed[0].contains("may have been charged"),
        "{}",
        failed[0]
    );
    assert!(
        failed[1].contains("unknown image model") && failed[1].contains("not charged"),
        "{}",
        failed[1]
    );

    // The hostile prompts are shown as text, exactly.
    let prompts = browser
        .eval("Array.from(document.querySelectorAll('.tile .prompt')).map(p => p.textContent)");
    for hostile in [XSS1, XSS2, XSS3] {
        assert!(
            prompts.as_array().unwrap().contains(&json!(hostile)),
            "{hostile} not shown as text in {prompts}"
        );
    }
    assert_eq!(
        browser.eval("document.querySelectorAll('img[onerror], [onmouseover]').length"),
        json!(0)
    );

    // Every thumbnail loaded, from the sheet's folder, and a click goes to the original.
    let images = browser.eval(
        "Array.from(document.images).map(i => [i.complete && i.naturalWidth > 0, i.getAttribute('src'), i.parentElement.getAttribute('href')])",
    );
    let images = images.as_array().unwrap();
    assert_eq!(images.len(), 5);
    for i in images {
        assert_eq!(i[0], json!(true), "{i}");
        let (src, href) = (i[1].as_str().unwrap(), i[2].as_str().unwrap());
        assert_eq!(src, format!("sheet/{href}.jpg"));
        assert!(out.join(href).is_file(), "{href}");
    }

    // Sorting by cost reorders the tiles, highest first.
    let before = tile_orders(&mut browser);
    browser.eval(
        "(() => { const s = document.getElementById('sort'); s.value = 'cost'; s.dispatchEvent(new Event('change')); })()",
    );
    let after = tile_orders(&mut browser);
    assert_ne!(before, after);
    let costs = tile_costs(&mut browser);
    assert!(costs.windows(2).all(|w| w[0] >= w[1]), "{costs:?}");
    assert!(costs[0] > costs[1], "nano-banana-pro costs more: {costs:?}");
    // Grouping by prompt puts both foxes under one heading; the filter narrows.
    browser.eval(
        "(() => { const g = document.getElementById('group'); g.value = 'prompt'; g.dispatchEvent(new Event('change')); const f = document.getElementById('filter'); f.value = 'fox'; f.dispatchEvent(new Event('input')); })()",
    );
    assert_eq!(
        browser.eval("Array.from(document.querySelectorAll('#grid > *')).map(e => e.className)"),
        json!(["group", "tile done", "tile done"])
    );
    assert_eq!(
        browser.eval("document.querySelector('#grid .group').textContent"),
        json!("a red fox in the snow")
    );
    browser.screenshot(&saved.join("sheet-sorted-grouped.png"));

    // Without JavaScript: the same grid, the controls hidden.
    browser.scripts(false);
    browser.open(&file_url(&index));
    assert_eq!(
        browser.eval("document.querySelectorAll('#grid .tile').length"),
        json!(7)
    );
    assert_eq!(
        browser.eval("getComputedStyle(document.getElementById('controls')).display"),
        json!("none")
    );
    let columns = browser.eval(
        "new Set(Array.from(document.querySelectorAll('#grid .tile')).map(t => t.getBoundingClientRect().left)).size",
    );
    assert!(
        columns.as_u64().unwrap() >= 4,
        "a grid, not a list: {columns}"
    );
    assert_eq!(
        browser.eval("getComputedStyle(document.getElementById('grid')).display"),
        json!("grid")
    );
    browser.screenshot(&saved.join("sheet-no-javascript.png"));
    assert!(browser.dialogs.is_empty(), "{:?}", browser.dialogs);

    // No request left the page: only the local files were asked for, and nothing reached
    // the proxy every connection goes through...
    for url in &browser.requests {
        assert!(url.starts_with("file://"), "the page asked for {url}");
    }
    assert_eq!(proxy.connections(), 0, "{:?}", proxy.lines());
    // ...which does see a page's requests: an image from the network goes to it.
    browser.scripts(true);
    browser.open("data:text/html,<img src=\"http://sheet-probe.invalid/x.png\">");
    let deadline = Instant::now() + Duration::from_secs(10);
    while proxy.connections() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        proxy
            .lines()
            .iter()
            .any(|l| l.contains("sheet-probe.invalid")),
        "the proxy saw {:?}",
        proxy.lines()
    );
}

/// A 1,000-job batch directory, made directly (one small image copied, varied sidecars,
/// a manifest), so the page is what is measured.
fn thousand_jobs(dir: &Path) {
    let img = venice_mock::images::render("venice-sd35", "scene", 1, 0, 256, 256);
    let png = venice_mock::images::encode(
        &image::DynamicImage::ImageRgb8(img),
        venice_mock::images::OutputFormat::Png,
        None,
    )
    .unwrap();
    let models = ["venice-sd35", "nano-banana-pro", "flux-2-pro"];
    let mut manifest = String::new();
    for i in 0..1000u64 {
        let id = format!("job-{i:04}");
        let name = format!("{id}-0.png");
        std::fs::write(dir.join(&name), &png).unwrap();
        let model = models[(i % 3) as usize];
        let usd = 0.01 + (i * 7919 % 100) as f64 / 1000.0;
        let sidecar = json!({
            "image": name, "job": id, "model": model, "prompt": format!("scene number {i} <b>bold</b>"),
            "seed": i, "sizing": "256x256", "format": "png", "variant": 0, "width": 256,
            "height": 256, "request_id": format!("generate-image-{i}"), "elapsed_ms": 500 + i % 700,
            "server_total_ms": null, "blurred": i % 50 == 0, "content_violation": false,
            "cost": {"usd": usd, "basis": "estimate", "priced_as": format!("{model} x1")},
            "created_unix": 1_700_000_000 + i,
        });
        std::fs::write(dir.join(format!("{name}.json")), sidecar.to_string()).unwrap();
        manifest.push_str(&json!({"event": "started", "job": id, "hash": "0"}).to_string());
        manifest.push('\n');
        let done = json!({"event": "done", "job": id, "files": [name], "request_id": null, "cost_usd": usd});
        manifest.push_str(&done.to_string());
        manifest.push('\n');
    }
    std::fs::write(dir.join("manifest.jsonl"), manifest).unwrap();
}

#[test]
#[ignore = "needs chromium"]
fn a_thousand_job_sheet_loads_sorts_and_filters_in_the_browser() {
    let dir = tempfile::tempdir().unwrap();
    thousand_jobs(dir.path());
    let (code, stdout, stderr) = run(bin().args(["sheet", dir.path().to_str().unwrap(), "--json"]));
    assert_eq!(code, 0, "{stderr}");
    let written: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(written["totals"]["tiles"], 1000);
    assert_eq!(written["totals"]["images"], 1000);
    let index = dir.path().join("index.html");
    let bytes = std::fs::metadata(&index).unwrap().len();

    let proxy = CountingProxy::start();
    let mut browser = Chromium::start(&proxy.addr, 1400, 1000);
    browser.open(&file_url(&index));
    assert_eq!(
        browser.eval("document.querySelectorAll('#grid .tile').length"),
        json!(1000)
    );
    let nav = browser.eval(
        "(() => { const n = performance.getEntriesByType('navigation')[0]; return {
            interactive: n.domInteractive, dom_content_loaded: n.domContentLoadedEventEnd,
            load: n.loadEventEnd, transfer: n.transferSize, decoded: n.decodedBodySize }; })()",
    );
    let timed = |b: &mut Chromium, script: &str| {
        b.eval(&format!(
            "(() => {{ const t = performance.now(); {script}; document.body.offsetHeight; return performance.now() - t; }})()"
        ))
        .as_f64()
        .unwrap()
    };
    let sort_ms = timed(
        &mut browser,
        "const s = document.getElementById('sort'); s.value = 'cost'; s.dispatchEvent(new Event('change'))",
    );
    let costs = tile_costs(&mut browser);
    assert!(costs.windows(2).all(|w| w[0] >= w[1]) && costs[999] > 0.0);
    let group_ms = timed(
        &mut browser,
        "const g = document.getElementById('group'); g.value = 'model'; g.dispatchEvent(new Event('change'))",
    );
    assert_eq!(
        browser.eval("document.querySelectorAll('#grid .group').length"),
        json!(3)
    );
    let filter_ms = timed(
        &mut browser,
        "const f = document.getElementById('filter'); f.value = 'scene number 99'; f.dispatchEvent(new Event('input'))",
    );
    // 99 and 990-999.
    assert_eq!(
        browser.eval("document.querySelectorAll('#grid .tile').length"),
        json!(11)
    );
    let f = |k: &str| nav[k].as_f64().unwrap();
    println!(
        "1,000-job sheet ({:.1} MiB of HTML): DOM interactive {:.0} ms, DOMContentLoaded {:.0} ms, \
         load {:.0} ms (the page's navigation timing); sort by cost {sort_ms:.0} ms, group by \
         model {group_ms:.0} ms, filter {filter_ms:.0} ms (performance.now around each, layout \
         included)",
        bytes as f64 / (1024.0 * 1024.0),
        f("interactive"),
        f("dom_content_loaded"),
        f("load")
    );
    // Loose bounds: a benchmark figure, not a race (debug-built CLI, shared machine).
    assert!(f("load") < 20_000.0, "{nav}");
    assert!(sort_ms < 5_000.0 && group_ms < 5_000.0 && filter_ms < 5_000.0);
    assert!(browser.dialogs.is_empty(), "{:?}", browser.dialogs);
    assert_eq!(proxy.connections(), 0, "{:?}", proxy.lines());
}
