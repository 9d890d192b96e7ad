//! The `nnopt` binary: parse, run, report. Everything else lives in the library.

use std::io::Write;

use clap::Parser;

fn main() {
    nnopt::error::install_panic_hook();
    let cli = nnopt::cli::Cli::parse();
    // Before anything touches libtorch (parsing does not): it sees CUDA only once
    // libtorch_cuda.so is loaded, and decides so once per process.
    nnopt::cuda::load();
    if let Err(err) = nnopt::cli::run(cli) {
        // Not eprintln!, which panics on a closed stderr: the exit code still tells.
        let _ = writeln!(std::io::stderr(), "nnopt: {err:#}");
        std::process::exit(nnopt::error::exit_code(&err));
    }
}
