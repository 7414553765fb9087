//! The account operations of [`Client`]: the balance and the rate limits of the API key.

use tracing::{Instrument, field};
use venice_openapi::Uploads;

use crate::account::{AccountBalance, AccountLimits};
use crate::client::Client;
use crate::error::Result;

impl Client {
    /// The balance of the API key's account (`GET /billing/balance`): DIEM, earned and
    /// bundled credits, USD, and whether it can pay now. Needs an ADMIN key: an INFERENCE
    /// key gets the provider's 401 "Admin API key required"
    /// ([`Error::is_admin_key_required`](crate::Error::is_admin_key_required));
    /// [`account_limits`](Client::account_limits) works with any key. API keys only: a
    /// wallet's credit is [`wallet_balance`][Client::wallet_balance] (feature `wallet`);
    /// other credentials fail with [`Error::Auth`](crate::Error::Auth) before sending.
    #[cfg_attr(
        not(feature = "wallet"),
        doc = "",
        doc = "[Client::wallet_balance]: https://docs.rs/venice-image/latest/venice_image/struct.Client.html#method.wallet_balance"
    )]
    pub async fn account_balance(&self) -> Result<AccountBalance> {
        let span = tracing::info_span!(
            "venice.account_balance",
            operation = "get_billing_balance",
            status = field::Empty,
            attempt = field::Empty
        );
        async {
            let call = self.call(Uploads::new());
            let response = self
                .send(&call, || call.raw().get_billing_balance().send())
                .await?;
            Ok(AccountBalance::from(response.into_inner()))
        }
        .instrument(span)
        .await
    }

    /// The API key's tier, balances and per-model rate limits (`GET
    /// /api_keys/rate_limits`); seed a [`Pacer`](crate::pacing::Pacer) with them
    /// ([`Pacer::seed_account_limits`](crate::pacing::Pacer::seed_account_limits)). Any
    /// API key (INFERENCE or ADMIN); not wallets.
    pub async fn account_limits(&self) -> Result<AccountLimits> {
        let span = tracing::info_span!(
            "venice.account_limits",
            operation = "get_api_key_rate_limits",
            status = field::Empty,
            attempt = field::Empty
        );
        async {
            let call = self.call(Uploads::new());
            let response = self
                .send(&call, || call.raw().get_api_key_rate_limits().send())
                .await?;
            Ok(AccountLimits::from(response.into_inner()))
        }
        .instrument(span)
        .await
    }
}
