//! Using trained weights: `nnopt evaluate` (accuracy and confusion matrix on a test set) and
//! `nnopt predict` (one image's class and probabilities).

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;
use tch::Device;

use crate::data::{self, DataSource, Dataset, Normalization};
use crate::error::{torch, usage};
use crate::metrics::{confusion_table, evaluate as evaluate_net, Evaluation};
use crate::observe::Observer;
use crate::provenance::{self, DataRecord, Match};
use crate::weights::{self, Loaded};

mod predict;

pub use predict::*;

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
    /// The judge's verdict on these test images: chance (the bound `train` and `sweep` use) and
    /// a collapse onto one class; no `--lr` advice, as no training is seen here.
    pub verdict: crate::judge::training::TestVerdict,
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
    let names = checked.names.clone().unwrap_or_else(|| (0..data.classes).map(|c| c.to_string()).collect());
    let verdict =
        crate::judge::training::judge(&[], evaluation.accuracy, &evaluation.confusion_matrix, &names);
    for warning in verdict.warnings(evaluation.accuracy, f64::NAN) {
        out.warn(&warning);
    }
    Ok(EvaluateReport {
        verdict,
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
    let chance = r.verdict.chance.describe();
    format!(
        "weights {} ({})\ndata    {} (test split)\ntest accuracy {:.2}% ({}/{}), test loss {:.4}; {chance}\n\n{}{}",
        r.weights.display(),
        widths.join("-"),
        r.data,
        100.0 * e.accuracy,
        e.correct,
        e.total,
        e.loss,
        confusion_table(&e.confusion_matrix, r.class_names.as_deref()),
        crate::judge::confusions::describe(&r.verdict.confusions, &e.confusion_matrix, r.class_names.as_deref())
    )
}

impl crate::report::Report for EvaluateReport {
    fn text(&self) -> String {
        render_evaluation(self)
    }
}
