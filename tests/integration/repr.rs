//! PyTorch-style printing, against the strings PyTorch itself printed.

use nnopt::repr::{float_repr, size_repr, tensor_repr, tuple_repr, Repr};
use tch::{Kind, Tensor};

use crate::common::{golden, torch_rng};

fn randn(seed: i64, shape: &[i64]) -> Tensor {
    tch::manual_seed(seed);
    Tensor::randn(shape, (Kind::Float, tch::Device::Cpu))
}

fn floats(values: &[f32]) -> Tensor {
    Tensor::from_slice(values)
}

/// The tensor each golden in tests/goldens/repr.json was printed from (same names).
fn case(name: &str) -> Tensor {
    match name {
        "one_value" => floats(&[6.5]),
        "integral" => floats(&[5.0]),
        "column_requires_grad" => floats(&[1.5410, -0.2934]).reshape([2, 1]).set_requires_grad(true),
        "randn_32x784" => randn(0, &[32, 784]),
        "parameter_32x784" => randn(0, &[32, 784]).set_requires_grad(true),
        "randn_1x10" => randn(1, &[1, 10]),
        "randn_2x3x4" => randn(2, &[2, 3, 4]),
        "randn_1200" => randn(3, &[1200]),
        "randn_10x10x20" => randn(4, &[10, 10, 20]),
        "randn_8_requires_grad" => randn(5, &[8]).set_requires_grad(true),
        "randn_9_requires_grad" => randn(6, &[9]).set_requires_grad(true),
        "randn_3x7_scaled" => randn(7, &[3, 7]) * 100,
        "arange_10" => Tensor::arange(10, (Kind::Float, tch::Device::Cpu)),
        "arange_int" => Tensor::arange(12, (Kind::Int64, tch::Device::Cpu)),
        "int32" => Tensor::arange(5, (Kind::Int, tch::Device::Cpu)),
        "float64" => Tensor::from_slice(&[0.1f64, 2.5]),
        "half" => floats(&[1.5, 2.25]).to_kind(Kind::Half),
        "sci_small" => floats(&[1e-5, 1.0, 3.5]),
        "sci_large" => floats(&[1e9, 2.5]),
        "integral_wide" => floats(&[1.0, 20000.0]),
        "zeros" => Tensor::zeros([2, 2], (Kind::Float, tch::Device::Cpu)),
        "scalar" => Tensor::from(0.0592f32),
        "scalar_zero" => Tensor::from(0.0f32),
        "scalar_large" => Tensor::from(2782.2212f32),
        "nan_inf" => floats(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1.5]),
        "bool" => Tensor::from_slice(&[true, false, true]),
        "empty_2d" => Tensor::zeros([0, 3], (Kind::Float, tch::Device::Cpu)),
        "empty_1d" => Tensor::zeros([0], (Kind::Float, tch::Device::Cpu)),
        "negative_zero" => floats(&[-0.0, 1.25]),
        "linspace_25" => Tensor::linspace(-3.0, 3.0, 25, (Kind::Float, tch::Device::Cpu)),
        other => panic!("no tensor for golden case {other}"),
    }
}

#[test]
fn every_case_prints_as_pytorch_prints_it() {
    // Goldens: scripts/torch-python scripts/reference/repr_goldens.py > tests/goldens/repr.json
    let _rng = torch_rng();
    let goldens = golden("repr.json");
    let goldens = goldens.as_object().expect("an object of name → repr");
    assert!(goldens.len() >= 30, "the golden file lost cases");
    let mut failures = Vec::new();
    for (name, expected) in goldens {
        let tensor = case(name);
        let ours = if name.starts_with("parameter") {
            Repr::new(&tensor).parameter().to_string()
        } else {
            tensor_repr(&tensor)
        };
        let expected = expected.as_str().expect("a string");
        if ours != expected {
            failures.push(format!("{name}:\n--- PyTorch\n{expected}\n--- nnopt\n{ours}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn parameter_prefix_and_requires_grad() {
    // PyTorch: print(torch.nn.Parameter(torch.tensor([1.0]))) → Parameter containing:\ntensor([1.], requires_grad=True)
    let p = floats(&[1.0]).set_requires_grad(true);
    assert_eq!(
        Repr::new(&p).parameter().to_string(),
        "Parameter containing:\ntensor([1.], requires_grad=True)"
    );
}

#[test]
fn grad_fn_is_read_from_the_tensor_and_shown_only_for_non_leaves() {
    // PyTorch: w = torch.tensor([1.2], requires_grad=True); F.relu(w * 5 + 0.5) → tensor([6.5000], grad_fn=<ReluBackward0>)
    let w = floats(&[1.2]).set_requires_grad(true);
    let a = (&w * 5.0 + 0.5).relu();
    assert_eq!(tensor_repr(&a), "tensor([6.5000], grad_fn=<ReluBackward0>)");
    // Another operation, another name, with no caller telling: (w * 5 + 0.5).sigmoid() → SigmoidBackward0.
    assert_eq!(tensor_repr(&(&w * 5.0 + 0.5).sigmoid()), "tensor([0.9985], grad_fn=<SigmoidBackward0>)");
    // A leaf shows requires_grad=True; a tensor without grad shows neither.
    assert_eq!(tensor_repr(&w), "tensor([1.2000], requires_grad=True)");
    assert_eq!(tensor_repr(&a.detach()), "tensor([6.5000])");
}

#[test]
fn sizes_tuples_and_floats() {
    // Python: str(torch.Size([32, 784])); repr((torch.tensor([5.]),)); repr(0.001), repr(1e-05), repr(2.0), repr(1e16)
    assert_eq!(size_repr(&[32, 784]), "torch.Size([32, 784])");
    assert_eq!(size_repr(&[1, 1, 28, 28]), "torch.Size([1, 1, 28, 28])");
    assert_eq!(tuple_repr(&["tensor([5.])".to_string()]), "(tensor([5.]),)");
    assert_eq!(tuple_repr(&["a".to_string(), "b".to_string()]), "(a, b)");
    assert_eq!(float_repr(0.001), "0.001");
    assert_eq!(float_repr(1e-5), "1e-05");
    assert_eq!(float_repr(2.0), "2.0");
    assert_eq!(float_repr(1e16), "1e+16");
    assert_eq!(float_repr(-0.1477540284395218), "-0.1477540284395218");
}

#[test]
fn multiline_tuples_follow_ipython() {
    // IPython shows (torch.tensor([[1.],[2.]]), 0.001) as "(tensor([[1.],\n         [2.]]),\n 0.001)"
    let t = floats(&[1.0, 2.0]).reshape([2, 1]);
    assert_eq!(
        tuple_repr(&[tensor_repr(&t), float_repr(0.001)]),
        "(tensor([[1.],\n         [2.]]),\n 0.001)"
    );
}
