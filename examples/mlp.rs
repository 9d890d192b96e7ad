//! Notebook part 3 through the library: build the Network, take one SGD step, watch the loss.
//!
//!     cargo run --example mlp

use nnopt::mlp::{Network, CLASSES, INPUT_FEATURES};
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Reduction, Tensor};

fn main() -> anyhow::Result<()> {
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let net = Network::new(&vs.root(), &[INPUT_FEATURES, 32, CLASSES])?;
    println!("{net}");
    let mut sgd = nn::Sgd::default().build(&vs, 0.05)?;
    let input = Tensor::randn([1, 1, 28, 28], (Kind::Float, Device::Cpu));
    let target = Tensor::randn([1, CLASSES], (Kind::Float, Device::Cpu));
    for step in 0..5 {
        let loss = net.forward(&input).mse_loss(&target, Reduction::Mean);
        println!("step {step}: MSE loss {:.6}", loss.double_value(&[]));
        sgd.backward_step(&loss); // zero_grad, backward, step
    }
    Ok(())
}
