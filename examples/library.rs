//! nnopt as a library, with nothing of the command line: train the notebook's MLP on the
//! built-in synthetic digits, save it, and score it on the test split — quietly (the library
//! prints nothing; this program prints one line).
//!
//!     cargo run --release --example library
//!     cargo run --release --no-default-features --example library   # no clap, indicatif, signal handler

use std::sync::atomic::AtomicBool;

use nnopt::classify::evaluate;
use nnopt::data::{load, DataSource};
use nnopt::observe::Quiet;
use nnopt::train::{train, Hooks, TrainConfig};

fn main() -> anyhow::Result<()> {
    let data = load(&DataSource::Synthetic { train: 6_000, test: 1_000 })?;
    let config = TrainConfig { epochs: 2, ..Default::default() };
    let never = AtomicBool::new(false);
    let mut hooks = Hooks { observer: &Quiet, stop: &never, on_epoch: &mut |_| Ok(()) };
    let trained = train(&config, &data, tch::Device::Cpu, &mut hooks)?;
    let path = std::env::temp_dir().join(format!("nnopt-library-{}.safetensors", std::process::id()));
    nnopt::weights::save(&path, &trained.net, &trained.normalization, &data)?;
    let report = evaluate(&path, None, tch::Device::Cpu, false, &Quiet)?;
    std::fs::remove_file(&path)?;
    println!(
        "{} epochs on {}: test accuracy {:.2}% ({} of {})",
        config.epochs,
        data.name,
        100.0 * report.evaluation.accuracy,
        report.evaluation.correct,
        report.evaluation.total
    );
    Ok(())
}
