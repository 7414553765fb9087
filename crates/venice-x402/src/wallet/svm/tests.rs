//! Tests of the Solana payment builder. The known answers come from an independent
//! implementation: `solders` (the Python bindings of the Solana Rust SDK) with the
//! `solana` package's `spl.token` instruction builder.

use super::*;
use ed25519_dalek::{Signer as _, SigningKey};

// How the vectors below were produced (run once on 2026-11-30; solders 0.29.0, solana 0.41.0,
// Python 3.11, in a throwaway venv under target/, not committed):
//
//   python3 -m venv target/solders-venv
//   target/solders-venv/bin/pip install solders==0.29.0 solana==0.41.0
//   target/solders-venv/bin/python vectors.py
//
// vectors.py:
//
// import base64, hashlib
// from solders.keypair import Keypair
// from solders.pubkey import Pubkey
// from solders.hash import Hash
// from solders.instruction import Instruction
// from solders.message import MessageV0, to_bytes_versioned
// from solders.signature import Signature
// from solders.transaction import VersionedTransaction
// from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
// from solders.token.associated import get_associated_token_address
// from spl.token.instructions import transfer_checked
// from spl.token.models import TransferCheckedParams
//
// def seed(label):
//     return hashlib.sha256(label.encode()).digest()
//
// owner = Keypair.from_seed(bytes.fromhex(
//     "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))  # RFC 8032 test 1
// fee_payer = Keypair.from_seed(seed("venice-mock solana fee payer")).pubkey()
// pay_to = Keypair.from_seed(seed("venice-mock solana payTo")).pubkey()
// blockhash = Hash(seed("venice-image svm test blockhash"))
// mint = Pubkey.from_string("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")
// memo_program = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")
// amount, decimals, memo = 5_000_000, 6, b"venice-kat-0001"
//
// for name, program in [
//     ("spl-token", Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")),
//     ("token-2022", Pubkey.from_string("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb")),
// ]:
//     source = get_associated_token_address(owner.pubkey(), mint, program)
//     dest = get_associated_token_address(pay_to, mint, program)
//     ixs = [
//         set_compute_unit_limit(20_000),
//         set_compute_unit_price(1),
//         transfer_checked(TransferCheckedParams(program_id=program, source=source, mint=mint,
//             dest=dest, owner=owner.pubkey(), amount=amount, decimals=decimals)),
//         Instruction(memo_program, memo, []),
//     ]
//     msg = MessageV0.try_compile(fee_payer, ixs, [], blockhash)
//     signed = to_bytes_versioned(msg)
//     sig = owner.sign_message(signed)
//     tx = VersionedTransaction.populate(msg, [Signature.default(), sig])
//     print(name)
//     print("owner", owner.pubkey(), "fee_payer", fee_payer, "pay_to", pay_to)
//     print("blockhash", blockhash)
//     print("source_ata", source, "dest_ata", dest)
//     print("message", signed.hex())
//     print("signature", bytes(sig).hex())
//     print("transaction", base64.b64encode(bytes(tx)).decode())
//
// ata_program = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
// spl_token = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
// for who, key in [("owner", owner.pubkey()), ("pay_to", pay_to)]:
//     pda, bump = Pubkey.find_program_address([bytes(key), bytes(spl_token), bytes(mint)], ata_program)
//     print("bump", who, pda, bump)

/// RFC 8032 §7.1 TEST 1 secret: the wallet (`FVen3X669…`).
const OWNER_SECRET: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const OWNER: &str = "FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z";
const FEE_PAYER: &str = "GRkm6HRkBGwZzSpMrTZbQSyCQSir3B1wajnCwU4qxDp4";
const PAY_TO: &str = "DQK6xqDzzmTvrc6yytNpoNztX6asRq8NEEns1rhDUQ5k";
const BLOCKHASH: &str = "C8dMaBXCM1DRX1SeZCe8QUatsNxoiUYrz2XN3697MFu5";
const MEMO: &str = "venice-kat-0001";

struct Vector {
    program: TokenProgram,
    source_ata: &'static str,
    dest_ata: &'static str,
    message: &'static str,
    signature: &'static str,
    transaction: &'static str,
}

