//! A wallet's credit as the API reports it: the generated wire types under the names the
//! client has always used, and what a top-up credited ([`TopUpReceipt`]).

use serde::Serialize;
use venice_openapi::types::{X402SettlementResponse, X402TopUp};

/// A wallet's x402 credit (`GET /x402/balance/{wallet}`): the generated
/// [`X402Balance`](venice_openapi::types::X402Balance).
pub type WalletBalance = venice_openapi::types::X402Balance;
/// A page of a wallet's ledger (`GET /x402/transactions/{wallet}`), newest first: the
/// generated [`X402TransactionPage`](venice_openapi::types::X402TransactionPage).
pub type WalletTransactions = venice_openapi::types::X402TransactionPage;
/// One ledger entry (`type_`: `TOP_UP`, `CHARGE` or `REFUND`; `amount` signed, in USD):
/// the generated [`X402Transaction`](venice_openapi::types::X402Transaction).
pub type WalletTransaction = venice_openapi::types::X402Transaction;

/// What a top-up credited (`POST /x402/top-up`): the answer's data and the decoded
/// `PAYMENT-RESPONSE` header.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct TopUpReceipt {
    #[serde(flatten)]
    data: X402TopUp,
    settlement: Option<X402SettlementResponse>,
}

impl TopUpReceipt {
    /// The receipt of a top-up answered with `data` and, when the header decodes, its
    /// settlement.
    pub fn new(data: X402TopUp, settlement: Option<X402SettlementResponse>) -> Self {
        Self { data, settlement }
    }

    /// The answer's data as the wire has it.
    pub fn data(&self) -> &X402TopUp {
        &self.data
    }

    /// The credited wallet.
    pub fn wallet_address(&self) -> &str {
        &self.data.wallet_address
    }

    /// USD credited.
    pub fn amount_credited_usd(&self) -> f64 {
        self.data.amount_credited
    }

    /// Balance after the top-up, in USD.
    pub fn new_balance_usd(&self) -> f64 {
        self.data.new_balance
    }

    /// Payment id.
    pub fn payment_id(&self) -> &str {
        &self.data.payment_id
    }

    /// The decoded `PAYMENT-RESPONSE` header (settlement: network, payer, transaction).
    pub fn settlement(&self) -> Option<&X402SettlementResponse> {
        self.settlement.as_ref()
    }
}
