//! Using trained weights: `nnopt evaluate` (accuracy and confusion matrix on a test set) and
//! `nnopt predict` (one image's class and probabilities).

use std::path::{Path, PathBuf};

use anyhow::{ensure, Result};
use serde::Serialize;
use tch::{Device, Kind, Tensor};

use crate::data::{self, image, DataSource, Dataset, Normalization};
use crate::error::{torch, usage};
use crate::metrics::{confusion_table, evaluate as evaluate_net, Evaluation};
use crate::observe::Observer;
use crate::provenance::{self, DataRecord, Match};
use crate::weights::{self, Loaded};

/// `nnopt evaluate`'s result.
#[derive(Debug, Clone, Serialize)]
pub struct EvaluateReport {
    pub weights: PathBuf,
    pub data: String,
    pub widths: Vec<i64>,
    #[serde(flatten)]
    pub evaluation: Evaluation,
    /// The weights' class names (the data's only where it is the set they were trained on).
    pub class_names: Option<Vec<String>>,
    /// How the data set relates to what the weights were trained on.
    pub data_match: Match,
}

/// The weights' input normalization, or the data's own when the file does not record one.
fn normalization(loaded: &Loaded, data: &Dataset, out: &dyn Observer) -> Result<Normalization> {
    match loaded.normalization {
        Some(n) => Ok(n),
        None => {
            out.note("note: the weights file records no input normalization; using the training images' mean and std");
            Normalization::fit(&data.train.images)
        }
    }
}

/// The data set to judge the weights on: `--data` when given, else the one the weights file
/// says they were trained on. Judging weights on data they were not made for gives a number
/// that means nothing, so there is no other default.
pub fn data_source(path: &Path, loaded: &Loaded, data: Option<&DataSource>) -> Result<DataSource> {
    if let Some(source) = data {
        return Ok(source.clone());
    }
    let Some(spec) = &loaded.data else {
        return Err(usage(format!(
            "{}: the weights file does not record which data set it was trained on (saved by an older \
             nnopt or another tool); give --data DIR|fashion|synthetic",
            path.display()
        )));
    };
    // The file's own record, not the user's flag: a bad value is the file's fault (exit 1).
    DataSource::parse(spec).map_err(|e| {
        anyhow::anyhow!(
            "{}: records the data set {spec:?}, which does not load ({e:#}); give --data",
            path.display()
        )
    })
}

/// Checks that the network fits the data: input width = pixels, outputs = classes.
fn check_fit(path: &Path, loaded: &Loaded, data: &Dataset) -> Result<()> {
    let inputs = loaded.widths[0];
    if inputs != data.features() {
        return Err(usage(format!(
            "{}: the network takes {inputs} inputs but the images of {} have {}×{} = {} pixels; \
             give the --data it was trained on",
            path.display(),
            data.name,
            data.height,
            data.width,
            data.features()
        )));
    }
    let outputs = loaded.widths[loaded.widths.len() - 1];
    if outputs != data.classes {
        return Err(usage(format!(
            "{}: the network has {outputs} classes but {} has {}; give the --data it was trained on",
            path.display(),
            data.name,
            data.classes
        )));
    }
    Ok(())
}

/// What checking the data against the weights found: the class names to print and the match.
struct Checked {
    names: Option<Vec<String>>,
    matched: Match,
}

/// Loads the weights and the data set to judge them on, and checks that they fit: the same
/// input size and class count, and — from the weights' record of their training data — the
/// same classes (or `other_data`, the user's word that other classes are what they want).
/// Returns the class names to print: always the weights' own, where they have them.
fn load_with_data(
    path: &Path,
    data: Option<&DataSource>,
    device: Device,
    other_data: bool,
    out: &dyn Observer,
) -> Result<(Loaded, Dataset, Checked)> {
    let loaded = weights::load(path, device)?;
    let source = data_source(path, &loaded, data)?;
    let recorded = data.is_none();
    let data = data::load(&source).map_err(|e| {
        if recorded {
            // The file's record failed, not a flag the user gave: name the file, exit 1.
            anyhow::anyhow!(
                "{}: the data set it records ({source}) does not load: {e:#}; give --data",
                path.display()
            )
        } else {
            e
        }
    })?;
    check_fit(path, &loaded, &data)?;
    let theirs = DataRecord::of(&data);
    let trained = loaded.record.as_ref().map_or("an unrecorded data set".to_string(), |r| r.name.clone());
    let matched = provenance::compare(loaded.record.as_ref(), &loaded.class_names, &theirs);
    match matched {
        Match::Same => {}
        Match::SameClasses => out.note(&format!(
            "note: {} was trained on {trained}; {} has the same classes ({}) but other images",
            path.display(),
            data.name,
            provenance::names_preview(&data.class_names)
        )),
        Match::OtherClasses if !other_data => {
            return Err(usage(format!(
                "{}: trained on {trained} ({}), but --data {} has other classes ({}); give the data it was \
                 trained on, or add --other-data to run it anyway",
                path.display(),
                provenance::names_preview(&loaded.class_names),
                data.name,
                provenance::names_preview(&data.class_names)
            )))
        }
        Match::OtherClasses => out.note(&format!(
            "note: --other-data: {} was trained on {trained} ({}) and runs on {} ({}); the classes printed are the weights'",
            path.display(),
            provenance::names_preview(&loaded.class_names),
            data.name,
            provenance::names_preview(&data.class_names)
        )),
        Match::Unknown if loaded.record.is_none() => out.note(&format!(
            "note: {} records no fingerprint of its training data (saved by an older nnopt): \
             nothing checks that {} is what it was trained on",
            path.display(),
            data.name
        )),
        Match::Unknown => out.warn(&format!(
            "{} was trained on {trained} ({}); {} is another data set ({}), so nothing checks that its \
             labels mean the weights' classes",
            path.display(),
            provenance::names_preview(&loaded.class_names),
            data.name,
            provenance::names_preview(&data.class_names)
        )),
    }
    // The weights' own names; the data's only where it is the set they were trained on.
    let names = loaded
        .class_names
        .clone()
        .or_else(|| (matched == Match::Same).then(|| data.class_names.clone()).flatten());
    Ok((loaded, data, Checked { names, matched }))
}

