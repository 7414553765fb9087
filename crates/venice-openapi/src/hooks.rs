//! The [`ClientHooks`] impl the generated code calls around every request: `pre` adds
//! this attempt's credentials (only where the operation's `security` accepts them),
//! streams uploads into the body (JSON or a form) and refuses a JSON body over the
//! provider's 35 MB; `exec` sends it and normalises the answer (see the `response`
//! module).

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};

use crate::auth::{AuthContext, AuthError};
use crate::generated::Client;
use crate::response::{limit_body, normalise_error};
use crate::state::ClientState;
use crate::upload::check_json_body;

/// Request headers whose values are secrets (lower case).
const SENSITIVE_HEADERS: &[&str] = &[
    "authorization",
    "sign-in-with-x",
    "x-sign-in-with-x",
    "payment-signature",
    "x-payment",
    "x-402-payment",
];

impl ClientHooks<ClientState> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        let state = self.inner();
        // Headers that carry credentials or payments, whoever set them (a hook or a
        // builder parameter such as `PAYMENT-SIGNATURE`), stay out of `Debug` output.
        for value in request
            .headers_mut()
            .iter_mut()
            .filter_map(|(name, value)| SENSITIVE_HEADERS.contains(&name.as_str()).then_some(value))
        {
            value.set_sensitive(true);
        }
        let operation = crate::generated::operations::find(info.operation_id);
        let body = match state.pending_uploads() {
            Some(uploads) => uploads.apply(
                request,
                operation,
                info.operation_id,
                state.json_body_limit(),
            ),
            None => check_json_body(request, state.json_body_limit()),
        };
        body.map_err(|e| progenitor_client::Error::InvalidRequest(e.to_string()))?;
        let Some(auth) = state.credentials() else {
            return Ok(());
        };
        let Some(security) = operation.map(|o| o.security) else {
            return Err(progenitor_client::Error::Custom(format!(
                "authentication failed: unknown operation `{}`",
                info.operation_id
            )));
        };
        let scheme = auth.scheme();
        let result = if security.accepts(scheme) {
            let ctx = AuthContext {
                operation_id: info.operation_id,
                security,
            };
            auth.authorize(request, &ctx).await
        } else if security.anonymous {
            // Public operation: go without credentials rather than spend a signature.
            Ok(())
        } else {
            Err(AuthError::unsupported(info.operation_id, scheme, security))
        };
        result.map_err(|e| progenitor_client::Error::Custom(format!("authentication failed: {e}")))
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        _info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let response = self.client().execute(request).await?;
        Ok(if response.status().is_success() {
            limit_body(
                response,
                self.inner().response_cap(),
                self.inner().body_copy().cloned(),
            )
        } else {
            normalise_error(response).await
        })
    }
}
