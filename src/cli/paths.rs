//! Every file a command reads or writes, checked before any work starts: a long run must not
//! fail only at the end, when it writes, and must not write one of its outputs over another or
//! over what it reads. [`Claims`] resolves each path once — through symbolic links, `./` and
//! `..`, hard links by their inode — and refuses a file named twice, naming both flags.
//! (Writing itself is the library's, atomic: [`nnopt::fsutil::write_atomic`].)

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::Result;
use nnopt::error::usage;
use nnopt::plot::Target;

/// Refuses an output path whose directory does not exist or that names a directory, so a long
/// run does not fail only at the end when it writes.
fn ensure_writable(flag: &str, path: &Path) -> Result<()> {
    // `p.png/` and `p.png/.` name a directory that is not there (Rust's `Path` drops the
    // trailing `/` and `.`, the kernel does not): every write to it would fail, late.
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str());
    let last = bytes.rsplit(|&b| b == b'/').next().unwrap_or_default();
    if matches!(last, b"" | b"." | b"..") {
        return Err(usage(format!("{flag} {}: names a directory; give a file name", path.display())));
    }
    // The longest name a Linux file system takes (NAME_MAX).
    if last.len() > 255 {
        return Err(usage(format!(
            "{flag} {}: the file name is {} bytes, more than the 255 a file system takes; give a shorter one",
            path.display(),
            last.len()
        )));
    }
    let resolved = nnopt::fsutil::write_target(path)
        .map_err(|why| usage(format!("{flag} {}: {why}", path.display())))?;
    let path = resolved.as_path();
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if dir.exists() && !dir.is_dir() {
        return Err(usage(format!(
            "{flag} {}: {} is a file, not a directory",
            path.display(),
            dir.display()
        )));
    }
    if !dir.is_dir() {
        return Err(usage(format!(
            "{flag} {}: the directory {} does not exist",
            path.display(),
            dir.display()
        )));
    }
    if path.is_dir() {
        return Err(usage(format!("{flag} {}: is a directory; give a file name", path.display())));
    }
    // The directory must take a new file (write_atomic creates one there and renames it): try,
    // so a read-only file system or a directory without write permission is refused now.
    // A short name of its own (the output's own may already be as long as names can be), never
    // another process's: the same pid in another container on a shared volume may probe too.
    let probe = dir.join(nnopt::fsutil::unique_name("probe"));
    match std::fs::OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(usage(format!(
            "{flag} {}: cannot create a file in {} ({e}); choose a writable directory",
            path.display(),
            dir.display()
        ))),
    }
}

/// The files one command names, each once.
#[derive(Debug, Default)]
pub struct Claims {
    named: Vec<Claim>,
}

#[derive(Debug)]
struct Claim {
    flag: String,
    given: PathBuf,
    file: Resolved,
    output: bool,
}

/// A path as the file system sees it: where it leads, and the inode where the file exists.
#[derive(Debug, PartialEq)]
struct Resolved {
    path: PathBuf,
    inode: Option<(u64, u64)>,
}

impl Resolved {
    fn same(&self, other: &Resolved) -> bool {
        self.path == other.path || (self.inode.is_some() && self.inode == other.inode)
    }
}

/// Where `path` leads: the link's target (as a write follows it), made absolute with its
/// directory's links and `..` resolved, for a file that does not exist yet too.
fn resolve(path: &Path) -> Resolved {
    let target = nnopt::fsutil::write_target(path).unwrap_or_else(|_| path.to_path_buf());
    let inode = std::fs::metadata(&target).ok().map(|m| (m.dev(), m.ino()));
    let path = std::fs::canonicalize(&target).unwrap_or_else(|_| {
        let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        target.file_name().map_or(dir.clone(), |name| dir.join(name))
    });
    Resolved { path, inode }
}

/// Whether two paths lead to one file (`./r.csv` and `r.csv`, a link and its target).
pub fn same_file(a: &Path, b: &Path) -> bool {
    resolve(a).same(&resolve(b))
}

impl Claims {
    /// A file the command reads (`--weights`, `--image`, `--resume`, the data's files).
    pub fn input(&mut self, flag: &str, path: &Path) -> Result<()> {
        self.claim(flag, path, false)
    }

    /// A file the command writes: writable, and named by no other flag.
    pub fn output(&mut self, flag: &str, path: Option<&Path>) -> Result<()> {
        let Some(path) = path else { return Ok(()) };
        ensure_writable(flag, path)?;
        self.claim(flag, path, true)
    }

    /// `--plot`-like flags: a `.png` or `.svg` name that can be written.
    pub fn picture(&mut self, flag: &str, path: Option<&Path>) -> Result<Option<Target>> {
        let Some(path) = path else { return Ok(None) };
        let target = Target::new(flag, path)?;
        self.output(flag, Some(path))?;
        Ok(Some(target))
    }

    fn claim(&mut self, flag: &str, given: &Path, output: bool) -> Result<()> {
        let file = resolve(given);
        // Two inputs may be one file; an output may be neither another output nor an input.
        if let Some(other) = self.named.iter().find(|c| (output || c.output) && c.file.same(&file)) {
            let what = if output && other.output { "two outputs" } else { "an output and an input" };
            return Err(usage(format!(
                "{} {} and {flag} {} name the same file ({}): {what} may not share one; give {} a name of its own",
                other.flag,
                other.given.display(),
                given.display(),
                file.path.display(),
                if output { flag } else { &other.flag },
            )));
        }
        self.named.push(Claim { flag: flag.to_string(), given: given.to_path_buf(), file, output });
        Ok(())
    }
}
