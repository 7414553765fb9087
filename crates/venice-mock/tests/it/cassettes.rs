//! Replay and check of cassettes (no recorder needed: the cassettes are written here
//! from real answers of the mock, through the cassette writer).
#![allow(clippy::unwrap_used, missing_docs)]

use crate::common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::KEY;
use serde_json::{Value, json};
use venice_mock::MockServer;
use venice_mock::cassette::{
    Body, Cassette, CassetteWriter, Exchange, Header, INLINE_MAX, Message, Response, rfc3339,
    sha256_hex,
};
use venice_mock::replay::ReplayMiss;

/// A scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "venice-mock-cassettes-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One request to send to the mock and record.
struct Call {
    method: &'static str,
    path: String,
    body: Option<Value>,
}

fn post(path: &str, body: Value) -> Call {
    Call {
        method: "POST",
        path: path.to_owned(),
        body: Some(body),
    }
}

fn get(path: &str) -> Call {
    Call {
        method: "GET",
        path: path.to_owned(),
        body: None,
    }
}

/// Sends each call to a fresh mock and writes request and answer as exchanges, the
/// way a recorder would (without scrubbing: the mock's key is public).
async fn record_by_hand(dir: &Path, calls: Vec<Call>) -> PathBuf {
    let server = MockServer::start(venice_mock::MockConfig::default())
        .await
        .unwrap();
    let path = dir.join("hand.cassette");
    let mut writer = CassetteWriter::create(&path, &Header::new(&server.base_url())).unwrap();
    let http = common::client();
    for (seq, call) in calls.into_iter().enumerate() {
        let seq = seq as u64;
        let url = format!("http://{}{}", server.addr(), call.path);
        let at = SystemTime::now();
        let mut request = http
            .request(call.method.parse().unwrap(), &url)
            .header("authorization", format!("Bearer {KEY}"));
        let mut headers = vec![(
            "authorization".to_owned(),
            "Bearer <scrubbed:api-key>".to_owned(),
        )];
        let mut body = None;
        if let Some(b) = &call.body {
            let text = b.to_string();
            request = request
                .header("content-type", "application/json")
                .body(text.clone());
            headers.push(("content-type".to_owned(), "application/json".to_owned()));
            body = Some(Body::inline(text.as_bytes(), true));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let response_headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        let json = response_headers
            .iter()
            .any(|(n, v)| n == "content-type" && v.contains("json"));
        let bytes = response.bytes().await.unwrap();
        let response_body = if bytes.len() > INLINE_MAX {
            let (name, file) = writer.side_file(seq, "response", "bin").unwrap();
            std::fs::write(&file, &bytes).unwrap();
            Body::side_file(name, bytes.len() as u64, Some(sha256_hex(&bytes)))
        } else {
            Body::inline(&bytes, json)
        };
        let (path_only, query) = match call.path.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (call.path.clone(), None),
        };
        writer
            .append(&Exchange {
                seq,
                at: rfc3339(at),
                duration_ms: 1,
                request: Message {
                    method: call.method.to_owned(),
                    path: path_only,
                    query,
                    headers,
                    body,
                },
                response: Some(Response {
                    status,
                    headers: response_headers,
                    body: (!bytes.is_empty()).then_some(response_body),
                }),
                error: None,
            })
            .unwrap();
    }
    path
}

fn generate_body(prompt: &str) -> Value {
    json!({"model": "venice-sd35", "prompt": prompt, "width": 256, "height": 256})
}

async fn send(
    http: &reqwest::Client,
    base: &str,
    call: &Call,
    key: &str,
) -> (u16, reqwest::header::HeaderMap, bytes::Bytes) {
    let url = format!("{base}{}", call.path.trim_start_matches("/api/v1"));
    let mut request = http
        .request(call.method.parse().unwrap(), &url)
        .header("authorization", format!("Bearer {key}"));
    if let Some(b) = &call.body {
        request = request
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap())
}

fn recorded_body(cassette: &Cassette, i: usize) -> bytes::Bytes {
    cassette.exchanges[i]
        .response
        .as_ref()
        .unwrap()
        .body
        .as_ref()
        .unwrap()
        .load(cassette.dir())
        .unwrap()
}

