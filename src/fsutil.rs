//! Files written so that an interrupted write never leaves a broken file behind.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Writes `data` to `path` atomically: a temporary file in the same directory, fsync, rename.
/// Readers see the old file or the new one, never half of one.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let resolved =
        write_target(path).map_err(|why| anyhow::anyhow!("{}: {why}; nothing written", path.display()))?;
    let path = resolved.as_path();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    path.file_name().with_context(|| format!("{}: not a file name", path.display()))?;
    // A short temporary name (the file's own may be as long as names can be), created new: no
    // other writer's, whatever process or machine shares the directory.
    let tmp = dir.join(unique_name("tmp"));
    // The file replaced keeps its permissions (a 0600 file stays private).
    let permissions = std::fs::metadata(path).ok().filter(|m| m.is_file()).map(|m| m.permissions());
    let result = (|| {
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        if let Some(permissions) = permissions {
            file.set_permissions(permissions)?;
        }
        file.write_all(data)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable; not every file system lets a directory be opened.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok::<_, std::io::Error>(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("{}: cannot write", path.display()))
}

/// A hidden file name no other writer uses: this process's id (unique on one machine), the
/// clock's nanoseconds and a count (unique across machines and containers sharing a directory,
/// where process ids repeat), and `what` it is for.
pub fn unique_name(what: &str) -> String {
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!(".nnopt-{}-{nanos:x}-{call}.{what}", std::process::id())
}

/// Where a write to `path` lands: through symbolic links to their target (as a shell's `>`
/// writes through them), so a link is not replaced by a file of its own; a dangling link leads
/// to the file it names. Refused, with why: what a rename must never replace (a FIFO, a device
/// such as `/dev/null`, a terminal), a process's open file (`/dev/stdout` → `/proc/self/fd/1`),
/// and a cycle of links.
pub fn write_target(path: &Path) -> std::result::Result<std::path::PathBuf, String> {
    // The kernel follows every link, /proc's magic ones included, to what is really there.
    if let Ok(meta) = std::fs::metadata(path) {
        if !meta.is_file() && !meta.is_dir() {
            return Err(
                "exists and is not a regular file (a FIFO, a device, a socket, a terminal); give a file name"
                    .to_string(),
            );
        }
    }
    let mut path = path.to_path_buf();
    for _ in 0..40 {
        if path.starts_with("/proc") {
            return Err(
                "leads into /proc (a process's open file, like /dev/stdout); give a file name".to_string()
            );
        }
        match std::fs::read_link(&path) {
            Ok(target) => {
                let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
                path = base.join(target);
            }
            Err(_) => return Ok(path),
        }
    }
    Err("too many levels of symbolic links".to_string())
}
