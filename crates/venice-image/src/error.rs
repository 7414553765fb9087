//! Every error type of the crate, at the bottom of its module layers: [`Error`],
//! [`ValidationError`], [`ApiError`], [`ErrorCode`], [`PaymentRequired`],
//! [`PaymentRequiredKind`], [`RateLimitKind`], [`Lockout`], [`TimeoutPhase`].

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use venice_openapi::types::{VeniceError, X402PaymentRequired};

use crate::meta::{ResponseMeta, serialize_secs};
#[cfg(feature = "wallet")]
pub(crate) use venice_x402::{SvmError, WalletError};

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed error cause.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request rule that was broken: which field, and what the rule is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("`{field}`: {rule}")]
#[non_exhaustive]
pub struct ValidationError {
    /// The request field (wire name), e.g. `width` or `style_references[0].strength`.
    pub field: Cow<'static, str>,
    /// The rule, e.g. `must be in 1..=1280, got 2000`.
    pub rule: String,
}

impl ValidationError {
    /// A new error for `field`.
    pub fn new(field: impl Into<Cow<'static, str>>, rule: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            rule: rule.into(),
        }
    }
}

/// Which part of an HTTP exchange ran out of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutPhase {
    /// Connecting to the server (nothing was sent).
    Connect,
    /// Sending the request or waiting for the response headers.
    Headers,
    /// Reading the response body.
    Body,
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Connect => "connecting",
            TimeoutPhase::Headers => "waiting for the response",
            TimeoutPhase::Body => "reading the response body",
        })
    }
}

