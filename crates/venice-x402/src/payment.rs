//! What a 402 asks to be paid: [`PaymentRequirements`] over the generated wire types,
//! and [`PaymentRequirementExt`], the reading of one accepted payment (the generated
//! [`X402PaymentRequirement`], the one payment-requirement type).

use serde::Serialize;
use serde_json::Value;
use venice_openapi::types::{VeniceError, X402PaymentPayload, X402PaymentRequired, X402Resource};

pub use venice_openapi::types::X402PaymentRequirement;

/// The x402 network id of Base mainnet.
pub const BASE_NETWORK: &str = "eip155:8453";
/// The CAIP-2 id of Solana mainnet, as x402 v2 names it.
pub const SOLANA_MAINNET_NETWORK: &str = "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp";
/// The x402 protocol version this crate speaks.
pub const X402_VERSION: i64 = 2;
/// `maxTimeoutSeconds` used when an option does not say (Solana entries may leave it out).
pub const DEFAULT_TIMEOUT_SECS: u64 = 300;

/// The keys of an option's `extra`, an open map in the spec (the provider adds fields).
const EXTRA_NAME: &str = "name";
const EXTRA_VERSION: &str = "version";
const EXTRA_FEE_PAYER: &str = "feePayer";
const EXTRA_MEMO: &str = "memo";

/// The reading of one accepted payment (an x402 `accepts` entry).
pub trait PaymentRequirementExt {
    /// The amount in the token's smallest unit, when it is a valid integer.
    fn amount_units(&self) -> Option<u128>;
    /// The amount in USD, assuming a 6-decimal USD stablecoin (USDC).
    fn amount_usd(&self) -> Option<f64>;
    /// The EVM chain id of an `eip155:<id>` network (`base` is read as 8453).
    fn evm_chain_id(&self) -> Option<u64>;
    /// Whether this is an `exact` payment on Base, the option an EVM wallet signs.
    fn is_base_exact(&self) -> bool;
    /// Whether the network is a Solana cluster (`solana:<genesis hash>`, or the bare
    /// `solana` of older challenges).
    fn is_solana(&self) -> bool;
    /// How long a signed payment stays valid, in seconds (300 when the option does not
    /// say).
    fn max_timeout_secs(&self) -> u64;
    /// The token's EIP-712 domain name, e.g. `USD Coin` (EVM, `extra.name`).
    fn token_name(&self) -> Option<&str>;
    /// The token's EIP-712 domain version, e.g. `2` (EVM, `extra.version`).
    fn token_version(&self) -> Option<&str>;
    /// The facilitator that pays the fee and co-signs (Solana, `extra.feePayer`).
    fn fee_payer(&self) -> Option<&str>;
    /// `extra.feePayer` as sent (any JSON type), for a caller that judges it.
    fn fee_payer_value(&self) -> Option<&Value>;
    /// `extra.memo` as sent (any JSON type).
    fn memo_value(&self) -> Option<&Value>;
}

impl PaymentRequirementExt for X402PaymentRequirement {
    fn amount_units(&self) -> Option<u128> {
        self.amount.trim().parse().ok()
    }

    fn amount_usd(&self) -> Option<f64> {
        self.amount_units().map(|u| u as f64 / 1e6)
    }

    fn evm_chain_id(&self) -> Option<u64> {
        match self.network.as_str() {
            "base" => Some(8453),
            n => n.strip_prefix("eip155:")?.parse().ok(),
        }
    }

    fn is_base_exact(&self) -> bool {
        self.scheme == "exact" && self.evm_chain_id() == Some(8453)
    }

    fn is_solana(&self) -> bool {
        self.network == "solana" || self.network.starts_with("solana:")
    }

    fn max_timeout_secs(&self) -> u64 {
        self.max_timeout_seconds
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or(DEFAULT_TIMEOUT_SECS)
    }

    fn token_name(&self) -> Option<&str> {
        self.extra.get(EXTRA_NAME).and_then(Value::as_str)
    }

    fn token_version(&self) -> Option<&str> {
        self.extra.get(EXTRA_VERSION).and_then(Value::as_str)
    }

