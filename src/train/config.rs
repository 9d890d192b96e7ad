//! A training run's settings: the recipe's defaults, what `validate` refuses, the learning-rate
//! schedule, and the update rule said in words.

use std::f64::consts::PI;

use anyhow::Result;
use serde::Serialize;
use tch::Device;

use crate::error::{ensure_usage, usage};
use crate::mlp::{parameter_count, MAX_PARAMETERS};

/// How the learning rate moves over the epochs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// lr_t = lr·(1 + cos(π·(t − 1)/T))/2: from lr towards 0 (PyTorch's `CosineAnnealingLR`,
    /// stepped per epoch).
    #[default]
    Cosine,
    /// lr_t = lr every epoch: the notebook's `optim.SGD(net.parameters(), lr=0.05)`.
    Constant,
}

/// The optimizer to train with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// SGD with (Nesterov) momentum and weight decay.
    Sgd,
    /// Adam with weight decay added to the gradient (as `torch.optim.Adam(weight_decay=…)`).
    Adam,
}

impl OptimizerKind {
    /// The learning rate that suits the optimizer when none is given.
    pub fn default_lr(self) -> f64 {
        match self {
            OptimizerKind::Sgd => 0.05,
            OptimizerKind::Adam => 1e-3,
        }
    }
}

/// SGD's momentum when `--momentum` is not given.
pub const DEFAULT_MOMENTUM: f64 = 0.9;
/// Epochs whose training loss has not moved (relative change below [`STALL_TOLERANCE`]) after
/// which a run is declared stalled: it is learning nothing.
pub const STALL_EPOCHS: usize = 3;
/// A relative change of the epoch's mean training loss smaller than this is no change: the same
/// per-sample losses summed in another batch order differ by about 1e-7.
pub const STALL_TOLERANCE: f64 = 1e-5;

/// A training run's settings; the defaults are the recipe above.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: i64,
    /// The initial learning rate; `None`: the optimizer's default ([`OptimizerKind::default_lr`]).
    pub lr: Option<f64>,
    /// SGD's momentum; `None`: [`DEFAULT_MOMENTUM`] for SGD. Adam takes none (its β₁ is fixed).
    pub momentum: Option<f64>,
    pub weight_decay: f64,
    pub optimizer: OptimizerKind,
    /// How the learning rate moves over the epochs.
    pub schedule: Schedule,
    pub seed: u64,
    /// Hidden layer widths: `[32]` is the notebook's 784-32-10.
    pub hidden: Vec<i64>,
    /// One batch per epoch: a smoke test of the whole pipeline.
    pub dry_run: bool,
    /// Report the running training loss every this many batches on stderr (0: never).
    pub log_interval: usize,
    /// Train on the first this many training images only (a slice, for quick runs and
    /// benchmarks); `None`: all of them.
    pub limit: Option<i64>,
    /// Read the batches' losses back to the host every this many batches; `None`: the device's
    /// default ([`default_sync_every`]). Divergence is detected when they are read.
    pub sync_every: Option<usize>,
    /// Replay the training step as a CUDA graph ([`crate::cuda_graph`]); `None`: on for SGD on
    /// CUDA where this binary carries the shim, off otherwise. Not reported with the settings
    /// (the run's `cuda_graphs` says what ran).
    #[serde(skip)]
    pub cuda_graphs: Option<bool>,
}

/// How often the host reads the loss back when `--sync-every` is not given: every batch on the
/// CPU, where reading it costs nothing and a diverging run stops at the batch that diverged;
/// every 64 batches on a GPU, where each read waits for the GPU's queue to drain.
pub fn default_sync_every(device: Device) -> usize {
    if device.is_cuda() {
        64
    } else {
        1
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 20,
            batch_size: 128,
            lr: None,
            momentum: None,
            weight_decay: 5e-4,
            schedule: Schedule::Cosine,
            optimizer: OptimizerKind::Sgd,
            seed: 0,
            hidden: vec![32],
            dry_run: false,
            log_interval: 0,
            limit: None,
            sync_every: None,
            cuda_graphs: None,
        }
    }
}

impl TrainConfig {
    /// Rejects settings that cannot train, naming the flag, and fills in the optimizer's
    /// defaults (lr, momentum): the config a run uses and reports.
    pub fn validate(&self) -> Result<TrainConfig> {
        ensure_usage((1..=100_000).contains(&self.epochs), || {
            format!("--epochs must be between 1 and 100000, got {}", self.epochs)
        })?;
        ensure_usage((1..=1 << 20).contains(&self.batch_size), || {
            format!("--batch-size must be between 1 and 1048576, got {}", self.batch_size)
        })?;
        let lr = self.lr.unwrap_or(self.optimizer.default_lr());
        crate::error::ensure_float32_rate("--lr", lr)?;
        // The optimizers hold their settings in float32 (libtorch refuses larger values mid-run).
        ensure_usage(lr <= f32::MAX as f64, || format!("--lr {lr:e} does not fit float32 (at most 3.4e38)"))?;
        let momentum = match (self.optimizer, self.momentum) {
            (OptimizerKind::Adam, Some(m)) => {
                return Err(usage(format!(
                    "--momentum {m} applies to --optimizer sgd only; Adam keeps its own moment \
                     estimates (β₁ = 0.9); drop --momentum or use --optimizer sgd"
                )))
            }
            (OptimizerKind::Adam, None) => None,
            (OptimizerKind::Sgd, m) => Some(m.unwrap_or(DEFAULT_MOMENTUM)),
        };
        if let Some(m) = momentum {
            ensure_usage((0.0..1.0).contains(&m), || format!("--momentum must be in [0, 1), got {m}"))?;
        }
        if let Some(n) = self.sync_every {
            ensure_usage(n >= 1, || {
                "--sync-every must be at least 1 (batches between loss reads)".to_string()
            })?;
        }
        if let Some(limit) = self.limit {
            ensure_usage(limit >= 1, || format!("--limit must be at least 1, got {limit}"))?;
        }
        let wd = self.weight_decay;
        ensure_usage(wd.is_finite() && (0.0..=f32::MAX as f64).contains(&wd), || {
            format!("--weight-decay must be a finite number ≥ 0 that fits float32, got {wd}")
        })?;
        ensure_usage(!self.hidden.is_empty() && self.hidden.len() <= 8, || {
            format!("--hidden takes 1 to 8 widths, got {}", self.hidden.len())
        })?;
        for &h in &self.hidden {
            ensure_usage((1..=crate::mlp::MAX_HIDDEN).contains(&h), || {
                format!("--hidden widths must be between 1 and {}, got {h}", crate::mlp::MAX_HIDDEN)
            })?;
        }
        // The hidden layers alone (the input and output layers are checked with the data).
        let inner = parameter_count(&self.hidden);
        ensure_usage(inner <= MAX_PARAMETERS, || {
            format!("--hidden {:?}: {inner} parameters between the hidden layers alone, more than {MAX_PARAMETERS}; use narrower layers", self.hidden)
        })?;
        Ok(TrainConfig { lr: Some(lr), momentum, ..self.clone() })
    }

