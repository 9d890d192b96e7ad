//! Verdicts against what really happened. Each run cut at a step count is judged; the oracle is
//! the same run continued (the same command with more `--steps`: the runs are deterministic, so
//! its trajectory extends the cut one), read with this file's own arithmetic — none of the
//! judge's code.

use serde_json::Value;

use crate::common::nnopt_json;

/// The settings scanned, each with the step counts it is cut at: the default surface with every
/// gradient optimizer and the ill-conditioned valley at every count from 1 to 60; RMSprop at
/// its step-size floor and momentum at three μ at every third (their runs never come to rest,
/// so each is continued the judge's whole 5 000 steps).
const SETTINGS: &[(&[&str], usize)] = &[
    (&["--surface", "cosine"], 1),
    (&["--surface", "ill-conditioned"], 1),
    (&["--surface", "cosine", "--optimizers", "rmsprop", "--lr", "1", "--start=-9.907"], 3),
    (&["--surface", "cosine", "--optimizers", "momentum,momentum,momentum", "--momentum", "0.5,0.8,0.99"], 3),
];

/// The oracle's run length: past every cut and the judge's own continuation.
const LONG: usize = 6000;

fn runs(setting: &[&str], steps: usize) -> Vec<Value> {
    let steps = steps.to_string();
    let args = [&["--json", "descent"], setting, &["--steps", &steps]].concat();
    nnopt_json(&args)["runs"].as_array().unwrap().clone()
}

fn points(run: &Value) -> Vec<Vec<f64>> {
    serde_json::from_value(run["trajectory"].clone()).unwrap()
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt()
}

/// The steps at which the path turns back (the move in and the move out point apart).
fn turning_points(path: &[Vec<f64>]) -> Vec<usize> {
    let moves: Vec<Vec<f64>> =
        path.windows(2).map(|p| p[1].iter().zip(&p[0]).map(|(b, a)| b - a).collect()).collect();
    (0..moves.len().saturating_sub(1))
        .filter(|&k| moves[k].iter().zip(&moves[k + 1]).map(|(a, b)| a * b).sum::<f64>() < 0.0)
        .map(|k| k + 1)
        .collect()
}

#[test]
fn every_cut_run_s_verdict_is_what_continuing_it_shows() {
    let checked: usize = std::thread::scope(|scope| {
        let scans: Vec<_> =
            SETTINGS.iter().map(|&(setting, every)| scope.spawn(move || scan(setting, every))).collect();
        scans.into_iter().map(|s| s.join().unwrap()).sum()
    });
    assert!(checked > 250, "only {checked} cut runs ran out of steps");
}

/// Checks every cut of one setting; returns how many ran out of steps.
fn scan(setting: &[&str], every: usize) -> usize {
    let mut checked = 0;
    {
        let long = runs(setting, LONG);
        for n in (1..=60).filter(|n| n % every == 0 || *n <= 3) {
            for (i, cut) in runs(setting, n).iter().enumerate() {
                let end = &cut["final"];
                let whole = points(&long[i]);
                let path = points(cut);
                assert_eq!(
                    path[..],
                    whole[..path.len()],
                    "{setting:?} --steps {n}: the long run extends the cut one"
                );
                if end["status"] != "max-steps" {
                    continue;
                }
                checked += 1;
                let what = format!("{setting:?} --steps {n}, run {i}: {}", cut["outcome"]);
                let said = cut["outcome"].as_str().unwrap();
                let optimizer = cut["optimizer"].as_str().unwrap();
                // Never a basin from the position alone for a run with velocity or moments.
                if optimizer != "gd" {
                    assert!(end["basin"].is_null() && !said.contains("basin"), "{what}");
                }
                // An oscillation is never told as crawling, and has its turning points.
                if end["motion"] == "oscillating" {
                    assert!(!said.contains("crawling"), "{what}");
                }
                // The swing's size against the swings the continued run makes next: the widest of
                // the next four widths (turning point to turning point) against the widest of the
                // last four before the cut — the envelope, as a 2-D zigzag's widths alternate.
                if let Some(amplitude) = end["oscillation"]["amplitude"].as_str() {
                    let turns: Vec<usize> = turning_points(&whole);
                    let split = turns.iter().position(|&t| t >= path.len() - 1).unwrap_or(turns.len());
                    let width = |k: usize| distance(&whole[turns[k]], &whole[turns[k + 1]]);
                    let widest = |ks: std::ops::Range<usize>| ks.map(width).fold(0.0, f64::max);
                    if split >= 2 && turns.len() > split {
                        let last = widest(split.saturating_sub(5)..split - 1);
                        let next = widest(split - 1..(split + 3).min(turns.len() - 1));
                        match amplitude {
                            "growing" => assert!(next > 0.95 * last, "{what}: next swings {next} < {last}"),
                            "shrinking" => assert!(next < 1.05 * last, "{what}: next swings {next} > {last}"),
                            "steady" => assert!((next / last - 1.0).abs() < 0.1, "{what}: {next} vs {last}"),
                            _ => {}
                        }
                    }
                }
                // Where it is heading: where the continued run really comes to rest.
                let heading = &end["heading"];
                let rest = &long[i]["final"];
                match heading["to"].as_str() {
                    Some("minimum") => {
                        let m: Vec<f64> =
                            serde_json::from_value(heading["minimum"]["point"].clone()).unwrap();
                        let at: Vec<f64> = serde_json::from_value(rest["point"].clone()).unwrap();
                        assert_eq!(rest["status"], "converged", "{what}");
                        assert!(distance(&m, &at) < 1e-3, "{what}: it comes to rest at {at:?}");
                        let after = heading["after_steps"].as_u64().unwrap() as usize;
                        assert_eq!(rest["steps"].as_u64().unwrap() as usize, n + after, "{what}");
                    }
                    Some("unknown") => assert!(
                        rest["status"] != "converged" || rest["steps"].as_u64().unwrap() as usize > n + 5000,
                        "{what}: it comes to rest: {rest}"
                    ),
                    Some("away") => assert_eq!(rest["status"], "diverged", "{what}"),
                    other => assert!(other.is_some(), "{what}: no heading"),
                }
                // "Still descending" means the continued run's loss goes lower.
                if end["motion"] == "descending" {
                    let losses: Vec<f64> = serde_json::from_value(long[i]["losses"].clone()).unwrap();
                    let later = losses[path.len() - 1..].iter().copied().fold(f64::INFINITY, f64::min);
                    assert!(later < end["loss"].as_f64().unwrap(), "{what}");
                }
            }
        }
    }
    checked
}
