//! `cargo xtask loc [--rev REV] [CRATE_DIR…]`: non-test code lines of each crate's `src`,
//! the one count issue 29's line target is measured with.
//!
//! The rules:
//! - A crate's files are found the way rustc finds them: from its roots (`src/lib.rs`,
//!   `src/main.rs`, `src/bin/*.rs`, `src/bin/*/main.rs` and any `path` in its manifest)
//!   through each `mod x;` (`x.rs`, `x/mod.rs` or a `#[path]`), so a file reached only
//!   through a `#[cfg(test)] mod x;` is not counted, nor is a file no module declares
//!   (those are listed, so a difference from a file-based count can be explained).
//!   Modules behind feature cfgs are counted: the count is for every feature.
//! - Each file is parsed with `syn`; an item, impl/trait item, field, variant, match
//!   arm or statement whose attributes make it test-only (`#[cfg(test)]`,
//!   `#[cfg(all(.., test, ..))]`, `#[test]`, `#[tokio::test]`) is dropped with
//!   everything inside it. `#[cfg(any(test, ..))]` and `#[cfg(not(..))]` code may be
//!   compiled into the library and counts.
//! - A line counts when it holds a token of the remaining code: blank lines, comments
//!   (doc comments included) and lines holding only dropped code do not count. A string
//!   literal that spans lines counts its non-blank lines.
//!
//! `--rev REV` reads the files with `git show REV:path` (nothing is checked out), so
//! two commits can be compared without touching the work tree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use proc_macro2::{LineColumn, TokenStream, TokenTree};
use quote::ToTokens;
use syn::visit::Visit;

/// Where files are read from: the work tree, or a commit.
pub enum Source {
    /// Files on disk under the workspace root.
    WorkTree(std::path::PathBuf),
    /// Files at a commit (`git show REV:path`), with the set of files it has.
    Rev {
        /// The repository's root.
        root: std::path::PathBuf,
        /// The commit-ish.
        rev: String,
        /// Every file path at `rev` (relative, `/`-separated).
        files: BTreeSet<String>,
    },
    /// In-memory files, for tests.
    #[cfg(test)]
    Map(BTreeMap<String, String>),
}

