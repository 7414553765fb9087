//! What the library reports through `tracing`, shown on stderr: its warnings always
//! (Redis unreachable for shared pacing, an auto top-up over its cap), and with `-v`
//! each retry (attempt, status, wait).

use std::fmt::Write as _;

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
    let retries = verbose.then(|| Retries.with_filter(LevelFilter::INFO));
    // Fails only when a subscriber is already set: nothing to do then.
    let _ = tracing_subscriber::registry()
        .with(warnings)
        .with(retries)
        .try_init();
}

/// Prints the transport's `retrying` events as one line each.
struct Retries;

#[derive(Default)]
struct RetryFields {
    message: String,
    attempt: Option<u64>,
    status: Option<u64>,
    delay_ms: Option<u64>,
    error: String,
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
            _ => {}
        }
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
        if fields.message == "retrying" {
            eprintln!("{}", fields.line());
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
        };
        assert_eq!(
            f.line(),
            "retry: attempt 2 answered 429 (rate limited …); trying again in 1.5 s"
        );
    }
}
