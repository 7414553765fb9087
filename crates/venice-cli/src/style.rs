//! `--style NAME` checked against the server's style list before anything is spent,
//! with the closest names suggested.

use venice_image::Client;

use crate::exit::CliError;

/// How many close names a refusal suggests.
const SUGGESTIONS: usize = 3;

/// The names of `styles` closest to `name` (case-insensitive), best first; none when
/// nothing is reasonably close.
pub fn suggest<'a>(name: &str, styles: &'a [String]) -> Vec<&'a str> {
    let wanted = name.trim().to_lowercase();
    let mut scored: Vec<(f64, &str)> = styles
        .iter()
        .map(|s| {
            let lower = s.to_lowercase();
            let mut score = strsim::jaro_winkler(&wanted, &lower);
            if !wanted.is_empty() && lower.contains(&wanted) {
                score = score.max(0.9);
            }
            (score, s.as_str())
        })
        .filter(|(score, _)| *score >= 0.75)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored
        .into_iter()
        .take(SUGGESTIONS)
        .map(|(_, s)| s)
        .collect()
}

/// The refusal of `name`, which is not in `styles`.
pub fn refusal(name: &str, styles: &[String]) -> CliError {
    let close = suggest(name, styles);
    let quoted = |names: &[&str]| {
        names
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let tail = if close.is_empty() {
        let all: Vec<&str> = styles.iter().map(String::as_str).collect();
        format!("the styles are: {}", quoted(&all))
    } else {
        format!("did you mean {}?", quoted(&close))
    };
    CliError::Usage(format!(
        "unknown style \"{name}\" (see `venice-image styles`); {tail}"
    ))
}

/// Refuse `name` unless the server lists it (exactly, or ignoring case: then the
/// listed spelling is named). A list that cannot be read is a warning: the server
/// decides.
pub async fn check(client: &Client, name: &str) -> Result<(), CliError> {
    check_all(client, [(None, name)]).await
}

/// Refuse the first of `names` that the server does not list, each with where it comes
/// from (a batch job's ID) for the message; one request for all of them, none when
/// `names` is empty. A list that cannot be read is a warning: the server decides.
pub async fn check_all<'a>(
    client: &Client,
    names: impl IntoIterator<Item = (Option<&'a str>, &'a str)>,
) -> Result<(), CliError> {
    let mut names = names.into_iter().peekable();
    if names.peek().is_none() {
        return Ok(());
    }
    let styles = match client.image_styles().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("warning: cannot read the style list ({e}); --style is not checked");
            return Ok(());
        }
    };
    for (origin, name) in names {
        if styles.iter().any(|s| s == name) {
            continue;
        }
        let refused = refusal(name, &styles);
        return Err(match origin {
            Some(job) => CliError::Usage(format!("job {job}: {refused}")),
            None => refused,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn styles() -> Vec<String> {
        [
            "3D Model",
            "Analog Film",
            "Anime",
            "Cinematic",
            "Comic Book",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn close_names_are_suggested_first() {
        let s = styles();
        assert_eq!(suggest("anime", &s).first(), Some(&"Anime"));
        assert_eq!(suggest("cinematc", &s).first(), Some(&"Cinematic"));
        assert!(suggest("zzzzzz", &s).is_empty());
        assert_eq!(
            refusal("Animee", &s).to_string(),
            "unknown style \"Animee\" (see `venice-image styles`); did you mean \"Anime\"?"
        );
        let e = refusal("zzzzzz", &s).to_string();
        assert!(e.ends_with("\"Cinematic\", \"Comic Book\""), "{e}");
    }
}
