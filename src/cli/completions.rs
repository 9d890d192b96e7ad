//! `nnopt completions SHELL`: a shell completion script for the command line.

use anyhow::Result;
use clap::CommandFactory;

use super::output::Output;
use super::Cli;

/// `nnopt completions SHELL`: a script, not a result, so there is no JSON form of it.
pub fn run(shell: clap_complete::Shell, out: &Output) -> Result<()> {
    if out.json {
        return Err(nnopt::error::usage("--json: completions prints a shell script, not JSON; drop --json"));
    }
    // Generated into memory first: clap_complete panics on a failed write (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "nnopt", &mut script);
    out.raw(&script)
}
