//! The docs cannot lie: every `nnopt …` command that README.md and docs/*.md show in a code
//! block or a table runs as written and exits 0, and every output block that
//! starts with `$ nnopt …` and is not abridged prints exactly what the block shows.
//!
//! - A command naming a placeholder (`FILE`, `N`, `W.safetensors`, `[…]`, `a|b`, `<…>`) is a
//!   synopsis, not a command, and is not run.
//! - An output block is abridged when it holds `…` or its command line carries a `# comment`;
//!   its command still runs.
//! - `<!-- docs-test: --epochs 2 -->` before a block or a table makes the test run its commands
//!   with those flag values where the command has the flag (in a table, also where it does
//!   not): long runs, shortened. Their output is then not compared.
//! - Each document's commands run in order, in one scratch directory, so a later command can
//!   read what an earlier one wrote (`--save w.safetensors`, then `--weights w.safetensors`).

use crate::common::{fashion_dir, nnopt_command, scratch};
use std::path::Path;

/// One command a document shows, and the output it claims.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    /// The arguments after `nnopt`, overrides applied.
    pub args: Vec<String>,
    pub expected: Option<Claim>,
}

/// What an output block claims about the command's output.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The whole output.
    Exactly(String),
    /// These lines, in this order, among others (`…` alone marks where lines were left out; a
    /// line ending in `…` was cut short, and claims only its beginning).
    Lines(Vec<String>),
}

/// A token that stands for something the reader fills in.
fn is_placeholder(token: &str) -> bool {
    if token.chars().any(|c| "[]|…<>(){}$".contains(c)) {
        return true;
    }
    // FILE, N, DIR, LR — or FILE.png, W.safetensors, M.csv: an upper-case name.
    let stem = token.split('.').next().unwrap_or(token);
    let stem = stem.trim_start_matches('-');
    !stem.is_empty()
        && stem.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && stem.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && !token.starts_with("--")
}

/// `--flag value` pairs from a marker's text.
fn overrides(marker: &str) -> Vec<(String, String)> {
    let tokens: Vec<&str> = marker.split_whitespace().collect();
    tokens.chunks(2).filter(|p| p.len() == 2).map(|p| (p[0].to_string(), p[1].to_string())).collect()
}

/// The command line's arguments, without a trailing `# comment`, overrides applied (and, in a
/// table, where a command lacks the flag, added); `None` for a synopsis.
fn command(line: &str, changes: &[(String, String)], add: bool) -> Option<Vec<String>> {
    let line = line.split(" #").next().unwrap_or(line).trim();
    let mut args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    if args.is_empty() || args.iter().any(|a| is_placeholder(a)) {
        return None;
    }
    for (flag, value) in changes {
        match args.iter().position(|a| a == flag) {
            Some(i) if i + 1 < args.len() => args[i + 1] = value.clone(),
            _ if add => args.extend([flag.clone(), value.clone()]),
            _ => {}
        }
    }
    Some(args)
}

