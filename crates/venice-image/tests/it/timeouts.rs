//! A hostile or broken server cannot hang a caller: a server that accepts and never
//! answers, one that drips its headers, and one that drips its body all end in
//! `Error::Timeout` within `ClientBuilder::timeout` (plus scheduling tolerance), and a
//! timed-out call is not re-sent by the default policy (it may have been charged).
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use venice_image::{Auth, Client, Error, GenerateRequest, RetryPolicy, Size, TimeoutPhase};

const TIMEOUT: Duration = Duration::from_millis(600);
const TOLERANCE: Duration = Duration::from_millis(900);

#[derive(Clone, Copy)]
enum Behaviour {
    /// Read the request, then say nothing.
    Silent,
    /// Send the status line, then one header byte every 100 ms.
    DripHeaders,
    /// Send complete headers (`Content-Length: 100000`), then one body byte every 100 ms.
    DripBody,
}

/// A server with the given behaviour; counts connections that sent a request.
async fn hostile(behaviour: Behaviour) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v1", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let count = requests.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let count = count.clone();
            tokio::spawn(serve(stream, behaviour, count));
        }
    });
    (url, requests)
}

async fn serve(mut stream: TcpStream, behaviour: Behaviour, count: Arc<AtomicUsize>) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut seen = Vec::new();
    // Read until the end of the headers (the body, if any, is left unread).
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    count.fetch_add(1, Ordering::SeqCst);
    match behaviour {
        Behaviour::Silent => tokio::time::sleep(Duration::from_secs(3600)).await,
        Behaviour::DripHeaders => {
            let head: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n";
            if stream.write_all(&head[..17]).await.is_err() {
                return;
            }
            for b in head[17..].iter().cycle() {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if stream.write_all(&[*b]).await.is_err() {
                    return;
                }
            }
        }
        Behaviour::DripBody => {
            let head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{\"images\":[\"";
            if stream.write_all(head).await.is_err() {
                return;
            }
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if stream.write_all(b"A").await.is_err() {
                    return;
                }
            }
        }
    }
}

fn client(url: &str, validate: bool, policy: RetryPolicy) -> Client {
    Client::builder()
        .base_url(url)
        .auth(Auth::api_key("timeout-test-key"))
        .timeout(TIMEOUT)
        .retry(policy)
        .model_validation(validate)
        .build()
        .unwrap()
}

fn request() -> GenerateRequest {
    GenerateRequest::builder("venice-sd35", "never answered")
        .size(Size::Pixels {
            width: 64,
            height: 64,
        })
        .build()
        .unwrap()
}

async fn assert_times_out(behaviour: Behaviour, validate: bool, phase: TimeoutPhase) {
    let (url, requests) = hostile(behaviour).await;
    let c = client(&url, validate, RetryPolicy::default());
    let t = Instant::now();
    let e = c.generate(&request()).await.unwrap_err();
    let elapsed = t.elapsed();
    assert!(
        matches!(e, Error::Timeout { phase: p, .. } if p == phase),
        "{e:?}"
    );
    assert!(e.is_timeout());
    assert!(elapsed >= TIMEOUT, "{elapsed:?}");
    assert!(elapsed < TIMEOUT + TOLERANCE, "{elapsed:?}");
    // The default policy does not re-send a request that timed out after sending.
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_silent_server_times_out_within_the_configured_timeout() {
    assert_times_out(Behaviour::Silent, false, TimeoutPhase::Headers).await;
}

#[tokio::test]
async fn a_silent_server_times_out_once_even_with_model_validation() {
    // The catalogue fetch times out first; the call fails then instead of spending a
    // second timeout on the generation.
    assert_times_out(Behaviour::Silent, true, TimeoutPhase::Headers).await;
}

#[tokio::test]
async fn dripped_headers_time_out() {
    assert_times_out(Behaviour::DripHeaders, false, TimeoutPhase::Headers).await;
}

#[tokio::test]
async fn a_dripped_body_times_out() {
    assert_times_out(Behaviour::DripBody, false, TimeoutPhase::Body).await;
}

#[tokio::test]
async fn opted_in_timeouts_are_retried_within_max_attempts() {
    let (url, requests) = hostile(Behaviour::Silent).await;
    let policy = RetryPolicy::builder()
        .max_attempts(2)
        .base_delay(Duration::from_millis(10))
        .retry_server_errors(true)
        .build();
    let t = Instant::now();
    let e = client(&url, false, policy)
        .generate(&request())
        .await
        .unwrap_err();
    assert!(e.is_timeout(), "{e:?}");
    assert_eq!(requests.load(Ordering::SeqCst), 2);
    assert!(t.elapsed() < 2 * TIMEOUT + TOLERANCE, "{:?}", t.elapsed());
}
