//! Training the notebook's `Network` on real images — the step the notebook describes ("an
//! image classification problem … 28x28 pixels, 10 classes") but never takes.
//!
//! The recipe: inputs normalized with the training set's mean and std, cross-entropy on the
//! logits, minibatch SGD with Nesterov momentum 0.9 and weight decay 5e-4, batch 128, lr 0.05
//! decayed along a cosine over the epochs (PyTorch's `CosineAnnealingLR` stepped per epoch),
//! 20 epochs, the training set reshuffled every epoch from the seed. Adam is the alternative.
//! Given the same seed and device, a run is repeatable to the bit.

use std::f64::consts::PI;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Result};
use serde::Serialize;
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Reduction, Tensor};

use crate::data::{self, DataSource, Dataset, Normalization};
use crate::error::{ensure_positive, ensure_usage};
use crate::mlp::Network;
use crate::output::Output;

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

/// A training run's settings; the defaults are the recipe above.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: i64,
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub optimizer: OptimizerKind,
    pub seed: u64,
    /// Hidden layer widths: `[32]` is the notebook's 784-32-10.
    pub hidden: Vec<i64>,
    /// One batch per epoch: a smoke test of the whole pipeline.
    pub dry_run: bool,
    /// Report the running training loss every this many batches on stderr (0: never).
    pub log_interval: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 20,
            batch_size: 128,
            lr: OptimizerKind::Sgd.default_lr(),
            momentum: 0.9,
            weight_decay: 5e-4,
            optimizer: OptimizerKind::Sgd,
            seed: 0,
            hidden: vec![32],
            dry_run: false,
            log_interval: 0,
        }
    }
}

impl TrainConfig {
    /// Rejects settings that cannot train, naming the flag.
    pub fn validate(&self) -> Result<()> {
        ensure_usage((1..=100_000).contains(&self.epochs), || {
            format!("--epochs must be between 1 and 100000, got {}", self.epochs)
        })?;
        ensure_usage((1..=1 << 20).contains(&self.batch_size), || {
            format!("--batch-size must be between 1 and 1048576, got {}", self.batch_size)
        })?;
        ensure_positive("--lr", self.lr)?;
        let m = self.momentum;
        ensure_usage((0.0..1.0).contains(&m), || format!("--momentum must be in [0, 1), got {m}"))?;
        let wd = self.weight_decay;
        ensure_usage(wd.is_finite() && wd >= 0.0, || {
            format!("--weight-decay must be a finite number ≥ 0, got {wd}")
        })?;
        ensure_usage(!self.hidden.is_empty() && self.hidden.len() <= 8, || {
            format!("--hidden takes 1 to 8 widths, got {}", self.hidden.len())
        })?;
        for &h in &self.hidden {
            ensure_usage((1..=crate::mlp::MAX_HIDDEN).contains(&h), || {
                format!("--hidden widths must be between 1 and {}, got {h}", crate::mlp::MAX_HIDDEN)
            })?;
        }
        Ok(())
    }

    /// The learning rate for `epoch` (1-based): cosine from `lr` towards 0 over the run.
    pub fn lr_at(&self, epoch: usize) -> f64 {
        self.lr * 0.5 * (1.0 + (PI * (epoch - 1) as f64 / self.epochs as f64).cos())
    }
}

/// One epoch's measurements.
#[derive(Debug, Clone, Serialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub lr: f64,
    pub train_loss: f64,
    pub test_loss: f64,
    pub test_accuracy: f64,
    pub seconds: f64,
    pub samples_per_second: f64,
}

/// Loss, accuracy and confusion matrix (rows: true class, columns: predicted) on a data split.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub loss: f64,
    pub accuracy: f64,
    pub correct: i64,
    pub total: i64,
    pub confusion_matrix: Vec<Vec<i64>>,
}

/// What was trained on.
#[derive(Debug, Clone, Serialize)]
pub struct DataInfo {
    pub name: String,
    pub train_samples: i64,
    pub test_samples: i64,
    pub height: i64,
    pub width: i64,
    pub classes: i64,
    pub mean: f64,
    pub std: f64,
}

