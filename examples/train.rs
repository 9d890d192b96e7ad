//! Training through the library: the notebook's MLP on the built-in synthetic digits, a few
//! epochs, then the weights saved as safetensors.
//!
//!     cargo run --release --example train

use std::sync::atomic::AtomicBool;

use nnopt::data::{load, DataSource};
use nnopt::observe::Quiet;
use nnopt::train::{train, EpochMetrics, Hooks, TrainConfig};

fn main() -> anyhow::Result<()> {
    let data = load(&DataSource::Synthetic { train: 20_000, test: 2_000 })?;
    let config = TrainConfig { epochs: 5, ..Default::default() }; // SGD, Nesterov, cosine lr
    let stop = AtomicBool::new(false);
    // Quiet hears nothing; the nnopt binary prints each epoch here. This callback could write files.
    let mut on_epoch = |m: &EpochMetrics| {
        if m.test_accuracy < 0.2 {
            eprintln!("epoch {}: barely above chance so far", m.epoch);
        }
        Ok(())
    };
    let mut hooks = Hooks { observer: &Quiet, stop: &stop, on_epoch: &mut on_epoch };
    let trained = train(&config, &data, tch::Device::cuda_if_available(), &mut hooks)?;
    println!("stopped: {:?}", trained.report.stop);
    let path = std::env::temp_dir().join("nnopt-example.safetensors");
    nnopt::weights::save(&path, &trained.net, &trained.normalization, &data)?;
    println!("saved {}", path.display());
    Ok(())
}
