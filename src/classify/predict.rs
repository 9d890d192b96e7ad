//! `nnopt predict`: one image classified by saved weights — a test image of a data set, or a
//! picture file made to look like the training images — with its class probabilities.

use std::path::{Path, PathBuf};

use anyhow::{ensure, Result};
use serde::Serialize;
use tch::{Device, Kind, Tensor};

use super::{load_with_data, normalization};
use crate::data::{image, DataSource, Normalization};
use crate::error::{torch, usage};
use crate::observe::Observer;
use crate::provenance::Match;
use crate::weights::{self, Loaded};

/// What `nnopt predict` classifies.
#[derive(Debug, Clone)]
pub enum PredictInput {
    /// Test image `index` of a data set (default: the one the weights were trained on).
    Index { source: Option<DataSource>, index: i64 },
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
    /// The true label's name, in the data's own classes.
    pub label_name: Option<String>,
    /// How the data set relates to what the weights were trained on (`--index` only).
    pub data_match: Option<Match>,
    /// The image was dark on light, and inverted to match the training images.
    pub inverted: bool,
    /// What the user must know to trust the answer (an image unlike the training images).
    pub warnings: Vec<String>,
    /// The image's pixels (0–255), rows × columns, for `--plot`.
    #[serde(skip)]
    pub pixels: Vec<f32>,
    #[serde(skip)]
    pub size: (usize, usize),
}

/// Choices of `nnopt predict`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PredictOptions {
    /// Run on a data set whose classes differ from the weights' (their names are printed).
    pub other_data: bool,
    /// Keep an image's pixels as they are, even where its background is light.
    pub no_invert: bool,
}

/// Classifies one image with the weights in `path`.
pub fn predict(
    path: &Path,
    input: &PredictInput,
    device: Device,
    options: PredictOptions,
    out: &dyn Observer,
) -> Result<PredictReport> {
    let Input { loaded, pixels, norm, label, source, names, label_name, data_match, inverted, warnings } =
        match input {
            PredictInput::Index { source, index } => {
                test_image(path, source.as_ref(), *index, device, options, out)?
            }
            PredictInput::Image(file) => image_file(path, file, device, options, out)?,
        };
    let input = norm.apply(&pixels, device)?;
    let logits = tch::no_grad(|| loaded.net.f_forward(&input))?;
    let probs = logits
        .f_softmax(-1, Kind::Float)
        .and_then(|p| p.f_squeeze_dim(0))
        .and_then(|p| p.f_to_kind(Kind::Double))
        .and_then(|p| p.f_to_device(Device::Cpu))
        .map_err(torch)?;
    let probabilities: Vec<f64> = Vec::try_from(&probs).map_err(torch)?;
    let predicted = probabilities
        .iter()
        .enumerate()
        .fold(0, |best, (c, &p)| if p > probabilities[best] { c } else { best }) as i64;
    let size = pixels.size();
    let (rows, columns) = (size[size.len() - 2] as usize, size[size.len() - 1] as usize);
    let image: Vec<f32> =
        Vec::try_from(pixels.f_to_kind(Kind::Float).and_then(|p| p.f_reshape([-1])).map_err(torch)?)
            .map_err(torch)?;
    Ok(PredictReport {
        pixels: image,
        size: (rows, columns),
        weights: path.to_path_buf(),
        source,
        label,
        predicted,
        probabilities,
        class_names: names,
        label_name,
        data_match,
        inverted,
        warnings,
    })
}

/// What `predict` classifies, made ready: the weights, the image's pixels and the normalization
/// to apply, and what is known about the image.
struct Input {
    loaded: Loaded,
    pixels: Tensor,
    norm: Normalization,
    label: Option<i64>,
    source: String,
    names: Option<Vec<String>>,
    label_name: Option<String>,
    data_match: Option<Match>,
    inverted: bool,
    warnings: Vec<String>,
}

/// Test image `index` of `source` (default: the set the weights were trained on), checked
/// against the weights.
fn test_image(
    path: &Path,
    source: Option<&DataSource>,
    index: i64,
    device: Device,
    options: PredictOptions,
    out: &dyn Observer,
) -> Result<Input> {
    let (loaded, data, checked) = load_with_data(path, source, device, options.other_data, out)?;
    let n = data.test.len();
    if !(0..n).contains(&index) {
        return Err(usage(format!(
            "--index {index}: the test split of {} has images 0 to {}",
            data.name,
            n - 1
        )));
    }
    let norm = normalization(&loaded, &data, out)?;
    // In range (checked just above), on the CPU: `get` and `int64_value` cannot fail.
    let image = data.test.images.get(index).unsqueeze(0);
    let label = data.test.labels.int64_value(&[index]);
    // The label is the data's class: named by the data, whatever the weights call theirs.
    Ok(Input {
        loaded,
        pixels: image,
        norm,
        label: Some(label),
        source: format!("test image {index} of {}", data.name),
        names: checked.names,
        label_name: data.class_names.as_ref().and_then(|n| n.get(label as usize)).cloned(),
        data_match: Some(checked.matched),
        inverted: false,
        warnings: Vec::new(),
    })
}

