//! Tests of the Solana payment verifier and RPC helpers.
//!
//! The accepted transactions are NOT built here: they were produced once by `solders`
//! 0.29.0 with the `solana` 0.41.0 package's `spl.token` builder (the script is recorded
//! in venice-image's `wallet/svm/tests.rs`, which checks the client against the same
//! bytes). Inputs: wallet = RFC 8032 §7.1 TEST 1 secret, fee payer [`DEFAULT_FEE_PAYER`],
//! payTo [`DEFAULT_PAY_TO`], blockhash `sha256("venice-image svm test blockhash")`,
//! 5 000 000 units of USDC, memo `venice-kat-0001`. Tampered variants are made by
//! editing the decoded message with a test-only re-encoder and re-signing it.

use super::*;
use ed25519_dalek::{Signer as _, SigningKey};
use std::time::UNIX_EPOCH;

const OWNER_SECRET: [u8; 32] = [
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
];
const OWNER: &str = "FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z";
const BLOCKHASH: &str = "C8dMaBXCM1DRX1SeZCe8QUatsNxoiUYrz2XN3697MFu5";
const SOURCE_ATA: &str = "HU2S9ByyqbnCD2SVfvr9qoLtDTtyTnMZoMaw1xpr6cTb";
const DEST_ATA: &str = "BBmBqwnLMjJ185AtXC6SjHHjNUsfGUnTr1p1HawgR415";
const SOURCE_ATA_2022: &str = "VM2GEGSS8zhuHTM4KD9BJiNPJx14sJzDcZwfZTm219F";
const DEST_ATA_2022: &str = "72BVnkngVLByAtZnW4bK3J4y92zFYTNBbEuezJ4U257v";

/// The wallet-signed SPL Token transfer (solders).
const KAT_TX: &str = concat!(
    "AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAADsE+4vVHyR",
    "jF2CRhSA/aQZw/0gDGfP2CC47hDLvm28z8dIHhQghILX3+T8L02Y9y3w66Mum5jFPk31Ed0mua4GgAIBBAjlNrkeVB8VLLsV",
    "vFA7PljVEZGnIHteTrFKIUxJD+fHkddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Eal1ajxDpWQd+5iEQzFFeZGzkx",
    "LAXnyHWegp0GWfBi7KD0p0sifs+TfQXgNBD67Dtgj/HZqO7zAcjUZlx84iFU6gMGRm/lIRcy/+ytunLDm+e8jOW7xfcSayxD",
    "mzpAAAAABUpTWpkpIQZNJOhxYNo4fHw1td28kruB5B+oQEEFRI0G3fbh12Whk9nL4UbO63msHLSF7V9bN5E6jPWFfv8Aqcb6",
    "evO+2606PWXzaqvJdDGxu+TC0vbg5HymAgNFL11hpWS6bYiw/ynWeot24vDnCFV7W/LXBgMFG1z6frUy24QEBAAFAiBOAAAE",
    "AAkDAQAAAAAAAAAGBAMHAgEKDEBLTAAAAAAABgUAD3ZlbmljZS1rYXQtMDAwMQA=",
);

/// The same payment through Token-2022 (solders).
const KAT_TX_2022: &str = concat!(
    "AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAwUTIZ36yF",
    "4ZSdiCQYrAi09bkpOCnZLPfRnM4ojyGpdmHrVYSJUzVnDuyneWOB4LzovANxnchLZHbywyJ7+f0EgAIBBAjlNrkeVB8VLLsV",
    "vFA7PljVEZGnIHteTrFKIUxJD+fHkddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1EaB0LmvjOgT7SWaWjbMAJQENvx",
    "WUbhkrh5MZbaKkH89gZZc5IVafc3f5Kt1ksGGU/k3cTHni/4l1H5qh0Y4CsDmQMGRm/lIRcy/+ytunLDm+e8jOW7xfcSayxD",
    "mzpAAAAABUpTWpkpIQZNJOhxYNo4fHw1td28kruB5B+oQEEFRI0G3fbh7nWP3hhCXbzkbM3athr8TYO5DSf+vfko2KGL/Mb6",
    "evO+2606PWXzaqvJdDGxu+TC0vbg5HymAgNFL11hpWS6bYiw/ynWeot24vDnCFV7W/LXBgMFG1z6frUy24QEBAAFAiBOAAAE",
    "AAkDAQAAAAAAAAAGBAIHAwEKDEBLTAAAAAAABgUAD3ZlbmljZS1rYXQtMDAwMQA=",
);

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn blockhash() -> [u8; 32] {
    address(BLOCKHASH, "blockhash").unwrap()
}

