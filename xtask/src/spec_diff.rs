//! `cargo xtask spec-diff`: what differs between our spec and the provider's, for the
//! operations we cover, and whether each difference is an accepted deviation.
//!
//! Operations are matched by method and path (an upstream path may carry the `/api/v1`
//! prefix or not). For each one the request body, parameters, response statuses, media
//! types, headers and JSON bodies are compared after resolving `$ref`s and merging
//! `allOf`; property attributes compared are type, format, enum, bounds, pattern,
//! nullable, required and default (ours is `x-venice-default`).
//!
//! Every difference has a stable key such as
//! `generateImage.request.body.width.default` or `generateImage.response.402.body.error.type`.
//! `openapi/upstream-deviations.toml` lists the accepted ones (`key` may use `*`
//! wildcards) with a `reason`; a difference not listed makes the command fail, and an
//! entry that matches nothing is reported as stale.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;

/// One accepted deviation of `openapi/upstream-deviations.toml`.
#[derive(Debug, Clone, Deserialize)]
pub struct Deviation {
    /// Difference key; `*` matches any run of characters.
    pub key: String,
    /// Why we differ.
    pub reason: String,
}

#[derive(Debug, Deserialize)]
struct DeviationFile {
    #[serde(default)]
    deviation: Vec<Deviation>,
}

/// Parses the deviations file; every entry needs a non-empty reason.
pub fn load_deviations(text: &str) -> Result<Vec<Deviation>> {
    let file: DeviationFile = toml::from_str(text).context("parsing the deviations file")?;
    for d in &file.deviation {
        if d.reason.trim().is_empty() {
            bail!("deviation {:?} has no reason", d.key);
        }
    }
    Ok(file.deviation)
}

/// One difference between the specs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Difference {
    /// Stable key, `operationId.area.…`.
    pub key: String,
    /// Upstream's value (`-` when absent).
    pub upstream: String,
    /// Our value (`-` when absent).
    pub ours: String,
}

/// The result of a comparison.
#[derive(Debug, Default)]
pub struct Report {
    /// Operations compared, as (operationId, method, our path, upstream path).
    pub operations: Vec<(String, String, String, Option<String>)>,
    /// Every difference with the reason it is accepted, if it is.
    pub differences: Vec<(Difference, Option<String>)>,
    /// Deviation keys that matched no difference.
    pub stale: Vec<String>,
}

impl Report {
    /// Differences no deviation accepts.
    pub fn unlisted(&self) -> impl Iterator<Item = &Difference> {
        self.differences
            .iter()
            .filter(|(_, r)| r.is_none())
            .map(|(d, _)| d)
    }

    /// `true` when every difference is accepted.
    pub fn is_clean(&self) -> bool {
        self.unlisted().next().is_none()
    }

    /// A readable report grouped by operation.
    pub fn render(&self, verbose: bool) -> String {
        let mut out = String::new();
        let mut by_op: BTreeMap<&str, Vec<&(Difference, Option<String>)>> = BTreeMap::new();
        for d in &self.differences {
            let op = d.0.key.split('.').next().unwrap_or_default();
            by_op.entry(op).or_default().push(d);
        }
        for (id, method, path, upstream) in &self.operations {
            let diffs = by_op.remove(id.as_str()).unwrap_or_default();
            let unlisted = diffs.iter().filter(|d| d.1.is_none()).count();
            let _ = writeln!(
                out,
                "{id}  {method} {path} ↔ upstream {}  — {} differences, {} accepted, {unlisted} NOT LISTED",
                upstream.as_deref().unwrap_or("(missing)"),
                diffs.len(),
                diffs.len() - unlisted
            );
            for (d, reason) in diffs {
                match reason {
                    None => {
                        let _ = writeln!(
                            out,
                            "  ✗ {}: upstream {} | ours {}",
                            d.key, d.upstream, d.ours
                        );
                    }
                    Some(r) if verbose => {
                        let _ = writeln!(
                            out,
                            "  ✓ {}: upstream {} | ours {}  ({r})",
                            d.key, d.upstream, d.ours
                        );
                    }
                    Some(_) => {}
                }
            }
        }
        for s in &self.stale {
            let _ = writeln!(
                out,
                "warning: stale deviation {s:?} matches no difference (remove it)"
            );
        }
        let total = self.differences.len();
        let unlisted = self.unlisted().count();
        let _ = writeln!(
            out,
            "\n{} operations compared: {total} differences, {} accepted by openapi/upstream-deviations.toml, {unlisted} not listed, {} stale entries",
            self.operations.len(),
            total - unlisted,
            self.stale.len()
        );
        out
    }
}

