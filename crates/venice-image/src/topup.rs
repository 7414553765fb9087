//! x402 payments (feature `wallet`), the client's side: discovering what `POST
//! /x402/top-up` accepts, reading the balance, submitting a top-up that `venice-x402`
//! signed, and the automatic top-up after a wallet 402 (whose decisions are
//! `venice_x402::topup`'s).
//!
//! Works on the client's [`Transport`] and credentials only (not on `Client`), so the
//! client can call it from inside its send loop without the two modules importing each
//! other.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64_simd::STANDARD as B64;
use venice_openapi::Uploads;
use venice_openapi::types::{X402SettlementResponse, X402TopUpResponse};
use venice_x402::topup::{self as policy, AutoTopUpState, SolanaTopUp};
use venice_x402::{
    EvmSigner, PaymentRequirements, SolanaSigner, TopUpReceipt, Wallet, WalletBalance,
};

use crate::auth::Auth;
use crate::error::{Error, PaymentRequiredKind, Result, WalletError};
use crate::solana_rpc::{self, Endpoint};
use crate::transport::Transport;

/// What paying needs from a client: its transport, credentials and Solana endpoint.
#[derive(Clone, Copy)]
pub(crate) struct Payer<'a> {
    pub(crate) transport: &'a Transport,
    pub(crate) auth: &'a Auth,
    /// The user's Solana JSON-RPC URL; `None` uses the provider's proxy.
    pub(crate) solana_rpc: Option<&'a reqwest::Url>,
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

/// Whether a failed payment's outcome is unknown: it may still be credited.
fn outcome_unknown(e: &Error) -> bool {
    matches!(
        e.code(),
        Some(
            crate::error::ErrorCode::SettlementTimeout | crate::error::ErrorCode::PaymentInProgress
        )
    ) || !surely_unpaid(e)
}

/// `POST /x402/top-up`, with `payment` in `PAYMENT-SIGNATURE` or without (discovery).
/// Sent once: a payment is never repeated automatically.
async fn post_top_up(
    payer: Payer<'_>,
    payment: Option<&str>,
) -> Result<venice_openapi::ResponseValue<X402TopUpResponse>> {
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

/// The address of the signed-in wallet, or why a wallet call cannot be made.
pub(crate) fn wallet_address(auth: &Auth) -> Result<String> {
    Ok(auth.wallet_address().ok_or(WalletError::Unsupported(
        "this call needs wallet credentials (Auth::evm_wallet, Auth::solana_wallet or Auth::siwx_header)",
    ))?)
}

/// `GET /x402/balance/{wallet}` of the signed-in wallet, with the retry policy.
pub(crate) async fn wallet_balance(payer: Payer<'_>) -> Result<WalletBalance> {
    let address = wallet_address(payer.auth)?;
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
    let balance = response.into_inner().data;
    payer.transport.set_balance(balance.balance_usd);
    Ok(balance)
}

/// The payments `POST /x402/top-up` accepts (x402 discovery).
pub(crate) async fn payment_requirements(payer: Payer<'_>) -> Result<PaymentRequirements> {
    match post_top_up(payer, None).await {
        Err(Error::PaymentRequired { error: p, .. }) => {
            // A discovery 402: `requirements` marks its options as priced at the
            // minimum top-up.
            p.requirements().ok_or_else(|| {
                Error::undecodable("x402 payment requirements (402 without `accepts`)")
            })
        }
        Err(e) => Err(e),
        Ok(r) => Err(Error::undecodable(format!(
            "x402 payment requirements (top-up without payment answered {})",
            r.status()
        ))),
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
                _ => {
                    return Err(WalletError::Unsupported(
                        "top-up pays from an EVM or a Solana wallet",
                    ));
                }
            })
        }
        _ => Err(WalletError::Unsupported(
            "top-up needs wallet credentials with a signer (Auth::evm_wallet, \
             Auth::solana_wallet or Auth::wallet_with_signer)",
        )),
    }
}

/// `known` when `pick` finds an option in it, else a fresh discovery.
async fn requirements_for(
    payer: Payer<'_>,
    known: Option<PaymentRequirements>,
    pick: fn(&PaymentRequirements) -> Option<&venice_x402::X402PaymentRequirement>,
) -> Result<PaymentRequirements> {
    match known.filter(|r| pick(r).is_some()) {
        Some(r) => Ok(r),
        None => payment_requirements(payer).await,
    }
}

