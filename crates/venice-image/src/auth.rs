//! [`Auth`]: the credentials of a client, turned into the generated client's
//! per-attempt [`RequestAuth`].

use std::fmt;
use std::sync::Arc;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use venice_openapi::{AuthContext, AuthError, RequestAuth, Scheme};

#[cfg(feature = "wallet")]
use crate::wallet::{SiwxConfig, Wallet, WalletAuth};

/// Credentials for the API.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Auth {
    /// Anonymous requests (enough for the model catalogue and styles).
    #[default]
    None,
    /// A Venice API key sent as `Authorization: Bearer …`.
    ApiKey(SecretString),
    /// Any per-request authenticator (a KMS, a remote signer, …).
    Custom(Arc<dyn RequestAuth>),
    /// A wallet signing a fresh `SIGN-IN-WITH-X` header per request (feature `wallet`).
    #[cfg(feature = "wallet")]
    #[cfg_attr(docsrs, doc(cfg(feature = "wallet")))]
    Wallet(crate::wallet::WalletAuth),
    /// A `SIGN-IN-WITH-X` value signed elsewhere, good for one request (feature
    /// `wallet`).
    #[cfg(feature = "wallet")]
    #[cfg_attr(docsrs, doc(cfg(feature = "wallet")))]
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

    /// Whether the credentials can be sent only once (a static `SIGN-IN-WITH-X`
    /// header: the server burns its nonce).
    pub fn is_single_use(&self) -> bool {
        #[cfg(feature = "wallet")]
        if matches!(self, Auth::SiwxHeader(_)) {
            return true;
        }
        false
    }

    /// Whose error budget the requests of these credentials count against (`None`
    /// without credentials: nothing counts): the API key's, or for wallets the host's
    /// (the provider counts them per IP).
    pub(crate) fn budget_holder(&self) -> Option<crate::error_budget::Holder> {
        use crate::error_budget::Holder;
        match self {
            Auth::None => None,
            Auth::ApiKey(k) => Some(Holder::key(k.expose_secret())),
            Auth::Custom(a) if a.scheme() == Scheme::Siwx => Some(Holder::Host),
            Auth::Custom(a) => Some(Holder::Custom(Arc::as_ptr(a).cast::<()>() as usize)),
            #[cfg(feature = "wallet")]
            Auth::Wallet(_) | Auth::SiwxHeader(_) => Some(Holder::Host),
        }
    }

    /// Whether the credentials sign with a wallet (`SIGN-IN-WITH-X`), whose requests in
    /// flight the provider caps.
    pub(crate) fn signs_with_wallet(&self) -> bool {
        match self {
            Auth::None | Auth::ApiKey(_) => false,
            Auth::Custom(a) => a.scheme() == Scheme::Siwx,
            #[cfg(feature = "wallet")]
            Auth::Wallet(_) | Auth::SiwxHeader(_) => true,
        }
    }

    /// The per-attempt authenticator of these credentials. Called once per client: a
    /// single-use header is shared by every call of that client, so it is never sent
    /// twice.
    pub(crate) fn request_auth(&self) -> Option<Arc<dyn RequestAuth>> {
        match self {
            Auth::None => None,
            Auth::ApiKey(k) => Some(Arc::new(Bearer(k.clone()))),
            Auth::Custom(a) => Some(a.clone()),
            #[cfg(feature = "wallet")]
            Auth::Wallet(w) => Some(Arc::new(w.clone())),
            #[cfg(feature = "wallet")]
            Auth::SiwxHeader(h) => Some(Arc::new(venice_x402::StaticSiwx::new(h.clone()))),
        }
    }
}

#[cfg(feature = "wallet")]
impl Auth {
    /// Sign in with an EVM wallet (hex private key, `0x` optional) on Base, with the
    /// default [`SiwxConfig`](crate::wallet::SiwxConfig). Feature `wallet`.
    #[cfg_attr(docsrs, doc(cfg(feature = "wallet")))]
    pub fn evm_wallet(private_key: &str) -> crate::Result<Auth> {
        Self::wallet(Wallet::evm(private_key)?, SiwxConfig::default())
    }

    /// Sign in with a Solana wallet (base58 keypair or secret, or a `solana-keygen`
    /// JSON array). Feature `wallet`.
    #[cfg_attr(docsrs, doc(cfg(feature = "wallet")))]
    pub fn solana_wallet(keypair: &str) -> crate::Result<Auth> {
        Self::wallet(Wallet::solana(keypair)?, SiwxConfig::default())
    }

