//! What only a program may do to its process: install a panic hook and a Ctrl-C handler. The
//! library installs neither; these are the `nnopt` binary's.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nnopt::error::{panic_report, panicking_inside_guard, EXIT_INTERRUPTED};

/// Makes an escaped panic one line plus where to report it, instead of a backtrace (and a C++
/// one from libtorch). With `RUST_BACKTRACE` set, Rust's default report is kept for debugging.
pub fn install_panic_hook() {
    // RUST_BACKTRACE=0 means "no backtrace", as it does for Rust itself: the one-line report.
    if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        // A libtorch panic inside `guard` becomes an error, said once, by the caller.
        if panicking_inside_guard() {
            return;
        }
        let place = info.location().map(|l| format!("{}:{}", l.file(), l.line()));
        // Not eprintln!: a panic while panicking (stderr closed) would abort the process.
        let _ = writeln!(std::io::stderr(), "{}", panic_report(info.payload(), place.as_deref()));
    }));
}

/// A second Ctrl-C sooner than this after the first is the same one (debounce).
pub const CTRL_C_DEBOUNCE: Duration = Duration::from_millis(500);

/// A flag Ctrl-C raises: the first asks a run to finish its batch, evaluate and save; a second,
/// half a second or more later, quits at once (exit 130). One handler per process: `train` and
/// `sweep` both use this. `quiet` silences the note the first prints.
pub fn ctrl_c_flag(quiet: bool) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let first = std::sync::Mutex::new(None::<Instant>);
    let _ = ctrlc::set_handler(move || {
        let mut first = first.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match *first {
            // Process managers and `timeout` send SIGINT to a whole group at once: signals
            // microseconds apart are one Ctrl-C, not "again".
            Some(at) if at.elapsed() < CTRL_C_DEBOUNCE => {}
            // At once, as asked: `_exit` runs no atexit handlers or static destructors, which
            // could otherwise race libtorch's threads (and the main thread's own exit, if the
            // first Ctrl-C's run is already shutting down) and end in a crash instead of 130.
            // SAFETY: `_exit` takes an exit status and has no preconditions.
            Some(_) => unsafe { libc::_exit(EXIT_INTERRUPTED) },
            None => {
                *first = Some(Instant::now());
                flag.store(true, Ordering::SeqCst);
                if !quiet {
                    let _ = writeln!(
                        std::io::stderr(),
                        "\nnnopt: stopping after this batch (Ctrl-C again to quit now)"
                    );
                }
            }
        }
    });
    stop
}
