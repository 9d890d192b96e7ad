//! Using trained weights: `nnopt evaluate` (accuracy and confusion matrix on a test set) and
//! `nnopt predict` (one image's class and probabilities).

use std::path::{Path, PathBuf};

use anyhow::{ensure, Result};
use serde::Serialize;
use tch::nn::Module;
use tch::{Device, Kind, Tensor};

use crate::data::{self, image, DataSource, Dataset, Normalization};
use crate::error::usage;
use crate::output::Output;
use crate::train::{self, Evaluation};
use crate::weights::{self, Loaded};

/// `nnopt evaluate`'s result.
#[derive(Debug, Clone, Serialize)]
pub struct EvaluateReport {
    pub weights: PathBuf,
    pub data: String,
    pub widths: Vec<i64>,
    #[serde(flatten)]
    pub evaluation: Evaluation,
    pub class_names: Option<Vec<String>>,
}

/// The weights' input normalization, or the data's own when the file does not record one.
fn normalization(loaded: &Loaded, data: &Dataset, out: &Output) -> Result<Normalization> {
    match loaded.normalization {
        Some(n) => Ok(n),
        None => {
            out.note("note: the weights file records no input normalization; using the training images' mean and std");
            Normalization::fit(&data.train.images)
        }
    }
}

/// Checks that the network fits the data: input width = pixels, outputs ≥ classes.
fn check_fit(path: &Path, loaded: &Loaded, data: &Dataset) -> Result<()> {
    let inputs = loaded.widths[0];
    ensure!(
        inputs == data.features(),
        "{}: fc1.weight takes {inputs} inputs but the images in {} have {}×{} = {} pixels",
        path.display(),
        data.name,
        data.height,
        data.width,
        data.features()
    );
    let outputs = *loaded.widths.last().unwrap_or(&0);
    ensure!(
        outputs >= data.classes,
        "{}: the network has {outputs} outputs but {} has {} classes",
        path.display(),
        data.name,
        data.classes
    );
    Ok(())
}

/// Evaluates the weights in `path` on the test split of `source`.
pub fn evaluate(path: &Path, source: &DataSource, device: Device, out: &Output) -> Result<EvaluateReport> {
    let loaded = weights::load(path, device)?;
    let data = data::load(source)?;
    check_fit(path, &loaded, &data)?;
    let norm = normalization(&loaded, &data, out)?;
    let classes = *loaded.widths.last().unwrap_or(&data.classes);
    let evaluation = train::evaluate(
        &loaded.net,
        &norm.apply(&data.test.images, device),
        &data.test.labels.to_device(device),
        classes,
    )?;
    Ok(EvaluateReport {
        weights: path.to_path_buf(),
        data: data.name.clone(),
        widths: loaded.widths.clone(),
        evaluation,
        class_names: data.class_names().map(|names| names.iter().map(|s| s.to_string()).collect()),
    })
}

/// The text `nnopt evaluate` prints.
pub fn render_evaluation(r: &EvaluateReport) -> String {
    let widths: Vec<String> = r.widths.iter().map(i64::to_string).collect();
    let e = &r.evaluation;
    format!(
        "weights {} ({})\ndata    {} (test split)\ntest accuracy {:.2}% ({}/{}), test loss {:.4}\n\n{}",
        r.weights.display(),
        widths.join("-"),
        r.data,
        100.0 * e.accuracy,
        e.correct,
        e.total,
        e.loss,
        confusion_table(&e.confusion_matrix)
    )
}

/// A confusion matrix as an aligned table: rows are true classes, columns predictions.
pub fn confusion_table(matrix: &[Vec<i64>]) -> String {
    let width = matrix.iter().flatten().map(|v| v.to_string().len()).max().unwrap_or(1).max(3);
    let mut text = format!("confusion matrix (rows: true class, columns: predicted)\n{:>5}", "");
    for j in 0..matrix.len() {
        text.push_str(&format!(" {j:>width$}"));
    }
    text.push('\n');
    for (i, row) in matrix.iter().enumerate() {
        text.push_str(&format!("{i:>5}"));
        for v in row {
            text.push_str(&format!(" {v:>width$}"));
        }
        text.push('\n');
    }
    text
}