/// Everything that can go wrong in a call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request was rejected before sending (builder rules or model constraints).
    #[error("invalid request: {0}")]
    Validation(#[from] ValidationError),
    /// The API answered with an error status (other than 402 and the 429s of a limit).
    /// Match on the status or the code; the rest of the answer is in `error`. A 429
    /// `X402_CONCURRENCY_LIMIT` is one of these: the wallet has its five requests in
    /// flight (the client waits a moment and sends again); it is not a rate limit:
    ///
    /// ```
    /// # fn handle(result: venice_image::Result<()>) {
    /// use venice_image::{Error, ErrorCode};
    ///
    /// match result {
    ///     Err(Error::Api { code: ErrorCode::ModelAtCapacity, .. }) => { /* try later */ }
    ///     Err(Error::Api { status: 400, error, .. }) => eprintln!("{:?}", error.details()),
    ///     _ => {}
    /// }
    /// # }
    /// ```
    #[error("{error}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Venice error code (from the body, else inferred from the status).
        code: ErrorCode,
        /// The whole error answer.
        error: Box<ApiError>,
    },
    /// The API asked for payment or credit (HTTP 402).
    #[error("{error}")]
    PaymentRequired {
        /// Which kind of 402 this is (account balance, wallet credit, x402 discovery).
        kind: PaymentRequiredKind,
        /// The whole answer, with the accepted payments.
        error: Box<PaymentRequired>,
    },
    /// A limit refused the call (HTTP 429) and retries did not help (or the wait the
    /// server asked for is above the policy's
    /// [`max_delay`](crate::RetryPolicyBuilder::max_delay); `retry_after` says how long).
    #[error("rate limited ({kind}{}): {error}", retry_after.map(|d| format!(", the server asked to wait {}", seconds(d))).unwrap_or_default())]
    RateLimited {
        /// How long the server asked to wait, if it said (`Retry-After`, or the window's
        /// reset).
        retry_after: Option<Duration>,
        /// Which limit.
        kind: RateLimitKind,
        /// The error answer.
        error: Box<ApiError>,
    },
    /// The provider's error budget of the request's bucket is exhausted: more than 50
    /// failed requests (any 4xx but 429) in 30 s for this API key (or, for wallets, this
    /// host) and model, so every request of the bucket is refused with 429 until the
    /// lockout ends. Slowing down does not help; fixing what fails does. The client waits
    /// through a lockout it knows of, or fails fast with this error, as
    /// [`ClientBuilder::on_lockout`](crate::ClientBuilder::on_lockout) says.
    #[error("{0}")]
    ErrorBudgetExhausted(Box<Lockout>),
    /// The request timed out.
    #[error("request timed out while {phase}")]
    Timeout {
        /// Where it timed out.
        phase: TimeoutPhase,
        /// The underlying error, when the HTTP client reported one.
        #[source]
        source: Option<BoxError>,
    },
    /// The connection failed or broke.
    #[error("transport error")]
    Transport(#[source] reqwest::Error),
    /// Credentials could not be added to the request (a signer that failed or timed
    /// out, a single-use header used twice, credentials the operation does not accept).
    /// Nothing was sent.
    #[error("authentication failed")]
    Auth(#[source] venice_openapi::AuthError),
    /// A response could not be decoded.
    #[error("could not decode {what}")]
    Decode {
        /// What was being decoded.
        what: String,
        /// The underlying error, if any.
        #[source]
        source: Option<BoxError>,
    },
    /// The response body exceeded
    /// [`ClientBuilder::max_response_bytes`](crate::ClientBuilder::max_response_bytes)
    /// (counted after decompression, or announced by `Content-Length`).
    #[error("response body larger than the limit of {limit} bytes{}", declared.map(|n| format!(" (Content-Length {n})")).unwrap_or_default())]
    ResponseTooLarge {
        /// The limit in force.
        limit: u64,
        /// The `Content-Length` the server announced, if any.
        declared: Option<u64>,
    },
    /// Reading or writing a file failed; the message names the file and the cause.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A wallet key, signature or payment problem (feature `wallet`).
    #[cfg(feature = "wallet")]
    #[cfg_attr(docsrs, doc(cfg(feature = "wallet")))]
    #[error("wallet error")]
    Wallet(#[from] WalletError),
    /// The client is misconfigured (no or ambiguous credentials, a bad base URL, an
    /// HTTP client that cannot be built...).
    #[error("configuration error: {what}")]
    Config {
        /// What is wrong (never contains a secret).
        what: String,
        /// The underlying error, if any.
        #[source]
        source: Option<BoxError>,
    },
}

impl Error {
    /// HTTP status of an API error (`Api`, `PaymentRequired`, `RateLimited`), a number
    /// like the `status` field of [`Error::Api`], so that it matches as a literal
    /// (`Some(404)`). A status is `Copy`; the [`code`](Self::code) is borrowed because an
    /// unknown one holds its text.
    pub fn status(&self) -> Option<u16> {
        self.api_error().map(|a| a.status)
    }

    /// Venice error code of an API error ([`ErrorCode::NoCode`] when the answer carried
    /// none), borrowed: match it as `Some(ErrorCode::ModelNotFound)` or
    /// `Some(ErrorCode::NoCode)`.
    pub fn code(&self) -> Option<&ErrorCode> {
        self.api_error().map(|a| &a.code)
    }

    /// The API error behind `Api`, `PaymentRequired`, `RateLimited` and an answered
    /// `ErrorBudgetExhausted`.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api { error, .. } | Error::RateLimited { error, .. } => Some(error),
            Error::PaymentRequired { error, .. } => Some(&error.api),
            Error::ErrorBudgetExhausted(lockout) => lockout.answer.as_ref(),
            _ => None,
        }
    }

    /// Whether this is the provider's 401 "Admin API key required": an INFERENCE key on
    /// an operation that needs an ADMIN key (`GET /billing/balance`). The key itself is
    /// valid; it may still call inference and [`Client::account_limits`](crate::Client::account_limits).
    pub fn is_admin_key_required(&self) -> bool {
        self.api_error().is_some_and(|a| {
            a.status == 401
                && a.message
                    .to_ascii_lowercase()
                    .contains("admin api key required")
        })
    }

    /// Whether retrying cannot have been charged and may succeed: rate limits (not
    /// insufficient balance), a lockout (after it ends), a busy wallet, 503, and
    /// connections that never reached the server.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::ErrorBudgetExhausted(_) => true,
            Error::RateLimited { error, .. } => error.code != ErrorCode::InsufficientBalance,
            Error::Api { status, code, .. } => {
                *status == 503 || (*status == 429 && *code != ErrorCode::InsufficientBalance)
            }
            Error::Transport(e) => e.is_connect(),
            Error::Timeout { phase, .. } => *phase == TimeoutPhase::Connect,
            _ => false,
        }
    }

    /// Whether the failed call may nevertheless have been charged, so that repeating it
    /// may pay twice: the request may have reached the server and been processed.
    ///
    /// True for 500/502/504 (the server may have rendered before failing), timeouts and
    /// broken connections after connecting (the request may have been sent), any
    /// failure reading or decoding a response body (a 200 cut short or garbled is
    /// charged), and an edit's content-policy 422 ([`ErrorCode::ContentPolicyViolation`]):
    /// the provider normally does not charge it, but does when its own moderation
    /// blocks an image the model already made, and the answer does not say which.
    /// False for what the server refused before doing paid work (other 4xx incl. 401,
    /// 402, 429; 503), for connections that never reached it, and for local validation,
    /// configuration, authentication, I/O and wallet errors.
    pub fn may_have_been_charged(&self) -> bool {
        match self {
            Error::Api {
                status: 422,
                code: ErrorCode::ContentPolicyViolation,
                ..
            } => true,
            Error::Api { status, .. } => matches!(status, 500 | 502 | 504),
            Error::Timeout { phase, .. } => *phase != TimeoutPhase::Connect,
            Error::Decode { .. } | Error::ResponseTooLarge { .. } => true,
            Error::Transport(e) => !e.is_connect(),
            _ => false,
        }
    }

    /// Whether the call timed out (in any phase).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// An error while sending a request or waiting for its headers.
    pub(crate) fn from_send(e: reqwest::Error) -> Self {
        if !e.is_timeout() {
            return Error::Transport(e);
        }
        let phase = if e.is_connect() {
            TimeoutPhase::Connect
        } else {
            TimeoutPhase::Headers
        };
        Error::Timeout {
            phase,
            source: Some(Box::new(e)),
        }
    }

    /// An error while reading a response body.
    pub(crate) fn from_body_read(e: reqwest::Error) -> Self {
        if let Some(t) = find_source::<venice_openapi::ResponseTooLarge>(&e) {
            return Error::ResponseTooLarge {
                limit: t.limit,
                declared: t.declared,
            };
        }
        if e.is_timeout() {
            Error::Timeout {
                phase: TimeoutPhase::Body,
                source: Some(Box::new(e)),
            }
        } else if e.is_decode() {
            Error::Decode {
                what: "response body".into(),
                source: Some(Box::new(e)),
            }
        } else {
            Error::Transport(e)
        }
    }

    pub(crate) fn decode(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Decode {
            what: what.into(),
            source: Some(Box::new(source)),
        }
    }

    /// A response that could not be decoded for a reason of its own (no cause to chain).
    pub(crate) fn undecodable(what: impl Into<String>) -> Self {
        Error::Decode {
            what: what.into(),
            source: None,
        }
    }

    pub(crate) fn config(what: impl Into<String>) -> Self {
        Error::Config {
            what: what.into(),
            source: None,
        }
    }

    pub(crate) fn config_with(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Config {
            what: what.into(),
            source: Some(Box::new(source)),
        }
    }
}