/// Two equal generations, the catalogue, a large binary image, an empty prompt (a 400).
fn ordered_calls() -> Vec<Call> {
    vec![
        post("/api/v1/image/generate", generate_body("a cat")),
        post("/api/v1/image/generate", generate_body("a cat")),
        get("/api/v1/models?type=image"),
        post(
            "/api/v1/image/generate",
            json!({"model": "venice-sd35", "prompt": "big", "width": 1024, "height": 1024, "return_binary": true, "format": "png"}),
        ),
        post("/api/v1/image/generate", generate_body("")),
    ]
}

#[tokio::test]
async fn replay_answers_byte_for_byte_in_recorded_order() {
    let dir = scratch("order");
    let path = record_by_hand(&dir, ordered_calls()).await;
    let cassette = Cassette::open(&path).unwrap();
    // The mock seeds each call anew: two calls with one body answered different images.
    assert_ne!(recorded_body(&cassette, 0), recorded_body(&cassette, 1));
    assert!(
        cassette.exchanges[3]
            .response
            .as_ref()
            .unwrap()
            .body
            .as_ref()
            .unwrap()
            .file
            .is_some()
    );

    let replay = MockServer::replay(&path).await.unwrap();
    let http = common::client();
    let base = replay.base_url();
    // The same calls with any key: credentials are matched by kind, never verified.
    let calls = ordered_calls();
    for (i, call) in calls.iter().enumerate() {
        let (status, headers, body) = send(&http, &base, call, "any-key").await;
        let recorded = cassette.exchanges[i].response.as_ref().unwrap();
        assert_eq!(status, recorded.status, "call {i}");
        assert_eq!(body, recorded_body(&cassette, i), "call {i}");
        // Headers come back in their recorded order (lengths and dates are the server's).
        let names: Vec<&str> = headers
            .keys()
            .map(|k| k.as_str())
            .filter(|n| !["content-length", "date"].contains(n))
            .collect();
        let recorded_names: Vec<&str> = recorded
            .headers
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| !["content-length", "date"].contains(n))
            .collect();
        assert_eq!(names, recorded_names, "call {i}");
    }
    replay.assert_all_used();

    // A third identical call: both recordings are used.
    let (status, _, body) = send(&http, &base, &calls[0], "k").await;
    assert_eq!(status, 501);
    let miss: ReplayMiss = serde_json::from_slice(&body).unwrap();
    assert_eq!(miss.code, "REPLAY_EXHAUSTED");
    assert!(miss.error.contains("recorded 2 time(s)"), "{}", miss.error);
    assert_eq!(replay.misses().len(), 1);
}

