//! The docs cannot lie: every `nnopt …` command that README.md and docs/*.md show in a code
//! block or a table runs as written and exits 0, and every output block that
//! starts with `$ nnopt …` and is not abridged prints exactly what the block shows.
//!
//! - A command naming a placeholder (`FILE`, `N`, `W.safetensors`, `[…]`, `a|b`, `<…>`) is a
//!   synopsis, not a command, and is not run.
//! - An output block is abridged when it holds `…` or its command line carries a `# comment`;
//!   its command still runs.
//! - `<!-- docs-test: --epochs 2 -->` before a block makes the test run that block's commands
//!   with those flag values where the command has the flag (long runs, shortened).
//! - Each document's commands run in order, in one scratch directory, so a later command can
//!   read what an earlier one wrote (`--save w.safetensors`, then `--weights w.safetensors`).

use crate::common::{fashion_dir, nnopt_command, scratch};
use std::path::Path;

/// One command a document shows, and the output it claims, if it claims one in full.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    /// The arguments after `nnopt`, overrides applied.
    pub args: Vec<String>,
    pub expected: Option<String>,
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

/// The command line's arguments, without a trailing `# comment`, overrides applied; `None`
/// for a synopsis.
fn command(line: &str, changes: &[(String, String)]) -> Option<Vec<String>> {
    let line = line.split(" #").next().unwrap_or(line).trim();
    let mut args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    if args.is_empty() || args.iter().any(|a| is_placeholder(a)) {
        return None;
    }
    for (flag, value) in changes {
        if let Some(i) = args.iter().position(|a| a == flag) {
            if i + 1 < args.len() {
                args[i + 1] = value.clone();
            }
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
                        if let Some(args) = command(rest, &changes) {
                            found.push(Shown { args, expected: (!abridged).then(|| output.join("\n")) });
                        }
                    }
                }
                "sh" | "bash" | "console" => {
                    for l in &block {
                        if let Some(args) =
                            l.trim().strip_prefix("nnopt ").and_then(|rest| command(rest, &changes))
                        {
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
                if let Some(args) = span.strip_prefix("nnopt ").and_then(|rest| command(rest, &changes)) {
                    found.push(Shown { args, expected: None });
                }
            }
        }
    }
    found
}

/// Runs every command of one document; returns what went wrong, one line per command.
fn check(document: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(document).unwrap();
    let name = document.file_name().unwrap().to_string_lossy().to_string();
    let dir = scratch(&format!("docs-{name}"));
    let mut seen: Vec<Vec<String>> = Vec::new();
    let mut problems = Vec::new();
    for Shown { args, expected } in shown(&text) {
        // A command shown twice without an output to compare runs once.
        if expected.is_none() && seen.contains(&args) {
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
        if let Some(expected) = expected {
            let printed: Vec<String> =
                String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim_end().to_string()).collect();
            if printed.join("\n").trim_end() != expected.trim_end() {
                problems.push(format!(
                    "{shown_as}: the block is stale (scripts/refresh-readme rewrites it); nnopt printed:\n{}",
                    printed.join("\n")
                ));
            }
        }
    }
    problems
}

#[test]
fn every_command_the_docs_show_runs_and_prints_what_they_show() {
    if fashion_dir("every_command_the_docs_show_runs_and_prints_what_they_show").is_none() {
        return;
    }
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
    assert!(readme.iter().filter(|s| s.expected.is_some()).count() >= 2, "{readme:?}");
    let problems: Vec<String> = documents.iter().flat_map(|d| check(d)).collect();
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
    let got: Vec<(String, Option<&str>)> =
        shown(md).iter().map(|s| (s.args.join(" "), s.expected.as_deref().map(|_| "expected"))).collect();
    let want = vec![
        ("autograd".to_string(), Some("expected")),
        ("mlp".to_string(), None),
        ("descent --plot d.png".to_string(), None),
        ("train --data fashion --epochs 2".to_string(), None),
        ("info".to_string(), Some("expected")),
    ];
    assert_eq!(got, want);
    assert_eq!(shown(md)[0].expected.as_deref(), Some("a"));
    assert_eq!(shown(md)[5].expected.as_deref(), Some("x"));
}