const SPL_TOKEN: Vector = Vector {
    program: TokenProgram::Token,
    source_ata: "HU2S9ByyqbnCD2SVfvr9qoLtDTtyTnMZoMaw1xpr6cTb",
    dest_ata: "BBmBqwnLMjJ185AtXC6SjHHjNUsfGUnTr1p1HawgR415",
    message: concat!(
        "8002010408e536b91e541f152cbb15bc503b3e58d51191a7207b5e4eb14a214c490fe7c791d75a980182b10ab7d54bfe",
        "d3c964073a0ee172f3daa62325af021a68f707511a9756a3c43a5641dfb98844331457991b39312c05e7c8759e829d06",
        "59f062eca0f4a74b227ecf937d05e03410faec3b608ff1d9a8eef301c8d4665c7ce22154ea0306466fe5211732ffecad",
        "ba72c39be7bc8ce5bbc5f7126b2c439b3a40000000054a535a992921064d24e87160da387c7c35b5ddbc92bb81e41fa8",
        "404105448d06ddf6e1d765a193d9cbe146ceeb79ac1cb485ed5f5b37913a8cf5857eff00a9c6fa7af3bedbad3a3d65f3",
        "6aabc97431b1bbe4c2d2f6e0e47ca60203452f5d61a564ba6d88b0ff29d67a8b76e2f0e708557b5bf2d70603051b5cfa",
        "7eb532db840404000502204e00000400090301000000000000000604030702010a0c404b4c00000000000605000f7665",
        "6e6963652d6b61742d3030303100",
    ),
    signature: concat!(
        "ec13ee2f547c918c5d82461480fda419c3fd200c67cfd820b8ee10cbbe6dbccfc7481e14208482d7dfe4fc2f4d98f72d",
        "f0eba32e9b98c53e4df511dd26b9ae06",
    ),
    transaction: concat!(
        "AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAADsE+4vVHyR",
        "jF2CRhSA/aQZw/0gDGfP2CC47hDLvm28z8dIHhQghILX3+T8L02Y9y3w66Mum5jFPk31Ed0mua4GgAIBBAjlNrkeVB8VLLsV",
        "vFA7PljVEZGnIHteTrFKIUxJD+fHkddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Eal1ajxDpWQd+5iEQzFFeZGzkx",
        "LAXnyHWegp0GWfBi7KD0p0sifs+TfQXgNBD67Dtgj/HZqO7zAcjUZlx84iFU6gMGRm/lIRcy/+ytunLDm+e8jOW7xfcSayxD",
        "mzpAAAAABUpTWpkpIQZNJOhxYNo4fHw1td28kruB5B+oQEEFRI0G3fbh12Whk9nL4UbO63msHLSF7V9bN5E6jPWFfv8Aqcb6",
        "evO+2606PWXzaqvJdDGxu+TC0vbg5HymAgNFL11hpWS6bYiw/ynWeot24vDnCFV7W/LXBgMFG1z6frUy24QEBAAFAiBOAAAE",
        "AAkDAQAAAAAAAAAGBAMHAgEKDEBLTAAAAAAABgUAD3ZlbmljZS1rYXQtMDAwMQA=",
    ),
};

