//! [`Client`] and [`ClientBuilder`]; the text-to-image and catalogue operations.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;
use tokio::sync::Mutex;
use tracing::{Instrument, field};
use venice_openapi::types;
use venice_openapi::{ClientState, ResponseValue, Uploads};

use crate::auth::Auth;
use crate::decode::{self, RawError};
use crate::edit_models::EditModel;
use crate::error::{Error, Result, ValidationError};
use crate::error_budget::{Bucket, LockoutPolicy};
use crate::format::Format;
use crate::generate::GenerateRequest;
use crate::image::{Generation, Image, ImageStream};
use crate::inflight::{DEFAULT_MAX_IN_FLIGHT, WalletSlots};
use crate::meta::{Response, ResponseMeta};
use crate::models::{Cost, ImageModel};
use crate::pacing::Pacer;
use crate::retry::RetryPolicy;
use crate::transport::{Call, Limits, Transport};

/// The public Venice API base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.venice.ai/api/v1";

/// Client of the Venice image API. Cheap to clone (shared state behind an `Arc`),
/// `Send + Sync`.
///
/// Every operation goes the same way: the request builder validates, the request is
/// sent through the generated client (`venice-openapi`) whose hooks add this attempt's
/// credentials, the retry policy decides on failures, and one decoder turns the answer
/// into a value or an [`Error`].
///
/// ```no_run
/// use venice_image::{Client, GenerateRequest, Size};
///
/// # async fn run() -> venice_image::Result<()> {
/// let client = Client::from_env()?; // VENICE_API_KEY, optional VENICE_BASE_URL
/// let req = GenerateRequest::builder("z-image-turbo", "a red fox in snow")
///     .size(Size::Pixels { width: 1024, height: 768 })
///     .build()?;
/// let generation = client.generate(&req).await?;
/// for path in generation.save_all("out").await? {
///     println!("saved {}", path.display());
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) transport: Transport,
    pub(crate) auth: Auth,
    pub(crate) model_validation: bool,
    models: Mutex<Option<Arc<Vec<ImageModel>>>>,
    pub(crate) edit_models: Mutex<Option<Arc<Vec<EditModel>>>>,
    #[cfg(feature = "wallet")]
    pub(crate) auto_top_up: venice_x402::topup::AutoTopUpState,
    /// The user's Solana JSON-RPC endpoint for top-ups; `None`: the provider's proxy.
    #[cfg(feature = "wallet")]
    solana_rpc: Option<reqwest::Url>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.transport.base_url())
            .field("auth", &self.inner.auth)
            .field("model_validation", &self.inner.model_validation)
            .finish_non_exhaustive()
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
    pub(crate) auto_top_up: Option<venice_x402::AutoTopUp>,
    #[cfg(feature = "wallet")]
    pub(crate) solana_rpc_url: Option<secrecy::SecretString>,
    max_response_bytes: u64,
    pacer: Option<Pacer>,
    on_lockout: LockoutPolicy,
    max_wallet_in_flight: usize,
    wallet_slots: Option<WalletSlots>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("pacer", &self.pacer)
            .field("on_lockout", &self.on_lockout)
            .field("max_wallet_in_flight", &self.max_wallet_in_flight)
            .finish_non_exhaustive()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        // Before the caller builds an HTTP client for `http_client`: reqwest (built
        // without a crypto provider of its own) panics in `build()` when none is
        // installed, and `Client::builder().http_client(reqwest::Client::builder()
        // .build()?)` evaluates this first.
        venice_openapi::ensure_crypto_provider();
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
            #[cfg(feature = "wallet")]
            solana_rpc_url: None,
            max_response_bytes: crate::limits::DEFAULT_MAX_RESPONSE_BYTES,
            pacer: None,
            on_lockout: LockoutPolicy::Wait,
            max_wallet_in_flight: DEFAULT_MAX_IN_FLIGHT,
            wallet_slots: None,
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
    ///
    /// reqwest is built without a rustls crypto provider of its own, so
    /// `reqwest::Client::builder().build()` panics in a process where none is installed
    /// yet. [`Client::builder`] installs one (rustls' `ring`, unless the application
    /// installed another first), so building the HTTP client after it, as below, is
    /// safe; elsewhere, start from [`raw::http_client_builder`](crate::raw::http_client_builder)
    /// or call [`raw::ensure_crypto_provider`](crate::raw::ensure_crypto_provider) first.
    ///
    /// ```no_run
    /// # fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use venice_image::{Client, raw::reqwest};
    ///
    /// let client = Client::builder()
    ///     .http_client(reqwest::Client::builder().https_only(true).build()?)
    ///     .build()?;
    /// # let _ = client; Ok(()) }
    /// ```
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Check requests against the model catalogue before sending (default true):
    /// generations against `GET /models?type=image` (sizing, prompt limit, ratios, tiers,
    /// qualities, style references), edits and multi-edits against `GET
    /// /models?type=inpaint` (model, prompt limit, input images, ratios, tiers,
    /// qualities).
    pub fn model_validation(mut self, on: bool) -> Self {
        self.model_validation = on;
        self
    }

    /// Largest response body accepted, counted after decompression (default
    /// [`DEFAULT_MAX_RESPONSE_BYTES`](crate::limits::DEFAULT_MAX_RESPONSE_BYTES), 1 GiB).
    /// Larger bodies, or a larger `Content-Length`, fail with
    /// [`Error::ResponseTooLarge`] before memory runs out.
    pub fn max_response_bytes(mut self, max: u64) -> Self {
        self.max_response_bytes = max;
        self
    }

    /// Pace the image operations with `pacer` (default: none): every attempt, retries
    /// included (the server counts each), first waits for a slot of its model's
    /// rate-limit budget instead of earning a 429, and its answer's `x-ratelimit-*`
    /// headers (or its 429) feed the budget. Share one pacer (clones share budgets) among
    /// every client of one API key; [`Pacer::with_redis`](crate::pacing::Pacer) shares it
    /// with other processes. Seed it with the account's limits
    /// ([`Pacer::seed_account_limits`]) so pacing starts right. Operations that name no
    /// model (upscale, background removal, and edits or OpenAI generations without one)
    /// are paced under the operation's id; the catalogue, account and wallet calls are
    /// not paced.
    pub fn pacing(mut self, pacer: Pacer) -> Self {
        self.pacer = Some(pacer);
        self
    }

    /// What to do before a request into an error-budget bucket the client knows is
    /// locked out (default [`LockoutPolicy::Wait`]): more than 50 failed requests (4xx
    /// but 429) in 30 s for the key (for wallets, this host) and model make the provider
    /// refuse every request of the bucket for 30 s. The client counts failures and reads
    /// the server's lockouts; it never sends into a lockout it knows of.
    pub fn on_lockout(mut self, policy: LockoutPolicy) -> Self {
        self.on_lockout = policy;
        self
    }

    /// Most requests signed by the wallet in flight at once (default
    /// [`DEFAULT_MAX_IN_FLIGHT`], the provider's cap of 5 per wallet; a sixth is refused
    /// with 429 `X402_CONCURRENCY_LIMIT`). Each signed exchange takes a slot and gives it
    /// back once its answer is read. With a Redis [`pacing`](Self::pacing), the slots are
    /// shared with every process of the wallet through the same Redis. Ignored unless the
    /// credentials are a wallet.
    pub fn max_wallet_in_flight(mut self, max: usize) -> Self {
        self.max_wallet_in_flight = max.max(1);
        self
    }

    /// Share the wallet's in-flight slots with other clients of the same wallet in this
    /// process (clones of one [`WalletSlots`] share them); replaces
    /// [`max_wallet_in_flight`](Self::max_wallet_in_flight).
    pub fn wallet_slots(mut self, slots: WalletSlots) -> Self {
        self.wallet_slots = Some(slots);
        self
    }

    /// Build the client.
    pub fn build(self) -> Result<Client> {
        let base_url = self.base_url.trim().trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base_url)
            .map_err(|e| Error::config_with(format!("invalid base URL {base_url:?}"), e))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::config(format!(
                "base URL must be http(s), got {base_url:?}"
            )));
        }
        let http = match self.http_client {
            Some(c) => c,
            None => {
                venice_openapi::ensure_crypto_provider();
                let mut b = reqwest::Client::builder()
                    .connect_timeout(self.connect_timeout)
                    .user_agent(self.user_agent)
                    .gzip(true)
                    .brotli(true);
                if let Some(t) = self.timeout {
                    b = b.timeout(t);
                }
                b.build()
                    .map_err(|e| Error::config_with("cannot build the HTTP client", e))?
            }
        };
        #[cfg(feature = "wallet")]
        let solana_rpc = self
            .solana_rpc_url
            .as_ref()
            .map(|url| solana_rpc_url(secrecy::ExposeSecret::expose_secret(url)))
            .transpose()?;
        let state = ClientState::anonymous()
            .auth(self.auth.request_auth())
            .max_response_bytes(self.max_response_bytes);
        let wallet_slots = self.auth.signs_with_wallet().then(|| {
            self.wallet_slots.clone().unwrap_or_else(|| {
                #[cfg(feature = "redis")]
                if let Some(pacer) = self.pacer.as_ref().filter(|p| p.is_shared()) {
                    return WalletSlots::shared(pacer, self.max_wallet_in_flight);
                }
                WalletSlots::new(self.max_wallet_in_flight)
            })
        });
        let limits = Limits {
            bucket: self
                .auth
                .budget_holder()
                .map(|holder| Bucket::new(Arc::from(base_url.as_str()), holder)),
            pacer: self.pacer,
            on_lockout: self.on_lockout,
            wallet_slots,
        };
        let transport = Transport::new(
            base_url,
            http,
            state,
            self.retry,
            self.auth.is_single_use(),
            limits,
        );
        Ok(Client {
            inner: Arc::new(Inner {
                transport,
                auth: self.auth,
                model_validation: self.model_validation,
                models: Mutex::new(None),
                edit_models: Mutex::new(None),
                #[cfg(feature = "wallet")]
                auto_top_up: venice_x402::topup::AutoTopUpState::new(self.auto_top_up),
                #[cfg(feature = "wallet")]
                solana_rpc,
            }),
        })
    }
}