/// The first error of type `T` in `e`'s source chain (including `e`).
pub(crate) fn find_source<'a, T: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    std::iter::successors(Some(e), |err| err.source()).find_map(|err| err.downcast_ref::<T>())
}

/// Which limit answered a 429 ([`Error::RateLimited`]). Each asks for a different wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RateLimitKind {
    /// The model's request window for this key (or wallet) is used up
    /// (`x-ratelimit-remaining-requests: 0`, "Rate limit exceeded"): the window's reset
    /// says when to send again.
    ModelWindow,
    /// The model is overloaded: the server asked to wait `Retry-After` (typically 30 s).
    Overloaded,
    /// The crypto RPC proxy's per-minute cap (`X-RateLimit-Reset`, Unix seconds).
    CryptoRpc,
    /// A route's own limiter, whose 429 carries no rate-limit header: `/x402/top-up`
    /// (10 per minute per IP), `/x402/balance` (30 per minute per wallet),
    /// `/x402/transactions` (20 per minute per wallet); also any 429 nothing explains.
    Route,
}

impl fmt::Display for RateLimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RateLimitKind::ModelWindow => "the model's request window is used up",
            RateLimitKind::Overloaded => "the model is overloaded",
            RateLimitKind::CryptoRpc => "the crypto RPC proxy's per-minute cap",
            RateLimitKind::Route => "the route's own limit",
        })
    }
}

