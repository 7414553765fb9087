//! When a batch stops starting jobs, so that it never burns the provider's error budget
//! (more than 50 failed requests in 30 s per key, or per host for wallets, and model make
//! the provider refuse every request of it for 30 s).
//!
//! A batch stops starting jobs at the first 401, 402 or 403 that reaches it (the client
//! has already topped up when `--auto-top-up` allows: what is left no top-up fixes, and
//! every other job would be refused the same way), after [`REFUSALS_IN_A_ROW`] refused
//! requests in a row (a 400, 404, 422… each counts against the budget), and when the
//! budget the server reports runs low. The jobs not started stay in the jobs file and run
//! with `--resume`; the reason is one sentence in the summary. Through a lockout it does
//! not stop but pauses: the client waits for the lockout's end before sending.

use venice_image::ResponseMeta;

use crate::exit::CliError;
use crate::report::client_line;

/// Refused requests in a row after which a batch stops starting jobs.
pub const REFUSALS_IN_A_ROW: usize = 5;

/// Decides, before each job starts, whether the batch goes on. Fed with every job's
/// outcome before the job gives its place back to the next one.
#[derive(Debug)]
pub struct StopRules {
    concurrency: usize,
    refused_in_a_row: usize,
    stopped: Option<String>,
}

impl StopRules {
    /// Rules for a batch of `concurrency` jobs at once.
    pub fn new(concurrency: usize) -> Self {
        Self {
            concurrency,
            refused_in_a_row: 0,
            stopped: None,
        }
    }

    /// Why the batch stopped starting jobs, once it did: one sentence.
    pub fn stopped(&self) -> Option<&str> {
        self.stopped.as_deref()
    }

    /// A job was served: the run of refusals ends; the budget it reports may be low.
    pub fn served(&mut self, meta: &ResponseMeta) {
        self.refused_in_a_row = 0;
        self.budget(meta);
    }

    /// A job failed with `err`.
    pub fn failed(&mut self, err: &CliError) {
        if let Some(e) = err.client() {
            let meta = e.api_error().map(|api| api.meta());
            self.refused(e.status(), &client_line(e), meta);
        }
    }

    /// A job's request was answered `status` (`None`: no answer), summed up as `summary`.
    fn refused(&mut self, status: Option<u16>, summary: &str, meta: Option<&ResponseMeta>) {
        if let Some(meta) = meta {
            self.budget(meta);
        }
        // The provider counts any 4xx but 429 (a lockout or a busy wallet is not a
        // refusal of the job); 5xx and lost answers do not count.
        let Some(status) = status.filter(|s| (400..500).contains(s) && *s != 429) else {
            return;
        };
        if matches!(status, 401..=403) {
            let fix = match status {
                401 => "fix the credentials",
                402 => {
                    "add credit (see the hint; `venice-image account` or `venice-image balance` shows what is left)"
                }
                _ => "use a key or wallet that may call this model",
            };
            return self.stop(format!(
                "stopped starting jobs at the first {status} ({summary}): every other job would \
                 be refused the same way, and more than 50 refusals in 30 s lock the key out \
                 for 30 s; {fix}, then run the same command with --resume"
            ));
        }
        self.refused_in_a_row += 1;
        if self.refused_in_a_row >= REFUSALS_IN_A_ROW {
            self.stop(format!(
                "stopped starting jobs after {REFUSALS_IN_A_ROW} requests in a row were refused \
                 (the last: {summary}): more than 50 refusals in 30 s lock the key out for 30 s; \
                 fix the jobs, then run the same command with --resume"
            ));
        }
    }

    /// Stop when the error budget the server reports is down to what the jobs in flight
    /// could use up.
    fn budget(&mut self, meta: &ResponseMeta) {
        let low = (self.concurrency + REFUSALS_IN_A_ROW) as u64;
        if let Some(left) = meta.error_budget().and_then(|b| b.remaining())
            && left < low
        {
            self.stop(format!(
                "stopped starting jobs: the server reports {left} failed requests left in the \
                 key's error budget for this model (50 per 30 s; more lock the key out for \
                 30 s): too many jobs fail; fix them, then run the same command with --resume"
            ));
        }
    }

    fn stop(&mut self, reason: String) {
        self.stopped.get_or_insert(reason);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use venice_image::raw::reqwest::header::{HeaderMap, HeaderValue};

    use super::*;

    fn budget(remaining: &'static str) -> ResponseMeta {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from_static(remaining));
        h.insert("x-ratelimit-resets", HeaderValue::from_static("30"));
        ResponseMeta::from_headers(200, &h)
    }

    #[test]
    fn a_run_of_refusals_stops_the_batch_and_a_success_ends_the_run() {
        let mut rules = StopRules::new(4);
        for _ in 0..REFUSALS_IN_A_ROW - 1 {
            rules.refused(Some(400), "API error 400", None);
        }
        rules.served(&ResponseMeta::default());
        for _ in 0..REFUSALS_IN_A_ROW - 1 {
            rules.refused(Some(404), "API error 404", None);
        }
        assert!(rules.stopped().is_none());
        // Failures that are not refusals do not count.
        rules.refused(Some(500), "API error 500", None);
        rules.refused(Some(429), "rate limited", None);
        rules.refused(None, "transport error", None);
        assert!(rules.stopped().is_none());
        rules.refused(Some(422), "API error 422 CONTENT_POLICY_VIOLATION", None);
        let why = rules.stopped().unwrap();
        assert!(why.contains("5 requests in a row were refused"), "{why}");
        assert!(why.contains("422 CONTENT_POLICY_VIOLATION"), "{why}");
        assert!(why.ends_with("--resume"), "{why}");
        // The first reason stays.
        rules.refused(Some(401), "API error 401", None);
        assert!(rules.stopped().unwrap().contains("in a row"));
    }

    #[test]
    fn credentials_payment_and_permission_stop_at_once() {
        for status in [401, 402, 403] {
            let mut rules = StopRules::new(8);
            rules.refused(Some(status), "API error", None);
            let why = rules.stopped().unwrap();
            assert!(why.contains(&format!("first {status}")), "{why}");
        }
    }

    #[test]
    fn a_low_error_budget_stops_the_batch() {
        let mut rules = StopRules::new(4);
        rules.served(&budget("9"));
        assert!(rules.stopped().is_none());
        rules.served(&budget("8"));
        let why = rules.stopped().unwrap();
        assert!(why.contains("8 failed requests left"), "{why}");
    }
}
