//! "Did you mean ...?" for a plugin class name that matches nothing: the known names closest
//! to it, compared without case and with `:` and `.` alike (`mypkg.ticker:Tickr` finds
//! `mypkg.ticker.Ticker`), and a bare name against the last part of each dotted one, with
//! or without its nested class (`InsertFeild` finds `...transforms.InsertField$Value`).

/// How alike two names must be (normalized Damerau-Levenshtein similarity, 0 to 1).
const MIN_SIMILARITY: f64 = 0.7;

/// At most this many suggestions.
const MAX_SUGGESTIONS: usize = 3;

fn normalize(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace(':', ".")
}

fn last_part(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// The names among `known` closest to `name`, best first; empty when none is close.
pub fn closest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let wanted = normalize(name);
    if wanted.is_empty() {
        return Vec::new();
    }
    let dotted = wanted.contains('.');
    let mut scored: Vec<(f64, &str)> = known
        .into_iter()
        .filter_map(|candidate| {
            let c = normalize(candidate);
            if c == wanted {
                return None;
            }
            let whole = strsim::normalized_damerau_levenshtein(&wanted, &c);
            let score = if dotted {
                whole
            } else {
                let simple = last_part(&c);
                let outer = simple.split('$').next().unwrap_or(simple);
                whole
                    .max(strsim::normalized_damerau_levenshtein(&wanted, simple))
                    .max(strsim::normalized_damerau_levenshtein(&wanted, outer))
            };
            (score >= MIN_SIMILARITY).then_some((score, candidate))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    let mut out: Vec<String> = Vec::new();
    for (_, c) in scored {
        if !out.iter().any(|o| o == c) {
            out.push(c.to_string());
        }
        if out.len() == MAX_SUGGESTIONS {
            break;
        }
    }
    out
}

/// `. Did you mean 'a' or 'b'?` (to end a sentence that has no full stop), or an empty
/// string when nothing is close.
pub fn did_you_mean<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    let found = closest(name, known);
    match found.as_slice() {
        [] => String::new(),
        [one] => format!(". Did you mean '{one}'?"),
        [init @ .., last] => format!(
            ". Did you mean {} or '{last}'?",
            init.iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_simple_name_finds_the_class_and_its_alias() {
        let known = [
            "org.apache.kafka.connect.file.FileStreamSourceConnector",
            "FileStreamSource",
            "mypkg.ticker.Ticker",
            "orders-source",
        ];
        // The alias is close; the long class name (`...SourceConnector`) is not close enough.
        assert_eq!(closest("FileStreamSorce", known), vec!["FileStreamSource"]);
        assert_eq!(closest("orders-sorce", known), vec!["orders-source"]);
        assert_eq!(closest("Tikcer", known), vec!["mypkg.ticker.Ticker"]);
    }

    #[test]
    fn a_dotted_name_compares_whole_and_colon_is_a_dot() {
        let known = ["mypkg.ticker.Ticker", "mypkg.other.Thing"];
        assert_eq!(
            closest("mypkg.ticker:Tickr", known),
            vec!["mypkg.ticker.Ticker"]
        );
    }

    #[test]
    fn nothing_close_gives_no_suggestion() {
        let known = ["mypkg.ticker.Ticker"];
        assert!(closest("PostgresSink", known).is_empty());
        assert_eq!(did_you_mean("PostgresSink", known), "");
        assert_eq!(
            did_you_mean("Tickr", known),
            ". Did you mean 'mypkg.ticker.Ticker'?"
        );
    }

    #[test]
    fn a_nested_class_is_found_by_its_outer_name() {
        let known = [
            "org.apache.kafka.connect.transforms.InsertField$Value",
            "org.apache.kafka.connect.transforms.InsertField$Key",
            "org.apache.kafka.connect.transforms.Flatten$Value",
        ];
        assert_eq!(
            closest("InsertFeild", known),
            vec![
                "org.apache.kafka.connect.transforms.InsertField$Key".to_string(),
                "org.apache.kafka.connect.transforms.InsertField$Value".to_string()
            ]
        );
    }
}
