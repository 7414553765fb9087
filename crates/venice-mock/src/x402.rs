//! The mock's own x402 verification (independent of the client crates): Sign-In-With-X
//! headers (EIP-4361 for EVM, SIWS for Solana) and EIP-3009 top-up payments.
//!
//! [`DefaultSiwxVerifier`] and [`DefaultPaymentVerifier`] are what a [`MockServer`]
//! uses unless [`MockConfig`] plugs other verifiers in.
//!
//! [`MockServer`]: crate::MockServer
//! [`MockConfig`]: crate::MockConfig

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy_primitives::{Address, B256, Signature, U256, eip191_hash_message, hex};
use alloy_sol_types::{Eip712Domain, SolStruct, sol};
use base64::Engine as _;
use ed25519_dalek::{Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Minimum x402 top-up in USD.
pub const MIN_TOP_UP_USD: f64 = 5.0;
/// Suggested x402 top-up in USD.
pub const SUGGESTED_TOP_UP_USD: f64 = 10.0;
/// USDC on Base, the asset of the mock's payment offer.
pub const USDC_BASE: &str = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";
/// Receiver of the mock's payments (`payTo`).
pub const PAY_TO: &str = "0x2670B922ef37C7Df47158725C0CC407b5382293F";

/// Who a `SIGN-IN-WITH-X` header authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletIdentity {
    /// The wallet address (EVM `0x…` or Solana base58).
    pub address: String,
    /// The chain, e.g. `eip155:8453`.
    pub chain_id: String,
}

/// Verifies a `SIGN-IN-WITH-X` (or legacy `X-Sign-In-With-X`) header value.
///
/// The default is [`crate::x402::DefaultSiwxVerifier`] (real signature checks under
/// [`MockConfig::siwx_policy`](crate::MockConfig::siwx_policy)); plug another in, e.g. one that trusts the `address`
/// field, to test without signing.
pub trait SiwxVerifier: Send + Sync {
    /// Verifies the raw header value and returns the wallet it proves, or a reason.
    fn verify(&self, header_value: &str) -> Result<WalletIdentity, String>;
}

/// The outcome of a verified x402 payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifiedPayment {
    /// The wallet to credit.
    pub wallet: String,
    /// The amount to credit in USD.
    pub amount_usd: f64,
}

/// Verifies a `PAYMENT-SIGNATURE` header value on `POST /x402/top-up`.
pub trait PaymentVerifier: Send + Sync {
    /// Verifies the raw header value and returns what to credit, or a reason.
    fn verify(&self, header_value: &str) -> Result<VerifiedPayment, String>;
}

/// Solana mainnet's CAIP-2 reference.
pub const SOLANA_MAINNET: &str = "5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp";

/// What the mock accepts in a `SIGN-IN-WITH-X` header. Serializable (part of the
/// `--config` file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SiwxPolicy {
    /// Accepted message domains, compared case-insensitively. Default: `api.venice.ai`
    /// (the documented domain), `venice.ai`, and `outerface.venice.ai` (the provider's
    /// API backend, which venice-py signs for and the provider accepts).
    pub domains: Vec<String>,
    /// Oldest accepted `Issued At`, in seconds (default 300: the server's 5 minutes).
    pub max_age_secs: u64,
    /// Largest accepted clock skew of `Issued At` into the future, in seconds (30).
    pub future_skew_secs: u64,
    /// Largest accepted gap between the JSON `timestamp` and `Issued At`, in seconds (30).
    pub timestamp_skew_secs: u64,
    /// How long a used nonce is remembered per wallet, in seconds (330).
    pub nonce_ttl_secs: u64,
    /// Accepted EVM chain ids (default 8453, Base).
    pub evm_chain_ids: Vec<u64>,
    /// Accepted Solana chain references (default mainnet).
    pub solana_chains: Vec<String>,
    /// Smart-contract (EIP-1271) wallets on Base: contract address → owner address. The
    /// provider checks such a wallet's sign-in through the contract's on-chain
    /// `isValidSignature`; the mock stands in for that call by accepting an EIP-191
    /// signature of the message by the configured owner (the rule of a single-owner
    /// smart account). Empty by default.
    pub contract_wallets: std::collections::BTreeMap<String, String>,
}

