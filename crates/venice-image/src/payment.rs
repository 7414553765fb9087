//! Typed x402 payment requirements of a 402: [`PaymentRequirements`],
//! [`PaymentOption`] and the shape of a [`PaymentRequired`] error.
//!
//! Available without the `wallet` feature: reading a 402 needs no cryptography.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::PaymentRequired;

/// The x402 network id of Base mainnet.
pub const BASE_NETWORK: &str = "eip155:8453";

/// x402 payment requirements: what the server accepts as payment (x402 v2
/// `PaymentRequired`, from the body of a 402 or its `PAYMENT-REQUIRED` header).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PaymentRequirements {
    #[serde(default)]
    pub(crate) x402_version: u32,
    #[serde(default)]
    pub(crate) accepts: Vec<PaymentOption>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) resource: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    /// Whether each option's `amount` is the minimum top-up: true for x402 discovery
    /// (`POST /x402/top-up` without payment), false for a wallet's insufficient-credit
    /// challenge, whose options are priced at the suggested top-up ($10), not the
    /// minimum ($5).
    #[serde(skip)]
    pub(crate) priced_at_minimum: bool,
}

/// One accepted payment (an x402 `accepts` entry).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PaymentOption {
    #[serde(default)]
    pub(crate) scheme: String,
    #[serde(default)]
    pub(crate) network: String,
    #[serde(default)]
    pub(crate) asset: String,
    #[serde(default)]
    pub(crate) amount: String,
    #[serde(default)]
    pub(crate) pay_to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_timeout_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) extra: Option<PaymentExtra>,
}

/// Scheme-specific data of an option (`extra`): the EIP-712 domain name and version of
/// the token on Base, the facilitator's fee payer on Solana. Kept whole (unknown fields
/// too), so that the chosen option is echoed back as the server sent it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PaymentExtra {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) version: String,
    #[serde(default, rename = "feePayer", skip_serializing_if = "Option::is_none")]
    pub(crate) fee_payer: Option<String>,
    #[serde(flatten)]
    pub(crate) other: serde_json::Map<String, Value>,
}

impl PaymentExtra {
    /// Token name, e.g. `USD Coin` (EVM; empty when not sent).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Token EIP-712 version, e.g. `2` (EVM; empty when not sent).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The facilitator that pays the fee and co-signs (Solana, `feePayer`).
    pub fn fee_payer(&self) -> Option<&str> {
        self.fee_payer.as_deref()
    }

    /// Other fields (e.g. a Solana `memo`), as sent.
    pub fn other(&self) -> &serde_json::Map<String, Value> {
        &self.other
    }
}

impl PaymentOption {
    /// Payment scheme, e.g. `exact`.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// CAIP-2 network, e.g. `eip155:8453` (Base).
    pub fn network(&self) -> &str {
        &self.network
    }

    /// Token contract (USDC on Base for EVM).
    pub fn asset(&self) -> &str {
        &self.asset
    }

    /// Amount in the token's smallest unit (USDC: 6 decimals), as a decimal string.
    pub fn amount(&self) -> &str {
        &self.amount
    }

    /// Receiver of the payment.
    pub fn pay_to(&self) -> &str {
        &self.pay_to
    }

    /// How long a signed payment stays valid, in seconds.
    pub fn max_timeout_seconds(&self) -> Option<u64> {
        self.max_timeout_seconds
    }

    /// Scheme-specific data: the token's EIP-712 domain name and version on Base, the
    /// facilitator's fee payer on Solana.
    pub fn extra(&self) -> Option<&PaymentExtra> {
        self.extra.as_ref()
    }

    /// The amount in the token's smallest unit, when it is a valid integer.
    pub fn amount_units(&self) -> Option<u128> {
        self.amount.trim().parse().ok()
    }

    /// The amount in USD, assuming a 6-decimal USD stablecoin (USDC).
    pub fn amount_usd(&self) -> Option<f64> {
        self.amount_units().map(|u| u as f64 / 1e6)
    }

    /// The EVM chain id of an `eip155:<id>` network (`base` is read as 8453).
    pub fn evm_chain_id(&self) -> Option<u64> {
        match self.network.as_str() {
            "base" => Some(8453),
            n => n.strip_prefix("eip155:")?.parse().ok(),
        }
    }

    /// Whether this is an `exact` payment on Base, the option an EVM wallet signs.
    pub fn is_base_exact(&self) -> bool {
        self.scheme == "exact" && self.evm_chain_id() == Some(8453)
    }

    /// Whether the network is a Solana cluster (`solana:<genesis hash>`, or the bare
    /// `solana` of older challenges).
    pub fn is_solana(&self) -> bool {
        self.network == "solana" || self.network.starts_with("solana:")
    }
}

impl PaymentRequirements {
    /// x402 protocol version (2).
    pub fn x402_version(&self) -> u32 {
        self.x402_version
    }

    /// Accepted payments.
    pub fn accepts(&self) -> &[PaymentOption] {
        &self.accepts
    }

    /// The resource being paid for, as sent.
    pub fn resource(&self) -> Option<&Value> {
        self.resource.as_ref()
    }

    /// Server's description of why payment is required.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Whether each option's amount is the minimum top-up (x402 discovery), rather than
    /// a price such as a challenge's suggested top-up.
    pub fn priced_at_minimum(&self) -> bool {
        self.priced_at_minimum
    }

    /// Parse requirements from JSON (body or decoded header); `None` when the value
    /// has no `accepts` list.
    pub fn from_json(value: &Value) -> Option<Self> {
        value.get("accepts")?.as_array()?;
        serde_json::from_value(value.clone()).ok()
    }

    /// The first `exact` option on Base.
    pub fn base_option(&self) -> Option<&PaymentOption> {
        self.accepts.iter().find(|o| o.is_base_exact())
    }