/// Every command `markdown` shows, in order.
pub fn shown(markdown: &str) -> Vec<Shown> {
    let mut found = Vec::new();
    let mut changes: Vec<(String, String)> = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if let Some(marker) = trimmed.strip_prefix("<!-- docs-test:").and_then(|m| m.strip_suffix("-->")) {
            changes = overrides(marker);
            continue;
        }
        if let Some(lang) = trimmed.strip_prefix("```") {
            let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
            let indent = block.first().map_or(0, |l| l.len() - l.trim_start().len());
            let first = block.first().map(|l| l.trim()).unwrap_or("");
            match lang {
                "text" => {
                    if let Some(rest) = first.strip_prefix("$ nnopt ") {
                        let abridged = block.iter().any(|l| l.contains('…')) || rest.contains(" #");
                        let output: Vec<&str> =
                            block[1..].iter().map(|l| l.get(indent..).unwrap_or("").trim_end()).collect();
                        let claim = match abridged {
                            false => Claim::Exactly(output.join("\n")),
                            // A line cut short with `…` claims its beginning; a `…` alone, nothing.
                            true => Claim::Lines(
                                output
                                    .iter()
                                    .filter_map(|l| match l.split_once('…') {
                                        None => Some(l.to_string()),
                                        Some((start, _)) if start.trim().is_empty() => None,
                                        Some((start, _)) => Some(format!("{}…", start.trim_end())),
                                    })
                                    .collect(),
                            ),
                        };
                        // A shortened run cannot print what the block shows for the full one.
                        let claim = changes.is_empty().then_some(claim);
                        if let Some(args) = command(rest, &changes, false) {
                            found.push(Shown { args, expected: claim });
                        }
                    }
                }
                "sh" | "bash" | "console" => {
                    for l in &block {
                        // `scripts/run ARGS` and `cargo run --release -- ARGS` run `nnopt ARGS`.
                        let l = l.trim();
                        let rest = ["nnopt ", "scripts/run ", "cargo run --release -- ", "cargo run -- "]
                            .iter()
                            .find_map(|prefix| l.strip_prefix(prefix));
                        if let Some(args) = rest.and_then(|rest| command(rest, &changes, false)) {
                            found.push(Shown { args, expected: None });
                        }
                    }
                }
                _ => {}
            }
            changes.clear();
            continue;
        }
        // Inline code in a table row; in a sentence, `nnopt sweep` names a command, it does
        // not ask to run one.
        if !trimmed.starts_with('|') {
            if trimmed.is_empty() {
                changes.clear();
            }
            continue;
        }
        for (i, span) in line.split('`').enumerate() {
            if i % 2 == 1 {
                if let Some(args) = span.strip_prefix("nnopt ").and_then(|rest| command(rest, &changes, true))
                {
                    found.push(Shown { args, expected: None });
                }
            }
        }
    }
    found
}

/// A line cut into its numbers and the text between them.
#[derive(Debug, PartialEq)]
enum Token<'a> {
    Text(&'a str),
    /// Its value and its text.
    Number(f64, &'a str),
}

fn tokens(line: &str) -> Vec<Token<'_>> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut text_from) = (0, 0);
    while i < bytes.len() {
        // A number: optional '-', digits, optional fraction, optional exponent.
        let start = i;
        let mut j = i + usize::from(bytes[i] == b'-');
        let digits = |mut k: usize| {
            while k < bytes.len() && bytes[k].is_ascii_digit() {
                k += 1;
            }
            k
        };
        let int_end = digits(j);
        if int_end == j {
            i += 1;
            continue;
        }
        j = int_end;
        if j + 1 < bytes.len() && bytes[j] == b'.' && bytes[j + 1].is_ascii_digit() {
            j = digits(j + 1);
        }
        if j + 1 < bytes.len() && (bytes[j] == b'e' || bytes[j] == b'E') {
            let k = j + 1 + usize::from(bytes[j + 1] == b'-' || bytes[j + 1] == b'+');
            if digits(k) > k {
                j = digits(k);
            }
        }
        if let Ok(value) = line[start..j].parse::<f64>() {
            if text_from < start {
                out.push(Token::Text(&line[text_from..start]));
            }
            out.push(Token::Number(value, &line[start..j]));
            text_from = j;
        }
        i = j;
    }
    if text_from < line.len() {
        out.push(Token::Text(&line[text_from..]));
    }
    out
}

/// Whether a printed line is the line a document shows: the same text, and numbers that agree
/// to 1e-5 relative — the documents show this project's machine's output, and another CPU's
/// BLAS rounds the last printed digit differently (an H200 machine's host printed 0.884317 for
/// 0.884318); counts and integers below 100 000 must still be exact. A shown line ending in `…`
/// stands for a printed line beginning so.
fn same_line(printed: &str, shown: &str) -> bool {
    let (cut, shown) = match shown.strip_suffix('…') {
        Some(start) => (true, start),
        None => (false, shown),
    };
    let (p, s) = (tokens(printed), tokens(shown));
    if (!cut && p.len() != s.len()) || p.len() < s.len() {
        return false;
    }
    s.iter().zip(&p).enumerate().all(|(i, pair)| match pair {
        (Token::Number(_, a), Token::Number(_, b)) if cut && i + 1 == s.len() => b.starts_with(a),
        (Token::Number(a, _), Token::Number(b, _)) => (a - b).abs() <= 1e-5 * a.abs().max(b.abs()),
        (Token::Text(a), Token::Text(b)) if cut && i + 1 == s.len() => b.starts_with(a),
        (Token::Text(a), Token::Text(b)) => a == b,
        _ => false,
    })
}