impl Default for SiwxPolicy {
    fn default() -> Self {
        Self {
            domains: vec![
                "api.venice.ai".into(),
                "venice.ai".into(),
                "outerface.venice.ai".into(),
            ],
            max_age_secs: 300,
            future_skew_secs: 30,
            timestamp_skew_secs: 30,
            nonce_ttl_secs: 330,
            evm_chain_ids: vec![8453],
            solana_chains: vec![SOLANA_MAINNET.into()],
            contract_wallets: std::collections::BTreeMap::new(),
        }
    }
}

/// A parsed EIP-4361 / SIWS message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiwxMessage {
    /// Requesting domain (without scheme).
    pub domain: String,
    /// `Ethereum` or `Solana`.
    pub account_kind: String,
    /// The address line.
    pub address: String,
    /// The statement, if any.
    pub statement: Option<String>,
    /// `URI`.
    pub uri: String,
    /// `Version`.
    pub version: String,
    /// `Chain ID`.
    pub chain_id: String,
    /// `Nonce`.
    pub nonce: String,
    /// `Issued At`.
    pub issued_at: String,
    /// `Expiration Time`.
    pub expiration_time: Option<String>,
    /// `Not Before`.
    pub not_before: Option<String>,
}

fn printable(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

impl SiwxMessage {
    /// Parses the message text (lines joined by `\n`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let lines: Vec<&str> = text.split('\n').collect();
        let first = lines.first().copied().unwrap_or_default();
        let (domain, kind) = first
            .strip_suffix(" account:")
            .and_then(|s| s.split_once(" wants you to sign in with your "))
            .ok_or("malformed message: first line")?;
        let domain = domain.split_once("://").map_or(domain, |(_, d)| d);
        let address = lines
            .get(1)
            .copied()
            .ok_or("malformed message: no address")?;
        if lines.get(2) != Some(&"") {
            return Err("malformed message: no blank line after the address".into());
        }
        // EIP-4361: `[statement LF] LF`; the Solana layout may drop both lines.
        let (statement, mut i) = match lines.get(3).copied() {
            Some("") => (None, 4),
            Some(l) if l.starts_with("URI: ") => (None, 3),
            Some(s) => {
                if lines.get(4) != Some(&"") {
                    return Err("malformed message: no blank line after the statement".into());
                }
                if !printable(s) {
                    return Err("statement must be printable ASCII".into());
                }
                (Some(s.to_owned()), 5)
            }
            None => return Err("malformed message: truncated".into()),
        };
        let mut fields: HashMap<&str, &str> = HashMap::new();
        while let Some(line) = lines.get(i) {
            i += 1;
            if *line == "Resources:" {
                // Resource lines (`- uri`) carry nothing the mock checks.
                while lines.get(i).is_some_and(|l| l.starts_with("- ")) {
                    i += 1;
                }
                continue;
            }
            let (k, v) = line
                .split_once(": ")
                .ok_or_else(|| format!("malformed message line {line:?}"))?;
            if fields.insert(k, v).is_some() {
                return Err(format!("duplicate field {k:?}"));
            }
        }
        let need = |k: &str| {
            fields
                .get(k)
                .map(|v| (*v).to_owned())
                .ok_or_else(|| format!("message has no {k}"))
        };
        Ok(Self {
            domain: domain.to_owned(),
            account_kind: kind.to_owned(),
            address: address.to_owned(),
            statement,
            uri: need("URI")?,
            version: need("Version")?,
            chain_id: need("Chain ID")?,
            nonce: need("Nonce")?,
            issued_at: need("Issued At")?,
            expiration_time: fields.get("Expiration Time").map(|v| (*v).to_owned()),
            not_before: fields.get("Not Before").map(|v| (*v).to_owned()),
        })
    }
}

/// Decodes standard or URL-safe base64, padded or not.
fn b64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let s = s.trim();
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(s).ok())
}

fn parse_time(s: &str, what: &str) -> Result<SystemTime, String> {
    humantime::parse_rfc3339(s.trim()).map_err(|_| format!("{what} is not an RFC 3339 UTC time"))
}

/// Recovers the EVM signer of an EIP-191 `personal_sign` signature (`v` ∈ {0, 1, 27, 28}).
pub fn recover_personal_sign(message: &[u8], signature: &str) -> Result<Address, String> {
    recover_prehash(&eip191_hash_message(message), signature)
}

