//! The one shape every command's result has: typed data (serde, for `--json`), the text people
//! read, and optionally rows for `--csv` and a figure for `--plot`. The binary handles `--json`,
//! `--csv` and `--plot` once, for every command, through this trait.

use anyhow::Result;
use serde::Serialize;

use crate::plot::Figure;

/// A command's result.
pub trait Report: Serialize {
    /// What the command prints without `--json`.
    fn text(&self) -> String;
    /// The numbers behind the result as CSV, where the command has them (`--csv`).
    fn csv(&self) -> Option<String> {
        None
    }
    /// The result drawn (`--plot`), where the command draws one.
    fn figure(&self) -> Result<Option<Figure>> {
        Ok(None)
    }
}