#[tokio::test]
async fn an_edited_request_gets_a_501_naming_the_nearest_exchange_and_the_differences() {
    let dir = scratch("edited");
    let path = record_by_hand(
        &dir,
        vec![
            get("/api/v1/image/styles"),
            post(
                "/api/v1/image/generate",
                generate_body("a lighthouse at dusk"),
            ),
        ],
    )
    .await;
    let replay = MockServer::replay(&path).await.unwrap();
    let http = common::client();
    let edited = post(
        "/api/v1/image/generate",
        json!({"model": "venice-sd35", "prompt": "a lighthouse at dawn", "width": 512, "height": 256}),
    );
    let (status, headers, body) = send(&http, &replay.base_url(), &edited, "k").await;
    assert_eq!(status, 501);
    assert_eq!(headers["content-type"], "application/json");
    let miss: ReplayMiss = serde_json::from_slice(&body).unwrap();
    assert_eq!(miss.code, "REPLAY_NO_MATCH");
    assert_eq!(miss.request.operation, "generateImage");
    let nearest = miss.nearest.unwrap();
    assert_eq!((nearest.seq, nearest.line, nearest.used), (1, 3, false));
    let fields: Vec<(&str, &Value, &Value)> = miss
        .differences
        .iter()
        .map(|d| (d.field.as_str(), &d.recorded, &d.received))
        .collect();
    assert_eq!(
        fields,
        [
            (
                "body.prompt",
                &json!("a lighthouse at dusk"),
                &json!("a lighthouse at dawn")
            ),
            ("body.width", &json!(256), &json!(512)),
        ]
    );
    assert!(
        miss.error.contains("exchange 1 on line 3") && miss.error.contains("body.width"),
        "{}",
        miss.error
    );
    // A request with no credentials differs in kind.
    let anonymous = http
        .get(format!("{}/image/styles", replay.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 501);
    let miss: ReplayMiss = anonymous.json().await.unwrap();
    assert_eq!(miss.differences[0].field, "credentials");
    assert_eq!(miss.differences[0].recorded, "api-key");
    assert_eq!(miss.differences[0].received, "none");
}

/// A cassette of hand-made exchanges recorded `ago` before now.
fn write_cassette(
    dir: &Path,
    ago: Duration,
    exchanges: Vec<(Message, Option<Response>, Option<&str>)>,
) -> PathBuf {
    let path = dir.join("made.cassette");
    let mut writer =
        CassetteWriter::create(&path, &Header::new("http://upstream.test/api/v1")).unwrap();
    let at = SystemTime::now() - ago;
    for (seq, (request, response, error)) in exchanges.into_iter().enumerate() {
        writer
            .append(&Exchange {
                seq: seq as u64,
                at: rfc3339(at),
                duration_ms: 1,
                request,
                response,
                error: error.map(str::to_owned),
            })
            .unwrap();
    }
    path
}

fn message(method: &str, path: &str) -> Message {
    Message {
        method: method.to_owned(),
        path: path.to_owned(),
        query: None,
        headers: vec![(
            "authorization".to_owned(),
            "Bearer <scrubbed:api-key>".to_owned(),
        )],
        body: None,
    }
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test]
async fn absolute_times_move_to_the_replay_clock() {
    let dir = scratch("times");
    let hour = Duration::from_secs(3600);
    let then = SystemTime::now() - hour;
    let reset_s = unix_secs(then) + 30;
    let reset_ms = (unix_secs(then) + 20) * 1000;
    let issued = rfc3339(then);
    let body = json!({"error": "Payment required", "code": "PAYMENT_REQUIRED",
        "siwxChallenge": {"info": {"nonce": "n1", "issuedAt": issued}}, "created": unix_secs(then)})
    .to_string();
    let path = write_cassette(
        &dir,
        hour,
        vec![(
            message("GET", "/api/v1/image/styles"),
            Some(Response {
                status: 402,
                headers: vec![
                    ("content-type".to_owned(), "application/json".to_owned()),
                    ("x-ratelimit-reset-requests".to_owned(), reset_s.to_string()),
                    ("x-ratelimit-resets".to_owned(), reset_ms.to_string()),
                    (
                        "date".to_owned(),
                        "Mon, 01 Jan 2001 00:00:00 GMT".to_owned(),
                    ),
                ],
                body: Some(Body::inline(body.as_bytes(), true)),
            }),
            None,
        )],
    );
    let replay = MockServer::replay(&path).await.unwrap();
    let response = common::client()
        .get(format!("{}/image/styles", replay.base_url()))
        .bearer_auth("k")
        .send()
        .await
        .unwrap();
    let now = unix_secs(SystemTime::now());
    let header = |n: &str| {
        response.headers()[n]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    let moved_s = header("x-ratelimit-reset-requests");
    assert!(moved_s.abs_diff(now + 30) <= 2, "{moved_s} vs {now}");
    let moved_ms = header("x-ratelimit-resets");
    assert!((moved_ms / 1000).abs_diff(now + 20) <= 2, "{moved_ms}");
    assert_ne!(response.headers()["date"], "Mon, 01 Jan 2001 00:00:00 GMT");
    let v: Value = response.json().await.unwrap();
    let issued_now =
        humantime::parse_rfc3339(v["siwxChallenge"]["info"]["issuedAt"].as_str().unwrap()).unwrap();
    assert!(unix_secs(issued_now).abs_diff(now) <= 2);
    // Informational times stay as recorded.
    assert_eq!(v["created"], unix_secs(then));
}

#[tokio::test]
async fn unanswered_and_cut_off_exchanges_replay_the_same_way() {
    let dir = scratch("broken");
    let mut cut = Body::inline(b"{\"id\":\"x\",\"images\":[\"iVBOR", true);
    cut.truncated = true;
    let path = write_cassette(
        &dir,
        Duration::ZERO,
        vec![
            (
                message("GET", "/api/v1/models"),
                None,
                Some("the upstream did not answer: connection refused"),
            ),
            (
                message("GET", "/api/v1/image/styles"),
                Some(Response {
                    status: 200,
                    headers: vec![
                        ("content-type".to_owned(), "application/json".to_owned()),
                        ("content-length".to_owned(), "5000".to_owned()),
                    ],
                    body: Some(cut),
                }),
                Some("response body: connection reset"),
            ),
        ],
    );
    let replay = MockServer::replay(&path).await.unwrap();
    let http = common::client();
    let r = http
        .get(format!("{}/models", replay.base_url()))
        .bearer_auth("k")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "UPSTREAM_UNREACHABLE");
    assert!(v["error"].as_str().unwrap().contains("connection refused"));
    let r = http
        .get(format!("{}/image/styles", replay.base_url()))
        .bearer_auth("k")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.is_err(), "a cut-off body must fail to read");
}

