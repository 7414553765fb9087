//! Credentials from the environment: an API key or one set of wallet variables,
//! never two.

use crate::auth::Auth;
use crate::error::{Error, Result};

/// API key.
pub(crate) const API_KEY: &str = "VENICE_API_KEY";
/// EVM private key (hex) of an x402 wallet.
pub(crate) const WALLET_PRIVATE_KEY: &str = "VENICE_WALLET_PRIVATE_KEY";
/// Solana keypair (base58 or JSON array) of an x402 wallet.
pub(crate) const SOLANA_KEYPAIR: &str = "VENICE_SOLANA_KEYPAIR";
/// A `SIGN-IN-WITH-X` value signed elsewhere.
pub(crate) const SIWX_HEADER: &str = "VENICE_SIWX_HEADER";
/// The Solana JSON-RPC endpoint of Solana top-ups (not a credential).
#[cfg(feature = "wallet")]
pub(crate) const SOLANA_RPC_URL: &str = "VENICE_SOLANA_RPC_URL";

/// Every credential variable, in the order they are reported.
pub(crate) const CREDENTIAL_VARS: [&str; 4] =
    [API_KEY, WALLET_PRIVATE_KEY, SOLANA_KEYPAIR, SIWX_HEADER];

/// Pick the credentials from the variables `get` returns (blank counts as unset).
///
/// Errors never contain the values, only variable names.
pub(crate) fn auth_from(get: impl Fn(&str) -> Option<String>) -> Result<Auth> {
    let set: Vec<(&str, String)> = CREDENTIAL_VARS
        .iter()
        .filter_map(|name| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .map(|v| (*name, v))
        })
        .collect();
    match set.as_slice() {
        [] => Err(Error::config(format!(
            "no credentials: set {API_KEY}, or one wallet variable ({WALLET_PRIVATE_KEY}, \
             {SOLANA_KEYPAIR} or {SIWX_HEADER}); optionally VENICE_BASE_URL to use another server"
        ))),
        [(name, value)] => from_one(name, value),
        many => Err(Error::config(format!(
            "ambiguous credentials: {} are all set; set exactly one",
            many.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
        ))),
    }
}

impl Auth {
    /// Credentials from the environment: exactly one of `VENICE_API_KEY`,
    /// `VENICE_WALLET_PRIVATE_KEY` (EVM hex key), `VENICE_SOLANA_KEYPAIR` (base58 or
    /// JSON array) or `VENICE_SIWX_HEADER`. None, or more than one, is a
    /// [`Error::Config`] naming the variables (never their values). The wallet
    /// variables need the `wallet` feature.
    pub fn from_env() -> Result<Auth> {
        auth_from(|name| std::env::var(name).ok())
    }
}

fn from_one(name: &str, value: &str) -> Result<Auth> {
    if name == API_KEY {
        return Ok(Auth::api_key(value));
    }
    #[cfg(feature = "wallet")]
    {
        let auth = match name {
            WALLET_PRIVATE_KEY => Auth::evm_wallet(value),
            SOLANA_KEYPAIR => Auth::solana_wallet(value),
            _ => Ok(Auth::siwx_header(value)),
        };
        auth.map_err(|e| Error::config_with(format!("{name} cannot be used"), e))
    }
    #[cfg(not(feature = "wallet"))]
    Err(Error::config(format!(
        "{name} is set but this build of venice-image has no wallet support: enable its `wallet` feature"
    )))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(vars: &[(&str, &str)]) -> Result<Auth> {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        auth_from(|k| m.get(k).cloned())
    }

    #[test]
    fn none_and_api_key() {
        let e = with(&[]).unwrap_err().to_string();
        for v in CREDENTIAL_VARS {
            assert!(e.contains(v), "{e}");
        }
        assert!(matches!(
            with(&[(API_KEY, " k ")]).unwrap(),
            Auth::ApiKey(_)
        ));
        assert!(with(&[(API_KEY, "  "), (SIWX_HEADER, "")]).is_err());
    }

    #[test]
    fn ambiguous_names_both_and_hides_values() {
        let e = with(&[(API_KEY, "sk-secret"), (SOLANA_KEYPAIR, "kp-secret")])
            .unwrap_err()
            .to_string();
        assert!(e.contains(API_KEY) && e.contains(SOLANA_KEYPAIR), "{e}");
        assert!(!e.contains("secret"), "{e}");
    }

    #[cfg(not(feature = "wallet"))]
    #[test]
    fn wallet_vars_need_the_feature() {
        let e = with(&[(WALLET_PRIVATE_KEY, "0x01")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`wallet` feature") && e.contains(WALLET_PRIVATE_KEY),
            "{e}"
        );
    }

    #[cfg(feature = "wallet")]
    #[test]
    fn wallet_vars() {
        let key = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
        let a = with(&[(WALLET_PRIVATE_KEY, key)]).unwrap();
        assert_eq!(
            a.wallet_address().as_deref(),
            Some("0x2c7536E3605D9C16a7a3D7b1898e529396a65c23")
        );
        let e = with(&[(WALLET_PRIVATE_KEY, "0xdeadbeef-secret")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(WALLET_PRIVATE_KEY) && !e.contains("deadbeef"),
            "{e}"
        );
        let secret = bs58::encode([7u8; 32]).into_string();
        let a = with(&[(SOLANA_KEYPAIR, &secret)]).unwrap();
        assert!(matches!(a, Auth::Wallet(_)));
        let a = with(&[(SIWX_HEADER, "e30=")]).unwrap();
        assert!(matches!(a, Auth::SiwxHeader(_)));
    }
}
