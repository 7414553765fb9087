//! x402 payments (feature `wallet`): discovering what `POST /x402/top-up` accepts,
//! signing and submitting a top-up (USDC on Base for an EVM wallet, USDC on Solana for a
//! Solana wallet), and the automatic top-up after a wallet 402.
//!
//! Works on the client's [`Transport`] and credentials only (not on `Client`), so the
//! client can call it from inside its send loop without the two modules importing each
//! other.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use alloy_primitives::B256;
use base64_simd::STANDARD as B64;
use venice_openapi::Uploads;

use crate::auth::Auth;
use crate::error::PaymentRequiredKind;
use crate::error::{Error, PaymentRequired, Result};
use crate::payment::{PaymentOption, PaymentRequirements};
use crate::solana_rpc::{self, Endpoint};
use crate::transport::Transport;
use crate::wallet::svm::{Pubkey, SolanaPayment, SolanaRequirement};
use crate::wallet::{
    AutoTopUp, EvmSigner, SolanaSigner, SvmError, TopUpReceipt, Wallet, WalletBalance, WalletError,
    payment_payload, sign_authorization, with_timeout,
};

/// The provider's largest top-up (`AMOUNT_TOO_HIGH` above it), in USD.
pub(crate) const MAX_TOP_UP_USD: f64 = 10_000.0;
/// The credit a wallet needs to be admitted at all, in USD.
const MIN_ADMISSION_USD: f64 = 0.10;
/// How long a balance read that said "not enough" still stands for later 402s (the
/// provider allows 30 balance reads a minute per wallet).
const BALANCE_TTL: Duration = Duration::from_secs(5);

/// What paying needs from a client: its transport, credentials and Solana endpoint.
#[derive(Clone, Copy)]
pub(crate) struct Payer<'a> {
    pub(crate) transport: &'a Transport,
    pub(crate) auth: &'a Auth,
    /// The user's Solana JSON-RPC URL; `None` uses the provider's proxy.
    pub(crate) solana_rpc: Option<&'a reqwest::Url>,
}

/// The auto top-up policy of a client and what it has spent.
pub(crate) struct AutoTopUpState {
    policy: Option<AutoTopUp>,
    /// USD committed to automatic top-ups so far (reserved before signing).
    spent: Mutex<f64>,
    /// Held while one 402 is judged (balance read, maybe a payment): the 402s of a burst
    /// queue here and reuse what the first one learnt (single flight).
    gate: tokio::sync::Mutex<Gate>,
}

/// What the automatic top-up knows of the wallet's credit.
#[derive(Default)]
struct Gate {
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
    fn usable(&self, seen: Instant, need: f64) -> Option<WalletBalance> {
        if self.unsettled {
            return None;
        }
        let (at, b) = self.balance.as_ref()?;
        (*at >= seen || (at.elapsed() < BALANCE_TTL && b.balance_usd < need)).then(|| b.clone())
    }
}

impl AutoTopUpState {
    pub(crate) fn new(policy: Option<AutoTopUp>) -> Self {
        Self {
            policy,
            spent: Mutex::new(0.0),
            gate: tokio::sync::Mutex::new(Gate::default()),
        }
    }

    pub(crate) fn spent(&self) -> f64 {
        self.spent.lock().map_or(0.0, |s| *s)
    }
}

/// USD to 6-decimal token units.
fn usd_to_units(usd: f64) -> Result<u128, WalletError> {
    if !usd.is_finite() || usd <= 0.0 || usd > 1e9 {
        return Err(WalletError::Payment(format!(
            "top-up amount must be a positive number of USD, got {usd}"
        )));
    }
    Ok((usd * 1e6).round() as u128)
}

/// Whether a failed top-up surely moved no money (so its reservation can be released).
fn surely_unpaid(e: &Error) -> bool {
    match e {
        Error::Wallet(_) | Error::Config { .. } | Error::Validation(_) | Error::Auth(_) => true,
        _ => e
            .status()
            .is_some_and(|s| (400..500).contains(&s) && s != 409),
    }
}