    fn fee_payer(&self) -> Option<&str> {
        self.fee_payer_value().and_then(Value::as_str)
    }

    fn fee_payer_value(&self) -> Option<&Value> {
        self.extra.get(EXTRA_FEE_PAYER)
    }

    fn memo_value(&self) -> Option<&Value> {
        self.extra.get(EXTRA_MEMO)
    }
}

/// x402 payment requirements: what the server accepts as payment (the x402 v2
/// `PaymentRequired` of a 402's `PAYMENT-REQUIRED` header, or the `accepts` of its body),
/// and whether the options are priced at the minimum top-up.
///
/// Serialises as the wire object.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct PaymentRequirements {
    #[serde(flatten)]
    wire: X402PaymentRequired,
    #[serde(skip)]
    priced_at_minimum: bool,
}

impl Default for PaymentRequirements {
    /// No accepted payment (x402 v2).
    fn default() -> Self {
        Self::new(only_accepts(Vec::new(), X402_VERSION), false)
    }
}

/// Payment requirements that are nothing but their options (a body's `accepts`).
fn only_accepts(accepts: Vec<X402PaymentRequirement>, x402_version: i64) -> X402PaymentRequired {
    X402PaymentRequired {
        accepts,
        error: None,
        extensions: serde_json::Map::new(),
        resource: None,
        x402_version,
    }
}

impl PaymentRequirements {
    /// Requirements from the wire. `priced_at_minimum`: whether each option's `amount`
    /// is the minimum top-up (true for x402 discovery, `POST /x402/top-up` without
    /// payment; false for a wallet's insufficient-credit challenge, whose options are
    /// priced at the suggested top-up, not the minimum).
    pub fn new(wire: X402PaymentRequired, priced_at_minimum: bool) -> Self {
        Self {
            wire,
            priced_at_minimum,
        }
    }

    /// The requirements of a 402: its `PAYMENT-REQUIRED` header when that holds options,
    /// else the `accepts` of its body; `None` when neither has any.
    pub fn of_402(
        header: Option<&X402PaymentRequired>,
        body: &VeniceError,
        priced_at_minimum: bool,
    ) -> Option<Self> {
        if let Some(h) = header.filter(|h| !h.accepts.is_empty()) {
            return Some(Self::new(h.clone(), priced_at_minimum));
        }
        if body.accepts.is_empty() {
            return None;
        }
        let version = body.x402_version.unwrap_or(X402_VERSION);
        Some(Self::new(
            only_accepts(body.accepts.clone(), version),
            priced_at_minimum,
        ))
    }

    /// The requirements as the wire has them.
    pub fn wire(&self) -> &X402PaymentRequired {
        &self.wire
    }

    /// x402 protocol version (2).
    pub fn x402_version(&self) -> i64 {
        self.wire.x402_version
    }

    /// Accepted payments.
    pub fn accepts(&self) -> &[X402PaymentRequirement] {
        &self.wire.accepts
    }

    /// The resource being paid for, as sent.
    pub fn resource(&self) -> Option<&X402Resource> {
        self.wire.resource.as_ref()
    }

    /// Server's description of why payment is required.
    pub fn error(&self) -> Option<&str> {
        self.wire.error.as_deref()
    }

    /// Whether each option's amount is the minimum top-up (x402 discovery), rather than
    /// a price such as a challenge's suggested top-up.
    pub fn priced_at_minimum(&self) -> bool {
        self.priced_at_minimum
    }

    /// The first `exact` option on Base.
    pub fn base_option(&self) -> Option<&X402PaymentRequirement> {
        self.accepts().iter().find(|o| o.is_base_exact())
    }

    /// The option a Solana wallet pays: the first on Solana mainnet, else the first on
    /// any Solana cluster (which a Solana top-up then refuses, naming the network).
    pub fn solana_option(&self) -> Option<&X402PaymentRequirement> {
        let mainnet = |o: &&X402PaymentRequirement| {
            o.network == "solana" || o.network == SOLANA_MAINNET_NETWORK
        };
        let mut solana = self.accepts().iter().filter(|o| o.is_solana());
        solana.clone().find(mainnet).or_else(|| solana.next())
    }
}

