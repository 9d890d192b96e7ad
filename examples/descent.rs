//! Optimizers on a loss surface through the library: the notebook's "locked in a local minima",
//! on the cosine surface — gd from −6.5 stops in the local valley, SGD with momentum crosses
//! the ridge into the global one.
//!
//!     cargo run --example descent

use nnopt::descent::{run_one, Optimizer, RunSpec, Surface};

fn main() -> anyhow::Result<()> {
    let surface = Surface::Cosine;
    let minima = surface.minima()?;
    for optimizer in [Optimizer::Gd, Optimizer::Momentum] {
        let spec = RunSpec {
            optimizer,
            lr: 0.2,
            momentum: 0.9,
            steps: 300,
            // How far a run out of steps is continued to see where it heads.
            continued: 5000,
            tol: 1e-6,
            device: tch::Device::Cpu,
            seed: 0,
        };
        let run = run_one(surface, &minima, spec, &[-6.5])?;
        println!("{:<8} {}  →  {}", optimizer.name(), optimizer.rule(), run.outcome);
    }
    Ok(())
}
