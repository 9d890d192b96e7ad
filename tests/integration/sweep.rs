//! `nnopt sweep`: the strategies enumerate and sample what they should, reproducibly; halving
//! halves; resume re-runs nothing; the test set is used once; failures do not stop a sweep.

use nnopt::data::{load, DataSource};
use nnopt::sweep::{halving_plan, validation_split, Space, Strategy, SweepConfig};
use serde_json::Value;
use std::time::{Duration, Instant};

use crate::common::{nnopt, nnopt_json, scratch, torch_rng};

const DATA: &str = "synthetic:2000,200";

/// `nnopt sweep` on a small synthetic set, 1 epoch per trial unless `args` says otherwise.
fn sweep(args: &[&str]) -> Value {
    let epochs: &[&str] = if args.contains(&"--epochs") { &[] } else { &["--epochs", "1"] };
    nnopt_json(&[&["--device", "cpu", "--json", "-q", "sweep", "--data", DATA], epochs, args].concat())
}

fn params(v: &Value) -> Vec<Value> {
    v["trials"].as_array().unwrap().iter().map(|t| t["params"].clone()).collect()
}

#[test]
fn grid_enumerates_exactly_the_product() {
    let mut space = Space::default();
    space.add("lr", "0.01,0.05,0.1").unwrap();
    space.add("hidden", "16,32x16").unwrap();
    space.add("weight_decay", "0.0001..0.01:log").unwrap();
    let config = SweepConfig { strategy: Strategy::Grid, space, grid_points: 3, ..Default::default() };
    let grid = config.space.grid(3, &config.base());
    assert_eq!(grid.len(), 3 * 2 * 3);
    for (i, a) in grid.iter().enumerate() {
        assert!(grid[i + 1..].iter().all(|b| b != a), "grid point {i} repeats");
    }
    // A :log range on a grid is log-spaced: 1e-4, 1e-3, 1e-2.
    let decays: Vec<String> =
        config.space.grid(3, &config.base()).iter().take(3).map(|c| format!("{:?}", c.0[2].1)).collect();
    assert_eq!(decays, ["Float(0.0001)", "Float(0.0010000000000000002)", "Float(0.01)"], "the ends exactly");
    // Through the CLI: the count, and every trial once.
    let v = sweep(&["--strategy", "grid", "--lr", "0.05,0.1", "--hidden", "8,16"]);
    assert_eq!(v["trials"].as_array().unwrap().len(), 4);
}

