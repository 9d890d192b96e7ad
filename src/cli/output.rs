//! Where output goes — the one way every command talks to its user, on the binary's side (the
//! library prints nothing; it reports through [`nnopt::observe::Observer`], which this
//! implements):
//! - results on stdout: text, or one `--json` document and nothing else ([`Output::report`]);
//!   a long run streams its text result a line at a time (`line`, nothing with `--json`);
//! - notes and warnings on stderr, silenced by `--quiet`; a warning also belongs in the
//!   report's `warnings` list, so `--json` carries it;
//! - progress: one bar per long loop, only when stderr is a terminal and `--quiet` is off;
//!   lines and notes are printed above it.

use std::cell::RefCell;
use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};
use nnopt::observe::Observer;
use nnopt::report::Report;
use serde::Serialize;

/// The output choices every command shares (the global flags), and the progress bar in use.
#[derive(Debug, Default)]
pub struct Output {
    /// Print one JSON document on stdout and nothing else there.
    pub json: bool,
    /// No progress bars, no diagnostics on stderr.
    pub quiet: bool,
    bar: RefCell<Option<ProgressBar>>,
    /// Every warning given, for the `--json` document's `warnings` (where `--quiet` silences
    /// stderr, the document still carries them).
    warned: RefCell<Vec<String>>,
    /// Fields to add to the `--json` document (`--code`'s programs).
    attached: RefCell<Vec<(String, serde_json::Value)>>,
}

impl Output {
    pub fn new(json: bool, quiet: bool) -> Self {
        Output {
            json,
            quiet,
            bar: RefCell::new(None),
            warned: RefCell::new(Vec::new()),
            attached: RefCell::new(Vec::new()),
        }
    }

    /// Prints a command's result: the report as JSON with `--json`, else its text.
    pub fn report<R: Report>(&self, report: &R) -> anyhow::Result<()> {
        self.result(report, |r| r.text())
    }

    /// Prints a result: `value` as JSON with `--json`, else the text `render` makes.
    pub fn result<T: Serialize>(&self, value: &T, render: impl FnOnce(&T) -> String) -> anyhow::Result<()> {
        if !self.json {
            let mut text = render(value);
            if !text.ends_with('\n') {
                text.push('\n');
            }
            return self.raw(text.as_bytes());
        }
        let (warned, attached) = (self.warned.borrow(), self.attached.borrow());
        if !warned.is_empty() || !attached.is_empty() {
            // Warnings said on stderr along the way join the document's own list (each once).
            let mut document = serde_json::to_value(value)?;
            if let Some(fields) = document.as_object_mut() {
                for (key, value) in attached.iter() {
                    fields.insert(key.clone(), value.clone());
                }
                let list = (!warned.is_empty()).then(|| {
                    fields.entry("warnings").or_insert_with(|| serde_json::Value::Array(Vec::new()))
                });
                if let Some(list) = list.and_then(|l| l.as_array_mut()) {
                    for warning in warned.iter() {
                        let warning = serde_json::Value::String(warning.clone());
                        if !list.contains(&warning) {
                            list.push(warning);
                        }
                    }
                }
            }
            return self.document(&document);
        }
        self.document(value)
    }

    /// One JSON document on stdout.
    fn document<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        // Streamed, not built in memory first: a long perceptron history is megabytes of JSON.
        let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
        let written = serde_json::to_writer_pretty(&mut stdout, value)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(stdout))
            .and_then(|()| stdout.flush());
        pipe_closed_is_fine(written)
    }

    /// Adds `key: value` to the `--json` document this command prints.
    pub fn attach<T: Serialize>(&self, key: &str, value: &T) -> anyhow::Result<()> {
        self.attached.borrow_mut().push((key.to_string(), serde_json::to_value(value)?));
        Ok(())
    }

    /// Bytes on stdout as they are (a completion script).
    pub fn raw(&self, bytes: &[u8]) -> anyhow::Result<()> {
        let mut stdout = std::io::stdout().lock();
        pipe_closed_is_fine(stdout.write_all(bytes).and_then(|()| stdout.flush()))
    }

    /// A small text chart of a curve (a loss per epoch) on stdout, only when stdout is a
    /// terminal: never in piped output, never with `--json` or `--quiet`.
    pub fn chart(&self, label: &str, values: &[f64]) {
        if !self.json && !self.quiet && std::io::stdout().is_terminal() && !values.is_empty() {
            // A terminal that went away is no reason to fail a finished run.
            let _ = writeln!(std::io::stdout(), "{}", nnopt::plot::terminal_chart(label, values));
        }
    }

    /// Says where an output went (`wrote FILE`), on stderr unless `--quiet`: a file written
    /// is never a silent side effect.
    pub fn wrote(&self, flag: &str, path: &std::path::Path) {
        self.note(&format!("wrote {} ({flag})", path.display()));
    }

    /// Runs `print` with the progress bar (if any) lifted off the terminal.
    fn above_bar(&self, print: impl FnOnce()) {
        match self.bar.borrow().as_ref() {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }
}

impl Observer for Output {
    /// A progress bar over `total` steps on stderr; hidden when stderr is not a terminal or with
    /// `--quiet`, so logs and pipes never fill with bar redraws.
    fn start(&self, what: &str, total: u64) {
        if self.quiet || !std::io::stderr().is_terminal() {
            return;
        }
        let bar = ProgressBar::new(total);
        let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(what.to_string());
        if let Some(old) = self.bar.replace(Some(bar)) {
            old.finish_and_clear();
        }
    }

    fn advance(&self) {
        if let Some(bar) = self.bar.borrow().as_ref() {
            bar.inc(1);
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    /// One line of a text result, printed as soon as it is known; nothing with `--json`, whose
    /// document carries the same values at the end.
    fn line(&self, text: &str) {
        if !self.json {
            self.above_bar(|| {
                let mut stdout = std::io::stdout().lock();
                // A closed pipe (`| head`) is not worth failing a training run over.
                let _ = writeln!(stdout, "{text}");
                let _ = stdout.flush();
            });
        }
    }

    /// A diagnostic line on stderr, unless `--quiet`.
    fn note(&self, text: &str) {
        if !self.quiet {
            // Not eprintln!, which panics when stderr is a closed pipe (`2>&1 | head -1`).
            self.above_bar(|| {
                let _ = writeln!(std::io::stderr(), "{text}");
            });
        }
    }

    /// A warning on stderr (`nnopt: warning: …`), unless `--quiet`; and in `--json`'s `warnings`.
    fn warn(&self, text: &str) {
        self.warned.borrow_mut().push(text.to_string());
        self.note(&format!("nnopt: warning: {text}"));
    }
}

/// A reader that closed the pipe early (`| head`) took what it wanted: that is not an error.
fn pipe_closed_is_fine(written: std::io::Result<()>) -> anyhow::Result<()> {
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