/// A lockout of the provider's error budget ([`Error::ErrorBudgetExhausted`]): which
/// bucket, how long it lasts, and the server's answer when the request was sent (the
/// client does not send a request it knows would land in a locked bucket, when asked to
/// fail fast).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Lockout {
    pub(crate) model: Option<String>,
    #[serde(rename = "retry_after_secs", serialize_with = "serialize_secs")]
    pub(crate) retry_after: Option<Duration>,
    pub(crate) answer: Option<ApiError>,
}

impl Lockout {
    /// The model of the locked bucket (`None`: the bucket of requests that name none, such
    /// as multipart uploads).
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// How long the lockout still lasts, when known.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The server's 429, when the request was sent (`None`: refused by the client).
    pub fn api_error(&self) -> Option<&ApiError> {
        self.answer.as_ref()
    }
}

impl fmt::Display for Lockout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bucket = match &self.model {
            Some(m) => format!("model {m}"),
            None => "requests naming no model".to_owned(),
        };
        write!(
            f,
            "the error budget of {bucket} is exhausted (more than 50 failed requests in 30 s): \
             the server refuses every request of it"
        )?;
        if let Some(wait) = self.retry_after {
            write!(f, " for another {}", seconds(wait))?;
        }
        match &self.answer {
            Some(api) => write!(f, ": {api}"),
            None => f.write_str("; not sent"),
        }
    }
}

/// A wait as people read it: `30 s`, `2.5 s`.
pub(crate) fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if (s - s.round()).abs() < 0.05 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

/// An error answer of the API: status, Venice code, message, details, request id, a
/// body excerpt and the response metadata. Read it through [`Error::api_error`] or the
/// `error` of [`Error::Api`] / [`Error::RateLimited`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ApiError {
    pub(crate) status: u16,
    pub(crate) code: ErrorCode,
    pub(crate) message: String,
    pub(crate) details: Option<Value>,
    pub(crate) request_id: Option<String>,
    pub(crate) body_excerpt: String,
    #[serde(rename = "retry_after_secs", serialize_with = "serialize_secs")]
    pub(crate) retry_after: Option<Duration>,
    pub(crate) meta: ResponseMeta,
}

impl ApiError {
    /// HTTP status, a number as in [`Error::status`].
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Venice error code (from the body, else inferred from the status, else
    /// [`ErrorCode::NoCode`]), borrowed as in [`Error::code`].
    pub fn code(&self) -> &ErrorCode {
        &self.code
    }

    /// Human-readable message (`error` or `message` of the body, else the status text).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Validation details (`details`, or `issues` when there are no details).
    pub fn details(&self) -> Option<&Value> {
        self.details.as_ref()
    }

    /// Request id from the headers.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The body as the server sent it, for diagnostics: at most
    /// [`MAX_ERROR_BODY_EXCERPT`](crate::limits::MAX_ERROR_BODY_EXCERPT) bytes (an HTML
    /// page as its text, a JSON body as JSON).
    pub fn body_excerpt(&self) -> &str {
        &self.body_excerpt
    }

    /// How long the server asked to wait (`Retry-After`, or the reset a 429's rate-limit
    /// headers name: the model window's or the error budget's).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Metadata of the error response.
    pub fn meta(&self) -> &ResponseMeta {
        &self.meta
    }

    /// Every header of the error response as the server sent it
    /// ([`ResponseMeta::headers`]).
    pub fn headers(&self) -> &reqwest::header::HeaderMap {
        self.meta.headers()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            // "API error 404: Not Found", not "API error 404 no code: Not Found".
            ErrorCode::NoCode => write!(f, "API error {}: {}", self.status, self.message)?,
            code => write!(f, "API error {} {code}: {}", self.status, self.message)?,
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request {id})")?;
        }
        Ok(())
    }
}

