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
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Reduction, Tensor};

use crate::error::{ensure_positive, ensure_usage, guard, torch};
use crate::graph::{backward_graph, Graph};
use crate::repr::{size_repr, tensor_repr, Repr};
use crate::repr::{tensor_json, TensorValues};

/// Pixels in a 28×28 image.
pub const INPUT_FEATURES: i64 = 28 * 28;
/// Digits 0–9.
pub const CLASSES: i64 = 10;
/// Widths past this would not teach anything a smaller one does not, and can exhaust memory.
pub const MAX_HIDDEN: i64 = 1 << 16;
/// Parameters in all (weights and biases): 100 M float32 is 400 MB before gradients and
/// optimizer state, past anything this notebook's networks need. Bounds what `--hidden`
/// and a weights file can make nnopt allocate.
pub const MAX_PARAMETERS: i64 = 100_000_000;

/// Weights and biases of a fully connected network with these layer widths.
pub fn parameter_count(widths: &[i64]) -> i64 {
    widths.windows(2).map(|w| (w[0].saturating_add(1)).saturating_mul(w[1])).fold(0i64, i64::saturating_add)
}

/// PyTorch's `nn.Linear` initialisation, which tch's `nn::linear` does not reproduce (tch draws
/// the bias first and bounds the weight by √(6/fan_in)).
///
/// `reset_parameters` runs `kaiming_uniform_(weight, a=√5)`: bound = √3 · gain / √fan_in with
/// gain = √(2 / (1 + a²)) — computed here in the same float64 steps, since a² is not exactly 5 —
/// then bias ~ U(−1/√fan_in, 1/√fan_in). Weight first, then bias.
pub fn torch_linear(path: nn::Path, in_features: i64, out_features: i64) -> Result<nn::Linear> {
    let a = 5f64.sqrt();
    let gain = (2.0 / (1.0 + a * a)).sqrt();
    let weight_bound = 3f64.sqrt() * (gain / (in_features as f64).sqrt());
    let ws = path
        .f_var(
            "weight",
            &[out_features, in_features],
            nn::Init::Uniform { lo: -weight_bound, up: weight_bound },
        )
        .map_err(torch)?;
    let bias_bound = 1.0 / (in_features as f64).sqrt();
    let bs = path
        .f_var("bias", &[out_features], nn::Init::Uniform { lo: -bias_bound, up: bias_bound })
        .map_err(torch)?;
    Ok(nn::Linear { ws, bs: Some(bs) })
}

/// The notebook's `Network`: flatten, then `fc1 → relu → … → fcN`; parameters named as PyTorch
/// names them (`fc1.weight`, `fc1.bias`, …) in the VarStore.
#[derive(Debug)]
pub struct Network {
    /// (in_features, out_features, layer) for fc1, fc2, …
    layers: Vec<(i64, i64, nn::Linear)>,
}

impl Network {
    /// A network with the given layer widths, e.g. `[784, 32, 10]` for the notebook's.
    pub fn new(vs: &nn::Path, widths: &[i64]) -> Result<Self> {
        Self::build(vs, widths, torch_linear)
    }

    /// A network of zeros, for parameters about to be overwritten (loading weights): it draws
    /// nothing from libtorch's generator, so loading never changes what a seeded run draws next.
    pub fn zeroed(vs: &nn::Path, widths: &[i64]) -> Result<Self> {
        Self::build(vs, widths, |path, input, output| {
            let ws = path.f_var("weight", &[output, input], nn::Init::Const(0.0)).map_err(torch)?;
            let bs = path.f_var("bias", &[output], nn::Init::Const(0.0)).map_err(torch)?;
            Ok(nn::Linear { ws, bs: Some(bs) })
        })
    }

    fn build(
        vs: &nn::Path,
        widths: &[i64],
        layer: impl Fn(nn::Path, i64, i64) -> Result<nn::Linear>,
    ) -> Result<Self> {
        let layers = widths
            .windows(2)
            .enumerate()
            .map(|(i, w)| Ok((w[0], w[1], layer(vs / format!("fc{}", i + 1), w[0], w[1])?)))
            .collect::<Result<_>>()?;
        Ok(Network { layers })
    }

