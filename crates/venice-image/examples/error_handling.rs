//! React to the error classes a generation can end with.
//!
//! `cargo run -p venice-image --example error_handling` (offline on the embedded mock,
//! which is told to fail the first request with a 503 and the second with a 500; with
//! `VENICE_API_KEY` set, the real API).

mod common;

use std::time::Duration;

use venice_image::{Auth, Client, Error, ErrorCode, GenerateRequest, RetryPolicy};

#[tokio::main]
async fn main() {
    let (client, mock) = match common::client().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if let Some(mock) = &mock {
        // 503 is retried by default (nothing was charged); 500 only by the policy below.
        mock.push_faults(vec![
            venice_mock::Fault::Status503,
            venice_mock::Fault::Status500,
        ]);
    }
    let key = match &mock {
        Some(_) => venice_mock::DEFAULT_API_KEY.to_owned(),
        None => std::env::var("VENICE_API_KEY").unwrap_or_default(),
    };
    // Opt in to retrying 500/504 (may be charged twice).
    let client = Client::builder()
        .base_url(client.base_url())
        .auth(Auth::api_key(key))
        .retry(
            RetryPolicy::builder()
                .retry_server_errors(true)
                .max_delay(Duration::from_secs(30))
                .build(),
        )
        .build()
        .unwrap_or(client);
    let req = match GenerateRequest::builder("venice-sd35", "a cat")
        .variants(9)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rejected before sending: {e}");
            GenerateRequest::builder("venice-sd35", "a cat")
                .build()
                .expect("valid request")
        }
    };
    match client.generate(&req).await {
        Ok(g) => println!("{} image(s)", g.images().len()),
        Err(Error::Validation(v)) => eprintln!("invalid for this model: {v}"),
        Err(Error::PaymentRequired { error: p, .. }) => {
            eprintln!("top up needed: {:?}", p.suggested_top_up_usd)
        }
        Err(Error::RateLimited { retry_after, .. }) => {
            eprintln!("rate limited, retry after {retry_after:?}")
        }
        Err(e) if e.code() == Some(&ErrorCode::ContentPolicyViolation) => {
            eprintln!("prompt refused")
        }
        Err(e) if e.is_timeout() => eprintln!("timed out"),
        Err(e) => eprintln!("failed: {e} (status {:?})", e.status()),
    }
}
