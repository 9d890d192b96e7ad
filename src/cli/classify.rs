//! `nnopt evaluate` and `nnopt predict`: saved weights scored on a test split, or one image classified.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use nnopt::classify::{self, PredictInput};
use nnopt::data::DataSource;
use nnopt::error::usage;

use super::output::Output;
use super::paths::Claims;
use super::shared::WEIGHTS_DATA_HELP;
use super::shared::{data_flag, emit, Files};
use super::Global;

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct EvaluateArgs {
    /// Weights saved by `nnopt train --save`.
    #[arg(long, value_name = "FILE.safetensors")]
    pub weights: PathBuf,
    #[arg(long, help = WEIGHTS_DATA_HELP)]
    pub data: Option<String>,
    /// Run on --data even where its classes are not the weights' (digits weights on garments);
    /// the class names printed are then the weights'.
    #[arg(long)]
    pub other_data: bool,
}

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
#[command(group = clap::ArgGroup::new("input").required(true).args(["index", "image"]))]
pub struct PredictArgs {
    /// Weights saved by `nnopt train --save`.
    #[arg(long, value_name = "FILE.safetensors")]
    pub weights: PathBuf,
    #[arg(long, help = WEIGHTS_DATA_HELP, conflicts_with = "image")]
    pub data: Option<String>,
    /// Which test image of --data to classify.
    #[arg(long, conflicts_with = "image")]
    pub index: Option<i64>,
    /// A PGM or PNG image instead, of the training images' size: colour becomes grey, transparency
    /// its background, and dark ink on light is inverted to match the training images.
    #[arg(long, value_name = "FILE")]
    pub image: Option<PathBuf>,
    /// Keep --image's pixels as they are, even on a light background.
    #[arg(long, requires = "image", conflicts_with = "index")]
    pub no_invert: bool,
    /// Run on --data even where its classes are not the weights' (their names are printed).
    #[arg(long, conflicts_with = "image")]
    pub other_data: bool,
    /// Draw the image beside its class probabilities (.png or .svg).
    #[arg(long, value_name = "FILE.png|svg")]
    pub plot: Option<PathBuf>,
    /// Write the class probabilities as CSV (class, name, probability, predicted).
    #[arg(long, value_name = "FILE.csv")]
    pub csv: Option<PathBuf>,
}

/// `nnopt evaluate`.
pub fn evaluate(args: EvaluateArgs, global: &Global, out: &Output) -> Result<()> {
    let data = data_flag(args.data)?;
    let device = global.device.resolve()?;
    let report = classify::evaluate(&args.weights, data.as_ref(), device, args.other_data, out)?;
    out.report(&report)
}

/// `nnopt predict`.
pub fn predict(args: PredictArgs, global: &Global, out: &Output) -> Result<()> {
    let input = match (args.image, args.index) {
        (Some(image), _) => PredictInput::Image(image),
        (None, Some(index)) => PredictInput::Index { source: data_flag(args.data)?, index },
        (None, None) => return Err(usage("predict needs --index N or --image FILE")),
    };
    let device = global.device.resolve()?;
    let claims = &mut Claims::default();
    claims.input("--weights", &args.weights)?;
    match &input {
        PredictInput::Image(image) => claims.input("--image", image)?,
        PredictInput::Index { source, .. } => {
            // Without --data, the data the weights record is read: its files are inputs too.
            let recorded =
                || nnopt::weights::recorded_data(&args.weights).and_then(|d| DataSource::parse(&d).ok());
            let flag = if source.is_some() { "--data" } else { "the data --weights records" };
            for file in source.clone().or_else(recorded).iter().flat_map(|s| s.files()) {
                claims.input(flag, &file)?;
            }
        }
    }
    let files = Files::new(claims, args.csv.as_deref(), args.plot.as_deref())?;
    let options = classify::PredictOptions { other_data: args.other_data, no_invert: args.no_invert };
    let report = classify::predict(&args.weights, &input, device, options, out)?;
    emit(&report, out, &files)
}
