//! [`Auth`]: how requests are authenticated, applied per request through the
//! generated client's hook.

use std::fmt;
use std::sync::Arc;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use venice_openapi::RequestAuth;

/// Credentials for the API.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Auth {
    /// Anonymous requests (enough for the model catalogue and styles).
    #[default]
    None,
    /// A Venice API key sent as `Authorization: Bearer …`.
    ApiKey(SecretString),
    /// Any per-request authenticator (e.g. a wallet signing `SIGN-IN-WITH-X` headers).
    Custom(Arc<dyn RequestAuth>),
    /// A wallet signing a fresh `SIGN-IN-WITH-X` header per request (feature `wallet`).
    #[cfg(feature = "wallet")]
    Wallet(crate::wallet::WalletAuth),
    /// A `SIGN-IN-WITH-X` value signed elsewhere (feature `wallet`).
    #[cfg(feature = "wallet")]
    SiwxHeader(SecretString),
}

impl Auth {
    /// Authenticate with an API key.
    pub fn api_key(key: impl Into<String>) -> Self {
        Auth::ApiKey(SecretString::from(key.into()))
    }

    /// No authentication.
    pub fn none() -> Self {
        Auth::None
    }

    /// Authenticate through a custom per-request hook.
    pub fn custom(auth: Arc<dyn RequestAuth>) -> Self {
        Auth::Custom(auth)
    }

    /// Whether requests carry credentials.
    pub fn is_some(&self) -> bool {
        !matches!(self, Auth::None)
    }

    pub(crate) fn state(&self) -> venice_openapi::ClientState {
        match self {
            Auth::None => venice_openapi::ClientState::anonymous(),
            Auth::ApiKey(k) => venice_openapi::ClientState::with_auth(Arc::new(Bearer(k.clone()))),
            Auth::Custom(a) => venice_openapi::ClientState::with_auth(a.clone()),
            #[cfg(feature = "wallet")]
            Auth::Wallet(w) => venice_openapi::ClientState::with_auth(Arc::new(w.clone())),
            #[cfg(feature = "wallet")]
            Auth::SiwxHeader(h) => venice_openapi::ClientState::with_auth(Arc::new(
                crate::wallet::StaticSiwx(h.clone()),
            )),
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("Auth::None"),
            Auth::ApiKey(_) => f.write_str("Auth::ApiKey([REDACTED])"),
            Auth::Custom(_) => f.write_str("Auth::Custom(..)"),
            #[cfg(feature = "wallet")]
            Auth::Wallet(w) => write!(f, "Auth::Wallet({:?})", w.wallet()),
            #[cfg(feature = "wallet")]
            Auth::SiwxHeader(_) => f.write_str("Auth::SiwxHeader([REDACTED])"),
        }
    }
}

/// Bearer-token authenticator.
struct Bearer(SecretString);

impl RequestAuth for Bearer {
    fn authorize(&self, request: &mut reqwest::Request, _operation_id: &str) -> Result<(), String> {
        let mut value = HeaderValue::try_from(format!("Bearer {}", self.0.expose_secret()))
            .map_err(|_| "API key contains characters not allowed in a header".to_owned())?;
        value.set_sensitive(true);
        request.headers_mut().insert(AUTHORIZATION, value);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_key() {
        let a = Auth::api_key("sk-secret-123");
        let d = format!("{a:?}");
        assert!(!d.contains("sk-secret-123"), "{d}");
        assert!(d.contains("REDACTED"));
    }

    #[test]
    fn bearer_sets_sensitive_header() {
        let mut req = reqwest::Request::new(reqwest::Method::GET, "http://x/".parse().unwrap());
        Bearer(SecretString::from("k1".to_owned()))
            .authorize(&mut req, "op")
            .unwrap();
        let v = req.headers().get(AUTHORIZATION).unwrap();
        assert!(v.is_sensitive());
        assert_eq!(v.to_str().unwrap(), "Bearer k1");
        let bad = Bearer(SecretString::from("k\n".to_owned())).authorize(&mut req, "op");
        assert!(bad.is_err());
    }
}
