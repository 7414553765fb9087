//! What the commands show a person: pretty JSON, spinners, warnings from response
//! headers, and request endpoints named from the spec.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use venice_image::ResponseMeta;

/// Print warnings the server's headers call for.
pub fn warn_about(meta: &ResponseMeta) {
    if meta.is_blurred() {
        eprintln!("warning: the image was blurred by safe mode (use --no-safe-mode to disable)");
    }
    if meta.is_content_violation() {
        eprintln!("warning: the server flagged the image as a content-policy violation");
    }
    if let Some(d) = &meta.deprecation() {
        let mut line = String::from("warning: this model is deprecated");
        if let Some(date) = &d.date() {
            line.push_str(&format!(" (removal: {date})"));
        }
        if let Some(r) = &d.replacement() {
            line.push_str(&format!("; use `{r}` instead"));
        }
        if let Some(w) = &d.warning() {
            line.push_str(&format!(": {w}"));
        }
        eprintln!("{line}");
    }
}

/// A spinner with elapsed time on stderr (hidden when stderr is not a terminal).
pub fn spinner(message: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed}]") {
        pb.set_style(style);
    }
    pb.set_message(message.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// Pretty JSON for stdout.
pub fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

/// `METHOD <base URL><path>` of a generated operation, from the spec's table.
pub fn endpoint(client: &venice_image::Client, operation_id: &str) -> String {
    match venice_image::raw::operations::find(operation_id) {
        Some(op) => format!("{} {}{}", op.method, client.base_url(), op.path),
        None => operation_id.to_owned(),
    }
}
