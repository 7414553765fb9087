//! The contact sheet as one self-contained HTML page: the style and the script inline,
//! no font, no network (a Content-Security-Policy allows only this page's own style and
//! script, by hash, and local images), thumbnails referenced relatively or inlined.
//!
//! The grid is plain HTML in the default order with the totals above it; the script
//! (`page.js`) only adds sorting, grouping and the filter, from each tile's data
//! attributes. Every string from a prompt, a sidecar or a file name goes through
//! [`escape`](super::escape) for its context.

use std::fmt::Write as _;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::escape::{attr, text, url};
use super::model::{Sheet, Status, Tile};
use super::thumbs::Thumb;
use crate::output::CostBasis;

/// The page's style sheet.
const CSS: &str = include_str!("page.css");
/// The page's script: sorting, grouping, filtering.
const SCRIPT: &str = include_str!("page.js");
/// Marks a page this command wrote (an `index.html` without it is not replaced).
pub const GENERATOR: &str = "venice-image sheet";
/// Seconds between reloads of the sheet of a running batch.
pub const LIVE_RELOAD_SECS: u32 = 3;

/// How the page is written.
#[derive(Debug, Clone, Copy, Default)]
pub struct Page<'a> {
    /// Heading and title (the directory's name).
    pub title: &'a str,
    /// The batch is running: the page reloads itself and says so.
    pub live: bool,
    /// When written, as shown in the footer.
    pub written: &'a str,
}

/// A thumbnail as the page references it.
#[derive(Debug, Clone)]
pub enum Preview {
    /// A file beside the page (relative URL) or an inlined `data:` URI.
    Image {
        /// The `src` value, not yet escaped.
        src: Src,
        /// Its pixel size.
        size: (u32, u32),
    },
    /// No preview: why.
    None(String),
}

/// Where a thumbnail's pixels come from.
#[derive(Debug, Clone)]
pub enum Src {
    /// Path segments relative to the page.
    Relative(Vec<String>),
    /// A `data:` URI.
    Inline(String),
}

impl Preview {
    /// The preview of `thumb`, referenced relatively or (`embed`) inlined from `bytes`.
    pub fn of(thumb: &Thumb, embed: Option<&[u8]>) -> Preview {
        let src = match embed {
            Some(bytes) => Src::Inline(format!(
                "data:{};base64,{}",
                thumb.mime(),
                base64::engine::general_purpose::STANDARD.encode(bytes)
            )),
            None => Src::Relative(thumb.path.clone()),
        };
        Preview::Image {
            src,
            size: thumb.size,
        }
    }
}