/// `POST /x402/top-up`, with `payment` in `PAYMENT-SIGNATURE` or without (discovery).
/// Sent once: a payment is never repeated automatically.
async fn post_top_up(
    payer: Payer<'_>,
    payment: Option<&str>,
) -> Result<venice_openapi::ResponseValue<venice_openapi::types::X402TopUpResponse>> {
    let call = payer.transport.call(Uploads::new());
    payer
        .transport
        .run_once(&call, || {
            let builder = call.raw().top_up_x402_balance();
            match payment {
                Some(p) => builder.payment_signature(p).send(),
                None => builder.send(),
            }
        })
        .await
}

impl From<venice_openapi::types::X402Balance> for WalletBalance {
    fn from(b: venice_openapi::types::X402Balance) -> Self {
        WalletBalance {
            wallet_address: b.wallet_address,
            balance_usd: b.balance_usd,
            can_consume: b.can_consume,
            minimum_top_up_usd: Some(b.minimum_top_up_usd),
            suggested_top_up_usd: Some(b.suggested_top_up_usd),
            diem_balance_usd: b.diem_balance_usd,
        }
    }
}

/// `GET /x402/balance/{wallet}` of the signed-in wallet, with the retry policy.
pub(crate) async fn wallet_balance(payer: Payer<'_>) -> Result<WalletBalance> {
    let address = payer.auth.wallet_address().ok_or(WalletError::Unsupported(
        "this call needs wallet credentials (Auth::evm_wallet, Auth::solana_wallet or Auth::siwx_header)",
    ))?;
    let call = payer.transport.call(Uploads::new());
    let response = payer
        .transport
        .run(&call, || {
            call.raw()
                .get_x402_balance()
                .wallet_address(address.as_str())
                .send()
        })
        .await?;
    let balance = WalletBalance::from(response.into_inner().data);
    payer.transport.set_balance(balance.balance_usd);
    Ok(balance)
}

/// The payments `POST /x402/top-up` accepts (x402 discovery).
pub(crate) async fn payment_requirements(payer: Payer<'_>) -> Result<PaymentRequirements> {
    match post_top_up(payer, None).await {
        Err(Error::PaymentRequired { error: p, .. }) => {
            // A discovery 402: `requirements` marks its options as priced at the
            // minimum top-up.
            p.requirements().ok_or_else(|| Error::Decode {
                what: "x402 payment requirements (402 without `accepts`)".into(),
                source: None,
            })
        }
        Err(e) => Err(e),
        Ok(r) => Err(Error::Decode {
            what: format!(
                "x402 payment requirements (top-up without payment answered {})",
                r.status()
            ),
            source: None,
        }),
    }
}

/// The signer of the client's wallet, by chain.
enum PayingWallet {
    Evm(Arc<dyn EvmSigner>),
    Solana(Arc<dyn SolanaSigner>),
}

fn paying_wallet(auth: &Auth) -> Result<(PayingWallet, Duration), WalletError> {
    match auth {
        Auth::Wallet(w) => {
            let timeout = w.config().signer_timeout;
            Ok(match w.wallet() {
                Wallet::Evm(s) => (PayingWallet::Evm(s.clone()), timeout),
                Wallet::Solana(s) => (PayingWallet::Solana(s.clone()), timeout),
            })
        }
        _ => Err(WalletError::Unsupported(
            "top-up needs wallet credentials with a signer (Auth::evm_wallet, \
             Auth::solana_wallet or Auth::wallet_with_signer)",
        )),
    }
}