const TOKEN_2022: Vector = Vector {
    program: TokenProgram::Token2022,
    source_ata: "VM2GEGSS8zhuHTM4KD9BJiNPJx14sJzDcZwfZTm219F",
    dest_ata: "72BVnkngVLByAtZnW4bK3J4y92zFYTNBbEuezJ4U257v",
    message: concat!(
        "8002010408e536b91e541f152cbb15bc503b3e58d51191a7207b5e4eb14a214c490fe7c791d75a980182b10ab7d54bfe",
        "d3c964073a0ee172f3daa62325af021a68f707511a0742e6be33a04fb4966968db30025010dbf15946e192b8793196da",
        "2a41fcf6065973921569f7377f92add64b06194fe4ddc4c79e2ff89751f9aa1d18e02b03990306466fe5211732ffecad",
        "ba72c39be7bc8ce5bbc5f7126b2c439b3a40000000054a535a992921064d24e87160da387c7c35b5ddbc92bb81e41fa8",
        "404105448d06ddf6e1ee758fde18425dbce46ccddab61afc4d83b90d27febdf928d8a18bfcc6fa7af3bedbad3a3d65f3",
        "6aabc97431b1bbe4c2d2f6e0e47ca60203452f5d61a564ba6d88b0ff29d67a8b76e2f0e708557b5bf2d70603051b5cfa",
        "7eb532db840404000502204e00000400090301000000000000000604020703010a0c404b4c00000000000605000f7665",
        "6e6963652d6b61742d3030303100",
    ),
    signature: concat!(
        "30513219dfac85e1949d882418ac08b4f5b9293829d92cf7d19cce288f21a97661eb5584895335670eeca7796381e0bc",
        "e8bc03719dc84b6476f2c3227bf9fd04",
    ),
    transaction: concat!(
        "AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAwUTIZ36yF",
        "4ZSdiCQYrAi09bkpOCnZLPfRnM4ojyGpdmHrVYSJUzVnDuyneWOB4LzovANxnchLZHbywyJ7+f0EgAIBBAjlNrkeVB8VLLsV",
        "vFA7PljVEZGnIHteTrFKIUxJD+fHkddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1EaB0LmvjOgT7SWaWjbMAJQENvx",
        "WUbhkrh5MZbaKkH89gZZc5IVafc3f5Kt1ksGGU/k3cTHni/4l1H5qh0Y4CsDmQMGRm/lIRcy/+ytunLDm+e8jOW7xfcSayxD",
        "mzpAAAAABUpTWpkpIQZNJOhxYNo4fHw1td28kruB5B+oQEEFRI0G3fbh7nWP3hhCXbzkbM3athr8TYO5DSf+vfko2KGL/Mb6",
        "evO+2606PWXzaqvJdDGxu+TC0vbg5HymAgNFL11hpWS6bYiw/ynWeot24vDnCFV7W/LXBgMFG1z6frUy24QEBAAFAiBOAAAE",
        "AAkDAQAAAAAAAAAGBAIHAwEKDEBLTAAAAAAABgUAD3ZlbmljZS1rYXQtMDAwMQA=",
    ),
};

fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&hex::decode(OWNER_SECRET).unwrap().try_into().unwrap())
}

fn owner() -> Pubkey {
    Pubkey::new(signing_key().verifying_key().to_bytes())
}

fn entry() -> Value {
    json!({
        "scheme": "exact",
        "network": SOLANA_MAINNET_NETWORK,
        "asset": USDC_MINT,
        "amount": "5000000",
        "payTo": PAY_TO,
        "maxTimeoutSeconds": 60,
        "extra": {"feePayer": FEE_PAYER, "memo": MEMO},
    })
}

fn with(mut entry: Value, pointer: &str, value: Value) -> Value {
    *entry.pointer_mut(pointer).unwrap() = value;
    entry
}

/// An `accepts` entry read as the generated type (a mistyped field fails there), then
/// judged.
fn from_json(entry: &Value) -> Result<SolanaRequirement, SvmError> {
    let entry: X402PaymentRequirement = serde_json::from_value(entry.clone())
        .map_err(|_| SvmError::InvalidRequirement("not an x402 requirement"))?;
    SolanaRequirement::new(&entry)
}

fn requirement(entry: &Value) -> SolanaRequirement {
    from_json(entry).unwrap()
}

fn chain(program: TokenProgram) -> ChainData {
    ChainData {
        recent_blockhash: bs58::decode(BLOCKHASH)
            .into_vec()
            .unwrap()
            .try_into()
            .unwrap(),
        mint: MintInfo {
            token_program: program,
            decimals: 6,
        },
    }
}

fn prepare(entry: &Value, program: TokenProgram) -> Result<SolanaPayment, SvmError> {
    SolanaPayment::prepare(&requirement(entry), &chain(program), &owner(), 5_000_000)
}

fn b64(bytes: &[u8]) -> String {
    base64_simd::STANDARD.encode_to_string(bytes)
}

#[test]
fn known_answers_match_solders() {
    for v in [SPL_TOKEN, TOKEN_2022] {
        assert_eq!(owner().to_string(), OWNER);
        let p = prepare(&entry(), v.program).unwrap();
        assert_eq!(p.source().to_string(), v.source_ata);
        assert_eq!(p.destination().to_string(), v.dest_ata);
        assert_eq!(hex::encode(p.message()), v.message, "{:?}", v.program);
        let signature = signing_key().sign(p.message()).to_bytes();
        assert_eq!(hex::encode(signature), v.signature);
        let signed = p.into_signed(&signature).unwrap();
        assert_eq!(b64(signed.transaction()), v.transaction);
    }
}