/// The final test results.
#[derive(Debug, Clone, Serialize)]
pub struct FinalMetrics {
    pub test_accuracy: f64,
    pub test_loss: f64,
    pub confusion_matrix: Vec<Vec<i64>>,
}

/// Settings as run: the config, plus the device and the layer widths it resolved to.
#[derive(Debug, Clone, Serialize)]
pub struct RunConfig {
    #[serde(flatten)]
    pub config: TrainConfig,
    pub device: String,
    pub widths: Vec<i64>,
}

/// A whole run, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    pub config: RunConfig,
    pub data: DataInfo,
    pub epochs: Vec<EpochMetrics>,
    #[serde(rename = "final")]
    pub final_metrics: FinalMetrics,
    /// Why training ended early (divergence, Ctrl-C); `None` when it ran to the end.
    pub stopped: Option<String>,
}

/// A trained network with what is needed to use and save it.
pub struct Trained {
    pub vs: nn::VarStore,
    pub net: Network,
    pub normalization: Normalization,
    pub report: TrainReport,
    /// True when training stopped because the loss diverged (the weights are the last good ones).
    pub diverged: bool,
}

/// Hooks into a run: output, a stop flag (Ctrl-C), and a callback after every epoch.
pub struct Hooks<'a> {
    pub out: Output,
    pub stop: &'a AtomicBool,
    pub on_epoch: &'a mut dyn FnMut(&EpochMetrics),
}

/// Evaluates `net` on normalized `images` (N×features, on the net's device) in batches.
pub fn evaluate(net: &Network, images: &Tensor, labels: &Tensor, classes: i64) -> Result<Evaluation> {
    tch::no_grad(|| {
        let n = labels.size()[0];
        let mut loss_sum = 0.0;
        let mut confusion = Tensor::zeros([classes * classes], (Kind::Int64, labels.device()));
        let mut start = 0;
        while start < n {
            let len = 4096.min(n - start);
            let logits = net.forward(&images.narrow(0, start, len));
            let y = labels.narrow(0, start, len);
            let log_probs = logits.log_softmax(-1, Kind::Float);
            loss_sum += log_probs.nll_loss_nd(&y, None::<Tensor>, Reduction::Sum, -100).double_value(&[]);
            let predicted = logits.argmax(-1, false);
            confusion += (y * classes + predicted).bincount(None::<Tensor>, classes * classes);
            start += len;
        }
        let confusion: Vec<i64> =
            Vec::try_from(confusion.to_device(Device::Cpu)).map_err(crate::error::torch)?;
        let matrix: Vec<Vec<i64>> = confusion.chunks(classes as usize).map(<[i64]>::to_vec).collect();
        let correct: i64 = (0..classes as usize).map(|i| matrix[i][i]).sum();
        Ok(Evaluation {
            loss: loss_sum / n.max(1) as f64,
            accuracy: correct as f64 / n.max(1) as f64,
            correct,
            total: n,
            confusion_matrix: matrix,
        })
    })
}

