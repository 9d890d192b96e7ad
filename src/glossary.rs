//! The glossary: the words nnopt's output and tour use, each explained in two or three
//! sentences. `docs/glossary.md` is the one source — compiled into the binary and read here —
//! so the page a reader browses and `nnopt glossary TERM` can never disagree.

use anyhow::Result;
use serde::Serialize;

use crate::error::usage;

/// The glossary's text, as written in `docs/glossary.md`.
pub const SOURCE: &str = include_str!("../docs/glossary.md");

/// One term and its explanation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub term: String,
    /// Other names it is looked up by (`aka:`).
    pub aka: Vec<String>,
    pub text: String,
}

impl Entry {
    /// Whether `name` names this entry: its term or another name, in any case.
    pub fn named(&self, name: &str) -> bool {
        let name = name.trim();
        self.term.eq_ignore_ascii_case(name) || self.aka.iter().any(|a| a.eq_ignore_ascii_case(name))
    }

    /// Its first sentence: what a list of terms shows.
    pub fn gist(&self) -> &str {
        let end = self.text.find(". ").map_or(self.text.len(), |i| i + 1);
        &self.text[..end]
    }
}

/// The entries of a glossary page: each `## TERM` heading, an optional `aka: a, b` line, and
/// the paragraph under it (its lines joined).
pub fn parse(page: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    for line in page.lines() {
        if let Some(term) = line.strip_prefix("## ") {
            entries.push(Entry { term: term.trim().to_string(), aka: Vec::new(), text: String::new() });
            continue;
        }
        let Some(entry) = entries.last_mut() else { continue };
        match line.strip_prefix("aka:") {
            Some(names) if entry.text.is_empty() => {
                entry.aka =
                    names.split(',').map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect();
            }
            _ if line.trim().is_empty() => {}
            _ => {
                if !entry.text.is_empty() {
                    entry.text.push(' ');
                }
                entry.text.push_str(line.trim());
            }
        }
    }
    entries
}

/// What `nnopt glossary [TERM]` reports: every entry, or the one asked for.
#[derive(Debug, Clone, Serialize)]
pub struct Glossary {
    pub entries: Vec<Entry>,
    /// Whether one term was asked for (the text then shows it whole).
    #[serde(skip)]
    one: bool,
}

/// The whole glossary, or the entry `term` names; an unknown term is a usage error listing the
/// terms that contain it (or all of them).
pub fn lookup(term: Option<&str>) -> Result<Glossary> {
    let entries = parse(SOURCE);
    let Some(term) = term else { return Ok(Glossary { entries, one: false }) };
    if let Some(entry) = entries.iter().find(|e| e.named(term)) {
        return Ok(Glossary { entries: vec![entry.clone()], one: true });
    }
    let lower = term.to_lowercase();
    let near: Vec<&str> =
        entries.iter().filter(|e| e.term.to_lowercase().contains(&lower)).map(|e| e.term.as_str()).collect();
    let offer = if near.is_empty() {
        "`nnopt glossary` lists every term".to_string()
    } else {
        format!("did you mean {}?", near.join(", "))
    };
    Err(usage(format!("glossary: no entry for {term:?}; {offer}")))
}

impl crate::report::Report for Glossary {
    fn text(&self) -> String {
        if self.one {
            let e = &self.entries[0];
            let aka = if e.aka.is_empty() { String::new() } else { format!(" (also: {})", e.aka.join(", ")) };
            return format!("{}{aka}\n\n{}", e.term, crate::text::wrap(&e.text, 92));
        }
        let width = self.entries.iter().map(|e| e.term.chars().count()).max().unwrap_or(0);
        let mut text: Vec<String> = self
            .entries
            .iter()
            .map(|e| format!("{:<width$}  {}", e.term, shortened(e.gist(), 96 - width)))
            .collect();
        text.push(String::new());
        text.push("`nnopt glossary TERM` explains one; docs/glossary.md has them all.".to_string());
        text.join("\n")
    }
}

/// `text` cut at a space to at most `width` characters, `…` marking the cut.
fn shortened(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let first =
        crate::text::wrap(text, width.saturating_sub(2)).lines().next().unwrap_or_default().to_string();
    format!("{first} …")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_parses_into_terms_other_names_and_paragraphs() {
        let page = "# Glossary\n\nintro\n\n## Adam\naka: adam optimizer, ADAM\nFirst line\nsecond line. More.\n\n## ReLU\nmax(0, z).\n";
        let entries = parse(page);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].term, "Adam");
        assert_eq!(entries[0].aka, ["adam optimizer", "ADAM"]);
        assert_eq!(entries[0].text, "First line second line. More.");
        assert_eq!(entries[0].gist(), "First line second line.");
        assert!(entries[0].named("adam") && entries[0].named(" Adam Optimizer ") && !entries[0].named("rms"));
        assert_eq!(entries[1].text, "max(0, z).");
    }

    #[test]
    fn a_gist_too_long_is_cut_at_a_space() {
        assert_eq!(shortened("aa bb cc dd", 8), "aa bb …");
        assert_eq!(shortened("aa bb", 8), "aa bb");
    }

    /// Every word list the code prints (words: …, then the glossary hint) names terms
    /// the glossary has.
    #[test]
    fn every_word_list_the_output_prints_is_in_the_glossary() {
        let mut lists = 0;
        let mut stack = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for (_, rest) in text.match_indices("\"words: ").map(|(i, _)| text.split_at(i + 8)) {
                let Some((list, _)) = rest.split_once(" (nnopt glossary TERM") else { continue };
                if list.contains(['"', '\n', '{']) {
                    continue; // not a literal list: this test's own search, the tour's format
                }
                lists += 1;
                for term in list.split(", ") {
                    assert!(
                        lookup(Some(term)).is_ok(),
                        "{}: {term:?} is not in the glossary",
                        path.display()
                    );
                }
            }
        }
        assert!(lists >= 2, "the word lists of depth and brute-force are found: {lists}");
    }

    /// Every term the learner's path names has an entry (issue 30's list), found by any name.
    #[test]
    fn every_term_the_output_uses_is_explained() {
        for term in [
            "pre-activation",
            "central difference",
            "logits",
            "cross-entropy",
            "MSE",
            "validation split",
            "TPE",
            "halving",
            "weight decay",
            "nesterov",
            "cosine schedule",
            "grad_fn",
            "Adam",
            "RMSprop",
            "momentum",
            "dead unit",
            "chance",
            "epoch",
            "learning rate",
            "lr",
        ] {
            let found = lookup(Some(term)).unwrap_or_else(|e| panic!("{term}: {e}"));
            assert!(found.entries[0].text.len() > 60, "{term}: too short to explain anything");
        }
        assert!(lookup(Some("no such thing")).is_err());
        // The backward graph's node names are checked in tests/integration/cli.rs: src names none
        // by hand (tests/integration/graph.rs).
    }
}