#[test]
fn message_layout() {
    let p = prepare(&entry(), TokenProgram::Token).unwrap();
    let m = p.message();
    // v0 prefix, header: 2 signers (fee payer, wallet), 1 of them read-only, 4 read-only
    // non-signers (mint and three programs), 8 keys.
    assert_eq!(&m[..5], &[0x80, 2, 1, 4, 8]);
    let key = |i: usize| Pubkey::new(m[5 + 32 * i..5 + 32 * (i + 1)].try_into().unwrap());
    assert_eq!(key(0).to_string(), FEE_PAYER);
    assert_eq!(key(1).to_string(), OWNER);
    let rest: Vec<String> = (2..8).map(|i| key(i).to_string()).collect();
    for k in [
        SPL_TOKEN.source_ata,
        SPL_TOKEN.dest_ata,
        USDC_MINT,
        TOKEN_PROGRAM,
        COMPUTE_BUDGET_PROGRAM,
        MEMO_PROGRAM,
    ] {
        assert!(rest.contains(&k.to_owned()), "{k} missing");
    }
    // Ends with an empty address-table-lookup list.
    assert_eq!(m.last(), Some(&0));
}

#[test]
fn constants_are_addresses() {
    for c in [
        USDC_MINT,
        TOKEN_PROGRAM,
        TOKEN_2022_PROGRAM,
        ASSOCIATED_TOKEN_PROGRAM,
        COMPUTE_BUDGET_PROGRAM,
        MEMO_PROGRAM,
    ] {
        assert_eq!(Pubkey::constant(c).to_string(), c);
    }
    assert_eq!(TokenProgram::Token.id().to_string(), TOKEN_PROGRAM);
    assert_eq!(
        TokenProgram::from_id(TOKEN_2022_PROGRAM),
        Some(TokenProgram::Token2022)
    );
    assert_eq!(TokenProgram::from_id(MEMO_PROGRAM), None);
}

#[test]
fn compact_u16() {
    for (n, bytes) in [
        (0u16, &[0x00][..]),
        (0x7f, &[0x7f]),
        (0x80, &[0x80, 0x01]),
        (0xff, &[0xff, 0x01]),
        (0x3fff, &[0xff, 0x7f]),
        (0x4000, &[0x80, 0x80, 0x01]),
        (0xffff, &[0xff, 0xff, 0x03]),
    ] {
        let mut out = Vec::new();
        push_compact_u16(&mut out, n);
        assert_eq!(out, bytes, "{n:#x}");
    }
}

#[test]
fn program_addresses_are_off_curve() {
    let mint = Pubkey::constant(USDC_MINT);
    let ata = Pubkey::constant(ASSOCIATED_TOKEN_PROGRAM);
    let token = TokenProgram::Token.id();
    // Bumps from solders' `Pubkey.find_program_address`: payTo's ATA skips two on-curve
    // candidates (255 and 254).
    for (wallet, address, bump) in [
        (OWNER, "HU2S9ByyqbnCD2SVfvr9qoLtDTtyTnMZoMaw1xpr6cTb", 255),
        (PAY_TO, "BBmBqwnLMjJ185AtXC6SjHHjNUsfGUnTr1p1HawgR415", 253),
    ] {
        let wallet = Pubkey::constant(wallet);
        let seeds: [&[u8]; 3] = [wallet.as_bytes(), token.as_bytes(), mint.as_bytes()];
        let (found, b) = find_program_address(&seeds, &ata).unwrap();
        assert_eq!((found.to_string().as_str(), b), (address, bump));
        assert!(!found.is_on_curve());
        assert!(wallet.is_on_curve());
    }
}

#[test]
fn accepts_the_bare_network_and_echoes_it() {
    let e = with(entry(), "/network", json!("solana"));
    let p = prepare(&e, TokenProgram::Token).unwrap();
    let signature = signing_key().sign(p.message()).to_bytes();
    let payload = p.into_signed(&signature).unwrap().payload(None);
    assert_eq!(payload.accepted.network, "solana");
}

#[test]
fn refuses_other_networks() {
    for n in [
        "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1", // devnet
        "solana-devnet",
        "eip155:8453",
        "",
    ] {
        let e = with(entry(), "/network", json!(n));
        assert!(
            matches!(from_json(&e), Err(SvmError::WrongNetwork(x)) if x == n),
            "{n}"
        );
    }
    assert!(is_solana_network("solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1"));
    assert!(!is_solana_mainnet(
        "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1"
    ));
}

