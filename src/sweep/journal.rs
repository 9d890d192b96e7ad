//! The journal: one CSV row per finished trial, appended and flushed as each ends, so Ctrl-C or
//! a crash loses none; `--resume` reads it back and runs only what is missing. Its first line
//! names what makes two sweeps' rows interchangeable — only what changes a result for that
//! strategy — and `--resume A --csv B` copies A into B first, so B alone is a complete record.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::space::Space;
use super::trial::{Status, Trial};
use super::SweepConfig;
use crate::error::usage;
use crate::observe::Observer;

/// The CSV's columns after the hyperparameters: `epochs` is what the trial trained, as in the
/// JSON; `budget_epochs` what it was given (with the hyperparameters, what identifies a run).
pub const CSV_TAIL: [&str; 6] =
    ["budget_epochs", "epochs", "validation_accuracy", "seconds", "status", "trial"];

/// A finished run's results, keyed by its hyperparameters' cells and its budget.
pub type Done = HashMap<(Vec<String>, usize), Trial>;

/// The first line of a sweep's CSV: what decides a row's result besides its own values and
/// budget — the data, the seed (initial weights, shuffling, the split), the validation fraction
/// and the device (CUDA and the CPU round differently). The strategy and its settings only
/// choose which configurations run; a row's result is the same whoever asked for it, so any
/// sweep on the same data, seed, split and device may take it over.
pub fn identity(config: &SweepConfig, data: &str, device: tch::Device) -> String {
    format!(
        "# nnopt sweep: seed={} data={data} validation={} device={}",
        config.seed,
        config.validation,
        crate::device::name(device)
    )
}

/// Where a sweep writes besides stdout.
#[derive(Debug, Clone, Default)]
pub struct SweepFiles {
    /// One row per finished trial, appended and flushed as each ends.
    pub csv: Option<PathBuf>,
    /// Trials already in this CSV are not run again.
    pub resume: Option<PathBuf>,
    /// The winner's weights.
    pub save_best: Option<PathBuf>,
}

impl SweepFiles {
    /// The CSV this sweep appends to: `--csv`, else the `--resume` file.
    pub fn csv_path(&self) -> Option<&Path> {
        self.csv.as_deref().or(self.resume.as_deref())
    }

    /// Reads `--resume`'s results, and where `--csv` names another file, starts it as a copy of
    /// the resumed one (written atomically before any training). A torn last row (a crash
    /// mid-write) is dropped from the file that is continued, so the next row starts on a line
    /// of its own; the note says so.
    pub fn open(&self, space: &Space, identity: &str, observer: &dyn Observer) -> Result<Done> {
        let Some(resume) = &self.resume else { return Ok(HashMap::new()) };
        let text = std::fs::read_to_string(resume)
            .with_context(|| format!("--resume {}: cannot read", resume.display()))?;
        let parsed = parse(&text, resume, space, identity)?;
        let kept = &text[..parsed.keep];
        match self.csv.as_ref().filter(|c| *c != resume) {
            Some(csv) => crate::fsutil::write_atomic(csv, kept.as_bytes())?,
            None if kept.len() < text.len() => crate::fsutil::write_atomic(resume, kept.as_bytes())?,
            None => {}
        }
        if let Some(note) = parsed.note {
            observer.warn(&note);
        }
        Ok(parsed.done)
    }
}

fn header(space: &Space) -> String {
    let names: Vec<&str> = space.names().into_iter().chain(CSV_TAIL).collect();
    names.join(",")
}

/// A journal read back: its results, how much of its text stands (the rest was torn by a
/// crash and is dropped), and what to tell the user about it.
#[derive(Debug)]
pub struct Parsed {
    pub done: Done,
    /// Bytes of the text that stand: all of it, or up to the torn last row.
    pub keep: usize,
    pub note: Option<String>,
}

