//! The perceptron's run seen one epoch at a time (the lab's perceptron view and its slider):
//! after epoch k, its weights, its predictions against the targets, and the pictures
//! `perceptron --plot` draws, cut at k — the loss so far, and the replays that explain a rise
//! up to k.

use anyhow::Result;
use serde::Serialize;

use crate::error::usage;
use crate::perceptron::PerceptronReport;
use crate::plot::{Figure, Panel, Series, Style};

/// The run as it stood after `epoch` (0: before training).
#[derive(Debug, Clone, Serialize)]
pub struct EpochView {
    pub epoch: usize,
    pub epochs: usize,
    pub w: Vec<f64>,
    pub b: f64,
    /// The training loss after this epoch's pass (0: the initial loss).
    pub loss: f64,
    pub targets: Vec<f64>,
    /// ŷ = max(x·w + b, 0) for each training sample with this epoch's w and b. Before training
    /// and after the last epoch, the run's own (libtorch's); in between, computed here in f32
    /// from the recorded w and b, which can differ from libtorch's sum in the last bit.
    pub predictions: Vec<f64>,
}

/// The view after `epoch`, which must be between 0 and the run's epochs.
pub fn view(report: &PerceptronReport, epoch: usize) -> Result<EpochView> {
    let epochs = report.history.len();
    if epoch > epochs {
        return Err(usage(format!("epoch {epoch}: this run has epochs 0 to {epochs}")));
    }
    let (w, b, loss) = match epoch {
        0 => (report.initial.w.flat(), report.initial.b.flat()[0], report.initial.loss),
        k => {
            let r = &report.history[k - 1];
            (r.w.flat(), r.b.flat()[0], r.loss)
        }
    };
    let x = report.train.x.flat();
    let predictions = match epoch {
        0 => report.initial.predictions.flat(),
        k if k == epochs => report.train_predictions.flat(),
        _ => x.chunks(w.len()).map(|row| predict(row, &w, b)).collect(),
    };
    Ok(EpochView { epoch, epochs, w, b, loss, targets: report.train.y.flat(), predictions })
}

/// max(x·w + b, 0), summed in f32 as the run's tensors are.
fn predict(x: &[f64], w: &[f64], b: f64) -> f64 {
    let z = x.iter().zip(w).fold(0f32, |acc, (&x, &w)| acc + x as f32 * w as f32) + b as f32;
    f64::from(z.max(0.0))
}

/// `perceptron --plot`'s picture cut at `epoch`, with the predictions against the targets
/// under it.
pub fn figure(report: &PerceptronReport, epoch: usize) -> Result<Figure> {
    let v = view(report, epoch)?;
    let mut cut = report.clone();
    cut.history.truncate(epoch);
    if let Some(rise) = cut.loss_rise.as_mut() {
        rise.replayed.retain(|r| r.epoch <= epoch);
    }
    let mut figure = crate::perceptron::figure(&cut);
    let index = |values: &[f64]| values.iter().enumerate().map(|(i, &v)| (i as f64, v)).collect();
    figure.panels.push(Panel::Chart {
        title: format!("After epoch {epoch} of {}: predictions against targets", v.epochs),
        x_categories: Vec::new(),
        x_label: "training sample".into(),
        y_label: "value".into(),
        log_x: false,
        log_y: false,
        series: vec![
            Series::new("target y", index(&v.targets), Style::Highlight),
            Series::new("prediction ŷ = max(x·w + b, 0)", index(&v.predictions), Style::Points),
        ],
        background: Vec::new(),
    });
    figure.height += 380;
    Ok(figure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perceptron::{run, PerceptronConfig};

    /// Epoch by epoch, the view is the run's own record; between the ends, predictions from the
    /// recorded weights agree with libtorch's to f32 rounding (checked at the last epoch, where
    /// the run's own are known), and an epoch past the end is refused.
    #[test]
    fn each_epoch_s_view_is_the_run_s_record() {
        let _rng = crate::test_rng();
        let config = PerceptronConfig { epochs: 12, ..Default::default() };
        let report = run(&config, tch::Device::Cpu, &crate::observe::Quiet).unwrap();
        let first = view(&report, 0).unwrap();
        assert_eq!(first.loss, report.initial.loss);
        let k = view(&report, 5).unwrap();
        assert_eq!((k.loss, k.b), (report.history[4].loss, report.history[4].b.flat()[0]));
        let last = view(&report, 12).unwrap();
        let x = report.train.x.flat();
        for (row, exact) in x.chunks(3).zip(&last.predictions) {
            let ours = predict(row, &last.w, last.b);
            assert!((ours - exact).abs() <= 1e-5 * exact.abs().max(1.0), "{ours} vs {exact}");
        }
        assert!(view(&report, 13).unwrap_err().to_string().contains("epochs 0 to 12"));
        for epoch in [0, 1, 6, 12] {
            let svg = figure(&report, epoch).unwrap().svg().unwrap();
            assert!(svg.contains(&format!("After epoch {epoch} of 12")), "{epoch}");
        }
    }
}