/// The user's Solana RPC URL, parsed; errors never repeat it (it may hold an API key).
#[cfg(feature = "wallet")]
fn solana_rpc_url(url: &str) -> Result<reqwest::Url> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| {
        Error::config_with(
            "the Solana RPC URL (VENICE_SOLANA_RPC_URL / solana_rpc_url) is not a valid URL",
            e,
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::config(
            "the Solana RPC URL (VENICE_SOLANA_RPC_URL / solana_rpc_url) must be http(s)",
        ));
    }
    Ok(parsed)
}

impl Client {
    /// A builder with defaults.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from the environment: exactly one of `VENICE_API_KEY`,
    /// `VENICE_WALLET_PRIVATE_KEY` (EVM hex key), `VENICE_SOLANA_KEYPAIR` (base58 or
    /// JSON array) or `VENICE_SIWX_HEADER` (the wallet ones need the `wallet`
    /// feature), and optionally `VENICE_BASE_URL` and (feature `wallet`)
    /// `VENICE_SOLANA_RPC_URL`, the Solana JSON-RPC endpoint of Solana top-ups (see
    /// [`ClientBuilder::solana_rpc_url`]).
    #[cfg_attr(
        not(feature = "wallet"),
        doc = "",
        doc = "[`ClientBuilder::solana_rpc_url`]: https://docs.rs/venice-image/latest/venice_image/struct.ClientBuilder.html#method.solana_rpc_url"
    )]
    pub fn from_env() -> Result<Client> {
        let auth = Auth::from_env()?;
        let mut b = Client::builder().auth(auth);
        if let Ok(url) = std::env::var("VENICE_BASE_URL")
            && !url.trim().is_empty()
        {
            b = b.base_url(url);
        }
        #[cfg(feature = "wallet")]
        if let Ok(url) = std::env::var(crate::env::SOLANA_RPC_URL)
            && !url.trim().is_empty()
        {
            b = b.solana_rpc_url(url);
        }
        b.build()
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        self.inner.transport.base_url()
    }

    /// The generated low-level client, with this client's credentials and response
    /// cap (for operations the facade does not wrap).
    pub fn raw(&self) -> &venice_openapi::Client {
        self.inner.transport.raw()
    }

    /// Send one request of the generated client through this client: its credentials
    /// (signed per attempt), retry policy, automatic top-up and typed [`Error`]s. For
    /// operations this crate does not wrap, or to keep an answer exactly as sent (a
    /// [`BodyCopy`](venice_openapi::BodyCopy) in the state of the client `send` gets).
    ///
    /// `send` is called once per attempt with this call's generated client; it builds
    /// the request with the generated builder and sends it. Not paced: a
    /// [`Pacer`] budgets image models, and `send_raw` does not know the model.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (url, key) = ("https://api.venice.ai/api/v1", "your-api-key");
    /// use venice_image::raw::types::ModelTypeFilter;
    /// use venice_image::raw::{BodyCopy, ClientInfo as _};
    /// use venice_image::{Auth, Client};
    ///
    /// let client = Client::builder().base_url(url).auth(Auth::api_key(key)).build()?;
    /// // The upscale models, which the facade's catalogue (image models) leaves out.
    /// let upscalers = client
    ///     .send_raw(|raw| async move { raw.list_models().type_(ModelTypeFilter::Upscale).send().await })
    ///     .await?
    ///     .into_inner();
    /// assert!(!upscalers.data.is_empty());
    ///
    /// // The whole catalogue exactly as the server sent it.
    /// let copy = BodyCopy::new();
    /// client
    ///     .send_raw(|raw| {
    ///         let state = raw.inner().clone().copy_body(copy.clone());
    ///         let raw = venice_image::raw::Client::new_with_client(raw.baseurl(), raw.client().clone(), state);
    ///         async move { raw.list_models().type_(ModelTypeFilter::All).send().await }
    ///     })
    ///     .await?;
    /// let catalogue: serde_json::Value = serde_json::from_slice(&copy.take())?;
    /// assert_eq!(catalogue["object"], "list");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send_raw<T, F, Fut>(&self, send: F) -> Result<ResponseValue<T>>
    where
        T: 'static,
        F: Fn(venice_openapi::Client) -> Fut,
        Fut: Future<
            Output = std::result::Result<
                ResponseValue<T>,
                venice_openapi::Error<types::VeniceError>,
            >,
        >,
    {
        let call = self.call(Uploads::new());
        self.send(&call, || send(call.raw().clone())).await
    }

    /// The pacer of this client's image operations, if it paces
    /// ([`ClientBuilder::pacing`]).
    pub fn pacer(&self) -> Option<&Pacer> {
        self.inner.transport.pacer()
    }

    /// The wallet's in-flight slots, when the client signs with a wallet
    /// ([`ClientBuilder::max_wallet_in_flight`]).
    pub fn wallet_slots(&self) -> Option<&WalletSlots> {
        self.inner.transport.wallet_slots()
    }

    /// The last `x-venice-balance-usd` the server reported to this client: the wallet's
    /// x402 credit (or the API-key account's USD) after a paid call.
    pub fn last_balance_usd(&self) -> Option<f64> {
        self.inner.transport.last_balance()
    }

    /// A call through the generated client, streaming `uploads`.
    pub(crate) fn call(&self, uploads: Uploads) -> Call {
        self.inner.transport.call(uploads)
    }

    /// Send through `call` with the retry policy and, for a wallet that runs out of
    /// credit, one automatic top-up within its cap (feature `wallet`).
    pub(crate) async fn send<T, F, Fut>(&self, call: &Call, send: F) -> Result<ResponseValue<T>>
    where
        T: 'static,
        F: Fn() -> Fut,
        Fut: Future<Output = std::result::Result<ResponseValue<T>, RawError>>,
    {
        #[cfg(feature = "wallet")]
        {
            let mut topped_up = false;
            loop {
                match self.inner.transport.run(call, &send).await {
                    Err(e) if !topped_up => {
                        if !crate::topup::auto_top_up_after(
                            self.payer(),
                            &self.inner.auto_top_up,
                            &e,
                        )
                        .await?
                        {
                            return Err(e);
                        }
                        topped_up = true;
                    }
                    done => return done,
                }
            }
        }
        #[cfg(not(feature = "wallet"))]
        self.inner.transport.run(call, send).await
    }

    /// What the x402 payment flows need of this client.
    #[cfg(feature = "wallet")]
    pub(crate) fn payer(&self) -> crate::topup::Payer<'_> {
        crate::topup::Payer {
            transport: &self.inner.transport,
            auth: &self.inner.auth,
            solana_rpc: self.inner.solana_rpc.as_ref(),
        }
    }

    async fn preflight(&self, req: &GenerateRequest) -> Result<()> {
        if !self.inner.model_validation {
            return Ok(());
        }
        match self.image_models().await {
            Ok(models) => ImageModel::find(&models, req.model(), "model")?.validate(req),
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

    /// `POST /image/generate` with `wire` as the body.
    async fn send_generate(
        &self,
        wire: &types::GenerateImageRequest,
    ) -> Result<ResponseValue<venice_openapi::ByteStream>> {
        let call = self
            .call(Uploads::new())
            .paced(wire.model.as_str())
            .budgeted(Some(wire.model.as_str()), None);
        self.send(&call, || {
            call.raw().generate_image().body(wire.clone()).send()
        })
        .await
    }

    /// Generate images, JSON mode: all images decoded in memory while the answer
    /// arrives.
    ///
    /// Fails with a validation error for `return_binary` requests (use
    /// [`generate_binary`](Self::generate_binary)).
    pub async fn generate(&self, req: &GenerateRequest) -> Result<Response<Generation>> {
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
            let response = self.send_generate(req.wire()).await?;
            let status = response.status().as_u16();
            let meta = ResponseMeta::from_headers(status, response.headers());
            let declared = decode::declared_length(response.headers());
            let fallback = req.output_format().unwrap_or(Format::Webp);
            let content_type = content_type(response.headers());
            let (id, timing, images) = if let Some(fmt) = Format::from_mime(&content_type) {
                // The server answered with a binary image although JSON was asked for.
                let body = decode::read_stream(response.into_inner(), declared).await?;
                let id = meta.request_id.clone().unwrap_or_default();
                (id.clone(), None, vec![Image::new(body.into(), fmt, 0, &id)])
            } else {
                let d = decode::decode_generation_stream(response.into_inner(), declared).await?;
                let images = d
                    .images
                    .into_iter()
                    .enumerate()
                    .map(|(i, b)| Image::new(b, fallback, i, &d.id))
                    .collect();
                (d.id, d.timing, images)
            };
            let generation = Generation::new(id, timing, images);
            Ok(Response::new(generation, meta, start.elapsed()))
        }
        .instrument(span)
        .await
    }

    /// Generate one image, binary mode: the body is not read until you call
    /// [`ImageStream::save`] (streams to disk) or [`ImageStream::into_image`].
    ///
    /// Forces `return_binary: true`; `variants` must be 1.
    pub async fn generate_binary(&self, req: &GenerateRequest) -> Result<Response<ImageStream>> {
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
            let response = self.send_generate(req.wire()).await?;
            let status = response.status().as_u16();
            let meta = ResponseMeta::from_headers(status, response.headers());
            let content_type = content_type(response.headers());
            if content_type.to_ascii_lowercase().contains("json") {
                return Err(Error::Decode {
                    what: format!("binary image (server sent {content_type})"),
                    source: None,
                });
            }
            let format = Format::from_mime(&content_type)
                .or(req.output_format())
                .unwrap_or(Format::Webp);
            let stream = ImageStream::new(
                format,
                decode::declared_length(response.headers()),
                meta.request_id(),
                response.into_inner(),
            );
            Ok(Response::new(stream, meta, start.elapsed()))
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
            let call = self.call(Uploads::new());
            let styles = self
                .send(&call, || call.raw().list_image_styles().send())
                .await?;
            Ok(styles.into_inner().data)
        }
        .instrument(span)
        .await
    }

    /// The image model catalogue, fetched once and cached in the client.
    pub async fn image_models(&self) -> Result<Arc<Vec<ImageModel>>> {
        cached(&self.inner.models, || self.fetch_models()).await
    }

    /// Fetch the catalogue again and replace the cached one.
    pub async fn refresh_image_models(&self) -> Result<Arc<Vec<ImageModel>>> {
        let models = Arc::new(self.fetch_models().await?);
        *self.inner.models.lock().await = Some(models.clone());
        Ok(models)
    }

    async fn fetch_models(&self) -> Result<Vec<ImageModel>> {
        let list = self.model_list(types::ModelTypeFilter::Image).await?;
        Ok(ImageModel::from_list(list))
    }

    /// `GET /models?type=…` through the retry loop.
    pub(crate) async fn model_list(
        &self,
        filter: types::ModelTypeFilter,
    ) -> Result<types::ModelList> {
        let span = tracing::info_span!(
            "venice.models",
            operation = "list_models",
            model_type = %filter,
            status = field::Empty,
            attempt = field::Empty
        );
        async {
            let call = self.call(Uploads::new());
            let list = self
                .send(&call, || call.raw().list_models().type_(filter).send())
                .await?;
            Ok(list.into_inner())
        }
        .instrument(span)
        .await
    }

    /// Check `req` against its model's catalogue constraints (sizing mode, divisor,
    /// prompt limit, ratios, tiers, qualities, style references).
    pub async fn validate_for_model(&self, req: &GenerateRequest) -> Result<()> {
        let models = self.image_models().await?;
        ImageModel::find(&models, req.model(), "model")?.validate(req)
    }

    /// Estimate the cost of `req` from the catalogue pricing.
    pub async fn estimate_cost(&self, req: &GenerateRequest) -> Result<Cost> {
        let models = self.image_models().await?;
        ImageModel::find(&models, req.model(), "model")?.estimate_cost(req)
    }
}