fn csp_hash(source: &str) -> String {
    let digest = Sha256::digest(source.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The Content-Security-Policy: nothing but this page's style and script and local or
/// inlined images. A string that escaped its escaping still could not run or fetch.
fn policy() -> String {
    format!(
        "default-src 'none'; img-src 'self' file: data:; style-src {}; script-src {}; \
         base-uri 'none'; form-action 'none'",
        csp_hash(CSS),
        csp_hash(SCRIPT)
    )
}

fn usd(v: f64) -> String {
    format!("${v:.4}")
}

fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The page for `sheet`, with `previews[i]` the preview of the i-th tile that has an
/// image.
pub fn render(sheet: &Sheet, previews: &[Preview], page: &Page<'_>) -> String {
    let mut out = String::with_capacity(4096 + sheet.tiles.len() * 1200);
    let title = text(page.title);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"{GENERATOR}\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n",
        attr(&policy())
    );
    if page.live {
        let _ = writeln!(
            out,
            "<meta http-equiv=\"refresh\" content=\"{LIVE_RELOAD_SECS}\">"
        );
    }
    let _ = write!(
        out,
        "<title>{title} · contact sheet</title>\n<style>{CSS}</style>\n</head>\n<body>\n<header>\n<h1>{title}</h1>\n"
    );
    totals(&mut out, sheet);
    if page.live {
        let _ = writeln!(
            out,
            "<p class=\"live\">The batch is running: this page reloads every {LIVE_RELOAD_SECS} s.</p>"
        );
    }
    out.push_str(concat!(
        "<form id=\"controls\" hidden>\n",
        "<label>Sort <select id=\"sort\"><option value=\"order\">job order</option>",
        "<option value=\"time\">time</option><option value=\"cost\">cost, highest first</option>",
        "<option value=\"prompt\">prompt</option><option value=\"model\">model</option></select></label>\n",
        "<label>Group <select id=\"group\"><option value=\"\">none</option>",
        "<option value=\"prompt\">by prompt</option><option value=\"model\">by model</option></select></label>\n",
        "<input id=\"filter\" type=\"search\" placeholder=\"filter: prompt, model, job, error…\" aria-label=\"filter\">\n",
        "<output id=\"shown\"></output>\n</form>\n</header>\n<main id=\"grid\">\n"
    ));
    let mut previews = previews.iter();
    for (order, tile) in sheet.tiles.iter().enumerate() {
        let preview = tile.image.as_ref().and_then(|_| previews.next());
        render_tile(&mut out, order, tile, preview, page.live);
    }
    let _ = write!(
        out,
        "</main>\n<footer>Written by {GENERATOR} on {}. Click a picture to open the original.</footer>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        text(page.written)
    );
    out
}

fn totals(out: &mut String, sheet: &Sheet) {
    let t = &sheet.totals;
    out.push_str("<p class=\"totals\" id=\"totals\">");
    let _ = write!(
        out,
        "<span data-total=\"images\" data-value=\"{}\"><b>{}</b></span>",
        t.images,
        plural(t.images, "image", "images")
    );
    let charged = if t.may_have_been_charged > 0 {
        format!(" ({} may have been charged)", t.may_have_been_charged)
    } else {
        String::new()
    };
    let _ = write!(
        out,
        "<span data-total=\"failed\" data-value=\"{}\"{}><b>{} failed</b>{charged}</span>",
        t.failed,
        if t.failed > 0 { " class=\"bad\"" } else { "" },
        t.failed
    );
    if t.pending > 0 {
        let _ = write!(
            out,
            "<span data-total=\"pending\" data-value=\"{}\"><b>{}</b> not finished</span>",
            t.pending, t.pending
        );
    }
    let basis = if t.images == t.unpriced {
        "no cost recorded"
    } else if t.cost_estimated {
        "estimated"
    } else {
        "charged"
    };
    let unpriced = if t.unpriced > 0 && t.images > t.unpriced {
        format!(
            " ({} without a cost)",
            plural(t.unpriced, "image", "images")
        )
    } else {
        String::new()
    };
    let _ = write!(
        out,
        "<span data-total=\"cost\" data-value=\"{:.6}\"><b>{}</b> {basis}{unpriced}</span>",
        t.cost_usd,
        usd(t.cost_usd)
    );
    let _ = write!(
        out,
        "<span data-total=\"time\" data-value=\"{}\"><b>{}</b> of requests</span>",
        t.elapsed_ms,
        duration(t.elapsed_ms)
    );
    if t.blurred + t.content_violations > 0 {
        let _ = write!(
            out,
            "<span data-total=\"flags\">{} blurred, {}</span>",
            t.blurred,
            plural(
                t.content_violations,
                "content violation",
                "content violations"
            )
        );
    }
    out.push_str("</p>\n");
}

fn render_tile(out: &mut String, order: usize, tile: &Tile, preview: Option<&Preview>, live: bool) {
    // Without a live batch, a job still marked started has no result: cut short (killed:
    // `--resume` recovers or re-runs it) or in a batch run without `--sheet`; one never
    // started was skipped (budget, Ctrl-C).
    let (class, label) = match (&tile.status, live) {
        (Status::Done, _) => ("done", ""),
        (Status::Failed { .. }, _) => ("failed", "failed"),
        (Status::Started, true) => ("pending", "running"),
        (Status::Started, false) => ("pending", "unfinished"),
        (Status::NotStarted, true) => ("pending", "queued"),
        (Status::NotStarted, false) => ("pending", "not run"),
    };
    let prompt = tile.prompt.as_deref().unwrap_or("");
    let model = tile.model.as_deref().unwrap_or("");
    let mut search = vec![prompt, model];
    search.extend(tile.job.as_deref());
    search.extend(tile.image.as_deref());
    search.extend(tile.request_id.as_deref());
    if let Status::Failed { reason, .. } = &tile.status {
        search.push(reason);
    }
    let _ = write!(
        out,
        "<article class=\"tile {class}\" data-order=\"{order}\" data-prompt=\"{}\" data-model=\"{}\" data-search=\"{}\"",
        attr(prompt),
        attr(model),
        attr(&search.join(" ").to_lowercase())
    );
    if let Some(t) = tile.created_unix {
        let _ = write!(out, " data-time=\"{t}\"");
    }
    if let Some(c) = &tile.cost {
        let _ = write!(out, " data-cost=\"{}\"", c.usd);
    }
    out.push_str(">\n");

    match (&tile.image, preview) {
        (Some(image), Some(Preview::Image { src, size })) => {
            let src = match src {
                Src::Relative(path) => {
                    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
                    url(&segments)
                }
                Src::Inline(data) => attr(data),
            };
            let _ = writeln!(
                out,
                "<a class=\"shot\" href=\"{}\" title=\"open the original\"><img src=\"{src}\" width=\"{}\" height=\"{}\" loading=\"lazy\" decoding=\"async\" alt=\"{}\"></a>",
                url(&[image]),
                size.0,
                size.1,
                attr(if prompt.is_empty() { image } else { prompt })
            );
        }
        (Some(image), other) => {
            let why = match other {
                Some(Preview::None(why)) => why.as_str(),
                _ => "",
            };
            let _ = writeln!(
                out,
                "<a class=\"shot\" href=\"{}\" title=\"{}\">no preview</a>",
                url(&[image]),
                attr(why)
            );
        }
        (None, _) => {
            let _ = writeln!(out, "<div class=\"shot\">{label}</div>");
        }
    }

    out.push_str("<div class=\"info\">\n");
    if !prompt.is_empty() {
        let _ = writeln!(out, "<p class=\"prompt\">{}</p>", text(prompt));
    }
    if let Some(n) = &tile.negative_prompt {
        let _ = writeln!(out, "<p class=\"negative\">not: {}</p>", text(n));
    }
    if let Some(e) = &tile.enhanced_prompt {
        let _ = writeln!(out, "<p class=\"enhanced\">enhanced: {}</p>", text(e));
    }
    if let Status::Failed {
        reason,
        may_have_been_charged,
    } = &tile.status
    {
        let _ = writeln!(out, "<p class=\"error\">{}</p>", text(reason));
        if *may_have_been_charged {
            out.push_str(
                "<p class=\"charged\">may have been charged: <code>--resume</code> skips it unless <code>--retry-charged</code></p>\n",
            );
        } else {
            out.push_str("<p class=\"uncharged\">not charged</p>\n");
        }
    }
    details(out, tile);
    let flags: Vec<&str> = [
        (tile.blurred, "blurred"),
        (tile.content_violation, "content violation"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    if !flags.is_empty() {
        out.push_str("<p class=\"flags\">");
        for f in flags {
            let _ = write!(out, "<span class=\"flag\">{f}</span>");
        }
        out.push_str("</p>\n");
    }
    if let Some(image) = &tile.image {
        let _ = writeln!(
            out,
            "<p class=\"file\"><a href=\"{}\">{}</a></p>",
            url(&[image]),
            text(image)
        );
    }
    out.push_str("</div>\n</article>\n");
}

fn details(out: &mut String, tile: &Tile) {
    let mut rows: Vec<(&str, String)> = Vec::new();
    if tile.operation != "generate" {
        rows.push(("operation", text(&tile.operation)));
    }
    if let Some(m) = &tile.model {
        rows.push(("model", text(m)));
    }
    let size = match (tile.dimensions, &tile.sizing) {
        (Some((w, h)), Some(s)) => Some(format!("{w}×{h} ({})", text(s))),
        (Some((w, h)), None) => Some(format!("{w}×{h}")),
        (None, Some(s)) => Some(match s.split_once('x') {
            Some((w, h)) if [w, h].iter().all(|n| n.parse::<u32>().is_ok()) => format!("{w}×{h}"),
            _ => text(s),
        }),
        (None, None) => None,
    };
    if let Some(size) = size {
        rows.push(("size", size));
    }
    if let Some(seed) = tile.seed {
        rows.push(("seed", seed.to_string()));
    }
    if let Some(f) = &tile.format {
        rows.push(("format", text(f)));
    }
    if let Some(c) = &tile.cost {
        let basis = match c.basis {
            CostBasis::Estimate => "<abbr title=\"estimated from the model catalogue\">est.</abbr>",
            CostBasis::Charged => "charged",
        };
        rows.push((
            "cost",
            format!(
                "<span title=\"{}\">{}</span> {basis}",
                attr(&c.priced_as),
                usd(c.usd)
            ),
        ));
    }
    if let Some(ms) = tile.elapsed_ms {
        rows.push(("time", duration(ms)));
    }
    if let Some(id) = &tile.request_id {
        rows.push(("request", format!("<code>{}</code>", text(id))));
    }
    if let Some(job) = &tile.job {
        let job = match tile.variant {
            Some(v) => format!("{} · variant {v}", text(job)),
            None => text(job),
        };
        rows.push(("job", job));
    }
    if rows.is_empty() {
        return;
    }
    out.push_str("<dl>");
    for (name, value) in rows {
        let _ = write!(out, "<dt>{name}</dt><dd class=\"{name}\">{value}</dd>");
    }
    out.push_str("</dl>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sheet::model::{JobSummary, Totals};

    fn tile(prompt: &str, status: Status) -> Tile {
        let job = JobSummary {
            id: "j1".into(),
            prompt: prompt.into(),
            model: "m\"odel".into(),
            ..JobSummary::default()
        };
        Tile::pending("j1", status, Some(&job))
    }

    #[test]
    fn every_string_is_escaped_for_its_context() {
        let hostile = "</script><script>alert(2)</script>\"' onmouseover=alert(3) x=";
        let failed = Status::Failed {
            reason: "<img src=x onerror=alert(4)>".into(),
            may_have_been_charged: false,
        };
        let sheet = Sheet {
            tiles: vec![tile(hostile, failed)],
            totals: Totals::default(),
            unreadable: Vec::new(),
        };
        let page = render(
            &sheet,
            &[],
            &Page {
                title: "<b>dir</b>",
                live: false,
                written: "now",
            },
        );
        assert_eq!(
            page.matches("<script>").count(),
            1,
            "only the page's own script"
        );
        assert_eq!(page.matches("</script>").count(), 1);
        assert!(!page.contains("<img src=x"), "{page}");
        assert!(!page.contains("<b>dir</b>"));
        assert!(page.contains("&lt;/script&gt;&lt;script&gt;alert(2)"));
        assert!(page.contains("data-model=\"m&quot;odel\""));
        // In attributes the quotes are escaped too (in text they are harmless).
        assert!(page.contains("alert(2)&lt;/script&gt;&quot;&#39; onmouseover"));
    }

    #[test]
    fn unfinished_jobs_read_as_running_only_while_the_batch_runs() {
        let sheet = Sheet {
            tiles: vec![tile("a", Status::Started), tile("b", Status::NotStarted)],
            totals: Totals::default(),
            unreadable: Vec::new(),
        };
        let page = |live| {
            render(
                &sheet,
                &[],
                &Page {
                    title: "t",
                    live,
                    written: "now",
                },
            )
        };
        let running = page(true);
        assert!(running.contains("<meta http-equiv=\"refresh\" content=\"3\">"));
        assert!(running.contains(">running</div>") && running.contains(">queued</div>"));
        let after = page(false);
        assert!(
            !after.contains("http-equiv=\"refresh\"") && !after.contains("The batch is running")
        );
        assert!(after.contains(">unfinished</div>") && after.contains(">not run</div>"));
    }

    #[test]
    fn the_policy_allows_exactly_the_inline_style_and_script() {
        let p = policy();
        assert!(p.starts_with("default-src 'none'; "), "{p}");
        assert!(p.contains(&csp_hash(SCRIPT)) && p.contains(&csp_hash(CSS)));
        assert!(!p.contains("unsafe-inline") && !p.contains("http"), "{p}");
    }
}