/// Recovers the signer of a 65-byte `r ‖ s ‖ v` hex signature over a digest.
pub fn recover_prehash(digest: &B256, signature: &str) -> Result<Address, String> {
    let s = signature.trim();
    let bytes = hex::decode(s.strip_prefix("0x").unwrap_or(s))
        .map_err(|_| "signature is not hex".to_owned())?;
    if bytes.len() != 65 || ![0, 1, 27, 28].contains(&bytes[64]) {
        return Err("signature must be 65 bytes with v in {0, 1, 27, 28}".into());
    }
    let sig = Signature::from_raw(&bytes).map_err(|e| format!("bad signature: {e}"))?;
    sig.recover_address_from_prehash(digest)
        .map_err(|_| "signature does not recover to any address".to_owned())
}

/// Verifies an Ed25519 signature (base58 or base64) by a base58 public key.
pub fn verify_ed25519(message: &[u8], signature: &str, address: &str) -> Result<(), String> {
    let pk: [u8; 32] = bs58::decode(address)
        .into_vec()
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or("Solana address is not 32 bytes of base58")?;
    let key = VerifyingKey::from_bytes(&pk).map_err(|_| "Solana address is not a valid key")?;
    let sig: [u8; 64] = bs58::decode(signature.trim())
        .into_vec()
        .ok()
        .filter(|v| v.len() == 64)
        .or_else(|| b64_decode(signature).filter(|v| v.len() == 64))
        .and_then(|v| v.try_into().ok())
        .ok_or("Solana signature must be 64 bytes in base58 or base64")?;
    key.verify(message, &ed25519_dalek::Signature::from_bytes(&sig))
        .map_err(|_| "signature does not match the address".to_owned())
}

/// Used nonces per key, each with its expiry.
#[derive(Debug, Default)]
struct NonceBook(Mutex<HashMap<String, SystemTime>>);

impl NonceBook {
    /// Burns `key`; false when it was already used and not yet forgotten.
    fn burn(&self, key: String, now: SystemTime, ttl: Duration) -> bool {
        let Ok(mut book) = self.0.lock() else {
            return false;
        };
        if book.len() > 4096 {
            book.retain(|_, until| *until > now);
        }
        match book.get(&key) {
            Some(until) if *until > now => false,
            _ => {
                book.insert(key, now + ttl);
                true
            }
        }
    }
}

/// Verifies `SIGN-IN-WITH-X` for real: parses the message, checks domain, version,
/// chain, lifetime and timestamp against a [`SiwxPolicy`], verifies the signature
/// (EIP-191 recovery or Ed25519) and burns the nonce.
#[derive(Debug, Default)]
pub struct DefaultSiwxVerifier {
    policy: SiwxPolicy,
    nonces: NonceBook,
}

impl DefaultSiwxVerifier {
    /// A verifier with `policy`.
    pub fn new(policy: SiwxPolicy) -> Self {
        Self {
            policy,
            nonces: NonceBook::default(),
        }
    }

