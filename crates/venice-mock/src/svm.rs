//! Solana x402 top-ups (`exact` scheme on SVM) verified for real, with the mock's own
//! transaction decoding ([`decode_transaction`]), independent of the client crates.
//!
//! [`SvmPaymentVerifier`] checks what a facilitator checks before co-signing: the
//! offer echoed in `accepted`, the v0 message (fee payer, exactly the four expected
//! instructions, mint, amount, destination and source token accounts derived here),
//! the wallet's Ed25519 signature, an untouched fee-payer slot, a blockhash the mock
//! issued recently ([`BlockhashStore`]), and no replay. [`SolanaRpc`] serves the two
//! JSON-RPC calls a client needs to build the payment.

mod blockhash;
mod rpc;
mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

pub use blockhash::{BlockhashStore, IssuedBlockhash, RecentBlockhashes};
pub use rpc::{
    CREDITS_PER_CALL, CREDITS_PER_ERROR, MAX_BATCH, MINT_ACCOUNT_LEN, MintAccount, RpcAnswer,
    SolanaRpc, USD_PER_CREDIT,
};
pub use wire::{Address, CompiledInstruction, Transaction, decode as decode_transaction};

use crate::x402::{PaymentVerifier, VerifiedPayment};

/// CAIP-2 id of Solana mainnet.
pub const SOLANA_MAINNET_NETWORK: &str = "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp";
/// The USDC mint.
pub const USDC_MINT: &str = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v";
/// The SPL Token program.
pub const TOKEN_PROGRAM: &str = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
/// The Token-2022 program.
pub const TOKEN_2022_PROGRAM: &str = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb";
/// The Associated Token Account program.
pub const ASSOCIATED_TOKEN_PROGRAM: &str = "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL";
/// The Compute Budget program.
pub const COMPUTE_BUDGET_PROGRAM: &str = "ComputeBudget111111111111111111111111111111";
/// The Memo program.
pub const MEMO_PROGRAM: &str = "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr";
/// The mock facilitator's fee payer: the Ed25519 key whose seed is
/// `sha256("venice-mock solana fee payer")` (a mock: the secret is public).
pub const DEFAULT_FEE_PAYER: &str = "GRkm6HRkBGwZzSpMrTZbQSyCQSir3B1wajnCwU4qxDp4";
/// The mock's Solana `payTo`: the key whose seed is `sha256("venice-mock solana payTo")`.
pub const DEFAULT_PAY_TO: &str = "DQK6xqDzzmTvrc6yytNpoNztX6asRq8NEEns1rhDUQ5k";
/// Longest memo accepted, in bytes.
pub const MAX_MEMO_BYTES: usize = 256;

/// What the mock accepts as a Solana top-up (the `accepts` entry it offers).
/// Serializable, like [`crate::PaymentPolicy`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SvmPaymentPolicy {
    /// Accepted `network` values (CAIP-2 mainnet and the bare `solana`).
    pub networks: Vec<String>,
    /// The mint (USDC).
    pub mint: String,
    /// The mint's decimals.
    pub decimals: u8,
    /// The mint's token program.
    pub token_program: String,
    /// Receiver (owner of the destination token account).
    pub pay_to: String,
    /// The facilitator's fee payer.
    pub fee_payer: String,
    /// Minimum amount in units (5 000 000 = $5).
    pub min_amount: u64,
    /// Highest accepted priority fee, micro-lamports per compute unit (the x402
    /// facilitators' cap: 5 lamports).
    pub max_compute_unit_price: u64,
    /// How long a used signature or (blockhash, wallet) pair is remembered, in seconds;
    /// longer than any blockhash stays valid, so a replay fails one way or the other.
    pub replay_window_secs: u64,
}

impl Default for SvmPaymentPolicy {
    fn default() -> Self {
        Self {
            networks: vec![SOLANA_MAINNET_NETWORK.into(), "solana".into()],
            mint: USDC_MINT.into(),
            decimals: 6,
            token_program: TOKEN_PROGRAM.into(),
            pay_to: DEFAULT_PAY_TO.into(),
            fee_payer: DEFAULT_FEE_PAYER.into(),
            min_amount: 5_000_000,
            max_compute_unit_price: 5_000_000,
            replay_window_secs: 3600,
        }
    }
}