/// Trains a fresh `Network` on `data` with `config`, on `device`.
pub fn train(config: &TrainConfig, data: &Dataset, device: Device, hooks: &mut Hooks) -> Result<Trained> {
    config.validate()?;
    let normalization = Normalization::fit(&data.train.images)?;
    let x_train = normalization.apply(&data.train.images, device);
    let y_train = data.train.labels.to_device(device);
    let x_test = normalization.apply(&data.test.images, device);
    let y_test = data.test.labels.to_device(device);

    tch::manual_seed(config.seed as i64);
    let widths: Vec<i64> =
        std::iter::once(data.features()).chain(config.hidden.iter().copied()).chain([data.classes]).collect();
    let mut vs = nn::VarStore::new(Device::Cpu);
    let net = Network::new(&vs.root(), &widths);
    vs.set_device(device);
    let mut opt = match config.optimizer {
        OptimizerKind::Sgd => nn::Sgd {
            momentum: config.momentum,
            dampening: 0.0,
            wd: config.weight_decay,
            nesterov: config.momentum > 0.0,
        }
        .build(&vs, config.lr),
        OptimizerKind::Adam => {
            nn::Adam { wd: config.weight_decay, ..Default::default() }.build(&vs, config.lr)
        }
    }
    .map_err(crate::error::torch)?;

    let n = data.train.len();
    let batches = if config.dry_run { 1 } else { (n + config.batch_size - 1) / config.batch_size };
    let mut epochs = Vec::new();
    let mut stopped = None;
    let mut diverged = false;
    let mut last_test = None;
    'epochs: for epoch in 1..=config.epochs {
        let started = Instant::now();
        let lr = config.lr_at(epoch);
        opt.set_lr(lr);
        // The weights this epoch starts from: what is kept if the loss diverges.
        let snapshot: Vec<Tensor> = net.parameters().iter().map(|(_, p)| p.detach().copy()).collect();
        let order = Tensor::randperm(n, (Kind::Int64, Device::Cpu)).to_device(device);
        let bar = hooks.out.progress(batches as u64, &format!("epoch {epoch}/{}", config.epochs));
        let (mut loss_sum, mut seen) = (0.0, 0i64);
        for batch in 0..batches {
            let start = batch * config.batch_size;
            let idx = order.narrow(0, start, config.batch_size.min(n - start));
            let len = idx.size()[0];
            let loss = net
                .forward(&x_train.index_select(0, &idx))
                .cross_entropy_for_logits(&y_train.index_select(0, &idx));
            let value = loss.double_value(&[]);
            if !value.is_finite() {
                tch::no_grad(|| {
                    for ((_, mut p), good) in net.parameters().into_iter().zip(&snapshot) {
                        p.copy_(good);
                    }
                });
                stopped = Some(format!(
                    "the training loss became {value} at epoch {epoch}, batch {}; kept the weights from the \
                     start of epoch {epoch}; lower --lr (it was {})",
                    batch + 1,
                    config.lr
                ));
                diverged = true;
                bar.finish_and_clear();
                break 'epochs;
            }
            opt.backward_step(&loss);
            loss_sum += value * len as f64;
            seen += len;
            bar.inc(1);
            if config.log_interval > 0 && ((batch + 1) as usize).is_multiple_of(config.log_interval) {
                hooks.out.note(format!(
                    "epoch {epoch} [{seen}/{n} ({:.0}%)] train loss {:.6}",
                    100.0 * seen as f64 / n as f64,
                    loss_sum / seen as f64
                ));
            }
            if hooks.stop.load(Ordering::Relaxed) {
                stopped = Some(format!("interrupted (Ctrl-C) at epoch {epoch}, batch {}", batch + 1));
                break;
            }
        }
        bar.finish_and_clear();
        let train_seconds = started.elapsed().as_secs_f64();
        let test = evaluate(&net, &x_test, &y_test, data.classes)?;
        let metrics = EpochMetrics {
            epoch,
            lr,
            train_loss: loss_sum / seen.max(1) as f64,
            test_loss: test.loss,
            test_accuracy: test.accuracy,
            seconds: started.elapsed().as_secs_f64(),
            samples_per_second: seen as f64 / train_seconds.max(1e-9),
        };
        (hooks.on_epoch)(&metrics);
        epochs.push(metrics);
        last_test = Some(test);
        if stopped.is_some() {
            break;
        }
    }

    // The last epoch's evaluation is of the final weights, unless divergence restored older ones.
    let test = match last_test {
        Some(test) if !diverged => test,
        _ => evaluate(&net, &x_test, &y_test, data.classes)?,
    };
    let report = TrainReport {
        config: RunConfig { config: config.clone(), device: crate::device::name(device), widths },
        data: DataInfo {
            name: data.name.clone(),
            train_samples: n,
            test_samples: data.test.len(),
            height: data.height,
            width: data.width,
            classes: data.classes,
            mean: normalization.mean,
            std: normalization.std,
        },
        epochs,
        final_metrics: FinalMetrics {
            test_accuracy: test.accuracy,
            test_loss: test.loss,
            confusion_matrix: test.confusion_matrix,
        },
        stopped,
    };
    Ok(Trained { vs, net, normalization, report, diverged })
}

