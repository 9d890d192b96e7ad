//! `nnopt autograd`: the notebook's gradient, checked against calculus and finite differences.

use nnopt::autograd::{run, AutogradConfig};
use tch::Device;

use crate::common::{nnopt, nnopt_json, nnopt_ok};

#[test]
fn json_has_the_notebook_values() {
    // PyTorch: a = F.relu(w*x + b) with x=[5.], w=[1.2], b=[0.5] → tensor([6.5]); grad(a, w) → (tensor([5.]),); grad(a, b) → (tensor([1.]),)
    let v = nnopt_json(&["autograd", "--json", "--device", "cpu"]);
    assert_eq!(v["activation"], 6.5);
    assert_eq!(v["grad_w"], 5.0);
    assert_eq!(v["grad_b"], 1.0);
    assert_eq!((v["x"].as_f64(), v["w"].as_f64(), v["b"].as_f64()), (Some(5.0), Some(1.2), Some(0.5)));
    assert!((v["finite_difference"]["grad_w"].as_f64().unwrap() - 5.0).abs() < 1e-6, "{v}");
    assert!((v["finite_difference"]["grad_b"].as_f64().unwrap() - 1.0).abs() < 1e-6, "{v}");
}

#[test]
fn text_prints_like_the_notebook() {
    // Notebook cells In [14] and In [15]: tensor([6.5000], grad_fn=<ReluBackward0>) and (tensor([5.]),)
    let text = nnopt_ok(&["autograd", "--device", "cpu"]);
    assert!(text.contains("\ntensor([6.5000], grad_fn=<ReluBackward0>)\n"), "{text}");
    assert!(text.contains("grad(a, w) = (tensor([5.]),)"), "{text}");
    assert!(text.contains("grad(a, b) = (tensor([1.]),)"), "{text}");
}

#[test]
fn a_negative_preactivation_has_zero_gradient_and_says_why() {
    let r = run(&AutogradConfig { b: -10.0, ..Default::default() }, Device::Cpu).unwrap();
    assert_eq!((r.activation, r.grad_w, r.grad_b), (0.0, 0.0, 0.0));
    assert_eq!((r.finite_difference.grad_w, r.finite_difference.grad_b), (0.0, 0.0));
    let text = nnopt_ok(&["autograd", "--b", "-10", "--device", "cpu"]);
    assert!(text.contains("< 0") && text.contains("dead"), "{text}");
}

#[test]
fn gradients_follow_x_for_other_inputs() {
    // d relu(w·x + b)/dw = x wherever w·x + b > 0.
    let r = run(&AutogradConfig { x: -3.0, w: -2.0, b: 1.0, graph: false }, Device::Cpu).unwrap();
    assert_eq!((r.activation, r.grad_w, r.grad_b), (7.0, -3.0, 1.0));
    assert!((r.finite_difference.grad_w + 3.0).abs() < 1e-6);
}

#[test]
fn non_finite_inputs_are_usage_errors() {
    let out = nnopt(&["autograd", "--x", "nan"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--x must be a finite number"));
}