impl Source {
    /// The files of `rev` in the repository at `root`.
    pub fn at_rev(root: &Path, rev: &str) -> Result<Self> {
        let out = Command::new("git")
            .current_dir(root)
            .args(["ls-tree", "-r", "-z", "--name-only", rev])
            .output()
            .context("running git ls-tree")?;
        if !out.status.success() {
            bail!(
                "git ls-tree {rev} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let files = out
            .stdout
            .split(|b| *b == 0)
            .filter(|f| !f.is_empty())
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        Ok(Self::Rev {
            root: root.to_path_buf(),
            rev: rev.to_owned(),
            files,
        })
    }

    fn exists(&self, rel: &str) -> bool {
        match self {
            Self::WorkTree(root) => root.join(rel).is_file(),
            Self::Rev { files, .. } => files.contains(rel),
            #[cfg(test)]
            Self::Map(m) => m.contains_key(rel),
        }
    }

    fn read(&self, rel: &str) -> Result<String> {
        match self {
            Self::WorkTree(root) => {
                std::fs::read_to_string(root.join(rel)).with_context(|| format!("reading {rel}"))
            }
            Self::Rev { root, rev, .. } => {
                let out = Command::new("git")
                    .current_dir(root)
                    .args(["show", &format!("{rev}:{rel}")])
                    .output()
                    .context("running git show")?;
                if !out.status.success() {
                    bail!("git show {rev}:{rel} failed");
                }
                String::from_utf8(out.stdout).with_context(|| format!("{rev}:{rel} is not UTF-8"))
            }
            #[cfg(test)]
            Self::Map(m) => m.get(rel).cloned().context("no such fixture file"),
        }
    }

    /// Every `.rs` file under `dir` (relative paths).
    fn rust_files_under(&self, dir: &str) -> Vec<String> {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        match self {
            Self::WorkTree(root) => {
                let mut out = Vec::new();
                let mut stack = vec![root.join(dir)];
                while let Some(d) = stack.pop() {
                    let Ok(entries) = std::fs::read_dir(&d) else {
                        continue;
                    };
                    for e in entries.flatten() {
                        let p = e.path();
                        if p.is_dir() {
                            stack.push(p);
                        } else if p.extension().is_some_and(|x| x == "rs")
                            && let Ok(rel) = p.strip_prefix(root)
                        {
                            out.push(rel.to_string_lossy().replace('\\', "/"));
                        }
                    }
                }
                out.sort();
                out
            }
            Self::Rev { files, .. } => files
                .iter()
                .filter(|f| f.starts_with(&prefix) && f.ends_with(".rs"))
                .cloned()
                .collect(),
            #[cfg(test)]
            Self::Map(m) => m
                .keys()
                .filter(|f| f.starts_with(&prefix) && f.ends_with(".rs"))
                .cloned()
                .collect(),
        }
    }
}

/// The count of one crate.
#[derive(Debug, Default)]
pub struct CrateCount {
    /// Non-test code lines of each counted file.
    pub files: BTreeMap<String, usize>,
    /// `.rs` files under `src` that no crate root reaches outside tests.
    pub not_reached: Vec<String>,
}

impl CrateCount {
    /// The crate's total.
    pub fn total(&self) -> usize {
        self.files.values().sum()
    }
}

/// Count the crate in `dir` (relative to the source's root, e.g. `crates/venice-image`).
pub fn count_crate(source: &Source, dir: &str) -> Result<CrateCount> {
    let dir = dir.trim_end_matches('/');
    let mut roots: Vec<String> = ["src/lib.rs", "src/main.rs"]
        .iter()
        .map(|r| format!("{dir}/{r}"))
        .filter(|r| source.exists(r))
        .collect();
    let bin = format!("{dir}/src/bin/");
    for f in source.rust_files_under(&format!("{dir}/src/bin")) {
        let rest = &f[bin.len()..];
        if !rest.contains('/') || (rest.ends_with("/main.rs") && rest.matches('/').count() == 1) {
            roots.push(f);
        }
    }
    let manifest = format!("{dir}/Cargo.toml");
    if source.exists(&manifest) {
        roots.extend(
            manifest_paths(&source.read(&manifest)?)?
                .into_iter()
                .filter_map(|p| {
                    let p = format!("{dir}/{}", p.trim_start_matches("./"));
                    source.exists(&p).then_some(p)
                }),
        );
    }
    if roots.is_empty() {
        bail!("{dir}: no crate root (src/lib.rs, src/main.rs, src/bin/…)");
    }
    let mut count = CrateCount::default();
    // (file, reached only through test modules, is a crate root)
    let mut pending: Vec<(String, bool, bool)> =
        roots.into_iter().map(|r| (r, false, true)).collect();
    let mut seen = BTreeSet::new();
    let mut test_files = BTreeSet::new();
    while let Some((file, test, is_root)) = pending.pop() {
        if !seen.insert((file.clone(), test)) {
            continue;
        }
        if test {
            test_files.insert(file.clone());
        }
        let text = source.read(&file)?;
        let counted = count_file(&text).with_context(|| format!("parsing {file}"))?;
        if counted.test_only {
            test_files.insert(file.clone());
        } else if !test {
            count.files.insert(file.clone(), counted.counted.len());
        }
        let (parent, file_dir) = dirs_of(&file, is_root);
        for decl in counted.mods {
            let child_test = test || counted.test_only || decl.test;
            let candidates = match &decl.path_attr {
                Some(p) => vec![join(&decl.dir_for(&parent, &file_dir), p)],
                None => {
                    let d = decl.dir_for(&file_dir, &file_dir);
                    vec![
                        join(&d, &format!("{}.rs", decl.name)),
                        join(&d, &format!("{}/mod.rs", decl.name)),
                    ]
                }
            };
            match candidates.into_iter().find(|c| source.exists(c)) {
                Some(found) => pending.push((found, child_test, false)),
                None if child_test => {}
                None => bail!(
                    "{file}: module `{}` declared but its file is missing",
                    decl.name
                ),
            }
        }
    }
    count.not_reached = source
        .rust_files_under(&format!("{dir}/src"))
        .into_iter()
        .filter(|f| !count.files.contains_key(f) && !test_files.contains(f))
        .collect();
    Ok(count)
}

/// `[lib] path` and `[[bin]] path` of a manifest.
fn manifest_paths(manifest: &str) -> Result<Vec<String>> {
    let table: toml::Table = manifest.parse().context("parsing Cargo.toml")?;
    let mut out = Vec::new();
    let path_of = |t: &toml::Value| t.get("path").and_then(|p| p.as_str()).map(str::to_owned);
    if let Some(p) = table.get("lib").and_then(path_of) {
        out.push(p);
    }
    for bin in table
        .get("bin")
        .and_then(|b| b.as_array())
        .into_iter()
        .flatten()
    {
        out.extend(path_of(bin));
    }
    Ok(out)
}

/// A file's own directory, and the one its `mod x;` children live in: the same for a
/// crate root and `mod.rs`, `foo/` for `foo.rs`.
fn dirs_of(file: &str, is_root: bool) -> (String, String) {
    let (parent, name) = file.rsplit_once('/').unwrap_or(("", file));
    let module = if is_root || name == "mod.rs" {
        parent.to_owned()
    } else {
        join(parent, name.trim_end_matches(".rs"))
    };
    (parent.to_owned(), module)
}

fn join(dir: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for p in rel.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// A `mod x;` declaration found in a file.
#[derive(Debug)]
struct ModDecl {
    name: String,
    /// The inline modules it sits in (`mod a { mod b; }` → `["a"]`).
    inline: Vec<String>,
    path_attr: Option<String>,
    test: bool,
}

impl ModDecl {
    /// The directory the declaration's file is looked up in: a `#[path]` at a file's
    /// top level is relative to the file's own directory (`top`), anything else to its
    /// module directory and the inline modules around it.
    fn dir_for(&self, top: &str, module_dir: &str) -> String {
        if self.inline.is_empty() {
            return top.to_owned();
        }
        self.inline
            .iter()
            .fold(module_dir.to_owned(), |d, m| join(&d, m))
    }
}

/// One file's count.
#[derive(Debug)]
struct FileCount {
    /// The counted lines (1-based).
    counted: Vec<usize>,
    /// The file says `#![cfg(test)]`.
    test_only: bool,
    mods: Vec<ModDecl>,
}

/// Count the non-test code lines of one file's text and find its `mod x;` declarations.
fn count_file(text: &str) -> Result<FileCount> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // A shebang line is not Rust tokens (`#![` is an inner attribute, not a shebang).
    let body = match text.strip_prefix("#!") {
        // The line stays, empty, so that line numbers do not move.
        Some(rest) if !rest.trim_start().starts_with('[') => {
            text[text.find('\n').unwrap_or(text.len())..].to_owned()
        }
        _ => text.to_owned(),
    };
    let ast = syn::parse_file(&body)?;
    let mut mods = Vec::new();
    collect_mods(&ast.items, &[], false, &mut mods);
    if ast.attrs.iter().any(attr_is_test_only) {
        return Ok(FileCount {
            counted: Vec::new(),
            test_only: true,
            mods,
        });
    }
    let mut dropped = Dropped::default();
    dropped.visit_file(&ast);
    let lines: Vec<&str> = body.split('\n').collect();
    let mut code = vec![false; lines.len() + 2];
    let tokens = TokenStream::from_str(&body).map_err(|e| anyhow::anyhow!("{e}"))?;
    mark(tokens, &lines, &dropped.ranges, &mut code);
    let counted: Vec<usize> = code
        .iter()
        .enumerate()
        .filter(|(i, c)| {
            **c && lines
                .get(i.wrapping_sub(1))
                .is_some_and(|l| !l.trim().is_empty())
        })
        .map(|(i, _)| i)
        .collect();
    Ok(FileCount {
        counted,
        test_only: false,
        mods,
    })
}

/// Mark the lines (1-based) that hold a code token outside the dropped ranges.
fn mark(
    tokens: TokenStream,
    lines: &[&str],
    dropped: &[(LineColumn, LineColumn)],
    code: &mut [bool],
) {
    for tt in tokens {
        match tt {
            // A doc comment's `[doc = ".."]` group.
            TokenTree::Group(g) if is_comment(lines, g.span_open().start()) => {}
            TokenTree::Group(g) => {
                put(g.span_open().start(), g.span_open().end(), dropped, code);
                put(g.span_close().start(), g.span_close().end(), dropped, code);
                mark(g.stream(), lines, dropped, code);
            }
            // The comma after a dropped field, variant or arm goes with it.
            TokenTree::Punct(p)
                if p.as_char() == ',' && follows_dropped(lines, p.span().start(), dropped) => {}
            other => {
                let span = other.span();
                if !is_comment(lines, span.start()) {
                    put(span.start(), span.end(), dropped, code);
                }
            }
        }
    }
}

/// Mark the lines from `start` to `end` unless `start` is in a dropped range.
fn put(
    start: LineColumn,
    end: LineColumn,
    dropped: &[(LineColumn, LineColumn)],
    code: &mut [bool],
) {
    if dropped
        .iter()
        .any(|(s, e)| pos(*s) <= pos(start) && pos(start) < pos(*e))
    {
        return;
    }
    for l in start.line..=end.line.max(start.line) {
        if let Some(c) = code.get_mut(l) {
            *c = true;
        }
    }
}

/// Whether only blanks stand between the end of a dropped range and `at`, on one line.
fn follows_dropped(lines: &[&str], at: LineColumn, dropped: &[(LineColumn, LineColumn)]) -> bool {
    let Some(line) = at.line.checked_sub(1).and_then(|i| lines.get(i)) else {
        return false;
    };
    dropped.iter().any(|(_, e)| {
        e.line == at.line
            && e.column <= at.column
            && line
                .chars()
                .skip(e.column)
                .take(at.column - e.column)
                .all(char::is_whitespace)
    })
}

fn pos(p: LineColumn) -> (usize, usize) {
    (p.line, p.column)
}

/// Whether the source at `at` starts a comment: the lexer turns doc comments into
/// `#[doc = ".."]` tokens that carry the comment's position.
fn is_comment(lines: &[&str], at: LineColumn) -> bool {
    let Some(line) = at.line.checked_sub(1).and_then(|i| lines.get(i)) else {
        return false;
    };
    let rest: String = line.chars().skip(at.column).take(2).collect();
    rest == "//" || rest == "/*"
}

/// The `mod x;` declarations of `items`, descending into inline modules.
fn collect_mods(items: &[syn::Item], inline: &[String], test: bool, out: &mut Vec<ModDecl>) {
    for item in items {
        let syn::Item::Mod(m) = item else { continue };
        let test = test || m.attrs.iter().any(attr_is_test_only);
        let name = m.ident.to_string();
        match &m.content {
            Some((_, inner)) => {
                let mut inner_path = inline.to_vec();
                inner_path.push(name);
                collect_mods(inner, &inner_path, test, out);
            }
            None => out.push(ModDecl {
                name,
                inline: inline.to_vec(),
                path_attr: path_attr(&m.attrs),
                test,
            }),
        }
    }
}

fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| {
        let syn::Meta::NameValue(nv) = &a.meta else {
            return None;
        };
        if !nv.path.is_ident("path") {
            return None;
        }
        match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        }
    })
}

