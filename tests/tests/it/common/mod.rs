//! Helpers shared by the recording and cassette tests.
#![allow(dead_code)]

use venice_image::{Auth, Client, RetryPolicy};

/// A facade client for `base` that sends each request once (no retries, no catalogue
/// check), so a recording and its replay see the same requests.
pub fn client(base: &str, auth: Auth) -> Client {
    Client::builder()
        .base_url(base)
        .auth(auth)
        .retry(RetryPolicy::none())
        .model_validation(false)
        .build()
        .expect("a client")
}