/// Which kind of 402 this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PaymentRequiredKind {
    /// An API-key account cannot pay, or the key's own spend limit is used up: the
    /// provider's 402 with no `code` ("Insufficient USD or Diem balance…", "API key USD
    /// spend limit exceeded…"), or the older coded ones (`INSUFFICIENT_BALANCE`,
    /// `API_KEY_*_LIMIT_EXCEEDED`). Add funds or raise the key's limit at venice.ai; a
    /// wallet top-up does not help.
    AccountBalance,
    /// A wallet (SIWX) has too little x402 credit (`PAYMENT_REQUIRED`): top up with
    /// `Client::top_up`.
    WalletCredit,
    /// x402 discovery (no wallet, e.g. `POST /x402/top-up` without payment): the
    /// accepted payments.
    Discovery,
}

/// A 402: payment or credit required. The body decoded into the generated
/// [`VeniceError`] (read through [`body`](Self::body) or `Deref`, as in
/// `payment.minimum_top_up_usd`), the decoded
/// `PAYMENT-REQUIRED` header in [`payment_required_header`](Self::payment_required_header),
/// and (feature `wallet`) the accepted payments of both in `requirements`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct PaymentRequired {
    pub(crate) api: ApiError,
    pub(crate) body: VeniceError,
    pub(crate) payment_required_header: Option<X402PaymentRequired>,
    /// Whether the body named a code (`code`, or a code in `error`); the API error's
    /// code is otherwise inferred from the status.
    #[serde(skip)]
    pub(crate) coded: bool,
}

impl PaymentRequired {
    /// The error answer (status, code, message, metadata).
    pub fn api_error(&self) -> &ApiError {
        &self.api
    }

    /// The body as the generated type decodes it (the fields a 402 may carry: `accepts`,
    /// `siwxChallenge`, `topUpInstructions`, balances...), also read through `Deref`.
    pub fn body(&self) -> &VeniceError {
        &self.body
    }

    /// The `PAYMENT-REQUIRED` header, base64-decoded into the x402 payment requirements.
    pub fn payment_required_header(&self) -> Option<&X402PaymentRequired> {
        self.payment_required_header.as_ref()
    }

    /// The accepted payments, from the `PAYMENT-REQUIRED` header when it has any, else
    /// from the body; a discovery 402's options are priced at the minimum top-up.
    #[cfg(feature = "wallet")]
    #[cfg_attr(docsrs, doc(cfg(feature = "wallet")))]
    pub fn requirements(&self) -> Option<venice_x402::PaymentRequirements> {
        venice_x402::PaymentRequirements::of_402(
            self.payment_required_header.as_ref(),
            &self.body,
            self.kind() == PaymentRequiredKind::Discovery,
        )
    }

    /// Which of the 402 shapes this is, from the body alone. A 402 with no `code` and
    /// nothing to pay with (no `accepts`, no `PAYMENT-REQUIRED`, no wallet fields) is
    /// the provider's plain API-key 402 ("Insufficient USD or Diem balance…", or a
    /// key's spend limit): [`PaymentRequiredKind::AccountBalance`]. The client knows the
    /// credential it sent and reads such a 402 on a wallet request as wallet credit.
    pub fn kind(&self) -> PaymentRequiredKind {
        let code = self.api.code.as_str();
        if self.api.code == ErrorCode::InsufficientBalance
            || (code.starts_with("API_KEY_") && code.ends_with("_LIMIT_EXCEEDED"))
        {
            PaymentRequiredKind::AccountBalance
        } else if self.body.reason.is_some()
            || self.body.top_up_instructions.is_some()
            || self.body.siwx_challenge.is_some()
            || self.body.current_balance_usd.is_some()
        {
            PaymentRequiredKind::WalletCredit
        } else if self.is_bare() {
            PaymentRequiredKind::AccountBalance
        } else {
            PaymentRequiredKind::Discovery
        }
    }