/// `*` glob match (any run of characters, including dots).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(pos) => rest = &rest[pos + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// Reads a spec from a path or an http(s) URL (fetched with `curl`, which keeps this
/// crate free of a blocking HTTP client).
pub fn read_spec(source: &str) -> Result<Value> {
    let text = if source.starts_with("http://") || source.starts_with("https://") {
        let out = std::process::Command::new("curl")
            .args(["-fsSL", "--max-time", "60", source])
            .output()
            .context(
                "running curl to fetch the upstream spec (or download it and pass the path)",
            )?;
        if !out.status.success() {
            bail!(
                "curl {source} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        String::from_utf8(out.stdout).context("the upstream spec is not UTF-8")?
    } else {
        std::fs::read_to_string(Path::new(source)).with_context(|| format!("reading {source}"))?
    };
    serde_yaml::from_str(&text).with_context(|| format!("parsing {source} as YAML/JSON"))
}

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];
const ATTRS: &[&str] = &[
    "type",
    "format",
    "enum",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "pattern",
    "nullable",
    "additionalProperties",
];

struct Ctx<'a> {
    doc: &'a Value,
}

impl<'a> Ctx<'a> {
    fn resolve(&self, v: &'a Value) -> &'a Value {
        let mut cur = v;
        for _ in 0..32 {
            match cur
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix('#'))
                .and_then(|p| self.doc.pointer(p))
            {
                Some(next) => cur = next,
                None => break,
            }
        }
        cur
    }

    /// Resolves `$ref` and merges `allOf` into one schema object.
    fn flatten(&self, v: &'a Value) -> Value {
        let v = self.resolve(v);
        let Some(parts) = v.get("allOf").and_then(Value::as_array) else {
            return v.clone();
        };
        let mut merged = v.clone();
        if let Some(obj) = merged.as_object_mut() {
            obj.remove("allOf");
        }
        for part in parts {
            let part = self.flatten(part);
            let (Some(m), Some(p)) = (merged.as_object_mut(), part.as_object()) else {
                continue;
            };
            for (k, val) in p {
                match k.as_str() {
                    "properties" => {
                        let props = m
                            .entry("properties")
                            .or_insert_with(|| Value::Object(Default::default()));
                        if let (Some(dst), Some(src)) = (props.as_object_mut(), val.as_object()) {
                            for (pk, pv) in src {
                                dst.insert(pk.clone(), pv.clone());
                            }
                        }
                    }
                    "required" => {
                        let req = m
                            .entry("required")
                            .or_insert_with(|| Value::Array(Vec::new()));
                        if let (Some(dst), Some(src)) = (req.as_array_mut(), val.as_array()) {
                            dst.extend(src.iter().cloned());
                        }
                    }
                    _ => {
                        m.insert(k.clone(), val.clone());
                    }
                }
            }
        }
        merged
    }
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "-".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The JSON type of a schema, reading through `anyOf`/`oneOf` whose branches share one.
fn type_of(ctx: &Ctx<'_>, s: &Value) -> Option<Value> {
    if let Some(t) = s.get("type") {
        return Some(t.clone());
    }
    let alts = s
        .get("anyOf")
        .or_else(|| s.get("oneOf"))
        .and_then(Value::as_array)?;
    let types: BTreeSet<String> = alts
        .iter()
        .filter_map(|a| type_of(ctx, &ctx.flatten(a)))
        .map(|t| show(Some(&t)))
        .collect();
    match types.len() {
        0 => None,
        1 => types.into_iter().next().map(Value::String),
        _ => Some(Value::String(
            types.into_iter().collect::<Vec<_>>().join("|"),
        )),
    }
}

fn enum_set(s: &Value) -> Option<Value> {
    let mut values: Vec<String> = s
        .get("enum")?
        .as_array()?
        .iter()
        .map(|v| show(Some(v)))
        .collect();
    values.sort();
    Some(Value::from(values))
}

struct Differ<'a> {
    up: Ctx<'a>,
    ours: Ctx<'a>,
    out: Vec<Difference>,
}

