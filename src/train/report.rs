//! What a training run reports: its epochs, why it ended, its final test results, as JSON, text,
//! CSV and pictures.

use anyhow::Result;
use serde::Serialize;

use super::TrainConfig;

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
    /// The batches this epoch trained: all of them, unless a signal cut it short.
    pub batches: i64,
    /// Whether the epoch ran every batch; a partial one's train loss is the mean of fewer.
    pub complete: bool,
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
    pub class_names: Option<Vec<String>>,
    pub mean: f64,
    pub std: f64,
}

impl DataInfo {
    /// A picture's title for the data: Fashion-MNIST by name where it was recognized from its
    /// labels, a directory by its last component (not the machine's whole path).
    pub fn title(&self) -> String {
        let fashion: Vec<String> = crate::data::FASHION_CLASSES.iter().map(|s| s.to_string()).collect();
        if self.class_names.as_ref() == Some(&fashion) {
            return "Fashion-MNIST".to_string();
        }
        let path = std::path::Path::new(&self.name);
        match path.file_name() {
            Some(last) if path.is_dir() => last.to_string_lossy().into_owned(),
            _ => self.name.clone(),
        }
    }
}

/// The final test results.
#[derive(Debug, Clone, Serialize)]
pub struct FinalMetrics {
    pub test_accuracy: f64,
    pub test_loss: f64,
    pub confusion_matrix: Vec<Vec<i64>>,
}

/// Settings as run: the config with its defaults filled in, plus the device and the layer
/// widths it resolved to.
#[derive(Debug, Clone, Serialize)]
pub struct RunConfig {
    #[serde(flatten)]
    pub config: TrainConfig,
    pub device: String,
    pub widths: Vec<i64>,
    /// Whether the training step was replayed as a CUDA graph (shown only where it was).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cuda_graphs: bool,
}

pub use crate::judge::training::Stop;

/// A whole run, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    pub config: RunConfig,
    pub data: DataInfo,
    pub epochs: Vec<EpochMetrics>,
    #[serde(rename = "final")]
    pub final_metrics: FinalMetrics,
    /// Why training ended.
    pub stop: Stop,
    /// What the user must know to trust the result (a stall); also printed on stderr.
    pub warnings: Vec<String>,
    /// The final accuracy is no better than chance ([`crate::judge::chance`]).
    pub at_chance: bool,
    /// The judge's verdict on the final test results, with its evidence.
    pub verdict: crate::judge::training::TestVerdict,
}

/// The per-epoch metrics as CSV (`train --metrics`): one row per epoch evaluated, an epoch a
/// signal cut short marked by `batches` and `complete`.
pub fn metrics_csv(epochs: &[EpochMetrics]) -> String {
    let mut csv = String::from(
        "epoch,lr,train_loss,test_loss,test_accuracy,seconds,samples_per_second,batches,complete\n",
    );
    for m in epochs {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\n",
            m.epoch,
            m.lr,
            m.train_loss,
            m.test_loss,
            m.test_accuracy,
            m.seconds,
            m.samples_per_second,
            m.batches,
            m.complete
        ));
    }
    csv
}

/// [`metrics_csv`]'s text read back (`nnopt lab` follows a run's `--metrics` file): the rows
/// in order; a row that is not what [`metrics_csv`] writes is an error naming its line.
pub fn read_metrics_csv(text: &str) -> Result<Vec<EpochMetrics>> {
    let mut lines = text.lines();
    let expected = metrics_csv(&[]);
    if lines.next() != Some(expected.trim_end()) {
        anyhow::bail!("not a `train --metrics` file: its first line is not {:?}", expected.trim_end());
    }
    lines
        .enumerate()
        .map(|(i, line)| {
            let c: Vec<&str> = line.split(',').collect();
            let bad = || anyhow::anyhow!("line {}: {line:?} is not a metrics row", i + 2);
            if c.len() != 9 {
                return Err(bad());
            }
            let f = |k: usize| c[k].parse::<f64>().map_err(|_| bad());
            Ok(EpochMetrics {
                epoch: c[0].parse().map_err(|_| bad())?,
                lr: f(1)?,
                train_loss: f(2)?,
                test_loss: f(3)?,
                test_accuracy: f(4)?,
                seconds: f(5)?,
                samples_per_second: f(6)?,
                batches: c[7].parse().map_err(|_| bad())?,
                complete: c[8].parse().map_err(|_| bad())?,
            })
        })
        .collect()
}

/// The text `nnopt train` ends with (after its epoch lines).
pub fn render(r: &TrainReport) -> String {
    let d = &r.data;
    format!(
        "inputs normalized with the training set's mean {:.4} and std {:.4}\n\
         final test accuracy {:.2}% ({} images), test loss {:.4}\n\n{}{}",
        d.mean,
        d.std,
        100.0 * r.final_metrics.test_accuracy,
        d.test_samples,
        r.final_metrics.test_loss,
        crate::metrics::confusion_table(&r.final_metrics.confusion_matrix, d.class_names.as_deref()),
        crate::judge::confusions::describe(
            &r.verdict.confusions,
            &r.final_metrics.confusion_matrix,
            d.class_names.as_deref()
        )
    )
}

