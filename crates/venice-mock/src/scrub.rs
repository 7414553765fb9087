//! Scrubbing: what never reaches a cassette, and the forms it may take there.
//!
//! Two mechanisms, both applied before a byte is written:
//!
//! * **Credential headers** (`Authorization`, `SIGN-IN-WITH-X` and its legacy name,
//!   `PAYMENT-SIGNATURE` / `X-402-Payment` / `X-PAYMENT`, cookies, API-key headers) are
//!   replaced by stable placeholders ([`PLACEHOLDER_PREFIX`]`…>`), keeping only the
//!   scheme of `Authorization` (`Bearer <scrubbed:api-key>`).
//! * **Secret values** — the token of those headers, the signatures inside the SIWX and
//!   payment headers, cookie values, string fields of JSON bodies named like a key or a
//!   signature ([`is_secret_field`]), and anything given to [`Secrets::add`] (the CLI
//!   and `venice-mock record` add the credentials of their environment) — are searched
//!   everywhere else (header values, paths, queries, bodies, side files) in every form
//!   they may take: as is, percent- and JSON-escaped, hex (both cases), base64
//!   (standard and URL-safe, padded or not, and at each of the three alignments it can
//!   have inside a longer base64 string, such as an image whose EXIF holds a prompt),
//!   base58, and, for a secret that is itself an encoding (a hex or base58 private key,
//!   a `solana-keygen` JSON array, a base64 signature), the same forms of its bytes.
//!   Each occurrence is overwritten **in place with the same length** (`SCRUBBED…`, or
//!   `5c0bbed…` in hex), so binary bodies and base64 strings keep their structure.
//!
//! Wallet addresses are kept, or with [`Secrets::redact_wallets`] replaced everywhere
//! (headers, bodies, path parameters, inside base64 JSON headers) by a stand-in of the
//! same form and length: `0x000…0001` for EVM (every case form of the address), a base58
//! string of the same length for Solana.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use serde_json::Value;

/// Every placeholder of a scrubbed header starts with this.
pub const PLACEHOLDER_PREFIX: &str = "<scrubbed";

/// What overwrites a secret found in text, base64 or base58 (repeated to its length).
pub const MASK: &str = "SCRUBBED";

/// What overwrites a secret found as hex (repeated to its length, in its case).
const HEX_MASK: &str = "5c0bbed";

/// Shortest secret value taken (shorter ones would match innocent text).
pub const MIN_SECRET_LEN: usize = 8;

/// Headers replaced whole by a placeholder, and the placeholder.
const CREDENTIAL_HEADERS: &[(&str, &str)] = &[
    ("sign-in-with-x", "<scrubbed:sign-in-with-x>"),
    ("x-sign-in-with-x", "<scrubbed:sign-in-with-x>"),
    ("payment-signature", "<scrubbed:payment-signature>"),
    ("x-402-payment", "<scrubbed:payment-signature>"),
    ("x-payment", "<scrubbed:payment-signature>"),
    ("cookie", "<scrubbed:cookie>"),
    ("set-cookie", "<scrubbed:set-cookie>"),
    ("x-api-key", "<scrubbed:api-key>"),
    ("api-key", "<scrubbed:api-key>"),
];

/// JSON field names (compared without case, `_` and `-`) whose string values are secrets.
const SECRET_FIELDS: &[&str] = &[
    "apikey",
    "secret",
    "secretkey",
    "clientsecret",
    "privatekey",
    "password",
    "passphrase",
    "mnemonic",
    "seedphrase",
    "signature",
    "signedtransaction",
    "accesstoken",
    "refreshtoken",
    "bearer",
    "authorization",
];

/// Whether a JSON field of this name holds a secret (a key or a signature).
pub fn is_secret_field(name: &str) -> bool {
    let folded: String = name
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    SECRET_FIELDS.contains(&folded.as_str())
}

/// Whether a recorded string was scrubbed (holds a placeholder or a mask).
pub fn is_scrubbed(text: &str) -> bool {
    text.contains(PLACEHOLDER_PREFIX) || text.contains(MASK) || text.contains(HEX_MASK)
}