    /// Layer widths, input first: `[784, 32, 10]` for the notebook's network.
    pub fn widths(&self) -> Vec<i64> {
        self.layers
            .iter()
            .map(|(input, _, _)| *input)
            .chain(self.layers.last().map(|(_, out, _)| *out))
            .collect()
    }

    /// The layers, in order: fc1, fc2, …
    pub fn layers(&self) -> impl Iterator<Item = &nn::Linear> {
        self.layers.iter().map(|(_, _, layer)| layer)
    }

    /// Parameters in `net.parameters()` order: fc1.weight, fc1.bias, fc2.weight, …
    pub fn parameters(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (i, layer) in self.layers().enumerate() {
            out.push((format!("fc{}.weight", i + 1), layer.ws.shallow_clone()));
            if let Some(bs) = &layer.bs {
                out.push((format!("fc{}.bias", i + 1), bs.shallow_clone()));
            }
        }
        out
    }
}

impl Network {
    /// The forward pass through fallible calls: what every command runs, so a libtorch error
    /// (CUDA out of memory, a device mismatch) is an error with context, not a panic. The same
    /// operations as [`Module::forward`] (tch's Linear is `xs.linear(ws, bs)`), so the same bits.
    pub fn f_forward(&self, xs: &Tensor) -> Result<Tensor> {
        let last = self.layers.len() - 1;
        let mut x = xs.f_flatten(1, -1).map_err(torch)?;
        for (i, layer) in self.layers().enumerate() {
            x = x.f_linear(&layer.ws, layer.bs.as_ref()).map_err(torch)?;
            if i < last {
                x = x.f_relu().map_err(torch)?;
            }
        }
        Ok(x)
    }
}

impl Module for Network {
    /// nn.Module's forward, for code written against tch's `Module` (the examples); nnopt's own
    /// commands call [`Network::f_forward`].
    fn forward(&self, xs: &Tensor) -> Tensor {
        let last = self.layers.len() - 1;
        let mut x = xs.flatten(1, -1);
        for (i, layer) in self.layers().enumerate() {
            x = layer.forward(&x);
            if i < last {
                x = x.relu();
            }
        }
        x
    }
}

/// `print(net)`.
impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "Network(")?;
        for (i, (input, output, layer)) in self.layers.iter().enumerate() {
            let bias = if layer.bs.is_some() { "True" } else { "False" };
            writeln!(f, "  (fc{}): Linear(in_features={input}, out_features={output}, bias={bias})", i + 1)?;
        }
        write!(f, ")")
    }
}

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
}

impl Default for MlpConfig {
    fn default() -> Self {
        MlpConfig { seed: 0, lr: 0.05, hidden: 32, graph: false }
    }
}

