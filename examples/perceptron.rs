//! Notebook part 1 through the library: the hand-updated perceptron with the notebook's settings.
//!
//!     cargo run --example perceptron

use nnopt::perceptron::{run, PerceptronConfig};

fn main() -> anyhow::Result<()> {
    // Seed 0, lr 0.001, 101 passes over 10 samples; no progress bar.
    let report = run(&PerceptronConfig::default(), tch::Device::Cpu, &nnopt::observe::Quiet)?;
    let last = report.history.last().expect("at least one epoch");
    println!(
        "after {} epochs: training loss {:.6}, test loss {:.6}",
        last.epoch, last.loss, report.test.loss
    );
    println!("w = {:?}, b = {:?}", last.w.flat(), last.b.flat());
    Ok(())
}