/// The results in a journal's text. Every row nnopt appends is one write ending in a newline,
/// so a crash can tear only the last: text after the last newline, or a last row with fewer
/// cells. That row is dropped (its trial trains again); any other malformed row is refused.
/// A file with no complete heading yet (empty, or cut inside its first two lines) records no
/// trial — if what it holds is the start of this sweep's heading, so no other file is taken.
pub fn parse(text: &str, path: &Path, space: &Space, identity: &str) -> Result<Parsed> {
    let shown = path.display();
    let heading = format!("{identity}\n{}\n", header(space));
    let lines = Lines::of(text);
    let complete = &lines.complete;
    if let Some(&recorded) = complete.first().filter(|&&r| r != identity && !r.starts_with("# nnopt sweep:"))
    {
        return Err(usage(format!(
            "--resume {shown}: not a sweep journal (its first line is {recorded:?}); give the --csv file of the \
             sweep to continue"
        )));
    }
    if let Some(&recorded) = complete.first().filter(|&&r| r != identity) {
        return Err(usage(format!(
            "--resume {shown}: it records {recorded:?}, but this sweep is {identity:?}; resume with the same \
             settings (a file from an older nnopt cannot be resumed: start a new --csv)"
        )));
    }
    if complete.len() < 2 {
        if !heading.starts_with(text) {
            return Err(usage(format!(
                "--resume {shown}: not a sweep journal (it does not start with {identity:?}); give the --csv \
                 file of the sweep to continue"
            )));
        }
        let what =
            if text.is_empty() { "it is empty" } else { "it holds only the start of its first two lines" };
        let note = format!("--resume {shown}: {what}, so it records no finished trial; every trial runs");
        return Ok(Parsed { done: HashMap::new(), keep: 0, note: Some(note) });
    }
    let columns = complete[1];
    if columns != header(space) {
        return Err(usage(format!(
            "--resume {shown}: its columns ({columns}) are not this sweep's ({}); resume with the same search flags",
            header(space)
        )));
    }
    let n = space.dims.len();
    let (rows, torn, keep) = lines.rows(n + CSV_TAIL.len());
    let mut done = HashMap::new();
    for (row, line) in rows.iter().enumerate() {
        let (key, trial) = read_row(line, n).ok_or_else(|| {
            anyhow::anyhow!(
                "--resume {shown}: row {} is malformed: {line:?}; only a last row torn by a crash is dropped \
                 — repair or delete this one",
                row + 3
            )
        })?;
        // The same hyperparameters, budget and seed train the same network: the first row stands.
        done.entry(key).or_insert(trial);
    }
    // Text with no cell separator is no trial (a blank line, zeros a crash left): no trial
    // is trained again for it.
    let note = torn.map(|row| match row.contains(',') {
        false => format!("--resume {shown}: dropped what follows its last row ({row:?}), as a crash leaves it"),
        true => format!(
            "--resume {shown}: its last row is cut short ({row:?}), as a crash leaves it; dropped it, so that \
             trial is trained again"
        ),
    });
    Ok(Parsed { done, keep, note })
}

/// A journal's text as whole lines: every row nnopt appends is one write ending in a newline.
struct Lines<'a> {
    text: &'a str,
    /// Each whole line without its line end (`\n` or `\r\n`), and where it starts: a row's
    /// bytes are dropped exactly.
    complete: Vec<&'a str>,
    starts: Vec<usize>,
    /// The bytes up to the last newline.
    whole_len: usize,
}

impl<'a> Lines<'a> {
    fn of(text: &'a str) -> Self {
        let whole_len = text.rfind('\n').map_or(0, |i| i + 1);
        let (mut complete, mut starts, mut at) = (Vec::new(), Vec::new(), 0);
        for raw in text[..whole_len].split_inclusive('\n') {
            starts.push(at);
            complete.push(raw.trim_end_matches('\n').trim_end_matches('\r'));
            at += raw.len();
        }
        Lines { text, complete, starts, whole_len }
    }

