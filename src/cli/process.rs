//! What only a program may do to its process: install a panic hook (the signal handler is
//! [`super::signals`]). The library installs neither; these are the `nnopt` binary's.

use std::io::Write;

use nnopt::error::{panic_report, panicking_inside_guard};

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
