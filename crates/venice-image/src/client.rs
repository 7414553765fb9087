//! [`Client`] and [`ClientBuilder`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use tokio::sync::Mutex;
use tracing::{Instrument, field};

use crate::auth::Auth;
use crate::decode;
use crate::error::{Error, Result};
use crate::generate::{GenerateRequest, ValidationError};
use crate::image::{BinaryImage, Format, GeneratedImage, Generation};
use crate::meta::ResponseMeta;
use crate::models::{self, Cost, ImageModel};
use crate::retry::{self, RetryPolicy};

#[cfg(feature = "wallet")]
#[path = "client_wallet.rs"]
mod wallet_ops;

/// The public Venice API base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.venice.ai/api/v1";

/// Client of the Venice image API. Cheap to clone (shared state behind an `Arc`),
/// `Send + Sync`.
///
/// ```no_run
/// use venice_image::{Client, GenerateRequest, Size};
///
/// # async fn run() -> venice_image::Result<()> {
/// let client = Client::from_env()?; // VENICE_API_KEY, optional VENICE_BASE_URL
/// let req = GenerateRequest::builder("flux-2-max", "a red fox in snow")
///     .size(Size::Pixels { width: 1024, height: 768 })
///     .build()?;
/// let generation = client.generate(&req).await?;
/// for image in &generation.images {
///     println!("saved {}", image.save(".")?.display());
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    raw: venice_openapi::Client,
    base_url: String,
    auth: Auth,
    retry: RetryPolicy,
    model_validation: bool,
    max_response_bytes: u64,
    models: Mutex<Option<Arc<Vec<ImageModel>>>>,
    /// Last `X-Balance-Remaining` seen (USD).
    last_balance: std::sync::Mutex<Option<f64>>,
    #[cfg(feature = "wallet")]
    wallet: wallet_ops::WalletState,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("auth", &self.inner.auth)
            .field("retry", &self.inner.retry)
            .field("model_validation", &self.inner.model_validation)
            .finish()
    }
}