impl<'a> Differ<'a> {
    fn push(&mut self, key: String, upstream: Option<&Value>, ours: Option<&Value>) {
        self.out.push(Difference {
            key,
            upstream: show(upstream),
            ours: show(ours),
        });
    }

    fn schema(&mut self, key: &str, up: &'a Value, ours: &'a Value, depth: usize) {
        let u = self.up.flatten(up);
        let o = self.ours.flatten(ours);
        let (ut, ot) = (type_of(&self.up, &u), type_of(&self.ours, &o));
        if ut != ot {
            self.push(format!("{key}.type"), ut.as_ref(), ot.as_ref());
        }
        for attr in ATTRS.iter().filter(|a| **a != "type") {
            let (uv, ov) = if *attr == "enum" {
                (enum_set(&u), enum_set(&o))
            } else if *attr == "additionalProperties" {
                // Only the closed/open distinction matters here.
                let closed = |s: &Value| {
                    (s.get("additionalProperties") == Some(&Value::Bool(false)))
                        .then_some(Value::Bool(false))
                };
                (closed(&u), closed(&o))
            } else {
                (u.get(*attr).cloned(), o.get(*attr).cloned())
            };
            let same_number = uv.as_ref().and_then(Value::as_f64).is_some()
                && uv.as_ref().and_then(Value::as_f64) == ov.as_ref().and_then(Value::as_f64);
            if uv != ov && !same_number {
                self.push(format!("{key}.{attr}"), uv.as_ref(), ov.as_ref());
            }
        }
        // Ours states defaults as `x-venice-default` (see openapi/README.md).
        let default = |s: &'_ Value| {
            s.get("default")
                .or_else(|| s.get("x-venice-default"))
                .cloned()
        };
        let (ud, od) = (default(&u), default(&o));
        if ud != od {
            self.push(format!("{key}.default"), ud.as_ref(), od.as_ref());
        }
        if depth >= 4 {
            return;
        }
        if let (Some(ui), Some(oi)) = (u.get("items"), o.get("items")) {
            let (ui, oi) = (ui.clone(), oi.clone());
            let (ui, oi): (&'a Value, &'a Value) = (leak(ui), leak(oi));
            self.schema(&format!("{key}[]"), ui, oi, depth + 1);
        }
        let empty = serde_json::Map::new();
        let up_props = u
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let our_props = o
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let required = |s: &Value| -> BTreeSet<String> {
            s.get("required")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let (ur, or) = (required(&u), required(&o));
        let names: BTreeSet<&String> = up_props.keys().chain(our_props.keys()).collect();
        for name in names {
            let k = format!("{key}.{name}");
            match (up_props.get(name), our_props.get(name)) {
                (Some(_), None) => self.push(format!("{k}.removed"), Some(&"present".into()), None),
                (None, Some(_)) => self.push(format!("{k}.added"), None, Some(&"present".into())),
                (Some(uv), Some(ov)) => {
                    if ur.contains(name) != or.contains(name) {
                        self.push(
                            format!("{k}.required"),
                            Some(&ur.contains(name).into()),
                            Some(&or.contains(name).into()),
                        );
                    }
                    let (uv, ov): (&'a Value, &'a Value) = (leak(uv.clone()), leak(ov.clone()));
                    self.schema(&k, uv, ov, depth + 1);
                }
                (None, None) => {}
            }
        }
    }

    fn media_types(&mut self, key: &str, up: Option<&Value>, ours: Option<&Value>) {
        let keys = |v: Option<&Value>| -> Value {
            Value::from(
                v.and_then(Value::as_object)
                    .map(|m| m.keys().cloned().collect::<Vec<_>>())
                    .unwrap_or_default(),
            )
        };
        let (u, o) = (keys(up), keys(ours));
        if u != o {
            self.push(format!("{key}.media-types"), Some(&u), Some(&o));
        }
    }

