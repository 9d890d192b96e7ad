//! The notebook's MLP in plain tch: a forward pass, backpropagation, one SGD step. The same
//! numbers as `nnopt mlp --seed SEED` (a CI test compares them).
//!
//!     cargo run --example tch_mlp [SEED]

use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Reduction, Tensor};

/// `nn.Linear` as PyTorch initialises it: weight, then bias, each uniform in ±bound. (tch's own
/// `nn::linear` draws the bias first and bounds the weight differently: other numbers.)
fn linear(vs: nn::Path, inputs: i64, outputs: i64) -> nn::Linear {
    let a = 5f64.sqrt(); // kaiming_uniform_(weight, a=√5)
    let bound = 3f64.sqrt() * ((2.0 / (1.0 + a * a)).sqrt() / (inputs as f64).sqrt());
    let ws = vs.var("weight", &[outputs, inputs], nn::Init::Uniform { lo: -bound, up: bound });
    let bound = 1.0 / (inputs as f64).sqrt();
    let bs = vs.var("bias", &[outputs], nn::Init::Uniform { lo: -bound, up: bound });
    nn::Linear { ws, bs: Some(bs) }
}

fn main() {
    let seed = std::env::args().nth(1).map_or(0, |s| s.parse().expect("SEED: a whole number"));
    tch::manual_seed(seed);
    let opts = (Kind::Float, Device::Cpu);
    let vs = nn::VarStore::new(Device::Cpu);
    let (fc1, fc2) = (linear(vs.root() / "fc1", 28 * 28, 32), linear(vs.root() / "fc2", 32, 10));
    let net = nn::func(move |x| x.view([-1, 28 * 28]).apply(&fc1).relu().apply(&fc2));

    let image = Tensor::randn([1, 1, 28, 28], opts);
    // The notebook's first backward, with a random gradient g: output.backward(g).
    let g = Tensor::randn([1, 10], opts);
    (net.forward(&image) * &g).sum(Kind::Float).backward();
    let target = Tensor::randn([10], opts).view([1, -1]);

    let mut optimizer = nn::Sgd::default().build(&vs, 0.05).expect("SGD");
    optimizer.zero_grad(); // .grad accumulates: clear what the first backward left
    let loss = net.forward(&image).mse_loss(&target, Reduction::Mean);
    loss.backward(); // backpropagation: every parameter's .grad
    let fc1_bias_grad: Vec<f64> = vs.variables()["fc1.bias"].grad().iter::<f64>().expect("grad").collect();
    optimizer.step(); // θ ← θ − lr·∇L
    let loss_after = net.forward(&image).mse_loss(&target, Reduction::Mean);

    println!(
        "{{\"loss\": {:?}, \"loss_after_step\": {:?}, \"fc1_bias_grad\": {fc1_bias_grad:?}}}",
        loss.double_value(&[]),
        loss_after.double_value(&[])
    );
}