impl SvmPaymentPolicy {
    /// The `accepts` entry offering this payment of `amount` units.
    pub fn requirement(&self, amount: u64) -> Value {
        json!({
            "scheme": "exact",
            "network": self.networks.first().map_or(SOLANA_MAINNET_NETWORK, String::as_str),
            "asset": self.mint,
            "amount": amount.to_string(),
            "payTo": self.pay_to,
            "maxTimeoutSeconds": 300,
            "extra": {"feePayer": self.fee_payer},
        })
    }

    /// The mint account [`SolanaRpc`] serves for this policy.
    pub fn mint_account(&self) -> Result<MintAccount, String> {
        Ok(MintAccount {
            address: address(&self.mint, "policy mint")?,
            owner: address(&self.token_program, "policy token program")?,
            decimals: self.decimals,
            supply: 9_000_000_000_000_000,
        })
    }

    /// Check that every address of the policy is a Solana address and that it names a
    /// network, so a misconfigured mock fails at start instead of on every payment.
    pub fn validate(&self) -> Result<(), String> {
        self.mint_account()?;
        address(&self.pay_to, "svm_payment_policy.pay_to")?;
        address(&self.fee_payer, "svm_payment_policy.fee_payer")?;
        if self.networks.is_empty() {
            return Err("svm_payment_policy.networks is empty".into());
        }
        Ok(())
    }
}

/// Whether an x402 `network` names a Solana cluster (`solana` or `solana:<genesis>`).
pub fn is_solana_network(network: &str) -> bool {
    network == "solana" || network.starts_with("solana:")
}

/// The `accepted.network` of a `PAYMENT-SIGNATURE` value, to route the payment to its
/// verifier; `None` when the value is not base64 JSON with that field.
pub fn payment_network(header_value: &str) -> Option<String> {
    let v: Value = serde_json::from_slice(&b64(header_value)?).ok()?;
    v.pointer("/accepted/network")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Why a Solana payment was rejected; [`reason`](Self::reason) gives a stable slug
/// for response bodies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SvmRejection {
    /// Not base64 JSON, or no transaction, or bytes that do not decode.
    #[error("malformed payment: {0}")]
    Malformed(String),
    /// `x402Version` is not 2.
    #[error("unsupported x402Version (only 2)")]
    UnsupportedVersion,
    /// `accepted.scheme` is not `exact`.
    #[error("unsupported scheme (only `exact`)")]
    WrongScheme,
    /// `accepted.network` is not one the mock offers.
    #[error("wrong network {0:?}")]
    WrongNetwork(String),
    /// The asset or the transferred mint is not the policy's mint.
    #[error("wrong mint")]
    WrongMint,
    /// `accepted.payTo` is not the policy's receiver.
    #[error("wrong payTo")]
    WrongPayTo,
    /// The transaction's fee payer (or `accepted.extra.feePayer`) is not the facilitator.
    #[error("the fee payer is not the facilitator")]
    ForeignFeePayer,
    /// The amount is below the minimum top-up.
    #[error("amount {amount} below the minimum of {minimum} units")]
    AmountBelowMinimum {
        /// Units transferred.
        amount: u64,
        /// Minimum units.
        minimum: u64,
    },
    /// The transfer does not move the accepted amount.
    #[error("the transfer moves {transferred} units, the accepted amount is {accepted}")]
    AmountMismatch {
        /// Units in the transfer.
        transferred: u64,
        /// Units in `accepted.amount`.
        accepted: u64,
    },
    /// Not a v0 message, or one with address lookup tables.
    #[error("not a v0 message without lookup tables")]
    NotV0,
    /// Signer layout other than fee payer + wallet.
    #[error("bad signers: {0}")]
    BadSigners(&'static str),
    /// The fee-payer signature slot is not 64 zero bytes.
    #[error("the fee-payer signature slot is not empty")]
    FeePayerSlotFilled,
    /// Not exactly four instructions.
    #[error("{0} instructions, expected 4")]
    InstructionCount(usize),
    /// An instruction has the wrong program, accounts or data.
    #[error("instruction {index}: {reason}")]
    BadInstruction {
        /// Which (0-3).
        index: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The destination is not the receiver's associated token account.
    #[error("the destination is not payTo's token account")]
    WrongDestination,
    /// The source is not the wallet's associated token account.
    #[error("the source is not the wallet's token account")]
    WrongSource,
    /// The fee payer appears in an instruction's accounts.
    #[error("the fee payer is used by an instruction")]
    FeePayerInInstruction,
    /// The wallet's signature does not verify over the message.
    #[error("the wallet's signature does not verify")]
    BadSignature,
    /// The blockhash was not issued by the mock, or expired.
    #[error("unknown or expired blockhash")]
    UnknownBlockhash,
    /// This signature was already used.
    #[error("replayed transaction (signature already used)")]
    ReplayedSignature,
    /// The wallet already paid with this blockhash.
    #[error("replayed transaction (blockhash already used by this wallet)")]
    ReplayedBlockhash,
}

impl SvmRejection {
    /// A stable machine-readable reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "invalid_payload",
            Self::UnsupportedVersion => "unsupported_x402_version",
            Self::WrongScheme => "unsupported_scheme",
            Self::WrongNetwork(_) => "network_mismatch",
            Self::WrongMint => "mint_mismatch",
            Self::WrongPayTo => "recipient_mismatch",
            Self::ForeignFeePayer => "fee_payer_mismatch",
            Self::AmountBelowMinimum { .. } => "amount_below_minimum",
            Self::AmountMismatch { .. } => "amount_mismatch",
            Self::NotV0 => "unsupported_transaction_version",
            Self::BadSigners(_) => "invalid_signers",
            Self::FeePayerSlotFilled => "fee_payer_signed",
            Self::InstructionCount(_) => "invalid_instruction_count",
            Self::BadInstruction { .. } => "invalid_instruction",
            Self::WrongDestination => "recipient_mismatch",
            Self::WrongSource => "source_mismatch",
            Self::FeePayerInInstruction => "fee_payer_transferring",
            Self::BadSignature => "invalid_signature",
            Self::UnknownBlockhash => "blockhash_not_found",
            Self::ReplayedSignature | Self::ReplayedBlockhash => "replayed_transaction",
        }
    }
}

