//! What several commands share on the command line: `--graph`, `on|off` flags, `--data`, and
//! the one way every command ends ([`emit`]: `--plot`, `--csv`, then the report on stdout).

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, ValueEnum};
use nnopt::data::DataSource;
use nnopt::report::Report;

use super::output::Output;
use super::paths::Claims;

/// `--graph` and `--graph-dot`, on the commands that build a graph.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Print the whole backward graph (an indented tree read from libtorch, leaves named).
    #[arg(long)]
    pub graph: bool,
    /// Write the backward graph as Graphviz DOT (render with `dot -Tsvg FILE.dot`); also prints
    /// it, as --graph does.
    #[arg(long, value_name = "FILE.dot")]
    pub graph_dot: Option<PathBuf>,
    /// Draw the backward graph as a picture, laid out by nnopt (.png or .svg; no Graphviz
    /// needed); also prints it, as --graph does.
    #[arg(long, value_name = "FILE.png|svg")]
    pub graph_image: Option<PathBuf>,
}

impl GraphArgs {
    /// Whether the report needs the graph, after claiming its output paths up front.
    pub(super) fn wanted(&self, claims: &mut Claims) -> Result<bool> {
        claims.output("--graph-dot", self.graph_dot.as_deref())?;
        claims.picture("--graph-image", self.graph_image.as_deref())?;
        Ok(self.graph || self.graph_dot.is_some() || self.graph_image.is_some())
    }

    /// Writes the DOT file and the picture, where asked.
    pub(super) fn write(&self, graph: Option<&nnopt::graph::Graph>, title: &str, out: &Output) -> Result<()> {
        let Some(graph) = graph else { return Ok(()) };
        if let Some(path) = &self.graph_dot {
            nnopt::graph::write_dot(path, graph)?;
            out.wrote("--graph-dot", path);
        }
        if let Some(path) = &self.graph_image {
            graph.figure(title).save(&nnopt::plot::Target::new("--graph-image", path)?)?;
            out.wrote("--graph-image", path);
        }
        Ok(())
    }
}

/// `--cuda-graphs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

impl OnOff {
    pub(super) fn on(self) -> bool {
        self == OnOff::On
    }
}

/// `--data` when given.
pub(super) fn data_flag(data: Option<String>) -> Result<Option<DataSource>> {
    data.as_deref().map(DataSource::parse).transpose()
}

/// The files a command's result goes to besides stdout (`--csv`, `--plot`), checked before
/// any work starts.
pub(super) struct Files {
    csv: Option<PathBuf>,
    plot: Option<nnopt::plot::Target>,
}

impl Files {
    /// `--csv` and `--plot`, claimed with the command's other files.
    pub(super) fn new(claims: &mut Claims, csv: Option<&Path>, plot: Option<&Path>) -> Result<Self> {
        claims.output("--csv", csv)?;
        Ok(Files { csv: csv.map(Path::to_path_buf), plot: claims.picture("--plot", plot)? })
    }
}

/// Writes `--plot` and `--csv` where asked and prints the report (text, or `--json`): the one
/// way every command ends.
pub(super) fn emit<R: Report>(report: &R, out: &Output, files: &Files) -> Result<()> {
    if let (Some(target), Some(figure)) = (&files.plot, report.figure()?) {
        figure.save(target)?;
        out.wrote("--plot", &target.path);
    }
    if let (Some(path), Some(csv)) = (&files.csv, report.csv()) {
        nnopt::fsutil::write_atomic(path, csv.as_bytes())?;
        out.wrote("--csv", path);
    }
    out.report(report)
}

/// `--data`: shared by train, evaluate and predict.
pub(super) const DATA_HELP: &str =
    "Data: a directory with train-images-idx3-ubyte, train-labels-idx1-ubyte, \
t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (raw or .gz; MNIST, Fashion-MNIST, KMNIST…), \
`fashion` (Debian's dataset-fashion-mnist), or `synthetic` (built-in synthetic digits, \
60000 + 10000; synthetic:TRAIN,TEST for other sizes)";

/// `--cuda-graphs`.
pub(super) const CUDA_GRAPHS_HELP: &str = "Replay each training step as one CUDA graph (captured once per learning \
rate and batch shape; a sweep's population reads its rates from a tensor) instead of launching its ~30 kernels one by one \
[default: on for SGD on CUDA, in a build with CUDA graphs: see nnopt info]";

/// `--data` for evaluate and predict: the weights' own data set when not given.
pub(super) const WEIGHTS_DATA_HELP: &str =
    "The data set to use [default: the one the weights were trained on, \
as recorded in the weights file]: a directory of MNIST-layout IDX files, `fashion`, or `synthetic`";

/// `--code`: the PyTorch and tch programs behind a part's numbers, printed above the run's own
/// output, or the `code` field of its `--json` document. `differs`: the flags this run sets
/// otherwise than the programs do (`--lr 0.3`), said so the numbers are not taken for theirs.
pub(super) fn show_code(
    wanted: bool,
    (listing, seed): (nnopt::code::Listing, u64),
    differs: Vec<String>,
    out: &Output,
) -> Result<()> {
    if !wanted {
        return Ok(());
    }
    let code = listing.code(seed);
    if out.json {
        out.attach("code", &code)?;
        out.attach("code_differs", &differs)
    } else {
        out.raw(nnopt::code::render(&code, &differs).as_bytes())
    }
}

/// `--flag value` for each setting that is not the programs' own.
pub(super) fn differing<T: PartialEq + std::fmt::Display>(settings: &[(&str, T, T)]) -> Vec<String> {
    settings
        .iter()
        .filter(|(_, ours, theirs)| ours != theirs)
        .map(|(flag, ours, _)| format!("{flag} {ours}"))
        .collect()
}

/// `--code`'s help.
pub(super) const CODE_HELP: &str =
    "Also print the code behind these numbers: the PyTorch a learner would write and \
the plain tch a Rust reader would write (examples/), each printing the same numbers";
