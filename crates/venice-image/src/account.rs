//! What an API key's account reports about itself: its balance ([`AccountBalance`],
//! [`Client::account_balance`](crate::Client::account_balance), `GET /billing/balance`)
//! and its tier and per-model rate limits ([`AccountLimits`],
//! [`Client::account_limits`](crate::Client::account_limits), `GET
//! /api_keys/rate_limits`).
//!
//! The balance needs an ADMIN key: the provider answers an INFERENCE key (the kind an
//! app should use) 401 "Admin API key required"
//! ([`Error::is_admin_key_required`](crate::Error::is_admin_key_required)). The rate
//! limits work with any key and also carry what the key can spend now.
//!
//! Account reads are not charged: they return the value itself, not a
//! [`Response`](crate::Response). A wallet's credit is in [`crate::Client::wallet_balance`]
//! (feature `wallet`).
#![cfg_attr(
    not(feature = "wallet"),
    doc = "",
    doc = "[`crate::Client::wallet_balance`]: https://docs.rs/venice-image/latest/venice_image/struct.Client.html#method.wallet_balance"
)]
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let (url, key) = ("https://api.venice.ai/api/v1", "your-api-key");
//! use venice_image::{Auth, Client};
//!
//! let client = Client::builder().base_url(url).auth(Auth::api_key(key)).build()?;
//! match client.account_balance().await {
//!     Ok(balance) => println!("can spend ${:.2}", balance.spendable_usd().unwrap_or(0.0)),
//!     // The mock's default key is an INFERENCE key, as an app's should be.
//!     Err(e) if e.is_admin_key_required() => println!("the balance needs an admin key"),
//!     Err(e) => return Err(e.into()),
//! }
//! let limits = client.account_limits().await?;
//! if let Some(m) = limits.model("venice-sd35") {
//!     println!("{}: {:?} requests per minute", m.model(), m.requests_per_minute());
//! }
//! # Ok(())
//! # }
//! ```

use std::ops::Deref;

use serde::Serialize;
use venice_openapi::types;

/// The balance of an API key's account (`GET /billing/balance`): the generated answer
/// (`balance.balances.usd`, `balance.can_consume`, … through `Deref`) and what it can
/// spend. Serialises as the wire answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct AccountBalance(types::BillingBalanceResponse);

impl Deref for AccountBalance {
    type Target = types::BillingBalanceResponse;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl From<types::BillingBalanceResponse> for AccountBalance {
    fn from(b: types::BillingBalanceResponse) -> Self {
        Self(b)
    }
}

impl AccountBalance {
    /// The generated answer.
    pub fn into_inner(self) -> types::BillingBalanceResponse {
        self.0
    }

    /// What requests can spend now, in USD: DIEM, earned credits, bundled credits and
    /// USD, the order the provider spends them in (one DIEM pays for one dollar of API
    /// use in its epoch); `None` when the server reports none of them. Per-key limits
    /// are not in it: [`AccountLimits`] has what the key may spend.
    pub fn spendable_usd(&self) -> Option<f64> {
        let b = &self.balances;
        let parts = [b.diem, b.earned_credits, b.bundled_credits, b.usd];
        parts
            .iter()
            .any(Option::is_some)
            .then(|| parts.iter().map(|p| p.unwrap_or(0.0).max(0.0)).sum())
    }
}

/// An API key's tier, balances and per-model rate limits (`GET /api_keys/rate_limits`):
/// the generated answer's `data` (`limits.api_tier.id`, `limits.balances.usd`,
/// `limits.key_expiration`, … through `Deref`) with the limits read by kind.
/// Serialises as the wire `data`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct AccountLimits(types::ApiKeyRateLimits);

impl Deref for AccountLimits {
    type Target = types::ApiKeyRateLimits;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl From<types::ApiKeyRateLimitsResponse> for AccountLimits {
    fn from(r: types::ApiKeyRateLimitsResponse) -> Self {
        Self(r.data)
    }
}

impl AccountLimits {
    /// The generated `data`.
    pub fn into_inner(self) -> types::ApiKeyRateLimits {
        self.0
    }

