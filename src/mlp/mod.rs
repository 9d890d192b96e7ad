//! Notebook part 3, "Designing dense neural networks (MLP) with pytorch: layers, gradient and
//! optimizers": an `nn.Module`-style network, backpropagation and one SGD step.
//!
//! Mirrors cells In \[2\]–In \[17\]: `Network` (fc1: 784 → 32, relu, fc2: 32 → 10), printed as
//! PyTorch prints it; a random 1×1×28×28 input and the forward output; the parameters; a
//! backward pass with an explicit output gradient; an MSE loss against a random target; fc1's
//! bias gradient before (`None`) and after `loss.backward()`; fc1's first weights before and
//! after one SGD step (lr 0.05).
//!
//! After `manual_seed(S)` the draws happen in PyTorch's order — fc1.weight, fc1.bias,
//! fc2.weight, fc2.bias, the input, the output gradient, the target — all on the CPU and then
//! moved to the chosen device, so every device starts from the same numbers.

use anyhow::Result;
use serde::Serialize;
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Reduction, Tensor};

use crate::error::{ensure_usage, guard, torch};
use crate::graph::{backward_graph, Graph};
use crate::repr::{size_repr, tensor_repr, Repr};
use crate::repr::{tensor_json, TensorValues};

mod network;
mod render;

pub use network::*;

/// A run's settings; the defaults are the notebook's.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpConfig {
    pub seed: u64,
    /// Learning rate of the SGD step.
    pub lr: f64,
    /// Width of the hidden layer.
    pub hidden: i64,
    /// Also report the whole backward graph of the loss (`--graph`).
    pub graph: bool,
    /// Print every tensor the notebook prints (`--full`); the summary leaves out fc1's weight
    /// matrix.
    pub full: bool,
}

impl Default for MlpConfig {
    fn default() -> Self {
        MlpConfig { seed: 0, lr: 0.05, hidden: 32, graph: false, full: false }
    }
}

impl MlpConfig {
    /// Rejects settings that cannot run, naming the flag.
    pub fn validate(&self) -> Result<()> {
        crate::error::ensure_float32_rate("--lr", self.lr)?;
        ensure_usage((1..=MAX_HIDDEN).contains(&self.hidden), || {
            format!("--hidden must be between 1 and {MAX_HIDDEN}, got {}", self.hidden)
        })
    }
}

/// A parameter's name and shape.
#[derive(Debug, Clone, Serialize)]
pub struct ParameterInfo {
    pub name: String,
    pub shape: Vec<i64>,
}

/// What the walk-through computed; its notebook-style transcript is rendered from it
/// (`render.rs`).
#[derive(Debug, Clone, Serialize)]
pub struct MlpReport {
    pub seed: u64,
    pub device: String,
    pub parameters: Vec<ParameterInfo>,
    /// The forward output that the loss cell uses (1×10).
    pub output: TensorValues,
    pub target: TensorValues,
    pub loss: f64,
    pub fc1_bias_grad: TensorValues,
    pub fc1_weight_row0_before: TensorValues,
    pub fc1_weight_row0_after: TensorValues,
    /// The MSE loss on the same input and target after the SGD step.
    pub loss_after_step: f64,
    /// The step's facts the text states: ReLU's zeros, the largest and the relative change.
    pub step: StepFacts,
    /// In \[8\]: `loss.grad_fn`, its `next_functions[0][0]`, and that one's — names read from
    /// libtorch.
    pub grad_fn_chain: Vec<Option<String>>,
    /// The loss's whole backward graph, with `--graph`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backward_graph: Option<Graph>,
    /// fc1's weights (hidden × 784) before and after the SGD step, for `--plot`.
    #[serde(skip)]
    pub fc1_before: Vec<f32>,
    #[serde(skip)]
    pub fc1_after: Vec<f32>,
    /// The SGD step's learning rate and the hidden width (`MlpConfig`'s).
    #[serde(skip)]
    pub lr: f64,
    #[serde(skip)]
    pub hidden: i64,
    /// `--full`: every tensor the notebook prints.
    #[serde(skip)]
    pub full: bool,
    /// Per fc1 unit: switched off by ReLU for this input (pre-activation ≤ 0), so it gets no
    /// gradient — what `--plot` labels "off".
    #[serde(skip)]
    pub fc1_inactive: Vec<bool>,
    /// The MSE loss on the input and target right before the step (`loss` again, recomputed).
    #[serde(skip)]
    pub loss_before_step: f64,
    /// The loss's backward graph, read from libtorch (in the JSON with `--graph` only).
    #[serde(skip)]
    pub graph: Graph,
    #[serde(skip)]
    pub printed: Printed,
}

