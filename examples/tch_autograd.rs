//! The notebook's autograd example in plain tch: the gradient of a = relu(w·x + b) with respect
//! to w and b. The same numbers as `nnopt autograd` (a CI test compares them).
//!
//!     cargo run --example tch_autograd

use tch::{Kind, Tensor};

fn main() {
    let x = Tensor::from_slice(&[5.0f32]);
    let w = Tensor::from_slice(&[1.2f32]).set_requires_grad(true); // autograd records w and b
    let b = Tensor::from_slice(&[0.5f32]).set_requires_grad(true);
    let a = (&w * &x + &b).relu();
    // The chain rule, applied backward from a: torch.autograd.grad(a, (w, b)).
    let grads = Tensor::run_backward(&[&a], &[&w, &b], false, false);

    let value = |t: &Tensor| t.to_kind(Kind::Double).double_value(&[0]);
    println!(
        "{{\"activation\": {:?}, \"grad_w\": {:?}, \"grad_b\": {:?}}}",
        value(&a),
        value(&grads[0]),
        value(&grads[1])
    );
}
