//! Notebook part 1, "Pytorch perceptron implementation": a regressor perceptron trained by the
//! delta rule, written by hand — no optimizer, no autograd.
//!
//! Mirrors cells In \[2\]–In \[12\]: the model (w ~ N(0, 1) of shape 3×1, b = 0, ReLU output,
//! loss = mean((y − ŷ)²/2)), the data (X = arange(30).reshape(10, 3) + N(0, 2) noise,
//! y = arange(10)), one `train_step` then 100 more, and a test set of 5 samples. After
//! `manual_seed(S)` the draws happen in the notebook's order (w, training noise, test noise) and
//! every operation is the one PyTorch runs, so every number equals PyTorch's.
//!
//! One deliberate difference: the notebook's `self.w = self.w + …` on tensors that require grad
//! chains every update into an autograd graph nobody uses, so memory and time per step grow as
//! training goes on. Here w and b never require grad and are updated in place: the same numbers,
//! flat memory.

use anyhow::{bail, Result};
use serde::Serialize;
use tch::{Device, Kind, Tensor};

use crate::error::{ensure_usage, torch};
use crate::judge;
use crate::observe::Observer;
use crate::repr::float_repr;
use crate::repr::{tensor_json, TensorValues};

mod model;
mod render;
pub use model::{Perceptron, Samples};
pub use render::{figure, history_csv};
mod replay;
use crate::judge::rise::{self as explain, LossRise, TestComparison};
pub use replay::Replay;

/// Inputs per sample, as in the notebook.
pub const NUM_INPUTS: i64 = 3;
/// Size of the test set drawn after training.
pub const TEST_SAMPLES: usize = 5;
/// Training set size limit: far past anything the hand loop finishes in reasonable time.
pub const MAX_SAMPLES: usize = 100_000;
/// Epoch limit: every epoch is kept in the history (and the text), so this bounds memory.
pub const MAX_EPOCHS: usize = 100_000;
/// Sample updates in all (samples × epochs): each is a handful of libtorch calls (~20 µs),
/// so this is already about a quarter of an hour.
pub const MAX_UPDATES: usize = 50_000_000;

/// A run's settings; the defaults are the notebook's.
#[derive(Debug, Clone, PartialEq)]
pub struct PerceptronConfig {
    pub seed: u64,
    pub lr: f64,
    /// Passes over the training set in all (the notebook: 1 + 100).
    pub epochs: usize,
    /// Training samples.
    pub samples: usize,
    /// Also run the notebook's own form and count its graph's growth (`--graph`).
    pub graph: bool,
    /// Print every Nth epoch's parameters and loss (and the first and last); the history keeps
    /// them all. 1, the notebook's, prints every epoch; the summary's default is [`SUMMARY_EVERY`].
    pub print_every: usize,
    /// Print the notebook's whole transcript (every tensor as PyTorch prints it) rather than a
    /// screen's summary (`--full`).
    pub full: bool,
}

/// The default seed: a run shaped like the notebook's (which does not seed) — a large first loss
/// that falls every epoch. Seed 0's loss rises for 33 epochs first: the tour's second lesson.
pub const DEFAULT_SEED: u64 = 7;

/// The summary prints every 10th epoch (and the first and last): 101 epochs in 12 lines.
pub const SUMMARY_EVERY: usize = 10;

impl Default for PerceptronConfig {
    fn default() -> Self {
        PerceptronConfig {
            seed: DEFAULT_SEED,
            lr: 0.001,
            epochs: 101,
            samples: 10,
            graph: false,
            print_every: SUMMARY_EVERY,
            full: false,
        }
    }
}

impl PerceptronConfig {
    /// Rejects settings that cannot train, naming the flag.
    pub fn validate(&self) -> Result<()> {
        crate::error::ensure_float32_rate("--lr", self.lr)?;
        ensure_usage((1..=MAX_EPOCHS).contains(&self.epochs), || {
            format!("--epochs must be between 1 and {MAX_EPOCHS}, got {}", self.epochs)
        })?;
        ensure_usage(self.print_every >= 1, || {
            format!("--every must be at least 1, got {}", self.print_every)
        })?;
        ensure_usage((1..=MAX_SAMPLES).contains(&self.samples), || {
            format!("--samples must be between 1 and {MAX_SAMPLES}, got {}", self.samples)
        })?;
        let updates = self.samples * self.epochs;
        ensure_usage(updates <= MAX_UPDATES, || {
            format!(
                "--samples {} × --epochs {} = {updates} hand-written updates, more than {MAX_UPDATES}; lower one of them",
                self.samples, self.epochs
            )
        })
    }
}