#[test]
fn refuses_other_assets_and_schemes() {
    let e = with(entry(), "/asset", json!(TOKEN_PROGRAM));
    assert!(matches!(from_json(&e), Err(SvmError::WrongAsset(_))));
    let e = with(entry(), "/scheme", json!("upto"));
    assert!(matches!(
        from_json(&e),
        Err(SvmError::WrongScheme(s)) if s == "upto"
    ));
    assert!(matches!(
        from_json(&json!([1])),
        Err(SvmError::InvalidRequirement(_))
    ));
}

#[test]
fn amounts() {
    for bad in [
        json!("0"),
        json!("-5"),
        json!("1.5"),
        json!(""),
        json!("18446744073709551616"),
    ] {
        let e = with(entry(), "/amount", bad.clone());
        assert!(
            matches!(from_json(&e), Err(SvmError::InvalidAmount(_))),
            "{bad}"
        );
    }
    // The spec types the amount as a string: a number or null is no requirement.
    for bad in [json!(7_000_000), json!(null)] {
        let e = with(entry(), "/amount", bad);
        assert!(matches!(
            from_json(&e),
            Err(SvmError::InvalidRequirement(_))
        ));
    }
    let e = with(entry(), "/amount", json!("7000000"));
    assert_eq!(requirement(&e).amount(), 7_000_000);
    let r = requirement(&entry());
    let c = chain(TokenProgram::Token);
    assert!(SolanaPayment::prepare(&r, &c, &owner(), 5_000_000).is_ok());
    assert!(matches!(
        SolanaPayment::prepare(&r, &c, &owner(), 4_999_999),
        Err(SvmError::AmountOverCap {
            amount: 5_000_000,
            cap: 4_999_999
        })
    ));
}

#[test]
fn fee_payer_rules() {
    let mut e = entry();
    e["extra"].as_object_mut().unwrap().remove("feePayer");
    assert!(matches!(from_json(&e), Err(SvmError::MissingFeePayer)));
    let e = with(entry(), "/extra", json!({}));
    assert!(matches!(from_json(&e), Err(SvmError::MissingFeePayer)));
    for bad in [json!("not-base58-0OIl"), json!("3yZe7d"), json!(42)] {
        let e = with(entry(), "/extra/feePayer", bad);
        assert!(matches!(
            from_json(&e),
            Err(SvmError::InvalidAddress {
                field: "extra.feePayer",
                ..
            })
        ));
    }
    let e = with(
        entry(),
        "/payTo",
        json!("0x2670B922ef37C7Df47158725C0CC407b5382293F"),
    );
    assert!(matches!(
        from_json(&e),
        Err(SvmError::InvalidAddress { field: "payTo", .. })
    ));
    // The wallet may be neither the fee payer nor the receiver.
    let e = with(entry(), "/extra/feePayer", json!(OWNER));
    assert!(matches!(
        prepare(&e, TokenProgram::Token),
        Err(SvmError::OwnerIsFeePayer)
    ));
    let e = with(entry(), "/payTo", json!(OWNER));
    assert!(matches!(
        prepare(&e, TokenProgram::Token),
        Err(SvmError::OwnerIsPayTo)
    ));
}

#[test]
fn memo_rules() {
    let e = with(entry(), "/extra/memo", json!("é".repeat(128)));
    assert_eq!(requirement(&e).memo().map(str::len), Some(256));
    let e = with(entry(), "/extra/memo", json!("x".repeat(257)));
    assert!(matches!(from_json(&e), Err(SvmError::MemoTooLong(257))));
    let e = with(entry(), "/extra/memo", json!(7));
    assert!(matches!(
        from_json(&e),
        Err(SvmError::InvalidRequirement(_))
    ));
    // A 200-byte memo takes a two-byte length: 200 = 0xc8 → [0xc8, 0x01].
    let memo = "m".repeat(200);
    let e = with(entry(), "/extra/memo", json!(memo));
    let p = prepare(&e, TokenProgram::Token).unwrap();
    let mut tail = vec![0xc8, 0x01];
    tail.extend_from_slice(memo.as_bytes());
    tail.push(0);
    assert!(p.message().ends_with(&tail));
}