/// The option of `known` (else of a fresh discovery) that `pick` chooses.
async fn option_of(
    payer: Payer<'_>,
    known: Option<PaymentRequirements>,
    pick: fn(&PaymentRequirements) -> Option<&PaymentOption>,
    wanted: &str,
) -> Result<(PaymentRequirements, PaymentOption)> {
    let requirements = match known.filter(|r| pick(r).is_some()) {
        Some(r) => r,
        None => payment_requirements(payer).await?,
    };
    let option = pick(&requirements).cloned().ok_or_else(|| {
        WalletError::Payment(format!(
            "no {wanted} payment among the accepted networks: {}",
            requirements
                .accepts
                .iter()
                .map(|o| o.network.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    Ok((requirements, option))
}

/// Refuse an amount below the provider's minimum: `minimum_usd` when known (a 402's
/// `minimumTopUpUsd`), else the option's amount when the requirements came from
/// discovery (priced at the minimum). A challenge's price is never a minimum.
fn check_minimum(
    amount_usd: f64,
    minimum_usd: Option<f64>,
    requirements: &PaymentRequirements,
    option: &PaymentOption,
) -> Result<(), WalletError> {
    let minimum = minimum_usd.or_else(|| {
        requirements
            .priced_at_minimum
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

/// Sign and submit a top-up of `amount_usd` from the client's wallet, using `known`
/// requirements when they hold an option for it. `minimum_usd`: the provider's minimum
/// when the caller knows it (a 402's `minimumTopUpUsd`). Amounts above
/// [`MAX_TOP_UP_USD`] and from contract wallets are refused before any signer call.
pub(crate) async fn top_up(
    payer: Payer<'_>,
    amount_usd: f64,
    known: Option<PaymentRequirements>,
    minimum_usd: Option<f64>,
) -> Result<TopUpReceipt> {
    let (wallet, timeout) = paying_wallet(payer.auth)?;
    let value = usd_to_units(amount_usd)?;
    if amount_usd > MAX_TOP_UP_USD {
        return Err(WalletError::AmountTooHigh {
            amount_usd,
            maximum_usd: MAX_TOP_UP_USD,
            limit: "maximum top-up",
        }
        .into());
    }
    let (header, network, address) = match wallet {
        PayingWallet::Evm(signer) => {
            if signer.is_contract() {
                return Err(WalletError::ContractWallet(signer.address().to_owned()).into());
            }
            let (requirements, option) = option_of(
                payer,
                known,
                PaymentRequirements::base_option,
                "`exact` Base",
            )
            .await?;
            check_minimum(amount_usd, minimum_usd, &requirements, &option)?;
            let nonce = B256::try_random()
                .map_err(|e| WalletError::Signing(format!("no system randomness: {e}")))?;
            let auth = with_timeout(
                timeout,
                sign_authorization(signer.as_ref(), &option, value, SystemTime::now(), nonce.0),
            )
            .await?;
            let payload = payment_payload(&option, &auth, requirements.resource.as_ref());
            let header = B64.encode_to_string(payload.to_string());
            (header, option.network, signer.address().to_owned())
        }
        PayingWallet::Solana(signer) => {
            let (requirements, option) =
                option_of(payer, known, PaymentRequirements::solana_option, "Solana").await?;
            check_minimum(amount_usd, minimum_usd, &requirements, &option)?;
            let header = solana_payment(
                payer,
                signer.as_ref(),
                timeout,
                &requirements,
                &option,
                value,
            )
            .await?;
            (header, option.network, signer.address().to_owned())
        }
    };
    tracing::info!(
        wallet = address.as_str(),
        amount_usd,
        network = network.as_str(),
        "x402 top-up"
    );
    let response = post_top_up(payer, Some(&header)).await?;
    let settlement = crate::meta::header(response.headers(), "payment-response")
        .and_then(|v| B64.decode_to_vec(v).ok())
        .and_then(|b| serde_json::from_slice(&b).ok());
    let data = response.into_inner().data;
    payer.transport.set_balance(data.new_balance);
    Ok(TopUpReceipt {
        wallet_address: data.wallet_address,
        amount_credited_usd: data.amount_credited,
        new_balance_usd: data.new_balance,
        payment_id: data.payment_id,
        settlement,
    })
}

/// The `PAYMENT-SIGNATURE` value of a Solana top-up of `value` units for `option`.
///
/// The option's `amount` is a price (the minimum in discovery, the suggestion in a
/// challenge); the payment is for `value` (the caller's amount, checked against the
/// minimum before), never more. Everything the client can judge is judged before any chain data
/// is fetched (the provider bills RPC calls): network, mint, scheme, fee payer, amount.
async fn solana_payment(
    payer: Payer<'_>,
    signer: &dyn SolanaSigner,
    timeout: Duration,
    requirements: &PaymentRequirements,
    option: &PaymentOption,
    value: u128,
) -> Result<String, WalletError> {
    let cap = u64::try_from(value).map_err(|_| SvmError::InvalidAmount(value.to_string()))?;
    let mut entry = serde_json::to_value(option)
        .map_err(|e| WalletError::Payment(format!("the Solana option is not JSON: {e}")))?;
    entry["amount"] = serde_json::json!(cap.to_string());
    let requirement = SolanaRequirement::from_json(&entry)?;
    let owner = Pubkey::parse(signer.address(), "the wallet address")?;
    // `prepare` checks these too; checked here as well so that such an offer costs no
    // RPC call.
    if owner == *requirement.fee_payer() {
        return Err(SvmError::OwnerIsFeePayer.into());
    }
    if owner == *requirement.pay_to() {
        return Err(SvmError::OwnerIsPayTo.into());
    }
    let endpoint = payer.solana_rpc.map_or(Endpoint::Venice, Endpoint::Url);
    let chain = solana_rpc::chain_data(payer.transport, endpoint).await?;
    let payment = SolanaPayment::prepare(&requirement, &chain, &owner, cap)?;
    let signature = with_timeout(
        timeout,
        crate::wallet::sign_solana_transaction(signer, payment.message()),
    )
    .await?;
    tracing::debug!(
        fee_payer = %requirement.fee_payer(),
        pay_to = %requirement.pay_to(),
        source = %payment.source(),
        destination = %payment.destination(),
        amount_units = payment.amount(),
        memo = payment.memo(),
        "Solana top-up transaction signed"
    );
    Ok(payment
        .into_signed(&signature)?
        .header_value(requirements.resource.as_ref()))
}

/// Whether a failed payment's outcome is unknown: it may still be credited.
fn outcome_unknown(e: &Error) -> bool {
    matches!(
        e.code(),
        Some(
            crate::error::ErrorCode::SettlementTimeout | crate::error::ErrorCode::PaymentInProgress
        )
    ) || !surely_unpaid(e)
}

/// After `err`, top up automatically if the policy allows. `Ok(true)`: the wallet has
/// (or now has) the credit, retry the call; `Ok(false)`: return `err` as is.
///
/// The wallet's balance is read before any payment (once per burst of 402s: the 402s
/// that arrive while one is being judged wait for it and reuse its answer), and no
/// payment is made when the balance already covers the request, or when the wallet
/// spends DIEM first ([`WalletError::DiemFirst`]: a top-up cannot help). After a
/// payment whose outcome is unknown (504, 409) the balance is read before anything new
/// is signed.
pub(crate) async fn auto_top_up_after(
    payer: Payer<'_>,
    state: &AutoTopUpState,
    err: &Error,
) -> Result<bool> {
    let seen = Instant::now();
    let Some(policy) = state.policy else {
        return Ok(false);
    };
    let Error::PaymentRequired { kind, error: p } = err else {
        return Ok(false);
    };
    if !matches!(payer.auth, Auth::Wallet(_)) {
        return Ok(false);
    }
    if *kind != PaymentRequiredKind::WalletCredit {
        return Ok(false);
    }
    let need = p.minimum_balance_usd.unwrap_or(0.0).max(MIN_ADMISSION_USD);
    let mut gate = state.gate.lock().await;
    let balance = match gate.usable(seen, need) {
        Some(b) => b,
        None => {
            let b = wallet_balance(payer).await?;
            *gate = Gate {
                balance: Some((Instant::now(), b.clone())),
                unsettled: false,
            };
            b
        }
    };
    if let Some(diem_balance_usd) = balance.diem_balance_usd.filter(|d| *d > 0.0) {
        return Err(WalletError::DiemFirst { diem_balance_usd }.into());
    }
    if balance.balance_usd + 1e-9 >= need {
        tracing::info!(
            balance_usd = balance.balance_usd,
            need_usd = need,
            "the wallet's credit covers the request; retrying without a top-up"
        );
        return Ok(true);
    }
    let amount = top_up_amount(&policy, p);
    {
        let Ok(mut spent) = state.spent.lock() else {
            return Ok(false);
        };
        if *spent + amount > policy.max_total_usd + 1e-9 {
            tracing::warn!(
                amount_usd = amount,
                spent_usd = *spent,
                cap_usd = policy.max_total_usd,
                "auto top-up skipped: it would exceed the spending cap"
            );
            return Ok(false);
        }
        *spent += amount;
    }
    match top_up(payer, amount, p.requirements(), p.minimum_top_up_usd).await {
        Ok(receipt) => {
            tracing::info!(
                credited_usd = receipt.amount_credited_usd,
                balance_usd = receipt.new_balance_usd,
                "auto top-up done; retrying the request"
            );
            let mut after = balance;
            after.balance_usd = receipt.new_balance_usd;
            gate.balance = Some((Instant::now(), after));
            Ok(true)
        }
        Err(e) if outcome_unknown(&e) => {
            // The transfer may still land: look before doing anything else, and keep
            // the reservation (the money may be gone).
            gate.unsettled = true;
            gate.balance = None;
            tracing::warn!(error = %e, "auto top-up outcome unknown; reading the balance");
            match wallet_balance(payer).await {
                Ok(b) => {
                    let covered = b.balance_usd + 1e-9 >= need;
                    *gate = Gate {
                        balance: Some((Instant::now(), b)),
                        unsettled: !covered,
                    };
                    if covered { Ok(true) } else { Err(e) }
                }
                Err(_) => Err(e),
            }
        }
        Err(e) => {
            if let Ok(mut spent) = state.spent.lock() {
                *spent -= amount;
            }
            Err(e)
        }
    }
}

/// The policy's amount, raised to the provider's minimum top-up (`minimumTopUpUsd`,
/// never a challenge option's price, which is the $10 suggestion) and to what the call
/// lacks.
fn top_up_amount(policy: &AutoTopUp, p: &PaymentRequired) -> f64 {
    let lacking = match (p.minimum_balance_usd, p.current_balance_usd) {
        (Some(need), Some(have)) => need - have,
        _ => 0.0,
    };
    let minimum = p.minimum_top_up_usd.unwrap_or(0.0);
    policy.amount_usd.max(minimum).max(lacking)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(usd_to_units(5.0).unwrap(), 5_000_000);
        assert_eq!(usd_to_units(0.1234567).unwrap(), 123_457);
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(usd_to_units(bad).is_err());
        }
    }

    /// Responses read before paying tolerate fields the provider adds.
    #[test]
    fn balance_and_receipt_tolerate_new_fields() {
        let b: venice_openapi::types::X402BalanceResponse = serde_json::from_value(
            serde_json::json!({"success": true, "newEnvelopeField": 1, "data": {
                "walletAddress": "0xabc", "balanceUsd": 1.5, "canConsume": true,
                "minimumTopUpUsd": 5, "suggestedTopUpUsd": 10, "diemBalanceUsd": 0.2,
                "bundledCreditsUsd": 3, "somethingNew": {"a": 1}}}),
        )
        .unwrap();
        assert_eq!(WalletBalance::from(b.data).diem_balance_usd(), Some(0.2));
        let r: venice_openapi::types::X402TopUpResponse = serde_json::from_value(
            serde_json::json!({"success": true, "data": {"walletAddress": "0xabc",
                "amountCredited": 5, "newBalance": 5, "paymentId": "p", "txHash": "0x1"}}),
        )
        .unwrap();
        assert_eq!(r.data.amount_credited, 5.0);
    }

    #[test]
    fn a_challenge_price_is_no_minimum() {
        let option: PaymentOption = serde_json::from_value(serde_json::json!({
            "scheme": "exact", "network": "eip155:8453", "amount": "10000000"
        }))
        .unwrap();
        let challenge = PaymentRequirements::default();
        assert!(check_minimum(5.0, None, &challenge, &option).is_ok());
        assert!(check_minimum(5.0, Some(5.0), &challenge, &option).is_ok());
        assert!(check_minimum(4.0, Some(5.0), &challenge, &option).is_err());
        let discovery = PaymentRequirements {
            priced_at_minimum: true,
            ..PaymentRequirements::default()
        };
        assert!(matches!(
            check_minimum(5.0, None, &discovery, &option),
            Err(WalletError::AmountTooLow { minimum_usd, .. }) if minimum_usd == 10.0
        ));
    }

    #[test]
    fn unpaid_classification() {
        assert!(surely_unpaid(&Error::Wallet(WalletError::Unsupported("x"))));
        assert!(!surely_unpaid(&Error::Timeout {
            phase: crate::error::TimeoutPhase::Headers,
            source: None
        }));
    }
}