    /// The initial learning rate (the optimizer's default when none was given).
    pub fn initial_lr(&self) -> f64 {
        self.lr.unwrap_or(self.optimizer.default_lr())
    }

    /// The learning rate for `epoch` (1-based): by the schedule, from `lr`.
    pub fn lr_at(&self, epoch: usize) -> f64 {
        match self.schedule {
            Schedule::Cosine => {
                self.initial_lr() * 0.5 * (1.0 + (PI * (epoch - 1) as f64 / self.epochs as f64).cos())
            }
            Schedule::Constant => self.initial_lr(),
        }
    }

    /// The recipe in words and formulas, as `train` states it above its epochs: the update rule
    /// the optimizer applies and how the learning rate moves.
    pub fn recipe(&self) -> String {
        let lr = self.initial_lr();
        let decay = self.weight_decay;
        let update = match (self.optimizer, self.momentum.unwrap_or(DEFAULT_MOMENTUM)) {
            (OptimizerKind::Sgd, mu) if mu > 0.0 => format!(
                "SGD with Nesterov momentum μ = {mu} and weight decay λ = {decay}: g ← ∇L + λ·θ; v ← μ·v + g; \
                 θ ← θ − lr_t·(g + μ·v)"
            ),
            (OptimizerKind::Sgd, _) if decay == 0.0 => {
                "plain SGD, as the notebook's optim.SGD: θ ← θ − lr_t·∇L".to_string()
            }
            (OptimizerKind::Sgd, _) => format!("plain SGD with weight decay λ = {decay}: θ ← θ − lr_t·(∇L + λ·θ)"),
            (OptimizerKind::Adam, _) => format!(
                "Adam (β₁ 0.9, β₂ 0.999, ε 1e-8) with weight decay λ = {decay} added to the gradient: \
                 g ← ∇L + λ·θ; m ← β₁·m + (1 − β₁)·g; s ← β₂·s + (1 − β₂)·g²; \
                 θ ← θ − lr_t·m̂/(√ŝ + ε)"
            ),
        };
        let schedule = match self.schedule {
            Schedule::Cosine => format!(
                "cosine schedule lr_t = {lr}·(1 + cos(π·(t − 1)/{}))/2 for epoch t: {lr} at the first epoch, {:.5} at the last",
                self.epochs,
                self.lr_at(self.epochs)
            ),
            Schedule::Constant => format!("constant lr_t = {lr}"),
        };
        format!("{update}; {schedule}; loss L = cross-entropy of the logits, batches of {}", self.batch_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_moves_the_rate_as_its_formula_says() {
        let cosine = TrainConfig { epochs: 4, lr: Some(0.08), ..TrainConfig::default() };
        let rates: Vec<f64> = (1..=4).map(|t| cosine.lr_at(t)).collect();
        // 0.08·(1 + cos(π·(t − 1)/4))/2: 0.08, 0.0683, 0.04, 0.0117.
        let expected = [0.08, 0.04 * (1.0 + (PI / 4.0).cos()), 0.04, 0.04 * (1.0 + (3.0 * PI / 4.0).cos())];
        for (r, e) in rates.iter().zip(expected) {
            assert!((r - e).abs() < 1e-15, "{rates:?}");
        }
        let constant = TrainConfig { schedule: Schedule::Constant, ..cosine };
        assert!((1..=4).all(|t| constant.lr_at(t) == 0.08));
    }

    #[test]
    fn the_recipe_names_the_rule_that_runs() {
        let notebook = TrainConfig {
            momentum: Some(0.0),
            weight_decay: 0.0,
            schedule: Schedule::Constant,
            lr: Some(0.05),
            ..TrainConfig::default()
        };
        let said = notebook.recipe();
        assert!(
            said.contains("plain SGD")
                && said.contains("θ ← θ − lr_t·∇L")
                && said.contains("constant lr_t = 0.05"),
            "{said}"
        );
        let default = TrainConfig::default().recipe();
        assert!(
            default.contains("Nesterov momentum μ = 0.9") && default.contains("cosine schedule"),
            "{default}"
        );
        let adam = TrainConfig { optimizer: OptimizerKind::Adam, ..TrainConfig::default() }.recipe();
        assert!(adam.starts_with("Adam"), "{adam}");
    }
}
