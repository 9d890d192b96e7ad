//! Hyperparameter search through the library: random search over the learning rate on a small
//! synthetic set, then the winner's test accuracy (the test set's only use).
//!
//!     cargo run --release --example sweep

use std::sync::atomic::AtomicBool;

use nnopt::data::{load, DataSource};
use nnopt::observe::Quiet;
use nnopt::sweep::{run, Space, Strategy, SweepConfig, SweepFiles};

fn main() -> anyhow::Result<()> {
    let data = load(&DataSource::Synthetic { train: 6_000, test: 1_000 })?;
    let mut space = Space::default();
    space.add("lr", "0.001..1:log")?;
    space.add("hidden", "16,64")?;
    let config =
        SweepConfig { strategy: Strategy::Random, space, trials: 6, epochs: 2, ..Default::default() };
    let never = AtomicBool::new(false);
    let report = run(&config, data, tch::Device::Cpu, &SweepFiles::default(), &Quiet, &never)?;
    if let Some(best) = &report.best {
        let test = best.test_accuracy.map_or("not tested".to_string(), |a| format!("{a:.3}"));
        println!(
            "best: {} → validation {:.3}, test {test}",
            best.params.describe(),
            best.validation_accuracy
        );
    }
    // What six random trials can support saying about the hyperparameters (too little, here).
    println!("{}", nnopt::judge::sweep::render(&report.analysis));
    Ok(())
}
