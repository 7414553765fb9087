//! How an error is printed: one line (an API answer summarised: status, code, the
//! first line of its message, the body's size), a hint, and with `-v` the causes and
//! the body.

use venice_image::{ApiError, Error, ErrorCode};

use crate::exit::CliError;
use crate::hints::{HintContext, hint};

/// Bytes of an error body the library keeps (`ApiError::body_excerpt`).
const EXCERPT_CAP: usize = venice_image::limits::MAX_ERROR_BODY_EXCERPT;
/// Most characters of a server message on the error line.
const MESSAGE_CHARS: usize = 200;

/// Print `err` on stderr.
pub fn report(err: &CliError, ctx: &HintContext, verbose: bool) {
    eprintln!("error: {}", headline(err));
    if let Some(hint) = hint(err, ctx) {
        eprintln!("hint: {hint}");
    }
    let Some(e) = err.client() else {
        return;
    };
    if !verbose {
        eprintln!("(run with -v for details)");
        return;
    }
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        eprintln!("  caused by: {cause}");
        source = cause.source();
    }
    if let Some(api) = e.api_error()
        && !api.body_excerpt().is_empty()
    {
        eprintln!("  body ({}):", body_size(api).trim_end_matches(" body"));
        for line in api.body_excerpt().lines() {
            eprintln!("    {line}");
        }
    }
    eprintln!("  details: {e:?}");
}

/// The one line of an error.
pub fn headline(err: &CliError) -> String {
    match err {
        CliError::Client(e) => client_line(e),
        CliError::Catalogue(e) => format!(
            "cannot read the model catalogue, and --strict-validate asks for it ({}); nothing was sent",
            client_line(e)
        ),
        // The CLI's own text (a usage error may list several lines of a jobs file).
        other => other.to_string(),
    }
}

/// One line for a library error: API answers summarised, other errors with their
/// innermost cause.
pub fn client_line(e: &Error) -> String {
    if let Some(api) = e.api_error() {
        let code = match api.code() {
            ErrorCode::NoCode => "(no error code)".to_owned(),
            code => code.to_string(),
        };
        let wait = |d: &Option<std::time::Duration>| {
            d.map_or_else(String::new, |d| {
                format!(", the server asked to wait {:.0} s", d.as_secs_f64().ceil())
            })
        };
        let prefix = match e {
            Error::RateLimited {
                retry_after, kind, ..
            } => format!("rate limited ({kind}{}): ", wait(retry_after)),
            Error::ErrorBudgetExhausted(lockout) => format!(
                "error budget exhausted ({}{}): ",
                lockout.model().map_or_else(
                    || "requests naming no model".to_owned(),
                    |m| format!("model {m}")
                ),
                wait(&lockout.retry_after())
            ),
            _ => String::new(),
        };
        let mut line = format!(
            "{prefix}API error {} {code}: {}",
            api.status(),
            first_line(api.message(), MESSAGE_CHARS)
        );
        let mut facts = Vec::new();
        if let Error::PaymentRequired { error, .. } = e {
            if let Some(have) = error.current_balance_usd {
                facts.push(format!("credit ${have:.4}"));
            }
            if let Some(need) = error.minimum_balance_usd {
                facts.push(format!("needs ${need:.4}"));
            }
        }
        facts.push(body_size(api));
        if let Some(id) = api.request_id() {
            facts.push(format!("request {id}"));
        }
        line.push_str(&format!(" ({})", facts.join(", ")));
        return line;
    }
    let mut line = first_line(&e.to_string(), usize::MAX);
    let mut root = None;
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        root = Some(cause.to_string());
        source = cause.source();
    }
    if let Some(root) = root {
        let root = first_line(&root, MESSAGE_CHARS);
        if !line.contains(&root) {
            line.push_str(": ");
            line.push_str(&root);
        }
    }
    line
}

fn body_size(api: &ApiError) -> String {
    let n = api.body_excerpt().len();
    if n >= EXCERPT_CAP {
        format!("{EXCERPT_CAP}+-byte body")
    } else {
        format!("{n}-byte body")
    }
}

/// The first non-blank line of `text`, whitespace collapsed, at most `max` characters
/// (`…` marks a cut or a dropped rest).
pub fn first_line(text: &str, max: usize) -> String {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("");
    let first: String = first.split_whitespace().collect::<Vec<_>>().join(" ");
    let more = lines.next().is_some();
    if first.chars().count() > max {
        let cut: String = first.chars().take(max).collect();
        format!("{cut}…")
    } else if more {
        format!("{first} …")
    } else {
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_lines_are_short_and_mark_what_was_dropped() {
        assert_eq!(first_line("a  b\n\nc", 10), "a b …");
        assert_eq!(first_line("\n  only  \n", 10), "only");
        assert_eq!(first_line("abcdef", 3), "abc…");
        assert_eq!(first_line("", 3), "");
    }
}
