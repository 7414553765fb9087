//! Contract checks for downstream tests: did *your* code send requests the spec allows?
//!
//! The mock already answers a bad request with 400, but a test that only looks at the
//! end result can miss that (a retry, a fallback, an ignored error). This module replays
//! the mock's request log against `openapi/venice-image.yaml` and reports every request
//! that the spec does not allow, whatever the mock answered:
//!
//! * the method and path are an operation of the spec (under the server's `/api/v1`);
//! * path, query and header parameters are documented and valid against their schemas,
//!   required ones are present;
//! * credentials are present where the operation's `security` requires them (values are
//!   redacted in the log, so only presence is checked);
//! * a JSON body has `Content-Type: application/json` and validates against the
//!   operation's request schema; operations without a request body get none.
//!
//! ```no_run
//! # async fn demo() -> Result<(), venice_mock::MockError> {
//! use venice_mock::{MockConfig, MockServer};
//!
//! let server = MockServer::start(MockConfig::default()).await?;
//! // ... run your code against server.base_url() ...
//! let report = server.contract_report();
//! assert!(report.is_conforming(), "{report}");
//! // or, equivalently, with the report as the panic message:
//! server.assert_requests_conform();
//! # Ok(()) }
//! ```

use std::fmt;

use serde_json::{Value, json};

use crate::log::RecordedRequest;
use crate::server::MockServer;
use crate::spec::{self, SchemaValidator};

/// One request that broke the spec.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Violation {
    /// Position of the request in the mock's log (0-based).
    pub index: usize,
    /// HTTP method as sent.
    pub method: String,
    /// Path as sent.
    pub path: String,
    /// The operation the request was matched to, when it matched one.
    pub operation_id: Option<String>,
    /// Status the mock answered (0: connection reset by a fault).
    pub status: u16,
    /// Every problem found, one line each.
    pub problems: Vec<String>,
}

/// The result of checking a request log against the spec.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ContractReport {
    /// Number of requests checked.
    pub checked: usize,
    /// The requests that broke the spec.
    pub violations: Vec<Violation>,
}

impl ContractReport {
    /// `true` when every request conformed.
    pub fn is_conforming(&self) -> bool {
        self.violations.is_empty()
    }
}

impl fmt::Display for ContractReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.violations.is_empty() {
            return write!(f, "all {} requests conform to the spec", self.checked);
        }
        writeln!(
            f,
            "{} of {} requests do not conform to openapi/venice-image.yaml:",
            self.violations.len(),
            self.checked
        )?;
        for v in &self.violations {
            writeln!(
                f,
                "  #{} {} {} ({}, answered {}):",
                v.index,
                v.method,
                v.path,
                v.operation_id.as_deref().unwrap_or("no operation"),
                v.status
            )?;
            for p in &v.problems {
                writeln!(f, "    - {p}")?;
            }
        }
        Ok(())
    }
}

impl MockServer {
    /// Checks every request received so far against the spec (see [`check_requests`]).
    pub fn contract_report(&self) -> ContractReport {
        check_requests(&self.requests())
    }

    /// Asserts that every request received so far conforms to the spec.
    ///
    /// # Panics
    ///
    /// When a request does not conform; the message is the whole [`ContractReport`].
    /// Meant for tests.
    #[track_caller]
    pub fn assert_requests_conform(&self) {
        let report = self.contract_report();
        assert!(report.is_conforming(), "{report}");
    }
}

/// Checks a request log against the spec.
pub fn check_requests(requests: &[RecordedRequest]) -> ContractReport {
    let violations = requests
        .iter()
        .enumerate()
        .filter_map(|(index, r)| {
            let (operation_id, problems) = check_request(r);
            (!problems.is_empty()).then(|| Violation {
                index,
                method: r.method.clone(),
                path: r.path.clone(),
                operation_id: operation_id.map(str::to_owned),
                status: r.status,
                problems,
            })
        })
        .collect();
    ContractReport {
        checked: requests.len(),
        violations,
    }
}