impl MlpConfig {
    /// Rejects settings that cannot run, naming the flag.
    pub fn validate(&self) -> Result<()> {
        ensure_positive("--lr", self.lr)?;
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

/// What the walk-through computed; `text` is the notebook-style transcript.
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
    #[serde(skip)]
    pub text: String,
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
    let mut text = String::new();
    let mut line = |s: String| {
        text.push_str(&s);
        text.push('\n');
    };

    line("# print(net)".into());
    line(net.to_string());

    line("# input = torch.randn(1, 1, 28, 28); print(input.shape); print(net(input))".into());
    let input = randn(&[1, 1, 28, 28], device)?;
    line(size_repr(&input.size()));
    let output = net.f_forward(&input)?;
    line(tensor_repr(&output));

    line("# params = list(net.parameters()); len(params); params[0]; params[0].size()".into());
    let parameters = net.parameters();
    line(parameters.len().to_string());
    let fc1_weight = &parameters[0].1;
    line(Repr::new(fc1_weight).parameter().to_string());
    line(size_repr(&fc1_weight.size()));

    line("# net.zero_grad(); output.backward(torch.randn(1, 10))".into());
    guard("zero_grad", || sgd.zero_grad())?;
    let output_gradient = randn(&[1, CLASSES], device)?;
    backward_with(&output, &output_gradient)?;
    // What that backward left behind: gradients of Σ output·g, which no loss asked for.
    let fc2_bias = &parameters[3].1;
    line(format!(
        "# it left ∂(Σ output·g)/∂θ in every .grad (g: the random tensor); fc2.bias.grad is g itself, since \
         ∂output/∂fc2.bias = 1:\n{}",
        grad_repr(fc2_bias)
    ));
    line(
        "# .grad accumulates across backward passes, so net.zero_grad() clears these before the loss's"
            .into(),
    );

    line("# target = torch.randn(10); target.view(1, -1); loss = nn.MSELoss()(net(input), target)".into());
    let target = randn(&[CLASSES], device)?;
    line(tensor_repr(&target));
    let target = target.view([1, -1]);
    line(tensor_repr(&target));
    let output = net.f_forward(&input)?;
    let loss = output.f_mse_loss(&target, Reduction::Mean).map_err(torch)?;
    line(tensor_repr(&loss));

    let mut graph = backward_graph(&loss)?;
    graph.name_leaves(&parameters);
    let grad_fn_chain: Vec<Option<String>> =
        graph.first_input_chain(3).iter().map(|n| n.map(|n| n.name.clone())).collect();
    line("# print(loss.grad_fn); print(loss.grad_fn.next_functions[0][0]);".into());
    line("# print(loss.grad_fn.next_functions[0][0].next_functions[0][0])".into());
    for name in &grad_fn_chain {
        line(name.as_ref().map_or("None".to_string(), |n| format!("<{n} object>")));
    }
    line(explain_in8(&graph));

    line("# net.zero_grad(); fc1.bias.grad before and after loss.backward()".into());
    guard("zero_grad", || sgd.zero_grad())?;
    let fc1_bias = &parameters[1].1;
    line("before".into());
    line(grad_repr(fc1_bias));
    loss.f_backward().map_err(torch)?;
    line("after".into());
    line(grad_repr(fc1_bias));
    let fc1_bias_grad = tensor_json(&fc1_bias.grad())?;
    let (fc1_bias_grad_zeros, fc1_inactive_units) = count_bias_zeros(&input, fc1_weight, fc1_bias)?;
    line(format!(
        "# {fc1_bias_grad_zeros} of the {} entries are 0: {fc1_inactive_units} fc1 units have w·x + b ≤ 0 for this \
         input, and ReLU passes no gradient back through an inactive unit (relu'(z) = 0)",
        config.hidden
    ));

    line(format!(
        "# one SGD step, θ ← θ − lr·∇L for every parameter θ (lr {}); fc1.weight[0, :10] before and after",
        config.lr
    ));
    // fc1 has at least one row (--hidden ≥ 1) and 784 ≥ 10 columns, so this view always exists.
    let row0 = || fc1_weight.get(0).narrow(0, 0, 10);
    line(tensor_repr(&row0()));
    let fc1_weight_row0_before_tensor = row0().detach().copy();
    let fc1_weight_row0_before = tensor_json(&fc1_weight_row0_before_tensor)?;
    guard("zero_grad", || sgd.zero_grad())?;
    let step_loss = net.f_forward(&input)?.f_mse_loss(&target, Reduction::Mean).map_err(torch)?;
    step_loss.f_backward().map_err(torch)?;
    let fc1_before = weights_of(fc1_weight)?;
    guard("the SGD step", || sgd.step())?;
    let fc1_after = weights_of(fc1_weight)?;
    line(tensor_repr(&row0()));
    // The step is lr·grad, often below the 4 printed decimals; show it on its own.
    let change = (row0() - fc1_weight_row0_before_tensor).detach();
    line(format!(
        "# change = −lr·grad (zero where fc1's unit 0 is inactive for this input)\n{}",
        tensor_repr(&change)
    ));
    let (fc1_largest_change, fc1_largest_change_at, fc1_relative_change) =
        measure_change(&fc1_before, &fc1_after);
    line(format!(
        "# over all of fc1.weight the largest change is {fc1_largest_change:+.3e} (at [{}, {}]); the layer moved by \
         {:.1} % of its size (‖Δ‖/‖W‖)",
        fc1_largest_change_at[0],
        fc1_largest_change_at[1],
        100.0 * fc1_relative_change
    ));
    let step = StepFacts {
        fc1_bias_grad_zeros,
        fc1_inactive_units,
        fc1_largest_change,
        fc1_largest_change_at,
        fc1_relative_change,
    };
    // The same input and target after the step: what one step of descent bought.
    let loss_before = step_loss.f_double_value(&[]).map_err(torch)?;
    let loss_after_step = tch::no_grad(|| net.f_forward(&input))?
        .f_mse_loss(&target, Reduction::Mean)
        .and_then(|l| l.f_double_value(&[]))
        .map_err(torch)?;
    line(format!(
        "# the loss on this input: {loss_before:.6} before the step, {loss_after_step:.6} after ({:+.6})",
        loss_after_step - loss_before
    ));

    if config.graph {
        line(format!(
            "# the whole backward graph of the loss ([i]: input i, i.e. next_functions[i])\n{}",
            graph.tree()
        ));
    }

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
        backward_graph: config.graph.then_some(graph),
        fc1_before,
        fc1_after,
        text,
    })
}

