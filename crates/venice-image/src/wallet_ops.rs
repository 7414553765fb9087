//! The wallet operations of [`Client`] (feature `wallet`): balance, ledger, payment
//! requirements, top-up, and the auto top-up setting of [`ClientBuilder`].

use venice_openapi::Uploads;
use venice_x402::{
    AutoTopUp, PaymentRequirements, TopUpReceipt, WalletBalance, WalletTransactions,
};

use crate::client::{Client, ClientBuilder};
use crate::error::Result;
use crate::topup;

impl ClientBuilder {
    /// Top up automatically when a wallet call gets a 402 for lack of credit: up to
    /// `max_total_usd` over the client's life, then the call is retried once with a
    /// fresh header. Before paying, the wallet's balance is read (once per burst of
    /// 402s): no payment when the credit already covers the call, none for a wallet that
    /// spends DIEM first ([`WalletError::DiemFirst`]), and after a payment whose outcome
    /// is unknown (504 `SETTLEMENT_TIMEOUT`, 409 `PAYMENT_IN_PROGRESS`) the balance is
    /// read before anything new is signed. The amount is `amount_usd`, raised to the
    /// provider's minimum (`minimumTopUpUsd`), never to a challenge's price. Off by default; needs wallet credentials with a signer, EVM (pays
    /// USDC on Base) or Solana (pays USDC on Solana, see
    /// [`solana_rpc_url`](Self::solana_rpc_url)). Feature `wallet`.
    ///
    /// [`WalletError::DiemFirst`]: crate::wallet::WalletError::DiemFirst
    #[cfg_attr(docsrs, doc(cfg(feature = "wallet")))]
    pub fn auto_top_up(mut self, policy: AutoTopUp) -> Self {
        self.auto_top_up = Some(policy);
        self
    }

    /// The Solana JSON-RPC endpoint a Solana top-up reads its chain data from (a recent
    /// blockhash, the USDC mint), e.g. your own node or an RPC provider's URL with its
    /// key. [`Client::from_env`] reads it from `VENICE_SOLANA_RPC_URL`.
    ///
    /// Default: the provider's proxy (`POST /crypto/rpc/solana-mainnet` of the API),
    /// which bills about $0.00004 per top-up from the wallet's credit, so a wallet with
    /// no credit at all needs an endpoint of its own. The endpoint gets a plain JSON-RPC
    /// POST to exactly this URL, without Venice credentials; the URL is never printed
    /// (it may hold a key). [`build`](Self::build) fails on a URL that is not http(s).
    /// Feature `wallet`.
    #[cfg_attr(docsrs, doc(cfg(feature = "wallet")))]
    pub fn solana_rpc_url(mut self, url: impl Into<String>) -> Self {
        self.solana_rpc_url = Some(secrecy::SecretString::from(url.into()));
        self
    }
}

impl Client {
    /// The x402 credit of the signed-in wallet (`GET /x402/balance/{wallet}`).
    /// Feature `wallet`.
    #[cfg_attr(docsrs, doc(cfg(feature = "wallet")))]
    pub async fn wallet_balance(&self) -> Result<WalletBalance> {
        topup::wallet_balance(self.payer()).await
    }

    /// A page of the signed-in wallet's ledger, newest first (`limit` 1-100).
    /// Feature `wallet`.
    #[cfg_attr(docsrs, doc(cfg(feature = "wallet")))]
    pub async fn wallet_transactions(&self, limit: u32, offset: u64) -> Result<WalletTransactions> {
        let address = topup::wallet_address(&self.inner.auth)?;
        let call = self.call(Uploads::new());
        let response = self
            .send(&call, || {
                call.raw()
                    .get_x402_transactions()
                    .wallet_address(address.as_str())
                    .limit(u64::from(limit))
                    .offset(offset)
                    .send()
            })
            .await?;
        Ok(response.into_inner().data)
    }

    /// The payments `POST /x402/top-up` accepts (x402 discovery). Feature `wallet`.
    #[cfg_attr(docsrs, doc(cfg(feature = "wallet")))]
    pub async fn payment_requirements(&self) -> Result<PaymentRequirements> {
        topup::payment_requirements(self.payer()).await
    }

    /// Add `amount_usd` of credit to the signed-in wallet: fetch the accepted payments,
    /// then
    /// - EVM wallet: pick USDC on Base (`exact`), sign an EIP-3009 authorization for it
    ///   (EIP-712);
    /// - Solana wallet: pick USDC on Solana mainnet (`exact`), read a recent blockhash
    ///   and the mint from the Solana RPC endpoint
    ///   ([`ClientBuilder::solana_rpc_url`], `VENICE_SOLANA_RPC_URL`, else the
    ///   provider's proxy), and sign the transfer transaction (the facilitator pays the
    ///   fee);
    ///
    /// and submit it in `PAYMENT-SIGNATURE`. Refuses to sign (with
    /// [`WalletError::Solana`] or [`WalletError::Payment`], nothing sent) an offer on
    /// another network or asset; with [`WalletError::AmountTooLow`] an amount below the
    /// discovered minimum, with [`WalletError::AmountTooHigh`] one above the provider's
    /// $10,000 (before any call), with [`WalletError::ContractWallet`] a payment from a
    /// smart-contract wallet. Feature `wallet`.
    ///
    /// Not retried: on a timeout or `SETTLEMENT_TIMEOUT` check
    /// [`wallet_balance`](Self::wallet_balance) before paying again.
    ///
    /// [`WalletError::Solana`]: crate::wallet::WalletError::Solana
    /// [`WalletError::Payment`]: crate::wallet::WalletError::Payment
    /// [`WalletError::AmountTooLow`]: crate::wallet::WalletError::AmountTooLow
    /// [`WalletError::AmountTooHigh`]: crate::wallet::WalletError::AmountTooHigh
    /// [`WalletError::ContractWallet`]: crate::wallet::WalletError::ContractWallet
    #[cfg_attr(docsrs, doc(cfg(feature = "wallet")))]
    pub async fn top_up(&self, amount_usd: f64) -> Result<TopUpReceipt> {
        topup::top_up(self.payer(), amount_usd, None, None).await
    }

    /// [`top_up`](Self::top_up) paying one of `requirements` (from
    /// [`payment_requirements`](Self::payment_requirements)), so that what a person was
    /// shown and confirmed (amount, asset, network, payee) is what gets signed; a new
    /// discovery is made only when `requirements` hold no option for the wallet's chain.
    /// Same checks and refusals as `top_up`. Feature `wallet`.
    #[cfg_attr(docsrs, doc(cfg(feature = "wallet")))]
    pub async fn top_up_with(
        &self,
        amount_usd: f64,
        requirements: &PaymentRequirements,
    ) -> Result<TopUpReceipt> {
        topup::top_up(self.payer(), amount_usd, Some(requirements.clone()), None).await
    }

    /// USD committed to automatic top-ups by this client so far. Feature `wallet`.
    #[cfg_attr(docsrs, doc(cfg(feature = "wallet")))]
    pub fn auto_top_up_spent_usd(&self) -> f64 {
        self.inner.auto_top_up.spent()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::auth::Auth;
    use crate::error::{Error, WalletError};

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
        assert!(matches!(
            c.top_up_with(5.0, &PaymentRequirements::default()).await,
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
        // Auto top-up runs inside `generate`'s send loop: it must keep it `Send`.
        send(&c.generate(&req));
        send(&c.top_up(5.0));
        send(&c.top_up_with(5.0, &PaymentRequirements::default()));
        send(&c.wallet_balance());
        send(&c.wallet_transactions(1, 0));
    }
}