    /// No `code` and nothing to pay with: only a message.
    fn is_bare(&self) -> bool {
        !self.coded && self.body.accepts.is_empty() && self.payment_required_header.is_none()
    }

    /// The kind of this 402 answered to a request sent with `scheme`: a bare 402 (see
    /// [`kind`](Self::kind)) is the account's balance on a Bearer request and the
    /// wallet's credit on a wallet request.
    pub(crate) fn kind_for(&self, scheme: Option<venice_openapi::Scheme>) -> PaymentRequiredKind {
        match (self.kind(), scheme) {
            (PaymentRequiredKind::AccountBalance, Some(venice_openapi::Scheme::Siwx))
                if self.is_bare() =>
            {
                PaymentRequiredKind::WalletCredit
            }
            (kind, _) => kind,
        }
    }
}

/// The body's fields (`reason`, `accepts`, `minimum_top_up_usd`, `siwx_challenge`...)
/// read as the generated type's, with its docs.
impl std::ops::Deref for PaymentRequired {
    type Target = VeniceError;

    fn deref(&self) -> &VeniceError {
        &self.body
    }
}

impl fmt::Display for PaymentRequired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "payment required: {}", self.api)
    }
}

macro_rules! codes {
    ($($variant:ident => $s:literal, $doc:literal;)*) => {
        /// A Venice error code. Codes are open: unknown ones are kept in `Unknown`; an
        /// answer that carries none (and whose status implies none, such as a bare 404)
        /// is `NoCode`:
        ///
        /// ```
        /// # fn handle(e: &venice_image::Error) {
        /// use venice_image::{Error, ErrorCode};
        ///
        /// match e {
        ///     Error::Api { status: 404, code: ErrorCode::NoCode, .. } => { /* wrong base URL? */ }
        ///     Error::Api { code: ErrorCode::Unknown(code), .. } => eprintln!("new code {code}"),
        ///     _ => {}
        /// }
        /// # }
        /// ```
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $(#[doc = $doc] $variant,)*
            /// A code this crate does not know (never empty).
            Unknown(String),
            /// The answer carried no code and its status implies none (a 404 or a 500
            /// without a body, an HTML page from a proxy). Displays as `no code`,
            /// serialises as `null`.
            NoCode,
        }

        impl ErrorCode {
            /// The wire value (empty for [`NoCode`](Self::NoCode)).
            pub fn as_str(&self) -> &str {
                match self {
                    $(ErrorCode::$variant => $s,)*
                    ErrorCode::Unknown(s) => s,
                    ErrorCode::NoCode => "",
                }
            }
        }

        impl FromStr for ErrorCode {
            type Err = std::convert::Infallible;

            /// The code of a wire value; an empty one is [`NoCode`](Self::NoCode).
            fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
                Ok(match s {
                    $($s => ErrorCode::$variant,)*
                    "" => ErrorCode::NoCode,
                    other => ErrorCode::Unknown(other.to_owned()),
                })
            }
        }
    };
}