/// `randn` on the CPU (the generator every device shares here), then moved.
fn randn(size: &[i64], device: Device) -> Result<Tensor> {
    Tensor::randn(size, (Kind::Float, Device::Cpu)).f_to_device(device).map_err(torch)
}

/// `output.backward(gradient)`: backpropagates `gradient` as ∂L/∂output. tch only has
/// `backward()` on scalars, so this backpropagates Σ(output·gradient), whose derivative with
/// respect to output is exactly `gradient`.
fn backward_with(output: &Tensor, gradient: &Tensor) -> Result<()> {
    (output * gradient.detach()).sum(None).f_backward().map_err(torch)
}

/// The notebook's cells 3–17 in order, on `device`.
///
/// ```
/// use nnopt::mlp::{run, MlpConfig};
/// let report = run(&MlpConfig::default(), tch::Device::Cpu)?;
/// assert_eq!(report.grad_fn_chain[0].as_deref(), Some("MseLossBackward0"));
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn run(config: &MlpConfig, device: Device) -> Result<MlpReport> {
    let _only = crate::exclusive::enter();
    crate::device::prepare(device);
    config.validate()?;
    tch::manual_seed(config.seed as i64);
    let mut vs = nn::VarStore::new(Device::Cpu);
    let net = Network::new(&vs.root(), &[INPUT_FEATURES, config.hidden, CLASSES])?;
    guard("moving the network to --device", || vs.set_device(device))?;
    // Built now, not at the notebook's In [16]: tch's VarStore has no zero_grad, and libtorch's
    // optimizer zero_grad resets gradients to undefined — PyTorch's `None` — as net.zero_grad() does.
    let mut sgd = nn::Sgd::default().build(&vs, config.lr).map_err(torch)?;

    let input = randn(&[1, 1, 28, 28], device)?;
    let output = net.f_forward(&input)?;
    let parameters = net.parameters();
    let fc1_weight = &parameters[0].1;
    let mut printed = Printed {
        network: net.to_string(),
        input_size: size_repr(&input.size()),
        first_output: tensor_repr(&output),
        parameter_count: parameters.len(),
        fc1_weight: Repr::new(fc1_weight).parameter().to_string(),
        fc1_weight_size: size_repr(&fc1_weight.size()),
        ..Printed::default()
    };

    guard("zero_grad", || sgd.zero_grad())?;
    let output_gradient = randn(&[1, CLASSES], device)?;
    backward_with(&output, &output_gradient)?;
    // What that backward left behind: gradients of Σ output·g, which no loss asked for.
    printed.fc2_bias_grad = grad_repr(&parameters[3].1);

    let target = randn(&[CLASSES], device)?;
    printed.target = tensor_repr(&target);
    let target = target.view([1, -1]);
    printed.target_row = tensor_repr(&target);
    let output = net.f_forward(&input)?;
    let loss = output.f_mse_loss(&target, Reduction::Mean).map_err(torch)?;
    printed.loss = tensor_repr(&loss);

    let mut graph = backward_graph(&loss)?;
    graph.name_leaves(&parameters);
    let grad_fn_chain: Vec<Option<String>> =
        graph.first_input_chain(3).iter().map(|n| n.map(|n| n.name.clone())).collect();

    guard("zero_grad", || sgd.zero_grad())?;
    let fc1_bias = &parameters[1].1;
    printed.fc1_bias_grad_before = grad_repr(fc1_bias);
    loss.f_backward().map_err(torch)?;
    printed.fc1_bias_grad_after = grad_repr(fc1_bias);
    let fc1_bias_grad = tensor_json(&fc1_bias.grad())?;
    let (fc1_bias_grad_zeros, fc1_inactive) = count_bias_zeros(&input, fc1_weight, fc1_bias)?;
    let fc1_inactive_units = fc1_inactive.iter().filter(|&&off| off).count() as i64;

    // fc1 has at least one row (--hidden ≥ 1) and 784 ≥ 10 columns, so this view always exists.
    let row0 = || fc1_weight.get(0).narrow(0, 0, 10);
    printed.row0_before = tensor_repr(&row0());
    let fc1_weight_row0_before_tensor = row0().detach().copy();
    let fc1_weight_row0_before = tensor_json(&fc1_weight_row0_before_tensor)?;
    guard("zero_grad", || sgd.zero_grad())?;
    let step_loss = mse(&net, &input, &target)?;
    step_loss.f_backward().map_err(torch)?;
    let fc1_before = weights_of(fc1_weight)?;
    guard("the SGD step", || sgd.step())?;
    let fc1_after = weights_of(fc1_weight)?;
    printed.row0_after = tensor_repr(&row0());
    // The step is lr·grad, often below the 4 printed decimals; the text shows it on its own.
    printed.change = tensor_repr(&(row0() - fc1_weight_row0_before_tensor).detach());
    let step = StepFacts::new((fc1_bias_grad_zeros, fc1_inactive_units), &fc1_before, &fc1_after);
    // The same input and target after the step: what one step of descent bought.
    let loss_before_step = step_loss.f_double_value(&[]).map_err(torch)?;
    let loss_after_step = tch::no_grad(|| mse(&net, &input, &target)?.f_double_value(&[]).map_err(torch))?;

    Ok(MlpReport {
        seed: config.seed,
        device: crate::device::name(device),
        parameters: parameters
            .iter()
            .map(|(name, t)| ParameterInfo { name: name.clone(), shape: t.size() })
            .collect(),
        output: tensor_json(&output)?,
        target: tensor_json(&target.view([-1]))?,
        loss: loss.f_double_value(&[]).map_err(torch)?,
        fc1_bias_grad,
        fc1_weight_row0_before,
        fc1_weight_row0_after: tensor_json(&row0())?,
        loss_after_step,
        step,
        grad_fn_chain,
        backward_graph: config.graph.then(|| graph.clone()),
        fc1_before,
        fc1_after,
        lr: config.lr,
        hidden: config.hidden,
        full: config.full,
        fc1_inactive,
        loss_before_step,
        graph,
        printed,
    })
}