#[test]
fn random_memo_without_one() {
    let mut e = entry();
    e["extra"].as_object_mut().unwrap().remove("memo");
    let a = prepare(&e, TokenProgram::Token).unwrap();
    let b = prepare(&e, TokenProgram::Token).unwrap();
    assert_eq!(a.memo().len(), 32);
    assert!(a.memo().bytes().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a.memo(), b.memo());
    assert_ne!(a.message(), b.message());
    let r = requirement(&e);
    let c = chain(TokenProgram::Token);
    let fixed = SolanaPayment::prepare_with_nonce(&r, &c, &owner(), u64::MAX, [0xab; 16]).unwrap();
    assert_eq!(fixed.memo(), "ab".repeat(16));
    assert!(
        fixed
            .message()
            .ends_with(&[&[32][..], "ab".repeat(16).as_bytes(), &[0]].concat())
    );
}

#[test]
fn refuses_unexpected_decimals() {
    let r = requirement(&entry());
    let mut c = chain(TokenProgram::Token);
    c.mint.decimals = 9;
    assert!(matches!(
        SolanaPayment::prepare(&r, &c, &owner(), u64::MAX),
        Err(SvmError::UnexpectedDecimals(9))
    ));
}

#[test]
fn signature_is_checked() {
    let p = prepare(&entry(), TokenProgram::Token).unwrap();
    let mut sig = signing_key().sign(p.message()).to_bytes();
    sig[10] ^= 1;
    assert!(matches!(
        p.clone().into_signed(&sig),
        Err(SvmError::BadSignature)
    ));
    let other = SigningKey::from_bytes(&[7; 32])
        .sign(p.message())
        .to_bytes();
    assert!(matches!(
        p.clone().into_signed(&other),
        Err(SvmError::BadSignature)
    ));
    assert!(matches!(
        p.into_signed(&[0; 64]),
        Err(SvmError::BadSignature)
    ));
}

#[test]
fn transaction_and_payload() {
    let mut e = entry();
    let obj = e.as_object_mut().unwrap();
    obj.remove("maxTimeoutSeconds");
    obj.insert("description".into(), json!("provider metadata"));
    obj.insert("mimeType".into(), json!("application/json"));
    obj.insert("outputSchema".into(), json!({}));
    e["extra"]["name"] = json!("USD Coin");
    let p = prepare(&e, TokenProgram::Token).unwrap();
    let message = p.message().to_vec();
    let sig = signing_key().sign(&message).to_bytes();
    let signed = p.into_signed(&sig).unwrap();

    let tx = signed.transaction();
    assert_eq!(tx[0], 2);
    assert_eq!(&tx[1..65], &[0; 64]);
    assert_eq!(&tx[65..129], &sig);
    assert_eq!(&tx[129..], &message[..]);

    let resource: X402Resource = serde_json::from_value(json!({
        "url": "https://api.venice.ai/api/v1/x402/top-up",
        "description": "Venice API credit", "mimeType": "application/json"}))
    .unwrap();
    let header = signed.header_value(Some(&resource));
    let decoded: Value =
        serde_json::from_slice(&base64_simd::STANDARD.decode_to_vec(&header).unwrap()).unwrap();
    assert_eq!(decoded["x402Version"], 2);
    assert_eq!(decoded["payload"]["transaction"], b64(tx));
    assert_eq!(
        decoded["resource"]["url"],
        "https://api.venice.ai/api/v1/x402/top-up"
    );
    assert_eq!(
        decoded["accepted"],
        json!({
            "scheme": "exact",
            "network": SOLANA_MAINNET_NETWORK,
            "asset": USDC_MINT,
            "amount": "5000000",
            "payTo": PAY_TO,
            "maxTimeoutSeconds": 300,
            "extra": {"feePayer": FEE_PAYER, "memo": MEMO, "name": "USD Coin"},
        })
    );
    assert_eq!(signed.payload(None).resource, None);
    // The maxTimeoutSeconds the server gave is kept.
    assert_eq!(
        requirement(&entry()).accepted().max_timeout_seconds,
        Some(60)
    );
}

#[test]
fn rpc_requests() {
    assert_eq!(
        latest_blockhash_request(7),
        json!({"jsonrpc": "2.0", "id": 7, "method": "getLatestBlockhash",
               "params": [{"commitment": "finalized"}]})
    );
    assert_eq!(
        mint_account_request(8, &Pubkey::constant(USDC_MINT)),
        json!({"jsonrpc": "2.0", "id": 8, "method": "getAccountInfo",
               "params": [USDC_MINT, {"encoding": "base64", "commitment": "finalized"}]})
    );
}

