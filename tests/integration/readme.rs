//! The README cannot lie: every output block it shows that starts with `$ nnopt …` (and is not
//! marked as abridged with `…` or a `#` comment) is run as written and must print exactly what
//! the block shows.

use crate::common::nnopt;

/// (command line, expected output) for each unabridged `$ nnopt` block of a ```text fence.
fn shown_runs(markdown: &str) -> Vec<(String, String)> {
    let mut runs = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "```text" {
            continue;
        }
        let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        let Some(first) = block.first().map(|l| l.trim()) else { continue };
        let abridged = block.iter().any(|l| l.contains('…')) || first.contains('#') || first.ends_with('\\');
        if let (Some(command), false) = (first.strip_prefix("$ nnopt "), abridged) {
            // Blocks inside a list item are indented like it.
            let indent = block[0].len() - block[0].trim_start().len();
            let output: Vec<&str> =
                block[1..].iter().map(|l| l.get(indent..).unwrap_or("").trim_end()).collect();
            runs.push((command.to_string(), output.join("\n")));
        }
    }
    runs
}

#[test]
fn every_output_the_readme_shows_is_what_nnopt_prints() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let runs = shown_runs(&readme);
    assert!(runs.len() >= 5, "the README's descent examples are found: {runs:?}");
    for (command, expected) in runs {
        let args: Vec<&str> = ["--device", "cpu"].into_iter().chain(command.split_whitespace()).collect();
        let out = nnopt(&args);
        assert!(out.status.success(), "nnopt {command}: {}", String::from_utf8_lossy(&out.stderr));
        let printed: Vec<String> =
            String::from_utf8(out.stdout).unwrap().lines().map(|l| l.trim_end().to_string()).collect();
        assert_eq!(
            printed.join("\n").trim_end(),
            expected.trim_end(),
            "README block `$ nnopt {command}` is stale"
        );
    }
}

#[test]
fn abridged_blocks_are_skipped_and_indented_ones_read() {
    let md = "```text\n$ nnopt a\nx\n```\n  ```text\n  $ nnopt b\n  y\n  ```\n```text\n$ nnopt c\n…\n```\n";
    assert_eq!(shown_runs(md), [("a".to_string(), "x".to_string()), ("b".to_string(), "y".to_string())]);
}
