//! Pay with a wallet (x402): Sign-In-With-X auth, a 402 for lack of credit, a USDC
//! top-up on Base, a paid generation, the balance and the ledger.
//!
//! With `VENICE_WALLET_PRIVATE_KEY` set this talks to the real API (and a top-up
//! spends real USDC!). Without it, it runs offline against the embedded mock with a
//! throwaway wallet:
//!
//! ```sh
//! cargo run -p venice-image --example wallet --features wallet
//! ```

use std::sync::Arc;

use venice_image::wallet::{AutoTopUp, LocalEvmSigner, SiwxConfig, Wallet};
use venice_image::{Auth, Client, Error, GenerateRequest, Size};
use venice_mock::{MockConfig, MockServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Keep the mock alive for the whole run when offline.
    let (auth, base_url, _mock) = if std::env::var("VENICE_WALLET_PRIVATE_KEY").is_ok() {
        (
            Auth::from_env()?,
            venice_image::DEFAULT_BASE_URL.to_owned(),
            None,
        )
    } else {
        let mock = MockServer::start(MockConfig::default()).await?;
        let wallet = Wallet::Evm(Arc::new(LocalEvmSigner::random()?));
        println!("offline: embedded mock, throwaway wallet {wallet:?}");
        let auth = Auth::wallet(wallet, SiwxConfig::default())?;
        (auth, mock.base_url(), Some(mock))
    };
    let client = Client::builder()
        .base_url(&base_url)
        .auth(auth.clone())
        .build()?;

    // Every request below carries a freshly signed SIGN-IN-WITH-X header.
    let balance = client.wallet_balance().await?;
    println!(
        "wallet {} has ${:.2}",
        balance.wallet_address, balance.balance_usd
    );

    let request = GenerateRequest::builder("venice-sd35", "a lighthouse at dusk")
        .size(Size::Pixels {
            width: 512,
            height: 384,
        })
        .build()?;
    match client.generate(&request).await {
        Ok(g) => println!(
            "generated (credit left: {:?})",
            g.meta().balance_remaining_usd()
        ),
        Err(Error::PaymentRequired { error: p, .. }) => {
            println!("402 ({:?}): {}", p.kind(), p.api_error().message());
            if let Some(option) = p.requirements().as_ref().and_then(|r| r.base_option()) {
                println!(
                    "  accepted: {} units of {} on {} to {}",
                    option.amount, option.asset, option.network, option.pay_to
                );
            }
            // Signs an EIP-3009 USDC authorization (EIP-712) and submits it.
            let receipt = client.top_up(5.0).await?;
            println!(
                "topped up ${:.2}; balance ${:.2}",
                receipt.amount_credited_usd(),
                receipt.new_balance_usd()
            );
            let g = client.generate(&request).await?;
            g.save_all(std::env::temp_dir()).await?;
            println!(
                "generated {} image(s); credit left ${:.4}",
                g.images().len(),
                g.meta().balance_remaining_usd().unwrap_or_default()
            );
        }
        Err(e) => return Err(e.into()),
    }
    println!("last balance seen: {:?}", client.last_balance_usd());

    for t in client.wallet_transactions(10, 0).await?.transactions {
        println!(
            "  {} {:<7} {:+.4} -> {:.4}",
            t.created_at, t.type_, t.amount, t.balance_after
        );
    }

    // Hands-off mode: on a 402 top up $5 (at most $20 over the client's life), then
    // retry the request once with a fresh header.
    let auto = Client::builder()
        .base_url(&base_url)
        .auth(auth)
        .auto_top_up(AutoTopUp {
            amount_usd: 5.0,
            max_total_usd: 20.0,
        })
        .build()?;
    let g = auto.generate(&request).await?;
    println!(
        "auto client: generated; auto top-ups so far ${:.2}, credit left {:?}",
        auto.auto_top_up_spent_usd(),
        g.meta().balance_remaining_usd()
    );
    Ok(())
}