fn store() -> Arc<RecentBlockhashes> {
    let s = Arc::new(RecentBlockhashes::default());
    s.insert(blockhash(), t0());
    s
}

fn verifier_with(policy: SvmPaymentPolicy) -> SvmPaymentVerifier {
    SvmPaymentVerifier::new(policy, store())
}

fn verifier() -> SvmPaymentVerifier {
    verifier_with(SvmPaymentPolicy::default())
}

fn accepted() -> Value {
    SvmPaymentPolicy::default().requirement(5_000_000)
}

fn header(accepted: &Value, tx: &[u8]) -> String {
    let e = base64::engine::general_purpose::STANDARD;
    let payload = json!({
        "x402Version": 2,
        "accepted": accepted,
        "payload": {"transaction": e.encode(tx)},
    });
    e.encode(payload.to_string())
}

fn kat() -> Vec<u8> {
    b64(KAT_TX).unwrap()
}

fn verify(
    v: &SvmPaymentVerifier,
    accepted: &Value,
    tx: &[u8],
) -> Result<VerifiedSvmPayment, SvmRejection> {
    v.verify_at(&header(accepted, tx), t0() + Duration::from_secs(5))
}

fn push_len(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Test-only re-encoder, to make tampered variants of the solders transaction.
fn encode_message(tx: &Transaction) -> Vec<u8> {
    let mut m = Vec::new();
    if let Some(v) = tx.version {
        m.push(0x80 | v);
    }
    m.extend([
        tx.num_required_signatures,
        tx.num_readonly_signed,
        tx.num_readonly_unsigned,
    ]);
    push_len(&mut m, tx.keys.len());
    tx.keys.iter().for_each(|k| m.extend_from_slice(k));
    m.extend_from_slice(&tx.blockhash);
    push_len(&mut m, tx.instructions.len());
    for ix in &tx.instructions {
        m.push(ix.program);
        push_len(&mut m, ix.accounts.len());
        m.extend_from_slice(&ix.accounts);
        push_len(&mut m, ix.data.len());
        m.extend_from_slice(&ix.data);
    }
    if tx.version.is_some() {
        push_len(&mut m, 0);
    }
    m
}

fn encode(signatures: &[[u8; 64]], message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    push_len(&mut out, signatures.len());
    signatures.iter().for_each(|s| out.extend_from_slice(s));
    out.extend_from_slice(message);
    out
}

/// The solders transaction with `edit` applied to its message, signed again by `key`.
fn tampered(edit: impl FnOnce(&mut Transaction), key: &SigningKey) -> Vec<u8> {
    let mut tx = decode_transaction(&kat()).unwrap();
    edit(&mut tx);
    let message = encode_message(&tx);
    let mut signatures = vec![[0u8; 64]; usize::from(tx.num_required_signatures)];
    if let Some(s) = signatures.get_mut(1) {
        *s = key.sign(&message).to_bytes();
    }
    encode(&signatures, &message)
}

fn owner_key() -> SigningKey {
    SigningKey::from_bytes(&OWNER_SECRET)
}

fn key_index(tx: &Transaction, b58: &str) -> usize {
    let k = address(b58, "key").unwrap();
    tx.keys.iter().position(|x| *x == k).unwrap()
}

// ---- wire ----

#[test]
fn decodes_the_solders_transaction() {
    let bytes = kat();
    let tx = decode_transaction(&bytes).unwrap();
    assert_eq!(tx.version, Some(0));
    assert_eq!(
        (
            tx.num_required_signatures,
            tx.num_readonly_signed,
            tx.num_readonly_unsigned
        ),
        (2, 1, 4)
    );
    assert_eq!(tx.keys.len(), 8);
    assert_eq!(bs58::encode(tx.keys[0]).into_string(), DEFAULT_FEE_PAYER);
    assert_eq!(bs58::encode(tx.keys[1]).into_string(), OWNER);
    assert_eq!(tx.blockhash, blockhash());
    assert_eq!(tx.instructions.len(), 4);
    assert_eq!(tx.lookup_tables, 0);
    assert_eq!(tx.signatures[0], [0; 64]);
    assert_eq!(tx.message[0], 0x80);
    assert_eq!(&bytes[bytes.len() - tx.message.len()..], &tx.message[..]);
    assert!(tx.is_writable(0) && !tx.is_writable(1));
    assert!(tx.is_signer(1) && !tx.is_signer(2));
    assert!(tx.is_writable(key_index(&tx, SOURCE_ATA)));
    assert!(tx.is_writable(key_index(&tx, DEST_ATA)));
    assert!(!tx.is_writable(key_index(&tx, USDC_MINT)));
    // The test encoder reproduces solders byte for byte.
    assert_eq!(encode(&tx.signatures, &encode_message(&tx)), bytes);
}

#[test]
fn rejects_malformed_bytes() {
    let bytes = kat();
    assert!(decode_transaction(&bytes[..bytes.len() - 1]).is_err());
    assert!(decode_transaction(&[bytes.clone(), vec![0]].concat()).is_err());
    assert!(decode_transaction(&[]).is_err());
    // 2 encoded as [0x82, 0x00]: an alias Solana's short_vec refuses.
    let alias = [&[0x82, 0x00][..], &bytes[1..]].concat();
    assert!(
        decode_transaction(&alias)
            .unwrap_err()
            .contains("non-canonical")
    );
    assert!(decode_transaction(&[0xff, 0xff, 0xff, 0x01]).is_err());
    // One signature for two required signers.
    let tx = decode_transaction(&bytes).unwrap();
    let one = encode(&tx.signatures[..1], &tx.message);
    assert!(decode_transaction(&one).unwrap_err().contains("signatures"));
    // Version 1 messages do not exist yet.
    let mut v1 = tx.message.clone();
    v1[0] = 0x81;
    assert!(decode_transaction(&encode(&tx.signatures, &v1)).is_err());
    // An instruction account past the key list.
    let mut t = tx.clone();
    t.instructions[3].accounts.push(8);
    assert!(
        decode_transaction(&encode(&t.signatures, &encode_message(&t)))
            .unwrap_err()
            .contains("range")
    );
    // A key listed twice.
    let mut t = tx.clone();
    t.keys[7] = t.keys[6];
    assert!(
        decode_transaction(&encode(&t.signatures, &encode_message(&t)))
            .unwrap_err()
            .contains("duplicate")
    );
}

// ---- program addresses ----

#[test]
fn associated_token_accounts_match_solders() {
    let mint = address(USDC_MINT, "").unwrap();
    for (program, owner_ata, pay_to_ata) in [
        (TOKEN_PROGRAM, SOURCE_ATA, DEST_ATA),
        (TOKEN_2022_PROGRAM, SOURCE_ATA_2022, DEST_ATA_2022),
    ] {
        let program = address(program, "").unwrap();
        for (wallet, ata) in [(OWNER, owner_ata), (DEFAULT_PAY_TO, pay_to_ata)] {
            let wallet = address(wallet, "").unwrap();
            let found = associated_token_account(&wallet, &program, &mint).unwrap();
            assert_eq!(bs58::encode(found).into_string(), ata);
            assert!(!on_curve(&found));
            assert!(on_curve(&wallet));
        }
    }
}

// ---- verifier: the solders transaction ----

#[test]
fn accepts_the_solders_transaction() {
    let v = verifier();
    let ok = verify(&v, &accepted(), &kat()).unwrap();
    assert_eq!(ok.wallet, OWNER);
    assert_eq!(ok.amount_units, 5_000_000);
    assert_eq!(ok.amount_usd, 5.0);
    assert_eq!(ok.network, SOLANA_MAINNET_NETWORK);
    let sig = decode_transaction(&kat()).unwrap().signatures[1];
    assert_eq!(ok.signature, bs58::encode(sig).into_string());
}

#[test]
fn accepts_the_bare_network() {
    let mut a = accepted();
    a["network"] = json!("solana");
    assert_eq!(verify(&verifier(), &a, &kat()).unwrap().network, "solana");
}

#[test]
fn accepts_token_2022_when_the_mint_is() {
    let policy = SvmPaymentPolicy {
        token_program: TOKEN_2022_PROGRAM.into(),
        ..SvmPaymentPolicy::default()
    };
    let tx = b64(KAT_TX_2022).unwrap();
    assert!(verify(&verifier_with(policy), &accepted(), &tx).is_ok());
    // ... and refuses it when the mint is an SPL Token mint.
    assert!(matches!(
        verify(&verifier(), &accepted(), &tx),
        Err(SvmRejection::BadInstruction { index: 2, .. })
    ));
}

#[test]
fn through_the_payment_verifier_trait() {
    let v = SvmPaymentVerifier::new(SvmPaymentPolicy::default(), {
        let s = Arc::new(RecentBlockhashes::default());
        s.insert(blockhash(), SystemTime::now());
        s
    });
    let paid = PaymentVerifier::verify(&v, &header(&accepted(), &kat())).unwrap();
    assert_eq!(paid.wallet, OWNER);
    assert_eq!(paid.amount_usd, 5.0);
    let again = PaymentVerifier::verify(&v, &header(&accepted(), &kat())).unwrap_err();
    assert!(again.contains("replayed"), "{again}");
}

// ---- verifier: replays and blockhashes ----

#[test]
fn rejects_a_reused_signature() {
    let v = verifier();
    verify(&v, &accepted(), &kat()).unwrap();
    assert_eq!(
        verify(&v, &accepted(), &kat()),
        Err(SvmRejection::ReplayedSignature)
    );
    // A rejected attempt burns nothing: a fresh verifier still accepts it.
    let w = verifier();
    let mut bad = kat();
    bad[100] ^= 1;
    assert!(verify(&w, &accepted(), &bad).is_err());
    assert!(verify(&w, &accepted(), &kat()).is_ok());
}

#[test]
fn rejects_a_reused_blockhash_for_the_same_wallet() {
    let v = verifier();
    verify(&v, &accepted(), &kat()).unwrap();
    // Another memo: a new, validly signed transaction on the same blockhash.
    let other = tampered(
        |t| *t.instructions[3].data.last_mut().unwrap() = b'2',
        &owner_key(),
    );
    assert_eq!(
        verify(&v, &accepted(), &other),
        Err(SvmRejection::ReplayedBlockhash)
    );
    // It was valid on its own.
    assert!(verify(&verifier(), &accepted(), &other).is_ok());
}

#[test]
fn rejects_blockhashes_not_issued_or_expired() {
    let none = SvmPaymentVerifier::new(
        SvmPaymentPolicy::default(),
        Arc::new(RecentBlockhashes::default()),
    );
    assert_eq!(
        verify(&none, &accepted(), &kat()),
        Err(SvmRejection::UnknownBlockhash)
    );
    let v = verifier();
    let late = t0() + Duration::from_secs(91);
    assert_eq!(
        v.verify_at(&header(&accepted(), &kat()), late),
        Err(SvmRejection::UnknownBlockhash)
    );
}

// ---- verifier: what the wallet signed ----

#[test]
fn rejects_a_tampered_amount() {
    // In the transaction (re-signed: the structure check catches it before the signature).
    let more = tampered(
        |t| t.instructions[2].data[1..9].copy_from_slice(&6_000_000u64.to_le_bytes()),
        &owner_key(),
    );
    assert_eq!(
        verify(&verifier(), &accepted(), &more),
        Err(SvmRejection::AmountMismatch {
            transferred: 6_000_000,
            accepted: 5_000_000
        })
    );
    // In `accepted`.
    let mut a = accepted();
    a["amount"] = json!("6000000");
    assert!(matches!(
        verify(&verifier(), &a, &kat()),
        Err(SvmRejection::AmountMismatch { .. })
    ));
    // Bytes edited after signing.
    let mut raw = kat();
    let tx = decode_transaction(&raw).unwrap();
    let at = raw.len() - tx.message.len()
        + tx.message
            .windows(9)
            .position(|w| w == [12, 0x40, 0x4b, 0x4c, 0, 0, 0, 0, 0])
            .unwrap()
        + 1;
    raw[at] = 0x41;
    assert!(matches!(
        verify(&verifier(), &accepted(), &raw),
        Err(SvmRejection::AmountMismatch { .. })
    ));
    // Below the minimum top-up.
    let policy = SvmPaymentPolicy {
        min_amount: 10_000_000,
        ..SvmPaymentPolicy::default()
    };
    assert!(matches!(
        verify(&verifier_with(policy), &accepted(), &kat()),
        Err(SvmRejection::AmountBelowMinimum { .. })
    ));
}

#[test]
fn rejects_a_wrong_mint() {
    let mut a = accepted();
    a["asset"] = json!("Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB");
    assert_eq!(
        verify(&verifier(), &a, &kat()),
        Err(SvmRejection::WrongMint)
    );
    // The transfer's mint account replaced (the key list stays sorted enough for the
    // runtime; the verifier looks at the transfer's accounts, not positions).
    let other = tampered(
        |t| {
            let i = key_index(t, USDC_MINT);
            t.keys[i] = address("Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB", "").unwrap();
        },
        &owner_key(),
    );
    assert_eq!(
        verify(&verifier(), &accepted(), &other),
        Err(SvmRejection::WrongMint)
    );
}

#[test]
fn rejects_a_wrong_network() {
    for n in [
        "eip155:8453",
        "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1",
        "solana-devnet",
        "",
    ] {
        let mut a = accepted();
        a["network"] = json!(n);
        assert_eq!(
            verify(&verifier(), &a, &kat()),
            Err(SvmRejection::WrongNetwork(n.into()))
        );
    }
}

#[test]
fn rejects_a_foreign_fee_payer() {
    let foreign = "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB";
    let other = tampered(|t| t.keys[0] = address(foreign, "").unwrap(), &owner_key());
    assert_eq!(
        verify(&verifier(), &accepted(), &other),
        Err(SvmRejection::ForeignFeePayer)
    );
    let mut a = accepted();
    a["extra"]["feePayer"] = json!(foreign);
    assert_eq!(
        verify(&verifier(), &a, &kat()),
        Err(SvmRejection::ForeignFeePayer)
    );
    // The fee payer must not be moved by an instruction (memo signer here).
    let used = tampered(|t| t.instructions[3].accounts.push(0), &owner_key());
    assert_eq!(
        verify(&verifier(), &accepted(), &used),
        Err(SvmRejection::FeePayerInInstruction)
    );
}

#[test]
fn rejects_a_bad_signature() {
    let mut raw = kat();
    raw[65 + 3] ^= 1; // inside the wallet's signature
    assert_eq!(
        verify(&verifier(), &accepted(), &raw),
        Err(SvmRejection::BadSignature)
    );
    let mut raw = kat();
    let last = raw.len() - 2; // the memo's last byte: the message changed
    raw[last] ^= 1;
    assert_eq!(
        verify(&verifier(), &accepted(), &raw),
        Err(SvmRejection::BadSignature)
    );
    let stranger = tampered(|_| {}, &SigningKey::from_bytes(&[7; 32]));
    assert_eq!(
        verify(&verifier(), &accepted(), &stranger),
        Err(SvmRejection::BadSignature)
    );
}

#[test]
fn rejects_a_filled_fee_payer_slot() {
    let mut raw = kat();
    raw[1] = 1;
    assert_eq!(
        verify(&verifier(), &accepted(), &raw),
        Err(SvmRejection::FeePayerSlotFilled)
    );
}

#[test]
fn rejects_other_instruction_lists() {
    let k = owner_key();
    let run = |tx: Vec<u8>| verify(&verifier(), &accepted(), &tx);
    assert_eq!(
        run(tampered(|t| drop(t.instructions.pop()), &k)),
        Err(SvmRejection::InstructionCount(3))
    );
    assert_eq!(
        run(tampered(
            |t| t.instructions.push(t.instructions[3].clone()),
            &k
        )),
        Err(SvmRejection::InstructionCount(5))
    );
    assert!(matches!(
        run(tampered(|t| t.instructions.swap(0, 1), &k)),
        Err(SvmRejection::BadInstruction { index: 0, .. })
    ));
    assert!(matches!(
        run(tampered(
            |t| t.instructions[1].data[1..].copy_from_slice(&6_000_000u64.to_le_bytes()),
            &k
        )),
        Err(SvmRejection::BadInstruction { index: 1, .. })
    ));
    // `Transfer` (3) instead of `TransferChecked` (12).
    assert!(matches!(
        run(tampered(|t| t.instructions[2].data[0] = 3, &k)),
        Err(SvmRejection::BadInstruction { index: 2, .. })
    ));
    assert!(matches!(
        run(tampered(|t| t.instructions[2].data[9] = 9, &k)),
        Err(SvmRejection::BadInstruction { index: 2, .. })
    ));
    // The memo sent to the compute budget program.
    assert!(matches!(
        run(tampered(
            |t| t.instructions[3].program = t.instructions[0].program,
            &k
        )),
        Err(SvmRejection::BadInstruction { index: 3, .. })
    ));
    assert!(matches!(
        run(tampered(|t| t.instructions[3].data = vec![0xff, 0xfe], &k)),
        Err(SvmRejection::BadInstruction { index: 3, .. })
    ));
}

#[test]
fn rejects_wrong_token_accounts() {
    let k = owner_key();
    // Source and destination swapped in the transfer.
    let swapped = tampered(|t| t.instructions[2].accounts.swap(0, 2), &k);
    assert_eq!(
        verify(&verifier(), &accepted(), &swapped),
        Err(SvmRejection::WrongDestination)
    );
    // The destination of someone else: the verifier derives payTo's account itself.
    let elsewhere = tampered(
        |t| {
            let i = key_index(t, DEST_ATA);
            t.keys[i] = address(SOURCE_ATA_2022, "").unwrap();
        },
        &k,
    );
    assert_eq!(
        verify(&verifier(), &accepted(), &elsewhere),
        Err(SvmRejection::WrongDestination)
    );
    let source = tampered(
        |t| {
            let i = key_index(t, SOURCE_ATA);
            t.keys[i] = address(DEST_ATA_2022, "").unwrap();
        },
        &k,
    );
    assert_eq!(
        verify(&verifier(), &accepted(), &source),
        Err(SvmRejection::WrongSource)
    );
    // A policy paying someone else finds the solders destination wrong.
    let policy = SvmPaymentPolicy {
        pay_to: OWNER.into(),
        ..SvmPaymentPolicy::default()
    };
    let mut a = accepted();
    a["payTo"] = json!(OWNER);
    assert_eq!(
        verify(&verifier_with(policy), &a, &kat()),
        Err(SvmRejection::WrongDestination)
    );
    // And `accepted.payTo` must be the policy's.
    assert_eq!(
        verify(&verifier(), &a, &kat()),
        Err(SvmRejection::WrongPayTo)
    );
}

#[test]
fn rejects_other_shapes() {
    let k = owner_key();
    let legacy = tampered(|t| t.version = None, &k);
    assert_eq!(
        verify(&verifier(), &accepted(), &legacy),
        Err(SvmRejection::NotV0)
    );
    let three = tampered(
        |t| {
            t.num_required_signatures = 3;
            t.num_readonly_signed = 2;
        },
        &k,
    );
    assert!(matches!(
        verify(&verifier(), &accepted(), &three),
        Err(SvmRejection::BadSigners(_))
    ));
    let v = verifier();
    let e = base64::engine::general_purpose::STANDARD;
    assert!(matches!(
        v.verify_at("%%%", t0()),
        Err(SvmRejection::Malformed(_))
    ));
    let mut p = json!({"x402Version": 1, "accepted": accepted(), "payload": {"transaction": ""}});
    assert_eq!(
        v.verify_at(&e.encode(p.to_string()), t0()),
        Err(SvmRejection::UnsupportedVersion)
    );
    p["x402Version"] = json!(2);
    p["accepted"]["scheme"] = json!("upto");
    assert_eq!(
        v.verify_at(&e.encode(p.to_string()), t0()),
        Err(SvmRejection::WrongScheme)
    );
    p["accepted"]["scheme"] = json!("exact");
    assert!(matches!(
        v.verify_at(&e.encode(p.to_string()), t0()),
        Err(SvmRejection::Malformed(_))
    ));
}

#[test]
fn reasons_are_slugs() {
    for r in [
        SvmRejection::WrongMint,
        SvmRejection::ReplayedBlockhash,
        SvmRejection::BadInstruction {
            index: 1,
            reason: "x",
        },
    ] {
        assert!(
            r.reason()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_')
        );
        assert!(!r.to_string().is_empty());
    }
}

#[test]
fn policy_requirement() {
    let p = SvmPaymentPolicy::default();
    assert_eq!(
        p.requirement(7_000_000),
        json!({"scheme": "exact", "network": SOLANA_MAINNET_NETWORK, "asset": USDC_MINT,
               "amount": "7000000", "payTo": DEFAULT_PAY_TO, "maxTimeoutSeconds": 300,
               "extra": {"feePayer": DEFAULT_FEE_PAYER}})
    );
    let m = p.mint_account().unwrap();
    assert_eq!(bs58::encode(m.owner).into_string(), TOKEN_PROGRAM);
    let bad = SvmPaymentPolicy {
        mint: "nope".into(),
        ..SvmPaymentPolicy::default()
    };
    assert!(bad.mint_account().is_err());
}

// ---- blockhashes ----

#[test]
fn issued_blockhashes() {
    let s = RecentBlockhashes::new(Duration::from_secs(60));
    let a = s.issue(t0()).unwrap();
    let b = s.issue(t0()).unwrap();
    assert_ne!(a.hash, b.hash);
    assert_eq!(b.slot, a.slot + 1);
    assert_eq!(a.last_valid_block_height, a.slot + 150);
    assert_eq!(bs58::decode(a.base58()).into_vec().unwrap(), a.hash);
    assert!(s.is_recent(&a.hash, t0() + Duration::from_secs(60)));
    assert!(!s.is_recent(&a.hash, t0() + Duration::from_secs(61)));
    assert!(!s.is_recent(&[9; 32], t0()));
    // Bounded: the oldest is forgotten past the capacity.
    for i in 0..4096u32 {
        let mut h = [0u8; 32];
        h[..4].copy_from_slice(&i.to_le_bytes());
        h[31] = 1;
        s.insert(h, t0());
    }
    assert!(!s.is_recent(&a.hash, t0()));
}

// ---- RPC ----

fn rpc_answer(store: &RecentBlockhashes, request: Value) -> RpcAnswer {
    let mint = SvmPaymentPolicy::default().mint_account().unwrap();
    SolanaRpc {
        blockhashes: store,
        mint: &mint,
    }
    .answer(&request, t0())
}

#[test]
fn rpc_latest_blockhash() {
    let s = RecentBlockhashes::default();
    let a = rpc_answer(
        &s,
        json!({"jsonrpc": "2.0", "id": 1, "method": "getLatestBlockhash",
               "params": [{"commitment": "finalized"}]}),
    );
    assert_eq!(a.credits, CREDITS_PER_CALL);
    assert_eq!(a.body["jsonrpc"], "2.0");
    assert_eq!(a.body["id"], 1);
    let hash = a.body["result"]["value"]["blockhash"].as_str().unwrap();
    let hash: [u8; 32] = bs58::decode(hash).into_vec().unwrap().try_into().unwrap();
    assert!(s.is_recent(&hash, t0()));
    let slot = a.body["result"]["context"]["slot"].as_u64().unwrap();
    assert_eq!(
        a.body["result"]["value"]["lastValidBlockHeight"].as_u64(),
        Some(slot + 150)
    );
}

#[test]
fn rpc_mint_account() {
    let s = RecentBlockhashes::default();
    let a = rpc_answer(
        &s,
        json!({"jsonrpc": "2.0", "id": "m", "method": "getAccountInfo",
               "params": [USDC_MINT, {"encoding": "base64", "commitment": "finalized"}]}),
    );
    assert_eq!(a.body["id"], "m");
    let value = &a.body["result"]["value"];
    assert_eq!(value["owner"], TOKEN_PROGRAM);
    assert_eq!(value["data"][1], "base64");
    let data = b64(value["data"][0].as_str().unwrap()).unwrap();
    assert_eq!(data.len(), 82);
    assert_eq!((data[44], data[45]), (6, 1));
    assert_eq!(value["space"], 82);
    // Default encoding: base58, same bytes.
    let b = rpc_answer(
        &s,
        json!({"jsonrpc": "2.0", "id": 2, "method": "getAccountInfo", "params": [USDC_MINT]}),
    );
    let d58 = b.body["result"]["value"]["data"][0].as_str().unwrap();
    assert_eq!(bs58::decode(d58).into_vec().unwrap(), data);
    // Another account: null.
    let c = rpc_answer(
        &s,
        json!({"jsonrpc": "2.0", "id": 3, "method": "getAccountInfo",
                                  "params": [DEFAULT_PAY_TO, {"encoding": "base64"}]}),
    );
    assert!(c.body["result"]["value"].is_null());
    assert_eq!(c.credits, CREDITS_PER_CALL);
}

#[test]
fn rpc_errors() {
    let s = RecentBlockhashes::default();
    let code = |r: Value| rpc_answer(&s, r).body["error"]["code"].as_i64();
    assert_eq!(
        code(json!({"jsonrpc": "2.0", "id": 1, "method": "getBalance", "params": [OWNER]})),
        Some(-32601)
    );
    assert_eq!(code(json!({"jsonrpc": "2.0", "id": 1})), Some(-32600));
    assert_eq!(
        code(json!({"jsonrpc": "1.0", "id": 1, "method": "getLatestBlockhash"})),
        Some(-32600)
    );
    assert_eq!(
        code(json!({"jsonrpc": "2.0", "id": 1, "method": "getAccountInfo", "params": ["0OIl"]})),
        Some(-32602)
    );
    assert_eq!(
        code(json!({"jsonrpc": "2.0", "id": 1, "method": "getAccountInfo", "params": {}})),
        Some(-32602)
    );
    assert_eq!(
        code(
            json!({"jsonrpc": "2.0", "id": 1, "method": "getAccountInfo",
                    "params": [USDC_MINT, {"encoding": "jsonParsed"}]})
        ),
        Some(-32602)
    );
    assert_eq!(code(json!([])), Some(-32600));
    let unknown = rpc_answer(
        &s,
        json!({"jsonrpc": "2.0", "id": 9, "method": "sendTransaction"}),
    );
    assert_eq!(unknown.body["id"], 9);
    assert_eq!(unknown.credits, CREDITS_PER_ERROR);
    // No `id` asked, none answered (never `null`).
    for request in [
        json!({"jsonrpc": "2.0", "method": "getLatestBlockhash"}),
        json!({"jsonrpc": "2.0", "method": "nope"}),
    ] {
        let body = rpc_answer(&s, request).body;
        assert!(body.get("id").is_none(), "{body}");
    }
}

#[test]
fn rpc_batch() {
    let s = RecentBlockhashes::default();
    let a = rpc_answer(
        &s,
        json!([
            {"jsonrpc": "2.0", "id": 1, "method": "getLatestBlockhash"},
            {"jsonrpc": "2.0", "id": 2, "method": "getAccountInfo", "params": [USDC_MINT, {"encoding": "base64"}]},
            {"jsonrpc": "2.0", "id": 3, "method": "nope"},
        ]),
    );
    let items = a.body.as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["id"], 1);
    assert!(items[1]["result"]["value"]["data"].is_array());
    assert_eq!(items[2]["error"]["code"], -32601);
    assert_eq!(a.credits, 2 * CREDITS_PER_CALL + CREDITS_PER_ERROR);
    assert!((a.cost_usd() - 65.0 * USD_PER_CREDIT).abs() < 1e-12);
    let too_many = Value::Array(vec![
        json!({"jsonrpc": "2.0", "id": 1, "method": "getLatestBlockhash"});
        101
    ]);
    assert_eq!(rpc_answer(&s, too_many).body["error"]["code"], -32600);
}
