//! x402 `exact` payments on Solana: the partially signed v0 transaction of a top-up,
//! and the two JSON-RPC calls that supply its chain data.
//!
//! Signer-agnostic on purpose: [`SolanaPayment::prepare`] returns the message bytes,
//! whoever holds the key (in process, a KMS, a remote service) signs them, and
//! [`SolanaPayment::into_signed`] checks that signature and assembles the transaction and
//! the `PAYMENT-SIGNATURE` value. Nothing here does I/O.
//!
//! The v0 message is encoded by hand (no `solana-sdk`): one fixed shape of four
//! instructions, checked byte for byte against the `solders` implementation in the tests.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use alloy_primitives::{FixedBytes, hex};
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use venice_openapi::types::{
    X402ExactPayload, X402ExactSvmPayload, X402PaymentPayload, X402PaymentRequirement, X402Resource,
};

pub use crate::error::SvmError;
use crate::payment::PaymentRequirementExt as _;

/// CAIP-2 id of Solana mainnet, as x402 v2 names it.
pub const SOLANA_MAINNET_NETWORK: &str = "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp";
/// The bare network name older challenges use for Solana mainnet.
pub const SOLANA_BARE_NETWORK: &str = "solana";
/// The USDC mint on Solana mainnet.
pub const USDC_MINT: &str = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v";
/// USDC's decimals.
pub const USDC_DECIMALS: u8 = 6;
/// The SPL Token program.
pub const TOKEN_PROGRAM: &str = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
/// The Token-2022 program.
pub const TOKEN_2022_PROGRAM: &str = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb";
/// The Associated Token Account program (owner of the ATA derivation).
pub const ASSOCIATED_TOKEN_PROGRAM: &str = "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL";
/// The Compute Budget program.
pub const COMPUTE_BUDGET_PROGRAM: &str = "ComputeBudget111111111111111111111111111111";
/// The Memo program (v2).
pub const MEMO_PROGRAM: &str = "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr";
/// Compute units requested (`SetComputeUnitLimit`): enough for a `TransferChecked`
/// and a memo, as the x402 clients ask.
pub const COMPUTE_UNIT_LIMIT: u32 = 20_000;
/// Priority fee in micro-lamports per compute unit (`SetComputeUnitPrice`); the fee
/// payer pays it, so the smallest non-zero price.
pub const COMPUTE_UNIT_PRICE_MICRO_LAMPORTS: u64 = 1;
/// Longest `extra.memo` accepted, in UTF-8 bytes.
pub const MAX_MEMO_BYTES: usize = 256;

/// The version byte that starts a v0 message (high bit set, version 0).
const V0_PREFIX: u8 = 0x80;
/// `SetComputeUnitLimit`, `SetComputeUnitPrice` and `TransferChecked` discriminators.
const SET_COMPUTE_UNIT_LIMIT: u8 = 2;
const SET_COMPUTE_UNIT_PRICE: u8 = 3;
const TRANSFER_CHECKED: u8 = 12;
/// Size of an SPL mint account; `decimals` sits at byte 44, `is_initialized` at 45.
const MINT_LEN: usize = 82;
const MINT_DECIMALS_OFFSET: usize = 44;
const MINT_INITIALIZED_OFFSET: usize = 45;

/// A Solana address (Ed25519 public key or program address): 32 bytes, base58 text.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pubkey([u8; 32]);

impl Pubkey {
    #[cfg(test)] // only the tests need it
    /// From raw bytes.
    pub const fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parse base58, naming `field` in the error.
    pub fn parse(s: &str, field: &'static str) -> Result<Self, SvmError> {
        let bad = || SvmError::InvalidAddress {
            field,
            value: s.to_owned(),
        };
        let bytes = bs58::decode(s.trim()).into_vec().map_err(|_| bad())?;
        Ok(Self(bytes.try_into().map_err(|_| bad())?))
    }

    /// Whether the bytes decompress to an Ed25519 point. Program-derived addresses
    /// must not, so that no private key can sign for them.
    pub fn is_on_curve(&self) -> bool {
        // `VerifyingKey::from_bytes` is exactly `CompressedEdwardsY::decompress`, the
        // test Solana's runtime applies.
        VerifyingKey::from_bytes(&self.0).is_ok()
    }

