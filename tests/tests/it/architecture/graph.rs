//! Import edges between the modules of a crate, read from the syntax tree: every path
//! that starts at `crate::`, `self::`, `super::`, a child module or an imported name, in
//! `use` items (groups, renames, globs, `pub use`) and anywhere in the code (types,
//! expressions, patterns, attributes, macro arguments), test modules included.
//! Re-exports are followed to the module that defines the item, so `crate::Client`
//! is an edge to `client` when the root says `pub use client::Client`.
//!
//! Layers are checked between siblings: a reference from `a::x::y` to `a::z::w` is an
//! edge `x -> z` among the children of `a` (a module using its parent or its own
//! children is containment, not a layer). Any cycle among siblings fails.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

use super::source::{Crate, ModPath};

/// What one module declares and uses.
#[derive(Default)]
struct Module {
    children: BTreeSet<String>,
    /// Items defined here (functions, types, consts, macros…).
    items: BTreeSet<String>,
    /// `use` bindings: local name -> the path as written.
    imports: BTreeMap<String, Vec<String>>,
    /// `use x::*` sources, as written.
    globs: Vec<Vec<String>>,
    /// Every path this module's code names (first segment resolvable or not).
    refs: Vec<Vec<String>>,
}

/// An edge among the children of `parent`, with the reference that makes it.
#[derive(Debug, Clone)]
pub struct Edge {
    pub parent: ModPath,
    pub from: String,
    pub to: String,
    pub evidence: String,
}

/// The modules of a crate and what they name.
pub struct Index {
    modules: BTreeMap<ModPath, Module>,
}

impl Index {
    pub fn of(krate: &Crate) -> Index {
        let mut modules: BTreeMap<ModPath, Module> = BTreeMap::new();
        modules.entry(Vec::new()).or_default();
        for file in &krate.files {
            let mut collector = Collector {
                modules: &mut modules,
                stack: vec![file.module.clone()],
            };
            collector.modules.entry(file.module.clone()).or_default();
            collector.visit_file(&file.ast);
        }
        Index { modules }
    }

    fn module(&self, path: &[String]) -> Option<&Module> {
        self.modules.get(path)
    }

    /// The module a path written in `from` lands in (the deepest module it reaches,
    /// following `use` re-exports), or `None` when it starts outside the crate.
    pub fn resolve(&self, from: &[String], path: &[String]) -> Option<ModPath> {
        self.resolve_depth(from, path, 0)
    }

    fn resolve_depth(&self, from: &[String], path: &[String], depth: u32) -> Option<ModPath> {
        if depth > 24 || path.is_empty() {
            return None;
        }
        let first = path[0].as_str();
        let (start, rest): (ModPath, &[String]) = match first {
            "crate" | "$crate" => (Vec::new(), &path[1..]),
            "self" => (from.to_vec(), &path[1..]),
            "super" => {
                let mut at = from.to_vec();
                let mut i = 0;
                while path.get(i).is_some_and(|s| s == "super") {
                    at.pop()?;
                    i += 1;
                }
                (at, &path[i..])
            }
            _ => {
                let here = self.module(from)?;
                if here.children.contains(first) {
                    let mut at = from.to_vec();
                    at.push(first.to_owned());
                    (at, &path[1..])
                } else if let Some(target) = here.imports.get(first) {
                    let at = self.resolve_depth(from, target, depth + 1)?;
                    (at, &path[1..])
                } else if let Some(at) = self.through_globs(from, first, depth) {
                    (at, &path[1..])
                } else {
                    return None;
                }
            }
        };
        self.walk(start, rest, depth)
    }

    /// Where `name` seen through `from`'s glob imports lives.
    fn through_globs(&self, from: &[String], name: &str, depth: u32) -> Option<ModPath> {
        let here = self.module(from)?;
        for glob in &here.globs {
            let Some(src) = self.resolve_depth(from, glob, depth + 1) else {
                continue;
            };
            let Some(m) = self.module(&src) else { continue };
            if m.children.contains(name) {
                let mut at = src.clone();
                at.push(name.to_owned());
                return Some(at);
            }
            if let Some(target) = m.imports.get(name) {
                return self.resolve_depth(&src, target, depth + 1);
            }
            if m.items.contains(name) {
                return Some(src);
            }
        }
        None
    }

