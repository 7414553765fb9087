//! x402 `exact` payments on EVM: an EIP-3009 `TransferWithAuthorization` signed as
//! EIP-712 typed data, wrapped in the x402 v2 payment payload of `PAYMENT-SIGNATURE`.

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use alloy_primitives::{Address, B256, U256, hex};
use alloy_sol_types::{Eip712Domain, SolStruct, sol};
use venice_openapi::types::{
    X402Eip3009Authorization, X402ExactEvmPayload, X402ExactPayload, X402PaymentPayload,
    X402PaymentRequirement, X402Resource,
};

use super::{EvmSigner, WalletError, signer};
use crate::payment::{PaymentRequirementExt as _, X402_VERSION};

sol! {
    /// EIP-3009 `transferWithAuthorization` parameters (USDC).
    struct TransferWithAuthorization {
        address from;
        address to;
        uint256 value;
        uint256 validAfter;
        uint256 validBefore;
        bytes32 nonce;
    }
}

/// How far back `validAfter` is set, to tolerate clock skew (as the x402 clients do).
const VALID_AFTER_SKEW_SECS: u64 = 600;

/// A signed EIP-3009 authorization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedAuthorization {
    /// Payer.
    pub from: String,
    /// Receiver.
    pub to: String,
    /// Amount in token units.
    pub value: u128,
    /// Valid after (unix seconds).
    pub valid_after: u64,
    /// Valid before (unix seconds).
    pub valid_before: u64,
    /// 32-byte nonce, `0x` hex.
    pub nonce: String,
    /// `r ‖ s ‖ v`, `0x` hex.
    pub signature: String,
}

fn parse_address(s: &str, what: &'static str) -> Result<Address, WalletError> {
    s.trim()
        .parse::<Address>()
        .map_err(|_| WalletError::Payment(format!("{what} is not an EVM address: {s:?}")))
}

/// The EIP-712 domain of the option's token: `{name, version, chainId, verifyingContract}`.
pub(crate) fn token_domain(option: &X402PaymentRequirement) -> Result<Eip712Domain, WalletError> {
    let (Some(name), Some(version)) = (option.token_name(), option.token_version()) else {
        return Err(WalletError::Payment(
            "the payment option has no token name/version (`extra`)".into(),
        ));
    };
    let chain = option
        .evm_chain_id()
        .ok_or_else(|| WalletError::Payment(format!("not an EVM network: {:?}", option.network)))?;
    Ok(Eip712Domain::new(
        Some(Cow::Owned(name.to_owned())),
        Some(Cow::Owned(version.to_owned())),
        Some(U256::from(chain)),
        Some(parse_address(&option.asset, "asset")?),
        None,
    ))
}

/// Sign an EIP-3009 authorization of `value` token units to the option's `payTo`,
/// valid from `now − 600 s` to `now + maxTimeoutSeconds`: `signer` signs the EIP-712
/// digest, and the signature is checked against its address.
pub async fn sign_authorization(
    signer: &dyn EvmSigner,
    option: &X402PaymentRequirement,
    value: u128,
    now: SystemTime,
    nonce: [u8; 32],
) -> Result<SignedAuthorization, WalletError> {
    let now = now
        .duration_since(UNIX_EPOCH)
        .map_err(|_| WalletError::Signing("the system clock is before 1970".into()))?
        .as_secs();
    let valid_after = now.saturating_sub(VALID_AFTER_SKEW_SECS);
    let valid_before = now.saturating_add(option.max_timeout_secs());
    let to = parse_address(&option.pay_to, "payTo")?;
    let from = parse_address(signer.address(), "the signer's address")?;
    let message = TransferWithAuthorization {
        from,
        to,
        value: U256::from(value),
        validAfter: U256::from(valid_after),
        validBefore: U256::from(valid_before),
        nonce: B256::from(nonce),
    };
    let digest = message.eip712_signing_hash(&token_domain(option)?);
    let sig = signer::evm_hash(signer, &digest.0).await?;
    Ok(SignedAuthorization {
        from: from.to_checksum(None),
        to: to.to_checksum(None),
        value,
        valid_after,
        valid_before,
        nonce: format!("0x{}", hex::encode(nonce)),
        signature: format!("0x{}", hex::encode(sig)),
    })
}