/// The first of `lines` that `printed` does not hold in order (each a whole line, trailing
/// spaces aside, compared by [`same_line`]).
fn holds_in_order(printed: &[String], lines: &[String]) -> Option<String> {
    let mut rest = printed.iter();
    lines.iter().find(|want| !rest.any(|line| same_line(line, want))).cloned()
}

/// Runs every command of one document; returns what went wrong, one line per command.
fn check(document: &Path, fashion: bool) -> Vec<String> {
    let text = std::fs::read_to_string(document).unwrap();
    let name = document.file_name().unwrap().to_string_lossy().to_string();
    let dir = scratch(&format!("docs-{name}"));
    let mut seen: Vec<Vec<String>> = Vec::new();
    let mut problems = Vec::new();
    // Files a skipped command would have written: a later command that reads one is skipped too.
    let mut unwritten: Vec<String> = Vec::new();
    for Shown { args, expected } in shown(&text) {
        // A command shown twice without an output to compare runs once.
        if expected.is_none() && seen.contains(&args) {
            continue;
        }
        let needs_fashion = args.windows(2).any(|w| w[0] == "--data" && w[1] == "fashion");
        if (!fashion && needs_fashion) || args.iter().any(|a| unwritten.contains(a)) {
            eprintln!(
                "SKIPPED {name}: `nnopt {}`: Fashion-MNIST is missing (scripts/setup-data.sh)",
                args.join(" ")
            );
            let outputs =
                ["--save", "--save-best", "--csv", "--metrics", "--plot", "--confusion", "--confusion-csv"];
            unwritten
                .extend(args.windows(2).filter(|w| outputs.contains(&w[0].as_str())).map(|w| w[1].clone()));
            continue;
        }
        seen.push(args.clone());
        let with_quiet: Vec<&str> =
            std::iter::once("--quiet").chain(args.iter().map(String::as_str)).collect();
        let out = nnopt_command(&with_quiet)
            .current_dir(&dir)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("nnopt runs");
        let shown_as = format!("{name}: `nnopt {}`", args.join(" "));
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            problems.push(format!("{shown_as} exited with {:?}: {}", out.status.code(), stderr.trim()));
            continue;
        }
        let printed: Vec<String> =
            String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim_end().to_string()).collect();
        match expected {
            Some(Claim::Exactly(expected))
                if !{
                    let shown: Vec<&str> = expected.trim_end().lines().map(str::trim_end).collect();
                    let printed = printed.join("\n");
                    let printed: Vec<&str> = printed.trim_end().lines().collect();
                    shown.len() == printed.len() && shown.iter().zip(&printed).all(|(s, p)| same_line(p, s))
                } =>
            {
                problems.push(format!(
                    "{shown_as}: the block is stale (scripts/refresh-readme rewrites it); nnopt printed:\n{}",
                    printed.join("\n")
                ));
            }
            Some(Claim::Lines(lines)) => {
                if let Some(missing) = holds_in_order(&printed, &lines) {
                    problems.push(format!(
                        "{shown_as}: the abridged block shows `{missing}`, which nnopt did not print there"
                    ));
                }
            }
            _ => {}
        }
    }
    problems
}

