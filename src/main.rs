//! The `nnopt` binary: parse, run, report. Everything else lives in the library.

use clap::Parser;

fn main() {
    nnopt::error::install_panic_hook();
    // Before any device query: libtorch sees CUDA only once libtorch_cuda.so is loaded.
    nnopt::cuda::load();
    let cli = nnopt::cli::Cli::parse();
    if let Err(err) = nnopt::cli::run(cli) {
        eprintln!("nnopt: {err:#}");
        std::process::exit(nnopt::error::exit_code(&err));
    }
}
