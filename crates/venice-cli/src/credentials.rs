//! The one rule for the `VENICE_*` variables (and `--base-url`): a value that is set
//! must be usable. A blank value is an error naming the variable (never silently
//! "unset"), a value with non-ASCII characters is refused (it would go out as raw
//! header bytes), and two credential variables at once are named, both. Messages name
//! variables, never their values.

use crate::exit::CliError;

/// The credential variables, exactly one of which is used.
pub const CREDENTIAL_VARS: [&str; 4] = [
    "VENICE_API_KEY",
    "VENICE_WALLET_PRIVATE_KEY",
    "VENICE_SOLANA_KEYPAIR",
    "VENICE_SIWX_HEADER",
];

/// Other variables the CLI reads, under the same rule.
pub const SETTING_VARS: [&str; 3] = [
    "VENICE_BASE_URL",
    "VENICE_SOLANA_RPC_URL",
    "VENICE_PACING_REDIS",
];

/// A variable's value under the rule: `Ok(None)` when unset, the trimmed value when
/// usable.
pub fn read(name: &str) -> Result<Option<String>, CliError> {
    match std::env::var_os(name) {
        None => Ok(None),
        Some(raw) => {
            let Some(text) = raw.to_str() else {
                return Err(non_ascii(name));
            };
            checked(name, text).map(Some)
        }
    }
}

/// `value` of `name` (a variable or a flag) under the rule, trimmed.
pub fn checked(name: &str, value: &str) -> Result<String, CliError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(CliError::Usage(format!(
            "{name} is set but blank; give it a value or unset it"
        )));
    }
    if !value.is_ascii() {
        return Err(non_ascii(name));
    }
    if value
        .chars()
        .any(|c| c.is_ascii_control() && !c.is_ascii_whitespace())
    {
        return Err(CliError::Usage(format!(
            "{name} contains control characters; check how it was set"
        )));
    }
    Ok(value.to_owned())
}

fn non_ascii(name: &str) -> CliError {
    CliError::Usage(format!(
        "{name} contains non-ASCII characters (a copy-paste artefact such as a typographic \
         quote or a non-breaking space?); it was not sent"
    ))
}

/// Check every credential and setting variable, and that at most one credential
/// variable is set. Returns the name of the credential variable in use, if any.
pub fn check_env() -> Result<Option<&'static str>, CliError> {
    for name in SETTING_VARS {
        read(name)?;
    }
    let mut set = Vec::new();
    for name in CREDENTIAL_VARS {
        if read(name)?.is_some() {
            set.push(name);
        }
    }
    match set.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        [a, b] => Err(CliError::Usage(format!(
            "ambiguous credentials: both {a} and {b} are set; set exactly one"
        ))),
        many => {
            let (last, rest) = many.split_last().unwrap_or((&"", &[]));
            Err(CliError::Usage(format!(
                "ambiguous credentials: {} and {last} are set; set exactly one",
                rest.join(", ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_non_ascii_and_control_values_are_refused_by_name_only() {
        for (value, says) in [
            ("   ", "blank"),
            ("sk-ab\u{a0}cd", "non-ASCII"),
            ("sk-ab\u{1}cd", "control"),
        ] {
            let e = checked("VENICE_API_KEY", value)
                .expect_err("refused")
                .to_string();
            assert!(e.starts_with("VENICE_API_KEY "), "{e}");
            assert!(e.contains(says), "{e}");
            assert!(!e.contains("sk-ab"), "{e}");
        }
        assert_eq!(
            checked("VENICE_API_KEY", " sk-1 ").unwrap_or_default(),
            "sk-1"
        );
        // A solana-keygen JSON array keeps its inner spaces and newlines.
        assert!(checked("VENICE_SOLANA_KEYPAIR", "[1, 2,\n 3]").is_ok());
    }
}