/// What `nnopt predict` classifies.
#[derive(Debug, Clone)]
pub enum PredictInput {
    /// Test image `index` of a data set.
    Index { source: DataSource, index: i64 },
    /// A PGM or PNG file.
    Image(PathBuf),
}

/// `nnopt predict`'s result.
#[derive(Debug, Clone, Serialize)]
pub struct PredictReport {
    pub weights: PathBuf,
    /// The image: `test image N of DATA` or the file.
    pub source: String,
    /// The true label, where the image comes from a data set.
    pub label: Option<i64>,
    pub predicted: i64,
    pub probabilities: Vec<f64>,
    pub class_names: Option<Vec<String>>,
}

/// Classifies one image with the weights in `path`.
pub fn predict(path: &Path, input: &PredictInput, device: Device, out: &Output) -> Result<PredictReport> {
    let loaded = weights::load(path, device)?;
    let (pixels, norm, label, source, names) = match input {
        PredictInput::Index { source, index } => {
            let data = data::load(source)?;
            check_fit(path, &loaded, &data)?;
            let n = data.test.len();
            if !(0..n).contains(index) {
                return Err(usage(format!(
                    "--index {index}: the test split of {} has images 0 to {}",
                    data.name,
                    n - 1
                )));
            }
            let norm = normalization(&loaded, &data, out)?;
            let image = data.test.images.get(*index).unsqueeze(0);
            let label = data.test.labels.int64_value(&[*index]);
            let names = data.class_names().map(|n| n.iter().map(|s| s.to_string()).collect());
            (image, norm, Some(label), format!("test image {index} of {}", data.name), names)
        }
        PredictInput::Image(file) => {
            let img = image::read(file)?;
            let expected = loaded.widths[0];
            ensure!(
                (img.width * img.height) as i64 == expected,
                "{}: the image is {}×{} = {} pixels but the network takes {expected} (e.g. 28×28)",
                file.display(),
                img.width,
                img.height,
                img.width * img.height
            );
            let Some(norm) = loaded.normalization else {
                return Err(usage(format!(
                    "{}: records no input normalization; predict on a data set image with --index N --data DIR instead",
                    path.display()
                )));
            };
            let pixels = Tensor::from_slice(&img.pixels).reshape([1, img.height as i64, img.width as i64]);
            (pixels, norm, None, file.display().to_string(), None)
        }
    };
    let logits = tch::no_grad(|| loaded.net.forward(&norm.apply(&pixels, device)));
    let probs = logits.softmax(-1, Kind::Float).squeeze_dim(0).to_kind(Kind::Double).to_device(Device::Cpu);
    let probabilities: Vec<f64> = Vec::try_from(&probs).map_err(crate::error::torch)?;
    let predicted = logits.argmax(-1, false).int64_value(&[0]);
    Ok(PredictReport {
        weights: path.to_path_buf(),
        source,
        label,
        predicted,
        probabilities,
        class_names: names,
    })
}

/// The text `nnopt predict` prints.
pub fn render_prediction(r: &PredictReport) -> String {
    let name = |c: i64| {
        r.class_names.as_ref().and_then(|n| n.get(c as usize)).map(|s| format!(" ({s})")).unwrap_or_default()
    };
    let mut text = format!("image     {}\n", r.source);
    if let Some(label) = r.label {
        text.push_str(&format!("label     {label}{}\n", name(label)));
    }
    text.push_str(&format!(
        "predicted {}{} with probability {:.4}\n\nclass  probability\n",
        r.predicted,
        name(r.predicted),
        r.probabilities[r.predicted as usize]
    ));
    for (c, p) in r.probabilities.iter().enumerate() {
        let marker = if c as i64 == r.predicted { "  <" } else { "" };
        text.push_str(&format!("{c:>5}  {p:.4}{}{marker}\n", name(c as i64)));
    }
    text
}
