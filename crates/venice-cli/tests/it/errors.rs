//! Errors a person can act on: the hint of each cause, one summarised line by default and
//! the body with `-v`, retries shown with `-v`, an unreadable catalogue (warning, or an
//! error with `--strict-validate`), the exit code of local I/O, the credential rule, and
//! a closed stdout.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use venice_mock::{Fault, MockConfig, MockServer};

/// A proxy's 404 page, longer than a screen line and than the 512 bytes the library once
/// kept: `-v` must still show all of it.
fn html() -> String {
    format!(
        "<html>\n<head><title>404 Not Found</title></head>\n<body>\n<h1>Not Found</h1>\n<!-- {} -->\n</body>\n</html>\n",
        "padding ".repeat(100)
    )
}

/// A server on 127.0.0.1 that answers every request with an HTML 404 (a wrong base
/// URL, or a server without the operation); counts POSTs.
fn html_404() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1", listener.local_addr().unwrap());
    let posts = Arc::new(AtomicUsize::new(0));
    let counted = posts.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                let lower = line.to_ascii_lowercase();
                if lower.starts_with("post ") {
                    counted.fetch_add(1, Ordering::SeqCst);
                }
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
                line.clear();
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let page = html();
            let _ = write!(
                stream,
                "HTTP/1.1 404 Not Found\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    (url, posts)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

#[test]
fn a_404_without_a_model_code_points_at_the_base_url_in_one_line() {
    let (url, posts) = html_404();
    let dir = tempfile::tempdir().unwrap();
    let hint = format!(
        "hint: the server at {url} has no such endpoint: check --base-url / VENICE_BASE_URL \
         (it ends in /api/v1), or this server does not offer the operation"
    );
    let size = html().len();
    assert!(size > 512);
    let summary = format!("API error 404 (no error code): 404 Not Found ({size}-byte body)");

    // `balance` against a server without the x402 routes.
    let (code, _, stderr) = run(bin()
        .env(
            "VENICE_WALLET_PRIVATE_KEY",
            "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
        )
        .args(["--base-url", &url, "balance"]));
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            format!("error: {summary}").as_str(),
            hint.as_str(),
            "(run with -v for details)"
        ]
    );
    assert!(!stderr.contains("list the image models"), "{stderr}");

    // `generate`: the unreadable catalogue is a visible warning, then the 404.
    let mut c = bin();
    c.env("VENICE_API_KEY", "k").args([
        "--base-url",
        &url,
        "generate",
        "x",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let (code, _, stderr) = run(&mut c);
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(
        first_line(&stderr),
        format!(
            "warning: cannot read the model catalogue ({summary}); sending without checking \
             the request against the model's limits (--strict-validate refuses instead)"
        )
    );
    assert_eq!(stderr.lines().nth(1).unwrap(), format!("error: {summary}"));
    assert!(
        !stderr.contains("<h1>"),
        "no HTML body by default: {stderr}"
    );
    assert_eq!(posts.load(Ordering::SeqCst), 1);

    // -v: the body, the details line ends the output, no "run with -v".
    let (code, _, stderr) = run(c.arg("-v"));
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains(&format!("  body ({size}-byte):\n    <html>\n")),
        "{stderr}"
    );
    assert!(
        stderr.contains("    </html>\n"),
        "the whole page, to its end: {stderr}"
    );
    assert!(stderr.contains("    <h1>Not Found</h1>\n"), "{stderr}");
    let last = stderr.lines().last().unwrap();
    assert!(last.starts_with("  details: Api {"), "{stderr}");
    assert!(stderr.ends_with("}\n"), "{stderr:?}");
    assert!(!stderr.contains("(run with -v"), "{stderr}");

    // --strict-validate: an error before anything is spent.
    let before = posts.load(Ordering::SeqCst);
    let (code, _, stderr) = run(bin().env("VENICE_API_KEY", "k").args([
        "--base-url",
        &url,
        "--strict-validate",
        "generate",
        "x",
        "--out",
        dir.path().to_str().unwrap(),
    ]));
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(
        first_line(&stderr),
        format!(
            "error: cannot read the model catalogue, and --strict-validate asks for it \
             ({summary}); nothing was sent"
        )
    );
    assert_eq!(posts.load(Ordering::SeqCst), before, "nothing sent");
    let (code, _, stderr) =
        run(bin().args(["--offline", "--strict-validate", "--no-validate", "models"]));
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn an_unknown_model_is_the_one_404_that_points_at_the_model_list() {
    let rt = rt();
    let server = rt
        .block_on(MockServer::start(MockConfig::default()))
        .unwrap();
    let (code, _, stderr) =
        run(against(&server).args(["--no-validate", "generate", "x", "--model", "no-such-model"]));
    assert_eq!(code, 3, "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines[0].starts_with("error: API error 404 MODEL_NOT_FOUND: "),
        "{stderr}"
    );
    assert_eq!(
        lines[1],
        "hint: list the image models with `venice-image models`"
    );
}

/// On an edit, a 404 is an input image the provider could not fetch (not a wrong base
/// URL), and an unknown model is a 400 "Invalid model id" that points at the edit models.
#[test]
fn an_edit_404_is_an_unreachable_input_and_an_unknown_edit_model_a_400() {
    let rt = rt();
    let server = rt
        .block_on(MockServer::start(MockConfig::default()))
        .unwrap();
    let (code, _, stderr) = run(against(&server).args([
        "edit",
        "make it dusk",
        "https://images.example.com/harbour.png",
    ]));
    assert_eq!(code, 3, "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines[0].starts_with("error: API error 404"), "{stderr}");
    assert_eq!(
        lines[1],
        "hint: the server could not fetch an input image: check that each image URL is public \
         and reachable from Venice's network, or pass the file instead"
    );
    let (code, _, stderr) = run(against(&server).args([
        "--no-validate",
        "edit",
        "x",
        "https://images.example.com/harbour.png",
        "--model",
        "no-such-edit",
    ]));
    assert_eq!(code, 3, "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines[0].starts_with("error: API error 400 INVALID_MODEL: "),
        "{stderr}"
    );
    assert_eq!(
        lines[1],
        "hint: the edit models are those of type inpaint in `venice-image models --json --as-sent`"
    );
}

#[test]
fn verbose_shows_each_retry_with_attempt_status_and_wait() {
    let rt = rt();
    let mut config = MockConfig::default();
    config.faults.queue = vec![Fault::Status429, Fault::Status429];
    // `Retry-After` is whole seconds: the mock's default of 1 s.
    config.faults.retry_after = Duration::from_secs(1);
    let server = rt.block_on(MockServer::start(config)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(against(&server).args([
        "-v",
        "generate",
        "x",
        "--size",
        "256x256",
        "--out",
        dir.path().to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{stderr}");
    let retries: Vec<&str> = stderr.lines().filter(|l| l.starts_with("retry:")).collect();
    assert_eq!(retries.len(), 2, "{stderr}");
    for (i, line) in retries.iter().enumerate() {
        let head = format!("retry: attempt {} answered 429 (rate limited", i + 1);
        assert!(line.starts_with(&head), "{line}");
        assert!(line.ends_with("trying again in 1.0 s"), "{line}");
    }
    // Without -v: quiet.
    server.push_faults(vec![Fault::Status429]);
    let (code, _, stderr) = run(against(&server).args([
        "generate",
        "x",
        "--size",
        "256x256",
        "--out",
        dir.path().to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr, "");
}

#[test]
fn an_output_path_that_cannot_be_written_is_exit_6() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let out = file.join("sub");
    let (code, _, stderr) =
        run(bin().args(["--offline", "generate", "x", "--out", out.to_str().unwrap()]));
    assert_eq!(code, 6, "{stderr}");
    assert!(
        first_line(&stderr).starts_with(&format!("error: cannot create {}: ", out.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: check that --out names a directory"),
        "{stderr}"
    );
}

#[test]
fn credential_values_follow_one_rule_and_never_show() {
    let rt = rt();
    let server = rt
        .block_on(MockServer::start(MockConfig::default()))
        .unwrap();
    let cases: [(&[(&str, &str)], &str); 6] = [
        (
            &[("VENICE_API_KEY", "   ")],
            "error: VENICE_API_KEY is set but blank; give it a value or unset it",
        ),
        (
            &[("VENICE_API_KEY", "k"), ("VENICE_BASE_URL", "  ")],
            "error: VENICE_BASE_URL is set but blank; give it a value or unset it",
        ),
        (
            &[("VENICE_API_KEY", "sk-secret\u{a0}value")],
            "error: VENICE_API_KEY contains non-ASCII characters (a copy-paste artefact such as a typographic quote or a non-breaking space?); it was not sent",
        ),
        (
            &[("VENICE_SIWX_HEADER", "é")],
            "error: VENICE_SIWX_HEADER contains non-ASCII characters (a copy-paste artefact such as a typographic quote or a non-breaking space?); it was not sent",
        ),
        (
            &[
                ("VENICE_API_KEY", "sk-secret"),
                ("VENICE_SOLANA_KEYPAIR", "kp-secret"),
            ],
            "error: ambiguous credentials: both VENICE_API_KEY and VENICE_SOLANA_KEYPAIR are set; set exactly one",
        ),
        (
            &[
                ("VENICE_API_KEY", "sk-secret"),
                ("VENICE_WALLET_PRIVATE_KEY", "0xsecret"),
                ("VENICE_SIWX_HEADER", "hdr-secret"),
            ],
            "error: ambiguous credentials: VENICE_API_KEY, VENICE_WALLET_PRIVATE_KEY and VENICE_SIWX_HEADER are set; set exactly one",
        ),
    ];
    for (vars, want) in cases {
        let mut c = bin();
        c.args(["--base-url", &server.base_url(), "models"]);
        for (k, v) in vars {
            c.env(k, v);
        }
        if !vars.iter().any(|(k, _)| *k == "VENICE_BASE_URL") {
            c.env_remove("VENICE_BASE_URL");
        }
        let (code, stdout, stderr) = run(&mut c);
        assert_eq!(code, 2, "{vars:?}: {stderr}");
        assert_eq!(first_line(&stderr), want, "{vars:?}");
        assert!(!stderr.contains("secret") && !stdout.contains("secret"));
    }
    // Nothing reached the server.
    assert!(server.requests().is_empty());
    // A blank --base-url flag, the same way.
    let (code, _, stderr) =
        run(bin()
            .env("VENICE_API_KEY", "k")
            .args(["--base-url", " ", "models"]));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        first_line(&stderr),
        "error: --base-url / VENICE_BASE_URL is set but blank; give it a value or unset it"
    );
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let mut child = bin()
        .args(["--offline", "models"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before the first line is printed (like `| head -0`).
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr, "");
}