    fn walk(&self, mut at: ModPath, rest: &[String], depth: u32) -> Option<ModPath> {
        for (i, seg) in rest.iter().enumerate() {
            let Some(m) = self.module(&at) else { break };
            if seg == "super" {
                at.pop()?;
            } else if m.children.contains(seg) {
                at.push(seg.clone());
            } else if let Some(target) = m.imports.get(seg) {
                let next = self.resolve_depth(&at, target, depth + 1)?;
                return self.walk(next, &rest[i + 1..], depth + 1);
            } else if m.items.contains(seg) {
                break;
            } else if let Some(next) = self.through_globs(&at, seg, depth) {
                at = next;
            } else {
                break;
            }
        }
        Some(at)
    }

    /// Every edge between siblings, with its evidence.
    pub fn edges(&self) -> Vec<Edge> {
        let mut out = Vec::new();
        for (from, module) in &self.modules {
            for r in &module.refs {
                let Some(to) = self.resolve(from, r) else {
                    continue;
                };
                let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
                if common < from.len() && common < to.len() {
                    out.push(Edge {
                        parent: from[..common].to_vec(),
                        from: from[common].clone(),
                        to: to[common].clone(),
                        evidence: format!("{} names {}", show(from), r.join("::")),
                    });
                }
            }
        }
        out
    }
}

fn show(m: &[String]) -> String {
    if m.is_empty() {
        "crate".to_owned()
    } else {
        m.join("::")
    }
}

/// One cycle among the children of each module that has one, as
/// `parent: a -> b -> a (evidence…)`.
pub fn cycles(index: &Index) -> Vec<String> {
    let mut by_parent: BTreeMap<ModPath, BTreeMap<String, BTreeMap<String, String>>> =
        BTreeMap::new();
    for e in index.edges() {
        by_parent
            .entry(e.parent)
            .or_default()
            .entry(e.from)
            .or_default()
            .entry(e.to)
            .or_insert(e.evidence);
    }
    let mut out = Vec::new();
    for (parent, graph) in by_parent {
        let simple: BTreeMap<String, BTreeSet<String>> = graph
            .iter()
            .map(|(k, v)| (k.clone(), v.keys().cloned().collect()))
            .collect();
        if let Some(cycle) = find_cycle(&simple) {
            let why: Vec<String> = cycle
                .windows(2)
                .map(|w| graph[&w[0]][&w[1]].clone())
                .collect();
            out.push(format!(
                "under {}: {} ({})",
                show(&parent),
                cycle.join(" -> "),
                why.join("; ")
            ));
        }
    }
    out
}

