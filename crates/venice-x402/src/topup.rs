//! The decisions of a top-up, without I/O: amounts and their limits, the option a wallet
//! pays and the payment it signs, and the automatic top-up's policy and memory
//! ([`AutoTopUpState`]). The client reads balances and sends payments; this module says
//! whether, how much and what.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use alloy_primitives::B256;
use venice_openapi::types::{VeniceError, X402PaymentRequirement};

use crate::credit::WalletBalance;
use crate::error::{SvmError, WalletError};
use crate::payment::{PaymentRequirementExt as _, PaymentRequirements, header_value};
use crate::wallet::svm::{ChainData, Pubkey, SolanaPayment, SolanaRequirement};
use crate::wallet::{
    EvmSigner, SolanaSigner, payment_payload, sign_authorization, sign_solana_transaction,
    with_timeout,
};

/// The provider's largest top-up (`AMOUNT_TOO_HIGH` above it), in USD.
pub const MAX_TOP_UP_USD: f64 = 10_000.0;
/// The credit a wallet needs to be admitted at all, in USD.
pub const MIN_ADMISSION_USD: f64 = 0.10;
/// How long a balance read that said "not enough" still stands for later 402s (the
/// provider allows 30 balance reads a minute per wallet).
const BALANCE_TTL: Duration = Duration::from_secs(5);

/// Automatic top-up when a wallet call gets a 402 (off unless set on the client).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AutoTopUp {
    /// USD per top-up (raised to the server's minimum when below it).
    pub amount_usd: f64,
    /// Most USD this client may top up automatically over its lifetime.
    pub max_total_usd: f64,
}

/// USD to 6-decimal token units; refuses what is not a positive amount.
pub fn usd_to_units(usd: f64) -> Result<u128, WalletError> {
    if !usd.is_finite() || usd <= 0.0 || usd > 1e9 {
        return Err(WalletError::Payment(format!(
            "top-up amount must be a positive number of USD, got {usd}"
        )));
    }
    Ok((usd * 1e6).round() as u128)
}

/// Refuse an amount above the provider's maximum ([`MAX_TOP_UP_USD`]), before anything
/// is signed.
pub fn check_maximum(amount_usd: f64) -> Result<(), WalletError> {
    if amount_usd > MAX_TOP_UP_USD {
        return Err(WalletError::AmountTooHigh {
            amount_usd,
            maximum_usd: MAX_TOP_UP_USD,
            limit: "maximum top-up",
        });
    }
    Ok(())
}

/// Refuse an amount below the provider's minimum: `minimum_usd` when known (a 402's
/// `minimumTopUpUsd`), else the option's amount when the requirements came from
/// discovery (priced at the minimum). A challenge's price is never a minimum.
pub fn check_minimum(
    amount_usd: f64,
    minimum_usd: Option<f64>,
    requirements: &PaymentRequirements,
    option: &X402PaymentRequirement,
) -> Result<(), WalletError> {
    let minimum = minimum_usd.or_else(|| {
        requirements
            .priced_at_minimum()
            .then(|| option.amount_usd())
            .flatten()
    });
    match minimum {
        Some(minimum_usd) if amount_usd + 1e-9 < minimum_usd => Err(WalletError::AmountTooLow {
            amount_usd,
            minimum_usd,
        }),
        _ => Ok(()),
    }
}