    /// The option a Solana wallet pays: the first on Solana mainnet, else the first on
    /// any Solana cluster (which a Solana top-up then refuses, naming the network).
    pub fn solana_option(&self) -> Option<&PaymentOption> {
        let mainnet = |o: &&PaymentOption| {
            o.network == "solana" || o.network == "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp"
        };
        let mut solana = self.accepts.iter().filter(|o| o.is_solana());
        solana.clone().find(mainnet).or_else(|| solana.next())
    }
}

impl PaymentRequired {
    /// The accepted payments, from the `PAYMENT-REQUIRED` header when it decodes, else
    /// from the body.
    pub fn requirements(&self) -> Option<PaymentRequirements> {
        let discovery = self.kind() == crate::error::PaymentRequiredKind::Discovery;
        if let Some(mut r) = self
            .payment_required_header
            .as_ref()
            .and_then(PaymentRequirements::from_json)
            .filter(|r| !r.accepts.is_empty())
        {
            r.priced_at_minimum = discovery;
            return Some(r);
        }
        if self.accepts.is_empty() {
            return None;
        }
        let accepts = self
            .accepts
            .iter()
            .filter_map(|a| serde_json::from_value(a.clone()).ok())
            .collect();
        Some(PaymentRequirements {
            x402_version: self
                .x402_version
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(2),
            accepts,
            resource: None,
            error: None,
            priced_at_minimum: discovery,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::error::PaymentRequiredKind;
    use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
    use serde_json::json;

    fn base_entry() -> Value {
        json!({
            "scheme": "exact", "network": "eip155:8453",
            "asset": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "amount": "5000000",
            "payTo": "0x2670B922ef37C7Df47158725C0CC407b5382293F", "maxTimeoutSeconds": 300,
            "extra": {"name": "USD Coin", "version": "2"}
        })
    }

    fn parse(status: u16, headers: &[(&str, &str)], body: &Value) -> PaymentRequired {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        match crate::decode::error_from_parts(status, &h, body.to_string().as_bytes()) {
            Error::PaymentRequired { error, .. } => *error,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn discovery_from_header_and_body() {
        let req = json!({"x402Version": 2, "accepts": [base_entry()], "resource": {"url": "/x"}});
        let b64 = base64_simd::STANDARD.encode_to_string(req.to_string());
        let p = parse(402, &[("payment-required", &b64)], &req);
        assert_eq!(p.kind(), PaymentRequiredKind::Discovery);
        let r = p.requirements().unwrap();
        assert_eq!(r.x402_version, 2);
        assert!(r.resource.is_some(), "header wins and keeps the resource");
        let o = r.base_option().unwrap();
        assert_eq!(o.amount_units(), Some(5_000_000));
        assert_eq!(o.amount_usd(), Some(5.0));
        assert_eq!(o.max_timeout_seconds, Some(300));
        assert_eq!(o.extra.as_ref().unwrap().name, "USD Coin");
        // Body only (header missing): still typed.
        let p = parse(402, &[], &req);
        assert_eq!(p.requirements().unwrap().accepts.len(), 1);
    }

    #[test]
    fn kinds() {
        let p = parse(
            402,
            &[],
            &json!({"error": "Insufficient", "code": "INSUFFICIENT_BALANCE"}),
        );
        assert_eq!(p.kind(), PaymentRequiredKind::AccountBalance);
        assert!(p.requirements().is_none());
        let p = parse(
            402,
            &[],
            &json!({"error": "x", "code": "API_KEY_DAILY_SPEND_LIMIT_EXCEEDED"}),
        );
        assert_eq!(p.kind(), PaymentRequiredKind::AccountBalance);
        let p = parse(
            402,
            &[],
            &json!({"code": "PAYMENT_REQUIRED", "reason": "insufficient_balance",
                    "siwxChallenge": {}, "topUpInstructions": {}}),
        );
        assert_eq!(p.kind(), PaymentRequiredKind::WalletCredit);
    }

    #[test]
    fn solana_options_round_trip_verbatim() {
        let devnet = json!({
            "scheme": "exact", "network": "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1",
            "asset": "x", "amount": "1", "payTo": "p", "extra": {"feePayer": "f"}
        });
        let mainnet = json!({
            "scheme": "exact", "network": "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp",
            "asset": "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", "amount": "5000000",
            "payTo": "p", "maxTimeoutSeconds": 300,
            "extra": {"feePayer": "f", "memo": "m"}
        });
        let r = PaymentRequirements::from_json(
            &json!({"x402Version": 2, "accepts": [base_entry(), devnet, mainnet]}),
        )
        .unwrap();
        let o = r.solana_option().unwrap();
        assert_eq!(o.extra.as_ref().unwrap().fee_payer.as_deref(), Some("f"));
        // Echoed as sent: no empty EVM fields added, the memo kept.
        assert_eq!(serde_json::to_value(o).unwrap(), mainnet);
        assert_eq!(
            serde_json::to_value(r.base_option().unwrap()).unwrap(),
            base_entry()
        );
        let only_devnet = PaymentRequirements {
            accepts: vec![r.accepts[1].clone()],
            ..PaymentRequirements::default()
        };
        assert!(
            only_devnet
                .solana_option()
                .unwrap()
                .network
                .ends_with("qa1")
        );
    }

    #[test]
    fn networks() {
        let mut o: PaymentOption = serde_json::from_value(base_entry()).unwrap();
        assert!(o.is_base_exact());
        o.network = "base".into();
        assert!(o.is_base_exact());
        o.network = "solana".into();
        assert!(!o.is_base_exact());
        assert!(o.is_solana());
        o.amount = "abc".into();
        assert_eq!(o.amount_units(), None);
    }
}