/// A verified Solana payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifiedSvmPayment {
    /// The paying wallet (base58).
    pub wallet: String,
    /// Units transferred.
    pub amount_units: u64,
    /// USD to credit (units / 10^decimals).
    pub amount_usd: f64,
    /// The network as the client echoed it.
    pub network: String,
    /// The wallet's signature (base58), to report as the payment's transaction.
    pub signature: String,
}

/// Verifies Solana `exact` payments (see the module docs); also a
/// [`PaymentVerifier`] for `/x402/top-up`.
pub struct SvmPaymentVerifier {
    policy: SvmPaymentPolicy,
    blockhashes: Arc<dyn BlockhashStore>,
    used: Mutex<HashMap<Vec<u8>, SystemTime>>,
}

impl std::fmt::Debug for SvmPaymentVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SvmPaymentVerifier")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

fn address(s: &str, what: &str) -> Result<Address, String> {
    bs58::decode(s.trim())
        .into_vec()
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("{what} is not a Solana address"))
}

/// Whether 32 bytes decompress to an Edwards point (program addresses must not).
fn on_curve(bytes: &Address) -> bool {
    CompressedEdwardsY(*bytes).decompress().is_some()
}

/// `find_program_address`, written from the runtime's definition.
pub fn program_address(seeds: &[&[u8]], program: &Address) -> Option<Address> {
    (0..=255u8).rev().find_map(|bump| {
        let mut h = Sha256::new();
        seeds.iter().for_each(|s| h.update(s));
        h.update([bump]);
        h.update(program);
        h.update("ProgramDerivedAddress");
        let a: Address = h.finalize().into();
        (!on_curve(&a)).then_some(a)
    })
}

/// The associated token account of `wallet` for `mint` under `token_program`.
pub fn associated_token_account(
    wallet: &Address,
    token_program: &Address,
    mint: &Address,
) -> Option<Address> {
    let program = address(ASSOCIATED_TOKEN_PROGRAM, "").ok()?;
    program_address(&[wallet, token_program, mint], &program)
}