/// Decode base64 JSON such as the `PAYMENT-REQUIRED` header; the wire reading lives in
/// the generated client's crate, shared with the facade's decoder.
pub use venice_openapi::decode_b64_json;

/// The `PAYMENT-SIGNATURE` header value of `payload`: base64 of its JSON.
pub fn header_value(payload: &X402PaymentPayload) -> String {
    // A payload of strings and numbers always serialises.
    base64_simd::STANDARD.encode_to_string(serde_json::to_vec(payload).unwrap_or_default())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base_entry() -> Value {
        json!({
            "scheme": "exact", "network": "eip155:8453",
            "asset": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "amount": "5000000",
            "payTo": "0x2670B922ef37C7Df47158725C0CC407b5382293F", "maxTimeoutSeconds": 300,
            "extra": {"name": "USD Coin", "version": "2"}
        })
    }

    fn requirements(v: Value) -> PaymentRequirements {
        PaymentRequirements::new(serde_json::from_value(v).unwrap(), false)
    }

    #[test]
    fn header_wins_over_body_and_keeps_the_resource() {
        let header: X402PaymentRequired = serde_json::from_value(json!({
            "x402Version": 2, "accepts": [base_entry()],
            "resource": {"url": "/x", "description": "d", "mimeType": "application/json"}}))
        .unwrap();
        let body: VeniceError = serde_json::from_value(json!({"accepts": [base_entry()]})).unwrap();
        let r = PaymentRequirements::of_402(Some(&header), &body, true).unwrap();
        assert!(r.resource().is_some());
        assert!(r.priced_at_minimum());
        let o = r.base_option().unwrap();
        assert_eq!(o.amount_units(), Some(5_000_000));
        assert_eq!(o.amount_usd(), Some(5.0));
        assert_eq!(o.max_timeout_secs(), 300);
        assert_eq!(o.token_name(), Some("USD Coin"));
        assert_eq!(o.token_version(), Some("2"));
        // The body alone, when the header has no options.
        let empty: X402PaymentRequired =
            serde_json::from_value(json!({"x402Version": 2, "accepts": []})).unwrap();
        let r = PaymentRequirements::of_402(Some(&empty), &body, false).unwrap();
        assert_eq!(r.accepts().len(), 1);
        assert_eq!(r.x402_version(), 2);
        assert!(PaymentRequirements::of_402(None, &VeniceError::default(), false).is_none());
    }

    #[test]
    fn solana_options_round_trip_verbatim() {
        let devnet = json!({
            "scheme": "exact", "network": "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1",
            "asset": "x", "amount": "1", "payTo": "p", "extra": {"feePayer": "f"}
        });
        let mainnet = json!({
            "scheme": "exact", "network": SOLANA_MAINNET_NETWORK,
            "asset": "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", "amount": "5000000",
            "payTo": "p", "maxTimeoutSeconds": 300,
            "extra": {"feePayer": "f", "memo": "m"}
        });
        let r = requirements(json!({"x402Version": 2, "accepts": [base_entry(), devnet, mainnet]}));
        let o = r.solana_option().unwrap();
        assert_eq!(o.fee_payer(), Some("f"));
        // Echoed as sent: no empty EVM fields added, the memo kept.
        assert_eq!(serde_json::to_value(o).unwrap(), mainnet);
        assert_eq!(
            serde_json::to_value(r.base_option().unwrap()).unwrap(),
            base_entry()
        );
        let only_devnet = PaymentRequirements::new(
            X402PaymentRequired {
                accepts: vec![r.accepts()[1].clone()],
                ..PaymentRequirements::default().wire().clone()
            },
            false,
        );
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
        let mut o: X402PaymentRequirement = serde_json::from_value(base_entry()).unwrap();
        assert!(o.is_base_exact());
        o.network = "base".into();
        assert!(o.is_base_exact());
        o.network = "solana".into();
        assert!(!o.is_base_exact());
        assert!(o.is_solana());
        o.amount = "abc".into();
        assert_eq!(o.amount_units(), None);
        o.max_timeout_seconds = Some(-1);
        assert_eq!(o.max_timeout_secs(), DEFAULT_TIMEOUT_SECS);
    }
}