/// How many autograd nodes sit behind `w` after some number of updates, in the notebook's form
/// and in nnopt's.
#[derive(Debug, Clone, Serialize)]
pub struct GraphGrowth {
    pub updates: usize,
    /// The notebook's `self.w = self.w + …` on tensors that require grad.
    pub nodes: usize,
    /// Edges of that graph (one per `next_functions` entry).
    pub edges: usize,
    /// How many nodes of each kind, by PyTorch's name (`MulBackward0`: 4, …).
    pub names: std::collections::BTreeMap<String, usize>,
    /// The leaves the graph reaches: the original `w` and `b`, however many updates ago.
    pub leaves: Vec<String>,
    /// nnopt's in-place update without grad: always 0.
    pub nnopt_nodes: usize,
}

/// The update counts `perceptron --graph` reports.
pub const GRAPH_UPDATES: [usize; 4] = [1, 2, 10, 100];

/// Runs the notebook's own form of the delta rule — w and b created with `requires_grad=True`
/// and replaced out of place, `X@w + b`, `torch.max(linear, zeros_like(linear))`,
/// `y.reshape(y_hat.shape) - y_hat`, `.reshape(-1)` — over the config's data for the largest of
/// `updates`, and counts the nodes of the graph behind w (read from libtorch) at each count,
/// beside nnopt's form, which keeps none. This is the memory the notebook's loop leaks.
pub fn graph_growth(
    config: &PerceptronConfig,
    updates: &[usize],
    device: Device,
) -> Result<Vec<GraphGrowth>> {
    let _only = crate::exclusive::enter();
    tch::manual_seed(config.seed as i64);
    let mut w =
        normal(&[NUM_INPUTS, 1], 0.0, 1.0).f_to_device(device).map_err(torch)?.set_requires_grad(true);
    let mut b = Tensor::f_zeros([1], (Kind::Float, device)).map_err(torch)?.set_requires_grad(true);
    let leaves = [("w".to_string(), w.shallow_clone()), ("b".to_string(), b.shallow_clone())];
    let mut ours = Perceptron { w: w.detach().copy(), b: b.detach().copy(), lr: config.lr };
    // The notebook writes `lr * error` with a Python float, which PyTorch wraps as a 0-dim
    // tensor: aten::mul.Tensor, MulBackward0. tch's `tensor * f64` is aten::mul.Scalar
    // (MulBackward1), so the rate goes in as a 0-dim tensor to build the notebook's very graph.
    let lr = Tensor::from(config.lr).f_to_device(device).map_err(torch)?;
    let (x, y) = make_data(config.samples, device)?;
    let n = x.size()[0];
    let mut counts = Vec::new();
    let mut done = 0;
    for &target in updates {
        while done < target {
            let i = (done as i64) % n;
            let x_i = x.get(i).reshape([1, NUM_INPUTS]);
            let linear = x_i.matmul(&w) + &b;
            let y_hat = linear.maximum(&linear.zeros_like());
            let error = (y.get(i).reshape(y_hat.size()) - y_hat).reshape([-1]);
            w = &w + (&lr * &error) * x.get(i).reshape([NUM_INPUTS, 1]);
            b = &b + &lr * &error;
            ours.train_sample(&x, &y, i);
            done += 1;
        }
        let mut graph = crate::graph::backward_graph(&w)?;
        graph.name_leaves(&leaves);
        let mut names = std::collections::BTreeMap::new();
        for node in &graph.nodes {
            *names.entry(node.name.clone()).or_insert(0) += 1;
        }
        let mut leaf_names: Vec<String> = graph.nodes.iter().filter_map(|n| n.variable.clone()).collect();
        leaf_names.sort();
        let nnopt_nodes = crate::graph::backward_graph(&ours.w)?.nodes.len();
        counts.push(GraphGrowth {
            updates: target,
            nodes: graph.nodes.len(),
            edges: graph.edges.len(),
            names,
            leaves: leaf_names,
            nnopt_nodes,
        });
    }
    Ok(counts)
}