    /// Verifies at time `now` (for tests of expiry).
    pub fn verify_at(&self, header_value: &str, now: SystemTime) -> Result<WalletIdentity, String> {
        let p = &self.policy;
        let raw = b64_decode(header_value).ok_or("header is not base64")?;
        let v: Value = serde_json::from_slice(&raw).map_err(|_| "header is not base64 JSON")?;
        let field = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("header has no {k}"))
        };
        let (address, text, signature) =
            (field("address")?, field("message")?, field("signature")?);
        let msg = SiwxMessage::parse(text)?;
        let solana = match (
            msg.account_kind.as_str(),
            v.get("type").and_then(Value::as_str),
        ) {
            ("Ethereum", None | Some("eip191" | "eip1271" | "evm")) => false,
            ("Solana", None | Some("ed25519")) => true,
            (kind, t) => return Err(format!("unsupported account kind {kind:?} / type {t:?}")),
        };
        if !p
            .domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(&msg.domain))
        {
            return Err(format!("wrong domain {:?}", msg.domain));
        }
        if msg.version != "1" {
            return Err(format!("unsupported version {:?}", msg.version));
        }
        if msg.nonce.len() < 8 || !msg.nonce.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err("nonce must be at least 8 alphanumeric characters".into());
        }
        let same_address = if solana {
            msg.address == address
        } else {
            msg.address.eq_ignore_ascii_case(address)
        };
        if !same_address {
            return Err("header address differs from the message address".into());
        }
        // Chain: the message's and the header's must agree and be accepted.
        let header_chain = match v.get("chainId") {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            _ => return Err("header has no chainId".into()),
        };
        let chain_id = if solana {
            let bare = |s: &str| s.strip_prefix("solana:").unwrap_or(s).to_owned();
            let (m, h) = (bare(&msg.chain_id), bare(&header_chain));
            if m != h {
                return Err(format!("chain mismatch: message {m:?}, header {h:?}"));
            }
            if !p.solana_chains.contains(&m) {
                return Err(format!("unsupported chain {:?}", msg.chain_id));
            }
            format!("solana:{m}")
        } else {
            let num = |s: &str| s.strip_prefix("eip155:").unwrap_or(s).parse::<u64>().ok();
            match (num(&msg.chain_id), num(&header_chain)) {
                (Some(m), Some(h)) if m == h && p.evm_chain_ids.contains(&m) => {
                    format!("eip155:{m}")
                }
                (Some(m), Some(h)) if m == h => {
                    return Err(format!("unsupported chain {:?}", msg.chain_id));
                }
                (Some(_), Some(_)) => {
                    return Err(format!("chain mismatch {:?}", msg.chain_id));
                }
                _ => return Err(format!("invalid chain id {:?}", msg.chain_id)),
            }
        };
        // Lifetime.
        let issued = parse_time(&msg.issued_at, "Issued At")?;
        if now
            .duration_since(issued)
            .is_ok_and(|age| age > Duration::from_secs(p.max_age_secs))
        {
            return Err("expired: Issued At is too old".into());
        }
        if issued
            .duration_since(now)
            .is_ok_and(|ahead| ahead > Duration::from_secs(p.future_skew_secs))
        {
            return Err("Issued At is in the future".into());
        }
        if let Some(exp) = &msg.expiration_time
            && now >= parse_time(exp, "Expiration Time")?
        {
            return Err("expired: past the Expiration Time".into());
        }
        if let Some(nb) = &msg.not_before
            && now < parse_time(nb, "Not Before")?
        {
            return Err("not yet valid (Not Before)".into());
        }
        if let Some(ts) = v.get("timestamp").filter(|t| !t.is_null()) {
            let ms = ts.as_u64().ok_or("timestamp must be unix milliseconds")?;
            let at = UNIX_EPOCH + Duration::from_millis(ms);
            let gap = at
                .duration_since(issued)
                .or_else(|_| issued.duration_since(at))
                .unwrap_or_default();
            if gap > Duration::from_secs(p.timestamp_skew_secs) {
                return Err("timestamp is not within 30 s of Issued At".into());
            }
        }
        // Signature.
        let wallet = if solana {
            verify_ed25519(text.as_bytes(), signature, address)?;
            address.to_owned()
        } else {
            let claimed: Address = address
                .parse()
                .map_err(|_| "address is not an EVM address".to_owned())?;
            let owner = p
                .contract_wallets
                .iter()
                .find(|(contract, _)| contract.parse::<Address>().ok() == Some(claimed))
                .map(|(_, owner)| owner.parse::<Address>())
                .transpose()
                .map_err(|_| "the configured contract wallet owner is not an address".to_owned())?;
            let signer = recover_personal_sign(text.as_bytes(), signature)?;
            // An EOA signs for itself; a contract wallet (EIP-1271) through its owner,
            // the mock's stand-in for the contract's `isValidSignature`.
            if signer != claimed && Some(signer) != owner {
                return Err(if owner.is_some() {
                    "signature is not valid for the contract wallet (EIP-1271)".into()
                } else {
                    "signature does not match the address".into()
                });
            }
            claimed.to_checksum(None)
        };
        // Burned only after the signature checks out, so nobody can burn another
        // wallet's nonces.
        let key = format!("{}|{}", wallet.to_ascii_lowercase(), msg.nonce);
        if !self
            .nonces
            .burn(key, now, Duration::from_secs(p.nonce_ttl_secs))
        {
            return Err("nonce already used (replayed header)".into());
        }
        Ok(WalletIdentity {
            address: wallet,
            chain_id,
        })
    }
}