/// `#[cfg(test)]`, `#[cfg(all(.., test, ..))]`, `#[test]`, `#[tokio::test]`.
fn attr_is_test_only(attr: &syn::Attribute) -> bool {
    meta_is_test_only(&attr.meta)
}

fn meta_is_test_only(meta: &syn::Meta) -> bool {
    let path = meta.path();
    if path.is_ident("cfg") {
        let Ok(list) = meta.require_list() else {
            return false;
        };
        cfg_needs_test(&list.tokens)
    } else {
        matches!(meta, syn::Meta::Path(_))
            && path.segments.last().is_some_and(|s| s.ident == "test")
    }
}

/// Whether a cfg predicate holds only when `test` does: `test`, or `all(..)` with such a
/// predicate among its terms.
fn cfg_needs_test(tokens: &TokenStream) -> bool {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    match trees.as_slice() {
        [TokenTree::Ident(i)] => i == "test",
        [TokenTree::Ident(i), TokenTree::Group(g)] if i == "all" => g
            .stream()
            .into_iter()
            .collect::<Vec<_>>()
            .split(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ','))
            .any(|term| cfg_needs_test(&term.iter().cloned().collect())),
        _ => false,
    }
}

/// Whether `tokens` (a node printed back) start with outer attributes one of which is
/// test-only.
fn leading_attrs_test_only(tokens: TokenStream) -> bool {
    let mut it = tokens.into_iter().peekable();
    while let Some(TokenTree::Punct(p)) = it.peek() {
        if p.as_char() != '#' {
            return false;
        }
        it.next();
        let Some(TokenTree::Group(g)) = it.next() else {
            return false;
        };
        if syn::parse2::<syn::Meta>(g.stream()).is_ok_and(|m| meta_is_test_only(&m)) {
            return true;
        }
    }
    false
}

