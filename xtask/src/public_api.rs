//! `cargo xtask public-api`: the public API of the published library crates as a sorted
//! listing of item paths, read from rustdoc's JSON output (the compiler's own view,
//! re-exports resolved), and, with `--since REV`, what was removed or added since a
//! commit, with every removed name required to appear in `CHANGELOG.md`.
//!
//! rustdoc's JSON output is unstable; stable toolchains emit it with
//! `RUSTC_BOOTSTRAP=1`, which this task sets for its own rustdoc runs only. The walk
//! reads the few fields it needs (`index`, `root`, `inner.<kind>`) and fails loudly on
//! a shape it does not know rather than listing less.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// The library crates whose API users depend on (the CLI is a binary, xtask and the
/// contract tests are not published).
const LIBRARIES: &[(&str, &str)] = &[
    ("venice-openapi", "venice_openapi"),
    ("venice-image", "venice_image"),
    ("venice-x402", "venice_x402"),
    ("venice-mock", "venice_mock"),
];

/// List the current tree's public API; with `since`, compare it with that commit's
/// and check the CHANGELOG names every removed item.
pub fn run(root: &Path, since: Option<&str>) -> Result<()> {
    let target = root.join("target/public-api");
    let now = listing(root, &target)?;
    let Some(rev) = since else {
        for line in &now {
            println!("{line}");
        }
        return Ok(());
    };
    let old_tree = target.join(format!("tree-{rev}"));
    export_tree(root, rev, &old_tree)?;
    let before = listing(&old_tree, &target)?;
    // An item now re-exported from another crate (`use path = other::Item`) is still
    // there under its old path, members included.
    let reexported: HashSet<&str> = now
        .iter()
        .filter_map(|l| l.strip_prefix("use ")?.split_once(" = ").map(|(p, _)| p))
        .collect();
    let removed: Vec<&String> = before
        .difference(&now)
        .filter(|l| !ancestors(item_path(l)).any(|p| reexported.contains(p)))
        .collect();
    let added: Vec<&String> = now.difference(&before).collect();
    println!(
        "public API since {rev}: {} removed, {} added",
        removed.len(),
        added.len()
    );
    for line in &removed {
        println!("- {line}");
    }
    for line in &added {
        println!("+ {line}");
    }
    let changelog =
        std::fs::read_to_string(root.join("CHANGELOG.md")).context("reading CHANGELOG.md")?;
    let unlisted = unlisted_removals(&removed, &changelog);
    if !unlisted.is_empty() {
        bail!(
            "{} removed or renamed public item(s) are not named in CHANGELOG.md:\n  {}",
            unlisted.len(),
            unlisted.join("\n  ")
        );
    }
    println!("every removed item is named in CHANGELOG.md");
    Ok(())
}

/// Removed items whose name (the last path segment, in backticks) CHANGELOG.md never
/// mentions. An item whose parent was removed too is covered by its parent's line.
fn unlisted_removals(removed: &[&String], changelog: &str) -> Vec<String> {
    let removed_paths: HashSet<&str> = removed.iter().map(|l| item_path(l)).collect();
    removed
        .iter()
        .map(|l| item_path(l))
        .filter(|path| {
            let parent_removed = parent(path).is_some_and(|p| removed_paths.contains(p));
            let name = path.rsplit(['.', ':']).next().unwrap_or(path);
            !parent_removed && !mentions(changelog, name)
        })
        .map(str::to_owned)
        .collect()
}

/// `kind path` → `path`.
fn item_path(line: &str) -> &str {
    line.split_once(' ').map_or(line, |(_, p)| p)
}

/// `path` and each item enclosing it.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(path), |p| parent(p))
}

/// The enclosing item of `a::b::c` or `a::B.field`.
fn parent(path: &str) -> Option<&str> {
    let cut = path.rfind(['.', ':'])?;
    Some(path[..cut].trim_end_matches(':'))
}