/// A cycle in `graph`, if any, as the list of nodes along it.
pub fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_owned(), 1);
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next.as_str()) {
                Some(1) => {
                    let start = stack.iter().position(|n| n == next).unwrap_or(0);
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(next, graph, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if !state.contains_key(node.as_str()) {
            let mut stack = Vec::new();
            if let Some(c) = visit(node, graph, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

struct Collector<'a> {
    modules: &'a mut BTreeMap<ModPath, Module>,
    stack: Vec<ModPath>,
}

impl Collector<'_> {
    fn current(&mut self) -> &mut Module {
        let at = self.stack.last().cloned().unwrap_or_default();
        self.modules.entry(at).or_default()
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let name = n.ident.to_string();
                let mut path = prefix.clone();
                if name != "self" {
                    path.push(name.clone());
                }
                let bound = if name == "self" {
                    prefix.last().cloned().unwrap_or_default()
                } else {
                    name
                };
                let m = self.current();
                m.refs.push(path.clone());
                m.imports.insert(bound, path);
            }
            syn::UseTree::Rename(r) => {
                let mut path = prefix.clone();
                if r.ident != "self" {
                    path.push(r.ident.to_string());
                }
                let m = self.current();
                m.refs.push(path.clone());
                m.imports.insert(r.rename.to_string(), path);
            }
            syn::UseTree::Glob(_) => {
                let path = prefix.clone();
                let m = self.current();
                m.refs.push(path.clone());
                m.globs.push(path);
            }
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }

    fn item_name(&mut self, ident: &syn::Ident) {
        self.current().items.insert(ident.to_string());
    }
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        let name = m.ident.to_string();
        self.current().children.insert(name.clone());
        let mut child = self.stack.last().cloned().unwrap_or_default();
        child.push(name);
        self.modules.entry(child.clone()).or_default();
        if m.content.is_some() {
            self.stack.push(child);
            syn::visit::visit_item_mod(self, m);
            self.stack.pop();
        } else {
            for a in &m.attrs {
                self.visit_attribute(a);
            }
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let mut prefix = Vec::new();
        if u.leading_colon.is_some() {
            // `use ::x`: an external crate.
            return;
        }
        self.use_tree(&mut prefix, &u.tree);
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        if p.leading_colon.is_none() && p.segments.len() > 1 {
            let segs = p.segments.iter().map(|s| s.ident.to_string()).collect();
            self.current().refs.push(segs);
        }
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        let mut found = Vec::new();
        token_paths(m.tokens.clone(), &mut found);
        self.current().refs.extend(found);
        syn::visit::visit_macro(self, m);
    }

    fn visit_item_fn(&mut self, i: &'ast syn::ItemFn) {
        self.item_name(&i.sig.ident);
        syn::visit::visit_item_fn(self, i);
    }
    fn visit_item_struct(&mut self, i: &'ast syn::ItemStruct) {
        self.item_name(&i.ident);
        syn::visit::visit_item_struct(self, i);
    }
    fn visit_item_enum(&mut self, i: &'ast syn::ItemEnum) {
        self.item_name(&i.ident);
        syn::visit::visit_item_enum(self, i);
    }
    fn visit_item_const(&mut self, i: &'ast syn::ItemConst) {
        self.item_name(&i.ident);
        syn::visit::visit_item_const(self, i);
    }
    fn visit_item_static(&mut self, i: &'ast syn::ItemStatic) {
        self.item_name(&i.ident);
        syn::visit::visit_item_static(self, i);
    }
    fn visit_item_trait(&mut self, i: &'ast syn::ItemTrait) {
        self.item_name(&i.ident);
        syn::visit::visit_item_trait(self, i);
    }
    fn visit_item_type(&mut self, i: &'ast syn::ItemType) {
        self.item_name(&i.ident);
        syn::visit::visit_item_type(self, i);
    }
    fn visit_item_union(&mut self, i: &'ast syn::ItemUnion) {
        self.item_name(&i.ident);
        syn::visit::visit_item_union(self, i);
    }
    fn visit_item_macro(&mut self, i: &'ast syn::ItemMacro) {
        if let Some(ident) = &i.ident {
            self.item_name(ident);
        }
        syn::visit::visit_item_macro(self, i);
    }
}

/// Paths of two or more segments inside macro tokens (`a::b`, `$crate::x::y`).
pub fn token_paths(tokens: TokenStream, out: &mut Vec<Vec<String>>) {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut i = 0;
    while i < trees.len() {
        match &trees[i] {
            TokenTree::Group(g) => {
                token_paths(g.stream(), out);
                i += 1;
            }
            TokenTree::Ident(first) => {
                let dollar =
                    i > 0 && matches!(&trees[i - 1], TokenTree::Punct(p) if p.as_char() == '$');
                let leading = i >= 2
                    && matches!(&trees[i - 1], TokenTree::Punct(p) if p.as_char() == ':')
                    && matches!(&trees[i - 2], TokenTree::Punct(p) if p.as_char() == ':');
                let mut segs = vec![if dollar && first == "crate" {
                    "$crate".to_owned()
                } else {
                    first.to_string()
                }];
                let mut j = i + 1;
                while j + 2 < trees.len()
                    && matches!(&trees[j], TokenTree::Punct(p) if p.as_char() == ':')
                    && matches!(&trees[j + 1], TokenTree::Punct(p) if p.as_char() == ':')
                {
                    match &trees[j + 2] {
                        TokenTree::Ident(next) => {
                            segs.push(next.to_string());
                            j += 3;
                        }
                        _ => break,
                    }
                }
                if segs.len() > 1 && !leading {
                    out.push(segs);
                }
                i = j.max(i + 1);
            }
            _ => i += 1,
        }
    }
}