    /// The rows after the two heading lines, less the one a crash tore — the text after the
    /// last newline, else a last row cut short of its `width` cells — with that torn row and
    /// how many bytes stand without it. The one rule for what a crash can leave.
    fn rows(&self, width: usize) -> (&[&'a str], Option<&'a str>, usize) {
        let rows = self.complete.get(2..).unwrap_or_default();
        let tail = &self.text[self.whole_len..];
        match rows.split_last() {
            _ if !tail.is_empty() => (rows, Some(tail), self.whole_len),
            Some((last, before)) if last.split(',').count() < width => {
                (before, Some(*last), self.starts[self.complete.len() - 1])
            }
            _ => (rows, None, self.whole_len),
        }
    }
}

/// A journal as a table, whatever sweep wrote it: what `nnopt lab` shows of a sweep while it
/// runs or after, without the flags that started it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Table {
    /// The first line: the seed, data, validation split and device the rows were measured with.
    pub identity: String,
    /// The hyperparameters' names, then [`CSV_TAIL`].
    pub columns: Vec<String>,
    /// Each finished trial's cells, in the file's order.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// How many of [`Table::columns`] are hyperparameters.
    pub fn hyperparameters(&self) -> usize {
        self.columns.len() - CSV_TAIL.len()
    }

    /// Column `name`'s cell in `row`.
    pub fn cell<'a>(&self, row: &'a [String], name: &str) -> Option<&'a str> {
        self.columns.iter().position(|c| c == name).map(|i| row[i].as_str())
    }
}

/// Reads a journal's text as a [`Table`] (`shown`: how to name the file in an error). What a
/// crash — or a row being written as this reads — can leave is not a row, by [`parse`]'s rule
/// (`Lines::rows`); any other row with the wrong number of cells is an error naming its line.
pub fn table(text: &str, shown: &str) -> Result<Table> {
    let lines = Lines::of(text);
    let identity = lines.complete.first().copied().unwrap_or_default();
    let not_journal = || {
        usage(format!(
            "{shown}: not a sweep journal (a `nnopt sweep --csv` file starts with \"# nnopt sweep:\", then \
             column names ending in {})",
            CSV_TAIL.join(",")
        ))
    };
    if !identity.starts_with("# nnopt sweep:") {
        return Err(not_journal());
    }
    let Some(heading) = lines.complete.get(1) else {
        return Ok(Table { identity: identity.to_string(), columns: Vec::new(), rows: Vec::new() });
    };
    let columns: Vec<String> = heading.split(',').map(str::to_string).collect();
    if columns.len() < CSV_TAIL.len() || !columns.ends_with(&CSV_TAIL.map(String::from)) {
        return Err(not_journal());
    }
    let (whole, _, _) = lines.rows(columns.len());
    let mut rows = Vec::new();
    for (i, line) in whole.iter().enumerate() {
        let cells: Vec<String> = line.split(',').map(str::to_string).collect();
        if cells.len() != columns.len() {
            return Err(usage(format!(
                "{shown}: line {} has {} cells where its second line names {} columns",
                i + 3,
                cells.len(),
                columns.len()
            )));
        }
        rows.push(cells);
    }
    Ok(Table { identity: identity.to_string(), columns, rows })
}

/// One journal row's key and trial, or `None` where it is not what nnopt writes.
fn read_row(line: &str, n: usize) -> Option<((Vec<String>, usize), Trial)> {
    let cells: Vec<&str> = line.split(',').collect();
    if cells.len() != n + CSV_TAIL.len() {
        return None;
    }
    let key: Vec<String> = cells[..n].iter().map(|s| s.to_string()).collect();
    let budget: usize = cells[n].parse().ok()?;
    let epochs: usize = cells[n + 1].parse().ok()?;
    let accuracy = match cells[n + 2] {
        "" => None,
        a => Some(a.parse::<f64>().ok()?),
    };
    let seconds: f64 = cells[n + 3].parse().ok()?;
    let status = Status::parse(cells[n + 4])?;
    let trial: usize = cells[n + 5].parse().ok()?;
    // What nnopt writes: an accuracy in [0, 1] exactly for the trials that trained to the
    // end (a trial at chance records what it measured, which halving ranks it by), a time ≥
    // 0, no interrupted or failed trial (those are run again).
    let sane_accuracy = match (status, accuracy) {
        (Status::Ok | Status::Pruned | Status::Chance, Some(a)) => (0.0..=1.0).contains(&a),
        (Status::Diverged | Status::Stalled | Status::Dead | Status::Chance, None) => true,
        _ => false,
    };
    let sane_epochs = budget >= 1 && epochs <= budget && (status != Status::Ok || epochs == budget);
    if !(sane_accuracy && sane_epochs && seconds.is_finite() && seconds >= 0.0) {
        return None;
    }
    let trial = Trial {
        trial,
        // The configuration itself is rebuilt by the strategy; only its results are taken.
        config: super::space::Config(Vec::new()),
        epochs,
        budget_epochs: budget,
        // At chance, the accuracy is what it measured; as a score, it failed.
        validation_accuracy: accuracy.filter(|_| status != Status::Chance),
        measured_accuracy: accuracy,
        seconds,
        status: if status == Status::Pruned { Status::Ok } else { status },
        resumed: true,
        repeat_of: None,
    };
    Some(((key, budget), trial))
}