/// The x402 v2 payment payload for `option` paid with `auth`: the option echoed as
/// `accepted` with the amount paid.
pub fn payment_payload(
    option: &X402PaymentRequirement,
    auth: &SignedAuthorization,
    resource: Option<&X402Resource>,
) -> X402PaymentPayload {
    let mut accepted = option.clone();
    accepted.amount = auth.value.to_string();
    X402PaymentPayload {
        x402_version: X402_VERSION,
        resource: resource.cloned(),
        accepted,
        payload: X402ExactPayload::EvmPayload(X402ExactEvmPayload {
            signature: auth.signature.clone(),
            authorization: X402Eip3009Authorization {
                from: auth.from.clone(),
                to: auth.to.clone(),
                value: auth.value.to_string(),
                valid_after: auth.valid_after.to_string(),
                valid_before: auth.valid_before.to_string(),
                nonce: auth.nonce.clone(),
            },
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::wallet::LocalEvmSigner;
    use alloy_primitives::{Signature, keccak256};
    use serde_json::json;

    fn usdc_option() -> X402PaymentRequirement {
        serde_json::from_value(json!({
            "scheme": "exact", "network": "eip155:8453",
            "asset": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "amount": "5000000",
            "payTo": "0x2670B922ef37C7Df47158725C0CC407b5382293F", "maxTimeoutSeconds": 65,
            "extra": {"name": "USD Coin", "version": "2"}
        }))
        .unwrap()
    }

    // Vector 4: EIP-3009 on Base USDC.
    #[tokio::test]
    async fn eip3009_vector() {
        let option = usdc_option();
        let domain = token_domain(&option).unwrap();
        assert_eq!(
            hex::encode(domain.separator()),
            "02fa7265e7c5d81118673727957699e4d68f74cd74b7db77da710fe8a2c7834f"
        );
        let signer = LocalEvmSigner::from_hex(
            "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
        )
        .unwrap();
        let from: Address = signer.address().parse().unwrap();
        let nonce: [u8; 32] =
            hex::decode("f3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480")
                .unwrap()
                .try_into()
                .unwrap();
        // validAfter = now - 600 and validBefore = now + 65 give the vector's window.
        let now = UNIX_EPOCH + std::time::Duration::from_secs(1_740_672_089 + 600);
        let a = sign_authorization(&signer, &option, 5_000_000, now, nonce)
            .await
            .unwrap();
        assert_eq!(
            (a.valid_after, a.valid_before),
            (1_740_672_089, 1_740_672_754)
        );
        // The vector's validBefore is 1740672154: sign that exact message too.
        let msg = TransferWithAuthorization {
            from,
            to: option.pay_to.parse().unwrap(),
            value: U256::from(5_000_000u64),
            validAfter: U256::from(1_740_672_089u64),
            validBefore: U256::from(1_740_672_154u64),
            nonce: B256::from(nonce),
        };
        assert_eq!(
            hex::encode(msg.eip712_type_hash()),
            "7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267"
        );
        let digest = msg.eip712_signing_hash(&domain);
        assert_eq!(
            hex::encode(digest),
            "a8bf993a9f719c0b0c74faf18395c14fbf7f78b73a8252accee8ad56c245538d"
        );
        assert_eq!(
            hex::encode(signer.sign_hash(&digest.0).await.unwrap()),
            "36f6872f4019a1f3b6f8c1878786b08a99e10af8f1c9395234561c79b24938fe3591cca081614f589115c3e34969564cb4db82d082e8cd4a2a40daccf0e6e03d1b"
        );
        // And what sign_authorization produced recovers to the payer.
        let sig = Signature::from_raw(&hex::decode(&a.signature).unwrap()).unwrap();
        let signed = TransferWithAuthorization {
            validBefore: U256::from(a.valid_before),
            ..msg
        };
        assert_eq!(
            sig.recover_address_from_prehash(&signed.eip712_signing_hash(&domain))
                .unwrap(),
            from
        );
    }

    // Vector 3: EIP-712 "Mail" example of the EIP's reference Example.js.
    #[tokio::test]
    async fn eip712_mail_vector() {
        sol! {
            struct Person { string name; address wallet; }
            struct Mail { Person from; Person to; string contents; }
        }
        let domain = Eip712Domain::new(
            Some("Ether Mail".into()),
            Some("1".into()),
            Some(U256::from(1)),
            Some(
                "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"
                    .parse()
                    .unwrap(),
            ),
            None,
        );
        assert_eq!(
            hex::encode(domain.separator()),
            "f2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f"
        );
        let mail = Mail {
            from: Person {
                name: "Cow".into(),
                wallet: "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"
                    .parse()
                    .unwrap(),
            },
            to: Person {
                name: "Bob".into(),
                wallet: "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"
                    .parse()
                    .unwrap(),
            },
            contents: "Hello, Bob!".into(),
        };
        let digest = mail.eip712_signing_hash(&domain);
        assert_eq!(
            hex::encode(digest),
            "be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2"
        );
        let signer = LocalEvmSigner::from_bytes(keccak256("cow").as_slice()).unwrap();
        assert_eq!(
            signer.address(),
            "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"
        );
        let sig = signer.sign_hash(&digest.0).await.unwrap();
        assert_eq!(
            hex::encode(&sig[..32]),
            "4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d"
        );
        assert_eq!(
            hex::encode(&sig[32..64]),
            "07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562"
        );
        assert_eq!(sig[64], 28);
    }

    #[tokio::test]
    async fn payload_shape() {
        let signer = LocalEvmSigner::random().unwrap();
        let option = usdc_option();
        let a = sign_authorization(&signer, &option, 7_000_000, SystemTime::now(), [7; 32])
            .await
            .unwrap();
        let resource: X402Resource = serde_json::from_value(
            json!({"url": "/x", "description": "d", "mimeType": "application/json"}),
        )
        .unwrap();
        let p = serde_json::to_value(payment_payload(&option, &a, Some(&resource))).unwrap();
        assert_eq!(p["x402Version"], 2);
        assert_eq!(p["accepted"]["amount"], "7000000");
        assert_eq!(p["accepted"]["payTo"], option.pay_to);
        assert_eq!(p["resource"]["url"], "/x");
        let auth = &p["payload"]["authorization"];
        for k in ["from", "to", "value", "validAfter", "validBefore", "nonce"] {
            assert!(auth[k].is_string(), "{k}");
        }
        assert_eq!(auth["from"], signer.address());
        assert_eq!(auth["nonce"].as_str().unwrap().len(), 66);
        let mut bad = option.clone();
        bad.extra.clear();
        assert!(
            sign_authorization(&signer, &bad, 1, SystemTime::now(), [0; 32])
                .await
                .is_err()
        );
        let mut bad = option;
        bad.pay_to = "nope".into();
        assert!(
            sign_authorization(&signer, &bad, 1, SystemTime::now(), [0; 32])
                .await
                .is_err()
        );
    }
}
