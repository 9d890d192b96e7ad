//! `nnopt tour`: every part, in the notebook's order, each with its own command's output.

use std::time::Instant;

use crate::common::{nnopt, nnopt_json};

#[test]
fn the_tour_runs_every_part_in_order_with_each_commands_output() {
    let started = Instant::now();
    let pictures = crate::common::scratch("tour-pictures").join("new");
    let out = nnopt(&["--device", "cpu", "--quiet", "tour", "--plots", pictures.to_str().unwrap()]);
    let seconds = started.elapsed().as_secs_f64();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    // Each part's heading, then a line only that part's command prints, in this order.
    let marks = [
        "━━ Part 1 of 11: What the notebook claims",
        "━━ Part 2 of 11: A perceptron",
        "$ nnopt perceptron --plot ",
        "seed 7",
        "━━ Part 3 of 11: What can go wrong: a loss that rises",
        "$ nnopt perceptron --seed 0 --every 25 --plot ",
        "# the loss rose over epochs",
        "━━ Part 4 of 11: Autograd",
        "grad(a, w) = (tensor([5.]),)",
        "━━ Part 5 of 11: An MLP",
        "<MseLossBackward0 object>",
        "━━ Part 6 of 11: Deep networks are harder to optimize",
        "the gradient's size at each layer",
        "━━ Part 7 of 11:",
        "momentum: converged to the global minimum",
        "━━ Part 8 of 11: Where the gradient falls short",
        "random-search: sampled",
        "━━ Part 9 of 11: Brute force against dimension",
        "(computed)",
        "━━ Part 10 of 11:",
        "best: trial",
        "━━ Part 11 of 11: The notebook's optimizer on real images",
        "recipe: plain SGD",
        "final test accuracy",
    ];
    let mut from = 0;
    for mark in marks {
        let at =
            text[from..].find(mark).unwrap_or_else(|| panic!("`{mark}` missing or out of order in:\n{text}"));
        from += at + mark.len();
    }
    // --plots: every part that runs a command drew its picture, named by part, as the command
    // line above its output says (a directory made for them).
    let drawn: Vec<String> = std::fs::read_dir(&pictures)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(drawn.len(), 10, "parts 2–11: {drawn:?}");
    for part in 2..=11 {
        let name =
            drawn.iter().find(|n| n.starts_with(&format!("part{part:02}-"))).expect("a picture per part");
        let bytes = std::fs::read(pictures.join(name)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 5_000, "{name}: {} bytes", bytes.len());
        assert!(
            text.contains(&pictures.join(name).display().to_string()),
            "{name} is not in a part's command line"
        );
    }
    // Piped, it never waits. How long it takes is measured, not asserted: a debug build on a
    // machine busy with the other tests says nothing about the tour's speed.
    eprintln!("the tour took {seconds:.1} s (debug build)");
}

#[test]
fn the_tour_as_json_carries_each_parts_own_document() {
    let doc = nnopt_json(&["--device", "cpu", "--json", "--quiet", "tour", "--part", "7"]);
    let parts = doc["parts"].as_array().unwrap();
    let numbers: Vec<u64> = parts.iter().map(|p| p["number"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [7, 8, 9, 10, 11]);
    assert_eq!(parts[0]["command"][0], "descent");
    assert_eq!(parts[0]["result"]["runs"][1]["final"]["minimum"]["global"], true, "{}", parts[0]["result"]);
    assert!(parts[4]["result"]["final"]["test_accuracy"].as_f64().unwrap() > 0.5);
}

/// `--plots` naming a file is refused before any part runs, naming the flag.
#[test]
fn plots_into_a_file_is_a_usage_error() {
    let dir = crate::common::scratch("tour-plots-file");
    let file = dir.join("pictures");
    std::fs::write(&file, "not a directory").unwrap();
    let out = nnopt(&["--device", "cpu", "tour", "--plots", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--plots") && stderr.contains("not a directory") && out.stdout.is_empty(),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a directory");
}
