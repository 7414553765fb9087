//! Escaping for each place a string from a prompt, a sidecar or a file name lands in
//! the page. Prompts are user input: `<script>` or `</script>` in one must show as text.
//!
//! The page carries no inline JSON: each tile's sort and filter keys are data
//! attributes, so text and attribute values are the only contexts (plus URLs, which are
//! percent-encoded, then attribute-escaped).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Characters a path segment keeps as they are (RFC 3986 unreserved); everything else,
/// `/`, `?`, `#`, `%` and quotes included, is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `s` for the text of an element: `&`, `<`, `>` escaped; NUL (which HTML drops or
/// replaces unevenly) becomes U+FFFD.
pub fn text(s: &str) -> String {
    escape(s, false)
}

/// `s` for a double-quoted attribute value: as [`text`], plus both quotes.
pub fn attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, quotes: bool) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if quotes => out.push_str("&quot;"),
            '\'' if quotes => out.push_str("&#39;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A relative URL for `path` (segments separated by `/`), ready for an attribute.
pub fn url(path: &[&str]) -> String {
    let encoded: Vec<String> = path
        .iter()
        .map(|segment| utf8_percent_encode(segment, SEGMENT).to_string())
        .collect();
    // Percent-encoding leaves nothing an attribute needs escaped; escaped anyway, so a
    // change of the set above cannot open a hole.
    attr(&encoded.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_prompts_stays_text() {
        let prompt =
            r#"</script><script>alert(2)</script> & "quoted" 'single' <img src=x onerror=y>"#;
        let t = text(prompt);
        assert!(!t.contains('<') && !t.contains('>'), "{t}");
        assert_eq!(
            t,
            "&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt; &amp; \"quoted\" 'single' \
             &lt;img src=x onerror=y&gt;"
        );
        let a = attr(prompt);
        assert!(!a.contains(['<', '>', '"', '\'']), "{a}");
        assert_eq!(text("a\0b"), "a\u{FFFD}b");
        assert_eq!(text("café ✓"), "café ✓");
    }

    #[test]
    fn urls_encode_every_special_character_of_a_file_name() {
        assert_eq!(url(&["a-lighthouse-0.webp"]), "a-lighthouse-0.webp");
        assert_eq!(
            url(&["sheet", "my photo #1?\"<>'%.png.jpg"]),
            "sheet/my%20photo%20%231%3F%22%3C%3E%27%25.png.jpg"
        );
        assert_eq!(url(&["javascript:alert(1)"]), "javascript%3Aalert%281%29");
        assert_eq!(url(&["é.png"]), "%C3%A9.png");
    }
}