#[test]
fn parses_latest_blockhash() {
    let ok = json!({"jsonrpc": "2.0", "id": 1, "result": {
        "context": {"slot": 300_000_000u64},
        "value": {"blockhash": BLOCKHASH, "lastValidBlockHeight": 280_000_150u64}}});
    assert_eq!(
        parse_latest_blockhash(&ok).unwrap(),
        chain(TokenProgram::Token).recent_blockhash
    );
    let err = json!({"jsonrpc": "2.0", "id": 1,
                     "error": {"code": -32005, "message": "node is behind"}});
    assert!(matches!(
        parse_latest_blockhash(&err),
        Err(SvmError::Rpc { code: -32005, message }) if message == "node is behind"
    ));
    for bad in [
        json!({"jsonrpc": "2.0", "id": 1}),
        json!({"result": {"value": {}}}),
        json!({"result": {"value": {"blockhash": "3yZe7d"}}}),
        json!({"result": {"value": {"blockhash": "0OIl"}}}),
    ] {
        assert!(
            matches!(parse_latest_blockhash(&bad), Err(SvmError::RpcMalformed(_))),
            "{bad}"
        );
    }
}

/// A `getAccountInfo` answer for a mint account holding `data`.
fn account(owner: &str, data: &[u8]) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "result": {
        "context": {"slot": 1},
        "value": {"data": [b64(data), "base64"], "executable": false,
                  "lamports": 1_461_600, "owner": owner, "rentEpoch": 0, "space": data.len()}}})
}

fn mint_data(decimals: u8, initialized: u8) -> Vec<u8> {
    let mut d = vec![0u8; 82];
    d[36..44].copy_from_slice(&1_000_000u64.to_le_bytes());
    d[44] = decimals;
    d[45] = initialized;
    d
}

#[test]
fn parses_mint_account() {
    assert_eq!(
        parse_mint_account(&account(TOKEN_PROGRAM, &mint_data(6, 1))).unwrap(),
        MintInfo {
            token_program: TokenProgram::Token,
            decimals: 6
        }
    );
    // Token-2022 mints may carry extensions past the 82 bytes.
    let mut long = mint_data(9, 1);
    long.resize(200, 0);
    assert_eq!(
        parse_mint_account(&account(TOKEN_2022_PROGRAM, &long)).unwrap(),
        MintInfo {
            token_program: TokenProgram::Token2022,
            decimals: 9
        }
    );
    assert!(matches!(
        parse_mint_account(&account(MEMO_PROGRAM, &mint_data(6, 1))),
        Err(SvmError::UnknownTokenProgram(o)) if o == MEMO_PROGRAM
    ));
    assert!(matches!(
        parse_mint_account(&account(TOKEN_PROGRAM, &mint_data(6, 1)[..44])),
        Err(SvmError::MintTooShort(44))
    ));
    assert!(matches!(
        parse_mint_account(&account(TOKEN_PROGRAM, &mint_data(6, 0))),
        Err(SvmError::MintNotInitialized)
    ));
    assert!(matches!(
        parse_mint_account(&json!({"result": {"context": {}, "value": null}})),
        Err(SvmError::MintNotFound)
    ));
    let mut b58 = account(TOKEN_PROGRAM, &mint_data(6, 1));
    b58["result"]["value"]["data"] = json!([bs58::encode(mint_data(6, 1)).into_string(), "base58"]);
    assert!(matches!(
        parse_mint_account(&b58),
        Err(SvmError::RpcMalformed(_))
    ));
    let mut junk = account(TOKEN_PROGRAM, &mint_data(6, 1));
    junk["result"]["value"]["data"] = json!(["%%%", "base64"]);
    assert!(matches!(
        parse_mint_account(&junk),
        Err(SvmError::RpcMalformed(_))
    ));
    let err = json!({"error": {"code": -32602, "message": "Invalid param"}});
    assert!(matches!(
        parse_mint_account(&err),
        Err(SvmError::Rpc { code: -32602, .. })
    ));
}

#[test]
fn errors_hold_no_secrets() {
    let p = prepare(&entry(), TokenProgram::Token).unwrap();
    let sig = signing_key().sign(p.message()).to_bytes();
    let mut bad = sig;
    bad[0] ^= 1;
    let e = p.into_signed(&bad).unwrap_err().to_string();
    assert!(!e.contains(&hex::encode(&bad[..8])), "{e}");
    assert!(!e.contains(&OWNER_SECRET[..16]), "{e}");
}
