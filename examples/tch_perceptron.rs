//! The notebook's perceptron in plain tch: ŷ = relu(x·w + b), trained by the delta rule by hand.
//! What a Rust reader would write — no nnopt in it — and the same numbers as
//! `nnopt perceptron --seed SEED` (a CI test compares them).
//!
//!     cargo run --example tch_perceptron [SEED]

use tch::{Device, Kind, Tensor};

fn main() {
    let seed = std::env::args().nth(1).map_or(7, |s| s.parse().expect("SEED: a whole number"));
    tch::manual_seed(seed);
    let (lr, epochs, n) = (0.001, 101, 10);
    let opts = (Kind::Float, Device::Cpu);

    let mut w = Tensor::randn([3, 1], opts); // drawn first, as the notebook's __init__ does
    let mut b = Tensor::zeros([1], opts);
    let x = Tensor::arange(3 * n, opts).reshape([n, 3]) + Tensor::randn([n, 3], opts) * 2.0;
    let y = Tensor::arange(n, opts);

    let predict = |w: &Tensor, b: &Tensor, x: &Tensor| (x.matmul(w) + b).relu();
    let loss = |y_hat: &Tensor| ((y.reshape([-1, 1]) - y_hat).pow_tensor_scalar(2) / 2.0).mean(None);

    let mut losses = Vec::new();
    for _epoch in 0..epochs {
        for i in 0..n {
            // The delta rule, one sample at a time; no autograd.
            let x_i = x.get(i).reshape([1, 3]);
            let error = (y.get(i).reshape([1, 1]) - predict(&w, &b, &x_i)).reshape([-1]);
            w += &error * lr * x_i.reshape([3, 1]);
            b += &error * lr;
        }
        losses.push(loss(&predict(&w, &b, &x)).double_value(&[]));
    }

    let w: Vec<f64> = w.reshape([-1]).iter::<f64>().expect("w").collect();
    println!("{{\"losses\": {losses:?}, \"w\": {w:?}, \"b\": {:?}}}", b.double_value(&[0]));
}