/// `torch.normal(mean, std, size)`: `normal_` draws exactly as it does (`randn·std + mean` can
/// differ by an ulp).
fn normal(size: &[i64], mean: f64, std: f64) -> Tensor {
    Tensor::empty(size, (Kind::Float, Device::Cpu)).normal_(mean, std)
}

/// The notebook's data: X = arange(3n).reshape(n, 3) + N(0, 2) noise, y = arange(n).
pub fn make_data(samples: usize, device: Device) -> Result<(Tensor, Tensor)> {
    let n = samples as i64;
    let x = Tensor::arange(NUM_INPUTS * n, (Kind::Float, Device::Cpu)).reshape([n, NUM_INPUTS])
        + normal(&[n, NUM_INPUTS], 0.0, 2.0);
    let y = Tensor::arange(n, (Kind::Float, Device::Cpu));
    Ok((x.f_to_device(device).map_err(torch)?, y.f_to_device(device).map_err(torch)?))
}

/// Parameters and loss before training.
#[derive(Debug, Clone, Serialize)]
pub struct Initial {
    pub w: TensorValues,
    pub b: TensorValues,
    pub predictions: TensorValues,
    pub loss: f64,
    /// The largest x·w + b over the training samples: ≤ 0 means every prediction starts at 0.
    #[serde(skip)]
    pub largest_pre_activation: f64,
}

/// A data set as nested lists.
#[derive(Debug, Clone, Serialize)]
pub struct DataSet {
    #[serde(rename = "X")]
    pub x: TensorValues,
    pub y: TensorValues,
}

/// Parameters and training loss after one epoch.
#[derive(Debug, Clone, Serialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub w: TensorValues,
    pub b: TensorValues,
    pub loss: f64,
}

/// The test set and how the trained perceptron does on it.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    #[serde(rename = "X")]
    pub x: TensorValues,
    pub y: TensorValues,
    pub predictions: TensorValues,
    pub loss: f64,
}

/// Everything a run computed; its notebook-style transcript is rendered from it (`render.rs`).
#[derive(Debug, Clone, Serialize)]
pub struct PerceptronReport {
    pub seed: u64,
    pub lr: f64,
    pub device: String,
    pub initial: Initial,
    pub train: DataSet,
    pub history: Vec<EpochRecord>,
    pub train_predictions: TensorValues,
    pub test: TestResult,
    /// What the user must know to trust the result (a dead unit); also printed on stderr.
    pub warnings: Vec<String>,
    /// The epoch after which every prediction on the training set was 0, if that happened.
    pub dead_from_epoch: Option<usize>,
    /// The unit's life: never alive, died at an epoch, revived ([`crate::judge::unit`]).
    pub life: judge::unit::Life,
    /// Every rise of the loss worth a sentence, one still going at the end included.
    pub rises: Vec<judge::unit::Rise>,
    /// The largest stretch of epochs over which the training loss rose, and why (see [`explain`]).
    pub loss_rise: Option<LossRise>,
    /// The test loss beside the training loss on the samples with the same targets.
    pub test_comparison: TestComparison,
    /// Wall time of the training passes (updates, per-epoch loss and history): the benchmark's
    /// µs per sample-step is this over samples × epochs.
    pub training_seconds: f64,
    /// With `--graph`: the nodes behind w in the notebook's form after 1, 2, 10, 100 updates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notebook_graph: Option<Vec<GraphGrowth>>,
    /// `--every`: which epochs the text prints.
    #[serde(skip)]
    pub print_every: usize,
    /// `--full`: the notebook's transcript rather than the summary.
    #[serde(skip)]
    pub full: bool,
}