/// Percent-encoding that keeps RFC 3986's unreserved characters.
const UNRESERVED_KEPT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How a found form is overwritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alphabet {
    Text,
    HexLower,
    HexUpper,
}

fn mask(len: usize, alphabet: Alphabet) -> Vec<u8> {
    let source = match alphabet {
        Alphabet::Text => MASK.to_owned(),
        Alphabet::HexLower => HEX_MASK.to_owned(),
        Alphabet::HexUpper => HEX_MASK.to_ascii_uppercase(),
    };
    source.bytes().cycle().take(len).collect()
}

/// The secrets and wallet addresses a recording must not keep.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    values: Vec<Vec<u8>>,
    wallets: Vec<String>,
    redact_wallets: bool,
}

/// The environment variables whose values [`Secrets::from_env`] takes.
pub const SECRET_ENV_VARS: &[&str] = &[
    "VENICE_API_KEY",
    "VENICE_WALLET_PRIVATE_KEY",
    "VENICE_SOLANA_KEYPAIR",
    "VENICE_SIWX_HEADER",
];

impl Secrets {
    /// No secrets yet (headers and JSON fields are still scrubbed as they are seen).
    pub fn new() -> Self {
        Self::default()
    }

    /// The values of [`SECRET_ENV_VARS`] that are set (a `VENICE_SIWX_HEADER` is read
    /// like a sign-in header).
    pub fn from_env() -> Self {
        let mut s = Self::new();
        for name in SECRET_ENV_VARS {
            if let Ok(value) = std::env::var(name) {
                s.add(value.trim());
                if *name == "VENICE_SIWX_HEADER" {
                    s.learn_header("sign-in-with-x", value.trim());
                }
            }
        }
        s
    }

    /// Adds a secret (ignored when shorter than [`MIN_SECRET_LEN`] or known).
    pub fn add(&mut self, secret: impl AsRef<[u8]>) {
        let secret = secret.as_ref();
        if secret.len() >= MIN_SECRET_LEN && !self.values.iter().any(|v| v == secret) {
            self.values.push(secret.to_vec());
        }
    }

    /// Adds a wallet address (replaced only with [`redact_wallets`](Self::redact_wallets)).
    pub fn add_wallet(&mut self, address: &str) {
        let address = address.trim();
        let known = self.wallets.iter().any(|w| same_wallet(w, address));
        if !address.is_empty() && !known {
            self.wallets.push(address.to_owned());
        }
    }

    /// Replace wallet addresses everywhere by stand-ins.
    pub fn redact_wallets(&mut self, on: bool) {
        self.redact_wallets = on;
    }

    /// Whether wallet addresses are replaced.
    pub fn redacts_wallets(&self) -> bool {
        self.redact_wallets
    }

    /// How many secret values are known.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// No secret value is known.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Learns the secrets (and wallet) a header carries. Returns whether anything new
    /// was learned.
    pub fn learn_header(&mut self, name: &str, value: &str) -> bool {
        let before = (self.values.len(), self.wallets.len());
        let name = name.to_ascii_lowercase();
        match name.as_str() {
            "authorization" | "proxy-authorization" => {
                self.add(value);
                if let Some((_, token)) = value.split_once(' ') {
                    self.add(token.trim());
                }
            }
            "sign-in-with-x" | "x-sign-in-with-x" | "payment-signature" | "x-402-payment"
            | "x-payment" => {
                self.add(value);
                if let Some(json) = decode_base64_json(value) {
                    self.learn_json(&json);
                    for pointer in ["/address", "/payload/authorization/from", "/payer"] {
                        if let Some(w) = json.pointer(pointer).and_then(Value::as_str) {
                            self.add_wallet(w);
                        }
                    }
                    for pointer in ["/payload/transaction", "/payload/signature"] {
                        if let Some(s) = json.pointer(pointer).and_then(Value::as_str) {
                            self.add(s);
                        }
                    }
                }
            }
            "cookie" | "set-cookie" => {
                self.add(value);
                for pair in value.split(';') {
                    if let Some((_, v)) = pair.split_once('=') {
                        self.add(v.trim());
                    }
                }
            }
            "x-api-key" | "api-key" => self.add(value),
            _ => {}
        }
        self.learn_signatures(value.as_bytes());
        (self.values.len(), self.wallets.len()) != before
    }

