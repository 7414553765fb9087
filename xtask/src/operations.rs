//! The operations table appended to the generated client: each operation's method,
//! path, security and the file fields of its `multipart/form-data` body.
//!
//! progenitor ignores `securitySchemes` and `security`, so without this table the hooks
//! would have to guess (or hard-code) which credentials an operation takes: a wallet
//! would sign a `SIGN-IN-WITH-X` header (burning a nonce) for `GET /models`, which only
//! accepts anonymous or Bearer access. Method and path are there so that code which
//! shows a request (a dry run, a log line) names it from the spec too. progenitor
//! generates one request media type (JSON); the form's file fields are here so that the
//! client's one multipart seam (`venice_openapi::Uploads::multipart`) sends a form only
//! to an operation whose spec takes one, with files only in the fields its `encoding`
//! names. The table is generated like the rest of the client, so a spec change reaches
//! it by regeneration.

use anyhow::{Result, bail};
use openapiv3::OpenAPI;

/// Scheme names of our spec and the variant of `venice_openapi::Scheme` each maps to.
const SCHEMES: &[(&str, &str)] = &[("BearerAuth", "Bearer"), ("siwx", "Siwx")];

/// One operation's credentials: whether it may go out anonymously, and the schemes it
/// accepts (each requirement of our spec names at most one scheme).
struct Entry {
    operation_id: String,
    method: String,
    path: String,
    anonymous: bool,
    schemes: Vec<&'static str>,
    /// Fields of the `multipart/form-data` body that carry files (its `encoding`
    /// entries with a `contentType`), sorted; empty when it takes no form.
    form_files: Vec<String>,
}

/// The file fields of `op`'s `multipart/form-data` request body.
fn form_files(op: &openapiv3::Operation) -> Vec<String> {
    let Some(openapiv3::ReferenceOr::Item(body)) = &op.request_body else {
        return Vec::new();
    };
    let Some(form) = body.content.get("multipart/form-data") else {
        return Vec::new();
    };
    let mut files: Vec<String> = form
        .encoding
        .iter()
        .filter(|(_, e)| e.content_type.is_some())
        .map(|(name, _)| name.clone())
        .collect();
    files.sort();
    files
}

fn entries(spec: &OpenAPI) -> Result<Vec<Entry>> {
    let global = spec.security.clone().unwrap_or_default();
    let mut out = Vec::new();
    for (path, method, op) in spec.operations() {
        let Some(id) = op.operation_id.as_deref() else {
            bail!("{} {path} has no operationId", method.to_uppercase());
        };
        let requirements = op.security.as_ref().unwrap_or(&global);
        let mut entry = Entry {
            // The name progenitor gives the operation (`OperationInfo::operation_id`).
            operation_id: heck::ToSnakeCase::to_snake_case(id),
            method: method.to_uppercase(),
            path: path.to_owned(),
            anonymous: requirements.is_empty(),
            schemes: Vec::new(),
            form_files: form_files(op),
        };
        for requirement in requirements {
            if requirement.is_empty() {
                entry.anonymous = true;
                continue;
            }
            if requirement.len() > 1 {
                bail!("{id}: a security requirement combining several schemes is not supported");
            }
            for name in requirement.keys() {
                let Some((_, variant)) = SCHEMES.iter().find(|(n, _)| n == name) else {
                    bail!("{id}: unknown security scheme `{name}` (known: BearerAuth, siwx)");
                };
                if !entry.schemes.contains(variant) {
                    entry.schemes.push(variant);
                }
            }
        }
        out.push(entry);
    }
    out.sort_by(|a, b| a.operation_id.cmp(&b.operation_id));
    Ok(out)
}

/// Rust source of the `operations` table (to be formatted with the rest of the file).
pub fn table(spec: &OpenAPI) -> Result<proc_macro2::TokenStream> {
    let rows = entries(spec)?.into_iter().map(|e| {
        let (id, method, path, anonymous) = (e.operation_id, e.method, e.path, e.anonymous);
        let schemes = e
            .schemes
            .iter()
            .map(|s| quote::format_ident!("{s}"))
            .collect::<Vec<_>>();
        let files = e.form_files;
        quote::quote! {
            Operation {
                id: #id,
                method: #method,
                path: #path,
                security: OperationSecurity {
                    anonymous: #anonymous,
                    schemes: &[#(Scheme::#schemes),*],
                },
                form_files: &[#(#files),*],
            },
        }
    });
    Ok(quote::quote! {
        /// Every operation of the spec: method, path template, accepted credentials and
        /// the file fields of its `multipart/form-data` body.
        pub mod operations {
            use crate::{Operation, OperationSecurity, Scheme};

            /// The operations, sorted by id.
            pub const ALL: &[Operation] = &[#(#rows)*];

            /// The operation named `id` (as in `OperationInfo::operation_id`).
            pub fn find(id: &str) -> Option<&'static Operation> {
                ALL.iter().find(|o| o.id == id)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_anonymous_bearer_and_siwx() {
        let spec = crate::spec::load(&crate::spec_path(&crate::workspace_root())).expect("spec");
        let e = entries(&spec).expect("entries");
        let get = |id: &str| e.iter().find(|x| x.operation_id == id).expect(id);
        let models = get("list_models");
        assert!(models.anonymous);
        assert_eq!(models.schemes, ["Bearer"]);
        let generate = get("generate_image");
        assert!(!generate.anonymous);
        assert_eq!(generate.schemes, ["Bearer", "Siwx"]);
        assert_eq!(
            (generate.method.as_str(), generate.path.as_str()),
            ("POST", "/image/generate")
        );
        let top_up = get("top_up_x402_balance");
        assert!(top_up.anonymous);
        assert!(top_up.schemes.is_empty());
        assert_eq!(get("get_x402_balance").schemes, ["Siwx"]);
        assert!(generate.form_files.is_empty());
        assert_eq!(get("upscale_image").form_files, ["image"]);
        assert_eq!(get("multi_edit_image").form_files, ["images"]);
        assert_eq!(get("background_remove_image").form_files, ["image"]);
    }
}
