//! The README's command-line section agrees with `--help`: every command and every flag
//! the binary offers is in it, and its exit-code table is the one `--help` prints.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::collections::BTreeSet;

use common::*;

/// The README section about the binary.
fn section() -> String {
    // The crate's own README: it ships in the package, so the packaged tests run too.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let start = readme
        .find("## The `venice-image` command line")
        .expect("README section");
    let rest = &readme[start..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    rest[..end].to_owned()
}

fn help(args: &[&str]) -> String {
    let (code, stdout, stderr) = run(bin().args(args).arg("--help"));
    assert_eq!(code, 0, "{stderr}");
    stdout
}

/// Subcommand names of the top-level `--help`.
fn commands(top: &str) -> Vec<String> {
    top.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|c| c != "help")
        .collect()
}

/// Long flags in a `--help` text.
fn flags(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("--") {
        let name: String = text[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let before = text[..i].chars().last();
        if name.len() > 1
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            out.insert(format!("--{name}"));
        }
    }
    out
}

/// Whether `text` has `word` with no name character right after it.
fn mentions(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        !text[i + word.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

#[test]
fn every_command_and_flag_of_help_is_in_the_readme() {
    let readme = section();
    let top = help(&[]);
    let commands = commands(&top);
    assert!(commands.len() >= 11, "{commands:?}");
    let mut missing = Vec::new();
    for command in &commands {
        if !readme
            .lines()
            .any(|l| l.starts_with("venice-image ") && mentions(l, command))
        {
            missing.push(format!("command `{command}` (no synopsis line)"));
        }
        for flag in flags(&help(&[command])) {
            if !mentions(&readme, &flag) {
                missing.push(format!("{command} {flag}"));
            }
        }
    }
    for flag in flags(&top) {
        if !mentions(&readme, &flag) {
            missing.push(flag);
        }
    }
    assert!(
        missing.is_empty(),
        "README's command-line section lacks: {missing:?}"
    );
}

#[test]
fn the_exit_code_table_is_the_one_help_prints() {
    let readme = section();
    let top = help(&[]);
    let table: Vec<(String, String)> = top
        .lines()
        .skip_while(|l| *l != "Exit codes:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| {
            let (code, meaning) = l.trim().split_once("  ").unwrap();
            (code.to_owned(), meaning.trim().to_owned())
        })
        .collect();
    let codes: Vec<&str> = table.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(codes, ["0", "1", "2", "3", "4", "5", "6"]);
    let rows: Vec<&str> = readme.lines().filter(|l| l.starts_with("| `")).collect();
    let wanted: Vec<String> = table
        .iter()
        .map(|(code, meaning)| format!("| `{code}` | {meaning} |"))
        .collect();
    assert_eq!(rows, wanted, "README exit-code table differs from --help");
}