/// Whether `name` appears in backticks, alone or as a path's last segment or a call.
fn mentions(changelog: &str, name: &str) -> bool {
    changelog.split('`').skip(1).step_by(2).any(|code| {
        code.split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .any(|word| word == name)
    })
}

/// A commit's files under `dest` (`git archive`, no checkout, no worktree to clean up).
fn export_tree(root: &Path, rev: &str, dest: &Path) -> Result<()> {
    if dest.exists() {
        std::fs::remove_dir_all(dest).with_context(|| format!("removing {}", dest.display()))?;
    }
    std::fs::create_dir_all(dest)?;
    let archive = Command::new("git")
        .current_dir(root)
        .args(["archive", "--format=tar", rev])
        .output()
        .context("running git archive")?;
    if !archive.status.success() {
        bail!(
            "git archive {rev}: {}",
            String::from_utf8_lossy(&archive.stderr)
        );
    }
    let tar = dest.join("tree.tar");
    std::fs::write(&tar, &archive.stdout)?;
    let status = Command::new("tar")
        .current_dir(dest)
        .args(["-xf", "tree.tar"])
        .status()
        .context("running tar")?;
    if !status.success() {
        bail!("tar failed for {rev}");
    }
    std::fs::remove_file(tar)?;
    Ok(())
}

/// The public items of every library crate the tree at `tree` has, all features on,
/// documented into `target` (shared between trees, so dependencies build once).
fn listing(tree: &Path, target: &Path) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for (package, krate) in LIBRARIES {
        if !tree
            .join("crates")
            .join(package)
            .join("Cargo.toml")
            .exists()
        {
            continue;
        }
        let json = rustdoc_json(tree, target, package, krate)?;
        let doc: Value = serde_json::from_str(
            &std::fs::read_to_string(&json)
                .with_context(|| format!("reading {}", json.display()))?,
        )
        .with_context(|| format!("parsing {}", json.display()))?;
        Walk::new(&doc)?.crate_items(krate, &mut out)?;
    }
    Ok(out)
}

fn rustdoc_json(tree: &Path, target: &Path, package: &str, krate: &str) -> Result<PathBuf> {
    let status = Command::new(env!("CARGO"))
        .current_dir(tree)
        .args([
            "doc",
            "--no-deps",
            "--all-features",
            "-p",
            package,
            "--target-dir",
        ])
        .arg(target)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("RUSTDOCFLAGS", "-Z unstable-options --output-format json")
        .status()
        .with_context(|| format!("running cargo doc for {package}"))?;
    if !status.success() {
        bail!(
            "cargo doc --output-format json failed for {package} in {}",
            tree.display()
        );
    }
    Ok(target.join("doc").join(format!("{krate}.json")))
}

/// A walk over one crate's rustdoc JSON from its root module.
struct Walk<'a> {
    index: &'a serde_json::Map<String, Value>,
    root: String,
}

impl<'a> Walk<'a> {
    fn new(doc: &'a Value) -> Result<Self> {
        let index = doc["index"]
            .as_object()
            .context("rustdoc JSON without an index")?;
        let root = id_key(&doc["root"]).context("rustdoc JSON without a root")?;
        Ok(Walk { index, root })
    }

    fn crate_items(&self, krate: &str, out: &mut BTreeSet<String>) -> Result<()> {
        let mut seen = HashSet::new();
        self.module(&self.root, krate, out, &mut seen)
    }

