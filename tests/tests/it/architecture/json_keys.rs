//! "The spec's vocabulary lives in the generated code": a camelCase field name of the
//! spec's schemas (read from the spec as data) written as a string literal in a JSON-key
//! position (`v["x"]`, `.get("x")`, `json!({"x": ..})`) outside generated code re-reads
//! by hand what the generated types already decode. Non-test code only.

use std::collections::BTreeSet;

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use quote::ToTokens;
use syn::visit::Visit;

use super::requests::Finding;
use super::source::{SourceFile, is_test_only};

/// Every camelCase property name of every schema in the spec (`currentBalanceUsd`…).
pub fn camel_fields(spec: &serde_json::Value) -> BTreeSet<String> {
    fn walk(v: &serde_json::Value, out: &mut BTreeSet<String>) {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::Object(props)) = map.get("properties") {
                    out.extend(props.keys().filter(|k| is_camel(k)).cloned());
                }
                map.values().for_each(|x| walk(x, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(spec, &mut out);
    out
}

fn is_camel(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && s.chars().any(|c| c.is_ascii_uppercase())
        && s.chars().all(|c| c.is_ascii_alphanumeric())
}

const KEY_METHODS: &[&str] = &["get", "get_mut", "remove", "contains_key", "entry"];

pub fn check_file(file: &SourceFile, fields: &BTreeSet<String>) -> Vec<Finding> {
    if file.test {
        return Vec::new();
    }
    let mut v = Keys {
        fields,
        file: &file.rel,
        function: vec!["(module)".to_owned()],
        found: Vec::new(),
    };
    v.visit_file(&file.ast);
    v.found
}

struct Keys<'a> {
    fields: &'a BTreeSet<String>,
    file: &'a str,
    function: Vec<String>,
    found: Vec<Finding>,
}

fn lit_str(e: &syn::Expr) -> Option<String> {
    match e {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Some(s.value()),
        syn::Expr::Reference(r) => lit_str(&r.expr),
        _ => None,
    }
}

fn token_str(t: &TokenTree) -> Option<String> {
    match syn::parse2::<syn::Lit>(t.clone().into_token_stream()) {
        Ok(syn::Lit::Str(s)) => Some(s.value()),
        _ => None,
    }
}

impl Keys<'_> {
    fn hit(&mut self, key: &str, how: &str) {
        if self.fields.contains(key) {
            self.found.push(Finding {
                file: self.file.to_owned(),
                function: self.function.last().cloned().unwrap_or_default(),
                what: format!("{how} {key:?}"),
            });
        }
    }

    /// In macro tokens: `"k":` (a `json!` object key), `["k"]` and `get("k")`.
    fn tokens(&mut self, tokens: TokenStream, json: bool) {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        for (i, t) in trees.iter().enumerate() {
            match t {
                TokenTree::Group(g) => {
                    let inner: Vec<TokenTree> = g.stream().into_iter().collect();
                    if g.delimiter() == Delimiter::Bracket
                        && inner.len() == 1
                        && i > 0
                        && let Some(k) = token_str(&inner[0])
                    {
                        self.hit(&k, "index");
                    }
                    if g.delimiter() == Delimiter::Parenthesis
                        && i > 1
                        && matches!(&trees[i - 1], TokenTree::Ident(m) if KEY_METHODS.contains(&m.to_string().as_str()))
                        && matches!(&trees[i - 2], TokenTree::Punct(p) if p.as_char() == '.')
                        && let Some(k) = inner.first().and_then(token_str)
                    {
                        self.hit(&k, "lookup");
                    }
                    self.tokens(g.stream(), json);
                }
                TokenTree::Literal(_) if json => {
                    if matches!(trees.get(i + 1), Some(TokenTree::Punct(p)) if p.as_char() == ':')
                        && let Some(k) = token_str(t)
                    {
                        self.hit(&k, "json! key");
                    }
                }
                _ => {}
            }
        }
    }
}

impl<'ast> Visit<'ast> for Keys<'_> {
    fn visit_item(&mut self, i: &'ast syn::Item) {
        let attrs: &[syn::Attribute] = match i {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(x) => &x.attrs,
            syn::Item::Const(x) => &x.attrs,
            _ => &[],
        };
        if !is_test_only(attrs) {
            syn::visit::visit_item(self, i);
        }
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

    fn visit_expr_index(&mut self, e: &'ast syn::ExprIndex) {
        if let Some(k) = lit_str(&e.index) {
            self.hit(&k, "index");
        }
        syn::visit::visit_expr_index(self, e);
    }

    fn visit_expr_method_call(&mut self, c: &'ast syn::ExprMethodCall) {
        if KEY_METHODS.contains(&c.method.to_string().as_str())
            && let Some(k) = c.args.first().and_then(lit_str)
        {
            self.hit(&k, "lookup");
        }
        syn::visit::visit_expr_method_call(self, c);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        let json = m.path.segments.last().is_some_and(|s| s.ident == "json");
        self.tokens(m.tokens.clone(), json);
        syn::visit::visit_macro(self, m);
    }
}
