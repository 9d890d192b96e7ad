//! Training through the library: the notebook's MLP on the built-in synthetic digits, a few
//! epochs, then the weights saved as safetensors.
//!
//!     cargo run --release --example train

use std::sync::atomic::AtomicBool;

use nnopt::data::{load, DataSource};
use nnopt::output::Output;
use nnopt::train::{train, EpochMetrics, Hooks, TrainConfig};

fn main() -> anyhow::Result<()> {
    let data = load(&DataSource::Synthetic { train: 20_000, test: 2_000 })?;
    let config = TrainConfig { epochs: 5, ..Default::default() }; // SGD, Nesterov, cosine lr
    let stop = AtomicBool::new(false);
    let mut on_epoch =
        |m: &EpochMetrics| println!("epoch {}: test accuracy {:.2}%", m.epoch, 100.0 * m.test_accuracy);
    let mut hooks = Hooks { out: Output::default(), stop: &stop, on_epoch: &mut on_epoch };
    let trained = train(&config, &data, tch::Device::cuda_if_available(), &mut hooks)?;
    let path = std::env::temp_dir().join("nnopt-example.safetensors");
    nnopt::weights::save(&path, &trained.net, &trained.normalization, &data.name)?;
    println!("saved {}", path.display());
    Ok(())
}
