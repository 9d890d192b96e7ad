//! The `nnopt` binary: parse, run, report. Everything it computes lives in the library; what
//! only a program does (printing, signals, the panic hook, checking output paths) lives in `cli`.

mod cli;

use std::io::Write;

use clap::Parser;

fn main() {
    cli::process::install_panic_hook();
    let cli = cli::Cli::parse();
    let result = cli::run(cli);
    if let Err(err) = &result {
        // Not eprintln!, which panics on a closed stderr: the exit code still tells.
        let _ = writeln!(std::io::stderr(), "nnopt: {err:#}");
    }
    // A run a signal stopped has kept its work; now it ends as that signal asks.
    cli::signals::die_of_received_signal();
    if let Err(err) = result {
        std::process::exit(nnopt::error::exit_code(&err));
    }
}