/// Builder of a [`Client`]; setters never fail, [`build`](Self::build) reports
/// configuration errors.
#[must_use]
pub struct ClientBuilder {
    base_url: String,
    auth: Auth,
    timeout: Option<Duration>,
    connect_timeout: Duration,
    retry: RetryPolicy,
    user_agent: String,
    http_client: Option<reqwest::Client>,
    model_validation: bool,
    #[cfg(feature = "wallet")]
    auto_top_up: Option<crate::wallet::AutoTopUp>,
    max_response_bytes: u64,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            auth: Auth::None,
            timeout: Some(Duration::from_secs(300)),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            user_agent: concat!("venice-image-rs/", env!("CARGO_PKG_VERSION")).to_owned(),
            http_client: None,
            model_validation: true,
            #[cfg(feature = "wallet")]
            auto_top_up: None,
            max_response_bytes: decode::DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

impl ClientBuilder {
    /// API base URL including `/api/v1` (default [`DEFAULT_BASE_URL`]).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Credentials (default [`Auth::None`]).
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Whole-request timeout (default 300 s; generation can be slow).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Connect timeout (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Retry policy (default [`RetryPolicy::default`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// `User-Agent` header.
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// Use this HTTP client instead of building one (timeouts and user agent set
    /// here are then ignored).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Check requests against the model catalogue before sending (default true).
    pub fn model_validation(mut self, on: bool) -> Self {
        self.model_validation = on;
        self
    }

    /// Largest response body accepted, counted after decompression (default
    /// [`DEFAULT_MAX_RESPONSE_BYTES`](crate::DEFAULT_MAX_RESPONSE_BYTES), 1 GiB).
    /// Larger bodies, or a larger `Content-Length`, fail with
    /// [`Error::ResponseTooLarge`] before memory runs out.
    pub fn max_response_bytes(mut self, max: u64) -> Self {
        self.max_response_bytes = max;
        self
    }

    /// Build the client.
    pub fn build(self) -> Result<Client> {
        let base_url = self.base_url.trim().trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base_url)
            .map_err(|e| Error::Config(format!("invalid base URL {base_url:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "base URL must be http(s), got {base_url:?}"
            )));
        }
        let http = match self.http_client {
            Some(c) => c,
            None => {
                // reqwest is built with `rustls-no-provider`: install ring once per
                // process (an already-installed provider is fine).
                let _ = rustls::crypto::ring::default_provider().install_default();
                let mut b = reqwest::Client::builder()
                    .connect_timeout(self.connect_timeout)
                    .user_agent(self.user_agent)
                    .gzip(true)
                    .brotli(true);
                if let Some(t) = self.timeout {
                    b = b.timeout(t);
                }
                b.build()
                    .map_err(|e| Error::Config(format!("cannot build HTTP client: {e}")))?
            }
        };
        let raw = venice_openapi::Client::new_with_client(&base_url, http, self.auth.state());
        Ok(Client {
            inner: Arc::new(Inner {
                raw,
                base_url,
                auth: self.auth,
                retry: self.retry,
                model_validation: self.model_validation,
                max_response_bytes: self.max_response_bytes,
                models: Mutex::new(None),
                last_balance: std::sync::Mutex::new(None),
                #[cfg(feature = "wallet")]
                wallet: wallet_ops::WalletState::new(self.auto_top_up),
            }),
        })
    }
}

/// One API operation: how to build its HTTP request.
pub(crate) struct Op<'a> {
    pub(crate) id: &'static str,
    pub(crate) method: reqwest::Method,
    pub(crate) path: &'a str,
    pub(crate) query: &'a [(&'static str, &'a str)],
    pub(crate) body: Option<crate::ops::OpBody>,
    pub(crate) accept: &'static str,
}

impl Client {
    /// A builder with defaults.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from the environment: exactly one of `VENICE_API_KEY`,
    /// `VENICE_WALLET_PRIVATE_KEY` (EVM hex key), `VENICE_SOLANA_KEYPAIR` (base58 or
    /// JSON array) or `VENICE_SIWX_HEADER` (the wallet ones need the `wallet`
    /// feature), and optionally `VENICE_BASE_URL`.
    pub fn from_env() -> Result<Client> {
        let auth = Auth::from_env()?;
        let mut b = Client::builder().auth(auth);
        if let Ok(url) = std::env::var("VENICE_BASE_URL")
            && !url.trim().is_empty()
        {
            b = b.base_url(url);
        }
        b.build()
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The generated low-level client (for operations the facade does not wrap).
    pub fn raw(&self) -> &venice_openapi::Client {
        &self.inner.raw
    }

    /// Send `op` once through the generated client's hooks (auth added per attempt)
    /// and return the successful response or the decoded error.
    async fn attempt(&self, op: &Op<'_>) -> Result<reqwest::Response> {
        let raw = &self.inner.raw;
        let url = format!("{}{}", raw.baseurl(), op.path);
        let mut rb = raw
            .client()
            .request(op.method.clone(), url)
            .header("api-version", venice_openapi::Client::api_version())
            .header(ACCEPT, HeaderValue::from_static(op.accept));
        if !op.query.is_empty() {
            rb = rb.query(op.query);
        }
        if let Some(body) = &op.body {
            rb = body.apply(rb);
        }
        let mut request = rb
            .build()
            .map_err(|e| Error::Config(format!("cannot build request: {e}")))?;
        let info = OperationInfo {
            operation_id: op.id,
        };
        raw.pre::<()>(&mut request, &info)
            .await
            .map_err(|e| match e {
                progenitor_client::Error::Custom(msg) => {
                    Error::Config(format!("authentication failed: {msg}"))
                }
                other => Error::Config(format!("request hook failed: {other}")),
            })?;
        let response = raw
            .exec(request, &info)
            .await
            .map_err(Error::from_transport)?;
        if let Some(balance) = crate::meta::header(response.headers(), "x-balance-remaining")
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite())
            && let Ok(mut last) = self.inner.last_balance.lock()
        {
            *last = Some(balance);
        }
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(decode::error_from_response(response).await)
        }
    }

