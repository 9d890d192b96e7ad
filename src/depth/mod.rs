//! `nnopt depth`: the notebook's opening claim — "the complexity of the problem indicates how
//! deep a network has to be … but with deep networks comes optimization problems" — measured.
//! A shallow network and a deep, narrow one train with the notebook's plain SGD on the same data
//! from the same seed; for each, the gradient's size at every layer over the first steps (the
//! vanishing gradient, measured), the hidden units no image turns on, the loss against chance's
//! ln(classes), the test accuracy. Then what helps, on the same data: an initialisation scaled
//! for ReLU (He's), momentum, fewer layers. The judge ([`crate::judge::depth`]) says what the
//! numbers show.
//!
//! The training is plain tch autograd (`loss.backward()`, then θ ← θ − lr·v): what a learner
//! would write, not nnopt's written-out step, since the point is the gradient each layer gets.

mod render;

use anyhow::Result;
use serde::Serialize;
use tch::{Device, Kind, Tensor};

pub use render::{figure, render};

use crate::data::{Dataset, Normalization};
use crate::error::{ensure_usage, torch};
use crate::judge::chance::ChanceBound;
use crate::judge::depth::{Finding, Trained};
use crate::metrics::Inputs;
use crate::mlp::Network;
use crate::observe::Observer;

/// The settings; the defaults are the notebook's optimizer (plain SGD, lr 0.05) at batch 128.
#[derive(Debug, Clone, PartialEq)]
pub struct DepthConfig {
    pub seed: u64,
    pub epochs: usize,
    pub lr: f64,
    pub batch: i64,
    /// Hidden layers of the deep network.
    pub layers: usize,
    /// Units in each of its hidden layers.
    pub width: i64,
    /// Steps over which each layer's gradient size is averaged.
    pub probe_steps: usize,
    /// Train on the first N training images only.
    pub limit: Option<i64>,
}

impl Default for DepthConfig {
    fn default() -> Self {
        DepthConfig {
            seed: 0,
            epochs: 2,
            lr: 0.05,
            batch: 128,
            layers: 8,
            width: 16,
            probe_steps: 50,
            limit: None,
        }
    }
}

/// Bounds that keep a demonstration to minutes on two cores: at the largest, five networks of
/// about 1 M parameters for 10 epochs of 60 000 images, some 2·10¹³ floating-point operations
/// (estimated from the sizes, not timed).
pub const MAX_LAYERS: usize = 16;
pub const MAX_WIDTH: i64 = 256;
pub const MAX_EPOCHS: usize = 10;
/// Steps over which the gradient's size may be averaged.
pub const MAX_PROBE_STEPS: usize = 100_000;

impl DepthConfig {
    /// Rejects settings that cannot run, naming the flag.
    pub fn validate(&self) -> Result<()> {
        crate::error::ensure_float32_rate("--lr", self.lr)?;
        ensure_usage((1..=MAX_EPOCHS).contains(&self.epochs), || {
            format!("--epochs must be between 1 and {MAX_EPOCHS}, got {}", self.epochs)
        })?;
        ensure_usage((2..=MAX_LAYERS).contains(&self.layers), || {
            format!("--layers must be between 2 and {MAX_LAYERS}, got {}", self.layers)
        })?;
        ensure_usage((1..=MAX_WIDTH).contains(&self.width), || {
            format!("--width must be between 1 and {MAX_WIDTH}, got {}", self.width)
        })?;
        ensure_usage((1..=65536).contains(&self.batch), || {
            format!("--batch-size must be between 1 and 65536, got {}", self.batch)
        })?;
        ensure_usage((1..=MAX_PROBE_STEPS).contains(&self.probe_steps), || {
            format!("--probe-steps must be between 1 and {MAX_PROBE_STEPS}, got {}", self.probe_steps)
        })?;
        if let Some(limit) = self.limit {
            ensure_usage(limit >= 1, || format!("--limit must be at least 1, got {limit}"))?;
        }
        Ok(())
    }
}

/// How a network's weights start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Init {
    /// `nn.Linear`'s default: uniform in ±1/√fan_in (kaiming_uniform with a = √5). Through a
    /// ReLU each layer keeps about 1/6 of its input's variance.
    Pytorch,
    /// He (Kaiming) normal for ReLU: N(0, 2/fan_in), biases 0 — each layer keeps its input's
    /// variance through a ReLU.
    He,
}