impl SiwxVerifier for DefaultSiwxVerifier {
    fn verify(&self, header_value: &str) -> Result<WalletIdentity, String> {
        self.verify_at(header_value, SystemTime::now())
    }
}

sol! {
    /// EIP-3009 `transferWithAuthorization` parameters.
    struct TransferWithAuthorization {
        address from;
        address to;
        uint256 value;
        uint256 validAfter;
        uint256 validBefore;
        bytes32 nonce;
    }
}

/// What the mock accepts as a top-up payment (the one `accepts` entry it offers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PaymentPolicy {
    /// Receiver (`payTo`).
    pub pay_to: String,
    /// Token contract (USDC on Base).
    pub asset: String,
    /// EVM chain id (8453).
    pub chain_id: u64,
    /// Token EIP-712 name.
    pub token_name: String,
    /// Token EIP-712 version.
    pub token_version: String,
    /// Minimum amount in token units (5 000 000 = $5).
    pub min_amount: u128,
}

impl Default for PaymentPolicy {
    fn default() -> Self {
        Self {
            pay_to: PAY_TO.into(),
            asset: USDC_BASE.into(),
            chain_id: 8453,
            token_name: "USD Coin".into(),
            token_version: "2".into(),
            min_amount: 5_000_000,
        }
    }
}

impl PaymentPolicy {
    /// The token's EIP-712 domain.
    pub fn domain(&self) -> Result<Eip712Domain, String> {
        Ok(Eip712Domain::new(
            Some(Cow::Owned(self.token_name.clone())),
            Some(Cow::Owned(self.token_version.clone())),
            Some(U256::from(self.chain_id)),
            Some(
                self.asset
                    .parse()
                    .map_err(|_| "policy asset is not an address".to_owned())?,
            ),
            None,
        ))
    }
}

/// Verifies x402 `exact` EVM payments for real: EIP-712 recovery of the EIP-3009
/// authorization equals `from`, `to` is the payee, asset and network match the offer,
/// the amount is at least the minimum and equals the accepted amount, the validity
/// window holds, and the authorization nonce is new. Credits `value / 1e6` USD.
#[derive(Debug, Default)]
pub struct DefaultPaymentVerifier {
    policy: PaymentPolicy,
    nonces: NonceBook,
}

/// A decimal string or number as an integer.
fn uint(v: Option<&Value>, what: &str) -> Result<U256, String> {
    match v {
        Some(Value::String(s)) => s.trim().parse::<U256>().ok(),
        Some(Value::Number(n)) => n.as_u64().map(U256::from),
        _ => None,
    }
    .ok_or_else(|| format!("authorization {what} is missing or not an integer"))
}

fn address(v: Option<&Value>, what: &str) -> Result<Address, String> {
    v.and_then(Value::as_str)
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| format!("{what} is missing or not an address"))
}

impl DefaultPaymentVerifier {
    /// A verifier with `policy`.
    pub fn new(policy: PaymentPolicy) -> Self {
        Self {
            policy,
            nonces: NonceBook::default(),
        }
    }

