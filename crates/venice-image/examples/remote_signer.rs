//! Keys that never enter the client: every signature (the `SIGN-IN-WITH-X` header of
//! each request, the EIP-712 authorization of a Base top-up, the transaction of a
//! Solana top-up) is asked of a signing service over HTTP, the shape a KMS, an HSM
//! gateway or a custodial wallet API has. `examples/remote_signer/service.rs` holds the
//! service and the two signers (`RemoteEvmSigner`, `RemoteSolanaSigner`) that implement
//! the library's `EvmSigner` / `SolanaSigner` traits over it.
//!
//! With `VENICE_SIGNER_URL` set (a service speaking that small protocol) it talks to the
//! real API (`VENICE_BASE_URL` to change it; a top-up spends real USDC!). Without it, it
//! runs offline: a loopback signing service with fresh keys and the embedded mock.
//!
//! ```sh
//! cargo run -p venice-image --example remote_signer --features wallet
//! ```

#[path = "remote_signer/service.rs"]
mod service;

use service::{RemoteEvmSigner, RemoteSolanaSigner, SigningService};
use venice_image::wallet::{LocalEvmSigner, LocalSolanaSigner, SolanaSigner as _, Wallet};
use venice_image::{Auth, Client, Error, GenerateRequest, Size};
use venice_mock::{MockConfig, MockServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Keep the service and the mock alive for the whole run when offline.
    let (signer_url, base_url, offline) = match std::env::var("VENICE_SIGNER_URL") {
        Ok(url) => (
            url,
            std::env::var("VENICE_BASE_URL")
                .unwrap_or_else(|_| venice_image::DEFAULT_BASE_URL.to_owned()),
            None,
        ),
        Err(_) => {
            // The keys are made inside the service and moved into it; this process
            // only ever talks to it over HTTP.
            let service =
                SigningService::start(LocalEvmSigner::random()?, LocalSolanaSigner::random()?)
                    .await?;
            let mut config = MockConfig::default();
            // Some credit for the Solana wallet: the provider's RPC proxy, which gives
            // a Solana top-up its blockhash, bills per call.
            let solana = RemoteSolanaSigner::connect(service.url()).await?;
            config
                .wallet_balances
                .insert(solana.address().to_owned(), 0.01);
            let mock = MockServer::start(config).await?;
            println!(
                "offline: embedded mock, loopback signing service {}",
                service.url()
            );
            (
                service.url().to_owned(),
                mock.base_url(),
                Some((service, mock)),
            )
        }
    };

    // An EVM wallet whose key is in the service.
    let evm = RemoteEvmSigner::connect(&signer_url).await?;
    let client = Client::builder()
        .base_url(&base_url)
        .auth(Auth::wallet_with_signer(Wallet::evm_signer(evm)))
        .build()?;
    println!("client: {client:?}"); // the address only: there is no key to print

    // Signed remotely: the SIWX header of this request.
    let balance = client.wallet_balance().await?;
    println!(
        "EVM wallet {} has ${:.2}",
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
        Err(Error::PaymentRequired { .. }) => {
            // Signed remotely: the EIP-712 digest of the USDC authorization.
            let receipt = client.top_up(5.0).await?;
            println!("topped up ${:.2} on Base", receipt.amount_credited_usd());
            let g = client.generate(&request).await?;
            println!(
                "generated {} image(s); credit left ${:.4}",
                g.images().len(),
                g.meta().balance_remaining_usd().unwrap_or_default()
            );
        }
        Err(e) => return Err(e.into()),
    }

    // A Solana wallet in the same service: the top-up transaction is signed remotely.
    let solana = RemoteSolanaSigner::connect(&signer_url).await?;
    let client = Client::builder()
        .base_url(&base_url)
        .auth(Auth::wallet_with_signer(Wallet::solana_signer(solana)))
        .build()?;
    let receipt = client.top_up(5.0).await?;
    println!(
        "topped up ${:.2} on Solana (transaction {})",
        receipt.amount_credited_usd(),
        receipt
            .settlement()
            .and_then(|s| s.transaction.as_deref())
            .unwrap_or("?")
    );
    if let Some((service, _)) = &offline {
        println!("signatures the service made: {:?}", service.signatures());
    }
    Ok(())
}
