//! `nnopt perceptron`: PyTorch's numbers, the delta rule's closed form, flat memory.

use nnopt::perceptron::{make_data, run, Perceptron, PerceptronConfig};
use tch::{Device, Kind, Tensor};

use crate::common::{
    assert_matches_golden_within, assert_usage_error, golden, nnopt, nnopt_json, nnopt_ok, torch_rng,
    PERCEPTRON_ACROSS_CPUS,
};

#[test]
fn seed_0_matches_pytorch() {
    // Goldens: scripts/torch-python scripts/reference/perceptron.py --seed 0 > tests/goldens/perceptron_seed0.json
    let ours = nnopt_json(&["perceptron", "--seed", "0", "--json", "--device", "cpu"]);
    assert_eq!(ours["history"].as_array().unwrap().len(), 101);
    assert_matches_golden_within(&ours, "perceptron_seed0.json", PERCEPTRON_ACROSS_CPUS);
}

#[test]
fn seed_1_matches_pytorch() {
    // Goldens: scripts/torch-python scripts/reference/perceptron.py --seed 1 > tests/goldens/perceptron_seed1.json
    let ours = nnopt_json(&["perceptron", "--seed", "1", "--json", "--device", "cpu"]);
    assert_eq!(ours["history"].as_array().unwrap().len(), 101);
    assert_matches_golden_within(&ours, "perceptron_seed1.json", PERCEPTRON_ACROSS_CPUS);
}

#[test]
fn one_step_is_the_delta_rule() {
    // For one sample with relu active: w' = w + lr·(y − (x·w + b))·xᵀ, b' = b + lr·(y − (x·w + b)).
    let lr = 0.01;
    let mut p = Perceptron {
        w: Tensor::from_slice(&[0.5f32, -0.25, 1.0]).reshape([3, 1]),
        b: Tensor::from_slice(&[0.125f32]),
        lr,
    };
    let x = [1.0f64, 2.0, 3.0];
    let y = 10.0;
    let y_hat = 0.5 * x[0] - 0.25 * x[1] + 1.0 * x[2] + 0.125;
    p.train_step(&Tensor::from_slice(&x.map(|v| v as f32)).reshape([1, 3]), &Tensor::from_slice(&[y as f32]));
    let w: Vec<f64> = Vec::try_from(p.w.reshape([-1]).to_kind(Kind::Double)).unwrap();
    for (i, (got, w0)) in w.iter().zip([0.5, -0.25, 1.0]).enumerate() {
        assert!((got - (w0 + lr * (y - y_hat) * x[i])).abs() < 1e-6, "w[{i}] = {got}");
    }
    assert!((p.b.double_value(&[0]) - (0.125 + lr * (y - y_hat))).abs() < 1e-6);
}

#[test]
fn a_dead_relu_still_moves_by_the_error() {
    // The notebook's rule ignores relu's derivative: with ŷ = 0 the error is y itself.
    let mut p = Perceptron {
        w: Tensor::from_slice(&[-1.0f32, -1.0, -1.0]).reshape([3, 1]),
        b: Tensor::from_slice(&[0.0f32]),
        lr: 0.1,
    };
    p.train_step(&Tensor::from_slice(&[1.0f32, 1.0, 1.0]).reshape([1, 3]), &Tensor::from_slice(&[2.0f32]));
    assert!((p.b.double_value(&[0]) - 0.2).abs() < 1e-7);
}

#[test]
fn a_long_run_keeps_no_graph() {
    // 10 samples × 10 000 epochs = 100 000 updates; with the notebook's `w = w + …` on tensors that
    // require grad, w would end up as the tip of a 100 000-step graph.
    let config = PerceptronConfig { epochs: 10_000, ..Default::default() };
    let _rng = torch_rng();
    tch::manual_seed(0);
    let mut p = Perceptron::new(config.lr, Device::Cpu).unwrap();
    let (x, y) = make_data(config.samples, Device::Cpu).unwrap();
    let before = p.w.data_ptr();
    for _ in 0..config.epochs {
        p.train_step(&x, &y);
    }
    assert!(!p.w.requires_grad() && !p.b.requires_grad());
    assert!(p.w.is_leaf() && p.b.is_leaf());
    assert_eq!(p.w.data_ptr(), before, "w is updated in place, not reallocated");
    assert!(Perceptron::loss(&p.forward(&x), &y).double_value(&[]).is_finite());
}