/// Appends one trial to the CSV and flushes it, so an interrupted sweep keeps every finished one.
pub fn append(path: &Path, space: &Space, identity: &str, trial: &Trial) -> Result<()> {
    let fresh = std::fs::metadata(path).map(|m| m.len() == 0).unwrap_or(true);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("--csv {}: cannot open", path.display()))?;
    let mut text = String::new();
    if fresh {
        let _ = writeln!(text, "{identity}\n{}", header(space));
    }
    let accuracy =
        trial.validation_accuracy.or(trial.measured_accuracy).map(|a| a.to_string()).unwrap_or_default();
    let _ = writeln!(
        text,
        "{},{},{},{accuracy},{},{},{}",
        trial.config.key().join(","),
        trial.budget_epochs,
        trial.epochs,
        trial.seconds,
        trial.status.name(),
        trial.trial
    );
    file.write_all(text.as_bytes())
        .and_then(|_| file.sync_data())
        .with_context(|| format!("--csv {}: cannot write", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::Strategy;

    fn config(strategy: Strategy, flags: &[(&'static str, &str)]) -> SweepConfig {
        let mut space = Space::default();
        for (n, t) in flags {
            space.add(n, t).unwrap();
        }
        SweepConfig { strategy, space, ..SweepConfig::default() }
    }

    #[test]
    fn identity_holds_only_what_changes_a_row_s_result() {
        let cpu = tch::Device::Cpu;
        let grid =
            |points| SweepConfig { grid_points: points, ..config(Strategy::Grid, &[("lr", "0.01..0.1")]) };
        assert_eq!(
            identity(&grid(3), "d", cpu),
            identity(&grid(5), "d", cpu),
            "which points run is the strategy's"
        );
        let tpe = |startup| SweepConfig {
            startup_trials: startup,
            ..config(Strategy::Tpe, &[("lr", "0.01..0.1")])
        };
        assert_eq!(identity(&tpe(2), "d", cpu), identity(&tpe(8), "d", cpu));
        assert_eq!(
            identity(&tpe(2), "d", cpu),
            identity(&grid(3), "d", cpu),
            "a row is a row, whoever asked"
        );
        let seeded = SweepConfig { seed: 1, ..tpe(2) };
        assert_ne!(identity(&seeded, "d", cpu), identity(&tpe(2), "d", cpu));
        assert_ne!(identity(&tpe(2), "d", cpu), identity(&tpe(2), "other data", cpu));
        let held = SweepConfig { validation: 0.2, ..tpe(2) };
        assert_ne!(identity(&held, "d", cpu), identity(&tpe(2), "d", cpu));
        assert_ne!(
            identity(&tpe(2), "d", tch::Device::Cuda(0)),
            identity(&tpe(2), "d", cpu),
            "devices round differently"
        );
    }

    #[test]
    fn rows_are_read_back_and_bad_ones_refused() {
        let c = config(Strategy::Random, &[("lr", "0.01..0.1")]);
        let id = identity(&c, "d", tch::Device::Cpu);
        let text =
            format!("{id}\nlr,{}\n0.05,2,2,0.8,1.5,ok,1\n0.09,2,1,,0.5,diverged,2\n", CSV_TAIL.join(","));
        let done = parse(&text, Path::new("r.csv"), &c.space, &id).unwrap().done;
        assert_eq!(done.len(), 2);
        let t = &done[&(vec!["0.05".to_string()], 2)];
        assert_eq!((t.validation_accuracy, t.status, t.resumed), (Some(0.8), Status::Ok, true));
        let bad = text.replace("0.8,1.5,ok", "1.8,1.5,ok");
        assert!(parse(&bad, Path::new("r.csv"), &c.space, &id).unwrap_err().to_string().contains("row 3"));
        let other = identity(&SweepConfig { seed: 9, ..c.clone() }, "d", tch::Device::Cpu);
        assert!(parse(&text, Path::new("r.csv"), &c.space, &other)
            .unwrap_err()
            .to_string()
            .contains("--resume"));
    }

    /// A crash tears only the last row; it is dropped (its bytes are not kept), every other
    /// row stands, and a malformed row elsewhere is refused.
    #[test]
    fn a_torn_last_row_is_dropped_and_others_refused() {
        let c = config(Strategy::Random, &[("lr", "0.01..0.1")]);
        let id = identity(&c, "d", tch::Device::Cpu);
        let head = format!("{id}\nlr,{}\n", CSV_TAIL.join(","));
        let rows = "0.05,2,2,0.8,1.5,ok,1\n0.09,2,1,,0.5,diverged,2\n";
        let whole = format!("{head}{rows}");
        let read = |text: &str| parse(text, Path::new("r.csv"), &c.space, &id);
        let ok = read(&whole).unwrap();
        assert_eq!((ok.done.len(), ok.keep, ok.note), (2, whole.len(), None));
        for torn in ["0.07,2,2,0.7", "0.07,2,2,0.7,1.0,ok,3", "0.07,2\n", "0.07\n"] {
            let text = format!("{whole}{torn}");
            let parsed = read(&text).unwrap();
            assert_eq!(parsed.done.len(), 2, "{torn:?}");
            assert_eq!(parsed.keep, whole.len(), "{torn:?}: only the torn row goes");
            assert!(parsed.note.unwrap().contains("dropped"), "{torn:?}");
        }
        // A journal with Windows line ends (edited elsewhere): the torn row's bytes go exactly.
        let crlf = whole.replace('\n', "\r\n");
        let parsed = read(&format!("{crlf}0.07,2\r\n")).unwrap();
        assert_eq!((parsed.done.len(), parsed.keep), (2, crlf.len()));
        // Not the last row: refused, whatever it looks like.
        let middle = format!("{head}0.05,2\n{rows}");
        assert!(read(&middle).unwrap_err().to_string().contains("row 3 is malformed"));
    }

    /// A file with no whole heading records no trial — when what it holds is this sweep's
    /// heading begun; anything else is not a journal.
    #[test]
    fn an_empty_or_half_written_heading_records_no_trial() {
        let c = config(Strategy::Random, &[("lr", "0.01..0.1")]);
        let id = identity(&c, "d", tch::Device::Cpu);
        let read = |text: &str| parse(text, Path::new("r.csv"), &c.space, &id);
        for text in [String::new(), id[..10].to_string(), format!("{id}\n"), format!("{id}\nlr,bud")] {
            let parsed = read(&text).unwrap();
            assert!(parsed.done.is_empty() && parsed.keep == 0, "{text:?}");
            assert!(parsed.note.unwrap().contains("records no finished trial"));
        }
        let heading = format!("{id}\nlr,{}\n", CSV_TAIL.join(","));
        let parsed = read(&heading).unwrap();
        assert!(parsed.done.is_empty() && parsed.keep == heading.len() && parsed.note.is_none());
        assert!(read("some notes").unwrap_err().to_string().contains("not a sweep journal"));
        assert!(read("some notes\nmore\n").unwrap_err().to_string().contains("--resume"));
    }
}