#[tokio::test]
async fn check_passes_a_clean_recording_and_names_a_planted_field_and_status() {
    let dir = scratch("check");
    let path = record_by_hand(
        &dir,
        vec![
            post("/api/v1/image/generate", generate_body("a cat")),
            get("/api/v1/image/styles"),
            get("/api/v1/models?type=image"),
            get("/api/v1/billing/balance"),
        ],
    )
    .await;
    let bin = env!("CARGO_BIN_EXE_venice-mock");
    let out = std::process::Command::new(bin)
        .arg("check")
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("all 4 exchanges agree"), "{stdout}");

    // Plant an undocumented field in the generation and an undocumented status and
    // header on the styles answer.
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut generation: Value = serde_json::from_str(&lines[1]).unwrap();
    let body = generation["response"]["body"]["json"]
        .as_object_mut()
        .unwrap();
    body.insert("surpriseField".to_owned(), json!(1));
    lines[1] = generation.to_string();
    let mut styles: Value = serde_json::from_str(&lines[2]).unwrap();
    styles["response"]["status"] = json!(418);
    lines[2] = styles.to_string();
    let mut models: Value = serde_json::from_str(&lines[3]).unwrap();
    models["response"]["headers"]
        .as_array_mut()
        .unwrap()
        .push(json!(["x-venice-new-header", "1"]));
    lines[3] = models.to_string();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();

    let out = std::process::Command::new(bin)
        .arg("check")
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("surpriseField") && stdout.contains("unknown field"),
        "{stdout}"
    );
    assert!(
        stdout.contains("418") && stdout.contains("undocumented status"),
        "{stdout}"
    );
    assert!(
        stdout.contains("x-venice-new-header") && stdout.contains("undocumented header"),
        "{stdout}"
    );

    let out = std::process::Command::new(bin)
        .args(["check", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<(&str, u64, &str)> = report["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap(),
                d["line"].as_u64().unwrap(),
                d["detail"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    assert_eq!((kinds[0].0, kinds[0].1), ("unknown_field", 2));
    assert!(kinds[0].2.contains("surpriseField"));
    assert_eq!((kinds[1].0, kinds[1].1), ("undocumented_status", 3));
    assert_eq!(kinds[2], ("undocumented_header", 4, "x-venice-new-header"));

    // Not a cassette: exit 2 with the reason.
    std::fs::write(dir.join("bad.cassette"), "hello\n").unwrap();
    let out = std::process::Command::new(bin)
        .arg("check")
        .arg(dir.join("bad.cassette"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a cassette header"));
}

#[test]
fn the_record_subcommand_explains_what_it_cannot_do() {
    let dir = scratch("record-cli");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_venice-mock"))
        .args(["record", "--upstream", "ftp://nowhere.test", "--out"])
        .arg(dir.join("x.cassette"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    if cfg!(feature = "record") {
        assert!(
            stderr.contains("is not an http:// or https:// URL"),
            "{stderr}"
        );
    } else {
        assert!(stderr.contains("--features record"), "{stderr}");
    }
}

#[tokio::test]
async fn equal_requests_get_their_answers_in_arrival_order_not_line_order() {
    let dir = scratch("seq");
    let path = dir.join("out-of-order.cassette");
    let mut writer =
        CassetteWriter::create(&path, &Header::new("http://upstream.test/api/v1")).unwrap();
    // The second request's (short) answer completed first, so its line comes first.
    for (seq, status) in [(1u64, 402u16), (0, 200)] {
        let body = json!({"answer": seq}).to_string();
        writer
            .append(&Exchange {
                seq,
                at: rfc3339(SystemTime::now()),
                duration_ms: 1,
                request: message("GET", "/api/v1/image/styles"),
                response: Some(Response {
                    status,
                    headers: vec![("content-type".to_owned(), "application/json".to_owned())],
                    body: Some(Body::inline(body.as_bytes(), true)),
                }),
                error: None,
            })
            .unwrap();
    }
    let replay = MockServer::replay(&path).await.unwrap();
    let http = common::client();
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let r = http
            .get(format!("{}/image/styles", replay.base_url()))
            .bearer_auth("k")
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [200, 402]);
    replay.assert_all_used();
}
