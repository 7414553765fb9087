//! Wallet operations of [`Client`] (feature `wallet`): balance, ledger, top-up and
//! the automatic top-up on a 402.

use std::sync::Mutex;
use std::time::SystemTime;

use alloy_primitives::B256;
use base64_simd::STANDARD as B64;
use progenitor_client::ClientInfo;
use reqwest::header::{ACCEPT, HeaderName, HeaderValue};
use serde::Deserialize;

use super::{Client, ClientBuilder};
use crate::auth::Auth;
use crate::decode;
use crate::error::{Error, PaymentRequired, Result};
use crate::payment::{PaymentRequiredKind, PaymentRequirements};
use crate::wallet::{
    AutoTopUp, PAYMENT_SIGNATURE_HEADER, TopUpReceipt, Wallet, WalletBalance, WalletError,
    WalletTransaction, WalletTransactions, payment_payload, sign_authorization,
};

/// Wallet state of a client: the auto top-up policy and what it has spent.
pub(super) struct WalletState {
    auto: Option<AutoTopUp>,
    /// USD committed to automatic top-ups so far (reserved before signing).
    auto_spent: Mutex<f64>,
}

impl WalletState {
    pub(super) fn new(auto: Option<AutoTopUp>) -> Self {
        Self {
            auto,
            auto_spent: Mutex::new(0.0),
        }
    }
}

