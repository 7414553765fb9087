//! Loading our spec and checking the shape progenitor needs.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use anyhow::{Context, Result};
use openapiv3::{OpenAPI, ReferenceOr, Response, StatusCode};

/// Parse an OpenAPI document from YAML (YAML 1.2, so `16:9` stays a string).
pub fn parse(text: &str) -> Result<OpenAPI> {
    serde_yaml::from_str(text).context("the spec is not a valid OpenAPI 3.0 document")
}

/// Read and parse the spec at `path`.
pub fn load(path: &Path) -> Result<OpenAPI> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text).with_context(|| format!("parsing {}", path.display()))
}

/// One way an operation breaks the shape the generator needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeProblem {
    /// `METHOD /path`.
    pub operation: String,
    /// What is wrong, in words a spec author can act on.
    pub problem: String,
}

impl fmt::Display for ShapeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.operation, self.problem)
    }
}

/// How the generator will see one response body.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum BodyKind {
    /// `application/json` with this schema (rendered as JSON for comparison).
    Json(String),
    /// Any other media type: a byte stream.
    Raw,
    /// No content.
    Empty,
}

fn resolve<'a>(spec: &'a OpenAPI, r: &'a ReferenceOr<Response>) -> Option<&'a Response> {
    match r {
        ReferenceOr::Item(item) => Some(item),
        ReferenceOr::Reference { reference } => {
            let name = reference.strip_prefix("#/components/responses/")?;
            match spec.components.as_ref()?.responses.get(name)? {
                ReferenceOr::Item(item) => Some(item),
                ReferenceOr::Reference { .. } => None,
            }
        }
    }
}

fn body_kind(response: &Response) -> std::result::Result<BodyKind, String> {
    let json: Vec<_> = response
        .content
        .iter()
        .filter(|(mt, _)| *mt == "application/json" || mt.starts_with("application/json;"))
        .collect();
    match (json.as_slice(), response.content.len()) {
        (_, 0) => Ok(BodyKind::Empty),
        ([], _) => Ok(BodyKind::Raw),
        ([(_, mt)], 1) => {
            let schema = serde_json::to_string(&mt.schema).map_err(|e| e.to_string())?;
            Ok(BodyKind::Json(schema))
        }
        _ => Err(
            "a response mixes application/json with other media types; the generated client \
             would decode every body as JSON (declare `*/*` and decode in the facade instead)"
                .to_string(),
        ),
    }
}

/// Check every operation: an `operationId`, unique; one success body type; one error
/// body type. Returns every problem found (empty when the spec is fine).
pub fn check_shape(spec: &OpenAPI) -> Vec<ShapeProblem> {
    let mut problems = Vec::new();
    let mut ids = BTreeSet::new();
    for (path, method, op) in spec.operations() {
        let operation = format!("{} {}", method.to_uppercase(), path);
        let mut push = |problem: String| {
            problems.push(ShapeProblem {
                operation: operation.clone(),
                problem,
            })
        };
        match &op.operation_id {
            None => push("no operationId".into()),
            Some(id) if id.trim().is_empty() => push("empty operationId".into()),
            Some(id) => {
                if !ids.insert(id.clone()) {
                    push(format!("duplicate operationId `{id}`"));
                }
            }
        }
        let mut success = BTreeSet::new();
        let mut errors = BTreeSet::new();
        let mut saw_success = false;
        let statuses = op
            .responses
            .responses
            .iter()
            .map(|(code, r)| (Some(code), r))
            .chain(op.responses.default.iter().map(|r| (None, r)));
        for (code, r) in statuses {
            let label = code.map_or_else(|| "default".to_string(), |c| c.to_string());
            let Some(response) = resolve(spec, r) else {
                push(format!("response {label} is an unresolvable reference"));
                continue;
            };
            let is_success = match code {
                Some(StatusCode::Code(c)) => (200..300).contains(c),
                Some(StatusCode::Range(r)) => *r == 2,
                None => false,
            };
            saw_success |= is_success;
            let kind = match body_kind(response) {
                Ok(kind) => kind,
                Err(e) => {
                    push(format!("response {label}: {e}"));
                    continue;
                }
            };
            if is_success {
                success.insert(kind);
            } else {
                errors.insert(kind);
            }
        }
        if !saw_success {
            push("no success (2xx) response".into());
        }
        if success.len() > 1 {
            push(format!(
                "{} different success body types; the generator accepts one",
                success.len()
            ));
        }
        if errors.len() > 1 {
            push(format!(
                "{} different error body types; use one superset error schema",
                errors.len()
            ));
        }
    }
    problems
}
