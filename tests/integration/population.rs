//! A population trains each member as its solo run would, to float rounding.

use std::sync::atomic::AtomicBool;

use nnopt::data::{load, DataSource};
use nnopt::observe::Quiet;
use nnopt::population::train_population;
use nnopt::train::{train, Hooks, Schedule, Stop, TrainConfig};
use tch::Device;

use crate::common::torch_rng;

fn solo(config: &TrainConfig, data: &nnopt::data::Dataset) -> nnopt::train::Trained {
    let never = AtomicBool::new(false);
    let mut hooks = Hooks { observer: &Quiet, stop: &never, on_epoch: &mut |_| Ok(()) };
    train(config, data, Device::Cpu, &mut hooks).unwrap()
}

#[test]
fn each_member_matches_its_solo_run() {
    let _rng = torch_rng();
    let data = load(&DataSource::Synthetic { train: 3000, test: 600 }).unwrap();
    let base = TrainConfig { epochs: 3, batch_size: 100, ..Default::default() };
    let configs = vec![
        base.clone(),
        TrainConfig { lr: Some(0.2), momentum: Some(0.0), weight_decay: 0.0, seed: 1, ..base.clone() },
        TrainConfig {
            lr: Some(0.01),
            momentum: Some(0.5),
            schedule: Schedule::Constant,
            seed: 2,
            ..base.clone()
        },
        // Diverges: stopped and restored as its solo run is, while the others go on.
        TrainConfig { lr: Some(50.0), momentum: Some(0.9), seed: 3, ..base.clone() },
    ];
    let never = AtomicBool::new(false);
    let members = train_population(&configs, &data, Device::Cpu, &Quiet, &never).unwrap();
    assert_eq!(members.len(), configs.len());
    for (config, member) in configs.iter().zip(&members) {
        let alone = solo(config, &data);
        let (m, s) = (&member.report, &alone.report);
        // Debug text, not ==: a diverged run's loss is NaN, which equals nothing.
        assert_eq!(format!("{:?}", m.stop), format!("{:?}", s.stop), "lr {:?}: the same ending", config.lr);
        assert_eq!(m.epochs.len(), s.epochs.len(), "lr {:?}", config.lr);
        if let (Some(me), Some(se)) = (m.epochs.first(), s.epochs.first()) {
            let relative = (me.train_loss - se.train_loss).abs() / se.train_loss.abs();
            assert!(
                relative <= 1e-5,
                "lr {:?}: first-epoch loss {} vs {}",
                config.lr,
                me.train_loss,
                se.train_loss
            );
        }
        let points = 100.0 * (m.final_metrics.test_accuracy - s.final_metrics.test_accuracy).abs();
        assert!(points <= 0.2, "lr {:?}: accuracy differs by {points} points", config.lr);
    }
    assert!(
        matches!(members[3].report.stop, Stop::Diverged { epoch: 1, .. }),
        "{:?}",
        members[3].report.stop
    );
    assert_eq!(members[0].report.stop, Stop::Finished);
}

/// A random sweep trained as populations reports each trial as one-at-a-time training does.
#[test]
fn a_sweep_in_populations_scores_trials_as_one_at_a_time() {
    let run = |population: &str| {
        crate::common::nnopt_json(&[
            "--json",
            "--quiet",
            "sweep",
            "--data",
            "synthetic:3000,500",
            "--strategy",
            "random",
            "--trials",
            "5",
            "--epochs",
            "2",
            "--lr",
            "0.005..0.1:log",
            "--momentum",
            "0,0.5",
            "--population",
            population,
        ])
    };
    let (together, alone) = (run("5"), run("1"));
    let (t, a) = (together["trials"].as_array().unwrap(), alone["trials"].as_array().unwrap());
    assert_eq!(t.len(), 5);
    for (t, a) in t.iter().zip(a) {
        assert_eq!(t["params"], a["params"]);
        assert_eq!(t["status"], a["status"], "trial {}", t["trial"]);
        if let (Some(x), Some(y)) = (t["validation_accuracy"].as_f64(), a["validation_accuracy"].as_f64()) {
            assert!((x - y).abs() <= 0.002, "trial {}: {x} vs {y}", t["trial"]);
        }
    }
}
