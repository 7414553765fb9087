//! [`ClientState`]: what the generated [`Client`](crate::Client) carries for its hooks.

use std::fmt;
use std::sync::{Arc, Once};

use crate::auth::RequestAuth;
use crate::body_copy::BodyCopy;
use crate::response::DEFAULT_MAX_RESPONSE_BYTES;
use crate::upload::{MAX_JSON_BODY_BYTES, Uploads};

/// Make sure rustls has a process-wide crypto provider.
///
/// reqwest is built without one (its default, aws-lc-rs, is a C build); this crate
/// ships rustls' `ring` provider and installs it as the process default unless the
/// application installed another first. [`ClientState`]'s constructors call this, so
/// `Client::new` never panics for want of a provider. To build your own
/// `reqwest::Client` (for [`Client::new_with_client`](crate::Client::new_with_client)),
/// start from [`http_client_builder`], which calls this first: a plain
/// `reqwest::Client::builder().build()` panics in a process where nothing installed a
/// provider yet.
pub fn ensure_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Losing a race with another installer is fine: a provider is installed.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
    });
}

/// `reqwest::Client::builder()`, after [`ensure_crypto_provider`]: the way to build
/// your own HTTP client for [`Client::new_with_client`](crate::Client::new_with_client)
/// (a proxy, other timeouts) without the panic a plain `reqwest::Client::builder()
/// .build()` raises in a process where no rustls crypto provider is installed yet.
///
/// ```
/// use venice_openapi::{Client, ClientState};
///
/// let http = venice_openapi::http_client_builder()
///     .connect_timeout(std::time::Duration::from_secs(10))
///     .build()?;
/// let client = Client::new_with_client("https://api.venice.ai/api/v1", http, ClientState::anonymous());
/// # let _ = client;
/// # Ok::<(), reqwest::Error>(())
/// ```
pub fn http_client_builder() -> reqwest::ClientBuilder {
    ensure_crypto_provider();
    reqwest::Client::builder()
}

/// State stored inside the generated [`Client`](crate::Client) and read by its hooks:
/// the credentials, the response-size cap and, for one call, its [`Uploads`].
#[derive(Clone)]
pub struct ClientState {
    auth: Option<Arc<dyn RequestAuth>>,
    max_response_bytes: u64,
    max_json_body_bytes: u64,
    uploads: Option<Arc<Uploads>>,
    body_copy: Option<BodyCopy>,
}

impl Default for ClientState {
    fn default() -> Self {
        Self::anonymous()
    }
}

impl ClientState {
    /// State without credentials (anonymous requests).
    pub fn anonymous() -> Self {
        ensure_crypto_provider();
        Self {
            auth: None,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_json_body_bytes: MAX_JSON_BODY_BYTES,
            uploads: None,
            body_copy: None,
        }
    }

    /// State that authenticates every request through `auth`.
    pub fn with_auth(auth: Arc<dyn RequestAuth>) -> Self {
        Self {
            auth: Some(auth),
            ..Self::anonymous()
        }
    }

    /// Cap success bodies at `max` bytes, counted after decompression (default
    /// [`DEFAULT_MAX_RESPONSE_BYTES`]); a larger body fails while it is read, with a
    /// [`ResponseTooLarge`](crate::ResponseTooLarge) in the error's source chain.
    #[must_use]
    pub fn max_response_bytes(mut self, max: u64) -> Self {
        self.max_response_bytes = max;
        self
    }

    /// Refuse, before sending, a JSON request body of more than `max` bytes (default
    /// [`MAX_JSON_BODY_BYTES`], the provider's 35 MB): the call fails with
    /// [`UploadError::BodyTooLarge`](crate::UploadError) in an `InvalidRequest` error.
    #[must_use]
    pub fn max_json_body_bytes(mut self, max: u64) -> Self {
        self.max_json_body_bytes = max;
        self
    }

    /// The JSON request-body limit in bytes.
    pub fn json_body_limit(&self) -> u64 {
        self.max_json_body_bytes
    }

    /// Stream `uploads` into the bodies of the requests sent with this state.
    #[must_use]
    pub fn uploads(mut self, uploads: Uploads) -> Self {
        self.uploads = (!uploads.is_empty()).then(|| Arc::new(uploads));
        self
    }

    /// Keep a copy of each success body, as the server sent it, in `copy` (for a caller
    /// that must pass the answer on untouched; the generated code still decodes it).
    #[must_use]
    pub fn copy_body(mut self, copy: BodyCopy) -> Self {
        self.body_copy = Some(copy);
        self
    }

    /// Replace the credentials.
    #[must_use]
    pub fn auth(mut self, auth: Option<Arc<dyn RequestAuth>>) -> Self {
        self.auth = auth;
        self
    }

    /// The credentials, if any.
    pub fn credentials(&self) -> Option<&Arc<dyn RequestAuth>> {
        self.auth.as_ref()
    }

    /// Whether requests carry credentials.
    pub fn is_authenticated(&self) -> bool {
        self.auth.is_some()
    }

    /// The success-body cap in bytes.
    pub fn response_cap(&self) -> u64 {
        self.max_response_bytes
    }

    pub(crate) fn body_copy(&self) -> Option<&BodyCopy> {
        self.body_copy.as_ref()
    }

    pub(crate) fn pending_uploads(&self) -> Option<&Uploads> {
        self.uploads.as_deref()
    }
}

impl fmt::Debug for ClientState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print credentials, only whether there are any.
        f.debug_struct("ClientState")
            .field("authenticated", &self.auth.is_some())
            .field("max_response_bytes", &self.max_response_bytes)
            .field("max_json_body_bytes", &self.max_json_body_bytes)
            .field("uploads", &self.uploads.is_some())
            .field("body_copy", &self.body_copy.is_some())
            .finish()
    }
}