    fn constant(s: &'static str) -> Self {
        // The constants above are valid base58 of 32 bytes (tested); a typo panics in
        // every test, not on user input.
        #[allow(clippy::expect_used)]
        Self::parse(s, "constant").expect("valid address constant")
    }
}

impl FromStr for Pubkey {
    type Err = SvmError;

    fn from_str(s: &str) -> Result<Self, SvmError> {
        Self::parse(s, "address")
    }
}

impl fmt::Display for Pubkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bs58::encode(self.0).into_string())
    }
}

impl fmt::Debug for Pubkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pubkey({self})")
    }
}

/// `find_program_address`: the first bump from 255 down whose
/// `sha256(seeds ‖ bump ‖ program ‖ "ProgramDerivedAddress")` is off the curve.
pub fn find_program_address(seeds: &[&[u8]], program: &Pubkey) -> Option<(Pubkey, u8)> {
    (0..=u8::MAX).rev().find_map(|bump| {
        let mut h = Sha256::new();
        for seed in seeds {
            h.update(seed);
        }
        h.update([bump]);
        h.update(program.as_bytes());
        h.update(b"ProgramDerivedAddress");
        let candidate = Pubkey(h.finalize().into());
        (!candidate.is_on_curve()).then_some((candidate, bump))
    })
}

/// The associated token account of `owner` for `mint` under `token_program`.
pub fn associated_token_address(
    owner: &Pubkey,
    token_program: TokenProgram,
    mint: &Pubkey,
) -> Result<Pubkey, SvmError> {
    find_program_address(
        &[
            owner.as_bytes(),
            token_program.id().as_bytes(),
            mint.as_bytes(),
        ],
        &Pubkey::constant(ASSOCIATED_TOKEN_PROGRAM),
    )
    .map(|(address, _)| address)
    .ok_or(SvmError::NoProgramAddress)
}

/// The token program that owns a mint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenProgram {
    /// SPL Token (`Tokenkeg…`), USDC's.
    Token,
    /// Token-2022 (`Tokenz…`).
    Token2022,
}

impl TokenProgram {
    /// The program id.
    pub fn id(self) -> Pubkey {
        Pubkey::constant(match self {
            TokenProgram::Token => TOKEN_PROGRAM,
            TokenProgram::Token2022 => TOKEN_2022_PROGRAM,
        })
    }

    /// The program named by a base58 id, if it is one of the two.
    pub fn from_id(id: &str) -> Option<Self> {
        match id.trim() {
            TOKEN_PROGRAM => Some(TokenProgram::Token),
            TOKEN_2022_PROGRAM => Some(TokenProgram::Token2022),
            _ => None,
        }
    }
}

/// Whether `network` names Solana mainnet (CAIP-2 or the bare `solana`).
pub fn is_solana_mainnet(network: &str) -> bool {
    network == SOLANA_MAINNET_NETWORK || network == SOLANA_BARE_NETWORK
}

#[cfg(test)] // only the tests need it
/// Whether `network` names any Solana cluster (`solana` or `solana:*`), to pick the
/// Solana entry of an `accepts` list before [`SolanaRequirement::new`] judges it.
pub fn is_solana_network(network: &str) -> bool {
    network == SOLANA_BARE_NETWORK || network.starts_with("solana:")
}

/// A Solana `exact` entry of a 402's `accepts`, judged: mainnet, USDC, a valid receiver
/// and fee payer. Keeps the entry to echo it in `accepted`.
#[derive(Clone, Debug, PartialEq)]
pub struct SolanaRequirement {
    pay_to: Pubkey,
    amount: u64,
    fee_payer: Pubkey,
    memo: Option<String>,
    entry: X402PaymentRequirement,
}

