//! `nnopt train`'s loop in plain tch with the notebook's optimizer (plain SGD, lr 0.05), on
//! Fashion-MNIST: what a Rust reader would write, and the same test accuracy per epoch as
//! `nnopt train --data DATA_DIR --epochs EPOCHS --momentum 0 --weight-decay 0 --schedule constant`
//! (a CI test compares them).
//!
//!     cargo run --release --example tch_train [EPOCHS] [DATA_DIR]

use std::io::Read;

use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};

/// An IDX file (`NAME.gz`): a big-endian header, then one byte per pixel or label.
fn idx(dir: &str, name: &str) -> Tensor {
    let file = std::fs::File::open(format!("{dir}/{name}.gz")).expect("scripts/setup-data.sh installs it");
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(file).read_to_end(&mut raw).expect("a gzip file");
    let dims: Vec<i64> = (0..raw[3] as usize)
        .map(|i| u32::from_be_bytes(raw[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as i64)
        .collect();
    Tensor::from_slice(&raw[4 + 4 * dims.len()..]).reshape(&dims)
}

/// `nn.Linear` as PyTorch initialises it (weight, then bias): see examples/tch_mlp.rs.
fn linear(vs: nn::Path, inputs: i64, outputs: i64) -> nn::Linear {
    let a = 5f64.sqrt();
    let bound = 3f64.sqrt() * ((2.0 / (1.0 + a * a)).sqrt() / (inputs as f64).sqrt());
    let ws = vs.var("weight", &[outputs, inputs], nn::Init::Uniform { lo: -bound, up: bound });
    let bound = 1.0 / (inputs as f64).sqrt();
    let bs = vs.var("bias", &[outputs], nn::Init::Uniform { lo: -bound, up: bound });
    nn::Linear { ws, bs: Some(bs) }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let epochs: usize = args.next().map_or(1, |s| s.parse().expect("EPOCHS: a whole number"));
    let data = args.next().unwrap_or_else(|| "/usr/share/datasets/fashion-mnist".into());
    tch::manual_seed(0);

    let pixels = |name| idx(&data, name).to_kind(Kind::Float) / 255.0;
    let (x_train, y_train) =
        (pixels("train-images-idx3-ubyte"), idx(&data, "train-labels-idx1-ubyte").to_kind(Kind::Int64));
    let (x_test, y_test) =
        (pixels("t10k-images-idx3-ubyte"), idx(&data, "t10k-labels-idx1-ubyte").to_kind(Kind::Int64));
    // The training pixels' mean and standard deviation, in float64.
    let train64 = x_train.to_kind(Kind::Double);
    let (mean, std) = (train64.mean(None).double_value(&[]), train64.std(true).double_value(&[]));
    let x_train = ((x_train - mean) / std).flatten(1, -1);
    let x_test = ((x_test - mean) / std).flatten(1, -1);

    let vs = nn::VarStore::new(Device::Cpu);
    let net = nn::seq().add(linear(vs.root() / "0", 28 * 28, 32)).add_fn(|x| x.relu()).add(linear(
        vs.root() / "2",
        32,
        10,
    ));
    let mut optimizer = nn::Sgd::default().build(&vs, 0.05).expect("SGD");

    let mut accuracies = Vec::new();
    for _epoch in 0..epochs {
        let order = Tensor::randperm(y_train.size()[0], (Kind::Int64, Device::Cpu)); // a new shuffle every epoch
        for batch in order.split(128, 0) {
            // Cross-entropy: softmax and log-loss over the 10 classes' logits.
            let loss = net
                .forward(&x_train.index_select(0, &batch))
                .cross_entropy_for_logits(&y_train.index_select(0, &batch));
            optimizer.backward_step(&loss); // zero_grad, backward, step
        }
        let correct = tch::no_grad(|| net.forward(&x_test).argmax(1, false).eq_tensor(&y_test));
        accuracies.push(correct.to_kind(Kind::Float).mean(None).double_value(&[]));
    }
    println!("{{\"test_accuracy\": {accuracies:?}}}");
}