    /// The schema of the first JSON media type.
    fn json_schema(content: Option<&'a Value>) -> Option<&'a Value> {
        content?
            .as_object()?
            .iter()
            .find(|(k, _)| k.contains("json"))
            .and_then(|(_, v)| v.get("schema"))
    }

    /// Compare one operation: request body, parameters, security, responses.
    fn operation(&mut self, id: &str, up: &'a Value, ours: &'a Value) {
        self.request_body(id, up, ours);
        self.parameters(id, up, ours);
        self.security(id, up, ours);
        self.responses(id, up, ours);
    }

    /// The request body: presence, media types, `required`, the JSON schema.
    fn request_body(&mut self, id: &str, up: &'a Value, ours: &'a Value) {
        let ub = up.get("requestBody").map(|b| self.up.resolve(b));
        let ob = ours.get("requestBody").map(|b| self.ours.resolve(b));
        match (ub, ob) {
            (Some(ub), Some(ob)) => {
                self.media_types(
                    &format!("{id}.request"),
                    ub.get("content"),
                    ob.get("content"),
                );
                if ub.get("required") != ob.get("required") {
                    self.push(
                        format!("{id}.request.required"),
                        ub.get("required"),
                        ob.get("required"),
                    );
                }
                if let (Some(us), Some(os)) = (
                    Self::json_schema(ub.get("content")),
                    Self::json_schema(ob.get("content")),
                ) {
                    self.schema(&format!("{id}.request.body"), us, os, 0);
                }
            }
            (Some(_), None) => {
                self.push(format!("{id}.request.removed"), Some(&"body".into()), None);
            }
            (None, Some(_)) => {
                self.push(format!("{id}.request.added"), None, Some(&"body".into()));
            }
            (None, None) => {}
        }
    }

    /// The parameters, by location and name: presence, `required`, schema.
    fn parameters(&mut self, id: &str, up: &'a Value, ours: &'a Value) {
        let params = |ctx: &Ctx<'a>, op: &'a Value| -> BTreeMap<String, &'a Value> {
            op.get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| ctx.resolve(p))
                .map(|p| {
                    let key = format!(
                        "{}.{}",
                        p.get("in").and_then(Value::as_str).unwrap_or("?"),
                        p.get("name").and_then(Value::as_str).unwrap_or("?")
                    );
                    (key, p)
                })
                .collect()
        };
        let (up_params, our_params) = (params(&self.up, up), params(&self.ours, ours));
        let names: BTreeSet<&String> = up_params.keys().chain(our_params.keys()).collect();
        for name in names {
            let k = format!("{id}.param.{name}");
            match (up_params.get(name), our_params.get(name)) {
                (Some(_), None) => self.push(format!("{k}.removed"), Some(&"present".into()), None),
                (None, Some(_)) => self.push(format!("{k}.added"), None, Some(&"present".into())),
                (Some(u), Some(o)) => {
                    let req =
                        |p: &Value| p.get("required").and_then(Value::as_bool).unwrap_or(false);
                    if req(u) != req(o) {
                        self.push(
                            format!("{k}.required"),
                            Some(&req(u).into()),
                            Some(&req(o).into()),
                        );
                    }
                    if let (Some(us), Some(os)) = (u.get("schema"), o.get("schema")) {
                        self.schema(&k, us, os, 0);
                    }
                }
                (None, None) => {}
            }
        }
    }

    /// The security requirements (the document's when the operation has none).
    fn security(&mut self, id: &str, up: &'a Value, ours: &'a Value) {
        let sec = |ctx: &Ctx<'a>, op: &'a Value| -> Value {
            let mut names: Vec<String> = op
                .get("security")
                .or_else(|| ctx.doc.get("security"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|r| {
                    r.as_object()
                        .map(|m| m.keys().cloned().collect::<Vec<_>>().join("+"))
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| "none".to_owned())
                })
                .collect();
            names.sort();
            Value::from(names)
        };
        let (us, os) = (sec(&self.up, up), sec(&self.ours, ours));
        if us != os {
            self.push(format!("{id}.security"), Some(&us), Some(&os));
        }
    }

    /// The responses, by status: presence, media types, headers, the JSON schema.
    fn responses(&mut self, id: &str, up: &'a Value, ours: &'a Value) {
        static EMPTY: std::sync::LazyLock<serde_json::Map<String, Value>> =
            std::sync::LazyLock::new(serde_json::Map::new);
        let empty: &'static serde_json::Map<String, Value> = &EMPTY;
        let ur = up
            .get("responses")
            .and_then(Value::as_object)
            .unwrap_or(empty);
        let or = ours
            .get("responses")
            .and_then(Value::as_object)
            .unwrap_or(empty);
        let statuses: BTreeSet<&String> = ur.keys().chain(or.keys()).collect();
        for status in statuses {
            let k = format!("{id}.response.{status}");
            let (Some(u), Some(o)) = (ur.get(status), or.get(status)) else {
                let (u, o) = (ur.contains_key(status), or.contains_key(status));
                self.push(
                    format!("{k}.{}", if u { "removed" } else { "added" }),
                    u.then(|| Value::from("present")).as_ref(),
                    o.then(|| Value::from("present")).as_ref(),
                );
                continue;
            };
            let (u, o) = (self.up.resolve(u), self.ours.resolve(o));
            self.media_types(&k, u.get("content"), o.get("content"));
            let headers = |v: &Value| -> BTreeSet<String> {
                v.get("headers")
                    .and_then(Value::as_object)
                    .map(|m| m.keys().map(|h| h.to_ascii_lowercase()).collect())
                    .unwrap_or_default()
            };
            let (uh, oh) = (headers(u), headers(o));
            for h in uh.difference(&oh) {
                self.push(
                    format!("{k}.header.{h}.removed"),
                    Some(&"present".into()),
                    None,
                );
            }
            for h in oh.difference(&uh) {
                self.push(
                    format!("{k}.header.{h}.added"),
                    None,
                    Some(&"present".into()),
                );
            }
            if let (Some(us), Some(os)) = (
                Self::json_schema(u.get("content")),
                Self::json_schema(o.get("content")),
            ) {
                self.schema(&format!("{k}.body"), us, os, 0);
            }
        }
    }
}