/// One network of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Variant {
    pub name: String,
    /// Layer widths, input and output included.
    pub widths: Vec<i64>,
    pub init: Init,
    pub momentum: f64,
}

/// The networks compared: the notebook's shallow one, the deep narrow one, and the deep one with
/// each remedy alone.
pub fn variants(config: &DepthConfig, features: i64, classes: i64) -> Vec<Variant> {
    let deep: Vec<i64> = std::iter::once(features)
        .chain(std::iter::repeat_n(config.width, config.layers))
        .chain(std::iter::once(classes))
        .collect();
    let fewer = (config.layers / 2).max(1);
    let less_deep: Vec<i64> = std::iter::once(features)
        .chain(std::iter::repeat_n(config.width, fewer))
        .chain(std::iter::once(classes))
        .collect();
    let v = |name: String, widths: &[i64], init, momentum| Variant {
        name,
        widths: widths.to_vec(),
        init,
        momentum,
    };
    vec![
        v("shallow".into(), &[features, 32, classes], Init::Pytorch, 0.0),
        v("deep".into(), &deep, Init::Pytorch, 0.0),
        v("deep, He init".into(), &deep, Init::He, 0.0),
        v("deep, momentum 0.9".into(), &deep, Init::Pytorch, 0.9),
        v(format!("{fewer} layer{}", if fewer == 1 { "" } else { "s" }), &less_deep, Init::Pytorch, 0.0),
    ]
}

/// What one network did.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub variant: Variant,
    /// ‖∂L/∂W‖ of each layer's weight matrix (fc1 first), averaged over the first steps.
    pub gradient_norms: Vec<f64>,
    /// How many steps that average is over: `--probe-steps`, or all the run took if fewer.
    pub probed_steps: usize,
    /// Per hidden layer: units that no image of the probe set turns on (output 0 for all), after
    /// training, and the layer's width.
    pub dead_units: Vec<[i64; 2]>,
    /// The loss of the first step.
    pub first_loss: f64,
    /// The mean loss over the last epoch's steps.
    pub final_loss: f64,
    pub test_accuracy: f64,
    /// Rows: true classes; columns: predicted.
    pub confusion_matrix: Vec<Vec<i64>>,
    pub seconds: f64,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct DepthReport {
    pub seed: u64,
    pub lr: f64,
    pub batch: i64,
    pub epochs: usize,
    pub probe_steps: usize,
    pub data: String,
    /// `--limit`: trained on the first N training images only.
    pub limit: Option<i64>,
    pub classes: i64,
    /// ln(classes): the loss of a network that gives every class the same probability.
    pub chance_loss: f64,
    pub outcomes: Vec<Outcome>,
    /// What the numbers show ([`crate::judge::depth`]), each with its numbers.
    pub findings: Vec<Finding>,
}

/// Images the dead-unit count looks at (the first test images).
const PROBE_IMAGES: i64 = 1000;

/// Trains every variant on `data` and compares them.
pub fn run(
    config: &DepthConfig,
    data: &Dataset,
    device: Device,
    observer: &dyn Observer,
) -> Result<DepthReport> {
    config.validate()?;
    let _only = crate::exclusive::enter();
    let normalization = Normalization::fit(&data.train.images)?;
    let limit = config.limit.unwrap_or(i64::MAX).min(data.train.len());
    let x = normalization.apply(&data.train.images.narrow(0, 0, limit), device)?;
    let y = data.train.labels.narrow(0, 0, limit).f_to_device(device).map_err(torch)?;
    let x_test = normalization.apply(&data.test.images, device)?;
    let y_test = data.test.labels.f_to_device(device).map_err(torch)?;
    let mut outcomes = Vec::new();
    for variant in variants(config, data.features(), data.classes) {
        observer.note(&format!("depth: training {} ({})", variant.name, describe_widths(&variant.widths)));
        outcomes.push(train(config, &variant, (&x, &y), (&x_test, &y_test, data.classes), device, observer)?);
    }
    let chance_loss = (data.classes as f64).ln();
    // Every network is scored on the same test set, so any one's confusion matrix gives the
    // class shares the chance bound needs.
    let chance = match outcomes.first() {
        Some(o) => ChanceBound::of_confusion(&o.confusion_matrix),
        None => ChanceBound::new(1.0, 0),
    };
    let nets: Vec<Trained> = outcomes
        .iter()
        .map(|o| Trained {
            name: &o.variant.name,
            widths: &o.variant.widths,
            momentum: o.variant.momentum,
            gradient_norms: &o.gradient_norms,
            dead_units: &o.dead_units,
            final_loss: o.final_loss,
            test_accuracy: o.test_accuracy,
        })
        .collect();
    let findings = crate::judge::depth::findings(&nets, &chance, chance_loss);
    Ok(DepthReport {
        seed: config.seed,
        lr: config.lr,
        batch: config.batch,
        epochs: config.epochs,
        probe_steps: config.probe_steps,
        data: data.name.clone(),
        limit: config.limit,
        classes: data.classes,
        chance_loss,
        outcomes,
        findings,
    })
}

