//! Headless Chromium driven over the DevTools protocol, for tests that look at a page
//! as a person would: Debian's `chromium` (installed by `.ci/run`), no crate.
//!
//! The protocol runs over `--remote-debugging-pipe`: Chromium reads commands from fd 3
//! and writes answers and events to fd 4, each a JSON message ended by a NUL byte. A
//! `sh` redirection hands it our stdin pipe as fd 3 and our stdout pipe as fd 4 (no
//! unsafe code, no WebSocket). A missing browser fails the test with how to install it:
//! it never passes silently.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// How long one protocol command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The Chromium binary: `VENICE_TEST_CHROMIUM`, else the first of the usual names that
/// runs. Panics, saying how to install it, when there is none.
pub fn binary() -> String {
    let candidates: Vec<String> = match std::env::var("VENICE_TEST_CHROMIUM") {
        Ok(v) if !v.trim().is_empty() => vec![v],
        _ => ["chromium", "chromium-browser", "google-chrome"]
            .map(String::from)
            .to_vec(),
    };
    for c in &candidates {
        if Command::new(c)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            return c.clone();
        }
    }
    panic!(
        "headless Chromium is needed by this test and none of {candidates:?} runs. Install it \
         (Debian: `apt-get install -y chromium`; `.ci/run` does) or point VENICE_TEST_CHROMIUM \
         at a Chromium or Chrome binary. The test fails rather than pass without looking."
    );
}

/// A running headless Chromium with one page attached.
///
/// The page lives in its own browser context whose every connection goes to the proxy
/// given to [`Chromium::start`]; the browser's own background traffic (time queries,
/// sign-in and update checks that some versions make despite the flags) goes to another
/// local proxy, so the first counts exactly what pages ask for, and nothing reaches the
/// network either way.
pub struct Chromium {
    child: Child,
    input: ChildStdin,
    messages: Receiver<Value>,
    backlog: VecDeque<Value>,
    next_id: u64,
    session: String,
    /// Messages of the JavaScript dialogs (`alert`, `confirm`…) the page opened.
    pub dialogs: Vec<String>,
    /// URLs the page asked for (`Network.requestWillBeSent`).
    pub requests: Vec<String>,
    /// Uncaught exceptions and console errors of the page.
    pub errors: Vec<String>,
    log: PathBuf,
    _profile: tempfile::TempDir,
    _background: CountingProxy,
}