/// Seeds libtorch, builds the perceptron and data, trains, tests: the notebook's cells in order.
///
/// ```
/// use nnopt::perceptron::{run, PerceptronConfig};
/// let config = PerceptronConfig { epochs: 5, ..Default::default() };
/// let report = run(&config, tch::Device::Cpu, &nnopt::observe::Quiet)?;
/// assert_eq!(report.history.len(), 5);
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn run(config: &PerceptronConfig, device: Device, observer: &dyn Observer) -> Result<PerceptronReport> {
    let _only = crate::exclusive::enter();
    crate::device::prepare(device);
    config.validate()?;
    tch::manual_seed(config.seed as i64);
    let mut model = Perceptron::new(config.lr, device)?;
    let (x, y) = make_data(config.samples, device)?;
    let y_hat = model.forward(&x);
    let loss = Perceptron::loss(&y_hat, &y);
    let initial = Initial {
        w: tensor_json(&model.w)?,
        b: tensor_json(&model.b)?,
        predictions: tensor_json(&y_hat)?,
        loss: scalar(&loss)?,
        largest_pre_activation: scalar(&(x.matmul(&model.w) + &model.b).max())?,
    };

    observer.start("epochs", config.epochs as u64);
    let started = std::time::Instant::now();
    let samples = Samples::new(&x, &y);
    let mut history = Vec::with_capacity(config.epochs);
    let mut dead_from_epoch = None;
    let mut alive = Vec::with_capacity(config.epochs);
    for epoch in 1..=config.epochs {
        model.train_epoch(&samples);
        let predictions = model.forward(&x);
        let loss = scalar(&Perceptron::loss(&predictions, &y))?;
        // ŷ = relu(X·w + b) is 0 everywhere exactly when every pre-activation is ≤ 0: the unit
        // is dead for this data. Remember from when, in case it stays dead to the end.
        alive.push(scalar(&predictions.max())? > 0.0);
        if alive[epoch - 1] {
            dead_from_epoch = None;
        } else {
            dead_from_epoch.get_or_insert(epoch);
        }
        if !loss.is_finite() {
            bail!("{}", judge::unit::diverged(loss, epoch, &float_repr(config.lr)));
        }
        history.push(EpochRecord { epoch, w: tensor_json(&model.w)?, b: tensor_json(&model.b)?, loss });
        observer.advance();
    }
    observer.finish();
    let training_seconds = started.elapsed().as_secs_f64();
    let mut warnings = Vec::new();
    let mut losses = vec![initial.loss];
    losses.extend(history.iter().map(|r| r.loss));
    let life = judge::unit::life(initial.largest_pre_activation > 0.0, &alive);
    let rises = judge::unit::rises(&losses);
    let final_loss = losses[losses.len() - 1];
    if let Some(warning) = life.warning(final_loss, &float_repr(config.lr), &rises) {
        observer.warn(&warning);
        warnings.push(warning);
    }

    // Why the loss rose before it fell, when it did: found by replaying the rising epochs.
    let loss_rise = replay::loss_rise(config, &initial, &history, (&samples, &x, &y), device)?;
    let train_predictions = model.forward(&x);
    let (x_test, y_test) = make_data(TEST_SAMPLES, device)?;
    let test_predictions = model.forward(&x_test);
    let test_loss = Perceptron::loss(&test_predictions, &y_test);
    let values = |t: &Tensor| tensor_json(t).map(|v| v.flat());
    let test_comparison = explain::compare_test(
        (&values(&y)?, &values(&train_predictions)?),
        (&values(&y_test)?, &values(&test_predictions)?),
    );
    let notebook_graph =
        if config.graph { Some(graph_growth(config, &GRAPH_UPDATES, device)?) } else { None };

    Ok(PerceptronReport {
        seed: config.seed,
        lr: config.lr,
        device: crate::device::name(device),
        initial,
        train: DataSet { x: tensor_json(&x)?, y: tensor_json(&y)? },
        history,
        train_predictions: tensor_json(&train_predictions)?,
        test: TestResult {
            x: tensor_json(&x_test)?,
            y: tensor_json(&y_test)?,
            predictions: tensor_json(&test_predictions)?,
            loss: scalar(&test_loss)?,
        },
        warnings,
        dead_from_epoch,
        life,
        rises,
        loss_rise,
        test_comparison,
        training_seconds,
        notebook_graph,
        print_every: config.print_every,
        full: config.full,
    })
}

fn scalar(t: &Tensor) -> Result<f64> {
    t.f_double_value(&[]).map_err(torch)
}

impl crate::report::Report for PerceptronReport {
    fn text(&self) -> String {
        render::render(self)
    }
    fn csv(&self) -> Option<String> {
        Some(render::history_csv(self))
    }
    fn figure(&self) -> Result<Option<crate::plot::Figure>> {
        Ok(Some(render::figure(self)))
    }
}
