//! React to the error classes a generation can end with.

use std::time::Duration;

use venice_image::{Client, Error, ErrorCode, GenerateRequest, RetryPolicy};

#[tokio::main]
async fn main() {
    let client = match Client::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    // Opt in to retrying 500/504 (may be charged twice).
    let client = Client::builder()
        .base_url(client.base_url())
        .auth(venice_image::Auth::api_key(
            std::env::var("VENICE_API_KEY").unwrap_or_default(),
        ))
        .retry(RetryPolicy {
            retry_server_errors: true,
            max_delay: Duration::from_secs(30),
            ..RetryPolicy::default()
        })
        .build()
        .unwrap_or(client);
    let req = match GenerateRequest::builder("z-image-turbo", "a cat")
        .variants(9)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rejected before sending: {e}");
            GenerateRequest::builder("z-image-turbo", "a cat")
                .build()
                .expect("valid request")
        }
    };
    match client.generate(&req).await {
        Ok(g) => println!("{} image(s)", g.images.len()),
        Err(Error::Validation(v)) => eprintln!("invalid for this model: {v}"),
        Err(Error::PaymentRequired(p)) => eprintln!("top up needed: {:?}", p.suggested_top_up_usd),
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