    fn item(&self, id: &str) -> Option<&'a Value> {
        self.index.get(id)
    }

    fn module(
        &self,
        id: &str,
        path: &str,
        out: &mut BTreeSet<String>,
        seen: &mut HashSet<(String, String)>,
    ) -> Result<()> {
        if !seen.insert((id.to_owned(), path.to_owned())) {
            return Ok(());
        }
        let item = self
            .item(id)
            .with_context(|| format!("module {path} not in the index"))?;
        let items = item["inner"]["module"]["items"]
            .as_array()
            .with_context(|| format!("{path} is not a module"))?;
        for child in items {
            let Some(child_id) = id_key(child) else {
                continue;
            };
            let Some(child) = self.item(&child_id) else {
                continue;
            };
            if child["visibility"] != "public" {
                continue;
            }
            let name = child["name"].as_str().unwrap_or("_");
            self.public_item(child, name, path, out, seen)?;
        }
        Ok(())
    }

    /// List `item` as `parent::name` (`name` differs from the item's own name when it is
    /// re-exported under another).
    fn public_item(
        &self,
        item: &'a Value,
        name: &str,
        parent: &str,
        out: &mut BTreeSet<String>,
        seen: &mut HashSet<(String, String)>,
    ) -> Result<()> {
        let (kind, inner) = kind_of(item)?;
        if kind == "use" {
            return self.reexport(inner, parent, out, seen);
        }
        let path = format!("{parent}::{name}");
        out.insert(format!("{kind} {path}"));
        match kind {
            "module" => {
                let id = id_key(&item["id"]).context("module without an id")?;
                self.module(&id, &path, out, seen)?;
            }
            "struct" => {
                if let Some(fields) = inner["kind"]["plain"]["fields"].as_array() {
                    for field in fields.iter().filter_map(|f| self.item(&id_key(f)?)) {
                        if field["visibility"] == "public" {
                            out.insert(format!(
                                "field {path}.{}",
                                field["name"].as_str().unwrap_or("_")
                            ));
                        }
                    }
                }
                self.inherent_items(inner, &path, out);
            }
            "enum" => {
                for variant in inner["variants"].as_array().into_iter().flatten() {
                    if let Some(v) = id_key(variant).and_then(|id| self.item(&id)) {
                        out.insert(format!(
                            "variant {path}::{}",
                            v["name"].as_str().unwrap_or("_")
                        ));
                    }
                }
                self.inherent_items(inner, &path, out);
            }
            "trait" => {
                for member in inner["items"].as_array().into_iter().flatten() {
                    if let Some(m) = id_key(member).and_then(|id| self.item(&id)) {
                        let (mkind, _) = kind_of(m)?;
                        out.insert(format!(
                            "{mkind} {path}::{}",
                            m["name"].as_str().unwrap_or("_")
                        ));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// `pub use`: a local target is listed under its re-exported name; a foreign one
    /// (another crate's item) as the re-export itself.
    fn reexport(
        &self,
        inner: &'a Value,
        parent: &str,
        out: &mut BTreeSet<String>,
        seen: &mut HashSet<(String, String)>,
    ) -> Result<()> {
        let name = inner["name"].as_str().unwrap_or("_");
        let target = id_key(&inner["id"]).and_then(|id| self.item(&id).map(|t| (id, t)));
        let glob = inner["is_glob"].as_bool().unwrap_or(false);
        match target {
            Some((id, _)) if glob => self.module(&id, parent, out, seen),
            Some((_, t)) => self.public_item(t, name, parent, out, seen),
            None => {
                let source = inner["source"].as_str().unwrap_or("?");
                let shown = if glob { "*" } else { name };
                out.insert(format!("use {parent}::{shown} = {source}"));
                Ok(())
            }
        }
    }

    /// Public methods, constants and types of the inherent impls of a struct or enum.
    fn inherent_items(&self, inner: &Value, path: &str, out: &mut BTreeSet<String>) {
        for imp in inner["impls"].as_array().into_iter().flatten() {
            let Some(imp) = id_key(imp).and_then(|id| self.item(&id)) else {
                continue;
            };
            let body = &imp["inner"]["impl"];
            if !body["trait"].is_null() {
                continue;
            }
            for member in body["items"].as_array().into_iter().flatten() {
                let Some(m) = id_key(member).and_then(|id| self.item(&id)) else {
                    continue;
                };
                if m["visibility"] != "public" {
                    continue;
                }
                if let Ok((mkind, _)) = kind_of(m) {
                    out.insert(format!(
                        "{mkind} {path}::{}",
                        m["name"].as_str().unwrap_or("_")
                    ));
                }
            }
        }
    }
}

/// An item's kind (`struct`, `function`, …) and the object under it.
fn kind_of(item: &Value) -> Result<(&str, &Value)> {
    let inner = item["inner"].as_object().context("item without inner")?;
    let (kind, body) = inner.iter().next().context("item with an empty inner")?;
    Ok((kind.as_str(), body))
}

/// An id as the index's key: format 57 uses integers, older formats strings.
fn id_key(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removed_item_needs_its_name_in_the_changelog_unless_its_parent_went_too() {
        let removed = [
            "struct venice_image::WalletBalance".to_owned(),
            "field venice_image::WalletBalance.usd".to_owned(),
            "function venice_image::Client::old_call".to_owned(),
            "enum venice_image::Gone".to_owned(),
        ];
        let refs: Vec<&String> = removed.iter().collect();
        let changelog =
            "- `WalletBalance` is now `types::X402Balance`.\n- `Client::old_call()` → `new_call`";
        assert_eq!(unlisted_removals(&refs, changelog), ["venice_image::Gone"]);
    }

    #[test]
    fn ancestors_run_from_the_item_to_its_crate() {
        let got: Vec<&str> = ancestors("k::m::S.x").collect();
        assert_eq!(got, ["k::m::S.x", "k::m::S", "k::m", "k"]);
    }

    #[test]
    fn names_count_only_inside_backticks_and_as_whole_words() {
        assert!(mentions("x `a::Balance` y", "Balance"));
        assert!(!mentions("Balance outside code", "Balance"));
        assert!(!mentions("`WalletBalance`", "Balance"));
    }

    #[test]
    fn the_walk_lists_items_reexports_fields_variants_and_methods() {
        let doc = serde_json::json!({
            "root": 0,
            "index": {
                "0": {"id": 0, "name": "k", "visibility": "public", "inner": {"module": {"items": [1, 2, 3, 6]}}},
                "1": {"id": 1, "name": "S", "visibility": "public", "inner": {"struct": {
                    "kind": {"plain": {"fields": [4]}}, "impls": [5]}}},
                "2": {"id": 2, "name": null, "visibility": "public", "inner": {"use": {
                    "source": "inner::S", "name": "Alias", "id": 1, "is_glob": false}}},
                "3": {"id": 3, "name": null, "visibility": "public", "inner": {"use": {
                    "source": "other_crate", "name": "raw", "id": 99, "is_glob": false}}},
                "4": {"id": 4, "name": "x", "visibility": "public", "inner": {"struct_field": {}}},
                "5": {"id": 5, "name": null, "visibility": "default", "inner": {"impl": {
                    "trait": null, "items": [7, 8]}}},
                "6": {"id": 6, "name": "E", "visibility": "public", "inner": {"enum": {"variants": [9], "impls": []}}},
                "7": {"id": 7, "name": "new", "visibility": "public", "inner": {"function": {}}},
                "8": {"id": 8, "name": "hidden", "visibility": "crate", "inner": {"function": {}}},
                "9": {"id": 9, "name": "A", "visibility": "default", "inner": {"variant": {}}}
            }
        });
        let mut out = BTreeSet::new();
        Walk::new(&doc)
            .expect("the fixture has a root and an index")
            .crate_items("k", &mut out)
            .expect("the fixture walks");
        let got: Vec<&str> = out.iter().map(String::as_str).collect();
        assert_eq!(
            got,
            [
                "enum k::E",
                "field k::Alias.x",
                "field k::S.x",
                "function k::Alias::new",
                "function k::S::new",
                "struct k::Alias",
                "struct k::S",
                "use k::raw = other_crate",
                "variant k::E::A",
            ]
        );
    }
}