impl SolanaRequirement {
    /// Judge an `accepts` entry; refuses anything but USDC on Solana mainnet with a fee
    /// payer, and a memo over [`MAX_MEMO_BYTES`].
    pub fn new(entry: &X402PaymentRequirement) -> Result<Self, SvmError> {
        if entry.scheme != "exact" {
            return Err(SvmError::WrongScheme(entry.scheme.clone()));
        }
        if !is_solana_mainnet(&entry.network) {
            return Err(SvmError::WrongNetwork(entry.network.clone()));
        }
        if entry.asset != USDC_MINT {
            return Err(SvmError::WrongAsset(entry.asset.clone()));
        }
        let amount = entry
            .amount
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|a| *a > 0)
            .ok_or_else(|| SvmError::InvalidAmount(entry.amount.clone()))?;
        let pay_to = Pubkey::parse(&entry.pay_to, "payTo")?;
        let fee_payer = match entry.fee_payer_value() {
            None | Some(Value::Null) => return Err(SvmError::MissingFeePayer),
            Some(v) => Pubkey::parse(v.as_str().unwrap_or_default(), "extra.feePayer")?,
        };
        let memo = match entry.memo_value() {
            None | Some(Value::Null) => None,
            Some(Value::String(m)) if m.len() <= MAX_MEMO_BYTES => Some(m.clone()),
            Some(Value::String(m)) => return Err(SvmError::MemoTooLong(m.len())),
            Some(_) => return Err(SvmError::InvalidRequirement("extra.memo is not a string")),
        };
        Ok(Self {
            pay_to,
            amount,
            fee_payer,
            memo,
            entry: entry.clone(),
        })
    }

    /// The receiver (owner of the destination token account).
    pub fn pay_to(&self) -> &Pubkey {
        &self.pay_to
    }

    /// Amount in USDC units (6 decimals).
    pub fn amount(&self) -> u64 {
        self.amount
    }

    /// The facilitator that pays the fee and co-signs.
    pub fn fee_payer(&self) -> &Pubkey {
        &self.fee_payer
    }

    /// The memo the server asked for, if any.
    pub fn memo(&self) -> Option<&str> {
        self.memo.as_deref()
    }

    /// The entry as echoed in the payload's `accepted`: the x402 v2 requirement (fields
    /// the provider adds to an entry are not part of it), network verbatim, `scheme`
    /// `exact`, `maxTimeoutSeconds` filled in when the server left it out.
    pub fn accepted(&self) -> X402PaymentRequirement {
        let mut accepted = self.entry.clone();
        accepted.scheme = "exact".into();
        accepted
            .max_timeout_seconds
            .get_or_insert(crate::payment::DEFAULT_TIMEOUT_SECS as i64);
        accepted
    }
}

/// The mint facts a transfer needs (from `getAccountInfo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MintInfo {
    /// The mint's owner program.
    pub token_program: TokenProgram,
    /// The mint's decimals.
    pub decimals: u8,
}

/// Chain data a payment is built on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainData {
    /// A recent blockhash (finalized); the transaction expires with it.
    pub recent_blockhash: [u8; 32],
    /// The mint's program and decimals.
    pub mint: MintInfo,
}

#[derive(Clone, Copy)]
struct AccountMeta {
    key: Pubkey,
    signer: bool,
    writable: bool,
}

struct Instruction {
    program: Pubkey,
    accounts: Vec<AccountMeta>,
    data: Vec<u8>,
}

