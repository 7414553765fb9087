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

use serde::Serialize;
use venice_openapi::types;

/// The balance of an API key's account (`GET /billing/balance`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AccountBalance {
    pub(crate) can_consume: bool,
    pub(crate) consumption_currency: Option<String>,
    pub(crate) usd: Option<f64>,
    pub(crate) diem: Option<f64>,
    pub(crate) bundled_credits: Option<f64>,
    pub(crate) earned_credits: Option<f64>,
    pub(crate) diem_epoch_allocation: f64,
}

impl AccountBalance {
    /// Whether the balance can pay for requests now.
    pub fn can_consume(&self) -> bool {
        self.can_consume
    }

    /// The currency the next request is paid from (`USD`, `DIEM`, …), when the server
    /// says.
    pub fn consumption_currency(&self) -> Option<&str> {
        self.consumption_currency.as_deref()
    }

    /// Remaining USD; `None` when the account has none to report.
    pub fn usd(&self) -> Option<f64> {
        self.usd
    }

    /// DIEM left in the current epoch (a UTC day); `None` when the account does not
    /// stake.
    pub fn diem(&self) -> Option<f64> {
        self.diem
    }

    /// Bundled credits (USD-denominated, included with a subscription plan); `None`
    /// when there are none.
    pub fn bundled_credits(&self) -> Option<f64> {
        self.bundled_credits
    }

    /// Earned credits (USD-denominated); `None` when there are none.
    pub fn earned_credits(&self) -> Option<f64> {
        self.earned_credits
    }

    /// DIEM allocated per epoch.
    pub fn diem_epoch_allocation(&self) -> f64 {
        self.diem_epoch_allocation
    }

    /// What requests can spend now, in USD: DIEM, earned credits, bundled credits and
    /// USD, the order the provider spends them in (one DIEM pays for one dollar of API
    /// use in its epoch); `None` when the server reports none of them. Per-key limits
    /// are not in it: [`AccountLimits`] has what the key may spend.
    pub fn spendable_usd(&self) -> Option<f64> {
        let parts = [
            self.diem,
            self.earned_credits,
            self.bundled_credits,
            self.usd,
        ];
        parts
            .iter()
            .any(Option::is_some)
            .then(|| parts.iter().map(|p| p.unwrap_or(0.0).max(0.0)).sum())
    }
}

impl From<types::BillingBalanceResponse> for AccountBalance {
    fn from(b: types::BillingBalanceResponse) -> Self {
        AccountBalance {
            can_consume: b.can_consume,
            consumption_currency: b.consumption_currency,
            usd: b.balances.usd,
            diem: b.balances.diem,
            bundled_credits: b.balances.bundled_credits,
            earned_credits: b.balances.earned_credits,
            diem_epoch_allocation: b.diem_epoch_allocation,
        }
    }
}

/// An API key's tier, balances and per-model rate limits (`GET /api_keys/rate_limits`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AccountLimits {
    pub(crate) access_permitted: bool,
    pub(crate) tier: String,
    pub(crate) is_charged: bool,
    pub(crate) usd: Option<f64>,
    pub(crate) diem: Option<f64>,
    pub(crate) bundled_credits: Option<f64>,
    pub(crate) key_expiration: Option<String>,
    pub(crate) next_epoch_begins: String,
    pub(crate) models: Vec<ModelLimits>,
}

impl AccountLimits {
    /// Whether the key may use the inference operations.
    pub fn is_access_permitted(&self) -> bool {
        self.access_permitted
    }

    /// The API tier (`paid`, …).
    pub fn tier(&self) -> &str {
        &self.tier
    }

    /// Whether use is paid per request (DIEM or USD).
    pub fn is_charged(&self) -> bool {
        self.is_charged
    }

    /// USD this key can spend now (the account's, clamped to the key's remaining
    /// limit), when reported.
    pub fn usd(&self) -> Option<f64> {
        self.usd
    }

    /// DIEM this key can spend now, when reported.
    pub fn diem(&self) -> Option<f64> {
        self.diem
    }

    /// Bundled credits (USD-denominated) this key can spend now, when reported.
    pub fn bundled_credits(&self) -> Option<f64> {
        self.bundled_credits
    }

