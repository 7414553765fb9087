//! The request log: what the mock received and answered, with secrets redacted.

use std::sync::Mutex;

use serde::Serialize;
use serde_json::Value;

/// Headers whose values are replaced by [`REDACTED`] in the log.
pub const REDACTED_HEADERS: &[&str] = &[
    "authorization",
    "sign-in-with-x",
    "x-sign-in-with-x",
    "payment-signature",
    "x-402-payment",
    "x-payment",
];

/// The placeholder of a redacted header value.
pub const REDACTED: &str = "[REDACTED]";

/// One request as the mock saw it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path as sent (including `/api/v1`).
    pub path: String,
    /// Raw query string.
    pub query: Option<String>,
    /// Headers (lower-case names), secrets redacted.
    pub headers: Vec<(String, String)>,
    /// The JSON body, when it parsed.
    pub body: Option<Value>,
    /// Status answered; 0 when the connection was reset without a response.
    pub status: u16,
}

impl RecordedRequest {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Copies headers, redacting secrets.
pub fn redacted_headers(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let name = name.as_str().to_ascii_lowercase();
            let value = if REDACTED_HEADERS.contains(&name.as_str()) {
                REDACTED.to_owned()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            (name, value)
        })
        .collect()
}

/// Thread-safe log.
#[derive(Debug, Default)]
pub struct RequestLog {
    entries: Mutex<Vec<RecordedRequest>>,
}

impl RequestLog {
    /// Appends an entry.
    pub fn push(&self, entry: RecordedRequest) {
        if let Ok(mut e) = self.entries.lock() {
            e.push(entry);
        }
    }

    /// A copy of all entries.
    pub fn snapshot(&self) -> Vec<RecordedRequest> {
        self.entries.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Removes all entries.
    pub fn clear(&self) {
        if let Ok(mut e) = self.entries.lock() {
            e.clear();
        }
    }
}