/// The source ranges of test-only nodes.
#[derive(Default)]
struct Dropped {
    ranges: Vec<(LineColumn, LineColumn)>,
}

impl Dropped {
    /// Record `node` when it is test-only; returns whether it was.
    fn drop_if_test(&mut self, node: &dyn ToTokens) -> bool {
        let tokens = node.to_token_stream();
        if !leading_attrs_test_only(tokens.clone()) {
            return false;
        }
        let mut range: Option<(LineColumn, LineColumn)> = None;
        extent(tokens, &mut range);
        if let Some(r) = range {
            self.ranges.push(r);
        }
        true
    }
}

/// The first start and last end of the tokens in `tokens`.
fn extent(tokens: TokenStream, range: &mut Option<(LineColumn, LineColumn)>) {
    let mut widen = |s: LineColumn, e: LineColumn| {
        *range = Some(match *range {
            None => (s, e),
            Some((a, b)) => (
                if pos(s) < pos(a) { s } else { a },
                if pos(e) > pos(b) { e } else { b },
            ),
        });
    };
    for tt in tokens {
        match tt {
            TokenTree::Group(g) => {
                widen(g.span_open().start(), g.span_close().end());
            }
            t => widen(t.span().start(), t.span().end()),
        }
    }
}

macro_rules! drop_or_descend {
    ($($method:ident($ty:ty) => $walk:path;)*) => {
        $(
            fn $method(&mut self, node: &'ast $ty) {
                if !self.drop_if_test(node) {
                    $walk(self, node);
                }
            }
        )*
    };
}