/// Where `nnopt train` writes besides stdout.
#[derive(Debug, Clone, Default)]
pub struct OutputFiles {
    /// The trained weights (safetensors).
    pub save: Option<PathBuf>,
    /// The per-epoch metrics (CSV).
    pub metrics: Option<PathBuf>,
}

impl OutputFiles {
    /// Refuses paths that cannot be written, before any training is done.
    pub fn check(&self) -> Result<()> {
        for (flag, path) in [("--save", &self.save), ("--metrics", &self.metrics)] {
            if let Some(path) = path {
                crate::fsutil::ensure_writable(flag, path)?;
            }
        }
        Ok(())
    }
}

/// The metrics CSV, rewritten atomically after every epoch so an interrupted run keeps its rows.
fn write_metrics(path: &Path, epochs: &[EpochMetrics]) -> Result<()> {
    let mut csv = String::from("epoch,lr,train_loss,test_loss,test_accuracy,seconds,samples_per_second\n");
    for m in epochs {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            m.epoch, m.lr, m.train_loss, m.test_loss, m.test_accuracy, m.seconds, m.samples_per_second
        ));
    }
    crate::fsutil::write_atomic(path, csv.as_bytes())
}

/// `nnopt train`: load the data, train with a line per epoch, save, report.
pub fn run_command(
    config: &TrainConfig,
    source: &DataSource,
    files: &OutputFiles,
    device: Device,
    out: Output,
) -> Result<()> {
    out.note(format!("loading {source}…"));
    let data = data::load(source)?;

    // First Ctrl-C: finish the batch, evaluate, save. Second: stop at once.
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\nnnopt: stopping after this batch (Ctrl-C again to quit now)");
    });

    if !out.json {
        println!(
            "data: {} — {} training and {} test images of {}×{}, {} classes",
            data.name,
            data.train.len(),
            data.test.len(),
            data.height,
            data.width,
            data.classes
        );
    }
    let mut done: Vec<EpochMetrics> = Vec::new();
    let mut metrics_error = None;
    let mut on_epoch = |m: &EpochMetrics| {
        if !out.json {
            println!(
                "epoch {:>3}/{}  lr {:.5}  train loss {:.4}  test loss {:.4}  test accuracy {:.2}%  {:.1} s  {:.0} samples/s",
                m.epoch,
                config.epochs,
                m.lr,
                m.train_loss,
                m.test_loss,
                100.0 * m.test_accuracy,
                m.seconds,
                m.samples_per_second
            );
            let _ = std::io::stdout().flush();
        }
        done.push(m.clone());
        if let Some(path) = &files.metrics {
            if let Err(err) = write_metrics(path, &done) {
                metrics_error.get_or_insert(err);
            }
        }
    };
    let mut hooks = Hooks { out, stop: &stop, on_epoch: &mut on_epoch };
    let trained = train(config, &data, device, &mut hooks)?;
    if let Some(err) = metrics_error {
        return Err(err);
    }
    if let Some(path) = &files.save {
        crate::weights::save(path, &trained.net, &trained.normalization, &data.name)?;
        out.note(format!("saved the weights to {}", path.display()));
    }
    let report = &trained.report;
    out.result(report, |r| {
        let d = &r.data;
        format!(
            "inputs normalized with the training set's mean {:.4} and std {:.4}\n\
             final test accuracy {:.2}% ({} images), test loss {:.4}\n\n{}",
            d.mean,
            d.std,
            100.0 * r.final_metrics.test_accuracy,
            d.test_samples,
            r.final_metrics.test_loss,
            crate::classify::confusion_table(&r.final_metrics.confusion_matrix)
        )
    })?;
    match &report.stopped {
        Some(why) if trained.diverged => bail!("{why}"),
        Some(why) => out.note(format!("nnopt: {why}")),
        None => {}
    }
    Ok(())
}