#[test]
fn text_follows_the_notebook() {
    let text = nnopt_ok(&["perceptron", "--device", "cpu", "--seed", "0", "--full"]);
    // Notebook In [3]: (w, b, lr) as IPython prints the tuple; In [6]: Parameters / Squared loss.
    assert!(
        text.contains(
            "(tensor([[ 1.5410],\n         [-0.2934],\n         [-2.1788]]),\n tensor([0.]),\n 0.001)"
        ),
        "{text}"
    );
    assert_eq!(text.matches("Parameters: tensor(").count(), 101);
    assert_eq!(text.matches("Squared loss:, ").count(), 101);
    // Seed 0's first epoch loss, from tests/goldens/perceptron_seed0.json (15.075204849243164),
    // as printed (6 decimals), to the drift another CPU's rounding allows.
    let first: f64 = text
        .split("Squared loss:, ")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no loss printed: {text}"));
    assert!((first - 15.075204849243164).abs() <= PERCEPTRON_ACROSS_CPUS * 15.075, "{first}");
}

#[test]
fn bad_values_are_usage_errors() {
    for (args, flag) in [
        (&["--lr", "0"][..], "--lr"),
        (&["--lr", "inf"], "--lr"),
        (&["--lr", "-0.1"], "--lr"),
        (&["--epochs", "0"], "--epochs"),
        (&["--samples", "0"], "--samples"),
        (&["--samples", "999999999"], "--samples"),
        (&["--epochs", "999999999"], "--epochs"),
        (&["--samples", "100000", "--epochs", "1000"], "lower one of them"),
    ] {
        assert_usage_error(&[&["perceptron"], args].concat(), flag);
    }
}