/// The option `pick` chooses in `requirements`, or why there is none.
pub fn option_of(
    requirements: &PaymentRequirements,
    pick: fn(&PaymentRequirements) -> Option<&X402PaymentRequirement>,
    wanted: &str,
) -> Result<X402PaymentRequirement, WalletError> {
    pick(requirements).cloned().ok_or_else(|| {
        WalletError::Payment(format!(
            "no {wanted} payment among the accepted networks: {}",
            requirements
                .accepts()
                .iter()
                .map(|o| o.network.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// The `PAYMENT-SIGNATURE` value of an EVM top-up of `value` units for `option`: an
/// EIP-3009 authorization signed by `signer` (within `timeout`) with a fresh nonce.
pub async fn evm_payment(
    signer: &dyn EvmSigner,
    timeout: Duration,
    requirements: &PaymentRequirements,
    option: &X402PaymentRequirement,
    value: u128,
) -> Result<String, WalletError> {
    if signer.is_contract() {
        return Err(WalletError::ContractWallet(signer.address().to_owned()));
    }
    let nonce = B256::try_random()
        .map_err(|e| WalletError::Signing(format!("no system randomness: {e}")))?;
    let auth = with_timeout(
        timeout,
        sign_authorization(signer, option, value, SystemTime::now(), nonce.0),
    )
    .await?;
    Ok(header_value(&payment_payload(
        option,
        &auth,
        requirements.resource(),
    )))
}

/// A Solana top-up judged before any chain data is fetched (the provider bills RPC
/// calls): network, mint, scheme, fee payer, amount.
///
/// The option's `amount` is a price (the minimum in discovery, the suggestion in a
/// challenge); the payment is for the caller's amount (checked against the minimum
/// before), never more.
#[derive(Debug)]
pub struct SolanaTopUp {
    requirement: SolanaRequirement,
    owner: Pubkey,
    cap: u64,
}

impl SolanaTopUp {
    /// Judge paying `value` units for `option` from `wallet_address`.
    pub fn new(
        option: &X402PaymentRequirement,
        wallet_address: &str,
        value: u128,
    ) -> Result<Self, WalletError> {
        let cap = u64::try_from(value).map_err(|_| SvmError::InvalidAmount(value.to_string()))?;
        let mut entry = option.clone();
        entry.amount = cap.to_string();
        let requirement = SolanaRequirement::new(&entry)?;
        let owner = Pubkey::parse(wallet_address, "the wallet address")?;
        // `prepare` checks these too; checked here as well so that such an offer costs
        // no RPC call.
        if owner == *requirement.fee_payer() {
            return Err(SvmError::OwnerIsFeePayer.into());
        }
        if owner == *requirement.pay_to() {
            return Err(SvmError::OwnerIsPayTo.into());
        }
        Ok(Self {
            requirement,
            owner,
            cap,
        })
    }

    /// Build the transaction on `chain`, have `signer` sign it (within `timeout`) and
    /// return the `PAYMENT-SIGNATURE` value.
    pub async fn sign(
        &self,
        signer: &dyn SolanaSigner,
        timeout: Duration,
        chain: &ChainData,
        requirements: &PaymentRequirements,
    ) -> Result<String, WalletError> {
        let payment = SolanaPayment::prepare(&self.requirement, chain, &self.owner, self.cap)?;
        let signature =
            with_timeout(timeout, sign_solana_transaction(signer, payment.message())).await?;
        tracing::debug!(
            fee_payer = %self.requirement.fee_payer(),
            pay_to = %self.requirement.pay_to(),
            source = %payment.source(),
            destination = %payment.destination(),
            amount_units = payment.amount(),
            memo = payment.memo(),
            "Solana top-up transaction signed"
        );
        Ok(payment
            .into_signed(&signature)?
            .header_value(requirements.resource()))
    }
}

/// The credit a wallet 402 says the call needs (`minimumBalanceUsd`, at least the
/// admission minimum).
pub fn credit_needed_usd(challenge: &VeniceError) -> f64 {
    challenge
        .minimum_balance_usd
        .unwrap_or(0.0)
        .max(MIN_ADMISSION_USD)
}

/// The policy's amount, raised to the provider's minimum top-up (`minimumTopUpUsd`,
/// never a challenge option's price, which is the $10 suggestion) and to what the call
/// lacks.
pub fn top_up_amount(policy: &AutoTopUp, challenge: &VeniceError) -> f64 {
    let lacking = match (challenge.minimum_balance_usd, challenge.current_balance_usd) {
        (Some(need), Some(have)) => need - have,
        _ => 0.0,
    };
    let minimum = challenge.minimum_top_up_usd.unwrap_or(0.0);
    policy.amount_usd.max(minimum).max(lacking)
}

/// The auto top-up policy of a client and what it has spent.
#[derive(Debug)]
pub struct AutoTopUpState {
    policy: Option<AutoTopUp>,
    /// USD committed to automatic top-ups so far (reserved before signing).
    spent: Mutex<f64>,
    /// Held while one 402 is judged (balance read, maybe a payment): the 402s of a burst
    /// queue here and reuse what the first one learnt (single flight).
    gate: tokio::sync::Mutex<Gate>,
}

/// What the automatic top-up knows of the wallet's credit.
#[derive(Debug, Default)]
pub struct Gate {
    /// The last balance read (or computed from a top-up receipt), and when.
    balance: Option<(Instant, WalletBalance)>,
    /// A payment whose outcome is unknown (504 `SETTLEMENT_TIMEOUT`, 409
    /// `PAYMENT_IN_PROGRESS`, a lost answer): the balance must be read before signing
    /// anything new.
    unsettled: bool,
}

impl Gate {
    /// The known balance, if it can stand for a 402 seen at `seen` that needs `need`:
    /// learnt after the 402 arrived (a top-up or read of the same burst), or a recent
    /// read that said "not enough" too. Never after an unsettled payment.
    pub fn usable(&self, seen: Instant, need: f64) -> Option<WalletBalance> {
        if self.unsettled {
            return None;
        }
        let (at, b) = self.balance.as_ref()?;
        (*at >= seen || (at.elapsed() < BALANCE_TTL && b.balance_usd < need)).then(|| b.clone())
    }

    /// A balance just read; `unsettled` when it does not yet show an unsettled payment.
    pub fn read(&mut self, balance: WalletBalance, unsettled: bool) {
        *self = Gate {
            balance: Some((Instant::now(), balance)),
            unsettled,
        };
    }

    /// A payment was credited: `before` with its new balance.
    pub fn paid(&mut self, mut before: WalletBalance, new_balance_usd: f64) {
        before.balance_usd = new_balance_usd;
        self.balance = Some((Instant::now(), before));
    }

    /// A payment's outcome is unknown: nothing known stands until the balance is read.
    pub fn unsettled(&mut self) {
        self.unsettled = true;
        self.balance = None;
    }
}

/// Whether a wallet with `balance` may retry a call that needs `need` USD without paying;
/// refuses ([`WalletError::DiemFirst`]) a wallet that spends DIEM first, which a top-up
/// cannot help.
pub fn covered(balance: &WalletBalance, need: f64) -> Result<bool, WalletError> {
    if let Some(diem_balance_usd) = balance.diem_balance_usd.filter(|d| *d > 0.0) {
        return Err(WalletError::DiemFirst { diem_balance_usd });
    }
    Ok(balance.balance_usd + 1e-9 >= need)
}

impl AutoTopUpState {
    /// The state of a client with `policy` (`None`: no automatic top-up).
    pub fn new(policy: Option<AutoTopUp>) -> Self {
        Self {
            policy,
            spent: Mutex::new(0.0),
            gate: tokio::sync::Mutex::new(Gate::default()),
        }
    }

    /// The policy, when automatic top-up is on.
    pub fn policy(&self) -> Option<AutoTopUp> {
        self.policy
    }

    /// USD committed to automatic top-ups so far.
    pub fn spent(&self) -> f64 {
        self.spent.lock().map_or(0.0, |s| *s)
    }

    /// Wait for the gate: one 402 judged at a time.
    pub async fn gate(&self) -> tokio::sync::MutexGuard<'_, Gate> {
        self.gate.lock().await
    }

    /// Reserve `amount` USD under the policy's cap; `false` (nothing reserved) when it
    /// would exceed it.
    pub fn reserve(&self, amount: f64) -> bool {
        let (Some(policy), Ok(mut spent)) = (self.policy, self.spent.lock()) else {
            return false;
        };
        if *spent + amount > policy.max_total_usd + 1e-9 {
            tracing::warn!(
                amount_usd = amount,
                spent_usd = *spent,
                cap_usd = policy.max_total_usd,
                "auto top-up skipped: it would exceed the spending cap"
            );
            return false;
        }
        *spent += amount;
        true
    }

    /// Give back a reservation whose payment surely moved no money.
    pub fn release(&self, amount: f64) {
        if let Ok(mut spent) = self.spent.lock() {
            *spent -= amount;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn units() {
        assert_eq!(usd_to_units(5.0).unwrap(), 5_000_000);
        assert_eq!(usd_to_units(0.1234567).unwrap(), 123_457);
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(usd_to_units(bad).is_err());
        }
        assert!(check_maximum(MAX_TOP_UP_USD).is_ok());
        assert!(matches!(
            check_maximum(MAX_TOP_UP_USD + 1.0),
            Err(WalletError::AmountTooHigh { .. })
        ));
    }

    #[test]
    fn a_challenge_price_is_no_minimum() {
        let option: X402PaymentRequirement = serde_json::from_value(json!({
            "scheme": "exact", "network": "eip155:8453", "amount": "10000000",
            "asset": "a", "payTo": "p"
        }))
        .unwrap();
        let challenge = PaymentRequirements::default();
        assert!(check_minimum(5.0, None, &challenge, &option).is_ok());
        assert!(check_minimum(5.0, Some(5.0), &challenge, &option).is_ok());
        assert!(check_minimum(4.0, Some(5.0), &challenge, &option).is_err());
        let discovery = PaymentRequirements::new(challenge.wire().clone(), true);
        assert!(matches!(
            check_minimum(5.0, None, &discovery, &option),
            Err(WalletError::AmountTooLow { minimum_usd, .. }) if minimum_usd == 10.0
        ));
    }

    #[test]
    fn amounts_from_a_challenge() {
        let c: VeniceError = serde_json::from_value(json!({
            "minimumBalanceUsd": 12.0, "currentBalanceUsd": 0.5, "minimumTopUpUsd": 5.0}))
        .unwrap();
        let policy = AutoTopUp {
            amount_usd: 1.0,
            max_total_usd: 100.0,
        };
        assert_eq!(top_up_amount(&policy, &c), 11.5);
        assert_eq!(credit_needed_usd(&c), 12.0);
        assert_eq!(
            credit_needed_usd(&VeniceError::default()),
            MIN_ADMISSION_USD
        );
        let state = AutoTopUpState::new(Some(policy));
        assert!(state.reserve(60.0));
        assert!(!state.reserve(60.0));
        state.release(60.0);
        assert_eq!(state.spent(), 0.0);
        assert!(!AutoTopUpState::new(None).reserve(1.0));
    }

    #[test]
    fn diem_first_and_cover() {
        let mut b: WalletBalance = serde_json::from_value(json!({
            "walletAddress": "0xabc", "balanceUsd": 1.5, "canConsume": true,
            "minimumTopUpUsd": 5, "suggestedTopUpUsd": 10}))
        .unwrap();
        assert!(covered(&b, 1.0).unwrap());
        assert!(!covered(&b, 2.0).unwrap());
        b.diem_balance_usd = Some(0.2);
        assert!(matches!(
            covered(&b, 1.0),
            Err(WalletError::DiemFirst { .. })
        ));
    }
}