    /// Run `op` with the retry policy.
    pub(crate) async fn execute(&self, op: &Op<'_>) -> Result<reqwest::Response> {
        let policy = &self.inner.retry;
        let span = tracing::Span::current();
        let mut attempt = 1u32;
        #[cfg(feature = "wallet")]
        let mut topped_up = false;
        loop {
            span.record("attempt", attempt);
            let result = self.attempt(op).await;
            match result {
                Ok(r) => {
                    span.record("status", r.status().as_u16());
                    return Ok(r);
                }
                Err(err) => {
                    if let Some(s) = err.status() {
                        span.record("status", s);
                    }
                    // Once per call: top up within the cap, then retry with a fresh header.
                    #[cfg(feature = "wallet")]
                    if !topped_up && self.auto_top_up_after(&err).await? {
                        topped_up = true;
                        continue;
                    }
                    if !policy.should_retry(&err) {
                        return Err(err);
                    }
                    let Some(delay) =
                        policy.delay(attempt, retry::server_hint(&err), retry::random_unit())
                    else {
                        return Err(err);
                    };
                    tracing::info!(
                        operation = op.id,
                        attempt,
                        status = err.status(),
                        delay_ms = delay.as_millis() as u64,
                        "retrying"
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }

    /// GET `path` with the retry policy and return the body (JSON is expected).
    async fn get_json(
        &self,
        id: &'static str,
        path: &str,
        query: &[(&'static str, &str)],
    ) -> Result<Vec<u8>> {
        let op = Op {
            id,
            method: reqwest::Method::GET,
            path,
            query,
            body: None,
            accept: "application/json",
        };
        decode::read_body_max(self.execute(&op).await?, self.inner.max_response_bytes).await
    }

    /// The response-size cap this client enforces (see
    /// [`ClientBuilder::max_response_bytes`]).
    pub(crate) fn response_cap(&self) -> u64 {
        self.inner.max_response_bytes
    }

    /// The last `X-Balance-Remaining` (USD) the server reported to this client: x402
    /// wallet credit after a paid call.
    pub fn last_balance_usd(&self) -> Option<f64> {
        self.inner.last_balance.lock().ok().and_then(|b| *b)
    }

    fn generate_op(req: &GenerateRequest) -> Result<Op<'static>> {
        let body = serde_json::to_vec(req).map_err(|e| Error::decode("request JSON", e))?;
        Ok(Op {
            id: "generate_image",
            method: reqwest::Method::POST,
            path: "/image/generate",
            query: &[],
            body: Some(body.into()),
            accept: if req.return_binary() {
                "image/*, */*"
            } else {
                "application/json, */*"
            },
        })
    }

    async fn preflight(&self, req: &GenerateRequest) -> Result<()> {
        if !self.inner.model_validation {
            return Ok(());
        }
        match self.image_models().await {
            Ok(models) => models::find(&models, req.model())?.validate(req),
            // A catalogue fetch that timed out has already spent the caller's timeout:
            // fail now instead of waiting a second full timeout for the generation.
            Err(e) if e.is_timeout() => Err(e),
            Err(e) => {
                // The catalogue is advisory: if it cannot be fetched the server decides.
                tracing::warn!(error = %e, "model catalogue unavailable; skipping model validation");
                Ok(())
            }
        }
    }

    /// Generate images, JSON mode: all images decoded in memory.
    ///
    /// Fails with a validation error for `return_binary` requests (use
    /// [`generate_binary`](Self::generate_binary)).
    pub async fn generate(&self, req: &GenerateRequest) -> Result<Generation> {
        let span = tracing::info_span!(
            "venice.generate",
            model = %req.model(),
            operation = "generate_image",
            status = field::Empty,
            attempt = field::Empty
        );
        async {
            if req.return_binary() {
                return Err(Error::Validation(ValidationError::new(
                    "return_binary",
                    "must be false for Client::generate; use Client::generate_binary",
                )));
            }
            self.preflight(req).await?;
            tracing::debug!(prompt = %req.prompt(), "request");
            let start = Instant::now();
            let op = Self::generate_op(req)?;
            let response = self.execute(&op).await?;
            let status = response.status().as_u16();
            let meta = ResponseMeta::from_headers(status, response.headers());
            let fallback = req.format().unwrap_or(Format::Webp);
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let max = self.inner.max_response_bytes;
            let (id, timing, images) = if let Some(fmt) = Format::from_mime(&content_type) {
                // The server answered with a raw image although JSON was asked for.
                let body = decode::read_body_max(response, max).await?;
                let id = meta.request_id.clone().unwrap_or_default();
                (
                    id.clone(),
                    None,
                    vec![GeneratedImage::new(body.into(), fmt, 0, &id)],
                )
            } else {
                let d = decode::decode_generation_response(response, max).await?;
                let images = d
                    .images
                    .into_iter()
                    .enumerate()
                    .map(|(i, b)| GeneratedImage::new(b, fallback, i, &d.id))
                    .collect();
                (d.id, d.timing, images)
            };
            Ok(Generation {
                id,
                timing,
                images,
                meta,
                elapsed: start.elapsed(),
            })
        }
        .instrument(span)
        .await
    }

    /// Generate one image, binary mode: the body is not read until you call
    /// [`BinaryImage::save_to`] (streams to disk) or [`BinaryImage::bytes`].
    ///
    /// Forces `return_binary: true`; `variants` must be 1.
    pub async fn generate_binary(&self, req: &GenerateRequest) -> Result<BinaryImage> {
        let span = tracing::info_span!(
            "venice.generate_binary",
            model = %req.model(),
            operation = "generate_image",
            status = field::Empty,
            attempt = field::Empty
        );
        async {
            if req.variants().unwrap_or(1) != 1 {
                return Err(Error::Validation(ValidationError::new(
                    "variants",
                    "must be 1 for Client::generate_binary",
                )));
            }
            let req = req.with_return_binary(true);
            self.preflight(&req).await?;
            let start = Instant::now();
            let op = Self::generate_op(&req)?;
            let response = self.execute(&op).await?;
            let status = response.status().as_u16();
            let meta = ResponseMeta::from_headers(status, response.headers());
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if content_type.to_ascii_lowercase().contains("json") {
                return Err(Error::Decode {
                    what: format!("binary image (server sent {content_type})"),
                    source: None,
                });
            }
            let format = Format::from_mime(content_type)
                .or(req.format())
                .unwrap_or(Format::Webp);
            Ok(BinaryImage {
                meta,
                format,
                elapsed: start.elapsed(),
                response,
            })
        }
        .instrument(span)
        .await
    }

    /// Style preset names accepted by `style_preset`.
    pub async fn image_styles(&self) -> Result<Vec<String>> {
        let span = tracing::info_span!(
            "venice.image_styles",
            operation = "list_image_styles",
            status = field::Empty,
            attempt = field::Empty
        );
        async {
            let body = self
                .get_json("list_image_styles", "/image/styles", &[])
                .await?;
            #[derive(serde::Deserialize)]
            struct Styles {
                #[serde(default)]
                data: Vec<String>,
            }
            let s: Styles =
                serde_json::from_slice(&body).map_err(|e| Error::decode("style list", e))?;
            Ok(s.data)
        }
        .instrument(span)
        .await
    }

    /// The image model catalogue, fetched once and cached in the client.
    pub async fn image_models(&self) -> Result<Arc<Vec<ImageModel>>> {
        let mut guard = self.inner.models.lock().await;
        if let Some(m) = guard.as_ref() {
            return Ok(m.clone());
        }
        let models = Arc::new(self.fetch_models().await?);
        *guard = Some(models.clone());
        Ok(models)
    }

    /// Fetch the catalogue again and replace the cached one.
    pub async fn refresh_models(&self) -> Result<Arc<Vec<ImageModel>>> {
        let models = Arc::new(self.fetch_models().await?);
        *self.inner.models.lock().await = Some(models.clone());
        Ok(models)
    }

    async fn fetch_models(&self) -> Result<Vec<ImageModel>> {
        let span = tracing::info_span!(
            "venice.image_models",
            operation = "list_models",
            status = field::Empty,
            attempt = field::Empty
        );
        async {
            let body = self
                .get_json("list_models", "/models", &[("type", "image")])
                .await?;
            models::parse_catalogue(&body)
        }
        .instrument(span)
        .await
    }

    /// Check `req` against its model's catalogue constraints (sizing mode, divisor,
    /// prompt limit, ratios, tiers, qualities, style references).
    pub async fn validate_for_model(&self, req: &GenerateRequest) -> Result<()> {
        let models = self.image_models().await?;
        models::find(&models, req.model())?.validate(req)
    }

    /// Estimate the cost of `req` from the catalogue pricing.
    pub async fn estimate_cost(&self, req: &GenerateRequest) -> Result<Cost> {
        let models = self.image_models().await?;
        models::find(&models, req.model())?.estimate_cost(req)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_key_and_is_send_sync() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<Client>();
        let c = Client::builder()
            .auth(Auth::api_key("sk-very-secret"))
            .base_url("http://127.0.0.1:1/api/v1/")
            .build()
            .unwrap();
        let d = format!("{c:?}");
        assert!(!d.contains("sk-very-secret"), "{d}");
        assert_eq!(c.base_url(), "http://127.0.0.1:1/api/v1");
    }

    #[test]
    fn bad_base_url() {
        assert!(matches!(
            Client::builder().base_url("not a url").build(),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            Client::builder().base_url("ftp://x").build(),
            Err(Error::Config(_))
        ));
    }

    #[tokio::test]
    async fn generate_rejects_binary_requests() {
        let c = Client::builder()
            .base_url("http://127.0.0.1:1")
            .build()
            .unwrap();
        let r = GenerateRequest::builder("m", "p")
            .return_binary(true)
            .build()
            .unwrap();
        let e = c.generate(&r).await.unwrap_err();
        assert!(matches!(e, Error::Validation(v) if v.field == "return_binary"));
        let r = GenerateRequest::builder("m", "p")
            .variants(2)
            .build()
            .unwrap();
        let e = c.generate_binary(&r).await.unwrap_err();
        assert!(matches!(e, Error::Validation(v) if v.field == "variants"));
    }

    #[test]
    fn from_env_error_names_both_vars() {
        // Only checks the message when no credential is set in this environment.
        if crate::env::CREDENTIAL_VARS
            .iter()
            .all(|v| std::env::var(v).is_err())
        {
            let e = Client::from_env().unwrap_err().to_string();
            assert!(
                e.contains("VENICE_API_KEY") && e.contains("VENICE_BASE_URL"),
                "{e}"
            );
        }
    }
}