/// A picture file, the size the network takes, inverted to light on dark where it is dark on
/// light (unless `--no-invert`), warned about where it looks nothing like the training images.
fn image_file(
    path: &Path,
    file: &Path,
    device: Device,
    options: PredictOptions,
    out: &dyn Observer,
) -> Result<Input> {
    let mut warnings = Vec::new();
    let loaded = weights::load(path, device)?;
    let img = image::read(file)?;
    // The shape the network was trained on: recorded in the weights (nnopt ≥ 0.1 files),
    // else the square with as many pixels. A 56×14 image has 784 pixels too, but its
    // rows are not a 28×28 image's rows: classifying it would answer the wrong question.
    let inputs = loaded.widths[0];
    let side = (inputs as f64).sqrt().round() as i64;
    let dim = |key: &str| loaded.metadata.get(key).and_then(|v| v.parse::<i64>().ok());
    let (height, width) = match (dim("image_height"), dim("image_width")) {
        (Some(h), Some(w)) => (h, w),
        _ => (side, side),
    };
    ensure!(
        img.height as i64 == height && img.width as i64 == width,
        "{}: the image is {}×{} (width×height) but the network takes {width}×{height} images ({inputs} pixels)",
        file.display(),
        img.width,
        img.height,
    );
    let Some(norm) = loaded.normalization else {
        return Err(usage(format!(
            "{}: records no input normalization; predict on a data set image with --index N --data DIR instead",
            path.display()
        )));
    };
    let (img, was_inverted) = image::as_model_input(img, options.no_invert);
    if was_inverted {
        out.note(&format!(
            "note: {} is dark on a light background; inverted to light on dark, as the training images \
             are (--no-invert keeps it as it is)",
            file.display()
        ));
    }
    if let Some(why) = loaded.image_ranges.and_then(|ranges| unlike_training(&img, ranges)) {
        let warning = format!("{}: {why}: the prediction may mean little", file.display());
        out.warn(&warning);
        warnings.push(warning);
    }
    let pixels = Tensor::from_slice(&img.pixels).reshape([1, img.height as i64, img.width as i64]);
    let names = loaded.class_names.clone();
    Ok(Input {
        loaded,
        pixels,
        norm,
        label: None,
        source: file.display().to_string(),
        names,
        label_name: None,
        data_match: None,
        inverted: was_inverted,
        warnings,
    })
}

/// Why an image looks nothing like the training images, if it does not: its mean brightness
/// or its contrast outside the range of 998 in 1000 training images (recorded in the weights).
pub fn unlike_training(img: &image::GrayImage, ranges: crate::weights::ImageRanges) -> Option<String> {
    let (mean, std) = image::statistics(img);
    let ((m0, m1), (s0, s1)) = ranges;
    if !(m0..=m1).contains(&mean) {
        Some(format!("its mean brightness {mean:.3} is outside the training images' {m0:.3} to {m1:.3}"))
    } else if !(s0..=s1).contains(&std) {
        Some(format!("its contrast (std {std:.3}) is outside the training images' {s0:.3} to {s1:.3}"))
    } else {
        None
    }
}

/// The text `nnopt predict` prints.
pub fn render_prediction(r: &PredictReport) -> String {
    // A digit's name is its number: printed once, not as "7 (7)".
    let name = |c: i64| {
        let name = r.class_names.as_ref().and_then(|n| n.get(c as usize));
        name.filter(|s| **s != c.to_string()).map(|s| format!(" ({s})")).unwrap_or_default()
    };
    let label_name = |c: i64| {
        r.label_name.as_ref().filter(|s| **s != c.to_string()).map(|s| format!(" ({s})")).unwrap_or_default()
    };
    let mut text = format!("image     {}\n", r.source);
    if r.inverted {
        text.push_str(
            "(inverted: it was dark ink on a light background; the training images are light on dark)\n",
        );
    }
    if let Some(label) = r.label {
        text.push_str(&format!("label     {label}{}\n", label_name(label)));
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

/// `predict --csv`: the numbers behind `--plot`'s bars, one row per class.
pub fn prediction_csv(r: &PredictReport) -> String {
    let mut csv = String::from("class,name,probability,predicted\n");
    for (c, p) in r.probabilities.iter().enumerate() {
        let name = r.class_names.as_ref().and_then(|n| n.get(c)).cloned().unwrap_or_default();
        csv.push_str(&format!("{c},{name},{p},{}\n", c as i64 == r.predicted));
    }
    csv
}

/// `predict --plot`: the input image beside its probabilities as bars.
pub fn prediction_figure(r: &PredictReport) -> crate::plot::Figure {
    use crate::plot::{Figure, Panel};
    let name =
        |c: usize| r.class_names.as_ref().and_then(|n| n.get(c).cloned()).unwrap_or_else(|| c.to_string());
    let label = r.label.map(|l| format!(", label {}", name(l as usize))).unwrap_or_default();
    Figure {
        width: 1100,
        height: 420,
        columns: 2,
        panels: vec![
            Panel::Images {
                title: format!("input{label}"),
                images: vec![r.pixels.clone()],
                height: r.size.0,
                width: r.size.1,
                columns: 1,
                signed: false,
                captions: Vec::new(),
            },
            Panel::Bars {
                title: format!(
                    "predicted {} (p = {:.3})",
                    name(r.predicted as usize),
                    r.probabilities[r.predicted as usize]
                ),
                labels: (0..r.probabilities.len()).map(name).collect(),
                values: r.probabilities.clone(),
                highlight: Some(r.predicted as usize),
                y_label: "probability".into(),
            },
        ],
    }
}

impl crate::report::Report for PredictReport {
    fn text(&self) -> String {
        render_prediction(self)
    }
    fn csv(&self) -> Option<String> {
        Some(prediction_csv(self))
    }
    fn figure(&self) -> Result<Option<crate::plot::Figure>> {
        Ok(Some(prediction_figure(self)))
    }
}
