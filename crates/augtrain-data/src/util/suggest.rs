//! "Did you mean ...?" for unknown keys and values in config and pipeline files.

/// The candidate nearest to `word` by Levenshtein distance (in characters), if near enough to
/// be a likely typo.
pub fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let best = candidates
        .iter()
        .min_by_key(|c| strsim::levenshtein(word, c))?;
    let d = strsim::levenshtein(word, best);
    (d <= (word.chars().count() / 3).max(2) && d > 0).then_some(*best)
}

/// The 1-based line of a TOML error: the line of the unknown key when the message names one
/// (serde reports the enclosing table), else the line of the error span.
pub fn toml_error_line(text: &str, message: &str, span_start: Option<usize>) -> Option<usize> {
    if message.contains("unknown field")
        && let Some(key) = message.split('`').nth(1)
        && let Some(k) = text.lines().position(|l| {
            let t = l.trim_start();
            t.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
    {
        return Some(k + 1);
    }
    span_start.map(|s| text[..s.min(text.len())].lines().count().max(1))
}

/// Add "did you mean `x`?" to a serde message of the form "unknown field `a`, expected one of
/// `b`, `c`" (or "expected `b` or `c`"; fields and variants alike).
pub fn with_suggestion(message: &str) -> String {
    let ticks: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    if (message.contains("unknown field") || message.contains("unknown variant"))
        && ticks.len() >= 2
        && let Some(best) = nearest(ticks[0], &ticks[1..])
    {
        return format!("{message}; did you mean `{best}`?");
    }
    message.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(nearest("epochz", &["seed", "epochs"]), Some("epochs"));
        assert_eq!(nearest("épochs", &["seed", "epochs"]), Some("epochs"));
        assert_eq!(nearest("epochs", &["seed", "epochs"]), None);
        let m = "unknown field `epochz`, expected one of `seed`, `device`, `epochs`";
        assert!(with_suggestion(m).ends_with("did you mean `epochs`?"));
        let m = "unknown field `zzzzzz`, expected one of `seed`, `device`, `epochs`";
        assert_eq!(with_suggestion(m), m);
        let m = "unknown variant `rotat`, expected `hflip` or `rotate`";
        assert!(with_suggestion(m).ends_with("did you mean `rotate`?"));
    }
}
