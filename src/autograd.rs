//! Notebook part 2, "Autograd example in pytorch": one ReLU unit `a = relu(w·x + b)` and its
//! gradients through libtorch's autograd engine.
//!
//! Mirrors cells In \[14\] (`act = F.relu(w*x + b)`, printed) and In \[15\]
//! (`grad(act, w, retain_graph=True)`). `Tensor::run_backward` is tch's
//! `torch.autograd.grad`: it returns the gradients of the outputs with respect to the inputs
//! without touching `.grad`. Beyond the notebook, each gradient is checked against a central
//! finite difference of the same function in float64, and the result is explained — in
//! particular why it is 0 where the ReLU's input is negative.

use anyhow::Result;
use serde::Serialize;
use tch::{Device, Kind, Tensor};

use crate::error::{ensure_usage, torch};
use crate::graph::{backward_graph, Graph};
use crate::repr::{tensor_repr, tuple_repr};

/// The unit's inputs; the defaults are the notebook's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutogradConfig {
    pub x: f64,
    pub w: f64,
    pub b: f64,
    /// Also report the backward graph of `a` (`--graph`).
    pub graph: bool,
}

impl Default for AutogradConfig {
    fn default() -> Self {
        AutogradConfig { x: 5.0, w: 1.2, b: 0.5, graph: false }
    }
}

/// Central finite differences of `a` with respect to w and b.
#[derive(Debug, Clone, Serialize)]
pub struct FiniteDifference {
    pub grad_w: f64,
    pub grad_b: f64,
}

/// What the demo computed; the `*_repr` fields are the PyTorch-style text of the tensors.
#[derive(Debug, Clone, Serialize)]
pub struct AutogradReport {
    pub x: f64,
    pub w: f64,
    pub b: f64,
    pub activation: f64,
    pub grad_w: f64,
    pub grad_b: f64,
    pub finite_difference: FiniteDifference,
    /// The backward graph of `a`, leaves named `w` and `b`, with `--graph`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backward_graph: Option<Graph>,
    #[serde(skip)]
    pub activation_repr: String,
    #[serde(skip)]
    pub grad_w_repr: String,
    #[serde(skip)]
    pub grad_b_repr: String,
}

/// Step for the central difference: small against the inputs, large against float64 rounding.
const FD_STEP: f64 = 1e-6;

/// Runs the demo on `device`.
///
/// ```
/// use nnopt::autograd::{run, AutogradConfig};
/// // a = relu(w·x + b) at x = 5: da/dw = x.
/// let report = run(&AutogradConfig::default(), tch::Device::Cpu)?;
/// assert_eq!(report.grad_w, 5.0);
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn run(config: &AutogradConfig, device: Device) -> Result<AutogradReport> {
    crate::device::prepare(device);
    for (flag, value) in [("--x", config.x), ("--w", config.w), ("--b", config.b)] {
        ensure_usage(value.is_finite(), || format!("{flag} must be a finite number, got {value}"))?;
        ensure_usage(value.abs() <= f32::MAX as f64, || {
            format!("{flag} {value} does not fit float32, the tensors' type (|value| ≤ 3.4e38)")
        })?;
    }
    // The unit computes in float32: an activation past its range is inf, and every number after
    // it (the gradient, the explanation) would be about a different function.
    let z = config.w * config.x + config.b;
    ensure_usage(z.abs() <= f32::MAX as f64, || {
        format!("--x, --w, --b: w·x + b = {z:e} overflows float32 (max 3.4e38); use smaller values")
    })?;
    // float32 one-element tensors, as the notebook's torch.tensor([5.]).
    let scalar = |v: f64| Tensor::from_slice(&[v as f32]).f_to_device(device).map_err(torch);
    let x = scalar(config.x)?;
    let w = scalar(config.w)?.set_requires_grad(true);
    let b = scalar(config.b)?.set_requires_grad(true);

    let act = (&w * &x + &b).f_relu().map_err(torch)?;
    let mut graph = backward_graph(&act)?;
    graph.name_leaves(&[("w".to_string(), w.shallow_clone()), ("b".to_string(), b.shallow_clone())]);
    // keep_graph: the second call walks the same graph (the notebook's retain_graph=True).
    let grad_w = Tensor::f_run_backward(&[&act], &[&w], true, false).map_err(torch)?.remove(0);
    let grad_b = Tensor::f_run_backward(&[&act], &[&b], false, false).map_err(torch)?.remove(0);

    Ok(AutogradReport {
        x: config.x,
        w: config.w,
        b: config.b,
        activation: act.f_double_value(&[0]).map_err(torch)?,
        grad_w: grad_w.f_double_value(&[0]).map_err(torch)?,
        grad_b: grad_b.f_double_value(&[0]).map_err(torch)?,
        finite_difference: finite_difference(config, device)?,
        backward_graph: config.graph.then_some(graph),
        activation_repr: tensor_repr(&act),
        grad_w_repr: tuple_repr(&[tensor_repr(&grad_w)]),
        grad_b_repr: tuple_repr(&[tensor_repr(&grad_b)]),
    })
}

/// (f(θ + h) − f(θ − h)) / 2h for θ = w and θ = b, evaluated by libtorch in float64.
fn finite_difference(config: &AutogradConfig, device: Device) -> Result<FiniteDifference> {
    let f = |w: f64, b: f64| -> Result<f64> {
        let t = |v: f64| Tensor::from_slice(&[v]).to_kind(Kind::Double).f_to_device(device).map_err(torch);
        (t(w)? * t(config.x)? + t(b)?).relu().f_double_value(&[0]).map_err(torch)
    };
    let (w, b, h) = (config.w, config.b, FD_STEP);
    Ok(FiniteDifference {
        grad_w: (f(w + h, b)? - f(w - h, b)?) / (2.0 * h),
        grad_b: (f(w, b + h)? - f(w, b - h)?) / (2.0 * h),
    })
}

/// The demo as text: the notebook's two printed values, the checks, and what they mean.
pub fn render(r: &AutogradReport) -> String {
    let (meaning, kink) = crate::judge::kink::explain(r.x, r.w, r.b, r.grad_w, FD_STEP);
    format!(
        "a = relu(w·x + b) with x = {}, w = {}, b = {}\n{}\n\n\
         the chain rule, as autograd applies it (z = w·x + b; relu'(z) = 1 for z > 0, 0 for z ≤ 0):\n  \
         da/dw = relu'(z)·dz/dw = relu'(z)·x        da/db = relu'(z)·dz/db = relu'(z)·1\n\n\
         grad(a, w) = {}    central difference: {:.6}\n\
         grad(a, b) = {}    central difference: {:.6}\n\n{meaning}{kink}\n",
        r.x,
        r.w,
        r.b,
        r.activation_repr,
        r.grad_w_repr,
        r.finite_difference.grad_w,
        r.grad_b_repr,
        r.finite_difference.grad_b,
    ) + &r
        .backward_graph
        .as_ref()
        .map(|g| format!("\nthe backward graph of a ([i]: input i, i.e. next_functions[i])\n{}", g.tree()))
        .unwrap_or_default()
}

impl crate::report::Report for AutogradReport {
    fn text(&self) -> String {
        render(self)
    }
}
