//! What the library reports through `tracing`, shown on stderr: its warnings always
//! (Redis unreachable for shared pacing, an auto top-up over its cap), and with `-v`
//! each retry and each pause (attempt, status, wait). The wait under way (a wait the
//! server asked for, a lockout) is also kept for the progress line ([`current_wait`]).

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use crate::report::first_line;

/// Install the subscriber: warnings, plus retries when `verbose`.
pub fn init(verbose: bool) {
    let warnings = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .with_ansi(false)
        .with_filter(LevelFilter::WARN);
    let retries = Retries { print: verbose }.with_filter(LevelFilter::INFO);
    // Fails only when a subscriber is already set: nothing to do then.
    let _ = tracing_subscriber::registry()
        .with(warnings)
        .with(retries)
        .try_init();
}

/// The wait under way: what it is for and when it ends.
static WAIT: Mutex<Option<(String, Instant)>> = Mutex::new(None);

/// The wait under way, as the progress line shows it (`waiting 28 s: …`), if any.
pub fn current_wait() -> Option<String> {
    let wait = WAIT.lock().ok()?;
    let (what, until) = wait.as_ref()?;
    let left = until.checked_duration_since(Instant::now())?;
    Some(format!(
        "waiting {:.0} s: {what}",
        left.as_secs_f64().ceil()
    ))
}

/// Keeps the transport's `retrying` and `paused` events for the progress line, and
/// prints them as one line each with `-v`.
struct Retries {
    print: bool,
}

#[derive(Default)]
struct RetryFields {
    message: String,
    attempt: Option<u64>,
    status: Option<u64>,
    delay_ms: Option<u64>,
    error: String,
    reason: String,
    model: String,
}

impl Visit for RetryFields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "attempt" => self.attempt = Some(value),
            "status" => self.status = Some(value),
            "delay_ms" => self.delay_ms = Some(value),
            _ => {}
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if let Ok(v) = u64::try_from(value) {
            self.record_u64(field, v);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_text(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.record_text(field, text);
    }
}

impl RetryFields {
    fn record_text(&mut self, field: &Field, text: String) {
        match field.name() {
            "message" => self.message = text,
            "error" => self.error = text,
            "reason" => self.reason = text,
            "model" => self.model = text,
            _ => {}
        }
    }

    /// What the wait is for, in the progress line.
    fn cause(&self) -> String {
        if self.message == "paused" {
            let of = if self.model.is_empty() {
                String::new()
            } else {
                format!(" for {}", self.model)
            };
            return format!("{}{of}", self.reason);
        }
        first_line(&self.error, 80)
    }

    /// `paused: error budget exhausted for m; sending again in 28.0 s`.
    fn pause_line(&self) -> String {
        let wait = self.delay_ms.unwrap_or(0) as f64 / 1000.0;
        format!("paused: {}; sending again in {wait:.1} s", self.cause())
    }

    /// `retry: attempt 1 answered 429 (…); trying again in 1.0 s`.
    fn line(&self) -> String {
        let attempt = self.attempt.map_or_else(|| "?".into(), |a| a.to_string());
        let outcome = match self.status {
            Some(status) => format!("answered {status}"),
            None => "failed".to_owned(),
        };
        let wait = self.delay_ms.unwrap_or(0) as f64 / 1000.0;
        format!(
            "retry: attempt {attempt} {outcome} ({}); trying again in {wait:.1} s",
            first_line(&self.error, 160)
        )
    }
}

impl<S: Subscriber> Layer<S> for Retries {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        if *meta.level() != Level::INFO || !meta.target().starts_with("venice_image") {
            return;
        }
        let mut fields = RetryFields::default();
        event.record(&mut fields);
        let line = match fields.message.as_str() {
            "retrying" => fields.line(),
            "paused" => fields.pause_line(),
            _ => return,
        };
        // Waits long enough to see go to the progress line.
        let delay = Duration::from_millis(fields.delay_ms.unwrap_or(0));
        if delay >= Duration::from_secs(1)
            && let Ok(mut wait) = WAIT.lock()
        {
            *wait = Some((fields.cause(), Instant::now() + delay));
        }
        if self.print {
            eprintln!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_is_one_line_with_attempt_status_and_wait() {
        let f = RetryFields {
            message: "retrying".into(),
            attempt: Some(2),
            status: Some(429),
            delay_ms: Some(1500),
            error: "rate limited\nsecond line".into(),
            ..RetryFields::default()
        };
        assert_eq!(
            f.line(),
            "retry: attempt 2 answered 429 (rate limited …); trying again in 1.5 s"
        );
        let paused = RetryFields {
            message: "paused".into(),
            delay_ms: Some(28_000),
            reason: "error budget exhausted".into(),
            model: "venice-sd35".into(),
            ..RetryFields::default()
        };
        assert_eq!(
            paused.pause_line(),
            "paused: error budget exhausted for venice-sd35; sending again in 28.0 s"
        );
    }
}