/// The value in `slot`, or `fetch`'s (then kept there): a catalogue fetched once per
/// client. The lock is held while fetching, so concurrent first calls fetch once. The
/// fetch is boxed: it runs once per client, and inlined it nests the whole request
/// machinery into every operation's future (past the compiler's layout depth limit in
/// callers that nest futures themselves).
pub(crate) async fn cached<'a, T, F>(
    slot: &Mutex<Option<Arc<T>>>,
    fetch: impl FnOnce() -> F,
) -> Result<Arc<T>>
where
    F: Future<Output = Result<T>> + Send + 'a,
{
    let mut guard = slot.lock().await;
    if let Some(value) = guard.as_ref() {
        return Ok(value.clone());
    }
    let fetch: std::pin::Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>> = Box::pin(fetch());
    let value = Arc::new(fetch.await?);
    *guard = Some(value.clone());
    Ok(value)
}

/// The `Content-Type` of a response, or an empty string.
pub(crate) fn content_type(headers: &reqwest::header::HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
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
    fn bad_base_url_keeps_the_parse_error() {
        let e = Client::builder().base_url("not a url").build().unwrap_err();
        assert!(matches!(e, Error::Config { .. }));
        assert!(std::error::Error::source(&e).is_some(), "{e:?}");
        assert!(matches!(
            Client::builder().base_url("ftp://x").build(),
            Err(Error::Config { .. })
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
        assert!(matches!(e, Error::Validation(ref v) if v.field == "return_binary"));
        let r = GenerateRequest::builder("m", "p")
            .variants(2)
            .build()
            .unwrap();
        let e = c.generate_binary(&r).await.unwrap_err();
        assert!(matches!(e, Error::Validation(ref v) if v.field == "variants"));
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