    /// Sign in with a wallet whose key stays in its signer: a KMS, an HSM, a hardware
    /// wallet or a signing service implementing
    /// [`EvmSigner`](crate::wallet::EvmSigner) or
    /// [`SolanaSigner`](crate::wallet::SolanaSigner), wrapped with
    /// [`Wallet::evm_signer`](crate::wallet::Wallet::evm_signer) or
    /// [`Wallet::solana_signer`](crate::wallet::Wallet::solana_signer). The client asks
    /// it for every signature (SIWX headers, top-ups) and never sees the key. Default
    /// [`SiwxConfig`](crate::wallet::SiwxConfig) (use [`Auth::wallet`] to change it,
    /// e.g. the signer timeout). Feature `wallet`.
    #[cfg_attr(docsrs, doc(cfg(feature = "wallet")))]
    pub fn wallet_with_signer(wallet: Wallet) -> Auth {
        Auth::Wallet(WalletAuth::with_default_config(wallet))
    }

    /// Sign in with `wallet` and a custom sign-in configuration. Feature `wallet`.
    #[cfg_attr(docsrs, doc(cfg(feature = "wallet")))]
    pub fn wallet(wallet: Wallet, config: SiwxConfig) -> crate::Result<Auth> {
        Ok(Auth::Wallet(WalletAuth::new(wallet, config)?))
    }

    /// Send a `SIGN-IN-WITH-X` value signed elsewhere.
    ///
    /// The server burns each nonce on first use, so such a value authenticates exactly
    /// one request: the client never sends it twice (no retry, no second call) and a
    /// second use fails with [`Error::Auth`](crate::Error::Auth). Operations that do not
    /// take a wallet signature (the model list, styles) do not use it. Top-up needs a
    /// signer and is not possible with it. Feature `wallet`.
    #[cfg_attr(docsrs, doc(cfg(feature = "wallet")))]
    pub fn siwx_header(value: impl Into<String>) -> Auth {
        Auth::SiwxHeader(SecretString::from(value.into()))
    }

    /// The wallet address of wallet credentials (from the header for
    /// [`Auth::siwx_header`]). Feature `wallet`.
    #[cfg_attr(docsrs, doc(cfg(feature = "wallet")))]
    pub fn wallet_address(&self) -> Option<String> {
        match self {
            Auth::Wallet(w) => Some(w.wallet().address().to_owned()),
            Auth::SiwxHeader(h) => venice_x402::header_address(h.expose_secret()),
            _ => None,
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

#[venice_openapi::async_trait]
impl RequestAuth for Bearer {
    fn scheme(&self) -> Scheme {
        Scheme::Bearer
    }

    async fn authorize(
        &self,
        request: &mut reqwest::Request,
        _ctx: &AuthContext<'_>,
    ) -> Result<(), AuthError> {
        let key = self.0.expose_secret();
        // A header may carry other bytes, but a key with them is a pasting mistake
        // that the server would only answer with 401.
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AuthError::new(
                "the API key is empty or contains characters other than printable ASCII",
            ));
        }
        let mut value = HeaderValue::try_from(format!("Bearer {key}"))
            .map_err(|e| AuthError::with_source("the API key is not a valid header value", e))?;
        value.set_sensitive(true);
        request.headers_mut().insert(AUTHORIZATION, value);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const CTX: AuthContext<'static> = AuthContext {
        operation_id: "generate_image",
        security: venice_openapi::OperationSecurity {
            anonymous: false,
            schemes: &[Scheme::Bearer, Scheme::Siwx],
        },
    };

    #[test]
    fn debug_hides_key() {
        let a = Auth::api_key("sk-secret-123");
        let d = format!("{a:?}");
        assert!(!d.contains("sk-secret-123"), "{d}");
        assert!(d.contains("REDACTED"));
    }

    #[tokio::test]
    async fn bearer_sets_sensitive_header_and_refuses_odd_keys() {
        let mut req = reqwest::Request::new(reqwest::Method::GET, "http://x/".parse().unwrap());
        Bearer(SecretString::from("k1".to_owned()))
            .authorize(&mut req, &CTX)
            .await
            .unwrap();
        let v = req.headers().get(AUTHORIZATION).unwrap();
        assert!(v.is_sensitive());
        assert_eq!(v.to_str().unwrap(), "Bearer k1");
        for bad in ["k\n", "clé", "", "a b"] {
            let e = Bearer(SecretString::from(bad.to_owned()))
                .authorize(&mut req, &CTX)
                .await
                .unwrap_err();
            assert!(!e.to_string().contains(bad) || bad.is_empty(), "{e}");
        }
    }
}
