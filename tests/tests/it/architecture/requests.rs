//! "No hand-built request": outside the generated client no code spells an API path
//! or builds an HTTP request itself. Read from the syntax tree of non-test code (an
//! item after a one-line `#[cfg(test)] mod x;` is checked like any other).
//!
//! What counts:
//! - a string literal (also inside macros: `format!`, `concat!` pieces and their
//!   concatenation) that spells a spec path: `/image…` after the start of the
//!   literal, a `{…}` placeholder or `/api/v1`, for any first segment of the spec's
//!   paths; or a spec path without its leading slash (`"image/generate"`, as given to
//!   `Url::join`);
//! - a request built or sent by hand: `.request(..)`, `.post(..)`, `.put(..)`,
//!   `.delete(..)`, `.patch(..)`, `.execute(..)`, `.get(..)`/`.head(..)` on something
//!   named like an HTTP client (`http`, `client`, `Client::new()`), `Request::new`,
//!   `reqwest::get`, `Method::GET`…, `path_segments_mut()`, `set_path(..)`.

use std::collections::BTreeSet;

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::visit::Visit;

use super::source::{SourceFile, is_test_only};

/// The spec's paths, for the literal rule.
pub struct SpecPaths {
    /// First segments (`image`, `models`, `x402`…).
    pub prefixes: BTreeSet<String>,
    /// Full paths without the leading slash (`image/generate`…).
    pub paths: BTreeSet<String>,
}

impl SpecPaths {
    pub fn from_spec(spec: &serde_json::Value) -> SpecPaths {
        let keys: Vec<String> = spec["paths"]
            .as_object()
            .expect("paths")
            .keys()
            .cloned()
            .collect();
        SpecPaths {
            prefixes: keys
                .iter()
                .filter_map(|p| {
                    p.trim_start_matches('/')
                        .split('/')
                        .next()
                        .map(str::to_owned)
                })
                .collect(),
            paths: keys
                .iter()
                .map(|p| p.trim_start_matches('/').to_owned())
                .collect(),
        }
    }

    /// Whether the literal `s` spells an API path.
    pub fn spells_path(&self, s: &str) -> bool {
        let mut starts = vec![s];
        if s.starts_with('{')
            && let Some(end) = s.find('}')
        {
            starts.push(&s[end + 1..]);
        }
        for (at, _) in s.match_indices("/api/v1") {
            starts.push(&s[at + "/api/v1".len()..]);
        }
        for rest in starts {
            if let Some(path) = rest.strip_prefix('/') {
                let first: String = path
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
                    .collect();
                let after = path[first.len()..].chars().next();
                if self.prefixes.contains(&first) && matches!(after, None | Some('/' | '?' | '{')) {
                    return true;
                }
            }
        }
        // Without its leading slash: the start of a spec path, whole segments.
        let bare = s.split('?').next().unwrap_or(s).trim_end_matches('/');
        bare.contains('/')
            && self
                .paths
                .iter()
                .any(|p| p == bare || p.starts_with(&format!("{bare}/")))
    }
}

/// One finding: the file, the function it is in, what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub file: String,
    pub function: String,
    pub what: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: in `{}`: {}", self.file, self.function, self.what)
    }
}

/// The findings in one file (nothing when the whole file is test code).
pub fn check_file(file: &SourceFile, spec: &SpecPaths) -> Vec<Finding> {
    if file.test {
        return Vec::new();
    }
    let mut v = Checker {
        spec,
        file: &file.rel,
        function: vec!["(module)".to_owned()],
        found: Vec::new(),
    };
    v.visit_file(&file.ast);
    v.found
}

struct Checker<'a> {
    spec: &'a SpecPaths,
    file: &'a str,
    function: Vec<String>,
    found: Vec<Finding>,
}

const SENDING_METHODS: &[&str] = &[
    "request",
    "post",
    "put",
    "delete",
    "patch",
    "execute",
    "path_segments_mut",
    "set_path",
];

const METHOD_CONSTS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

impl Checker<'_> {
    fn report(&mut self, what: String) {
        self.found.push(Finding {
            file: self.file.to_owned(),
            function: self.function.last().cloned().unwrap_or_default(),
            what,
        });
    }

    fn literal(&mut self, s: &str) {
        if self.spec.spells_path(s) {
            self.report(format!("API path in a literal: {s:?}"));
        }
    }

    fn tokens(&mut self, tokens: TokenStream) {
        for tree in tokens {
            match tree {
                TokenTree::Group(g) => self.tokens(g.stream()),
                TokenTree::Literal(l) => {
                    if let Ok(syn::Lit::Str(s)) = syn::parse2::<syn::Lit>(l.into_token_stream()) {
                        self.literal(&s.value());
                    }
                }
                _ => {}
            }
        }
    }
}