#[test]
fn random_and_tpe_are_reproducible_and_seeded() {
    for strategy in ["random", "tpe"] {
        let run = |seed: &str| {
            sweep(&[
                "--strategy",
                strategy,
                "--trials",
                "5",
                "--startup-trials",
                "2",
                "--seed",
                seed,
                "--lr",
                "0.001..1:log",
                "--batch-size",
                "16..256",
            ])
        };
        let (a, b, c) = (run("3"), run("3"), run("4"));
        assert_eq!(params(&a), params(&b), "{strategy}: same seed, same configurations");
        let accuracies = |v: &Value| {
            v["trials"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["validation_accuracy"].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(accuracies(&a), accuracies(&b), "{strategy}: same seed, same accuracies");
        assert_ne!(params(&a), params(&c), "{strategy}: another seed, other configurations");
        for p in params(&a) {
            let lr = p["lr"].as_f64().unwrap();
            let batch = p["batch_size"].as_i64().unwrap();
            assert!((0.001..=1.0).contains(&lr) && (16..=256).contains(&batch), "{p}");
        }
    }
}

#[test]
fn halving_keeps_the_best_half_and_doubles_the_budget() {
    let plan = |n, e| -> Vec<(usize, usize)> {
        halving_plan(n, e, 2).iter().map(|r| (r.configurations, r.epochs)).collect()
    };
    assert_eq!(plan(8, 8), [(8, 1), (4, 2), (2, 4), (1, 8)]);
    assert_eq!(plan(5, 16), [(5, 1), (3, 2), (2, 4)], "scikit-learn's: rungs end when the candidates do");
    let v = sweep(&["--strategy", "halving", "--trials", "4", "--epochs", "4", "--lr", "0.001..1:log"]);
    let rungs = v["rungs"].as_array().unwrap();
    assert_eq!(rungs.len(), 3);
    for (r, rung) in rungs.iter().enumerate() {
        assert_eq!(rung["epochs"], 1 << r, "budgets double");
        let results = rung["results"].as_array().unwrap();
        assert_eq!(results.len(), 4 >> r, "half continue");
        // Promoted: the best half of this rung by validation accuracy.
        let mut ranked: Vec<(f64, i64)> =
            results.iter().map(|x| (x[1].as_f64().unwrap_or(-1.0), x[0].as_i64().unwrap())).collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        let promoted: Vec<i64> =
            rung["promoted"].as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect();
        if r + 1 < rungs.len() {
            assert_eq!(promoted, ranked.iter().take(promoted.len()).map(|x| x.1).collect::<Vec<_>>());
        }
    }
    // One entry per configuration: three pruned, one trained the full 4 epochs and won.
    let trials = v["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 4);
    // The three others stopped early: pruned, or failed outright (a trial that learned nothing
    // in its rung is recorded as dead or at chance, not as pruned).
    let stopped: Vec<&str> =
        trials.iter().filter(|t| t["status"] != "ok").map(|t| t["status"].as_str().unwrap()).collect();
    assert_eq!(stopped.len(), 3, "{trials:?}");
    assert!(
        stopped.iter().all(|s| ["pruned", "dead", "chance", "diverged", "stalled"].contains(s)),
        "{stopped:?}"
    );
    assert!(stopped.contains(&"pruned"));
    let winner = trials.iter().find(|t| t["status"] == "ok").unwrap();
    assert_eq!(winner["epochs"], 4);
    assert_eq!(v["best"]["trial"], winner["trial"]);
}

#[test]
fn resume_reruns_nothing_finished_and_completes_the_rest() {
    let dir = scratch("sweep_resume");
    let csv = dir.join("s.csv");
    let c = csv.to_str().unwrap();
    let args = ["--strategy", "tpe", "--startup-trials", "2", "--lr", "0.01..0.5:log"];
    let half = sweep(&[&args[..], &["--trials", "3", "--csv", c]].concat());
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap().lines().count(),
        5,
        "the run, a header and one row per trial"
    );
    let full = sweep(&[&args[..], &["--trials", "5", "--resume", c]].concat());
    let resumed: Vec<bool> =
        full["trials"].as_array().unwrap().iter().map(|t| t["resumed"].as_bool().unwrap()).collect();
    assert_eq!(resumed, [true, true, true, false, false]);
    assert_eq!(params(&full)[..3], params(&half)[..]);
    // The same as running the 5 trials in one go: resumed results feed TPE as if just run.
    let fresh = sweep(&[&args[..], &["--trials", "5"]].concat());
    assert_eq!(params(&full), params(&fresh));
    // A finished sweep resumed runs nothing.
    let again = sweep(&[&args[..], &["--trials", "5", "--resume", c]].concat());
    assert!(again["trials"].as_array().unwrap().iter().all(|t| t["resumed"] == true));
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 7);
    // Another seed's sweep, or a tampered row, is refused.
    let resume = |extra: &[&str]| {
        let base = ["--device", "cpu", "sweep", "--data", DATA, "--epochs", "1", "--strategy", "tpe"];
        let search = ["--startup-trials", "2", "--lr", "0.01..0.5:log", "--trials", "5", "--resume", c];
        nnopt(&[&base[..], &search[..], extra].concat())
    };
    let other = resume(&["--seed", "7"]);
    assert_eq!(other.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&other.stderr).contains("resume with the same settings"));
    let text = std::fs::read_to_string(&csv).unwrap();
    let tampered: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let mut cells: Vec<&str> = l.split(',').collect();
            if i == 2 {
                cells[3] = "7.5"; // an accuracy of 750 % (lr, budget_epochs, epochs, accuracy, …)
            }
            cells.join(",")
        })
        .collect();
    std::fs::write(&csv, tampered.join("\n") + "\n").unwrap();
    let out = resume(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("row 3 is malformed"));
}