/// Checks one request: returns the operation it matched (if any) and every problem.
pub fn check_request(request: &RecordedRequest) -> (Option<&'static str>, Vec<String>) {
    let mut problems = Vec::new();
    let spec = spec::embedded();
    let matched = match spec::match_operation(&request.method, &request.path) {
        Ok(m) => m,
        Err(miss) => {
            let base = spec.base_path();
            let message = match (request.path.strip_prefix(base), miss) {
                (None, _) => format!("path is not under the server's base path {base:?}"),
                (Some(rest), spec::RouteMiss::NotFound) => {
                    format!("no operation of the spec has the path {rest:?}")
                }
                (Some(rest), spec::RouteMiss::MethodNotAllowed(_)) => format!(
                    "{rest} has no {} operation",
                    request.method.to_ascii_uppercase()
                ),
            };
            problems.push(message);
            return (None, problems);
        }
    };
    let operation_id = matched.operation_id;
    let Some(op) = spec.operation(operation_id) else {
        problems.push(format!("{operation_id} has no operation object"));
        return (None, problems);
    };
    let item = spec
        .document()
        .pointer(&format!(
            "/paths/{}",
            matched.template.replace('~', "~0").replace('/', "~1")
        ))
        .unwrap_or(&Value::Null);
    let params = parameters(item, op);
    check_path_params(&params, &matched.path_params, &mut problems);
    check_query(&params, request.query.as_deref(), &mut problems);
    check_header_params(&params, request, &mut problems);
    check_security(op, request, &mut problems);
    check_body(op, Some(operation_id), request, &mut problems);
    (Some(operation_id), problems)
}

fn resolve(value: &'static Value) -> &'static Value {
    spec::embedded().resolve(value)
}

/// Path-item and operation parameters, the operation's winning on (name, in).
fn parameters(item: &'static Value, op: &'static Value) -> Vec<&'static Value> {
    let mut out: Vec<&'static Value> = Vec::new();
    for list in [item.get("parameters"), op.get("parameters")] {
        for p in list.and_then(Value::as_array).into_iter().flatten() {
            let p = resolve(p);
            out.retain(|q| q.get("name") != p.get("name") || q.get("in") != p.get("in"));
            out.push(p);
        }
    }
    out
}

fn param_in<'a>(params: &'a [&'static Value], location: &str) -> Vec<&'a &'static Value> {
    params
        .iter()
        .filter(|p| p.get("in").and_then(Value::as_str) == Some(location))
        .collect()
}

fn name_of(p: &Value) -> &str {
    p.get("name").and_then(Value::as_str).unwrap_or_default()
}

/// Types a text value by its schema's `type`, so `limit=5` validates as an integer.
fn typed(schema: &Value, text: &str) -> Value {
    match spec::embedded()
        .resolve(schema)
        .get("type")
        .and_then(Value::as_str)
    {
        Some("integer") => text
            .parse::<i64>()
            .map_or_else(|_| Value::String(text.to_owned()), Value::from),
        Some("number") => text
            .parse::<f64>()
            .map_or_else(|_| Value::String(text.to_owned()), |n| json!(n)),
        Some("boolean") => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text.to_owned()),
        },
        _ => Value::String(text.to_owned()),
    }
}

fn check_value(where_: &str, param: &Value, text: &str, problems: &mut Vec<String>) {
    let Some(schema) = param.get("schema") else {
        return;
    };
    match SchemaValidator::compile(schema) {
        Ok(v) => {
            if let Err(issues) = v.validate(&typed(schema, text)) {
                for i in issues {
                    problems.push(format!("{where_} {:?}: {}", name_of(param), i.message));
                }
            }
        }
        Err(e) => problems.push(format!("{where_} {:?}: schema error {e}", name_of(param))),
    }
}

