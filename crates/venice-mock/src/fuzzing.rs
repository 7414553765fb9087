//! Entry point for fuzzing the request pipeline (route matching, query parsing, auth
//! header parsing, `Content-Type` and JSON body checks, schema validation, handlers up to
//! the charge, response finishing) and for the fuzz regression tests. Not part of the
//! public API (hidden, unstable).

#[doc(hidden)]
pub mod __fuzz {
    use std::sync::{Arc, OnceLock};

    use bytes::Bytes;
    use http::{HeaderName, HeaderValue, Method, Request};
    use http_body_util::{BodyExt, Full};

    use crate::config::{DEFAULT_API_KEY, MockConfig};
    use crate::response::ApiError;
    use crate::router::{AuthMode, BodySlot, answer, policy, route};
    use crate::server::finish;
    use crate::state::AppState;

    /// What the mock answered to one fuzz input.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Outcome {
        /// The operation the request was routed to, if any.
        pub operation: Option<&'static str>,
        /// Status answered.
        pub status: u16,
    }

    struct Harness {
        rt: tokio::runtime::Runtime,
        state: Arc<AppState>,
    }

    /// One shared server state: no rate limit, error budget or per-route limit (they would
    /// fill up with the fuzzer's distinct keys and failures), and a negative API-key balance so that every paid request that
    /// passes validation stops at the charge with 402 instead of rendering images.
    fn harness() -> Option<&'static Harness> {
        static H: OnceLock<Option<Harness>> = OnceLock::new();
        H.get_or_init(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .ok()?;
            let config = MockConfig {
                api_key_balance: Some(-1.0),
                rate_limit: None,
                error_budget: None,
                route_limits: crate::config::RouteLimits::none(),
                max_body_bytes: 64 * 1024,
                ..MockConfig::default()
            };
            Some(Harness {
                rt,
                state: Arc::new(AppState::new(config)),
            })
        })
        .as_ref()
    }

    /// Parse a fuzz input laid out like an HTTP/1 request: `METHOD TARGET` on the first
    /// line, then `name: value` header lines up to an empty line, then the body. `None`
    /// when hyper itself would have refused the request line or a header.
    pub fn parse_request(data: &[u8]) -> Option<Request<Full<Bytes>>> {
        let mut lines = data.splitn(2, |b| *b == b'\n');
        let first = lines.next()?;
        let mut rest = lines.next().unwrap_or_default();
        let mut parts = first.splitn(2, |b| *b == b' ');
        let method = Method::from_bytes(parts.next()?).ok()?;
        let target = parts.next().unwrap_or(b"/").trim_ascii();
        let uri = http::Uri::try_from(target).ok()?;
        let mut builder = Request::builder().method(method).uri(uri);
        while let Some(nl) = rest.iter().position(|b| *b == b'\n') {
            let line = &rest[..nl];
            rest = &rest[nl + 1..];
            if line.is_empty() {
                break;
            }
            let colon = line.iter().position(|b| *b == b':')?;
            let name = HeaderName::from_bytes(&line[..colon]).ok()?;
            let value = HeaderValue::from_bytes(line[colon + 1..].trim_ascii()).ok()?;
            builder = builder.header(name, value);
        }
        builder.body(Full::new(Bytes::copy_from_slice(rest))).ok()
    }

    /// Run one fuzz input through the mock's pipeline and check its invariants:
    /// no panic; a request to an authenticated route without the valid key never
    /// succeeds (401, or a routing error); no paid request succeeds (the balance is
    /// negative); every answer of a routed request validates against the spec.
    ///
    /// `Ok(None)` when the input is not a request hyper would pass on; `Err` names a
    /// broken invariant.
    pub fn check_request(data: &[u8]) -> Result<Option<Outcome>, String> {
        let Some(h) = harness() else {
            return Ok(None);
        };
        let Some(req) = parse_request(data) else {
            return Ok(None);
        };
        let (parts, req_body) = req.into_parts();
        let method = parts.method;
        let path = parts.uri.path().to_owned();
        let query = parts.uri.query().map(str::to_owned);
        let headers = parts.headers;
        let operation = route(&method, &path).ok().map(|m| m.operation_id);
        let mut recorded_body = None;
        let mut slot = BodySlot(Some(req_body));
        let (status, response_headers, body) = h.rt.block_on(async {
            let reply = answer(
                &h.state,
                &headers,
                &mut slot,
                &method,
                &path,
                query.as_deref(),
                std::net::IpAddr::from([127, 0, 0, 1]),
                &mut recorded_body,
            )
            .await;
            let response = finish(reply, &headers);
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            (parts.status.as_u16(), parts.headers, body)
        });
        let outcome = Outcome { operation, status };
        let Some((operation_id, policy)) = operation.and_then(|id| Some((id, policy(id)?))) else {
            return if matches!(status, 404 | 405) {
                Ok(Some(outcome))
            } else {
                Err(format!("unrouted {method} {path} answered {status}"))
            };
        };
        let valid_key = crate::auth::bearer(&headers) == Some(DEFAULT_API_KEY)
            && crate::auth::siwx_header(&headers).is_none();
        if policy.auth == AuthMode::Required && !valid_key && status != 401 {
            return Err(format!(
                "{method} {path} without valid credentials answered {status}"
            ));
        }
        if policy.paid && (200..300).contains(&status) {
            return Err(format!(
                "{method} {path} succeeded although the balance is negative"
            ));
        }
        if let Err(problems) =
            crate::spec::validate_response(operation_id, status, &response_headers, &body)
        {
            return Err(format!(
                "{method} {path} → {status} breaks the spec: {problems:?} body {:?}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            ));
        }
        Ok(Some(outcome))
    }

    /// The instant the `siwx_header` fuzz target verifies at: one minute after the
    /// `Issued At` (2026-01-01T00:00:00Z) of the committed seed headers, so that valid
    /// seeds stay valid and the fuzzer explores past the lifetime checks.
    pub fn siwx_fuzz_now() -> std::time::SystemTime {
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600 + 60)
    }

    /// A verifier pinned to [`siwx_fuzz_now`], to run the auth layer deterministically.
    #[derive(Debug)]
    struct PinnedSiwx(crate::x402::DefaultSiwxVerifier);

    impl crate::x402::SiwxVerifier for PinnedSiwx {
        fn verify(&self, header_value: &str) -> Result<crate::x402::WalletIdentity, String> {
            self.0.verify_at(header_value, siwx_fuzz_now())
        }
    }

    /// One `SIGN-IN-WITH-X` fuzz input. Input starting with `{` is the header's JSON and
    /// is base64-encoded first (so the fuzzer mutates the message and signature, not
    /// base64); anything else is the raw header value. Runs the message parser on the
    /// text, `DefaultSiwxVerifier::verify_at` (default policy, at [`siwx_fuzz_now`]) on
    /// the value and the mock's auth layer on the value next to a valid Bearer key.
    ///
    /// Returns whether the header was accepted, or `Err` with the broken invariant:
    /// - an accepted header is rejected when replayed (its nonce is burned);
    /// - an accepted identity is the header's address on an accepted chain;
    /// - the auth layer decides on the SIWX header alone (never the Bearer key beside
    ///   it), agrees with the verifier, and rejects with 401 and an `X402_SIGN_IN_*` code.
    pub fn siwx_input(data: &[u8]) -> Result<bool, String> {
        use base64::Engine as _;

        let value: Vec<u8> = if data.first() == Some(&b'{') {
            base64::engine::general_purpose::STANDARD
                .encode(data)
                .into_bytes()
        } else {
            data.to_vec()
        };
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = crate::x402::SiwxMessage::parse(text);
        }
        let policy = crate::x402::SiwxPolicy::default();
        let verifier = crate::x402::DefaultSiwxVerifier::new(policy.clone());
        let accepted = match std::str::from_utf8(&value) {
            Ok(text) => match verifier.verify_at(text, siwx_fuzz_now()) {
                Ok(id) => {
                    if verifier.verify_at(text, siwx_fuzz_now()).is_ok() {
                        return Err("a replayed header was accepted".into());
                    }
                    let json: serde_json::Value = base64::engine::general_purpose::STANDARD
                        .decode(text.trim())
                        .ok()
                        .and_then(|raw| serde_json::from_slice(&raw).ok())
                        .unwrap_or_default();
                    let claimed = json["address"].as_str().unwrap_or_default();
                    if !id.address.eq_ignore_ascii_case(claimed) {
                        return Err(format!("accepted {id:?} for address {claimed:?}"));
                    }
                    let chain_ok = id
                        .chain_id
                        .strip_prefix("eip155:")
                        .and_then(|c| c.parse::<u64>().ok())
                        .is_some_and(|c| policy.evm_chain_ids.contains(&c))
                        || id
                            .chain_id
                            .strip_prefix("solana:")
                            .is_some_and(|c| policy.solana_chains.iter().any(|p| p == c));
                    if !chain_ok {
                        return Err(format!("accepted a chain outside the policy: {id:?}"));
                    }
                    true
                }
                Err(_) => false,
            },
            Err(_) => false,
        };
        let Ok(header) = HeaderValue::from_bytes(&value) else {
            return Ok(accepted);
        };
        let mut headers = http::HeaderMap::new();
        headers.insert("sign-in-with-x", header);
        if let Ok(bearer) = HeaderValue::from_str(&format!("Bearer {DEFAULT_API_KEY}")) {
            headers.insert(http::header::AUTHORIZATION, bearer);
        }
        let config = MockConfig {
            siwx_verifier: Some(Arc::new(PinnedSiwx(crate::x402::DefaultSiwxVerifier::new(
                policy,
            )))),
            ..MockConfig::default()
        };
        match crate::auth::authenticate(&config, &headers) {
            Ok(crate::auth::Principal::ApiKey(_)) => {
                Err("the Bearer key beside a SIWX header authenticated".into())
            }
            Ok(crate::auth::Principal::Wallet(_)) if accepted => Ok(true),
            Ok(crate::auth::Principal::Wallet(id)) => Err(format!(
                "the auth layer accepted {id:?}, the verifier did not"
            )),
            Err(ApiError(reply)) => {
                let body: serde_json::Value =
                    serde_json::from_slice(&reply.body).unwrap_or_default();
                if reply.status != http::StatusCode::UNAUTHORIZED
                    || !body["code"]
                        .as_str()
                        .is_some_and(|c| c.starts_with("X402_SIGN_IN_"))
                {
                    return Err(format!("rejected with {} {body}", reply.status));
                }
                if accepted {
                    return Err(format!("the verifier accepted, the auth layer said {body}"));
                }
                Ok(accepted)
            }
        }
    }
}
