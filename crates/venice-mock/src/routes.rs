//! Routing: which operation a method and path select, safely (no `..` tricks), and the
//! per-operation policy (auth, body, paid).

use http::Method;

/// An operation of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Generate,
    SimpleGenerate,
    Styles,
    Models,
    Upscale,
    Edit,
    MultiEdit,
    BackgroundRemove,
    Balance(String),
    Transactions(String),
    TopUp,
}

/// How a route authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthMode {
    None,
    Optional,
    Required,
    Wallet,
}

/// Why no route matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RouteError {
    NotFound,
    MethodNotAllowed(&'static str),
}

/// The prefix every route lives under.
pub(crate) const BASE_PATH: &str = "/api/v1";

impl Route {
    pub fn operation_id(&self) -> &'static str {
        match self {
            Self::Generate => "generateImage",
            Self::SimpleGenerate => "simpleGenerateImage",
            Self::Styles => "listImageStyles",
            Self::Models => "listModels",
            Self::Upscale => "upscaleImage",
            Self::Edit => "editImage",
            Self::MultiEdit => "multiEditImage",
            Self::BackgroundRemove => "backgroundRemoveImage",
            Self::Balance(_) => "getX402Balance",
            Self::Transactions(_) => "getX402Transactions",
            Self::TopUp => "topUpX402Balance",
        }
    }

    pub fn auth(&self) -> AuthMode {
        match self {
            Self::Models | Self::TopUp => AuthMode::None,
            Self::Styles => AuthMode::Optional,
            Self::Balance(_) | Self::Transactions(_) => AuthMode::Wallet,
            _ => AuthMode::Required,
        }
    }

    /// Takes a JSON body.
    pub fn has_json_body(&self) -> bool {
        matches!(
            self,
            Self::Generate
                | Self::SimpleGenerate
                | Self::Upscale
                | Self::Edit
                | Self::MultiEdit
                | Self::BackgroundRemove
        )
    }

    /// Charged inference (faults apply here).
    pub fn paid(&self) -> bool {
        self.has_json_body()
    }
}

fn decode_segment(seg: &str) -> Option<String> {
    let decoded = percent_encoding::percent_decode_str(seg)
        .decode_utf8()
        .ok()?;
    if decoded.is_empty() || decoded == "." || decoded == ".." || decoded.contains(['/', '\\']) {
        return None;
    }
    Some(decoded.into_owned())
}

/// Matches a method and a raw path.
pub(crate) fn match_route(method: &Method, path: &str) -> Result<Route, RouteError> {
    let rest = path.strip_prefix(BASE_PATH).ok_or(RouteError::NotFound)?;
    let rest = rest.strip_prefix('/').ok_or(RouteError::NotFound)?;
    let segments: Option<Vec<String>> = rest.split('/').map(decode_segment).collect();
    let segments = segments.ok_or(RouteError::NotFound)?;
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let (route, allowed) = match segs.as_slice() {
        ["image", "generate"] => (Route::Generate, "POST"),
        ["images", "generations"] => (Route::SimpleGenerate, "POST"),
        ["image", "styles"] => (Route::Styles, "GET"),
        ["models"] => (Route::Models, "GET"),
        ["image", "upscale"] => (Route::Upscale, "POST"),
        ["image", "edit"] => (Route::Edit, "POST"),
        ["image", "multi-edit"] => (Route::MultiEdit, "POST"),
        ["image", "background-remove"] => (Route::BackgroundRemove, "POST"),
        ["x402", "balance", wallet] => (Route::Balance((*wallet).to_owned()), "GET"),
        ["x402", "transactions", wallet] => (Route::Transactions((*wallet).to_owned()), "GET"),
        ["x402", "top-up"] => (Route::TopUp, "POST"),
        _ => return Err(RouteError::NotFound),
    };
    if method.as_str() == allowed {
        Ok(route)
    } else {
        Err(RouteError::MethodNotAllowed(allowed))
    }
}

/// Parses a query string into decoded pairs.
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_is_not_found() {
        let get = Method::GET;
        assert_eq!(match_route(&get, "/api/v1/models"), Ok(Route::Models));
        assert_eq!(
            match_route(&get, "/api/v1/x402/balance/../../models"),
            Err(RouteError::NotFound)
        );
        assert_eq!(
            match_route(&get, "/api/v1/x402/balance/%2e%2e/%2E%2E/models"),
            Err(RouteError::NotFound)
        );
        assert_eq!(
            match_route(&get, "/api/v1//models"),
            Err(RouteError::NotFound)
        );
        assert_eq!(
            match_route(&Method::DELETE, "/api/v1/models"),
            Err(RouteError::MethodNotAllowed("GET"))
        );
    }
}
