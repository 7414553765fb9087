//! x402 payments (feature `wallet`): discovering what `POST /x402/top-up` accepts,
//! signing and submitting a top-up (USDC on Base for an EVM wallet, USDC on Solana for a
//! Solana wallet), and the automatic top-up after a wallet 402.
//!
//! Works on the client's [`Transport`] and credentials only (not on `Client`), so the
//! client can call it from inside its send loop without the two modules importing each
//! other.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

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
    AutoTopUp, EvmSigner, SolanaSigner, SvmError, TopUpReceipt, Wallet, WalletError,
    payment_payload, sign_authorization, with_timeout,
};

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
}

impl AutoTopUpState {
    pub(crate) fn new(policy: Option<AutoTopUp>) -> Self {
        Self {
            policy,
            spent: Mutex::new(0.0),
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

/// The payments `POST /x402/top-up` accepts (x402 discovery).
pub(crate) async fn payment_requirements(payer: Payer<'_>) -> Result<PaymentRequirements> {
    match post_top_up(payer, None).await {
        Err(Error::PaymentRequired { error: p, .. }) => {
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

/// Sign and submit a top-up of `amount_usd` from the client's wallet, using `known`
/// requirements when they hold an option for it.
pub(crate) async fn top_up(
    payer: Payer<'_>,
    amount_usd: f64,
    known: Option<PaymentRequirements>,
) -> Result<TopUpReceipt> {
    let (wallet, timeout) = paying_wallet(payer.auth)?;
    let value = usd_to_units(amount_usd)?;
    let (header, network, address) = match wallet {
        PayingWallet::Evm(signer) => {
            let (requirements, option) = option_of(
                payer,
                known,
                PaymentRequirements::base_option,
                "`exact` Base",
            )
            .await?;
            if let Some(min) = option.amount_units()
                && value < min
            {
                return Err(WalletError::Payment(format!(
                    "${amount_usd} is below the minimum top-up of ${}",
                    min as f64 / 1e6
                ))
                .into());
            }
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
/// The server's `amount` is the minimum top-up; the payment is for `value` (the caller's
/// amount), never more. Everything the client can judge is judged before any chain data
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
    if let Some(minimum) = option.amount_units()
        && minimum > u128::from(cap)
    {
        return Err(SvmError::AmountOverCap {
            amount: u64::try_from(minimum).unwrap_or(u64::MAX),
            cap,
        }
        .into());
    }
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

/// After `err`, top up automatically if the policy allows. `Ok(true)`: topped up,
/// retry the call; `Ok(false)`: return `err` as is.
pub(crate) async fn auto_top_up_after(
    payer: Payer<'_>,
    state: &AutoTopUpState,
    err: &Error,
) -> Result<bool> {
    let Some(policy) = state.policy else {
        return Ok(false);
    };
    let Error::PaymentRequired { kind, error: p } = err else {
        return Ok(false);
    };
    let Auth::Wallet(wallet) = payer.auth else {
        return Ok(false);
    };
    if *kind != PaymentRequiredKind::WalletCredit {
        return Ok(false);
    }
    let amount = top_up_amount(&policy, p, wallet.wallet());
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
    match top_up(payer, amount, p.requirements()).await {
        Ok(receipt) => {
            tracing::info!(
                credited_usd = receipt.amount_credited_usd,
                balance_usd = receipt.new_balance_usd,
                "auto top-up done; retrying the request"
            );
            Ok(true)
        }
        Err(e) => {
            if surely_unpaid(&e)
                && let Ok(mut spent) = state.spent.lock()
            {
                *spent -= amount;
            }
            Err(e)
        }
    }
}

/// The policy's amount, raised to the server's minimum (for the wallet's chain) and to
/// what the call lacks.
fn top_up_amount(policy: &AutoTopUp, p: &PaymentRequired, wallet: &Wallet) -> f64 {
    let lacking = match (p.minimum_balance_usd, p.current_balance_usd) {
        (Some(need), Some(have)) => need - have,
        _ => 0.0,
    };
    let pick = match wallet {
        Wallet::Solana(_) => PaymentRequirements::solana_option,
        _ => PaymentRequirements::base_option,
    };
    let minimum = p
        .minimum_top_up_usd
        .or_else(|| {
            p.requirements()
                .and_then(|r| pick(&r).and_then(PaymentOption::amount_usd))
        })
        .unwrap_or(0.0);
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

    #[test]
    fn unpaid_classification() {
        assert!(surely_unpaid(&Error::Wallet(WalletError::Unsupported("x"))));
        assert!(!surely_unpaid(&Error::Timeout {
            phase: crate::error::TimeoutPhase::Headers,
            source: None
        }));
    }
}