    /// Learns every EVM signature in `bytes` (`0x` and exactly 130 hex digits: the 65
    /// bytes r‖s‖v of a SIWX or EIP-3009 signature; hashes and addresses are shorter),
    /// so a signature is scrubbed wherever it appears, even before its header is seen.
    /// Returns whether anything new was learned.
    pub fn learn_signatures(&mut self, bytes: &[u8]) -> bool {
        let before = self.values.len();
        let mut at = 0;
        while let Some(i) = bytes[at..]
            .windows(2)
            .position(|w| w == b"0x" || w == b"0X")
        {
            let start = at + i;
            let digits = bytes[start + 2..]
                .iter()
                .take_while(|b| b.is_ascii_hexdigit())
                .count();
            let preceded = start > 0 && bytes[start - 1].is_ascii_alphanumeric();
            if digits == 130 && !preceded {
                self.add(&bytes[start..start + 132]);
            }
            at = start + 2 + digits;
        }
        self.values.len() != before
    }

    /// Learns every string under a secret-named field of a JSON value
    /// ([`is_secret_field`]). Returns whether anything new was learned.
    pub fn learn_json(&mut self, value: &Value) -> bool {
        let before = self.values.len();
        let mut stack = vec![value];
        while let Some(v) = stack.pop() {
            match v {
                Value::Object(map) => {
                    for (k, v) in map {
                        match v {
                            Value::String(s) if is_secret_field(k) => self.add(s),
                            other => stack.push(other),
                        }
                    }
                }
                Value::Array(items) => stack.extend(items),
                _ => {}
            }
        }
        self.values.len() != before
    }

    /// The scrubber of what is known now.
    pub fn scrubber(&self) -> Scrubber {
        let mut patterns: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for secret in &self.values {
            let mut found = Vec::new();
            forms(secret, true, &mut found);
            for (form, alphabet) in found {
                if form.len() >= MIN_SECRET_LEN {
                    let replacement = mask(form.len(), alphabet);
                    patterns.push((form, replacement));
                }
            }
        }
        if self.redact_wallets {
            for (i, wallet) in self.wallets.iter().enumerate() {
                for (form, stand_in) in wallet_forms(wallet, i + 1) {
                    patterns.push((form.into_bytes(), stand_in.into_bytes()));
                }
            }
        }
        // The longest form of a secret wins where several match at one place.
        patterns.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        patterns.dedup_by(|a, b| a.0 == b.0);
        let max_len = patterns.iter().map(|p| p.0.len()).max().unwrap_or(0);
        let matcher = if patterns.is_empty() {
            None
        } else {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(patterns.iter().map(|p| &p.0))
                .ok()
        };
        Scrubber {
            matcher,
            replacements: patterns.into_iter().map(|p| p.1).collect(),
            max_len,
        }
    }
}

fn same_wallet(a: &str, b: &str) -> bool {
    if a.starts_with("0x") || a.starts_with("0X") {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

/// Decodes a header value that is base64 (either alphabet) of a JSON object.
pub(crate) fn decode_base64_json(value: &str) -> Option<Value> {
    let bytes = decode_base64_any(value.trim())?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(v @ Value::Object(_)) => Some(v),
        _ => None,
    }
}

fn decode_base64_any(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(text).ok())
}