/// `train --plot`: train and test loss per epoch, and test accuracy per epoch.
///
/// An epoch a signal cut short is not drawn as one of the others: its train loss is the mean
/// of fewer batches. It is drawn apart, a cross of its own, named in the legend.
pub fn figure(report: &TrainReport) -> crate::plot::Figure {
    curves(&report.epochs, &report.data.title())
}

/// [`figure`]'s picture from the epochs alone: what `nnopt lab` draws while a run is still
/// going, from its `--metrics` file, before there is a report.
pub fn curves(epochs: &[EpochMetrics], data_title: &str) -> crate::plot::Figure {
    use crate::plot::{Figure, Panel, Series, Style};
    let per_epoch = |f: fn(&EpochMetrics) -> f64| {
        epochs.iter().filter(|e| e.complete).map(|e| (e.epoch as f64, f(e))).collect()
    };
    let partial: Vec<&EpochMetrics> = epochs.iter().filter(|e| !e.complete).collect();
    let cut = |what: &str, f: fn(&EpochMetrics) -> f64| -> Vec<Series> {
        partial
            .iter()
            .map(|e| {
                let label = format!("{what}, epoch {} cut short ({} batches)", e.epoch, e.batches);
                Series::new(label, vec![(e.epoch as f64, f(e))], Style::Exit)
            })
            .collect()
    };
    let style = if epochs.len() > 30 { Style::Line } else { Style::LinePoints };
    Figure::stacked(
        900,
        380,
        vec![
            Panel::Chart {
                x_categories: Vec::new(),
                title: format!("Training on {data_title}"),
                x_label: "epoch".into(),
                y_label: "cross-entropy loss".into(),
                log_x: false,
                log_y: false,
                series: [
                    Series::new("train loss (mean over the epoch)", per_epoch(|e| e.train_loss), style),
                    Series::new("test loss (after the epoch)", per_epoch(|e| e.test_loss), style),
                ]
                .into_iter()
                .chain(cut("train loss", |e| e.train_loss))
                .chain(cut("test loss", |e| e.test_loss))
                .collect(),
                background: Vec::new(),
            },
            Panel::Chart {
                x_categories: Vec::new(),
                title: "Test accuracy".into(),
                x_label: "epoch".into(),
                y_label: "accuracy (%)".into(),
                log_x: false,
                log_y: false,
                series: std::iter::once(Series::new(
                    "test accuracy",
                    per_epoch(|e| 100.0 * e.test_accuracy),
                    style,
                ))
                .chain(cut("test accuracy", |e| 100.0 * e.test_accuracy))
                .collect(),
                background: Vec::new(),
            },
        ],
    )
}

/// `train --confusion`: the final confusion matrix as a heat map, class names where known.
pub fn confusion_figure(report: &TrainReport) -> crate::plot::Figure {
    use crate::plot::{Figure, Panel};
    let m = &report.final_metrics.confusion_matrix;
    let labels: Vec<String> = match &report.data.class_names {
        Some(names) => names.clone(),
        None => (0..m.len()).map(|i| i.to_string()).collect(),
    };
    Figure {
        width: 900,
        height: 820,
        columns: 1,
        panels: vec![Panel::Heatmap {
            title: format!(
                "Confusion matrix: {} (test accuracy {:.2}%)",
                report.data.title(),
                100.0 * report.final_metrics.test_accuracy
            ),
            rows: labels.clone(),
            columns: labels,
            values: m.iter().map(|r| r.iter().map(|&v| v as f64).collect()).collect(),
            x_label: "predicted class".into(),
            y_label: "true class".into(),
        }],
    }
}

impl crate::report::Report for TrainReport {
    fn text(&self) -> String {
        render(self)
    }
    fn csv(&self) -> Option<String> {
        Some(metrics_csv(&self.epochs))
    }
    fn figure(&self) -> Result<Option<crate::plot::Figure>> {
        Ok(Some(figure(self)))
    }
}

#[cfg(test)]
mod tests {
    use super::{metrics_csv, read_metrics_csv, EpochMetrics};

    fn epoch(epoch: usize, complete: bool) -> EpochMetrics {
        EpochMetrics {
            epoch,
            lr: 0.1 / epoch as f64,
            train_loss: 2.0 / 3.0,
            test_loss: 1e-7,
            test_accuracy: 0.8125,
            seconds: 1.25,
            samples_per_second: 12345.5,
            batches: 17,
            complete,
        }
    }

    /// What `--metrics` writes reads back to the same numbers, bit for bit; anything else names
    /// the line it cannot read.
    #[test]
    fn metrics_rows_read_back_exactly_and_bad_ones_are_named() {
        let epochs = vec![epoch(1, true), epoch(2, false)];
        let back = read_metrics_csv(&metrics_csv(&epochs)).unwrap();
        assert_eq!(back.len(), 2);
        for (a, b) in epochs.iter().zip(&back) {
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
        }
        assert!(read_metrics_csv("").is_err());
        let torn = format!("{}3,0.1,0.5", metrics_csv(&epochs));
        assert!(read_metrics_csv(&torn).unwrap_err().to_string().contains("line 4"));
        assert!(read_metrics_csv("epoch,x\n")
            .unwrap_err()
            .to_string()
            .contains("not a `train --metrics` file"));
    }
}
