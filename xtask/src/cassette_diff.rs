//! `cargo xtask spec-diff --cassette FILE`: a recording of real traffic as another
//! source of what upstream does.
//!
//! The cassette is checked with `venice_mock::check` and each finding becomes a
//! difference with the key `spec-diff` gives the same difference between two specs, as
//! if the recording were the upstream spec: a header the provider sent and our spec does
//! not declare is `listImageStyles.response.200.header.x-new.removed`, an undocumented
//! status `generateImage.response.418.removed`, a field
//! `generateImage.response.200.body.images[].extra.removed`, a schema violation
//! `…body.<path>.violation`, a request our spec refuses `…request.violation`. So
//! `openapi/upstream-deviations.toml` accepts (with a reason) drift seen live exactly as
//! it accepts drift between the specs.

use std::path::Path;

use anyhow::{Context, Result};
use venice_mock::check::{Drift, DriftKind};

use crate::spec_diff::{Deviation, Difference, glob_match};

/// The path part of an issue (`/images/0: message (code)` → `images[]`).
fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').filter(|s| !s.is_empty()) {
        if seg.parse::<u64>().is_ok() {
            out.push_str("[]");
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg.replace("~1", "/").replace("~0", "~"));
        }
    }
    out
}

/// `'a', 'b'` out of `Unrecognized key(s) in object: 'a', 'b' (unrecognized_keys)`.
fn unrecognized_keys(message: &str) -> Vec<String> {
    message
        .split_once("object:")
        .map(|(_, rest)| {
            rest.split('\'')
                .enumerate()
                .filter(|(i, _)| i % 2 == 1)
                .map(|(_, k)| k.to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn join(prefix: &str, rest: &str) -> String {
    if rest.is_empty() {
        prefix.to_owned()
    } else {
        format!("{prefix}.{rest}")
    }
}

/// The differences a cassette finding stands for (one, or one per unknown key).
pub fn differences_of(cassette: &str, d: &Drift) -> Vec<Difference> {
    let op = d
        .operation
        .clone()
        .unwrap_or_else(|| format!("{} {}", d.method, d.path));
    let status = d.status.map_or("none".to_owned(), |s| s.to_string());
    let seen = format!("{} (cassette {cassette} line {})", d.detail, d.line);
    let one = |key: String| {
        vec![Difference {
            key,
            upstream: seen.clone(),
            ours: "-".to_owned(),
        }]
    };
    match d.kind {
        DriftKind::UnknownOperation => one(format!("{op}.operation.removed")),
        DriftKind::Request => one(format!("{op}.request.violation")),
        DriftKind::UndocumentedStatus => one(format!("{op}.response.{status}.removed")),
        DriftKind::UndocumentedHeader => one(format!(
            "{op}.response.{status}.header.{}.removed",
            d.detail
        )),
        DriftKind::UnknownField => {
            let (pointer, message) = d.detail.split_once(": ").unwrap_or(("", &d.detail));
            let base = join(
                &format!("{op}.response.{status}.body"),
                &field_path(pointer),
            );
            let keys = unrecognized_keys(message);
            if keys.is_empty() {
                return one(format!("{base}.shape"));
            }
            keys.into_iter()
                .map(|k| Difference {
                    key: format!("{base}.{k}.removed"),
                    upstream: seen.clone(),
                    ours: "-".to_owned(),
                })
                .collect()
        }
        DriftKind::SchemaViolation => {
            let rest = d.detail.strip_prefix("body ").unwrap_or(&d.detail);
            let pointer = rest
                .split_once(": ")
                .map_or("", |(p, _)| p)
                .trim_start_matches('/');
            let path = if rest.starts_with('/') {
                field_path(pointer)
            } else {
                String::new()
            };
            one(format!(
                "{}.violation",
                join(&format!("{op}.response.{status}.body"), &path)
            ))
        }
        // A kind added later still shows up, under its own name.
        #[allow(unreachable_patterns)]
        _ => one(format!("{op}.response.{status}.drift")),
    }
}

/// Every difference a cassette shows, each with the deviation that accepts it (if
/// any); `used` marks the deviations that matched.
pub fn cassette_differences(
    path: &Path,
    deviations: &[Deviation],
    used: &mut [bool],
) -> Result<Vec<(Difference, Option<String>)>> {
    let cassette = venice_mock::cassette::Cassette::open(path)
        .with_context(|| format!("reading {}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let report = venice_mock::check::check(&cassette);
    let mut out = Vec::new();
    for drift in &report.drift {
        for d in differences_of(&name, drift) {
            let reason = deviations.iter().enumerate().find_map(|(i, dev)| {
                glob_match(&dev.key, &d.key).then(|| {
                    used[i] = true;
                    dev.reason.clone()
                })
            });
            out.push((d, reason));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drift(kind: DriftKind, detail: &str, status: Option<u16>) -> Drift {
        Drift {
            seq: 0,
            line: 2,
            method: "POST".into(),
            path: "/api/v1/image/generate".into(),
            operation: Some("generateImage".into()),
            status,
            kind,
            detail: detail.into(),
        }
    }

    fn keys(d: &Drift) -> Vec<String> {
        differences_of("t.cassette", d)
            .into_iter()
            .map(|d| d.key)
            .collect()
    }

    #[test]
    fn findings_get_spec_diff_keys() {
        assert_eq!(
            keys(&drift(DriftKind::UndocumentedHeader, "x-new", Some(200))),
            ["generateImage.response.200.header.x-new.removed"]
        );
        assert_eq!(
            keys(&drift(
                DriftKind::UndocumentedStatus,
                "status 418 is not documented for generateImage",
                Some(418)
            )),
            ["generateImage.response.418.removed"]
        );
        assert_eq!(
            keys(&drift(
                DriftKind::UnknownField,
                "/images/0/meta: Unrecognized key(s) in object: 'a', 'b' (unrecognized_keys)",
                Some(200)
            )),
            [
                "generateImage.response.200.body.images[].meta.a.removed",
                "generateImage.response.200.body.images[].meta.b.removed"
            ]
        );
        assert_eq!(
            keys(&drift(
                DriftKind::UnknownField,
                "/: Unrecognized key(s) in object: 'x' (unrecognized_keys)",
                Some(200)
            )),
            ["generateImage.response.200.body.x.removed"]
        );
        assert_eq!(
            keys(&drift(
                DriftKind::SchemaViolation,
                "body /id: 5 is not of type \"string\" (invalid_type)",
                Some(200)
            )),
            ["generateImage.response.200.body.id.violation"]
        );
    }
}
