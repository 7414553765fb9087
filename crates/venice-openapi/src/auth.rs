//! The authentication seam: [`RequestAuth`] adds credentials to each attempt, told by
//! [`AuthContext`] which schemes the operation accepts (from the spec's `security`).

use std::borrow::Cow;
use std::fmt;

/// A security scheme of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// `Authorization: Bearer <API key>` (`BearerAuth` in the spec).
    Bearer,
    /// A `SIGN-IN-WITH-X` header signed by a wallet (`siwx` in the spec).
    Siwx,
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scheme::Bearer => "a Bearer API key",
            Scheme::Siwx => "a SIGN-IN-WITH-X wallet signature",
        })
    }
}

/// One operation of the spec, from the generated table
/// [`operations`](crate::operations): what a request of it looks like on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operation {
    /// The id the generated code uses (`OperationInfo::operation_id`, e.g.
    /// `generate_image`).
    pub id: &'static str,
    /// The HTTP method, upper case.
    pub method: &'static str,
    /// The path template under the base URL, e.g. `/x402/balance/{walletAddress}`.
    pub path: &'static str,
    /// The credentials it accepts.
    pub security: OperationSecurity,
    /// The fields of its `multipart/form-data` body that carry files (sorted); empty
    /// when the operation takes no form. [`Uploads::multipart`](crate::Uploads::multipart)
    /// sends files in these fields only.
    pub form_files: &'static [&'static str],
}

/// The credentials one operation accepts, generated from the spec's `security`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperationSecurity {
    /// The operation may be called without credentials.
    pub anonymous: bool,
    /// The schemes it accepts.
    pub schemes: &'static [Scheme],
}

impl OperationSecurity {
    /// Whether `scheme` is accepted.
    pub fn accepts(&self, scheme: Scheme) -> bool {
        self.schemes.contains(&scheme)
    }
}

/// What an authenticator is told about the attempt it signs.
#[derive(Clone, Copy, Debug)]
pub struct AuthContext<'a> {
    /// The operation (`OperationInfo::operation_id`, e.g. `generate_image`).
    pub operation_id: &'a str,
    /// What the operation accepts.
    pub security: OperationSecurity,
}

/// Adds credentials to an outgoing request.
///
/// Called once per HTTP attempt, just before it is sent, and only when the operation
/// accepts [`scheme`](Self::scheme) (an operation open to anonymous callers that does
/// not is sent without credentials), so a signature with a single-use nonce is fresh
/// on every attempt and never spent where it is not needed. Async, so the signature can
/// come from a remote signer, a KMS or a hardware wallet. Implementations must not log
/// the credentials they add and should mark header values sensitive.
///
/// ```
/// use venice_openapi::{AuthContext, AuthError, RequestAuth, Scheme, async_trait, reqwest};
///
/// struct Kms;
///
/// #[async_trait]
/// impl RequestAuth for Kms {
///     fn scheme(&self) -> Scheme {
///         Scheme::Bearer
///     }
///
///     async fn authorize(
///         &self,
///         request: &mut reqwest::Request,
///         _ctx: &AuthContext<'_>,
///     ) -> Result<(), AuthError> {
///         let key = "sk-from-the-kms"; // fetched asynchronously in real code
///         let mut value = reqwest::header::HeaderValue::try_from(format!("Bearer {key}"))
///             .map_err(|e| AuthError::with_source("the key is not a valid header value", e))?;
///         value.set_sensitive(true);
///         request.headers_mut().insert(reqwest::header::AUTHORIZATION, value);
///         Ok(())
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait RequestAuth: Send + Sync {
    /// The scheme these credentials satisfy.
    fn scheme(&self) -> Scheme;

    /// Add credentials to `request`. An error aborts the call before anything is sent;
    /// its text must not contain secret material.
    async fn authorize(
        &self,
        request: &mut reqwest::Request,
        ctx: &AuthContext<'_>,
    ) -> Result<(), AuthError>;
}

/// Credentials could not be added to a request (a signer that failed or timed out, a
/// key that is not a valid header value, a single-use header used twice…).
///
/// The message never contains secret material; the cause, when there is one, is the
/// [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct AuthError {
    message: Cow<'static, str>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl AuthError {
    /// An error without an underlying cause.
    pub fn new(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// An error caused by `source`.
    pub fn with_source(
        message: impl Into<Cow<'static, str>>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// The operation does not accept the scheme these credentials provide.
    pub(crate) fn unsupported(
        operation_id: &str,
        has: Scheme,
        security: OperationSecurity,
    ) -> Self {
        let wants = security
            .schemes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" or ");
        Self::new(format!(
            "`{operation_id}` accepts {wants}, but the client's credentials are {has}"
        ))
    }
}