    /// Verifies at time `now`.
    pub fn verify_at(
        &self,
        header_value: &str,
        now: SystemTime,
    ) -> Result<VerifiedPayment, String> {
        let p = &self.policy;
        let raw = b64_decode(header_value).ok_or("payment header is not base64")?;
        let v: Value =
            serde_json::from_slice(&raw).map_err(|_| "payment header is not base64 JSON")?;
        match v.get("x402Version").and_then(Value::as_u64) {
            Some(1 | 2) => {}
            _ => return Err("unsupported x402Version".into()),
        }
        // v2 carries the chosen offer in `accepted`; v1 put its fields at the top.
        let accepted = v.get("accepted").unwrap_or(&v);
        if accepted.get("scheme").and_then(Value::as_str) != Some("exact") {
            return Err("unsupported scheme (only `exact`)".into());
        }
        let network = accepted
            .get("network")
            .and_then(Value::as_str)
            .unwrap_or("");
        if network != format!("eip155:{}", p.chain_id) && network != "base" {
            return Err(format!("wrong network {network:?}"));
        }
        let asset = address(accepted.get("asset"), "asset")?;
        let policy_asset: Address = p.asset.parse().map_err(|_| "bad policy asset")?;
        if asset != policy_asset {
            return Err("wrong asset".into());
        }
        let pay_to: Address = p.pay_to.parse().map_err(|_| "bad policy payTo")?;
        if accepted.get("payTo").is_some() && address(accepted.get("payTo"), "payTo")? != pay_to {
            return Err("wrong payee (payTo)".into());
        }
        let payload = v.get("payload").ok_or("payment has no payload")?;
        let auth = payload
            .get("authorization")
            .ok_or("payment has no authorization")?;
        let signature = payload
            .get("signature")
            .and_then(Value::as_str)
            .ok_or("payment has no signature")?;
        let message = TransferWithAuthorization {
            from: address(auth.get("from"), "authorization from")?,
            to: address(auth.get("to"), "authorization to")?,
            value: uint(auth.get("value"), "value")?,
            validAfter: uint(auth.get("validAfter"), "validAfter")?,
            validBefore: uint(auth.get("validBefore"), "validBefore")?,
            nonce: auth
                .get("nonce")
                .and_then(Value::as_str)
                .and_then(|s| s.trim().parse::<B256>().ok())
                .ok_or("authorization nonce must be 32 bytes of hex")?,
        };
        if message.to != pay_to {
            return Err("wrong payee: authorization is not to payTo".into());
        }
        if message.value < U256::from(p.min_amount) {
            return Err(format!(
                "amount below the minimum top-up of {} units",
                p.min_amount
            ));
        }
        if let Some(a) = accepted.get("amount")
            && uint(Some(a), "accepted amount")? != message.value
        {
            return Err("amount differs from the accepted amount".into());
        }
        let now_secs = U256::from(
            now.duration_since(UNIX_EPOCH)
                .map_err(|_| "clock before 1970")?
                .as_secs(),
        );
        if message.validAfter > now_secs {
            return Err("authorization not yet valid (validAfter)".into());
        }
        if now_secs >= message.validBefore {
            return Err("authorization expired (validBefore)".into());
        }
        let digest = message.eip712_signing_hash(&p.domain()?);
        if recover_prehash(&digest, signature)? != message.from {
            return Err("signature does not match `from`".into());
        }
        let key = format!("{}|{}", message.from, message.nonce);
        if !self
            .nonces
            .burn(key, now, Duration::from_secs(u64::MAX / 4))
        {
            return Err("authorization nonce already used".into());
        }
        let units: u128 = message
            .value
            .try_into()
            .map_err(|_| "amount too large".to_owned())?;
        Ok(VerifiedPayment {
            wallet: message.from.to_checksum(None),
            amount_usd: units as f64 / 1e6,
        })
    }
}