impl<'ast> Visit<'ast> for Dropped {
    drop_or_descend! {
        visit_item(syn::Item) => syn::visit::visit_item;
        visit_impl_item(syn::ImplItem) => syn::visit::visit_impl_item;
        visit_trait_item(syn::TraitItem) => syn::visit::visit_trait_item;
        visit_foreign_item(syn::ForeignItem) => syn::visit::visit_foreign_item;
        visit_field(syn::Field) => syn::visit::visit_field;
        visit_variant(syn::Variant) => syn::visit::visit_variant;
        visit_arm(syn::Arm) => syn::visit::visit_arm;
        visit_field_value(syn::FieldValue) => syn::visit::visit_field_value;
        visit_stmt(syn::Stmt) => syn::visit::visit_stmt;
    }

    fn visit_item_mod(&mut self, node: &'ast syn::ItemMod) {
        // `mod x { #![cfg(test)] .. }`: an inner attribute is not printed in front.
        if node.attrs.iter().any(attr_is_test_only) {
            let mut range = None;
            extent(node.to_token_stream(), &mut range);
            self.ranges.extend(range);
        } else {
            syn::visit::visit_item_mod(self, node);
        }
    }
}

/// `cargo xtask loc`: print each crate's count (and the files with `per_file`), then the
/// total.
pub fn run(root: &Path, rev: Option<&str>, dirs: &[String], per_file: bool) -> Result<()> {
    let source = match rev {
        Some(rev) => Source::at_rev(root, rev)?,
        None => Source::WorkTree(root.to_path_buf()),
    };
    let dirs: Vec<String> = if dirs.is_empty() {
        default_crates(&source)
    } else {
        dirs.iter()
            .map(|d| d.trim_end_matches('/').trim_start_matches("./").to_owned())
            .collect()
    };
    let mut total = 0;
    for dir in &dirs {
        let count = count_crate(&source, dir)?;
        if per_file {
            for (f, n) in &count.files {
                println!("{n:>7}  {f}");
            }
        }
        println!("{:>7}  {dir} ({} files)", count.total(), count.files.len());
        for f in &count.not_reached {
            println!("         not reached from a crate root, not counted: {f}");
        }
        total += count.total();
    }
    println!(
        "{total:>7}  total{}",
        rev.map(|r| format!(" at {r}")).unwrap_or_default()
    );
    Ok(())
}