impl Chromium {
    /// Start Chromium headless with a fresh profile and a `width` × `height` page whose
    /// every connection goes through `proxy` (`127.0.0.1:PORT`, loopback included).
    pub fn start(proxy: &str, width: u32, height: u32) -> Chromium {
        let program = binary();
        let background = CountingProxy::start();
        let profile = tempfile::tempdir().unwrap();
        let log = profile.path().join("chromium.log");
        let mut cmd = Command::new("sh");
        // fd 3 = our stdin pipe, fd 4 = our stdout pipe; Chromium's own stdout is logged.
        cmd.arg("-c")
            .arg("exec \"$0\" \"$@\" 3<&0 4>&1 0</dev/null 1>&2")
            .arg(&program)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args([
                "--disable-client-side-phishing-detection",
                "--disable-default-apps",
                "--disable-domain-reliability",
                "--no-pings",
                "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate",
            ])
            .arg(format!("--proxy-server=http://{}", background.addr))
            .arg("--proxy-bypass-list=<-loopback>")
            .arg(format!("--window-size={width},{height}"))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        let mut child = cmd.spawn().unwrap();
        let input = child.stdin.take().unwrap();
        let output = child.stdout.take().unwrap();
        let (tx, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(output);
            loop {
                let mut buf = Vec::new();
                match reader.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        buf.pop_if(|b| *b == 0);
                        if let Ok(v) = serde_json::from_slice::<Value>(&buf)
                            && tx.send(v).is_err()
                        {
                            break;
                        }
                    }
                }
            }
        });
        let mut browser = Chromium {
            child,
            input,
            messages,
            backlog: VecDeque::new(),
            next_id: 0,
            session: String::new(),
            dialogs: Vec::new(),
            requests: Vec::new(),
            errors: Vec::new(),
            log,
            _profile: profile,
            _background: background,
        };
        // By default loopback bypasses a proxy; here nothing does.
        let context = browser.browser_call(
            "Target.createBrowserContext",
            json!({"proxyServer": format!("http://{proxy}"), "proxyBypassList": "<-loopback>"}),
        );
        let target = browser.browser_call(
            "Target.createTarget",
            json!({"url": "about:blank", "browserContextId": context["browserContextId"]}),
        );
        let target_id = target["targetId"].as_str().unwrap().to_owned();
        let attached = browser.browser_call(
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        );
        browser.session = attached["sessionId"].as_str().unwrap().to_owned();
        for domain in ["Page.enable", "Runtime.enable", "Network.enable"] {
            browser.call(domain, json!({}));
        }
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        );
        browser
    }

    fn send(&mut self, method: &str, params: Value, session: Option<&str>) -> u64 {
        self.next_id += 1;
        let mut msg = json!({"id": self.next_id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.input.write_all(&bytes).unwrap();
        self.input.flush().unwrap();
        self.next_id
    }

    /// The next message (answering dialogs and noting requests on the way).
    fn next_message(&mut self, deadline: Instant) -> Value {
        if let Some(m) = self.backlog.pop_front() {
            return m;
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        let m = match self.messages.recv_timeout(wait) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => {
                panic!("Chromium did not answer in time{}", self.log_tail())
            }
            Err(RecvTimeoutError::Disconnected) => panic!("Chromium exited{}", self.log_tail()),
        };
        self.note(&m);
        m
    }

    /// What a message tells about the page: dialogs (answered at once, so a script
    /// never blocks), requests, errors.
    fn note(&mut self, m: &Value) {
        match m["method"].as_str() {
            Some("Page.javascriptDialogOpening") => {
                self.dialogs
                    .push(m["params"]["message"].as_str().unwrap_or("").to_owned());
                let session = m["sessionId"].as_str().map(str::to_owned);
                self.send(
                    "Page.handleJavaScriptDialog",
                    json!({"accept": true}),
                    session.as_deref(),
                );
            }
            Some("Network.requestWillBeSent") => {
                self.requests.push(
                    m["params"]["request"]["url"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                );
            }
            Some("Runtime.exceptionThrown") => {
                self.errors
                    .push(m["params"]["exceptionDetails"].to_string());
            }
            Some("Runtime.consoleAPICalled") if m["params"]["type"] == "error" => {
                self.errors.push(m["params"]["args"].to_string());
            }
            _ => {}
        }
    }

    /// Take in every message already sent, forgetting the events waited for so far.
    fn drain(&mut self) {
        self.backlog.clear();
        while let Ok(m) = self.messages.try_recv() {
            self.note(&m);
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!(
            "; its log ends:\n{}",
            lines[lines.len().saturating_sub(20)..].join("\n")
        )
    }

    fn wait_answer(&mut self, id: u64, method: &str) -> Value {
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let mut skipped = Vec::new();
        loop {
            let m = self.next_message(deadline);
            if m["id"].as_u64() == Some(id) {
                self.backlog.extend(skipped);
                if let Some(e) = m.get("error") {
                    panic!("{method} failed: {e}");
                }
                return m["result"].clone();
            }
            if m.get("method").is_some() {
                skipped.push(m);
            }
        }
    }

    fn browser_call(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(method, params, None);
        self.wait_answer(id, method)
    }

    /// A command to the page; its result.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        let id = self.send(method, params, Some(&session));
        self.wait_answer(id, method)
    }

    /// Wait for the page's event `method` (events seen before this call count).
    pub fn wait_event(&mut self, method: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let m = self.next_message(deadline);
            if m["method"] == method {
                return m["params"].clone();
            }
        }
    }

    /// Load `url` and wait for its `load` event.
    pub fn open(&mut self, url: &str) {
        // The previous page's events (its `load` included) must not end this wait.
        self.drain();
        let answer = self.call("Page.navigate", json!({"url": url}));
        if let Some(e) = answer.get("errorText") {
            panic!("cannot open {url}: {e}");
        }
        self.wait_event("Page.loadEventFired", COMMAND_TIMEOUT);
    }

    /// Evaluate `expression` in the page (even with its scripts disabled) and return its
    /// value; a thrown exception fails the test.
    pub fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{expression} threw: {e}");
        }
        r["result"]["value"].clone()
    }

    /// Turn the page's own scripts off or on (takes effect for the next load).
    pub fn scripts(&mut self, enabled: bool) {
        self.call(
            "Emulation.setScriptExecutionDisabled",
            json!({"value": !enabled}),
        );
    }

    /// A PNG of the whole page (not only the window) at `path`.
    pub fn screenshot(&mut self, path: &Path) {
        let metrics = self.call("Page.getLayoutMetrics", json!({}));
        let size = &metrics["cssContentSize"];
        let shot = self.call(
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
            }),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.send("Browser.close", json!({}), None);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP proxy on 127.0.0.1 that answers every connection with 502 and counts them,
/// keeping each one's first line (what was asked).
pub struct CountingProxy {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    connections: Arc<AtomicUsize>,
    lines: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl CountingProxy {
    /// Start one on a free port.
    pub fn start() -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let connections = Arc::new(AtomicUsize::new(0));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, seen, stopped) = (connections.clone(), lines.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 1024];
                let n = stream.read(&mut buf).unwrap_or(0);
                let first = String::from_utf8_lossy(&buf[..n])
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned();
                seen.lock().unwrap().push(first);
                let _ = stream.write_all(
                    b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        CountingProxy {
            addr,
            connections,
            lines,
            stop,
        }
    }

    /// Connections so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// The first line of each connection so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = std::net::TcpStream::connect(&self.addr);
    }
}
