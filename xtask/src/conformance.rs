//! `cargo xtask conformance`: third-party clients against a started mock.
//!
//! Installs the official `openai` Python SDK and `venice-py` (with its x402 extra) and
//! Pillow into a venv under `target/`, starts the `venice-mock` binary on a random
//! loopback port with a funded test wallet, and runs `xtask/conformance/clients.py`:
//! every image call those clients offer, each checked for the right bytes. With
//! `--schemathesis`, also runs the schemathesis fuzzer with the provider's spec against
//! the mock. Not part of `cargo test`: it installs packages.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

/// The client versions the conformance run pins.
const PACKAGES: &[&str] = &["venice-py[x402]==2.9.0", "openai>=1.60,<4", "pillow>=10"];

/// The fuzzer's pinned version.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";

/// Test vector 1 of shared/x402-facts.md (web3.js documentation key): a throwaway
/// wallet, never a real one.
const WALLET_KEY: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
const WALLET_ADDRESS: &str = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";

/// The operations of the provider's spec the mock serves (schemathesis is limited to
/// them; the provider's text, audio and video operations are not the mock's).
const FUZZED_PATHS: &str = "^/(image/|images/generations|models$|x402/|crypto/rpc/|billing/balance$|api_keys/rate_limits$)";

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// The mock binary, killed when dropped (a process this command started).
struct Mock {
    child: Child,
    base_url: String,
}

impl Mock {
    fn start(binary: &Path, config: &Path) -> Result<Self> {
        let mut child = Command::new(binary)
            .args(["--port", "0", "--config"])
            .arg(config)
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = child.stdout.take().context("mock stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .context("reading the mock's base URL")?;
        let base_url = line.trim().to_owned();
        if !base_url.starts_with("http://127.0.0.1:") {
            let _ = child.kill();
            bail!("the mock printed {base_url:?} instead of its base URL");
        }
        Ok(Self { child, base_url })
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builds the mock, prepares the venv, runs the clients (and optionally schemathesis).
pub fn conformance(root: &Path, schemathesis: bool) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run(Command::new(&cargo).current_dir(root).args([
        "build",
        "-p",
        "venice-mock",
        "--bin",
        "venice-mock",
    ]))?;
    let target = root.join("target");
    let binary = target.join("debug").join("venice-mock");

    let venv = target.join("conformance-venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))
            .context("python3 -m venv (is python3 installed?)")?;
    }
    let mut pip = Command::new(&python);
    pip.args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
        .args(PACKAGES);
    if schemathesis {
        pip.arg(SCHEMATHESIS);
    }
    run(&mut pip)?;

    let config = target.join("conformance-mock.json");
    // The fuzzer sends thousands of failing requests on purpose, and the clients' runs
    // read the balance and top up more often than the provider's per-route limiters
    // allow: both limits are turned off here explicitly (the mock's default is the
    // provider's behaviour).
    let body = format!(
        r#"{{"wallet_balances": {{"{WALLET_ADDRESS}": 1.0}}, "error_budget": null,
            "route_limits": {{"top_up": null, "balance": null, "transactions": null, "crypto_rpc": null}}}}"#
    );
    std::fs::write(&config, body).with_context(|| format!("writing {}", config.display()))?;
    let mock = Mock::start(&binary, &config)?;
    println!("mock at {}", mock.base_url);

    let script = root.join("xtask").join("conformance").join("clients.py");
    let clients = Command::new(&python)
        .arg(&script)
        .arg(&mock.base_url)
        .arg("venice-mock-key")
        .arg(WALLET_KEY)
        .status()
        .context("running the Python clients")?;

    let fuzz = if schemathesis {
        Some(run_schemathesis(root, &venv, &mock.base_url)?)
    } else {
        None
    };
    drop(mock);
    if !clients.success() {
        bail!("third-party clients failed against the mock ({clients})");
    }
    if let Some(status) = fuzz
        && !status.success()
    {
        bail!("schemathesis found problems ({status})");
    }
    Ok(())
}

/// The provider's spec, read from `shared/` beside the workspace.
fn provider_spec(root: &Path) -> Result<std::path::PathBuf> {
    let path = root
        .parent()
        .map(|p| {
            p.join("shared")
                .join("upstream")
                .join("venice-openapi.yaml")
        })
        .context("the workspace has no parent directory")?;
    if !path.exists() {
        bail!("the provider's spec is not at {}", path.display());
    }
    Ok(path)
}

fn run_schemathesis(root: &Path, venv: &Path, base_url: &str) -> Result<std::process::ExitStatus> {
    let spec = provider_spec(root)?;
    let report = root.join("target").join("schemathesis-junit.xml");
    let mut cmd = Command::new(venv.join("bin").join("schemathesis"));
    cmd.arg("run")
        .arg(&spec)
        .args(["--url", base_url])
        .args(["--include-path-regex", FUZZED_PATHS])
        .args(["-H", "Authorization: Bearer venice-mock-key"])
        .args(["--checks", "all"])
        // The first two are replaced by the hooks' `documented_or_listed_status`
        // (statuses listed in openapi/README.md pass) and
        // `negative_data_rejection_nullable_aware`; `positive_data_acceptance` expects every
        // schema-valid request to succeed, but the provider's schemas are looser than
        // its rules (an empty `image`, an unknown model, bytes that are no image are
        // schema-valid and refused by the provider as by the mock).
        .args([
            "--exclude-checks",
            "status_code_conformance,negative_data_rejection,positive_data_acceptance",
        ])
        // The fuzzer would otherwise fill `SIGN-IN-WITH-X` with junk, and every paid call
        // would stop at the 401 of an unverifiable wallet header.
        .args(["--generation-with-security-parameters", "false"])
        .args(["--max-examples", "100"])
        // One worker: hypothesis parses sources with `ast` and trips over CPython 3.11's
        // "AST constructor recursion depth mismatch" when workers do so concurrently.
        .args(["--workers", "1"])
        .args(["--report", "junit", "--report-junit-path"])
        .arg(&report)
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        .env("PYTHONPATH", root.join("xtask").join("conformance"))
        .current_dir(root.join("target"));
    println!("schemathesis: {cmd:?}");
    cmd.status().context("running schemathesis")
}