/// Solana's `compact-u16` length prefix: 7 bits per byte, low first, high bit = more.
fn push_compact_u16(out: &mut Vec<u8>, mut n: u16) {
    loop {
        let low = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    // Every list here is bounded (8 accounts, 4 instructions, memo <= 256 bytes).
    push_compact_u16(out, u16::try_from(len).unwrap_or(u16::MAX));
}

/// Serialize a v0 message without lookup tables, version prefix included.
///
/// Keys are ordered as Solana's compiler orders them: the payer, then signer-writable,
/// signer-readonly, writable and readonly keys, each group by byte order.
fn compile_v0(payer: &Pubkey, instructions: &[Instruction], blockhash: &[u8; 32]) -> Vec<u8> {
    let mut metas: BTreeMap<Pubkey, (bool, bool)> = BTreeMap::new();
    for ix in instructions {
        metas.entry(ix.program).or_default();
        for a in &ix.accounts {
            let m = metas.entry(a.key).or_default();
            m.0 |= a.signer;
            m.1 |= a.writable;
        }
    }
    metas.remove(payer);
    let group = |signer: bool, writable: bool| {
        metas
            .iter()
            .filter(move |(_, m)| **m == (signer, writable))
            .map(|(k, _)| *k)
    };
    let keys: Vec<Pubkey> = std::iter::once(*payer)
        .chain(group(true, true))
        .chain(group(true, false))
        .chain(group(false, true))
        .chain(group(false, false))
        .collect();
    let count = |f: fn(&(bool, bool)) -> bool| metas.values().filter(|m| f(m)).count();
    let required_signatures = 1 + count(|m| m.0);
    let readonly_signed = count(|m| m.0 && !m.1);
    let readonly_unsigned = count(|m| !m.0 && !m.1);
    let index = |k: &Pubkey| keys.iter().position(|x| x == k).unwrap_or_default() as u8;

    let mut out = vec![
        V0_PREFIX,
        required_signatures as u8,
        readonly_signed as u8,
        readonly_unsigned as u8,
    ];
    push_len(&mut out, keys.len());
    for k in &keys {
        out.extend_from_slice(k.as_bytes());
    }
    out.extend_from_slice(blockhash);
    push_len(&mut out, instructions.len());
    for ix in instructions {
        out.push(index(&ix.program));
        push_len(&mut out, ix.accounts.len());
        out.extend(ix.accounts.iter().map(|a| index(&a.key)));
        push_len(&mut out, ix.data.len());
        out.extend_from_slice(&ix.data);
    }
    push_len(&mut out, 0); // address table lookups
    out
}

/// A Solana top-up ready to be signed: the v0 message, and what it pays.
#[derive(Clone, Debug)]
pub struct SolanaPayment {
    message: Vec<u8>,
    owner: Pubkey,
    source: Pubkey,
    destination: Pubkey,
    amount: u64,
    memo: String,
    accepted: X402PaymentRequirement,
}

impl SolanaPayment {
    /// Build the transfer of `requirement` from `owner`'s USDC account; refuses an
    /// amount above `cap_units`, a wallet that is the fee payer or the receiver, and a
    /// mint that does not have USDC's decimals. The memo is the requirement's, else a
    /// random 16-byte hex nonce (it makes each transaction unique).
    pub fn prepare(
        requirement: &SolanaRequirement,
        chain: &ChainData,
        owner: &Pubkey,
        cap_units: u64,
    ) -> Result<Self, SvmError> {
        let nonce =
            FixedBytes::<16>::try_random().map_err(|e| SvmError::Randomness(e.to_string()))?;
        Self::prepare_with_nonce(requirement, chain, owner, cap_units, nonce.0)
    }

    /// [`prepare`](Self::prepare) with the memo nonce given (used when the requirement
    /// has no memo), for reproducible transactions.
    pub fn prepare_with_nonce(
        requirement: &SolanaRequirement,
        chain: &ChainData,
        owner: &Pubkey,
        cap_units: u64,
        memo_nonce: [u8; 16],
    ) -> Result<Self, SvmError> {
        let r = requirement;
        if r.amount > cap_units {
            return Err(SvmError::AmountOverCap {
                amount: r.amount,
                cap: cap_units,
            });
        }
        if *owner == r.fee_payer {
            return Err(SvmError::OwnerIsFeePayer);
        }
        if *owner == r.pay_to {
            return Err(SvmError::OwnerIsPayTo);
        }
        if chain.mint.decimals != USDC_DECIMALS {
            return Err(SvmError::UnexpectedDecimals(chain.mint.decimals));
        }
        let program = chain.mint.token_program;
        let mint = Pubkey::constant(USDC_MINT);
        let source = associated_token_address(owner, program, &mint)?;
        let destination = associated_token_address(&r.pay_to, program, &mint)?;
        let memo = r.memo.clone().unwrap_or_else(|| hex::encode(memo_nonce));

        let compute_budget = Pubkey::constant(COMPUTE_BUDGET_PROGRAM);
        let mut limit = vec![SET_COMPUTE_UNIT_LIMIT];
        limit.extend_from_slice(&COMPUTE_UNIT_LIMIT.to_le_bytes());
        let mut price = vec![SET_COMPUTE_UNIT_PRICE];
        price.extend_from_slice(&COMPUTE_UNIT_PRICE_MICRO_LAMPORTS.to_le_bytes());
        let mut transfer = vec![TRANSFER_CHECKED];
        transfer.extend_from_slice(&r.amount.to_le_bytes());
        transfer.push(chain.mint.decimals);
        let meta = |key, signer, writable| AccountMeta {
            key,
            signer,
            writable,
        };
        let instructions = [
            Instruction {
                program: compute_budget,
                accounts: vec![],
                data: limit,
            },
            Instruction {
                program: compute_budget,
                accounts: vec![],
                data: price,
            },
            Instruction {
                program: program.id(),
                accounts: vec![
                    meta(source, false, true),
                    meta(mint, false, false),
                    meta(destination, false, true),
                    meta(*owner, true, false),
                ],
                data: transfer,
            },
            Instruction {
                program: Pubkey::constant(MEMO_PROGRAM),
                accounts: vec![],
                data: memo.as_bytes().to_vec(),
            },
        ];
        Ok(Self {
            message: compile_v0(&r.fee_payer, &instructions, &chain.recent_blockhash),
            owner: *owner,
            source,
            destination,
            amount: r.amount,
            memo,
            accepted: r.accepted(),
        })
    }

    /// The bytes the wallet signs with Ed25519: the serialized message, `0x80` version
    /// prefix included.
    pub fn message(&self) -> &[u8] {
        &self.message
    }

    /// The wallet's USDC token account (debited).
    pub fn source(&self) -> &Pubkey {
        &self.source
    }

    /// The receiver's USDC token account (credited).
    pub fn destination(&self) -> &Pubkey {
        &self.destination
    }

    /// Amount in USDC units.
    pub fn amount(&self) -> u64 {
        self.amount
    }

    /// The memo sent.
    pub fn memo(&self) -> &str {
        &self.memo
    }

    /// Check the wallet's `signature` of [`message`](Self::message) and assemble the
    /// transaction: two signature slots, the fee payer's left zero for the facilitator.
    pub fn into_signed(self, signature: &[u8; 64]) -> Result<SignedSolanaPayment, SvmError> {
        let key =
            VerifyingKey::from_bytes(self.owner.as_bytes()).map_err(|_| SvmError::BadSignature)?;
        key.verify(&self.message, &Signature::from_bytes(signature))
            .map_err(|_| SvmError::BadSignature)?;
        let mut transaction = Vec::with_capacity(1 + 128 + self.message.len());
        push_compact_u16(&mut transaction, 2);
        transaction.extend_from_slice(&[0; 64]);
        transaction.extend_from_slice(signature);
        transaction.extend_from_slice(&self.message);
        Ok(SignedSolanaPayment {
            transaction,
            accepted: self.accepted,
        })
    }
}

/// A signed (by the wallet only) Solana top-up.
#[derive(Clone, Debug, PartialEq)]
pub struct SignedSolanaPayment {
    transaction: Vec<u8>,
    accepted: X402PaymentRequirement,
}

impl SignedSolanaPayment {
    #[cfg(test)] // only the tests need it
    /// The serialized versioned transaction.
    pub fn transaction(&self) -> &[u8] {
        &self.transaction
    }

    /// The x402 v2 payment payload: the accepted requirement and the transaction in
    /// base64, plus `resource` when given.
    pub fn payload(&self, resource: Option<&X402Resource>) -> X402PaymentPayload {
        X402PaymentPayload {
            x402_version: crate::payment::X402_VERSION,
            resource: resource.cloned(),
            accepted: self.accepted.clone(),
            payload: X402ExactPayload::SvmPayload(X402ExactSvmPayload {
                transaction: base64_simd::STANDARD.encode_to_string(&self.transaction),
            }),
        }
    }

    /// The `PAYMENT-SIGNATURE` header value: base64 of the payload JSON.
    pub fn header_value(&self, resource: Option<&X402Resource>) -> String {
        crate::payment::header_value(&self.payload(resource))
    }
}

/// JSON-RPC body of `getLatestBlockhash` at `finalized` commitment.
pub fn latest_blockhash_request(id: u64) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "getLatestBlockhash",
        "params": [{"commitment": "finalized"}],
    })
}

