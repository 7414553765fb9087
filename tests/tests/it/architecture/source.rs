//! A crate's source as `syn` trees, found the way rustc finds it: from the crate root
//! through each `mod x;` (`x.rs`, `x/mod.rs` or a `#[path]`), so a file no module
//! declares is not read and a module reached twice (`#[path]` under two cfgs) is read
//! under both names.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A module path inside a crate (`[]` is the crate root).
pub type ModPath = Vec<String>;

/// One parsed file and the module it is.
pub struct SourceFile {
    /// The path shown in reports (relative to the workspace root).
    pub rel: String,
    /// The module this file is.
    pub module: ModPath,
    /// Whether the file is (inside) a `#[cfg(test)]` module.
    pub test: bool,
    pub ast: syn::File,
}

/// A crate: its files and every module declared in them (inline ones too).
pub struct Crate {
    pub name: String,
    pub files: Vec<SourceFile>,
    /// `#[cfg(test)]` modules, inline or not (their descendants are test code too).
    pub test_modules: BTreeSet<ModPath>,
}

/// Whether `attrs` hold `#[cfg(test)]`, `#[cfg(all(test, ..))]` or `#[test]`-like markers.
pub fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        let path = a.path();
        if path.is_ident("cfg") {
            let text = a
                .meta
                .require_list()
                .map(|l| l.tokens.to_string())
                .unwrap_or_default();
            // `test`, or `all(.., test, ..)`: compiled only into tests. `any(test, ..)` and
            // `not(..)` may be compiled into the library, so they count as library code.
            let words: Vec<&str> = text
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .filter(|w| !w.is_empty())
                .collect();
            (words.len() == 1 && words[0] == "test")
                || (words.first() == Some(&"all")
                    && words.contains(&"test")
                    && !words.contains(&"any")
                    && !words.contains(&"not"))
        } else {
            // `#[test]`, `#[tokio::test]`.
            path.segments.last().is_some_and(|s| s.ident == "test")
        }
    })
}

/// Reads and parses the crate rooted at `root_file` (`src/lib.rs` or `src/main.rs`);
/// `read` gives a file's text (the disk, or fixtures in the tests of this checker);
/// `shown` turns a path into its name in reports. Files whose name is in `skip` are
/// declared but not read (generated code).
pub fn load(
    name: &str,
    root_file: &Path,
    read: &dyn Fn(&Path) -> Option<String>,
    shown: &dyn Fn(&Path) -> String,
    skip: &[&str],
) -> Result<Crate, String> {
    let mut krate = Crate {
        name: name.to_owned(),
        files: Vec::new(),
        test_modules: BTreeSet::new(),
    };
    let dir = root_file.parent().unwrap_or(Path::new("")).to_path_buf();
    load_file(
        &mut krate,
        root_file,
        Vec::new(),
        dir,
        false,
        read,
        shown,
        skip,
    )?;
    Ok(krate)
}

#[allow(clippy::too_many_arguments)]
fn load_file(
    krate: &mut Crate,
    file: &Path,
    module: ModPath,
    dir: PathBuf,
    test: bool,
    read: &dyn Fn(&Path) -> Option<String>,
    shown: &dyn Fn(&Path) -> String,
    skip: &[&str],
) -> Result<(), String> {
    let text = read(file).ok_or_else(|| format!("{}: cannot read", shown(file)))?;
    let ast = syn::parse_file(&text).map_err(|e| format!("{}: {e}", shown(file)))?;
    let mut declared = Vec::new();
    collect_mods(
        &ast.items,
        &module,
        &dir,
        test,
        &mut declared,
        &mut krate.test_modules,
    );
    krate.files.push(SourceFile {
        rel: shown(file),
        module,
        test,
        ast,
    });
    for (child, candidates, child_dir, child_test) in declared {
        let Some(found) = candidates.iter().find(|c| read(c).is_some()) else {
            if krate.name == "fixture" {
                // A declared module without a fixture file is empty.
                continue;
            }
            return Err(format!(
                "module {} declared but none of {:?} exists",
                child.join("::"),
                candidates.iter().map(|c| shown(c)).collect::<Vec<_>>()
            ));
        };
        if skip.iter().any(|s| found.ends_with(s)) {
            continue;
        }
        load_file(
            krate, found, child, child_dir, child_test, read, shown, skip,
        )?;
    }
    Ok(())
}

type Declared = (ModPath, Vec<PathBuf>, PathBuf, bool);

/// The `mod x;` declarations in `items` (descending into inline modules), each with the
/// files it may live in and the directory of its own children.
fn collect_mods(
    items: &[syn::Item],
    module: &ModPath,
    dir: &Path,
    test: bool,
    out: &mut Vec<Declared>,
    tests: &mut BTreeSet<ModPath>,
) {
    for item in items {
        let syn::Item::Mod(m) = item else { continue };
        let name = m.ident.to_string();
        let mut child = module.clone();
        child.push(name.clone());
        let child_test = test || is_test_only(&m.attrs);
        if child_test {
            tests.insert(child.clone());
        }
        let path_attr = m.attrs.iter().find_map(|a| {
            if !a.path().is_ident("path") {
                return None;
            }
            let syn::Meta::NameValue(nv) = &a.meta else {
                return None;
            };
            match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            }
        });
        match &m.content {
            Some((_, inner)) => {
                collect_mods(inner, &child, &dir.join(&name), child_test, out, tests);
            }
            None => {
                let (candidates, child_dir) = match path_attr {
                    Some(p) => {
                        let file = dir.join(p);
                        let child_dir = file.parent().unwrap_or(dir).to_path_buf();
                        (vec![file], child_dir)
                    }
                    None => (
                        vec![
                            dir.join(format!("{name}.rs")),
                            dir.join(&name).join("mod.rs"),
                        ],
                        dir.join(&name),
                    ),
                };
                out.push((child, candidates, child_dir, child_test));
            }
        }
    }
}

/// A crate made of fixture files (`("lib.rs", "mod a;")`, `("a.rs", "...")`).
pub fn from_fixtures(files: &[(&str, &str)]) -> Crate {
    let map: Vec<(PathBuf, String)> = files
        .iter()
        .map(|(p, t)| (PathBuf::from("fixture").join(p), (*t).to_owned()))
        .collect();
    let read = |p: &Path| map.iter().find(|(q, _)| q == p).map(|(_, t)| t.clone());
    let shown = |p: &Path| p.display().to_string();
    load("fixture", Path::new("fixture/lib.rs"), &read, &shown, &[]).expect("fixture crate")
}