#[test]
fn a_diverging_run_stops_with_advice() {
    let out = nnopt(&["perceptron", "--lr", "1e30", "--device", "cpu"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("at epoch") && stderr.contains("lower --lr"), "{stderr}");
}

#[test]
fn library_run_matches_the_cli() {
    let _rng = torch_rng();
    let quiet = nnopt::observe::Quiet;
    let report = run(&PerceptronConfig::default(), Device::Cpu, &quiet).unwrap();
    let mut ours = serde_json::to_value(&report).unwrap();
    let mut cli = nnopt_json(&["perceptron", "--json", "--device", "cpu"]);
    // Wall time differs run to run; every other field must be identical.
    for v in [&mut ours, &mut cli] {
        assert!(v["training_seconds"].as_f64().unwrap() > 0.0);
        v["training_seconds"] = serde_json::Value::Null;
    }
    assert!(ours == cli, "the library and the CLI disagree");
}

#[test]
fn a_dead_relu_is_reported_with_the_epoch_and_the_fix() {
    // --lr 10 throws w far negative within a few epochs: every prediction is 0 from then on, and
    // the loss sits at mean(y²)/2 = 14.25 for y = 0..9.
    let out =
        nnopt(&["perceptron", "--seed", "0", "--lr", "10", "--epochs", "200", "--json", "--device", "cpu"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning: the ReLU died at epoch") && stderr.contains("lower --lr"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let warnings = v["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{v}");
    let epoch = v["dead_from_epoch"].as_u64().unwrap() as usize;
    let history = v["history"].as_array().unwrap();
    assert!(history[epoch - 1..].iter().all(|h| h["loss"] == 14.25), "the loss moved after epoch {epoch}");
    assert_ne!(history[epoch - 2]["loss"], 14.25, "epoch {epoch} is the first dead one");

    // The notebook's settings learn: no warning.
    let v = nnopt_json(&["perceptron", "--json", "--device", "cpu"]);
    assert_eq!(v["warnings"], serde_json::json!([]));
    assert_eq!(v["dead_from_epoch"], serde_json::Value::Null);
}

#[test]
fn the_rule_and_a_zero_start_are_said() {
    let text = nnopt_ok(&["perceptron", "--device", "cpu", "--epochs", "3", "--seed", "0"]);
    assert!(text.contains("w ← w + lr·(y − ŷ)·x;  b ← b + lr·(y − ŷ)"), "{text}");
    // Seed 0 starts dead: every pre-activation is negative (the largest, −8.1461).
    assert!(
        text.contains("every prediction is 0: each pre-activation x·w + b is ≤ 0")
            && text.contains("-8.1461"),
        "{text}"
    );
    // Seed 1 starts alive: nothing to explain.
    let alive = nnopt_ok(&["perceptron", "--device", "cpu", "--epochs", "3", "--seed", "1"]);
    assert!(!alive.contains("every prediction is 0"), "{alive}");
}

/// The explanation of a rising loss agrees with an independent PyTorch replay: the same stretch
/// of epochs, and a cause named exactly where PyTorch's replay without it removes the rise in at
/// least half the rising epochs, with the same counts.
#[test]
fn a_rising_loss_is_explained_as_a_pytorch_replay_explains_it() {
    // scripts/torch-python scripts/reference/perceptron_rise.py --seeds 0 1 3 4 11 12 > tests/goldens/perceptron_rise.json
    let golden = golden("perceptron_rise.json");
    for seed in ["0", "1", "3", "4", "11", "12"] {
        let v = nnopt_json(&["--device", "cpu", "--json", "perceptron", "--seed", seed]);
        let (rise, want) = (&v["loss_rise"], &golden[seed]);
        if want.is_null() {
            assert!(rise.is_null(), "seed {seed}: {rise}");
            continue;
        }
        for key in ["from_epoch", "to_epoch"] {
            assert_eq!(rise[key], want[key], "seed {seed}: {key}");
        }
        let (peak, want_peak) = (rise["peak_loss"].as_f64().unwrap(), want["peak_loss"].as_f64().unwrap());
        assert!(
            (peak - want_peak).abs() <= PERCEPTRON_ACROSS_CPUS * want_peak.abs(),
            "seed {seed}: {peak} vs {want_peak}"
        );
        let causes = rise["causes"].as_array().unwrap();
        let find = |kind: &str| causes.iter().find(|c| c["kind"] == kind);
        let rising = want["rising"].as_u64().unwrap();
        let inactive = want["explained"].as_u64().unwrap();
        match find("inactive-updates") {
            Some(cause) => {
                assert!(
                    2 * inactive >= rising,
                    "seed {seed}: named, but PyTorch's replay explains {inactive}/{rising}"
                );
                assert_eq!(
                    (cause["explained"].as_u64(), cause["rising"].as_u64()),
                    (Some(inactive), Some(rising))
                );
                let sample = cause["sample"].to_string();
                assert_eq!(
                    cause["kicked_epochs"], want["kicked_epochs"][&sample],
                    "seed {seed}: sample {sample}"
                );
            }
            None => {
                assert!(2 * inactive < rising, "seed {seed}: PyTorch's replay explains {inactive}/{rising}")
            }
        }
        let capped = want["capped_explained"].as_u64().unwrap();
        let gain = want["step_gain"].as_f64().unwrap();
        match find("overshoot") {
            Some(cause) => {
                assert!(gain > 2.0 && 2 * capped >= rising, "seed {seed}: {cause}");
                assert_eq!(cause["sample"], want["widest"]);
                assert_eq!(cause["explained"].as_u64(), Some(capped), "seed {seed}");
            }
            None => assert!(
                gain <= 2.0 || 2 * capped < rising,
                "seed {seed}: PyTorch's capped replay explains {capped}"
            ),
        }
    }
    let text = nnopt_ok(&["--device", "cpu", "perceptron", "--seed", "0", "--full", "--every", "25"]);
    assert!(text.contains("# the loss rose over epochs 3–35"), "{text}");
    assert!(text.contains("sample 9 (y = 9)"), "{text}");
    assert!(text.contains("# (printed: 1, 25, 50, 75, 100, 101;"), "{text}");
    assert!(
        !text.contains("# epoch 24\n") && text.contains("# epoch 25\n") && text.contains("# epoch 101\n"),
        "{text}"
    );
}

/// The default run is a screen's summary shaped like the notebook's run: a large first loss that
/// falls every epoch, no rise to explain; `--full` is the notebook's transcript, every epoch.
#[test]
fn the_default_run_is_short_and_its_loss_falls_every_epoch() {
    let text = nnopt_ok(&["perceptron", "--device", "cpu"]);
    assert!(text.lines().count() <= 60, "{} lines:\n{text}", text.lines().count());
    assert!(!text.contains("the loss rose") && text.contains("seed 7"), "{text}");
    let v = nnopt_json(&["perceptron", "--device", "cpu", "--json"]);
    assert!(v["loss_rise"].is_null() && v["rises"] == serde_json::json!([]), "{v}");
    let losses: Vec<f64> =
        v["history"].as_array().unwrap().iter().map(|h| h["loss"].as_f64().unwrap()).collect();
    assert!(v["initial"]["loss"].as_f64().unwrap() > 50.0 * losses[0].max(1.0), "a large first loss: {v}");
    assert!(losses.windows(2).all(|w| w[1] < w[0]), "{losses:?}");
    // Every printed epoch's loss as the JSON has it (6 decimals), the first and the last included.
    for (epoch, loss) in [(1, losses[0]), (101, losses[100])] {
        assert!(text.contains(&format!("{epoch:>6}  {loss:>12.6}")), "epoch {epoch}: {text}");
    }
    let full = nnopt_ok(&["perceptron", "--device", "cpu", "--full"]);
    assert_eq!(full.matches("Squared loss:, ").count(), 101);
    for command in [&["mlp"][..], &["autograd"], &["perceptron", "--seed", "0"]] {
        let text = nnopt_ok(&[&["--device", "cpu"][..], command].concat());
        assert!(text.lines().count() <= 60, "{command:?}: {} lines", text.lines().count());
    }
}