/// Evaluates the weights in `path` on the test split of `data` (default: the set they were
/// trained on). `other_data` runs on data whose classes are not the weights' (see
/// [`crate::provenance`]).
///
/// ```
/// use std::sync::atomic::AtomicBool;
/// use nnopt::data::{load, DataSource};
/// use nnopt::observe::Quiet;
/// use nnopt::train::{train, Hooks, TrainConfig};
///
/// let data = load(&DataSource::Synthetic { train: 600, test: 100 })?;
/// let never = AtomicBool::new(false);
/// let mut hooks = Hooks { observer: &Quiet, stop: &never, on_epoch: &mut |_| Ok(()) };
/// let trained = train(&TrainConfig { epochs: 1, ..Default::default() }, &data, tch::Device::Cpu, &mut hooks)?;
/// let path = std::env::temp_dir().join(format!("nnopt-doc-{}.safetensors", std::process::id()));
/// nnopt::weights::save(&path, &trained.net, &trained.normalization, &data)?;
/// // The same data set it was trained on: recorded in the file, no --data needed.
/// let report = nnopt::classify::evaluate(&path, None, tch::Device::Cpu, false, &Quiet)?;
/// assert_eq!(report.evaluation.total, 100);
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn evaluate(
    path: &Path,
    data: Option<&DataSource>,
    device: Device,
    other_data: bool,
    out: &dyn Observer,
) -> Result<EvaluateReport> {
    let (loaded, data, checked) = load_with_data(path, data, device, other_data, out)?;
    let norm = normalization(&loaded, &data, out)?;
    let evaluation = evaluate_net(
        &loaded.net,
        &data.test.images.f_to_device(device).map_err(torch)?,
        &data.test.labels.f_to_device(device).map_err(torch)?,
        data.classes,
        &norm,
    )?;
    Ok(EvaluateReport {
        weights: path.to_path_buf(),
        data: data.name.clone(),
        widths: loaded.widths.clone(),
        evaluation,
        class_names: checked.names,
        data_match: checked.matched,
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
        confusion_table(&e.confusion_matrix, r.class_names.as_deref())
    )
}

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
    let (mut inverted, mut warnings, mut label_name, mut data_match) = (false, Vec::new(), None, None);
    let (loaded, pixels, norm, label, source, names) = match input {
        PredictInput::Index { source, index } => {
            let (loaded, data, checked) =
                load_with_data(path, source.as_ref(), device, options.other_data, out)?;
            let n = data.test.len();
            if !(0..n).contains(index) {
                return Err(usage(format!(
                    "--index {index}: the test split of {} has images 0 to {}",
                    data.name,
                    n - 1
                )));
            }
            let norm = normalization(&loaded, &data, out)?;
            // In range (checked just above), on the CPU: `get` and `int64_value` cannot fail.
            let image = data.test.images.get(*index).unsqueeze(0);
            let label = data.test.labels.int64_value(&[*index]);
            // The label is the data's class: named by the data, whatever the weights call theirs.
            label_name = data.class_names.as_ref().and_then(|n| n.get(label as usize)).cloned();
            data_match = Some(checked.matched);
            (loaded, image, norm, Some(label), format!("test image {index} of {}", data.name), checked.names)
        }
        PredictInput::Image(file) => {
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
                inverted = true;
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
            (loaded, pixels, norm, None, file.display().to_string(), names)
        }
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

impl crate::report::Report for EvaluateReport {
    fn text(&self) -> String {
        render_evaluation(self)
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