impl PaymentVerifier for DefaultPaymentVerifier {
    fn verify(&self, header_value: &str) -> Result<VerifiedPayment, String> {
        self.verify_at(header_value, SystemTime::now())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    // Vector 1: EIP-191 (web3.js documentation).
    #[test]
    fn eip191_recovery_vector() {
        assert_eq!(
            hex::encode(eip191_hash_message("Some data")),
            "1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655"
        );
        let a = recover_personal_sign(
            b"Some data",
            "0xb91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a0291c",
        )
        .unwrap();
        assert_eq!(
            a.to_checksum(None),
            "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
        );
        assert!(recover_personal_sign(b"Some data", "0x00").is_err());
    }

    // Vector 2: private key 1 → address (the mock derives addresses by recovery only).
    #[test]
    fn key_one_address() {
        let key = k256::ecdsa::SigningKey::from_slice(&U256::from(1).to_be_bytes::<32>()).unwrap();
        assert_eq!(
            Address::from_private_key(&key).to_checksum(None),
            "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
        );
    }

    // Vector 3: EIP-712 "Mail".
    #[test]
    fn eip712_mail_vector() {
        sol! {
            struct Person { string name; address wallet; }
            struct Mail { Person from; Person to; string contents; }
        }
        let domain = Eip712Domain::new(
            Some("Ether Mail".into()),
            Some("1".into()),
            Some(U256::from(1)),
            Some(
                "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"
                    .parse()
                    .unwrap(),
            ),
            None,
        );
        assert_eq!(
            hex::encode(domain.separator()),
            "f2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f"
        );
        let mail = Mail {
            from: Person {
                name: "Cow".into(),
                wallet: "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"
                    .parse()
                    .unwrap(),
            },
            to: Person {
                name: "Bob".into(),
                wallet: "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"
                    .parse()
                    .unwrap(),
            },
            contents: "Hello, Bob!".into(),
        };
        let digest = mail.eip712_signing_hash(&domain);
        assert_eq!(
            hex::encode(digest),
            "be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2"
        );
        let sig = "0x4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b915621c";
        assert_eq!(
            recover_prehash(&digest, sig).unwrap().to_checksum(None),
            "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"
        );
    }

    // Vector 4: EIP-3009 on Base USDC, verified through the payment verifier.
    #[test]
    fn eip3009_vector() {
        let policy = PaymentPolicy::default();
        let domain = policy.domain().unwrap();
        assert_eq!(
            hex::encode(domain.separator()),
            "02fa7265e7c5d81118673727957699e4d68f74cd74b7db77da710fe8a2c7834f"
        );
        let header = serde_json::json!({
            "x402Version": 2,
            "accepted": {"scheme": "exact", "network": "eip155:8453", "asset": USDC_BASE,
                         "amount": "5000000", "payTo": PAY_TO},
            "payload": {
                "signature": "0x36f6872f4019a1f3b6f8c1878786b08a99e10af8f1c9395234561c79b24938fe3591cca081614f589115c3e34969564cb4db82d082e8cd4a2a40daccf0e6e03d1b",
                "authorization": {
                    "from": "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23",
                    "to": "0x2670B922ef37C7Df47158725C0CC407b5382293F",
                    "value": "5000000", "validAfter": "1740672089", "validBefore": "1740672154",
                    "nonce": "0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480"
                }
            }
        });
        assert_eq!(
            hex::encode(alloy_primitives::keccak256(
                TransferWithAuthorization::eip712_encode_type().as_bytes()
            )),
            "7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267"
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(header.to_string());
        let verifier = DefaultPaymentVerifier::default();
        let inside = UNIX_EPOCH + Duration::from_secs(1_740_672_100);
        let paid = verifier.verify_at(&b64, inside).unwrap();
        assert_eq!(paid.wallet, "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23");
        assert!((paid.amount_usd - 5.0).abs() < 1e-12);
        assert!(
            verifier
                .verify_at(&b64, inside)
                .unwrap_err()
                .contains("already used")
        );
        let late = UNIX_EPOCH + Duration::from_secs(1_740_672_154);
        assert!(
            DefaultPaymentVerifier::default()
                .verify_at(&b64, late)
                .unwrap_err()
                .contains("expired")
        );
    }

    fn vector_message(expiration: Option<&str>) -> String {
        let mut m = "login.xyz wants you to sign in with your Ethereum account:\n\
             0x9D85ca56217D2bb651b00f15e694EB7E713637D4\n\n\
             Sign-In With Ethereum Example Statement\n\n\
             URI: https://login.xyz\nVersion: 1\nChain ID: 1\nNonce: bTyXgcQxn2htgkjJn\n\
             Issued At: 2022-01-27T17:09:38.578Z"
            .to_owned();
        if let Some(e) = expiration {
            m.push_str("\nExpiration Time: ");
            m.push_str(e);
        }
        m
    }

    // Vector 5: the reference SIWE suite (`verification_positive.json`).
    #[test]
    fn siwe_reference_vectors() {
        let text = vector_message(Some("2100-01-07T14:31:43.952Z"));
        let m = SiwxMessage::parse(&text).unwrap();
        assert_eq!(m.domain, "login.xyz");
        assert_eq!(
            m.statement.as_deref(),
            Some("Sign-In With Ethereum Example Statement")
        );
        assert_eq!(m.chain_id, "1");
        assert_eq!(
            m.expiration_time.as_deref(),
            Some("2100-01-07T14:31:43.952Z")
        );
        let a = recover_personal_sign(
            text.as_bytes(),
            "0xdc35c7f8ba2720df052e0092556456127f00f7707eaa8e3bbff7e56774e7f2e05a093cfc9e02964c33d86e8e066e221b7d153d27e5a2e97ccd5ca7d3f2ce06cb1b",
        )
        .unwrap();
        assert_eq!(a.to_checksum(None), m.address);
        let tally = "www.tally.xyz wants you to sign in with your Ethereum account:\n\
             0xc95EB884FE852e241D409234bfC7045CB9E31BD7\n\n\
             Sign in with Ethereum to Tally\n\n\
             URI: https://tally.xyz\nVersion: 1\nChain ID: 1\nNonce: 15050747\n\
             Issued At: 2022-06-30T14:08:51.382Z";
        assert!(SiwxMessage::parse(tally).unwrap().expiration_time.is_none());
        // v = 0x01.
        let a = recover_personal_sign(
            tally.as_bytes(),
            "0x8c46b6eb8505939892d8e9b075f89f8277321b17b993151f37810cdda38cce6f4a85909d2b53e6a14629c74c0ac38bf4becde78ee5b2529812bf6cceaf7b2a2501",
        )
        .unwrap();
        assert_eq!(
            a.to_checksum(None),
            "0xc95EB884FE852e241D409234bfC7045CB9E31BD7"
        );
    }

    #[test]
    fn reference_vector_through_the_verifier() {
        // The vector is for login.xyz on chain 1: allow that, and sign-in time.
        let policy = SiwxPolicy {
            domains: vec!["login.xyz".into()],
            evm_chain_ids: vec![1],
            ..SiwxPolicy::default()
        };
        let v = DefaultSiwxVerifier::new(policy);
        let header = serde_json::json!({
            "address": "0x9D85ca56217D2bb651b00f15e694EB7E713637D4",
            "message": vector_message(Some("2100-01-07T14:31:43.952Z")),
            "signature": "0xdc35c7f8ba2720df052e0092556456127f00f7707eaa8e3bbff7e56774e7f2e05a093cfc9e02964c33d86e8e066e221b7d153d27e5a2e97ccd5ca7d3f2ce06cb1b",
            "chainId": "eip155:1",
        });
        let b64 = base64::engine::general_purpose::STANDARD.encode(header.to_string());
        let at = humantime::parse_rfc3339("2022-01-27T17:10:00Z").unwrap();
        let id = v.verify_at(&b64, at).unwrap();
        assert_eq!(id.chain_id, "eip155:1");
        assert!(
            v.verify_at(&b64, at)
                .unwrap_err()
                .contains("nonce already used")
        );
        let later = humantime::parse_rfc3339("2022-01-27T17:20:00Z").unwrap();
        assert!(
            DefaultSiwxVerifier::new(SiwxPolicy {
                domains: vec!["login.xyz".into()],
                evm_chain_ids: vec![1],
                ..SiwxPolicy::default()
            })
            .verify_at(&b64, later)
            .unwrap_err()
            .contains("expired")
        );
        // Default policy: wrong domain.
        assert!(
            DefaultSiwxVerifier::default()
                .verify_at(&b64, at)
                .unwrap_err()
                .contains("domain")
        );
    }

    // Vector 6: Ed25519, RFC 8032 §7.1 TEST 1.
    #[test]
    fn ed25519_vector() {
        let sig = hex::decode("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b").unwrap();
        let addr = "FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z";
        assert_eq!(
            hex::encode(bs58::decode(addr).into_vec().unwrap()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        verify_ed25519(b"", &bs58::encode(&sig).into_string(), addr).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&sig);
        verify_ed25519(b"", &b64, addr).unwrap();
        assert!(verify_ed25519(b"x", &b64, addr).is_err());
    }

    #[test]
    fn parse_layouts() {
        let no_statement = "api.venice.ai wants you to sign in with your Ethereum account:\n0xabc\n\n\nURI: u\nVersion: 1\nChain ID: 8453\nNonce: 12345678\nIssued At: 2026-01-01T00:00:00Z";
        assert!(
            SiwxMessage::parse(no_statement)
                .unwrap()
                .statement
                .is_none()
        );
        let siws = "api.venice.ai wants you to sign in with your Solana account:\nabc\n\nURI: u\nVersion: 1\nChain ID: x\nNonce: 12345678\nIssued At: 2026-01-01T00:00:00Z\nResources:\n- a\n- b";
        assert!(SiwxMessage::parse(siws).is_ok());
        for bad in [
            "",
            "x",
            "a wants you to sign in with your Ethereum account:\n0x\nnot blank",
        ] {
            assert!(SiwxMessage::parse(bad).is_err());
        }
        let dup = format!("{no_statement}\nNonce: 87654321");
        assert!(SiwxMessage::parse(&dup).unwrap_err().contains("duplicate"));
    }
}