fn units(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

impl SvmPaymentVerifier {
    /// A verifier with `policy`, accepting blockhashes `blockhashes` calls recent.
    pub fn new(policy: SvmPaymentPolicy, blockhashes: Arc<dyn BlockhashStore>) -> Self {
        Self {
            policy,
            blockhashes,
            used: Mutex::new(HashMap::new()),
        }
    }

    /// The policy.
    pub fn policy(&self) -> &SvmPaymentPolicy {
        &self.policy
    }

    /// Verify a `PAYMENT-SIGNATURE` value at `now`; on success the payment's signature
    /// and (blockhash, wallet) are burned.
    pub fn verify_at(
        &self,
        header_value: &str,
        now: SystemTime,
    ) -> Result<VerifiedSvmPayment, SvmRejection> {
        let p = &self.policy;
        let bad = |m: &str| SvmRejection::Malformed(m.to_owned());
        let raw = b64(header_value).ok_or_else(|| bad("payment header is not base64"))?;
        let v: Value =
            serde_json::from_slice(&raw).map_err(|_| bad("payment header is not base64 JSON"))?;
        if v.get("x402Version").and_then(Value::as_u64) != Some(2) {
            return Err(SvmRejection::UnsupportedVersion);
        }
        let accepted = v.get("accepted").ok_or_else(|| bad("no `accepted`"))?;
        let field = |k: &str| accepted.get(k).and_then(Value::as_str).unwrap_or_default();
        if field("scheme") != "exact" {
            return Err(SvmRejection::WrongScheme);
        }
        let network = field("network");
        if !p.networks.iter().any(|n| n == network) {
            return Err(SvmRejection::WrongNetwork(network.to_owned()));
        }
        if field("asset") != p.mint {
            return Err(SvmRejection::WrongMint);
        }
        if field("payTo") != p.pay_to {
            return Err(SvmRejection::WrongPayTo);
        }
        if let Some(fp) = accepted.pointer("/extra/feePayer")
            && fp.as_str() != Some(p.fee_payer.as_str())
        {
            return Err(SvmRejection::ForeignFeePayer);
        }
        let accepted_amount =
            units(accepted.get("amount")).ok_or_else(|| bad("accepted.amount is not a u64"))?;
        if accepted_amount < p.min_amount {
            return Err(SvmRejection::AmountBelowMinimum {
                amount: accepted_amount,
                minimum: p.min_amount,
            });
        }
        let tx_b64 = v
            .pointer("/payload/transaction")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no payload.transaction"))?;
        let bytes = b64(tx_b64).ok_or_else(|| bad("payload.transaction is not base64"))?;
        let tx = decode_transaction(&bytes).map_err(SvmRejection::Malformed)?;
        let checked = self.check_transaction(&tx, accepted_amount)?;

        let owner_sig = tx.signatures[1];
        let key =
            VerifyingKey::from_bytes(&checked.owner).map_err(|_| SvmRejection::BadSignature)?;
        key.verify_strict(&tx.message, &Signature::from_bytes(&owner_sig))
            .map_err(|_| SvmRejection::BadSignature)?;
        if !self.blockhashes.is_recent(&tx.blockhash, now) {
            return Err(SvmRejection::UnknownBlockhash);
        }
        self.burn(&owner_sig, &tx.blockhash, &checked.owner, now)?;
        Ok(VerifiedSvmPayment {
            wallet: bs58::encode(checked.owner).into_string(),
            amount_units: checked.amount,
            amount_usd: checked.amount as f64 / 10f64.powi(i32::from(p.decimals)),
            network: network.to_owned(),
            signature: bs58::encode(owner_sig).into_string(),
        })
    }

    /// The structural checks (everything but signature, blockhash and replay).
    fn check_transaction(
        &self,
        tx: &Transaction,
        accepted_amount: u64,
    ) -> Result<Checked, SvmRejection> {
        let p = &self.policy;
        let policy = |s: &str, what: &str| address(s, what).map_err(SvmRejection::Malformed);
        let mint = policy(&p.mint, "policy mint")?;
        let token_program = policy(&p.token_program, "policy token program")?;
        let pay_to = policy(&p.pay_to, "policy payTo")?;
        let fee_payer = policy(&p.fee_payer, "policy fee payer")?;
        let compute_budget = policy(COMPUTE_BUDGET_PROGRAM, "")?;
        let memo = policy(MEMO_PROGRAM, "")?;

        if tx.version != Some(0) || tx.lookup_tables != 0 {
            return Err(SvmRejection::NotV0);
        }
        if tx.keys[0] != fee_payer {
            return Err(SvmRejection::ForeignFeePayer);
        }
        if tx.num_required_signatures != 2 {
            return Err(SvmRejection::BadSigners(
                "exactly two signers: the fee payer and the wallet",
            ));
        }
        if tx.signatures[0] != [0; 64] {
            return Err(SvmRejection::FeePayerSlotFilled);
        }
        if tx.instructions.len() != 4 {
            return Err(SvmRejection::InstructionCount(tx.instructions.len()));
        }
        if tx.instructions.iter().any(|ix| ix.accounts.contains(&0)) {
            return Err(SvmRejection::FeePayerInInstruction);
        }
        let program = |i: usize| tx.keys[usize::from(tx.instructions[i].program)];
        let ins = |index, reason| SvmRejection::BadInstruction { index, reason };

        let limit = &tx.instructions[0];
        if program(0) != compute_budget || !limit.accounts.is_empty() {
            return Err(ins(0, "not a ComputeBudget instruction"));
        }
        if limit.data.len() != 5 || limit.data[0] != 2 {
            return Err(ins(0, "not SetComputeUnitLimit"));
        }
        let price = &tx.instructions[1];
        if program(1) != compute_budget || !price.accounts.is_empty() {
            return Err(ins(1, "not a ComputeBudget instruction"));
        }
        if price.data.len() != 9 || price.data[0] != 3 {
            return Err(ins(1, "not SetComputeUnitPrice"));
        }
        if le_u64(&price.data[1..]) > p.max_compute_unit_price {
            return Err(ins(1, "compute unit price above the cap"));
        }

        let transfer = &tx.instructions[2];
        if program(2) != token_program {
            return Err(ins(2, "not the mint's token program"));
        }
        if transfer.data.len() != 10 || transfer.data[0] != 12 {
            return Err(ins(2, "not TransferChecked"));
        }
        if transfer.accounts.len() != 4 {
            return Err(ins(2, "TransferChecked takes four accounts"));
        }
        let acct = |j: usize| usize::from(transfer.accounts[j]);
        let (source, mint_i, dest, authority) = (acct(0), acct(1), acct(2), acct(3));
        if tx.keys[mint_i] != mint {
            return Err(SvmRejection::WrongMint);
        }
        if transfer.data[9] != p.decimals {
            return Err(ins(2, "wrong decimals"));
        }
        if authority != 1 {
            return Err(SvmRejection::BadSigners(
                "the transfer authority must be the second signer",
            ));
        }
        if !tx.is_writable(source) || !tx.is_writable(dest) {
            return Err(ins(2, "source and destination must be writable"));
        }
        let owner = tx.keys[authority];
        let ata = |wallet: &Address| associated_token_account(wallet, &token_program, &mint);
        if Some(tx.keys[dest]) != ata(&pay_to) {
            return Err(SvmRejection::WrongDestination);
        }
        if Some(tx.keys[source]) != ata(&owner) {
            return Err(SvmRejection::WrongSource);
        }
        let amount = le_u64(&transfer.data[1..]);
        if amount != accepted_amount {
            return Err(SvmRejection::AmountMismatch {
                transferred: amount,
                accepted: accepted_amount,
            });
        }

        let note = &tx.instructions[3];
        if program(3) != memo || !note.accounts.is_empty() {
            return Err(ins(3, "not a Memo without accounts"));
        }
        if note.data.len() > MAX_MEMO_BYTES || std::str::from_utf8(&note.data).is_err() {
            return Err(ins(3, "memo is not UTF-8 of at most 256 bytes"));
        }
        Ok(Checked { owner, amount })
    }

    /// Remember the signature and the (blockhash, wallet) pair; fails if either was
    /// already used. One lock, so two concurrent replays cannot both pass.
    fn burn(
        &self,
        signature: &[u8; 64],
        blockhash: &[u8; 32],
        owner: &Address,
        now: SystemTime,
    ) -> Result<(), SvmRejection> {
        let window = Duration::from_secs(self.policy.replay_window_secs);
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        used.retain(|_, at| now.duration_since(*at).map_or(true, |age| age <= window));
        let sig_key = [b"s".as_slice(), signature].concat();
        let pair_key = [b"b".as_slice(), blockhash, owner].concat();
        if used.contains_key(&sig_key) {
            return Err(SvmRejection::ReplayedSignature);
        }
        if used.contains_key(&pair_key) {
            return Err(SvmRejection::ReplayedBlockhash);
        }
        used.insert(sig_key, now);
        used.insert(pair_key, now);
        Ok(())
    }
}

struct Checked {
    owner: Address,
    amount: u64,
}

fn b64(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let s = s.trim();
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(s).ok())
}

impl PaymentVerifier for SvmPaymentVerifier {
    fn verify(&self, header_value: &str) -> Result<VerifiedPayment, String> {
        let v = self
            .verify_at(header_value, SystemTime::now())
            .map_err(|e| e.to_string())?;
        Ok(VerifiedPayment {
            wallet: v.wallet,
            amount_usd: v.amount_usd,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
