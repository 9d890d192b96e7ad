//! `nnopt train` as a command: check the output paths, load the data, train with a line per
//! epoch (the library's [`nnopt::train::train`] reports them through the observer), write the
//! metrics after every epoch, save, draw, report.

use std::path::PathBuf;

use anyhow::{bail, Result};
use nnopt::data::{self, DataSource};
use nnopt::fsutil::write_atomic;
use nnopt::observe::Observer;
use nnopt::plot::Target;
use nnopt::report::Report;
use nnopt::train::{self, EpochMetrics, Hooks, Stop, TrainConfig};
use tch::Device;

use super::output::Output;
use super::{paths, process};

/// Where `nnopt train` writes besides stdout.
#[derive(Debug, Clone, Default)]
pub struct Files {
    /// The trained weights (safetensors).
    pub save: Option<PathBuf>,
    /// The per-epoch metrics (CSV), rewritten atomically after every epoch.
    pub metrics: Option<PathBuf>,
    /// Loss and accuracy per epoch, drawn.
    pub plot: Option<Target>,
    /// The confusion matrix, drawn.
    pub confusion: Option<Target>,
    /// The confusion matrix as CSV.
    pub confusion_csv: Option<PathBuf>,
}

pub fn run(
    config: &TrainConfig,
    source: &DataSource,
    files: &Files,
    device: Device,
    out: &Output,
) -> Result<()> {
    // Before the data loads (seconds for Fashion-MNIST): a bad flag is said at once.
    config.validate()?;
    paths::writable(&[
        ("--save", files.save.as_deref()),
        ("--metrics", files.metrics.as_deref()),
        ("--confusion-csv", files.confusion_csv.as_deref()),
    ])?;
    out.note(&format!("loading {source}…"));
    let data = data::load(source)?;
    let stop = process::ctrl_c_flag(out.quiet);
    out.line(&format!(
        "data: {} — {} training and {} test images of {}×{}, {} classes",
        data.name,
        data.train.len(),
        data.test.len(),
        data.height,
        data.width,
        data.classes
    ));
    out.line(&format!("recipe: {}", config.recipe()));
    let mut done: Vec<EpochMetrics> = Vec::new();
    let mut on_epoch = |m: &EpochMetrics| {
        done.push(m.clone());
        match &files.metrics {
            Some(path) => write_atomic(path, train::metrics_csv(&done).as_bytes()),
            None => Ok(()),
        }
    };
    let mut hooks = Hooks { observer: out, stop: &stop, on_epoch: &mut on_epoch };
    let trained = train::train(config, &data, device, &mut hooks)?;
    if let Some(path) = &files.save {
        nnopt::weights::save(path, &trained.net, &trained.normalization, &data)?;
        out.note(&format!("saved the weights to {}", path.display()));
    }
    let report = &trained.report;
    // A run that fails (diverged) draws nothing: no picture of a failure passed off as a result.
    if !matches!(report.stop, Stop::Diverged { .. }) {
        if let (Some(target), Some(figure)) = (&files.plot, report.figure()?) {
            figure.save(target)?;
        }
        if let Some(target) = &files.confusion {
            train::confusion_figure(report).save(target)?;
        }
        if let Some(path) = &files.confusion_csv {
            let csv = nnopt::metrics::confusion_csv(
                &report.final_metrics.confusion_matrix,
                report.data.class_names.as_deref(),
            );
            write_atomic(path, csv.as_bytes())?;
        }
    }
    out.report(report)?;
    out.chart("train loss", &report.epochs.iter().map(|e| e.train_loss).collect::<Vec<_>>());
    match (&report.stop, report.stop.describe(&report.config.config)) {
        (Stop::Diverged { .. }, Some(why)) => bail!("{why}"),
        (Stop::Interrupted { .. }, Some(why)) => out.note(&format!("nnopt: {why}")),
        _ => {}
    }
    Ok(())
}