impl crate::report::Report for DepthReport {
    fn text(&self) -> String {
        render(self)
    }
    fn figure(&self) -> Result<Option<crate::plot::Figure>> {
        Ok(Some(figure(self)))
    }
}

/// `784-16×8-10`: widths with a repeated hidden width written once.
pub fn describe_widths(widths: &[i64]) -> String {
    let [first, hidden @ .., last] = widths else {
        return widths.iter().map(i64::to_string).collect::<Vec<_>>().join("-");
    };
    if hidden.is_empty() {
        return format!("{first}-{last}");
    }
    let middle = match hidden {
        [w, rest @ ..] if !rest.is_empty() && rest.iter().all(|r| r == w) => format!("{w}×{}", hidden.len()),
        _ => hidden.iter().map(i64::to_string).collect::<Vec<_>>().join("-"),
    };
    format!("{first}-{middle}-{last}")
}

/// One network from `config.seed`: plain SGD (with the variant's momentum), minibatches in a new
/// shuffle every epoch.
fn train(
    config: &DepthConfig,
    variant: &Variant,
    (x, y): (&Tensor, &Tensor),
    (x_test, y_test, classes): (&Tensor, &Tensor, i64),
    device: Device,
    observer: &dyn Observer,
) -> Result<Outcome> {
    let started = std::time::Instant::now();
    tch::manual_seed(config.seed as i64);
    let vs = tch::nn::VarStore::new(device);
    let net = Network::new(&vs.root(), &variant.widths)?;
    if variant.init == Init::He {
        he_init(&net)?;
    }
    let params: Vec<Tensor> = net.parameters().into_iter().map(|(_, t)| t).collect();
    let mut velocity: Vec<Option<Tensor>> = params.iter().map(|_| None).collect();
    let n = x.size()[0];
    let steps_per_epoch = (n + config.batch - 1) / config.batch;
    observer.start(&variant.name, config.epochs as u64 * steps_per_epoch as u64);
    let layers = variant.widths.len() - 1;
    let (mut norms, mut probed) = (vec![0.0; layers], 0usize);
    let (mut first_loss, mut last_epoch_loss) = (f64::NAN, 0.0);
    for epoch in 0..config.epochs {
        let order = Tensor::f_randperm(n, (Kind::Int64, Device::Cpu))
            .and_then(|o| o.f_to_device(device))
            .map_err(torch)?;
        let mut epoch_loss = 0.0;
        for (step, batch) in order.split(config.batch, 0).iter().enumerate() {
            let (xb, yb) =
                (x.f_index_select(0, batch).map_err(torch)?, y.f_index_select(0, batch).map_err(torch)?);
            for p in &params {
                let mut g = p.grad();
                if g.defined() {
                    let _ = g.f_zero_().map_err(torch)?;
                }
            }
            // Cross-entropy: log-softmax of the logits, then the negative log-likelihood of the labels.
            let loss = net
                .f_forward(&xb)?
                .f_log_softmax(-1, Kind::Float)
                .and_then(|l| l.f_nll_loss(&yb, None::<Tensor>, tch::Reduction::Mean, -100))
                .map_err(torch)?;
            loss.f_backward().map_err(torch)?;
            let value = loss.f_double_value(&[]).map_err(torch)?;
            if epoch == 0 && step == 0 {
                first_loss = value;
            }
            epoch_loss += value;
            if probed < config.probe_steps {
                for (i, layer) in net.layers().enumerate() {
                    norms[i] +=
                        layer.ws.grad().f_norm().and_then(|t| t.f_double_value(&[])).map_err(torch)?;
                }
                probed += 1;
            }
            sgd_step(&params, &mut velocity, config.lr, variant.momentum)?;
            observer.advance();
        }
        last_epoch_loss = epoch_loss / steps_per_epoch as f64;
    }
    observer.finish();
    let gradient_norms = norms.iter().map(|s| s / probed.max(1) as f64).collect();
    let dead_units =
        tch::no_grad(|| dead_units(&net, &x_test.narrow(0, 0, PROBE_IMAGES.min(x_test.size()[0]))))?;
    let test = crate::metrics::evaluate_inputs(&net, &Inputs::Normalized(x_test), y_test, classes)?;
    Ok(Outcome {
        variant: variant.clone(),
        gradient_norms,
        probed_steps: probed,
        dead_units,
        first_loss,
        final_loss: last_epoch_loss,
        test_accuracy: test.accuracy,
        confusion_matrix: test.confusion_matrix,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// He's initialisation for ReLU: weights N(0, 2/fan_in), biases 0 (drawn in layer order).
fn he_init(net: &Network) -> Result<()> {
    tch::no_grad(|| -> Result<()> {
        for layer in net.layers() {
            let fan_in = layer.ws.size()[1] as f64;
            let mut ws = layer.ws.shallow_clone();
            let _ = ws.f_normal_(0.0, (2.0 / fan_in).sqrt()).map_err(torch)?;
            if let Some(bs) = &layer.bs {
                let _ = bs.shallow_clone().f_zero_().map_err(torch)?;
            }
        }
        Ok(())
    })
}

/// SGD as PyTorch's `optim.SGD` applies it: v ← μ·v + g (v = g at the first step), θ ← θ − lr·v.
fn sgd_step(params: &[Tensor], velocity: &mut [Option<Tensor>], lr: f64, momentum: f64) -> Result<()> {
    tch::no_grad(|| -> Result<()> {
        for (p, v) in params.iter().zip(velocity.iter_mut()) {
            let g = p.grad();
            let step = if momentum == 0.0 {
                g
            } else {
                match v {
                    Some(v) => {
                        let _ = v.f_mul_scalar_(momentum).and_then(|mut v| v.f_add_(&g)).map_err(torch)?;
                        v.shallow_clone()
                    }
                    None => {
                        let fresh = g.f_detach_copy().map_err(torch)?;
                        *v = Some(fresh.shallow_clone());
                        fresh
                    }
                }
            };
            let _ = p.shallow_clone().f_sub_(&step.f_mul_scalar(lr).map_err(torch)?).map_err(torch)?;
        }
        Ok(())
    })
}

/// Per hidden layer: [units no probe image turns on, width].
fn dead_units(net: &Network, probe: &Tensor) -> Result<Vec<[i64; 2]>> {
    let layers: Vec<_> = net.layers().collect();
    let mut h = probe.shallow_clone();
    let mut out = Vec::new();
    for layer in &layers[..layers.len() - 1] {
        h = h.f_linear(&layer.ws, layer.bs.as_ref()).and_then(|z| z.f_relu()).map_err(torch)?;
        let alive = h.f_gt(0.0).and_then(|on| on.f_any_dim(0, false)).and_then(|a| a.f_sum(Kind::Int64));
        let alive = alive.and_then(|a| a.f_int64_value(&[])).map_err(torch)?;
        let width = h.size()[1];
        out.push([width - alive, width]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_are_written_short() {
        assert_eq!(describe_widths(&[784, 16, 16, 16, 10]), "784-16×3-10");
        assert_eq!(describe_widths(&[784, 32, 10]), "784-32-10");
        assert_eq!(describe_widths(&[784, 64, 32, 10]), "784-64-32-10");
        assert_eq!(describe_widths(&[784, 10]), "784-10");
        assert_eq!(describe_widths(&[784]), "784");
        assert_eq!(describe_widths(&[]), "");
    }

    #[test]
    fn the_comparison_is_shallow_deep_and_each_remedy_alone() {
        let v = variants(&DepthConfig::default(), 784, 10);
        assert_eq!(v.len(), 5);
        assert_eq!(v[0].widths, [784, 32, 10]);
        assert_eq!(v[1].widths.len(), 10, "8 hidden layers");
        assert!(v[2].widths == v[1].widths && v[2].init == Init::He && v[2].momentum == 0.0);
        assert!(v[3].widths == v[1].widths && v[3].init == Init::Pytorch && v[3].momentum == 0.9);
        assert_eq!(v[4].widths.len(), 6, "4 hidden layers");
    }
}