/// Leaks a clone so flattened (owned) schemas can be walked with the document's
/// lifetime. xtask is a short-lived process; the total is a few hundred KB.
fn leak(v: Value) -> &'static Value {
    Box::leak(Box::new(v))
}

fn find_upstream<'a>(upstream: &'a Value, method: &str, path: &str) -> Option<(String, &'a Value)> {
    let paths = upstream.get("paths")?.as_object()?;
    [path.to_owned(), format!("/api/v1{path}")]
        .into_iter()
        .chain(paths.keys().filter(|k| k.ends_with(path)).cloned())
        .find_map(|p| {
            let op = paths.get(&p)?.get(method)?;
            Some((p, op))
        })
}

/// Compares `ours` with `upstream` and classifies each difference with `deviations`.
pub fn diff(ours: &Value, upstream: &Value, deviations: &[Deviation]) -> Report {
    let mut differ = Differ {
        up: Ctx { doc: upstream },
        ours: Ctx { doc: ours },
        out: Vec::new(),
    };
    let mut operations = Vec::new();
    let empty = serde_json::Map::new();
    let paths = ours
        .get("paths")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (path, item) in paths {
        for method in METHODS {
            let Some(op) = item.get(*method) else {
                continue;
            };
            let id = op
                .get("operationId")
                .and_then(Value::as_str)
                .unwrap_or(path)
                .to_owned();
            match find_upstream(upstream, method, path) {
                Some((up_path, up_op)) => {
                    differ.operation(&id, up_op, op);
                    operations.push((id, method.to_ascii_uppercase(), path.clone(), Some(up_path)));
                }
                None => {
                    differ.push(
                        format!("{id}.operation.added"),
                        None,
                        Some(&"present".into()),
                    );
                    operations.push((id, method.to_ascii_uppercase(), path.clone(), None));
                }
            }
        }
    }
    let mut used = vec![false; deviations.len()];
    let mut differences: Vec<(Difference, Option<String>)> = differ
        .out
        .into_iter()
        .map(|d| {
            let reason = deviations.iter().enumerate().find_map(|(i, dev)| {
                glob_match(&dev.key, &d.key).then(|| {
                    used[i] = true;
                    dev.reason.clone()
                })
            });
            (d, reason)
        })
        .collect();
    differences.sort();
    differences.dedup_by(|a, b| a.0 == b.0);
    let stale = deviations
        .iter()
        .zip(used)
        .filter(|(_, u)| !u)
        .map(|(d, _)| d.key.clone())
        .collect();
    Report {
        operations,
        differences,
        stale,
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("a.*.c", "a.b.x.c"));
        assert!(glob_match(
            "*.response.402.*",
            "gen.response.402.body.x.type"
        ));
        assert!(!glob_match("a.*.c", "a.b.d"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
        assert!(glob_match("*", "anything"));
    }
}