/// Sign and submit a top-up of `amount_usd` from the client's wallet, using `known`
/// requirements when they hold an option for it. `minimum_usd`: the provider's minimum
/// when the caller knows it (a 402's `minimumTopUpUsd`). Amounts above the provider's
/// maximum and from contract wallets are refused before any signer call.
pub(crate) async fn top_up(
    payer: Payer<'_>,
    amount_usd: f64,
    known: Option<PaymentRequirements>,
    minimum_usd: Option<f64>,
) -> Result<TopUpReceipt> {
    let (wallet, timeout) = paying_wallet(payer.auth)?;
    let value = policy::usd_to_units(amount_usd)?;
    policy::check_maximum(amount_usd)?;
    let (header, network, address) = match wallet {
        PayingWallet::Evm(signer) => {
            if signer.is_contract() {
                return Err(WalletError::ContractWallet(signer.address().to_owned()).into());
            }
            let pick = PaymentRequirements::base_option;
            let requirements = requirements_for(payer, known, pick).await?;
            let option = policy::option_of(&requirements, pick, "`exact` Base")?;
            policy::check_minimum(amount_usd, minimum_usd, &requirements, &option)?;
            let header =
                policy::evm_payment(signer.as_ref(), timeout, &requirements, &option, value)
                    .await?;
            (header, option.network, signer.address().to_owned())
        }
        PayingWallet::Solana(signer) => {
            let pick = PaymentRequirements::solana_option;
            let requirements = requirements_for(payer, known, pick).await?;
            let option = policy::option_of(&requirements, pick, "Solana")?;
            policy::check_minimum(amount_usd, minimum_usd, &requirements, &option)?;
            // Judged before any chain data is fetched: the provider bills RPC calls.
            let payment = SolanaTopUp::new(&option, signer.address(), value)?;
            let endpoint = payer.solana_rpc.map_or(Endpoint::Venice, Endpoint::Url);
            let chain = solana_rpc::chain_data(payer.transport, endpoint).await?;
            let header = payment
                .sign(signer.as_ref(), timeout, &chain, &requirements)
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
        .and_then(|b| serde_json::from_slice::<X402SettlementResponse>(&b).ok());
    let data = response.into_inner().data;
    payer.transport.set_balance(data.new_balance);
    Ok(TopUpReceipt::new(data, settlement))
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
    let Some(auto) = state.policy() else {
        return Ok(false);
    };
    let Error::PaymentRequired { kind, error: p } = err else {
        return Ok(false);
    };
    if !matches!(payer.auth, Auth::Wallet(_)) || *kind != PaymentRequiredKind::WalletCredit {
        return Ok(false);
    }
    let need = policy::credit_needed_usd(p.body());
    let mut gate = state.gate().await;
    let balance = match gate.usable(seen, need) {
        Some(b) => b,
        None => {
            let b = wallet_balance(payer).await?;
            gate.read(b.clone(), false);
            b
        }
    };
    if policy::covered(&balance, need)? {
        tracing::info!(
            balance_usd = balance.balance_usd,
            need_usd = need,
            "the wallet's credit covers the request; retrying without a top-up"
        );
        return Ok(true);
    }
    let amount = policy::top_up_amount(&auto, p.body());
    if !state.reserve(amount) {
        return Ok(false);
    }
    match top_up(payer, amount, p.requirements(), p.minimum_top_up_usd).await {
        Ok(receipt) => {
            tracing::info!(
                credited_usd = receipt.amount_credited_usd(),
                balance_usd = receipt.new_balance_usd(),
                "auto top-up done; retrying the request"
            );
            gate.paid(balance, receipt.new_balance_usd());
            Ok(true)
        }
        Err(e) if outcome_unknown(&e) => {
            // The transfer may still land: look before doing anything else, and keep
            // the reservation (the money may be gone).
            gate.unsettled();
            tracing::warn!(error = %e, "auto top-up outcome unknown; reading the balance");
            match wallet_balance(payer).await {
                Ok(b) => {
                    let covered = b.balance_usd + 1e-9 >= need;
                    gate.read(b, !covered);
                    if covered { Ok(true) } else { Err(e) }
                }
                Err(_) => Err(e),
            }
        }
        Err(e) => {
            state.release(amount);
            Err(e)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
        assert_eq!(b.data.diem_balance_usd, Some(0.2));
        let r: X402TopUpResponse = serde_json::from_value(
            serde_json::json!({"success": true, "data": {"walletAddress": "0xabc",
                "amountCredited": 5, "newBalance": 5, "paymentId": "p", "txHash": "0x1"}}),
        )
        .unwrap();
        assert_eq!(r.data.amount_credited, 5.0);
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
