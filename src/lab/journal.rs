//! A sweep's journal read for the lab (opened from the page, or followed while a sweep runs):
//! only a regular file, only up to [`MAX_JOURNAL_BYTES`] — a path to `/dev/zero` or a FIFO must
//! not fill the server's memory or hold one of its threads forever.

use std::io::Read;
use std::path::Path;

use anyhow::Result;

use crate::error::usage;
use crate::sweep::journal::{table, Table};

/// A journal's size at most: a row is ~60 bytes, so a million trials.
pub const MAX_JOURNAL_BYTES: u64 = 64 << 20;

/// The journal at `path` as a table; a usage error naming the path where it is missing, not a
/// regular file, larger than [`MAX_JOURNAL_BYTES`] or not a journal.
pub fn read(path: &Path) -> Result<Table> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| usage(format!("{shown}: cannot read ({e})")))?;
    if !meta.is_file() {
        return Err(usage(format!(
            "{shown}: not a regular file (a directory, a FIFO, a device); give a sweep's --csv journal"
        )));
    }
    if meta.len() > MAX_JOURNAL_BYTES {
        return Err(usage(format!(
            "{shown}: {} bytes, more than a journal's {MAX_JOURNAL_BYTES}",
            meta.len()
        )));
    }
    let mut bytes = Vec::new();
    // Bounded again while reading: the file may grow between the two looks.
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_JOURNAL_BYTES).read_to_end(&mut bytes))
        .map_err(|e| usage(format!("{shown}: cannot read ({e})")))?;
    table(&String::from_utf8_lossy(&bytes), &shown.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_regular_journal_is_read() {
        let dir = std::env::temp_dir().join(format!("nnopt-lab-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let journal = dir.join("j.csv");
        std::fs::write(&journal, "# nnopt sweep: seed=0\nlr,budget_epochs,epochs,validation_accuracy,seconds,status,trial\n0.1,1,1,0.5,0.2,ok,0\n").unwrap();
        assert_eq!(read(&journal).unwrap().rows.len(), 1);
        for (path, said) in [
            (Path::new("/dev/zero"), "not a regular file"),
            (dir.as_path(), "not a regular file"),
            (Path::new("/nonexistent/j.csv"), "cannot read"),
        ] {
            let e = read(path).unwrap_err();
            assert!(e.to_string().contains(said), "{path:?}: {e}");
            assert_eq!(crate::error::exit_code(&e), 2);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