/// `nn.MSELoss()(net(input), target)`.
fn mse(net: &Network, input: &Tensor, target: &Tensor) -> Result<Tensor> {
    net.f_forward(input)?.f_mse_loss(target, Reduction::Mean).map_err(torch)
}

/// How PyTorch printed each tensor the notebook prints, recorded when it printed it: a repr
/// shows the tensor's autograd state at that moment (`grad_fn=<…>`, `requires_grad=True`, a
/// `.grad` still `None`), which its values alone do not carry. The transcript is rendered from
/// these and the report's typed facts (`render.rs`).
#[derive(Debug, Clone, Default)]
pub struct Printed {
    /// `print(net)`.
    pub network: String,
    pub input_size: String,
    pub first_output: String,
    pub parameter_count: usize,
    /// `params[0]`, fc1's weight as an `nn.Parameter`, and its size.
    pub fc1_weight: String,
    pub fc1_weight_size: String,
    /// fc2.bias.grad after `output.backward(g)`.
    pub fc2_bias_grad: String,
    pub target: String,
    /// The target viewed as a 1×10 row.
    pub target_row: String,
    pub loss: String,
    pub fc1_bias_grad_before: String,
    pub fc1_bias_grad_after: String,
    /// fc1.weight[0, :10] before and after the SGD step, and the change.
    pub row0_before: String,
    pub row0_after: String,
    pub change: String,
}

/// A parameter's `.grad` as PyTorch prints it: `None` until a backward pass fills it.
fn grad_repr(parameter: &Tensor) -> String {
    let grad = parameter.grad();
    if grad.defined() {
        tensor_repr(&grad)
    } else {
        "None".to_string()
    }
}

/// What the printed numbers of the step come to, in the JSON as in the text.
#[derive(Debug, Clone, Serialize)]
pub struct StepFacts {
    /// Zeros in fc1.bias.grad after `loss.backward()`.
    pub fc1_bias_grad_zeros: i64,
    /// fc1 units whose pre-activation w·x + b is ≤ 0 for the input (ReLU passes them no gradient).
    pub fc1_inactive_units: i64,
    /// The step's largest change to one weight of fc1, and where: [row (unit), column (pixel)].
    pub fc1_largest_change: f64,
    pub fc1_largest_change_at: [usize; 2],
    /// ‖Δ‖/‖W‖ over all of fc1.weight.
    pub fc1_relative_change: f64,
}

impl StepFacts {
    /// fc1.bias.grad's zeros and fc1's inactive units, and what the step did to fc1's weights.
    fn new((fc1_bias_grad_zeros, fc1_inactive_units): (i64, i64), before: &[f32], after: &[f32]) -> Self {
        let (fc1_largest_change, fc1_largest_change_at, fc1_relative_change) = measure_change(before, after);
        StepFacts {
            fc1_bias_grad_zeros,
            fc1_inactive_units,
            fc1_largest_change,
            fc1_largest_change_at,
            fc1_relative_change,
        }
    }
}