#[test]
fn a_configuration_drawn_again_takes_its_earlier_result() {
    // Six draws from two choices: some configuration comes up again (pigeonhole).
    let v = sweep(&["--strategy", "random", "--trials", "6", "--hidden", "8,16"]);
    let trials = v["trials"].as_array().unwrap();
    let repeats: Vec<&Value> = trials.iter().filter(|t| !t["repeat_of"].is_null()).collect();
    assert!(repeats.len() >= 4, "{trials:?}");
    for r in repeats {
        let first = trials.iter().find(|t| t["trial"] == r["repeat_of"]).unwrap();
        assert!(first["repeat_of"].is_null() && first["trial"].as_u64() < r["trial"].as_u64(), "{r}");
        assert_eq!(first["params"], r["params"]);
        assert_eq!(first["validation_accuracy"], r["validation_accuracy"]);
        assert_eq!(r["seconds"], 0.0, "not trained again: {r}");
    }
}

#[test]
fn every_strategy_resumes_repeats_included() {
    let dir = scratch("sweep_resume_all");
    // (strategy flags, trials in the finished sweep)
    let cases: [(&[&str], usize); 3] = [
        // Lists only: random draws the same configuration again and again.
        (&["--strategy", "random", "--trials", "6", "--hidden", "8,16"], 6),
        (&["--strategy", "grid", "--lr", "0.05,0.1", "--hidden", "8,16"], 4),
        (&["--strategy", "halving", "--trials", "4", "--epochs", "4", "--lr", "0.01..0.5:log"], 4),
    ];
    for (i, (args, trials)) in cases.iter().enumerate() {
        let csv = dir.join(format!("s{i}.csv"));
        let c = csv.to_str().unwrap();
        let full = sweep(&[args, &["--csv", c][..]].concat());
        // Keep the run line, the header and the first two rows: a sweep cut short.
        let text = std::fs::read_to_string(&csv).unwrap();
        let kept: Vec<&str> = text.lines().take(4).collect();
        std::fs::write(&csv, kept.join("\n") + "\n").unwrap();
        let resumed = sweep(&[args, &["--resume", c][..]].concat());
        let accuracy = |v: &Value| -> Vec<Value> {
            v["trials"].as_array().unwrap().iter().map(|t| t["validation_accuracy"].clone()).collect()
        };
        assert_eq!(accuracy(&resumed), accuracy(&full), "{args:?}: the same results as one run");
        assert_eq!(resumed["trials"].as_array().unwrap().len(), *trials);
        assert!(resumed["trials"].as_array().unwrap().iter().any(|t| t["resumed"] == true), "{args:?}");
        // Finished now: resumed again, it trains nothing.
        let again = sweep(&[args, &["--resume", c][..]].concat());
        assert!(again["trials"].as_array().unwrap().iter().all(|t| t["resumed"] == true), "{args:?}");
        assert_eq!(accuracy(&again), accuracy(&full), "{args:?}");
    }
}

#[test]
fn the_validation_split_is_stratified_and_the_test_set_used_once() {
    let data = {
        let _rng = torch_rng();
        load(&DataSource::parse(DATA).unwrap()).unwrap()
    };
    let counts =
        |t: &tch::Tensor| -> Vec<i64> { Vec::try_from(t.bincount(None::<tch::Tensor>, 10)).unwrap() };
    let all = counts(&data.train.labels);
    let (split, _) = validation_split(data, 0.1, 0).unwrap();
    assert_eq!(split.train.len() + split.test.len(), 2000);
    let held = counts(&split.test.labels);
    for (a, h) in all.iter().zip(&held) {
        assert_eq!(*h, ((*a as f64) * 0.1).round() as i64, "each class gives 10% of its images");
    }
    let v = sweep(&["--strategy", "random", "--trials", "3"]);
    assert_eq!(v["test_evaluations"], 1);
    assert!(v["best"]["test_accuracy"].as_f64().is_some());
}

