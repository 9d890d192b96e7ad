//! Notebook part 2 through the library: the gradient of relu(w·x + b) with respect to w and b.
//!
//!     cargo run --example autograd

use nnopt::autograd::{render, run, AutogradConfig};

fn main() -> anyhow::Result<()> {
    // x = 5, w = 1.2, b = 0.5: the notebook's values.
    let report = run(&AutogradConfig::default(), tch::Device::Cpu)?;
    print!("{}", render(&report));
    Ok(())
}