/// Whether `e` looks like an HTTP client: its last name says so.
fn looks_like_client(e: &syn::Expr) -> bool {
    let name = match e {
        syn::Expr::Field(f) => match &f.member {
            syn::Member::Named(n) => n.to_string(),
            syn::Member::Unnamed(_) => String::new(),
        },
        syn::Expr::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        syn::Expr::MethodCall(m) => m.method.to_string(),
        syn::Expr::Call(c) => c.func.to_token_stream().to_string(),
        syn::Expr::Reference(r) => return looks_like_client(&r.expr),
        syn::Expr::Paren(p) => return looks_like_client(&p.expr),
        _ => String::new(),
    }
    .to_lowercase();
    name.contains("client") || name.contains("http")
}

impl<'ast> Visit<'ast> for Checker<'_> {
    fn visit_item(&mut self, i: &'ast syn::Item) {
        let attrs: &[syn::Attribute] = match i {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(x) => &x.attrs,
            syn::Item::Const(x) => &x.attrs,
            syn::Item::Static(x) => &x.attrs,
            syn::Item::Use(x) => &x.attrs,
            syn::Item::Macro(x) => &x.attrs,
            syn::Item::Struct(x) => &x.attrs,
            syn::Item::Enum(x) => &x.attrs,
            syn::Item::Trait(x) => &x.attrs,
            _ => &[],
        };
        if is_test_only(attrs) {
            return;
        }
        syn::visit::visit_item(self, i);
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.function.push(f.sig.ident.to_string());
        syn::visit::visit_item_fn(self, f);
        self.function.pop();
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if is_test_only(&f.attrs) {
            return;
        }
        self.function.push(f.sig.ident.to_string());
        syn::visit::visit_impl_item_fn(self, f);
        self.function.pop();
    }

    // Doc comments and attributes may name paths; code may not.
    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}

    fn visit_lit_str(&mut self, s: &'ast syn::LitStr) {
        self.literal(&s.value());
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.tokens(m.tokens.clone());
        if m.path.is_ident("concat") {
            let mut whole = String::new();
            for tree in m.tokens.clone() {
                if let Ok(syn::Lit::Str(s)) = syn::parse2::<syn::Lit>(tree.into_token_stream()) {
                    whole.push_str(&s.value());
                }
            }
            if self.spec.spells_path(&whole) {
                self.report(format!("API path built by concat!: {whole:?}"));
            }
        }
        // Calls inside macro arguments (`drop(c.post(u))` in `assert!`…) are checked too.
        if let Ok(args) = m.parse_body_with(
            syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated,
        ) {
            for e in &args {
                let mut inner = Checker {
                    spec: self.spec,
                    file: self.file,
                    function: self.function.clone(),
                    found: Vec::new(),
                };
                inner.visit_expr(e);
                // Literals were seen in the tokens already.
                self.found.extend(
                    inner
                        .found
                        .into_iter()
                        .filter(|f| !f.what.starts_with("API path in a literal")),
                );
            }
        }
        syn::visit::visit_macro(self, m);
    }

    fn visit_expr_method_call(&mut self, c: &'ast syn::ExprMethodCall) {
        let method = c.method.to_string();
        if SENDING_METHODS.contains(&method.as_str())
            || (matches!(method.as_str(), "get" | "head") && looks_like_client(&c.receiver))
        {
            self.report(format!("hand-built request: .{method}(..)"));
        }
        syn::visit::visit_expr_method_call(self, c);
    }

    fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
        if let syn::Expr::Path(p) = &*c.func {
            let segs: Vec<String> = p
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            let tail: Vec<&str> = segs.iter().rev().take(2).map(String::as_str).collect();
            if tail == ["new", "Request"] || tail == ["from_parts", "RequestBuilder"] {
                self.report(format!("hand-built request: {}(..)", segs.join("::")));
            }
            if tail == ["get", "reqwest"] {
                self.report("hand-built request: reqwest::get(..)".to_owned());
            }
        }
        syn::visit::visit_expr_call(self, c);
    }

    fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
        let segs: Vec<String> = p
            .path
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect();
        if segs.len() >= 2
            && segs[segs.len() - 2] == "Method"
            && METHOD_CONSTS.contains(&segs[segs.len() - 1].as_str())
        {
            self.report(format!("hand-built request: {}", segs.join("::")));
        }
        syn::visit::visit_expr_path(self, p);
    }
}