/// JSON-RPC body of `getAccountInfo` for `mint`, base64 data.
pub fn mint_account_request(id: u64, mint: &Pubkey) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "getAccountInfo",
        "params": [mint.to_string(), {"encoding": "base64", "commitment": "finalized"}],
    })
}

/// A JSON-RPC error object as [`SvmError::Rpc`] (its message cut to 200 characters).
fn rpc_error(e: &Value) -> SvmError {
    SvmError::Rpc {
        code: e.get("code").and_then(Value::as_i64).unwrap_or_default(),
        message: e
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect(),
    }
}

/// The `result` of a JSON-RPC answer, or its `error` as [`SvmError::Rpc`].
fn rpc_result(response: &Value) -> Result<&Value, SvmError> {
    if let Some(e) = response.get("error").filter(|e| !e.is_null()) {
        return Err(rpc_error(e));
    }
    response
        .get("result")
        .ok_or(SvmError::RpcMalformed("neither result nor error"))
}

/// The blockhash of a `getLatestBlockhash` answer.
pub fn parse_latest_blockhash(response: &Value) -> Result<[u8; 32], SvmError> {
    let hash = rpc_result(response)?
        .pointer("/value/blockhash")
        .and_then(Value::as_str)
        .ok_or(SvmError::RpcMalformed("no value.blockhash"))?;
    bs58::decode(hash)
        .into_vec()
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(SvmError::RpcMalformed(
            "the blockhash is not 32 bytes of base58",
        ))
}