impl ClientBuilder {
    /// Top up automatically when a wallet call gets a 402 for lack of credit: up to
    /// `max_total_usd` over the client's life, then the call is retried once with a
    /// fresh header. Off by default; needs an EVM wallet ([`Auth::evm_wallet`]).
    /// Feature `wallet`.
    pub fn auto_top_up(mut self, policy: AutoTopUp) -> Self {
        self.auto_top_up = Some(policy);
        self
    }
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePage {
    wallet_address: String,
    current_balance: f64,
    #[serde(default)]
    transactions: Vec<WalletTransaction>,
    #[serde(default)]
    pagination: WirePagination,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct WirePagination {
    #[serde(default)]
    limit: u64,
    #[serde(default)]
    offset: u64,
    #[serde(default)]
    has_more: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireTopUp {
    wallet_address: String,
    amount_credited: f64,
    new_balance: f64,
    payment_id: String,
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
        Error::Wallet(_) | Error::Config(_) | Error::Validation(_) => true,
        _ => e
            .status()
            .is_some_and(|s| (400..500).contains(&s) && s != 409),
    }
}

impl Client {
    fn wallet_address(&self) -> Result<String> {
        let addr = self.inner.auth.wallet_address().ok_or(WalletError::Unsupported(
            "this call needs wallet credentials (Auth::evm_wallet, Auth::solana_wallet or Auth::siwx_header)",
        ))?;
        // The address goes into the path: refuse anything but an address's characters.
        if addr.is_empty() || !addr.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(WalletError::Unsupported("the SIWX header has no valid address").into());
        }
        Ok(addr)
    }

    /// The x402 credit of the signed-in wallet (`GET /x402/balance/{wallet}`).
    pub async fn wallet_balance(&self) -> Result<WalletBalance> {
        let path = format!("/x402/balance/{}", self.wallet_address()?);
        let body = self.get_json("getX402Balance", &path, &[]).await?;
        let b: Envelope<WalletBalance> =
            serde_json::from_slice(&body).map_err(|e| Error::decode("wallet balance", e))?;
        if let Ok(mut last) = self.inner.last_balance.lock() {
            *last = Some(b.data.balance_usd);
        }
        Ok(b.data)
    }

    /// A page of the signed-in wallet's ledger, newest first (`limit` 1-100).
    pub async fn wallet_transactions(&self, limit: u32, offset: u64) -> Result<WalletTransactions> {
        let path = format!("/x402/transactions/{}", self.wallet_address()?);
        let (limit, offset) = (limit.to_string(), offset.to_string());
        let body = self
            .get_json(
                "getX402Transactions",
                &path,
                &[("limit", &limit), ("offset", &offset)],
            )
            .await?;
        let p: Envelope<WirePage> =
            serde_json::from_slice(&body).map_err(|e| Error::decode("wallet transactions", e))?;
        let p = p.data;
        Ok(WalletTransactions {
            wallet_address: p.wallet_address,
            current_balance_usd: p.current_balance,
            transactions: p.transactions,
            limit: p.pagination.limit,
            offset: p.pagination.offset,
            has_more: p.pagination.has_more,
        })
    }

    /// `POST /x402/top-up` without credentials, with an optional payment header.
    async fn post_top_up(&self, payment: Option<&str>) -> Result<reqwest::Response> {
        let raw = &self.inner.raw;
        let mut rb = raw
            .client()
            .post(format!("{}/x402/top-up", raw.baseurl()))
            .header("api-version", venice_openapi::Client::api_version())
            .header(ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(p) = payment {
            let mut v = HeaderValue::from_str(p)
                .map_err(|_| WalletError::Payment("payment header is not ASCII".into()))?;
            // A signed authorization moves money: keep it out of logs.
            v.set_sensitive(true);
            rb = rb.header(HeaderName::from_static(PAYMENT_SIGNATURE_HEADER), v);
        }
        let response = rb.send().await.map_err(Error::from_transport)?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(decode::error_from_response(response).await)
        }
    }

    /// The payments `POST /x402/top-up` accepts (x402 discovery).
    pub async fn payment_requirements(&self) -> Result<PaymentRequirements> {
        match self.post_top_up(None).await {
            Err(Error::PaymentRequired(p)) => p.requirements().ok_or_else(|| Error::Decode {
                what: "x402 payment requirements (402 without `accepts`)".into(),
                source: None,
            }),
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

    /// Add `amount_usd` of credit to the signed-in EVM wallet: fetch the accepted
    /// payments, pick USDC on Base (`exact`), sign an EIP-3009 authorization for it
    /// (EIP-712) and submit it in `PAYMENT-SIGNATURE`.
    ///
    /// Not retried: on a timeout or `SETTLEMENT_TIMEOUT` check
    /// [`wallet_balance`](Self::wallet_balance) before paying again.
    pub async fn top_up(&self, amount_usd: f64) -> Result<TopUpReceipt> {
        self.top_up_with(amount_usd, None).await
    }

    async fn top_up_with(
        &self,
        amount_usd: f64,
        known: Option<PaymentRequirements>,
    ) -> Result<TopUpReceipt> {
        let signer = match &self.inner.auth {
            Auth::Wallet(w) => match w.wallet() {
                Wallet::Evm(s) => s.clone(),
                _ => {
                    return Err(WalletError::Unsupported(
                        "top-up signs USDC on Base: it needs an EVM wallet (Solana top-up needs an RPC node)",
                    )
                    .into());
                }
            },
            _ => {
                return Err(WalletError::Unsupported(
                    "top-up needs an EVM private key (Auth::evm_wallet)",
                )
                .into());
            }
        };
        let value = usd_to_units(amount_usd)?;
        let requirements = match known.filter(|r| r.base_option().is_some()) {
            Some(r) => r,
            None => self.payment_requirements().await?,
        };
        let option = requirements.base_option().ok_or_else(|| {
            WalletError::Payment(format!(
                "no `exact` payment on Base among the accepted networks: {}",
                requirements
                    .accepts
                    .iter()
                    .map(|o| o.network.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
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
        let auth = sign_authorization(&signer, option, value, SystemTime::now(), nonce.0)?;
        let payload = payment_payload(option, &auth, requirements.resource.as_ref());
        let header = B64.encode_to_string(payload.to_string());
        tracing::info!(
            wallet = signer.address(),
            amount_usd,
            network = option.network.as_str(),
            "x402 top-up"
        );
        let response = self.post_top_up(Some(&header)).await?;
        let settlement = crate::meta::header(response.headers(), "payment-response")
            .and_then(|v| B64.decode_to_vec(v).ok())
            .and_then(|b| serde_json::from_slice(&b).ok());
        let body = decode::read_body_max(response, self.response_cap()).await?;
        let t: Envelope<WireTopUp> =
            serde_json::from_slice(&body).map_err(|e| Error::decode("top-up result", e))?;
        if let Ok(mut last) = self.inner.last_balance.lock() {
            *last = Some(t.data.new_balance);
        }
        Ok(TopUpReceipt {
            wallet_address: t.data.wallet_address,
            amount_credited_usd: t.data.amount_credited,
            new_balance_usd: t.data.new_balance,
            payment_id: t.data.payment_id,
            settlement,
        })
    }

    /// USD committed to automatic top-ups by this client so far.
    pub fn auto_top_up_spent_usd(&self) -> f64 {
        self.inner.wallet.auto_spent.lock().map_or(0.0, |s| *s)
    }

    /// After `err`, top up automatically if the policy allows. `Ok(true)`: topped up,
    /// retry the call; `Ok(false)`: return `err` as is.
    pub(super) async fn auto_top_up_after(&self, err: &Error) -> Result<bool> {
        let Some(policy) = self.inner.wallet.auto else {
            return Ok(false);
        };
        let Error::PaymentRequired(p) = err else {
            return Ok(false);
        };
        if p.kind() != PaymentRequiredKind::WalletCredit
            || !matches!(&self.inner.auth, Auth::Wallet(w) if matches!(w.wallet(), Wallet::Evm(_)))
        {
            return Ok(false);
        }
        let amount = top_up_amount(&policy, p);
        {
            let Ok(mut spent) = self.inner.wallet.auto_spent.lock() else {
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
        match self.top_up_with(amount, p.requirements()).await {
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
                    && let Ok(mut spent) = self.inner.wallet.auto_spent.lock()
                {
                    *spent -= amount;
                }
                Err(e)
            }
        }
    }
}

/// The policy's amount, raised to the server's minimum and to what the call lacks.
fn top_up_amount(policy: &AutoTopUp, p: &PaymentRequired) -> f64 {
    let lacking = match (p.minimum_balance_usd, p.current_balance_usd) {
        (Some(need), Some(have)) => need - have,
        _ => 0.0,
    };
    let minimum = p
        .minimum_top_up_usd
        .or_else(|| {
            p.requirements()
                .and_then(|r| r.base_option().and_then(|o| o.amount_usd()))
        })
        .unwrap_or(0.0);
    policy.amount_usd.max(minimum).max(lacking)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

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
        assert!(!surely_unpaid(&Error::Timeout));
    }

    #[tokio::test]
    async fn wallet_calls_need_wallet_credentials() {
        let c = Client::builder()
            .base_url("http://127.0.0.1:1")
            .auth(Auth::api_key("k"))
            .build()
            .unwrap();
        assert!(matches!(
            c.wallet_balance().await,
            Err(Error::Wallet(WalletError::Unsupported(_)))
        ));
        assert!(matches!(
            c.top_up(5.0).await,
            Err(Error::Wallet(WalletError::Unsupported(_)))
        ));
        let c = Client::builder()
            .base_url("http://127.0.0.1:1")
            .auth(Auth::siwx_header("e30="))
            .build()
            .unwrap();
        assert!(matches!(
            c.top_up(5.0).await,
            Err(Error::Wallet(WalletError::Unsupported(_)))
        ));
    }

    #[test]
    fn public_futures_are_send() {
        fn send<T: Send>(_: &T) {}
        let c = Client::builder()
            .base_url("http://127.0.0.1:1")
            .build()
            .unwrap();
        let req = crate::GenerateRequest::builder("m", "p").build().unwrap();
        // Auto top-up runs inside `generate`'s retry loop: it must keep it `Send`.
        send(&c.generate(&req));
        send(&c.top_up(5.0));
        send(&c.wallet_balance());
        send(&c.wallet_transactions(1, 0));
    }

    #[test]
    fn code_is_known() {
        assert_eq!(
            "X402_INVALID_SIGN_IN".parse::<ErrorCode>().unwrap(),
            ErrorCode::X402InvalidSignIn
        );
    }
}