/// Every form of `secret` worth searching for, with the alphabet of its mask.
fn forms(secret: &[u8], decode: bool, out: &mut Vec<(Vec<u8>, Alphabet)>) {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    out.push((secret.to_vec(), Alphabet::Text));
    if let Ok(text) = std::str::from_utf8(secret) {
        let escaped = serde_json::to_string(text).unwrap_or_default();
        let escaped = &escaped[1..escaped.len().saturating_sub(1).max(1)];
        out.push((escaped.as_bytes().to_vec(), Alphabet::Text));
        out.push((escaped.replace('/', "\\/").into_bytes(), Alphabet::Text));
        for set in [percent_encoding::NON_ALPHANUMERIC, UNRESERVED_KEPT] {
            let encoded = percent_encoding::utf8_percent_encode(text, set).to_string();
            out.push((encoded.clone().into_bytes(), Alphabet::Text));
            out.push((encoded.to_ascii_lowercase().into_bytes(), Alphabet::Text));
        }
    }
    let hex = crate::cassette::hex(secret);
    out.push((hex.to_ascii_uppercase().into_bytes(), Alphabet::HexUpper));
    out.push((hex.into_bytes(), Alphabet::HexLower));
    for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
        out.push((engine.encode(secret).into_bytes(), Alphabet::Text));
    }
    base64_middles(secret, out);
    if secret.len() <= 256 {
        out.push((
            bs58::encode(secret).into_string().into_bytes(),
            Alphabet::Text,
        ));
    }
    if !decode {
        return;
    }
    let Ok(text) = std::str::from_utf8(secret) else {
        return;
    };
    let text = text.trim();
    for decoded in decoded_forms(text) {
        if decoded.len() >= MIN_SECRET_LEN {
            forms(&decoded, false, out);
        }
    }
}

/// The base64 characters that depend on `bytes` alone inside a longer base64 string,
/// where `bytes` starts at byte 0, 1 or 2 of a 3-byte group (both alphabets).
fn base64_middles(bytes: &[u8], out: &mut Vec<(Vec<u8>, Alphabet)>) {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    for lead in 0..3usize {
        let mut shifted = vec![0u8; lead];
        shifted.extend_from_slice(bytes);
        let first = (8 * lead).div_ceil(6);
        let end = (8 * (lead + bytes.len())) / 6;
        for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
            let encoded = engine.encode(&shifted);
            if first < end && end <= encoded.len() {
                out.push((encoded.as_bytes()[first..end].to_vec(), Alphabet::Text));
            }
        }
    }
}

/// The bytes a secret text stands for, when it is an encoding of a key or signature.
fn decoded_forms(text: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let hex = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    if hex.len() >= 32
        && hex.len().is_multiple_of(2)
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && let Some(bytes) = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()
    {
        out.push(bytes);
    }
    if let Ok(bytes) = bs58::decode(text).into_vec()
        && matches!(bytes.len(), 32 | 64)
    {
        if bytes.len() == 64 {
            // A Solana keypair: the secret half first.
            out.push(bytes[..32].to_vec());
        }
        out.push(bytes);
    }
    if text.starts_with('[')
        && let Ok(numbers) = serde_json::from_str::<Vec<u8>>(text)
        && matches!(numbers.len(), 32 | 64)
    {
        if numbers.len() == 64 {
            out.push(numbers[..32].to_vec());
        }
        out.push(numbers);
    }
    if text.len() >= 24
        && out.is_empty()
        && let Some(bytes) = decode_base64_any(text)
    {
        out.push(bytes);
    }
    out
}