    /// What this key can spend now in USD (DIEM, bundled credits and USD; the provider
    /// does not list earned credits here); `None` when neither USD nor DIEM is reported
    /// (bundled credits alone, `0` when a plan has none, say nothing of the rest).
    pub fn spendable_usd(&self) -> Option<f64> {
        if self.usd.is_none() && self.diem.is_none() {
            return None;
        }
        let parts = [self.diem, self.bundled_credits, self.usd];
        Some(parts.iter().map(|p| p.unwrap_or(0.0).max(0.0)).sum())
    }

    /// When the key expires, as the server writes it; `None`: never.
    pub fn key_expiration(&self) -> Option<&str> {
        self.key_expiration.as_deref()
    }

    /// When the next epoch (UTC day) begins, as the server writes it: daily limits and
    /// DIEM reset then.
    pub fn next_epoch_begins(&self) -> &str {
        &self.next_epoch_begins
    }

    /// The limits of every model the server lists.
    pub fn models(&self) -> &[ModelLimits] {
        &self.models
    }

    /// The limits of `model`, when listed.
    pub fn model(&self, model: &str) -> Option<&ModelLimits> {
        self.models.iter().find(|m| m.model == model)
    }
}

/// The rate limits of one model for one API key. The provider counts requests per key
/// and model.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ModelLimits {
    pub(crate) model: String,
    pub(crate) requests_per_minute: Option<u64>,
    pub(crate) requests_per_day: Option<u64>,
    pub(crate) tokens_per_minute: Option<u64>,
}

impl ModelLimits {
    /// Model ID.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Requests per minute (`RPM`).
    pub fn requests_per_minute(&self) -> Option<u64> {
        self.requests_per_minute
    }

    /// Requests per UTC day (`RPD`).
    pub fn requests_per_day(&self) -> Option<u64> {
        self.requests_per_day
    }

    /// Tokens per minute (`TPM`; text models).
    pub fn tokens_per_minute(&self) -> Option<u64> {
        self.tokens_per_minute
    }
}

/// A limit as a count: the server sends numbers; a negative or non-finite one is no
/// limit we can pace by.
fn count(amount: f64) -> Option<u64> {
    (amount.is_finite() && amount >= 0.0).then_some(amount.floor() as u64)
}

impl From<types::ApiKeyRateLimitsResponse> for AccountLimits {
    fn from(r: types::ApiKeyRateLimitsResponse) -> Self {
        let d = r.data;
        let models = d
            .rate_limits
            .into_iter()
            .filter_map(|m| {
                let mut limits = ModelLimits {
                    model: m.api_model_id?,
                    ..ModelLimits::default()
                };
                for limit in m.rate_limits {
                    let slot = match limit.type_.to_ascii_uppercase().as_str() {
                        "RPM" => &mut limits.requests_per_minute,
                        "RPD" => &mut limits.requests_per_day,
                        "TPM" => &mut limits.tokens_per_minute,
                        // A kind added later: nothing to pace by yet.
                        _ => continue,
                    };
                    *slot = count(limit.amount);
                }
                Some(limits)
            })
            .collect();
        AccountLimits {
            access_permitted: d.access_permitted,
            tier: d.api_tier.id,
            is_charged: d.api_tier.is_charged,
            usd: d.balances.usd,
            diem: d.balances.diem,
            bundled_credits: d.balances.bundled_credits,
            key_expiration: d.key_expiration,
            next_epoch_begins: d.next_epoch_begins,
            models,
        }
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
            (limits.tier.as_str(), limits.usd, limits.diem),
            ("paid", Some(50.23), None)
        );
        let a = limits.model("a").unwrap();
        assert_eq!(
            (
                a.requests_per_minute,
                a.requests_per_day,
                a.tokens_per_minute
            ),
            (Some(20), Some(500), None)
        );
        assert_eq!(limits.model("b").unwrap().requests_per_minute, None);
        assert_eq!(
            limits.models.len(),
            2,
            "an entry without a model id is skipped"
        );
    }

    #[test]
    fn spendable_is_usd_plus_diem() {
        let b = |usd, diem| AccountBalance {
            can_consume: true,
            consumption_currency: None,
            usd,
            diem,
            bundled_credits: None,
            earned_credits: None,
            diem_epoch_allocation: 0.0,
        };
        assert_eq!(b(Some(2.5), Some(1.0)).spendable_usd(), Some(3.5));
        assert_eq!(b(None, Some(1.0)).spendable_usd(), Some(1.0));
        assert_eq!(b(Some(-3.0), None).spendable_usd(), Some(0.0));
        assert_eq!(b(None, None).spendable_usd(), None);
    }
}