/// The token program and decimals of a `getAccountInfo` (base64) answer for a mint.
pub fn parse_mint_account(response: &Value) -> Result<MintInfo, SvmError> {
    let value = rpc_result(response)?
        .get("value")
        .ok_or(SvmError::RpcMalformed("no value"))?;
    if value.is_null() {
        return Err(SvmError::MintNotFound);
    }
    let owner = value
        .get("owner")
        .and_then(Value::as_str)
        .ok_or(SvmError::RpcMalformed("no value.owner"))?;
    let token_program =
        TokenProgram::from_id(owner).ok_or_else(|| SvmError::UnknownTokenProgram(owner.into()))?;
    let data = match value.get("data") {
        Some(Value::Array(a)) if a.get(1).and_then(Value::as_str) == Some("base64") => {
            a.first().and_then(Value::as_str)
        }
        _ => None,
    }
    .ok_or(SvmError::RpcMalformed(
        "value.data is not [<base64>, \"base64\"]",
    ))?;
    let data = base64_simd::STANDARD
        .decode_to_vec(data)
        .map_err(|_| SvmError::RpcMalformed("value.data is not base64"))?;
    if data.len() < MINT_LEN {
        return Err(SvmError::MintTooShort(data.len()));
    }
    if data[MINT_INITIALIZED_OFFSET] != 1 {
        return Err(SvmError::MintNotInitialized);
    }
    Ok(MintInfo {
        token_program,
        decimals: data[MINT_DECIMALS_OFFSET],
    })
}

/// The JSON-RPC ids of the chain-data batch.
const BLOCKHASH_ID: u64 = 1;
const MINT_ID: u64 = 2;

/// The JSON-RPC batch of a Solana top-up's chain data: the latest finalized blockhash
/// and the USDC mint account.
pub fn chain_data_request() -> Value {
    Value::Array(vec![
        latest_blockhash_request(BLOCKHASH_ID),
        mint_account_request(MINT_ID, &Pubkey::constant(USDC_MINT)),
    ])
}

/// The chain data in the answers to [`chain_data_request`], in any order.
pub fn chain_data_from_answers(answers: &[Value]) -> Result<ChainData, SvmError> {
    let by_id = |id: u64| {
        answers
            .iter()
            .find(|a| a.get("id").and_then(Value::as_u64) == Some(id))
            .ok_or(SvmError::RpcMalformed("an answer of the batch is missing"))
    };
    Ok(ChainData {
        recent_blockhash: parse_latest_blockhash(by_id(BLOCKHASH_ID)?)?,
        mint: parse_mint_account(by_id(MINT_ID)?)?,
    })
}

/// The error of a batch answered with one object (a JSON-RPC error for the whole batch).
pub fn whole_batch_error(error: Option<&Value>) -> SvmError {
    match error {
        Some(e) => rpc_error(e),
        None => SvmError::RpcMalformed("one answer to a batch of two"),
    }
}

/// A fresh `Idempotency-Key` for a billed RPC call (16 random bytes, hex), so that a
/// retried call replays its answer instead of being billed again.
pub fn idempotency_key() -> Result<String, SvmError> {
    let key = FixedBytes::<16>::try_random().map_err(|e| SvmError::Randomness(e.to_string()))?;
    Ok(hex::encode(key))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