/// Every `crates/*` directory with a `src`.
fn default_crates(source: &Source) -> Vec<String> {
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    for f in source.rust_files_under("crates") {
        let mut parts = f.splitn(4, '/');
        if let (Some(c), Some(name), Some("src")) = (parts.next(), parts.next(), parts.next()) {
            dirs.insert(format!("{c}/{name}"));
        }
    }
    dirs.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crate_of(files: &[(&str, &str)]) -> Source {
        Source::Map(
            files
                .iter()
                .map(|(p, t)| (format!("c/{p}"), (*t).to_owned()))
                .collect(),
        )
    }

    /// The counted lines (1-based) of `text`.
    fn lines(text: &str) -> Vec<usize> {
        count_file(text).map(|c| c.counted).unwrap_or_default()
    }

    #[test]
    fn comments_blank_lines_and_doc_comments_do_not_count() {
        let text = "//! Crate docs.\n\n/// A doc.\n/** block doc */\n/* a\n   block */\npub fn f() -> u8 { // trailing\n    1 /* inline */\n}\n\n#[doc = \"written\"]\npub struct S;\n";
        // `pub fn f`, `1`, `}`, `#[doc = ..]`, `pub struct S;`
        assert_eq!(lines(text), [7, 8, 9, 11, 12]);
    }

    #[test]
    fn a_string_across_lines_counts_its_non_blank_lines() {
        let text = "const S: &str = \"a\n\n// not a comment\nb\";\n";
        assert_eq!(lines(text), [1, 3, 4]);
    }

    #[test]
    fn test_only_code_is_dropped_at_every_level() {
        let text = r#"pub struct A {
    pub x: u8,
    #[cfg(test)]
    pub probe: u8,
}

impl A {
    pub fn new() -> Self {
        #[cfg(test)]
        let _probe = 1;
        Self { x: 1 }
    }

    #[cfg(all(test, feature = "slow"))]
    fn only_in_tests() {
        let _ = 1;
    }
}

#[cfg(any(test, feature = "testkit"))]
pub fn kit() {}

#[cfg(not(test))]
pub fn real() {}

#[test]
fn loose_test() {}

#[cfg(test)] fn one_line() {}

#[cfg(test)]
mod tests {
    #[test]
    fn t() {
        assert!(true);
    }
}
"#;
        // A { x }, impl A { new { Self } } (the probe's `let` dropped), kit, real.
        assert_eq!(lines(text), [1, 2, 5, 7, 8, 11, 12, 18, 20, 21, 23, 24]);
    }

    #[test]
    fn cfg_predicates_that_need_test() {
        let needs = |s: &str| cfg_needs_test(&TokenStream::from_str(s).unwrap_or_default());
        assert!(needs("test"));
        assert!(needs("all(test, feature = \"x\")"));
        assert!(needs("all(unix, all(test, windows))"));
        assert!(!needs("any(test, feature = \"x\")"));
        assert!(!needs("not(test)"));
        assert!(!needs("feature = \"test\""));
        assert!(!needs("testing"));
    }

    #[test]
    fn files_reached_only_through_test_modules_are_not_counted() {
        let source = crate_of(&[
            (
                "src/lib.rs",
                "pub mod a;\n#[cfg(test)]\nmod tests;\nmod inline {\n    mod deep;\n}\n",
            ),
            (
                "src/a.rs",
                "pub mod b;\n#[cfg(test)] mod a_tests;\npub fn a() {}\n",
            ),
            (
                "src/a/b.rs",
                "#[path = \"../other.rs\"]\nmod other;\npub fn b() {}\n",
            ),
            ("src/other.rs", "pub fn o() {}\n"),
            ("src/inline/deep.rs", "pub fn d() {}\n"),
            ("src/tests.rs", "#[test]\nfn t() {}\nfn helper() {}\n"),
            ("src/a/a_tests.rs", "mod nested_test_helper;\nfn x() {}\n"),
            ("src/a/a_tests/nested_test_helper.rs", "fn y() {}\n"),
            ("src/orphan.rs", "pub fn nobody_declares_me() {}\n"),
            ("src/bin/tool.rs", "mod util;\nfn main() {}\n"),
            ("src/bin/util.rs", "pub fn u() {}\n"),
        ]);
        let count = count_crate(&source, "c").unwrap_or_default();
        let files: Vec<(&str, usize)> = count.files.iter().map(|(f, n)| (f.as_str(), *n)).collect();
        assert_eq!(
            files,
            [
                ("c/src/a.rs", 2),
                ("c/src/a/b.rs", 3),
                ("c/src/bin/tool.rs", 2),
                ("c/src/bin/util.rs", 1),
                ("c/src/inline/deep.rs", 1),
                ("c/src/lib.rs", 4),
                ("c/src/other.rs", 1),
            ]
        );
        assert_eq!(count.total(), 14);
        assert_eq!(count.not_reached, ["c/src/orphan.rs"]);
    }

    #[test]
    fn a_missing_library_module_is_an_error_and_a_missing_test_module_is_not() {
        let missing = crate_of(&[("src/lib.rs", "mod gone;\n")]);
        assert!(count_crate(&missing, "c").is_err());
        let test_only = crate_of(&[("src/lib.rs", "#[cfg(test)]\nmod gone;\npub fn f() {}\n")]);
        assert_eq!(
            count_crate(&test_only, "c").map(|c| c.total()).ok(),
            Some(1)
        );
        assert!(count_crate(&crate_of(&[("README.md", "")]), "c").is_err());
    }

    #[test]
    fn a_file_marked_test_only_inside_is_dropped_with_its_modules() {
        let source = crate_of(&[
            ("src/lib.rs", "mod support;\npub fn f() {}\n"),
            ("src/support.rs", "#![cfg(test)]\nmod more;\nfn s() {}\n"),
            ("src/support/more.rs", "fn m() {}\n"),
        ]);
        let count = count_crate(&source, "c").unwrap_or_default();
        assert_eq!(count.total(), 2);
        assert!(count.not_reached.is_empty(), "{:?}", count.not_reached);
    }

    #[test]
    fn rev_reads_the_commit_not_the_work_tree() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let git = |args: &[&str]| -> Result<()> {
            let ok = Command::new("git")
                .current_dir(dir.path())
                .args([
                    "-c",
                    "user.name=t",
                    "-c",
                    "user.email=t@t",
                    "-c",
                    "commit.gpgsign=false",
                ])
                .args(args)
                .output()?
                .status
                .success();
            if !ok {
                bail!("git {args:?} failed");
            }
            Ok(())
        };
        git(&["init", "-q"])?;
        std::fs::create_dir_all(dir.path().join("crates/k/src"))?;
        std::fs::write(dir.path().join("crates/k/src/lib.rs"), "pub fn a() {}\n")?;
        git(&["add", "."])?;
        git(&["commit", "-q", "-m", "one"])?;
        std::fs::write(
            dir.path().join("crates/k/src/lib.rs"),
            "pub fn a() {}\npub fn b() {}\n",
        )?;
        let at_head = count_crate(&Source::at_rev(dir.path(), "HEAD")?, "crates/k")?;
        let work = count_crate(&Source::WorkTree(dir.path().to_path_buf()), "crates/k")?;
        assert_eq!((at_head.total(), work.total()), (1, 2));
        assert_eq!(
            default_crates(&Source::at_rev(dir.path(), "HEAD")?),
            ["crates/k"]
        );
        assert!(Source::at_rev(dir.path(), "no-such-rev").is_err());
        Ok(())
    }
}
