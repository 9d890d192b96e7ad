//! `nnopt tour`: every part, in the notebook's order, each with its own command's output.

use std::time::Instant;

use crate::common::{nnopt, nnopt_json};

#[test]
fn the_tour_runs_every_part_in_order_with_each_commands_output() {
    let started = Instant::now();
    let out = nnopt(&["--device", "cpu", "--quiet", "tour"]);
    let seconds = started.elapsed().as_secs_f64();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    // Each part's heading, then a line only that part's command prints, in this order.
    let marks = [
        "━━ Part 1 of 8: What the notebook claims",
        "━━ Part 2 of 8: A perceptron",
        "$ nnopt perceptron --every 25",
        "# the loss rose over epochs",
        "━━ Part 3 of 8: Autograd",
        "grad(a, w) = (tensor([5.]),)",
        "━━ Part 4 of 8: An MLP",
        "<MseLossBackward0 object>",
        "━━ Part 5 of 8:",
        "momentum: converged to the global minimum",
        "━━ Part 6 of 8: Where the gradient falls short",
        "random-search: sampled",
        "━━ Part 7 of 8:",
        "best: trial",
        "━━ Part 8 of 8: The notebook's optimizer on real images",
        "recipe: plain SGD",
        "final test accuracy",
    ];
    let mut from = 0;
    for mark in marks {
        let at =
            text[from..].find(mark).unwrap_or_else(|| panic!("`{mark}` missing or out of order in:\n{text}"));
        from += at + mark.len();
    }
    // Piped, it never waits. How long it takes is measured, not asserted: a debug build on a
    // machine busy with the other tests says nothing about the tour's speed.
    eprintln!("the tour took {seconds:.1} s (debug build)");
}

#[test]
fn the_tour_as_json_carries_each_parts_own_document() {
    let doc = nnopt_json(&["--device", "cpu", "--json", "--quiet", "tour", "--part", "5"]);
    let parts = doc["parts"].as_array().unwrap();
    let numbers: Vec<u64> = parts.iter().map(|p| p["number"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [5, 6, 7, 8]);
    assert_eq!(parts[0]["command"][0], "descent");
    assert_eq!(parts[0]["result"]["runs"][1]["final"]["minimum"]["global"], true, "{}", parts[0]["result"]);
    assert!(parts[3]["result"]["final"]["test_accuracy"].as_f64().unwrap() > 0.5);
}
