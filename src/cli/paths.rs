//! Output paths checked before any work starts: a long run must not fail only at the end,
//! when it writes. (Writing itself is the library's, atomic: [`nnopt::fsutil::write_atomic`].)

use std::path::Path;

use anyhow::Result;
use nnopt::error::usage;
use nnopt::plot::Target;

/// Refuses an output path whose directory does not exist or that names a directory, so a long
/// run does not fail only at the end when it writes.
pub fn ensure_writable(flag: &str, path: &Path) -> Result<()> {
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
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let probe = dir.join(format!(".{name}.probe-{}", std::process::id()));
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

/// `--plot`-like flags: a `.png` or `.svg` name that can be written.
pub fn picture(flag: &str, path: Option<&Path>) -> Result<Option<Target>> {
    let Some(path) = path else { return Ok(None) };
    let target = Target::new(flag, path)?;
    ensure_writable(flag, path)?;
    Ok(Some(target))
}

/// Each `(flag, path)` given can be written.
pub fn writable(paths: &[(&str, Option<&Path>)]) -> Result<()> {
    for (flag, path) in paths {
        if let Some(path) = path {
            ensure_writable(flag, path)?;
        }
    }
    Ok(())
}