/// The forms of a wallet address and their stand-ins (same length, same form).
fn wallet_forms(address: &str, index: usize) -> Vec<(String, String)> {
    let is_evm = address.len() == 42
        && (address.starts_with("0x") || address.starts_with("0X"))
        && address[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if is_evm {
        // Digits only: the stand-in reads the same in every case form.
        let stand_in = format!("{index:040}");
        let hex = &address[2..];
        let mut variants = vec![
            hex.to_owned(),
            hex.to_ascii_lowercase(),
            hex.to_ascii_uppercase(),
        ];
        if let Ok(parsed) = address
            .to_ascii_lowercase()
            .parse::<alloy_primitives::Address>()
        {
            variants.push(parsed.to_checksum(None)[2..].to_owned());
        }
        variants.sort();
        variants.dedup();
        return variants
            .into_iter()
            .map(|v| (v, stand_in.clone()))
            .collect();
    }
    // Solana: a base58 string of the same length (the length of a key's base58 varies).
    let mut salt = 0u64;
    let stand_in = loop {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(format!("venice-mock wallet {index} {salt}"));
        let candidate = bs58::encode(digest).into_string();
        if candidate.len() == address.len() || salt > 10_000 {
            break candidate;
        }
        salt += 1;
    };
    vec![(address.to_owned(), stand_in)]
}

/// Overwrites every known secret (and, when redacting, wallet address) in bytes.
#[derive(Debug, Clone)]
pub struct Scrubber {
    matcher: Option<AhoCorasick>,
    replacements: Vec<Vec<u8>>,
    max_len: usize,
}

impl Scrubber {
    /// A scrubber that knows nothing (headers are still replaced by placeholders).
    pub fn none() -> Self {
        Secrets::new().scrubber()
    }

    /// `bytes` with every occurrence overwritten.
    pub fn bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        let Some(matcher) = &self.matcher else {
            return Cow::Borrowed(bytes);
        };
        let mut out: Option<Vec<u8>> = None;
        let mut at = 0;
        for m in matcher.find_iter(bytes) {
            let buf = out.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
            buf.extend_from_slice(&bytes[at..m.start()]);
            buf.extend_from_slice(&self.replacements[m.pattern().as_usize()]);
            at = m.end();
        }
        match out {
            Some(mut buf) => {
                buf.extend_from_slice(&bytes[at..]);
                Cow::Owned(buf)
            }
            None => Cow::Borrowed(bytes),
        }
    }

    /// `text` with every occurrence overwritten, also inside base64 runs.
    pub fn text(&self, text: &str) -> String {
        let once = self.bytes(text.as_bytes());
        let nested = self
            .inside_base64(&once)
            .unwrap_or_else(|| once.into_owned());
        String::from_utf8_lossy(&nested).into_owned()
    }

    /// Scrubs inside every base64 run of `text` (a prompt holding an encoded key, echoed
    /// in an image's EXIF, the image sent as base64): each run is decoded, scrubbed, and
    /// encoded again in its alphabet and padding. The masks keep lengths, so the text
    /// keeps its length. `None` when nothing changed.
    pub fn inside_base64(&self, text: &[u8]) -> Option<Vec<u8>> {
        use base64::engine::general_purpose::{
            STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
        };
        self.matcher.as_ref()?;
        let is_b64 =
            |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'=');
        let mut out: Option<Vec<u8>> = None;
        let mut i = 0;
        while i < text.len() {
            if !is_b64(text[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < text.len() && is_b64(text[i]) {
                i += 1;
            }
            let run = &text[start..i];
            if run.len() < 2 * MIN_SECRET_LEN {
                continue;
            }
            let Ok(run_text) = std::str::from_utf8(run) else {
                continue;
            };
            let url = run_text.contains(['-', '_']);
            let padded = run_text.ends_with('=');
            let engine = match (url, padded) {
                (false, true) => STANDARD,
                (false, false) => STANDARD_NO_PAD,
                (true, true) => URL_SAFE,
                (true, false) => URL_SAFE_NO_PAD,
            };
            let Ok(decoded) = engine.decode(run_text) else {
                continue;
            };
            if let Cow::Owned(scrubbed) = self.bytes(&decoded) {
                let encoded = engine.encode(scrubbed);
                if encoded.len() == run.len() {
                    out.get_or_insert_with(|| text.to_vec())[start..i]
                        .copy_from_slice(encoded.as_bytes());
                }
            }
        }
        out
    }

    /// A recorded copy of headers: credential headers become placeholders, base64 JSON
    /// values are scrubbed inside, every other value is scrubbed as text.
    pub fn headers<'a>(
        &self,
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Vec<(String, String)> {
        headers
            .into_iter()
            .map(|(name, value)| {
                let name = name.to_ascii_lowercase();
                let text = String::from_utf8_lossy(value);
                let value = if let Some((_, placeholder)) =
                    CREDENTIAL_HEADERS.iter().find(|(n, _)| *n == name)
                {
                    (*placeholder).to_owned()
                } else if name == "authorization" || name == "proxy-authorization" {
                    match text.split_once(' ') {
                        Some((scheme, _)) if scheme.eq_ignore_ascii_case("bearer") => {
                            format!("{scheme} <scrubbed:api-key>")
                        }
                        Some((scheme, _)) => format!("{scheme} <scrubbed:credential>"),
                        None => "<scrubbed:credential>".to_owned(),
                    }
                } else {
                    self.header_value(&text)
                };
                (name, value)
            })
            .collect()
    }

    /// A header value: base64 JSON (the x402 headers) is scrubbed decoded, then
    /// re-encoded in the alphabet it came in.
    fn header_value(&self, text: &str) -> String {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        if text.len() >= 16
            && let Some(json) = decode_base64_any(text.trim())
            && serde_json::from_slice::<Value>(&json).is_ok_and(|v| v.is_object())
        {
            let scrubbed = self.bytes(&json);
            if let Cow::Owned(changed) = scrubbed {
                return if text.contains(['-', '_']) {
                    URL_SAFE_NO_PAD.encode(changed)
                } else {
                    STANDARD.encode(changed)
                };
            }
        }
        self.text(text)
    }

    /// Gives `emit` the bytes of `hay` up to the end of the last match that starts
    /// before `limit`, every such match replaced; returns where that end is.
    fn replace_before(
        &self,
        matcher: &AhoCorasick,
        hay: &[u8],
        limit: usize,
        emit: &mut dyn FnMut(&[u8]),
    ) -> usize {
        let mut at = 0;
        for m in matcher.find_iter(hay) {
            if m.start() >= limit {
                break;
            }
            emit(&hay[at..m.start()]);
            emit(&self.replacements[m.pattern().as_usize()]);
            at = m.end();
        }
        at
    }

    /// An incremental scrubber for a body that arrives in chunks.
    pub fn stream(&self) -> StreamScrub {
        StreamScrub {
            scrubber: self.clone(),
            carry: Vec::new(),
        }
    }
}

/// Scrubs a body chunk by chunk: output is final except for the last bytes that could
/// still begin a secret, which wait for the next chunk.
#[derive(Debug)]
pub struct StreamScrub {
    scrubber: Scrubber,
    carry: Vec<u8>,
}

impl StreamScrub {
    /// Feeds a chunk; appends what is final to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        self.push_with(chunk, &mut |bytes| out.extend_from_slice(bytes));
    }

    /// Feeds a chunk; gives what is final to `emit`, in order: unchanged runs are
    /// slices of `chunk` itself (no copy), replacements come from the pattern table.
    /// Only the last bytes that could begin a secret are held back (copied).
    pub fn push_with(&mut self, chunk: &[u8], emit: &mut dyn FnMut(&[u8])) {
        let Some(matcher) = &self.scrubber.matcher else {
            emit(chunk);
            return;
        };
        let keep = self.scrubber.max_len.saturating_sub(1);
        if self.carry.len() + chunk.len() < 2 * self.scrubber.max_len {
            // Small pieces: collect them until there is enough to decide.
            self.carry.extend_from_slice(chunk);
            let buf = std::mem::take(&mut self.carry);
            let safe = buf.len().saturating_sub(keep);
            let at = self.scrubber.replace_before(matcher, &buf, safe, emit);
            let keep_from = at.max(safe);
            emit(&buf[at..keep_from]);
            self.carry = buf[keep_from..].to_vec();
            return;
        }
        // 1. Matches that start in the held-back bytes: search them with the head of
        //    this chunk (a match is at most `max_len` long, so it ends inside).
        let carried = self.carry.len();
        let mut joint = std::mem::take(&mut self.carry);
        joint.extend_from_slice(&chunk[..keep.min(chunk.len())]);
        let at = self.scrubber.replace_before(matcher, &joint, carried, emit);
        if at < carried {
            emit(&joint[at..carried]);
        }
        // 2. The chunk itself, searched where it lies (past what step 1 replaced).
        let body = &chunk[at.saturating_sub(carried)..];
        let safe = body.len().saturating_sub(keep);
        let pos = self.scrubber.replace_before(matcher, body, safe, emit);
        let keep_from = pos.max(safe);
        emit(&body[pos..keep_from]);
        joint.clear();
        joint.extend_from_slice(&body[keep_from..]);
        self.carry = joint;
    }

    /// Ends the body; appends the rest to `out`.
    pub fn finish(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.scrubber.bytes(&self.carry));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    const KEY: &str = "vk-test-1234567890abcdef";

    fn scrubber_for(secret: &str) -> Scrubber {
        let mut s = Secrets::new();
        s.add(secret);
        s.scrubber()
    }

    #[test]
    fn every_form_of_a_secret_is_masked_with_the_same_length() {
        let sc = scrubber_for(KEY);
        let samples = [
            KEY.to_owned(),
            STANDARD.encode(KEY),
            URL_SAFE_NO_PAD.encode(KEY),
            crate::cassette::hex(KEY.as_bytes()),
            crate::cassette::hex(KEY.as_bytes()).to_uppercase(),
            bs58::encode(KEY).into_string(),
            percent_encoding::utf8_percent_encode(KEY, percent_encoding::NON_ALPHANUMERIC)
                .to_string(),
        ];
        for sample in samples {
            let text = format!("before {sample} after");
            let out = sc.text(&text);
            assert!(!out.contains(&sample), "{sample} survived: {out}");
            assert_eq!(out.len(), text.len());
            assert!(out.starts_with("before ") && out.ends_with(" after"));
        }
    }

    #[test]
    fn a_secret_inside_a_longer_base64_string_is_masked_at_any_alignment() {
        let sc = scrubber_for(KEY);
        for lead in 0..6 {
            let mut blob = vec![7u8; lead];
            blob.extend_from_slice(KEY.as_bytes());
            blob.extend_from_slice(&[9u8; 5]);
            let encoded = STANDARD.encode(&blob);
            let out = sc.text(&encoded);
            let decoded = STANDARD.decode(&out).unwrap();
            assert!(
                !decoded.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
                "lead {lead}"
            );
            assert_eq!(decoded.len(), blob.len());
        }
    }

    #[test]
    fn a_private_key_is_masked_as_hex_base58_and_bytes() {
        let key_hex = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&key_hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let sc = scrubber_for(&format!("0x{key_hex}"));
        for sample in [
            key_hex.to_owned(),
            key_hex.to_uppercase(),
            bs58::encode(&bytes).into_string(),
            STANDARD.encode(&bytes),
        ] {
            let out = sc.text(&format!("[{sample}]"));
            assert!(!out.contains(&sample), "{sample}: {out}");
        }
        let binary = [&[1u8, 2][..], &bytes, &[3u8][..]].concat();
        let out = sc.bytes(&binary);
        assert!(!out.windows(32).any(|w| w == bytes.as_slice()));
    }

    #[test]
    fn streaming_gives_the_same_bytes_as_one_piece() {
        let sc = scrubber_for(KEY);
        let part = format!("aa{KEY}bb{}cc{KEY}", STANDARD.encode(KEY)).repeat(3);
        // Long enough for chunks that take the in-place path.
        let text = format!("{part}{}{part}", "x".repeat(300));
        let whole = sc.bytes(text.as_bytes()).into_owned();
        for chunk in [1usize, 2, 3, 7, 13, 64, 100, 150, 1000] {
            let mut out = Vec::new();
            let mut s = sc.stream();
            for piece in text.as_bytes().chunks(chunk) {
                s.push(piece, &mut out);
            }
            s.finish(&mut out);
            assert_eq!(out, whole, "chunk {chunk}");
        }
    }

    #[test]
    fn credential_headers_become_placeholders_and_teach_their_secrets() {
        let siwx_json = serde_json::json!({
            "address": "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23",
            "message": "m",
            "signature": "0xb91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a0291c"
        });
        let siwx = STANDARD.encode(siwx_json.to_string());
        let mut secrets = Secrets::new();
        assert!(secrets.learn_header("Authorization", &format!("Bearer {KEY}")));
        assert!(secrets.learn_header("SIGN-IN-WITH-X", &siwx));
        secrets.redact_wallets(true);
        let sc = secrets.scrubber();
        let headers = sc.headers([
            ("Authorization", format!("Bearer {KEY}").as_bytes()),
            ("sign-in-with-x", siwx.as_bytes()),
            (
                "x-echo",
                format!("sig {}", &siwx_json["signature"].as_str().unwrap()[2..]).as_bytes(),
            ),
            ("x-wallet", b"0x2c7536e3605d9c16a7a3d7b1898e529396a65c23"),
        ]);
        assert_eq!(
            headers[0],
            ("authorization".into(), "Bearer <scrubbed:api-key>".into())
        );
        assert_eq!(headers[1].1, "<scrubbed:sign-in-with-x>");
        assert!(headers[2].1.contains("5c0bbed"), "{:?}", headers[2]);
        assert_eq!(headers[3].1, format!("0x{:040}", 1));
    }

    #[test]
    fn secret_named_json_fields_are_learned() {
        let mut s = Secrets::new();
        s.learn_json(
            &serde_json::json!({"a": {"privateKey": "abcdefgh12345678", "api_key": "k"},
            "list": [{"signature": "sig-sig-sig-sig"}], "prompt": "keep me"}),
        );
        assert_eq!(s.len(), 2);
        let out = s
            .scrubber()
            .text("abcdefgh12345678 sig-sig-sig-sig keep me");
        assert_eq!(out, "SCRUBBEDSCRUBBED SCRUBBEDSCRUBBE keep me");
    }

    #[test]
    fn an_encoded_secret_inside_a_base64_payload_is_masked() {
        let sc = scrubber_for(KEY);
        // An image whose metadata holds the key's base64, sent as base64 in JSON.
        let mut image = b"\x89PNG....tEXtDescription\0".to_vec();
        image.extend_from_slice(STANDARD.encode(KEY).as_bytes());
        image.extend_from_slice(b"....IEND");
        let body = format!("{{\"images\":[\"{}\"]}}", STANDARD.encode(&image));
        assert_eq!(
            sc.bytes(body.as_bytes()),
            body.as_bytes(),
            "not visible as is"
        );
        let nested = sc.inside_base64(body.as_bytes()).unwrap();
        assert_eq!(nested.len(), body.len());
        let text = String::from_utf8(nested).unwrap();
        let inner = STANDARD.decode(&text[12..text.len() - 3]).unwrap();
        assert!(
            !inner
                .windows(8)
                .any(|w| w == &STANDARD.encode(KEY).as_bytes()[..8])
        );
        assert!(sc.text(&body).len() == body.len());
    }

    #[test]
    fn evm_signatures_are_recognised_anywhere() {
        let sig = format!("0x{}", "ab".repeat(65));
        let mut s = Secrets::new();
        let text = format!("a {sig} b 0x{} c x0x{}", "cd".repeat(32), "ef".repeat(65));
        assert!(s.learn_signatures(text.as_bytes()));
        assert_eq!(
            s.len(),
            1,
            "a 32-byte hash and a glued run are not signatures"
        );
        assert!(!s.scrubber().text(&text).contains(&sig));
    }

    #[test]
    fn solana_wallets_get_a_stand_in_of_the_same_length() {
        let addr = "FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z";
        let forms = wallet_forms(addr, 1);
        assert_eq!(forms.len(), 1);
        assert_eq!(forms[0].1.len(), addr.len());
        assert_ne!(forms[0].1, addr);
    }
}