fn check_path_params(
    params: &[&'static Value],
    values: &[(String, String)],
    problems: &mut Vec<String>,
) {
    for (name, value) in values {
        match param_in(params, "path")
            .into_iter()
            .find(|p| name_of(p) == name)
        {
            Some(p) => check_value("path parameter", p, value, problems),
            None => problems.push(format!("path parameter {name:?} is not documented")),
        }
    }
}

fn check_query(params: &[&'static Value], query: Option<&str>, problems: &mut Vec<String>) {
    let documented = param_in(params, "query");
    let pairs = spec::query_pairs(query);
    for (name, value) in &pairs {
        match documented.iter().find(|p| name_of(p) == name) {
            Some(p) => check_value("query parameter", p, value, problems),
            None => problems.push(format!("query parameter {name:?} is not documented")),
        }
    }
    for p in documented {
        let required = p.get("required").and_then(Value::as_bool) == Some(true);
        if required && !pairs.iter().any(|(n, _)| n == name_of(p)) {
            problems.push(format!(
                "required query parameter {:?} is missing",
                name_of(p)
            ));
        }
    }
}

fn check_header_params(
    params: &[&'static Value],
    request: &RecordedRequest,
    problems: &mut Vec<String>,
) {
    for p in param_in(params, "header") {
        let name = name_of(p);
        match request.header(name) {
            // Secrets are redacted in the log; their value cannot be checked.
            Some(crate::log::REDACTED) => {}
            Some(value) => check_value("header", p, value, problems),
            None if p.get("required").and_then(Value::as_bool) == Some(true) => {
                problems.push(format!("required header {name:?} is missing"));
            }
            None => {}
        }
    }
}

/// Whether a request carries the credential of one security scheme.
fn satisfies(scheme_name: &str, request: &RecordedRequest) -> bool {
    let Some(scheme) = spec::document()
        .pointer(&format!("/components/securitySchemes/{scheme_name}"))
        .map(resolve)
    else {
        return false;
    };
    match scheme.get("type").and_then(Value::as_str) {
        Some("http") => request.header("authorization").is_some(),
        Some("apiKey") => {
            let name = scheme
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            // The spec documents `X-Sign-In-With-X` as the legacy name of the SIWX header.
            request.header(name).is_some()
                || (name.eq_ignore_ascii_case("SIGN-IN-WITH-X")
                    && request.header("x-sign-in-with-x").is_some())
        }
        _ => false,
    }
}

fn check_security(op: &Value, request: &RecordedRequest, problems: &mut Vec<String>) {
    let requirements = op
        .get("security")
        .or_else(|| spec::document().get("security"))
        .and_then(Value::as_array);
    let Some(requirements) = requirements else {
        return;
    };
    if requirements.is_empty() {
        return;
    }
    let met = requirements.iter().any(|req| {
        req.as_object()
            .is_some_and(|schemes| schemes.keys().all(|name| satisfies(name, request)))
    });
    if !met {
        let names: Vec<String> = requirements
            .iter()
            .filter_map(Value::as_object)
            .map(|m| m.keys().cloned().collect::<Vec<_>>().join("+"))
            .collect();
        problems.push(format!(
            "credentials missing: the operation requires one of [{}]",
            names.join(", ")
        ));
    }
}

fn check_body(
    op: &'static Value,
    operation_id: Option<&str>,
    request: &RecordedRequest,
    problems: &mut Vec<String>,
) {
    let declared_len = request
        .header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let sent_body = declared_len > 0 || chunked || request.body.is_some();
    let Some(body_spec) = op.get("requestBody").map(resolve) else {
        if sent_body {
            problems.push("the operation takes no request body, but one was sent".to_owned());
        }
        return;
    };
    let required = body_spec.get("required").and_then(Value::as_bool) == Some(true);
    let media = request
        .header("content-type")
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase());
    if sent_body
        && let Some(content) = body_spec.get("content").and_then(Value::as_object)
        && !media.as_deref().is_some_and(|m| content.contains_key(m))
    {
        problems.push(format!(
            "Content-Type {} is not one of {:?}",
            media.as_deref().unwrap_or("(missing)"),
            content.keys().collect::<Vec<_>>()
        ));
    }
    match &request.body {
        Some(body) => {
            let media = media.as_deref().unwrap_or("application/json");
            if let Some(validator) =
                operation_id.and_then(|id| spec::request_validator_for(id, media))
                && let Err(issues) = validator.validate(body)
            {
                problems.extend(issues.iter().map(|i| format!("body {i}")));
            }
        }
        None if !sent_body && required => {
            problems.push("the required JSON request body is missing".to_owned());
        }
        // Sent but not recorded: it did not parse as JSON (the mock answers 400), or
        // the mock refused the request before reading it (401, 413, 415, 429...).
        None if sent_body && request.status == 400 => {
            problems.push("the request body is not valid JSON".to_owned());
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn req(method: &str, path: &str, query: Option<&str>, body: Option<Value>) -> RecordedRequest {
        let mut headers = vec![("authorization".to_owned(), crate::REDACTED.to_owned())];
        if let Some(b) = &body {
            headers.push(("content-type".to_owned(), "application/json".to_owned()));
            headers.push(("content-length".to_owned(), b.to_string().len().to_string()));
        }
        RecordedRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.map(str::to_owned),
            headers,
            body,
            status: 200,
        }
    }

    #[test]
    fn conforming_requests_pass() {
        let ok = [
            req(
                "POST",
                "/api/v1/image/generate",
                None,
                Some(json!({"model":"m","prompt":"p"})),
            ),
            req("GET", "/api/v1/models", Some("type=image"), None),
            req(
                "GET",
                "/api/v1/x402/transactions/0x1111111111111111111111111111111111111111",
                Some("limit=5&offset=0"),
                None,
            ),
        ];
        let mut siwx = ok[2].clone();
        siwx.headers = vec![("sign-in-with-x".to_owned(), crate::REDACTED.to_owned())];
        let report = check_requests(&[ok[0].clone(), ok[1].clone(), siwx]);
        assert!(report.is_conforming(), "{report}");
        assert_eq!(report.checked, 3);
        assert_eq!(report.to_string(), "all 3 requests conform to the spec");
    }

    #[test]
    fn every_kind_of_violation_is_reported() {
        let cases: Vec<(RecordedRequest, &str)> = vec![
            (req("GET", "/v2/models", None, None), "base path"),
            (req("GET", "/api/v1/nope", None, None), "no operation"),
            (req("DELETE", "/api/v1/models", None, None), "has no DELETE"),
            (
                req("GET", "/api/v1/models", Some("type=bogus"), None),
                "query parameter \"type\"",
            ),
            (
                req("GET", "/api/v1/models", Some("color=red"), None),
                "not documented",
            ),
            (
                req(
                    "GET",
                    "/api/v1/x402/transactions/0x1111111111111111111111111111111111111111",
                    Some("limit=500"),
                    None,
                ),
                "query parameter \"limit\"",
            ),
            (
                req("GET", "/api/v1/x402/balance/not-a-wallet", None, None),
                "path parameter \"walletAddress\"",
            ),
            (
                req(
                    "POST",
                    "/api/v1/image/generate",
                    None,
                    Some(json!({"model":"m","prompt":"p","width":0})),
                ),
                "body /width",
            ),
            (
                req("POST", "/api/v1/image/generate", None, None),
                "body is missing",
            ),
            (
                req("POST", "/api/v1/x402/top-up", None, Some(json!({}))),
                "takes no request body",
            ),
        ];
        for (r, expected) in cases {
            let (_, problems) = check_request(&r);
            assert!(
                problems.iter().any(|p| p.contains(expected)),
                "{} {} {:?}: expected {expected:?} in {problems:?}",
                r.method,
                r.path,
                r.query
            );
        }
        let mut anonymous = req(
            "POST",
            "/api/v1/image/generate",
            None,
            Some(json!({"model":"m","prompt":"p"})),
        );
        anonymous.headers.remove(0);
        let (_, problems) = check_request(&anonymous);
        assert!(
            problems[0].starts_with("credentials missing"),
            "{problems:?}"
        );
        let mut wrong_type = req(
            "POST",
            "/api/v1/image/generate",
            None,
            Some(json!({"model":"m","prompt":"p"})),
        );
        wrong_type.headers[1].1 = "text/plain".to_owned();
        let report = check_requests(&[wrong_type]);
        assert!(!report.is_conforming());
        assert!(
            report.to_string().contains("Content-Type text/plain"),
            "{report}"
        );
    }
}