// The spec's code enums (`X402TopUpErrorCode`, `X402SignInErrorCode`,
// `X402RequestErrorCode`) come from the generated vocabulary, so a code added there
// becomes a variant by regeneration alone; the codes below are the ones the spec names
// only in prose (`VeniceError.code`) or the provider documents elsewhere.
venice_openapi::with_spec_error_codes!(codes! {
    InsufficientBalance => "INSUFFICIENT_BALANCE", "Not enough credit.";
    RateLimitExceeded => "RATE_LIMIT_EXCEEDED", "Too many requests.";
    ModelAtCapacity => "MODEL_AT_CAPACITY", "Model busy or offline; nothing charged.";
    ModelNotFound => "MODEL_NOT_FOUND", "Unknown model.";
    InvalidModel => "INVALID_MODEL", "Model not valid for this operation.";
    ContentPolicyViolation => "CONTENT_POLICY_VIOLATION", "Prompt or image violates the content policy.";
    InferenceFailed => "INFERENCE_FAILED", "Inference failed; may have been charged.";
    X402InvalidPayment => "X402_INVALID_PAYMENT", "Invalid x402 payment.";
    ImageTooSmall => "IMAGE_TOO_SMALL", "Input image too small.";
    ImageTooLarge => "IMAGE_TOO_LARGE", "Input image too large.";
    CorruptedImage => "CORRUPTED_IMAGE", "Input image cannot be decoded.";
    PayloadTooLarge => "PAYLOAD_TOO_LARGE", "Request body too large.";
    AuthenticationFailed => "AUTHENTICATION_FAILED", "Missing or invalid credentials.";
    InvalidRequest => "INVALID_REQUEST", "The request failed validation.";
});

impl ErrorCode {
    /// Whether this is one of the provider's `X402_SIGN_IN_*` codes (a refused wallet
    /// sign-in).
    pub fn is_sign_in(&self) -> bool {
        !matches!(self, ErrorCode::Unknown(_))
            && venice_openapi::types::X402SignInErrorCode::ALL
                .iter()
                .any(|c| c.as_str() == self.as_str())
    }

    /// The code implied by a status when the body has none. A 404 without a code
    /// implies nothing: a wrong base URL or operation answers 404 too, not only an
    /// unknown model.
    pub(crate) fn from_status(status: u16) -> Self {
        match status {
            400 => ErrorCode::InvalidRequest,
            401 => ErrorCode::AuthenticationFailed,
            402 => ErrorCode::PaymentRequired,
            413 => ErrorCode::PayloadTooLarge,
            429 => ErrorCode::RateLimitExceeded,
            503 => ErrorCode::ModelAtCapacity,
            _ => ErrorCode::NoCode,
        }
    }

    /// The code of an answer without one, from its status and message: the provider's
    /// content-policy 422 (`"Your prompt violates the content policy…"`, `"…blocked by
    /// content moderation."`) carries no `code`; other 422s (an image over a pixel limit)
    /// stay unknown.
    pub(crate) fn inferred(status: u16, message: &str) -> Self {
        let m = message.to_ascii_lowercase();
        if status == 422 && (m.contains("content policy") || m.contains("content moderation")) {
            return ErrorCode::ContentPolicyViolation;
        }
        Self::from_status(status)
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            ErrorCode::NoCode => s.serialize_none(),
            other => s.serialize_str(other.as_str()),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorCode::NoCode => f.write_str("no code"),
            other => f.write_str(other.as_str()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn codes_roundtrip() {
        for s in [
            "INSUFFICIENT_BALANCE",
            "MODEL_AT_CAPACITY",
            "X402_INVALID_PAYMENT",
            "INVALID_REQUEST",
        ] {
            let c: ErrorCode = s.parse().unwrap();
            assert!(!matches!(c, ErrorCode::Unknown(_)));
            assert_eq!(c.as_str(), s);
        }
        let c: ErrorCode = "NEW_CODE".parse().unwrap();
        assert_eq!(c, ErrorCode::Unknown("NEW_CODE".into()));
        assert_eq!(c.to_string(), "NEW_CODE");
    }

    #[test]
    fn a_code_less_answer_matches_as_no_code_and_prints_without_one() {
        assert_eq!(ErrorCode::from_status(500), ErrorCode::NoCode);
        assert_eq!("".parse::<ErrorCode>().unwrap(), ErrorCode::NoCode);
        assert_eq!(ErrorCode::NoCode.to_string(), "no code");
    }
}
