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
                            "growing" => assert!(next > last, "{what}: next swings {next} ≤ {last}"),
                            "shrinking" => assert!(next < last, "{what}: next swings {next} ≥ {last}"),
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
                // "Still descending" means the loss is falling at the cut (not higher than two steps
                // before) and the continued run's goes lower.
                let losses: Vec<f64> = serde_json::from_value(long[i]["losses"].clone()).unwrap();
                let k = path.len() - 1;
                if end["motion"] == "descending" {
                    let later = losses[k..].iter().copied().fold(f64::INFINITY, f64::min);
                    assert!(later < end["loss"].as_f64().unwrap(), "{what}");
                    assert!(
                        k < 2 || losses[k] <= losses[k - 2],
                        "{what}: its loss rose over its last two steps"
                    );
                }
                // "Climbing (the loss rose over its last steps)": its last step rose.
                if end["motion"] == "climbing" {
                    assert!(losses[k] > losses[k - 1], "{what}: its last step fell");
                }
                // "Travelling": it never turned back.
                if end["motion"] == "travelling" {
                    assert!(turning_points(&path).is_empty(), "{what}: it turned back");
                }
            }
        }
    }
    checked
}

/// `nnopt --json ARGS` and what it warned on stderr.
fn json_and_warnings(args: &[&str]) -> (Value, String) {
    let out = crate::common::nnopt(&[&["--json"], args].concat());
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    (serde_json::from_slice(&out.stdout).unwrap(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn the_perceptron_s_unit_is_told_as_it_lived() {
    // --lr 10: dead at the end, and the test predictions (not the training ones) are huge.
    let (v, said) = json_and_warnings(&["perceptron", "--seed", "0", "--lr", "10"]);
    assert_eq!(v["life"]["life"], "died", "{}", v["life"]);
    assert!(said.contains("every training prediction is 0"), "{said}");
    // --lr 0.01: dead at epochs 1 and 50 already, revived each time, dead from epoch 100.
    let (v, said) = json_and_warnings(&["perceptron", "--seed", "0", "--lr", "0.01"]);
    assert_eq!(v["life"]["epoch"], 100);
    let spells: Vec<[usize; 2]> = serde_json::from_value(v["life"]["spells"].clone()).unwrap();
    let dead_at = |e: usize| spells.iter().any(|[a, b]| (*a..=*b).contains(&e));
    assert!(dead_at(1) && dead_at(50), "{spells:?}");
    // Every rise the losses show, found by this test's own scan: each is reported.
    let losses: Vec<f64> = std::iter::once(v["initial"]["loss"].as_f64().unwrap())
        .chain(v["history"].as_array().unwrap().iter().map(|r| r["loss"].as_f64().unwrap()))
        .collect();
    let rises: Vec<usize> =
        v["rises"].as_array().unwrap().iter().map(|r| r["peak_epoch"].as_u64().unwrap() as usize).collect();
    for e in [33, 36, 38, 95, 99] {
        if losses[e] > 1.1 * losses[e - 1] {
            let covered = v["rises"].as_array().unwrap().iter().any(|r| {
                (r["from_epoch"].as_u64().unwrap() as usize) < e
                    && e <= r["peak_epoch"].as_u64().unwrap() as usize
            });
            assert!(covered, "epoch {e}'s rise is not reported: {rises:?}");
        }
    }
    assert!(said.contains("died at epoch 100") && said.contains("epoch(s) in all"), "{said}");
    // --seed 12: the climb over the last 50 epochs is reported, still going at the end.
    let (v, _) = json_and_warnings(&["perceptron", "--seed", "12"]);
    let last = v["rises"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["still_rising"], true, "{last}");
    // A rate float32 rounds to 0 is a usage error, not "the step was too large".
    crate::common::assert_usage_error(&["perceptron", "--epochs", "2", "--lr", "1e-320"], "--lr");
}

#[test]
fn autograd_reasons_in_the_float32_it_computed() {
    let text = crate::common::nnopt_ok(&["autograd", "--x", "3", "--w", "0.1", "--b", "-0.3"]);
    assert!(text.contains("= 0 in float32") && !text.contains("> 0, so relu'(z) = 1"), "{text}");
    // Close to the kink but not on it: the central difference straddles it, and says so.
    let text = crate::common::nnopt_ok(&["autograd", "--x", "1", "--w", "0.5", "--b", "-0.4999999"]);
    assert!(text.contains("straddle") || text.contains("within the central difference's step"), "{text}");
}

#[test]
fn train_advises_only_what_its_losses_show() {
    // Too small a rate: the loss barely left ln(10), so raise it — never "lower".
    let (v, said) = json_and_warnings(&[
        "train",
        "--data",
        "synthetic:2000,2000",
        "--epochs",
        "3",
        "--lr",
        "3e-6",
        "--momentum",
        "0",
    ]);
    assert_eq!(v["at_chance"], true);
    assert!(said.contains("raise --lr") && !said.contains("lower --lr"), "{said}");
    // 11.8 % on 500 images: chance by the exact binomial (73 right needed), as sweep says.
    let (v, said) =
        json_and_warnings(&["train", "--data", "synthetic:2000,500", "--epochs", "2", "--lr", "1e-7"]);
    assert_eq!(v["verdict"]["chance"]["needed"], 73);
    assert!(v["at_chance"] == true && said.contains("no better than chance"), "{said}");
    // A network that answers one class: named.
    let (v, said) = json_and_warnings(&[
        "train",
        "--data",
        "synthetic:2000,500",
        "--epochs",
        "4",
        "--batch-size",
        "32",
        "--lr",
        "1",
    ]);
    let collapse = &v["verdict"]["collapse"];
    assert!(collapse["share"].as_f64().unwrap() >= 0.5, "{v}");
    assert!(said.contains("collapsed onto one class"), "{said}");
}

/// The grid of the issue at seeds 0–4: the width's "effect" changes sign from seed to seed, so
/// it is never called real; the learning rate's always is.
#[test]
fn a_grid_credits_lr_and_not_a_width_that_seed_noise_moves() {
    let Some(dir) =
        crate::common::fashion_dir("verdicts::a_grid_credits_lr_and_not_a_width_that_seed_noise_moves")
    else {
        return;
    };
    // The grid: two rates, two widths, one epoch.
    let grid = [
        "-q",
        "sweep",
        "--data",
        dir,
        "--strategy",
        "grid",
        "--lr",
        "0.001,0.3",
        "--hidden",
        "32,33",
        "--epochs",
        "1",
    ];
    for seed in ["0", "1", "2", "3", "4"] {
        let args = [&grid[..], &["--seed", seed]].concat();
        let (v, _) = json_and_warnings(&args);
        let effects = v["analysis"]["effects"].as_array().unwrap();
        let verdict = |name: &str| effects.iter().find(|e| e["name"] == name).unwrap()["verdict"].clone();
        assert_eq!(verdict("lr"), "real", "seed {seed}: {effects:?}");
        assert_ne!(verdict("hidden"), "real", "seed {seed}: {effects:?}");
        assert_eq!(v["analysis"]["seed_noise"]["accuracies"].as_array().unwrap().len(), 3, "seed {seed}");
    }
    // With three seeds per configuration the noise is pooled from every one: the width's
    // interval holds 0, the rate's does not.
    let args = [&grid[..], &["--repeats", "3"]].concat();
    let (v, _) = json_and_warnings(&args);
    assert_eq!(v["trials"].as_array().unwrap().len(), 12);
    let effects = v["analysis"]["effects"].as_array().unwrap();
    let effect = |name: &str| effects.iter().find(|e| e["name"] == name).unwrap().clone();
    let hidden = &effect("hidden")["interval"];
    assert!(hidden["low"].as_f64().unwrap() < 0.0 && hidden["high"].as_f64().unwrap() > 0.0, "{hidden}");
    assert_eq!(effect("lr")["verdict"], "real");
    assert_eq!(v["analysis"]["seed_noise"]["configurations"], 4);
    crate::common::assert_usage_error(&["sweep", "--strategy", "random", "--repeats", "2"], "--repeats");
}

#[test]
fn a_random_sweep_ranks_a_cliff_above_a_width() {
    let Some(dir) = crate::common::fashion_dir("verdicts::a_random_sweep_ranks_a_cliff_above_a_width") else {
        return;
    };
    let args = [
        "-q",
        "sweep",
        "--data",
        dir,
        "--strategy",
        "random",
        "--trials",
        "16",
        "--epochs",
        "1",
        "--lr",
        "0.001..0.3:log",
        "--hidden",
        "32,33",
    ];
    let (v, _) = json_and_warnings(&args);
    let effects = v["analysis"]["effects"].as_array().unwrap();
    assert_eq!(effects[0]["name"], "lr", "{effects:?}");
    assert!(effects[0]["size"].as_f64().unwrap() > effects[1]["size"].as_f64().unwrap());
}

#[test]
fn halving_with_factor_3_plans_as_scikit_learn() {
    // scripts/reference/halving.py: 27 candidates, 9 epochs, factor 3 → 27×1, 9×3, 3×9.
    let (v, _) = json_and_warnings(&[
        "-q",
        "sweep",
        "--data",
        "synthetic:600,200",
        "--strategy",
        "halving",
        "--trials",
        "27",
        "--epochs",
        "9",
        "--factor",
        "3",
    ]);
    let rungs: Vec<(usize, u64)> = v["rungs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["results"].as_array().unwrap().len(), r["epochs"].as_u64().unwrap()))
        .collect();
    assert_eq!(rungs, [(27, 1), (9, 3), (3, 9)]);
}

/// What a sentence about a run says, for the scan below.
const VERDICT_WORDS: &[&str] = &[
    "converged",
    "diverged",
    "diverging",
    "oscillat",
    "heading",
    "died",
    "dead",
    "at chance",
    "than chance",
    "within noise",
    "real effect",
    "clear effect",
    "lower --lr",
    "raise --lr",
    "collapsed",
    "crawling",
    "still descending",
    "still rising",
    "learned nothing",
    "the loss rose",
];

/// Sentences outside the judge that use those words for something other than a run's verdict.
const NOT_VERDICTS: &[(&str, &str)] = &[
    // A usage error about --tol: what a point would count as, not what a run did.
    ("src/descent/mod.rs", "converged"),
    // A weights file holding NaN: a damaged file, whatever made it.
    ("src/weights.rs", "diverged"),
    // `depth`'s word list: the glossary's term "dead unit", not a claim about a run.
    ("src/depth/render.rs", "dead"),
    // The tour's word lists, the same glossary term.
    ("src/tour.rs", "dead"),
];

/// The string literals of Rust source outside comments and test modules.
fn literals(source: &str) -> Vec<String> {
    let code = match source.find("#[cfg(test)]\nmod ") {
        Some(at) => &source[..at],
        None => source,
    };
    let code: String =
        code.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    let (mut out, mut current, mut inside, mut escaped) = (Vec::new(), String::new(), false, false);
    let chars: Vec<char> = code.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !inside {
            // '"' is a character, not a string.
            if c == '"' && !(i > 0 && chars[i - 1] == '\'' && chars.get(i + 1) == Some(&'\'')) {
                inside = true;
            }
            continue;
        }
        match (c, escaped) {
            (_, true) => escaped = false,
            ('\\', false) => escaped = true,
            ('"', false) => {
                inside = false;
                out.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    out
}

/// Every claim about what a run did is worded in src/judge: a sentence with a verdict's words
/// (more than one word: a status's name is a label) anywhere else fails here.
#[test]
fn no_verdict_is_worded_outside_the_judge() {
    fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = Vec::new();
    files(&root.join("src"), &mut sources);
    let mut found = Vec::new();
    for path in sources {
        let name = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
        if name.starts_with("src/judge/") || name.ends_with("_tests.rs") {
            continue;
        }
        for literal in literals(&std::fs::read_to_string(&path).unwrap()) {
            let text = literal.to_lowercase();
            for word in VERDICT_WORDS {
                if text.contains(' ') && text.contains(word) && !NOT_VERDICTS.contains(&(name.as_str(), word))
                {
                    found.push(format!("{name}: \"{literal}\" ({word})"));
                }
            }
        }
    }
    assert!(found.is_empty(), "verdicts worded outside src/judge:\n{}", found.join("\n"));
    // The scan sees what it must: the judge's own files hold these words.
    let judge = literals(&std::fs::read_to_string(root.join("src/judge/descent.rs")).unwrap()).join(" ");
    assert!(judge.contains("oscillating") && judge.contains("converged"));
}

/// `--repeats` is a column of the grid: the table, the CSV and `--resume` all carry it, and a
/// resumed sweep trains nothing again.
#[test]
fn repeats_are_a_column_the_journal_resumes() {
    let dir = crate::common::scratch("verdicts_repeats");
    let csv = dir.join("r.csv");
    let csv = csv.to_str().unwrap();
    let args = [
        "-q",
        "sweep",
        "--data",
        "synthetic:600,200",
        "--strategy",
        "grid",
        "--lr",
        "0.05,0.2",
        "--epochs",
        "1",
        "--repeats",
        "2",
    ];
    let (v, _) = json_and_warnings(&[&args[..], &["--csv", csv]].concat());
    assert_eq!(v["trials"].as_array().unwrap().len(), 4);
    let header = std::fs::read_to_string(csv).unwrap().lines().nth(1).unwrap().to_string();
    assert!(header.starts_with("lr,seed,"), "{header}");
    let (again, _) = json_and_warnings(&[&args[..], &["--resume", csv]].concat());
    assert!(again["trials"].as_array().unwrap().iter().all(|t| t["resumed"] == true), "{again}");
    let text = crate::common::nnopt_ok(&[&args[..], &["--resume", csv]].concat());
    assert!(text.contains("seed"), "the table shows the seed column:\n{text}");
}

/// The two descent sentences that said too little: a run that ended at the local
/// minimum to every printed digit says how close, and one that converged after swinging says
/// for how long.
#[test]
fn descent_says_how_near_and_how_long_it_swung() {
    let runs = |args: &[&str]| {
        nnopt_json(&[&["--json", "descent"], args].concat())["runs"].as_array().unwrap().clone()
    };
    let gd = runs(&["--lr", "0.05", "--optimizers", "gd"]).remove(0);
    let near = &gd["final"]["near"];
    assert!(near["distance"].as_f64().unwrap() < 1e-3 && near["minimum"]["global"] == false, "{gd}");
    assert!(
        gd["outcome"].as_str().unwrap().contains("from the local minimum at -1.8257"),
        "{}",
        gd["outcome"]
    );
    let gd = runs(&["--lr", "2", "--optimizers", "gd"]).remove(0);
    assert_eq!(gd["final"]["status"], "converged");
    let swung = &gd["final"]["swung"];
    // This test's own count of the turns, from the trajectory.
    let path = points(&gd);
    assert_eq!(swung["turns"].as_u64().unwrap() as usize, turning_points(&path).len(), "{swung}");
    assert!(gd["outcome"].as_str().unwrap().contains("after swinging around it"), "{}", gd["outcome"]);
}

/// Fashion-MNIST at --lr 2: a network that calls almost every image one class is told so, by name.
#[test]
fn a_collapsed_fashion_network_is_named() {
    let Some(dir) = crate::common::fashion_dir("verdicts::a_collapsed_fashion_network_is_named") else {
        return;
    };
    let (v, said) = json_and_warnings(&["train", "--data", dir, "--lr", "2", "--epochs", "2"]);
    let collapse = &v["verdict"]["collapse"];
    let name = collapse["name"].as_str().unwrap_or_else(|| panic!("no collapse: {}", v["verdict"]));
    // This test's own count: the most frequent answer's share, from the confusion matrix.
    let m: Vec<Vec<i64>> = serde_json::from_value(v["final"]["confusion_matrix"].clone()).unwrap();
    let total: i64 = m.iter().flatten().sum();
    let most = (0..m.len()).map(|c| m.iter().map(|r| r[c]).sum::<i64>()).max().unwrap();
    assert!((collapse["share"].as_f64().unwrap() - most as f64 / total as f64).abs() < 1e-12);
    assert!(said.contains(&format!("answers \"{name}\"")), "{said}");
}
