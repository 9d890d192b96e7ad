//! A request's command line, read as the command line is: the page sends the flags a command
//! would take (`["--surface", "cosine", "--lr", "0.2"]`), and they go through the command's own
//! clap parser and validation — the same one-line messages as in a terminal — then through the
//! lab's bounds ([`nnopt::lab::limits`]). What the page shows beside each result is that
//! command, to copy.

use anyhow::Result;
use clap::Parser;
use nnopt::error::usage;
use nnopt::lab::limits::{self, Bounded};

use crate::cli::{Cli, Command};

/// Flags that belong to the lab, not to one request: its device and threads, how it prints, and
/// the files it keeps for a run (the live curves, the pictures).
const THE_LAB_S: [&str; 5] = ["--device", "--threads", "--json", "--quiet", "-q"];
/// Files the lab keeps for a run itself (the live curves, the pictures it shows).
const THE_LAB_S_FILES: [&str; 3] = ["--metrics", "--confusion", "--plot"];

/// `args` parsed as `nnopt <command> args…`, refused (a usage error) where they hold one of
/// the lab's own flags, or where the command line would refuse them.
pub fn parse(command: &str, args: &[String]) -> Result<Command> {
    limits::check_args(args)?;
    let is = |flags: &[&str], a: &str| flags.iter().any(|f| a == *f || a.starts_with(&format!("{f}=")));
    if let Some(flag) = args.iter().find(|a| is(&THE_LAB_S, a)) {
        return Err(usage(format!(
            "{flag}: the lab sets it itself (start the lab with `nnopt --device D --threads N lab` for those)"
        )));
    }
    if let Some(flag) = args.iter().find(|a| is(&THE_LAB_S_FILES, a)) {
        return Err(usage(format!(
            "{flag}: the lab draws and keeps these itself; run `nnopt {command} {flag} FILE` for a file"
        )));
    }
    let argv = ["nnopt", command].into_iter().map(String::from).chain(args.iter().cloned());
    let cli = Cli::try_parse_from(argv).map_err(|e| usage(first_line(&e.render().to_string())))?;
    Ok(cli.command)
}

/// clap's message without its usage lines and hint: the line a terminal shows first.
fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or("invalid arguments").trim_start_matches("error: ").to_string()
}

/// The command line a request stands for, to show and to copy: `nnopt train --epochs 3`.
pub fn shown(command: &str, args: &[String]) -> String {
    let quoted: Vec<String> = args
        .iter()
        .map(|a| {
            let plain =
                !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_.,:/=+".contains(c));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect();
    format!("nnopt {command} {}", quoted.join(" ")).trim_end().to_string()
}

/// The lab's bounds on a perceptron, training or sweep run (descent's are the command's own).
pub fn bounded(command: &Command, device: tch::Device) -> Result<()> {
    match command {
        Command::Perceptron(a) => limits::check(
            "perceptron",
            &[
                Bounded { flag: "--epochs", value: a.epochs, max: limits::MAX_PERCEPTRON_EPOCHS },
                Bounded { flag: "--samples", value: a.samples, max: limits::MAX_PERCEPTRON_SAMPLES },
            ],
        ),
        Command::Train(a) => {
            limits::check(
                "train",
                &[Bounded { flag: "--epochs", value: a.epochs, max: limits::MAX_EPOCHS }],
            )?;
            limits::check_hidden("train", "--hidden", &a.hidden)
        }
        Command::Sweep(a) => {
            // The plan the sweep itself will follow: every training it asks for is counted,
            // whatever the strategy, the grid's size or --repeats.
            let config = crate::cli::sweep::config(a, device)?;
            let plan = nnopt::sweep::sampler::plan(&config, &nnopt::train::TrainConfig::default());
            let trainings = plan.rungs.iter().map(|r| r.configurations).sum::<usize>().max(config.trials);
            let longest = plan.rungs.iter().map(|r| r.epochs).max().unwrap_or(config.epochs);
            limits::check(
                "sweep",
                &[
                    Bounded {
                        flag: "trainings (--trials, the grid, --repeats)",
                        value: trainings * config.repeats.max(1),
                        max: limits::MAX_TRIALS,
                    },
                    Bounded { flag: "--epochs", value: longest, max: limits::MAX_EPOCHS },
                    Bounded { flag: "--population", value: config.population, max: limits::MAX_POPULATION },
                ],
            )?;
            config.space.dims.iter().try_for_each(|(_, domain)| match domain {
                nnopt::sweep::Domain::Hidden(choices) => {
                    choices.iter().try_for_each(|widths| limits::check_hidden("sweep", "--hidden", widths))
                }
                _ => Ok(()),
            })
        }
        _ => Ok(()),
    }
}
