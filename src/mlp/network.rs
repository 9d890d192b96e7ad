//! The notebook's `Network`: fully connected layers with ReLUs between them, PyTorch's
//! `nn.Linear` initialisation, parameters named as PyTorch names them, printed as PyTorch prints
//! it. Used by `mlp` (the notebook's part 3), `train`, a population and saved weights.

use anyhow::Result;
use tch::nn::{self, Module};
use tch::Tensor;

use crate::error::torch;

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