    /// What this key can spend now in USD (DIEM, bundled credits and USD; the provider
    /// does not list earned credits here); `None` when neither USD nor DIEM is reported
    /// (bundled credits alone, `0` when a plan has none, say nothing of the rest).
    pub fn spendable_usd(&self) -> Option<f64> {
        let b = &self.balances;
        if b.usd.is_none() && b.diem.is_none() {
            return None;
        }
        let parts = [b.diem, b.bundled_credits, b.usd];
        Some(parts.iter().map(|p| p.unwrap_or(0.0).max(0.0)).sum())
    }

    /// The limits of every model the server lists with a model ID.
    pub fn models(&self) -> impl Iterator<Item = ModelLimits<'_>> {
        self.rate_limits.iter().filter_map(|m| {
            Some(ModelLimits {
                model: m.api_model_id.as_deref()?,
                limits: &m.rate_limits,
            })
        })
    }

    /// The limits of `model`, when listed.
    pub fn model(&self, model: &str) -> Option<ModelLimits<'_>> {
        self.models().find(|m| m.model == model)
    }
}

/// The rate limits of one model for one API key, read by kind from the generated
/// entry. The provider counts requests per key and model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelLimits<'a> {
    model: &'a str,
    limits: &'a [types::RateLimitAmount],
}

impl<'a> ModelLimits<'a> {
    /// Model ID.
    pub fn model(&self) -> &'a str {
        self.model
    }

    /// The limit of `kind` (`RPM`, `RPD`, `TPM`, any case) as a count: a negative or
    /// non-finite amount is no limit we can pace by.
    pub fn limit(&self, kind: &str) -> Option<u64> {
        let amount = self
            .limits
            .iter()
            .find(|l| l.type_.eq_ignore_ascii_case(kind))?
            .amount;
        (amount.is_finite() && amount >= 0.0).then_some(amount.floor() as u64)
    }

    /// Requests per minute (`RPM`).
    pub fn requests_per_minute(&self) -> Option<u64> {
        self.limit("RPM")
    }

    /// Requests per UTC day (`RPD`).
    pub fn requests_per_day(&self) -> Option<u64> {
        self.limit("RPD")
    }

    /// Tokens per minute (`TPM`; text models).
    pub fn tokens_per_minute(&self) -> Option<u64> {
        self.limit("TPM")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_read_by_kind_and_odd_entries_are_skipped() {
        let wire: types::ApiKeyRateLimitsResponse = serde_json::from_value(serde_json::json!({
            "data": {
                "accessPermitted": true,
                "apiTier": {"id": "paid", "isCharged": true},
                "balances": {"USD": 50.23},
                "keyExpiration": null,
                "nextEpochBegins": "2025-05-07 00:00:00+00:00",
                "rateLimits": [
                    {"apiModelId": "a", "rateLimits": [
                        {"amount": 20, "type": "RPM"}, {"amount": 500.7, "type": "rpd"},
                        {"amount": 9, "type": "RPS"}]},
                    {"apiModelId": "b", "rateLimits": [{"amount": -1, "type": "RPM"}]},
                    {"rateLimits": [{"amount": 5, "type": "RPM"}]}
                ]
            }
        }))
        .unwrap();
        let limits = AccountLimits::from(wire);
        assert_eq!(
            (
                limits.api_tier.id.as_str(),
                limits.balances.usd,
                limits.balances.diem
            ),
            ("paid", Some(50.23), None)
        );
        let a = limits.model("a").unwrap();
        assert_eq!(
            (
                a.requests_per_minute(),
                a.requests_per_day(),
                a.tokens_per_minute()
            ),
            (Some(20), Some(500), None)
        );
        assert_eq!(limits.model("b").unwrap().requests_per_minute(), None);
        assert_eq!(
            limits.models().count(),
            2,
            "an entry without a model id is skipped"
        );
        assert_eq!(limits.spendable_usd(), Some(50.23));
    }

    #[test]
    fn spendable_is_usd_plus_diem() {
        let b = |usd, diem| {
            AccountBalance::from(types::BillingBalanceResponse {
                balances: types::BillingBalances {
                    usd,
                    diem,
                    bundled_credits: None,
                    earned_credits: None,
                },
                can_consume: true,
                consumption_currency: None,
                diem_epoch_allocation: 0.0,
            })
        };
        assert_eq!(b(Some(2.5), Some(1.0)).spendable_usd(), Some(3.5));
        assert_eq!(b(None, Some(1.0)).spendable_usd(), Some(1.0));
        assert_eq!(b(Some(-3.0), None).spendable_usd(), Some(0.0));
        assert_eq!(b(None, None).spendable_usd(), None);
    }
}
