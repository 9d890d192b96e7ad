//! Where output goes — the one way every command talks to its user:
//! - results on stdout: text, or one `--json` document and nothing else ([`Output::result`]);
//!   a long run streams its text result a line at a time ([`Output::line`], nothing with `--json`);
//! - notes and warnings on stderr ([`Output::note`], [`Output::warn`]), silenced by `--quiet`;
//!   a warning also belongs in the report's `warnings` list, so `--json` carries it;
//! - progress: one bar per long loop ([`Output::progress`]), only when stderr is a terminal and
//!   `--quiet` is off.

use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// The output choices every command shares (the global flags).
#[derive(Debug, Clone, Copy, Default)]
pub struct Output {
    /// Print one JSON document on stdout and nothing else there.
    pub json: bool,
    /// No progress bars, no diagnostics on stderr.
    pub quiet: bool,
}

impl Output {
    /// Prints a command's result: `value` as JSON with `--json`, else the text `render` makes.
    pub fn result<T: Serialize>(&self, value: &T, render: impl FnOnce(&T) -> String) -> anyhow::Result<()> {
        if !self.json {
            let mut text = render(value);
            if !text.ends_with('\n') {
                text.push('\n');
            }
            return self.raw(text.as_bytes());
        }
        // Streamed, not built in memory first: a long perceptron history is megabytes of JSON.
        let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
        let written = serde_json::to_writer_pretty(&mut stdout, value)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(stdout))
            .and_then(|()| stdout.flush());
        pipe_closed_is_fine(written)
    }

    /// Bytes on stdout as they are (a completion script).
    pub fn raw(&self, bytes: &[u8]) -> anyhow::Result<()> {
        let mut stdout = std::io::stdout().lock();
        pipe_closed_is_fine(stdout.write_all(bytes).and_then(|()| stdout.flush()))
    }

    /// One line of a text result, printed as soon as it is known (an epoch's figures); nothing
    /// with `--json`, whose document carries the same values at the end.
    pub fn line(&self, text: impl AsRef<str>) {
        if !self.json {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`| head`) is not worth failing a training run over.
            let _ = writeln!(stdout, "{}", text.as_ref());
            let _ = stdout.flush();
        }
    }

    /// A small text chart of a curve (a loss per epoch) on stdout, only when stdout is a
    /// terminal: never in piped output, never with `--json` or `--quiet`.
    pub fn chart(&self, label: &str, values: &[f64]) {
        if !self.json && !self.quiet && std::io::stdout().is_terminal() && !values.is_empty() {
            // A terminal that went away is no reason to fail a finished run.
            let _ = writeln!(std::io::stdout(), "{}", crate::plot::terminal_chart(label, values));
        }
    }

    /// A warning on stderr (`nnopt: warning: …`), unless `--quiet`: something the run did that
    /// the user must know to trust its result (a dead unit, a loss that never moved).
    pub fn warn(&self, message: impl AsRef<str>) {
        self.note(format!("nnopt: warning: {}", message.as_ref()));
    }

    /// A diagnostic line on stderr, unless `--quiet`.
    pub fn note(&self, message: impl AsRef<str>) {
        if !self.quiet {
            // Not eprintln!, which panics when stderr is a closed pipe (`2>&1 | head -1`).
            let _ = writeln!(std::io::stderr(), "{}", message.as_ref());
        }
    }

    /// A progress bar over `len` steps on stderr; hidden when stderr is not a terminal or with
    /// `--quiet`, so logs and pipes never fill with bar redraws.
    pub fn progress(&self, len: u64, what: &str) -> ProgressBar {
        if self.quiet || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len);
        let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(what.to_string());
        bar
    }
}

/// A tensor as nested JSON lists with its shape (`[[1.0], [2.0]]` for 2×1), values as f64.
pub fn tensor_json(tensor: &tch::Tensor) -> anyhow::Result<serde_json::Value> {
    let flat = tensor
        .f_detach()
        .and_then(|t| t.f_to_device(tch::Device::Cpu))
        .and_then(|t| t.f_to_kind(tch::Kind::Double))
        .and_then(|t| t.f_reshape([-1]))
        .and_then(|t| Vec::<f64>::try_from(&t))
        .map_err(crate::error::torch)?;
    let shape: Vec<usize> = tensor.size().iter().map(|&d| d as usize).collect();
    Ok(nest(&flat, &shape))
}

fn nest(flat: &[f64], shape: &[usize]) -> serde_json::Value {
    match shape.split_first() {
        None => flat.first().copied().map_or(serde_json::Value::Null, serde_json::Value::from),
        Some((&len, rest)) => {
            let stride: usize = rest.iter().product();
            (0..len).map(|i| nest(&flat[i * stride..(i + 1) * stride], rest)).collect()
        }
    }
}

/// A reader that closed the pipe early (`| head`) took what it wanted: that is not an error.
fn pipe_closed_is_fine(written: std::io::Result<()>) -> anyhow::Result<()> {
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
