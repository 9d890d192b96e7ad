//! The `nnopt` binary: parse, run, report. Everything it computes lives in the library; what
//! only a program does (printing, Ctrl-C, the panic hook, checking output paths) lives in `cli`.

mod cli;

use std::io::Write;

use clap::Parser;

fn main() {
    cli::process::install_panic_hook();
    let cli = cli::Cli::parse();
    if let Err(err) = cli::run(cli) {
        // Not eprintln!, which panics on a closed stderr: the exit code still tells.
        let _ = writeln!(std::io::stderr(), "nnopt: {err:#}");
        std::process::exit(nnopt::error::exit_code(&err));
    }
}