#[test]
fn a_diverging_trial_does_not_stop_the_sweep_and_save_best_works() {
    let dir = scratch("sweep_diverge");
    let w = dir.join("best.safetensors");
    let v = sweep(&["--strategy", "grid", "--lr", "1e6,0.05", "--save-best", w.to_str().unwrap()]);
    let statuses: Vec<&str> =
        v["trials"].as_array().unwrap().iter().map(|t| t["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["diverged", "ok"]);
    assert_eq!(v["trials"][0]["validation_accuracy"], Value::Null);
    assert_eq!(v["best"]["trial"], 2);
    // The saved winner scores on the test set what the sweep reported.
    let e = nnopt_json(&["--device", "cpu", "--json", "evaluate", "--weights", w.to_str().unwrap()]);
    assert_eq!(e["accuracy"], v["best"]["test_accuracy"]);
}

#[test]
fn max_minutes_stops_after_the_trial_in_progress() {
    let v =
        sweep(&["--strategy", "random", "--trials", "50", "--max-minutes", "0.000001", "--population", "1"]);
    assert_eq!(v["trials"].as_array().unwrap().len(), 1);
    assert!(v["stopped"].as_str().unwrap().contains("--max-minutes"));
    // Trials that start together as one population (one network shape: only --lr varies) all
    // started before the limit: they finish.
    let v = sweep(&[
        "--strategy",
        "random",
        "--trials",
        "50",
        "--lr",
        "0.01..0.5",
        "--max-minutes",
        "0.000001",
        "--population",
        "4",
    ]);
    assert_eq!(v["trials"].as_array().unwrap().len(), 4);
    // Text mode: a line per trial, what the strategy did, the table, the best, and what the
    // trials can tell (four random trials: too few).
    let out = nnopt(&[
        "--device",
        "cpu",
        "sweep",
        "--data",
        DATA,
        "--epochs",
        "1",
        "--trials",
        "4",
        "--strategy",
        "random",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("trial   1 ")
            && text.contains("random: 4 configurations drawn")
            && text.contains("best: trial")
            && text.contains("too few trials to tell"),
        "{text}"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("4 training run(s)") && stderr.contains("about "),
        "the budget is printed first: {stderr}"
    );
}

#[test]
fn trials_are_scored_on_the_validation_split_never_the_test_set() {
    use std::sync::atomic::AtomicBool;
    // A data set whose test split is poisoned: every test label is 0. Scored on it, trials would
    // sit near 10%; scored on the validation split (carved from the training set) they learn.
    let mut data = {
        let _rng = torch_rng();
        load(&DataSource::parse(DATA).unwrap()).unwrap()
    };
    data.test.labels = data.test.labels.zeros_like();
    let mut space = Space::default();
    space.add("lr", "0.05,0.1").unwrap();
    let config = SweepConfig { strategy: Strategy::Grid, space, epochs: 2, ..Default::default() };
    let quiet = nnopt::observe::Quiet;
    let never = AtomicBool::new(false);
    let report = {
        let _rng = torch_rng();
        nnopt::sweep::run(&config, data, tch::Device::Cpu, &Default::default(), &quiet, &never).unwrap()
    };
    let best = report.best.as_ref().unwrap();
    assert!(
        best.validation_accuracy > 0.4,
        "trials learned on the validation split: {}",
        best.validation_accuracy
    );
    // The winner's one test evaluation sees the poisoned labels: only its class-0 guesses count.
    assert!(best.test_accuracy.unwrap() < 0.3, "{:?}", best.test_accuracy);
    assert_eq!(report.test_evaluations, 1);
}

#[test]
fn the_split_moves_rows_whole_and_keeps_their_order() {
    use nnopt::data::{Dataset, Split};
    use tch::{Kind, Tensor};
    // Image i spells its index in its two pixels; label i is i % 10. After the in-place
    // partition every image must still sit beside its own label, each split in ascending order.
    let n = 2_345i64;
    let index = Tensor::arange(n, (Kind::Int64, tch::Device::Cpu));
    let images = Tensor::stack(&[index.remainder(256), index.divide_scalar_mode(256, "floor")], 1)
        .to_kind(Kind::Uint8)
        .reshape([n, 1, 2]);
    let split = |images: Tensor| Split { images, labels: index.remainder(10) };
    let data = Dataset {
        name: "rows".into(),
        train: split(images),
        test: split(Tensor::zeros([n, 1, 2], (Kind::Uint8, tch::Device::Cpu))),
        height: 1,
        width: 2,
        classes: 10,
        spec: "rows".into(),
        class_names: None,
        fingerprint: 0,
    };
    let (parts, _) = validation_split(data, 0.2, 3).unwrap();
    let decode = |s: &Split| -> (Vec<i64>, Vec<i64>) {
        let px: Vec<i64> = Vec::try_from(s.images.to_kind(Kind::Int64).reshape([-1])).unwrap();
        let rows: Vec<i64> = px.chunks(2).map(|p| p[0] + 256 * p[1]).collect();
        (rows, Vec::try_from(&s.labels).unwrap())
    };
    let ((train, train_labels), (valid, valid_labels)) = (decode(&parts.train), decode(&parts.test));
    assert!(train.windows(2).all(|w| w[0] < w[1]) && valid.windows(2).all(|w| w[0] < w[1]));
    assert!(train.iter().zip(&train_labels).all(|(i, l)| i % 10 == *l), "labels travel with images");
    assert!(valid.iter().zip(&valid_labels).all(|(i, l)| i % 10 == *l), "labels travel with images");
    let mut all: Vec<i64> = train.iter().chain(&valid).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..n).collect::<Vec<_>>(), "every row once");
    assert_eq!(valid.len(), 470, "20 % of each class, rounded: 10 × 47");
}

#[test]
fn a_hyperparameter_a_trial_does_not_use_is_n_a_and_left_out() {
    let v =
        sweep(&["--strategy", "grid", "--lr", "0.01", "--optimizer", "sgd,adam", "--momentum", "0.5,0.9"]);
    let trials = v["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 3, "adam's two momenta are one configuration");
    for t in trials {
        let adam = t["params"]["optimizer"] == "adam";
        assert_eq!(t["params"]["momentum"].is_null(), adam, "{t}");
    }
    // A finished grid: main effects, controlled; momentum's groups are sgd's trials only.
    let a = &v["analysis"];
    assert_eq!(a["method"], "main-effects", "{a}");
    let momentum = a["effects"].as_array().unwrap().iter().find(|e| e["name"] == "momentum").unwrap();
    assert_eq!(momentum["trials"], 2, "{momentum}");
    let values: Vec<&str> =
        momentum["groups"].as_array().unwrap().iter().map(|g| g["value"].as_str().unwrap()).collect();
    assert_eq!(values.len(), 2);
    assert!(values.iter().all(|v| *v == "0.5000" || *v == "0.9000"), "{values:?}");
}

#[test]
fn random_search_importance_says_it_is_an_estimate() {
    let v = sweep(&["--strategy", "random", "--trials", "12", "--lr", "0.005..0.5:log"]);
    let a = &v["analysis"];
    assert_eq!(a["method"], "importance", "{a}");
    assert!(a["caveat"].as_str().unwrap().contains("not a controlled experiment"), "{a}");
    assert!(v["seconds"].as_f64().unwrap() > 0.0 && v["estimated_seconds"].as_f64().unwrap() > 0.0);
    let few = sweep(&["--strategy", "random", "--trials", "3"]);
    assert_eq!(few["analysis"]["method"], "too-few");
}

#[test]
fn halving_fits_its_rungs_to_a_short_budget_and_runs_distinct_configurations() {
    let v = sweep(&["--strategy", "halving", "--trials", "8", "--epochs", "4", "--lr", "0.01..0.5:log"]);
    let plan: Vec<(u64, u64)> = v["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["configurations"].as_u64().unwrap(), r["epochs"].as_u64().unwrap()))
        .collect();
    assert_eq!(plan, [(8, 1), (4, 2), (2, 4)], "three rungs fit 4 epochs");
    assert_eq!(v["rungs"].as_array().unwrap().len(), 3);
    assert!(v["description"].as_str().unwrap().contains("the best of the last 2 wins"));
    // A space with two points: two configurations, each listed once.
    let two = sweep(&["--strategy", "halving", "--trials", "8", "--hidden", "8,16", "--lr", "0.05"]);
    let trials = two["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 2, "{trials:?}");
    assert_ne!(trials[0]["params"], trials[1]["params"]);
    assert!(two["description"]
        .as_str()
        .unwrap()
        .contains("2 distinct configurations (the space holds no more"));
}

#[test]
fn a_resume_into_a_new_csv_copies_the_old_one_first() {
    let dir = scratch("sweep_resume_copy");
    let (a, b) = (dir.join("a.csv"), dir.join("b.csv"));
    let args = ["--strategy", "random", "--lr", "0.01..0.5:log"];
    sweep(&[&args[..], &["--trials", "2", "--csv", a.to_str().unwrap()]].concat());
    let full = sweep(
        &[&args[..], &["--trials", "4", "--resume", a.to_str().unwrap(), "--csv", b.to_str().unwrap()]]
            .concat(),
    );
    let rows = |p: &std::path::Path| std::fs::read_to_string(p).unwrap().lines().count() - 2;
    assert_eq!((rows(&a), rows(&b)), (2, 4), "B holds A's rows and the new ones");
    let again = sweep(&[&args[..], &["--trials", "4", "--resume", b.to_str().unwrap()]].concat());
    assert!(
        again["trials"].as_array().unwrap().iter().all(|t| t["resumed"] == true),
        "nothing trained again"
    );
    let accuracy = |v: &Value| -> Vec<Value> {
        v["trials"].as_array().unwrap().iter().map(|t| t["validation_accuracy"].clone()).collect()
    };
    assert_eq!(accuracy(&again), accuracy(&full));
}

#[test]
fn ctrl_c_while_the_winner_retrains_stops_within_a_batch() {
    use std::io::BufRead;
    let dir = scratch("sweep_ctrl_c");
    let csv = dir.join("r.csv");
    // A journal whose one trial is finished: resuming it trains nothing but the winner again,
    // for 3000 epochs — minutes, so stopping within seconds of Ctrl-C can only be the stop (the
    // bound is loose because 16 test threads on 2 cores can slow one batch to seconds).
    let data = "synthetic:6000,500";
    let identity = format!("# nnopt sweep: seed=0 data={data} validation=0.1 device=cpu");
    let text = format!("{identity}\nlr,budget_epochs,epochs,validation_accuracy,seconds,status,trial\n0.05,3000,3000,0.9,1,ok,1\n");
    std::fs::write(&csv, &text).unwrap();
    let mut child = crate::common::nnopt_command(&[
        "--device",
        "cpu",
        "sweep",
        "--data",
        data,
        "--strategy",
        "grid",
        "--lr",
        "0.05",
        "--epochs",
        "3000",
    ])
    .args(["--resume", csv.to_str().unwrap()])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("(from --resume)") {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "the sweep ended before retraining");
    }
    std::thread::sleep(Duration::from_millis(300));
    std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let interrupted = Instant::now();
    let status = child.wait().unwrap();
    assert!(interrupted.elapsed() < Duration::from_secs(10), "took {:?} after Ctrl-C", interrupted.elapsed());
    // The work kept, the sweep dies of the signal it was stopped by (a shell's 130).
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(libc::SIGINT), "{status:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(rest.contains("while retraining the winner") && rest.contains("not tested"), "{rest}");
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), text, "the journal is intact");
}

/// `--tpe-batch K`: TPE proposes K at a time after its start-up (optuna's constant liar), says so,
/// and the same flags give the same trials; 0 is a usage error.
#[test]
fn tpe_proposes_in_batches_reproducibly() {
    let args = [
        "--strategy",
        "tpe",
        "--trials",
        "6",
        "--startup-trials",
        "2",
        "--tpe-batch",
        "4",
        "--lr",
        "0.01..0.5:log",
    ];
    let (a, b) = (sweep(&args), sweep(&args));
    assert_eq!(a["trials"].as_array().unwrap().len(), 6);
    assert_eq!(params(&a), params(&b), "the same flags, the same trials");
    let description = a["description"].as_str().unwrap();
    assert!(description.contains("4 at a time") && description.contains("constant liar"), "{description}");
    let one =
        sweep(&["--strategy", "tpe", "--trials", "6", "--startup-trials", "2", "--lr", "0.01..0.5:log"]);
    assert!(!one["description"].as_str().unwrap().contains("at a time"));
    assert_eq!(params(&one)[..2], params(&a)[..2], "the start-up draws do not depend on the batch");
    assert_ne!(params(&one)[2..], params(&a)[2..], "proposed 4 at a time, TPE proposes other trials");
    for args in [
        &["--tpe-batch", "0"][..],
        &["--tpe-batch", "4", "--strategy", "random"],
        &["--tpe-batch", "4", "--tpe", "independent"],
    ] {
        crate::common::assert_usage_error(&[&["--device", "cpu", "sweep"], args].concat(), "--tpe-batch");
    }
    // `--cuda-graphs on` where no trial could use it: Adam only.
    crate::common::assert_usage_error(
        &["--device", "cpu", "sweep", "--optimizer", "adam", "--cuda-graphs", "on"],
        "--cuda-graphs",
    );
}