/// Why fc1.bias.grad has zeros: the fc1 units whose pre-activation is ≤ 0 for this input pass
/// nothing back through ReLU (relu'(z) = 0), counted from the numbers themselves.
/// Returns the zeros and, per unit, whether it is inactive.
fn count_bias_zeros(input: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<(i64, Vec<bool>)> {
    let z = tch::no_grad(|| input.f_view([1, -1])?.f_matmul(&weight.f_tr()?)?.f_add(bias)).map_err(torch)?;
    let inactive = z.f_le(0.0).and_then(|m| m.f_view([-1])).and_then(|m| m.f_to_device(tch::Device::Cpu));
    let inactive: Vec<bool> = Vec::<bool>::try_from(inactive.map_err(torch)?).map_err(torch)?;
    let zeros = bias.grad().f_eq(0.0).and_then(|m| m.f_sum(Kind::Int64)).and_then(|n| n.f_int64_value(&[]));
    Ok((zeros.map_err(torch)?, inactive))
}

/// The step's largest change over all of fc1.weight, where it is, and the change relative to
/// the weights: the rows printed above move by less than their four decimals show.
fn measure_change(before: &[f32], after: &[f32]) -> (f64, [usize; 2], f64) {
    let pixels = INPUT_FEATURES as usize;
    let (index, change) = before
        .iter()
        .zip(after)
        .map(|(b, a)| a - b)
        .enumerate()
        .max_by(|x, y| x.1.abs().total_cmp(&y.1.abs()))
        .unwrap_or((0, 0.0));
    let norm = |v: &mut dyn Iterator<Item = f32>| v.map(|x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    let moved = norm(&mut before.iter().zip(after).map(|(b, a)| a - b));
    let size = norm(&mut before.iter().copied());
    (f64::from(change), [index / pixels, index % pixels], moved / size)
}

/// A tensor's values, flattened, on the CPU.
fn weights_of(t: &Tensor) -> Result<Vec<f32>> {
    let flat = t
        .f_detach()
        .and_then(|t| t.f_to_device(Device::Cpu))
        .and_then(|t| t.f_to_kind(Kind::Float))
        .and_then(|t| t.f_reshape([-1]))
        .map_err(torch)?;
    Vec::try_from(&flat).map_err(torch)
}

/// `mlp --plot`: each row of fc1's weight as a 28×28 image — what each hidden unit looks at —
/// before and after the SGD step, and the change (lr·grad, on its own scale).
pub fn figure(report: &MlpReport) -> crate::plot::Figure {
    use crate::plot::{Figure, Panel};
    let pixels = INPUT_FEATURES as usize;
    let rows = |w: &[f32]| -> Vec<Vec<f32>> { w.chunks(pixels).take(64).map(<[f32]>::to_vec).collect() };
    let (before, after) = (rows(&report.fc1_before), rows(&report.fc1_after));
    let change: Vec<Vec<f32>> =
        before.iter().zip(&after).map(|(b, a)| a.iter().zip(b).map(|(x, y)| x - y).collect()).collect();
    let units = before.len();
    let hidden = report.fc1_before.len() / pixels;
    let shown = if units < hidden {
        format!("the first {units} of {hidden} units")
    } else {
        format!("{units} units")
    };
    let columns = 8.min(units.max(1));
    // A unit ReLU switched off for this input gets no gradient: a blank tile, labelled so (the
    // same units the text counts).
    let off: Vec<String> = (0..units)
        .map(|k| if report.fc1_inactive.get(k) == Some(&true) { "off".to_string() } else { String::new() })
        .collect();
    let inactive = report.fc1_inactive.iter().filter(|&&off| off).count();
    let panel = |title: String, images: Vec<Vec<f32>>, captions: Vec<String>| Panel::Images {
        title,
        images,
        height: 28,
        width: 28,
        columns,
        signed: true,
        captions,
    };
    let grid_rows = units.div_ceil(columns) as u32;
    Figure {
        // At least wide and tall enough for the panel titles, however few units there are.
        width: 3 * (columns as u32 * 62 + 20).max(420),
        height: (grid_rows * 62 + 60).max(200),
        columns: 3,
        panels: vec![
            panel(format!("fc1.weight rows before the step ({shown}; red +, blue −)"), before, Vec::new()),
            panel("after one SGD step".into(), after, Vec::new()),
            panel(
                format!(
                    "the change −lr·grad (own scale; off: {inactive} of {hidden} units ReLU switched off)"
                ),
                change,
                off,
            ),
        ],
    }
}

/// `mlp --csv`: the numbers behind `--plot`, one row per fc1 weight: unit, pixel, before, after.
pub fn fc1_csv(report: &MlpReport) -> String {
    let pixels = INPUT_FEATURES as usize;
    let mut csv = String::from("unit,pixel,before,after\n");
    for (k, (b, a)) in report.fc1_before.iter().zip(&report.fc1_after).enumerate() {
        csv.push_str(&format!("{},{},{b},{a}\n", k / pixels, k % pixels));
    }
    csv
}

impl crate::report::Report for MlpReport {
    fn text(&self) -> String {
        render::render(self)
    }
    fn csv(&self) -> Option<String> {
        Some(fc1_csv(self))
    }
    fn figure(&self) -> anyhow::Result<Option<crate::plot::Figure>> {
        Ok(Some(figure(self)))
    }
}