/// What In \[8\] shows, in words: where each input of the node after the loss goes. The
/// notebook's comment calls `next_functions[0][0]` of the linear layer "relu", but libtorch's
/// linear is `addmm(bias, input, weightᵀ)`; the graph itself says what input 0 is.
fn explain_in8(graph: &Graph) -> String {
    let chain = graph.first_input_chain(2);
    let (Some(Some(loss)), Some(Some(linear))) = (chain.first(), chain.get(1)) else {
        return String::new();
    };
    let inputs = graph.next_functions(linear.id);
    let mut text = format!(
        "# {} is the loss's node; its input 0 is {}, the last layer.\n\
         # The notebook's comment calls the next one \"relu\"; {}'s inputs are, in order:\n",
        loss.name, linear.name, linear.name
    );
    for (input, node) in &inputs {
        text.push_str(&format!("#   next_functions[{input}][0] = {}\n", Graph::label(node)));
    }
    let relu = inputs.iter().find(|(_, n)| n.name.starts_with("Relu"));
    match (inputs.first(), relu) {
        (Some((0, first)), Some((k, relu))) if first.id != relu.id => text.push_str(&format!(
            "# so next_functions[0][0] is {}, and {} is input {k}",
            Graph::label(first),
            relu.name
        )),
        _ => {
            text.pop(); // the last line's newline: `line` adds one
        }
    }
    text
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

/// Why fc1.bias.grad has zeros: the fc1 units whose pre-activation is ≤ 0 for this input pass
/// nothing back through ReLU (relu'(z) = 0), counted from the numbers themselves.
fn count_bias_zeros(input: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<(i64, i64)> {
    let z = tch::no_grad(|| input.f_view([1, -1])?.f_matmul(&weight.f_tr()?)?.f_add(bias)).map_err(torch)?;
    let count = |mask: Tensor| mask.f_sum(Kind::Int64).and_then(|n| n.f_int64_value(&[])).map_err(torch);
    let inactive = count(z.f_le(0.0).map_err(torch)?)?;
    let zeros = count(bias.grad().f_eq(0.0).map_err(torch)?)?;
    Ok((zeros, inactive))
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
    let panel = |title: String, images: Vec<Vec<f32>>| Panel::Images {
        title,
        images,
        height: 28,
        width: 28,
        columns,
        signed: true,
    };
    let grid_rows = units.div_ceil(columns) as u32;
    Figure {
        // At least wide and tall enough for the panel titles, however few units there are.
        width: 3 * (columns as u32 * 62 + 20).max(420),
        height: (grid_rows * 62 + 60).max(200),
        columns: 3,
        panels: vec![
            panel(format!("fc1.weight rows before the step ({shown}; red +, blue −)"), before),
            panel("after one SGD step".into(), after),
            panel("the change −lr·grad (own scale)".into(), change),
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
        self.text.clone()
    }
    fn csv(&self) -> Option<String> {
        Some(fc1_csv(self))
    }
    fn figure(&self) -> anyhow::Result<Option<crate::plot::Figure>> {
        Ok(Some(figure(self)))
    }
}