#[test]
fn every_command_the_docs_show_runs_and_prints_what_they_show() {
    // Without Fashion-MNIST the commands that need it are skipped, each said; the rest run.
    let fashion = fashion_dir("every_command_the_docs_show_runs_and_prints_what_they_show").is_some();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut documents = vec![root.join("README.md")];
    let mut docs: Vec<_> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    documents.extend(docs);
    let readme = shown(&std::fs::read_to_string(&documents[0]).unwrap());
    assert!(readme.len() >= 10, "the README's commands are found: {readme:?}");
    assert!(
        readme.iter().filter(|s| matches!(s.expected, Some(Claim::Exactly(_)))).count() >= 2,
        "{readme:?}"
    );
    let problems: Vec<String> = documents.iter().flat_map(|d| check(d, fashion)).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn placeholders_mark_a_synopsis() {
    for token in ["FILE", "N", "W.safetensors", "FILE.png", "[--seed", "bash|zsh", "…", "<DIR>", "LR[,LR…]"]
    {
        assert!(is_placeholder(token), "{token}");
    }
    for token in [
        "--data",
        "fashion",
        "w.safetensors",
        "0.001..1:log",
        "--start=-5,-2",
        "128x64",
        "--lr",
        "gd,momentum",
    ] {
        assert!(!is_placeholder(token), "{token}");
    }
}

#[test]
fn blocks_tables_sentences_and_markers_are_read() {
    let md = "\
```text
$ nnopt autograd
a
```
```text
$ nnopt mlp   # the end
…
```
Run `nnopt perceptron --seed 1` or `nnopt train [--data DIR]`.

| `nnopt descent --plot d.png` | `nnopt train [--data DIR]` |

<!-- docs-test: --epochs 2 -->
```sh
nnopt train --data fashion --epochs 20   # long
scripts/run tour
```
```text
  $ nnopt info
  x
```
";
    let got: Vec<(String, Option<Claim>)> =
        shown(md).into_iter().map(|s| (s.args.join(" "), s.expected)).collect();
    let want = vec![
        ("autograd".to_string(), Some(Claim::Exactly("a".into()))),
        ("mlp".to_string(), Some(Claim::Lines(Vec::new()))),
        ("descent --plot d.png".to_string(), None),
        ("train --data fashion --epochs 2".to_string(), None),
        ("tour".to_string(), None),
        ("info".to_string(), Some(Claim::Exactly("x".into()))),
    ];
    assert_eq!(got, want);
    // A marker adds a flag the command lacks.
    let added = shown("<!-- docs-test: --epochs 2 -->\n| `nnopt train --data fashion` |\n");
    assert_eq!(added[0].args.join(" "), "train --data fashion --epochs 2");
}

#[test]
fn abridged_lines_must_appear_in_order() {
    let printed: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
    let want = |lines: &[&str]| lines.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    assert_eq!(holds_in_order(&printed, &want(&["a", "c"])), None);
    assert_eq!(holds_in_order(&printed, &want(&["c", "a"])), Some("a".to_string()));
    assert_eq!(holds_in_order(&printed, &want(&["b", "x"])), Some("x".to_string()));
    let cut: Vec<String> = ["the loss rose over epochs 3–35 (14.47 → 28.32)"].map(String::from).to_vec();
    assert_eq!(holds_in_order(&cut, &want(&["the loss rose over…"])), None);
    assert_eq!(holds_in_order(&cut, &want(&["the loss fell…"])), Some("the loss fell…".to_string()));
}

#[test]
fn numbers_agree_to_a_last_digit_and_text_exactly() {
    assert!(same_line("loss 0.884317 before, 14 of 32", "loss 0.884318 before, 14 of 32"));
    assert!(
        !same_line("loss 0.884317 before, 13 of 32", "loss 0.884318 before, 14 of 32"),
        "counts are exact"
    );
    assert!(!same_line("loss 0.8843 before", "loss 0.8853 before"), "a real change");
    assert!(!same_line("loss 0.884318 after", "loss 0.884318 before"));
    assert!(!same_line("loss 0.884318", "loss 0.884318 before"), "a missing word");
    assert!(same_line("epochs 3–35 (14.471106 → 28.319635) and more", "epochs 3–35 (14.471110 → 28.319…"));
    assert!(same_line("-2.229e-2 at [11, 119]", "-2.229e-2 at [11, 119]"));
    assert!(!same_line("-2.229e-2 at [11, 118]", "-2.229e-2 at [11, 119]"));
    assert_eq!(
        tokens("a -1.5e-3 b"),
        vec![Token::Text("a "), Token::Number(-1.5e-3, "-1.5e-3"), Token::Text(" b")]
    );
}

/// The README is short enough to read, and its first code block is what a newcomer on a fresh
/// machine needs: one command that sets up, builds and runs the main job, one that passes the
/// tests.
#[test]
fn the_readme_is_short_and_starts_with_the_two_newcomer_commands() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(readme.lines().count() <= 200, "README.md has {} lines", readme.lines().count());
    let first = readme.split("```").nth(1).expect("a code block");
    let commands: Vec<&str> = first
        .lines()
        .skip(1)
        .map(|l| l.split(" #").next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(commands, ["scripts/run tour", "scripts/test"], "{first}");
    assert!(
        readme.contains("cargo install --path .") && readme.contains("cargo run --release -- perceptron")
    );
}
