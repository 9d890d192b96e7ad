//! The end of a sweep: the winner (the best validation accuracy) tested once, saved with
//! `--save-best`, the analysis its design supports, and the report as text, JSON and figure.

use std::fmt::Write as _;
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use super::halving::{Rung, RungPlan};
use super::journal::SweepFiles;
use super::runner::Runner;
use super::sampler::{human_time, Plan};
use super::space::{Config, Space, SEED};
use super::trial::{Status, Trial};
use super::{Strategy, SweepConfig, TpeForm};
use crate::data::{Dataset, Split};
use crate::error::torch;
use crate::judge::effects::{self as analysis, Analysis, Observation};
use crate::judge::noise::SeedNoise;
use crate::metrics::evaluate;
use crate::observe::Observer;

/// The best trial, tested once.
#[derive(Debug, Clone, Serialize)]
pub struct Best {
    pub trial: usize,
    pub params: Config,
    pub epochs: usize,
    pub validation_accuracy: f64,
    /// Null when Ctrl-C stopped its retraining before the test.
    pub test_accuracy: Option<f64>,
}

/// A whole sweep, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct SweepReport {
    pub strategy: Strategy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpe: Option<TpeForm>,
    /// What the strategy did, in one line.
    pub description: String,
    pub seed: u64,
    pub space: Space,
    pub trials: Vec<Trial>,
    /// Successive halving's plan and its rungs as they ran.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plan: Vec<RungPlan>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rungs: Vec<Rung>,
    pub best: Option<Best>,
    /// Evaluations on the test set: 1 (the winner), or 0 when no trial succeeded.
    pub test_evaluations: usize,
    /// Why the sweep ended early (`--max-minutes`, Ctrl-C), if it did.
    pub stopped: Option<String>,
    /// What the trials support saying about each hyperparameter.
    pub analysis: Analysis,
    /// The sweep's wall time, and what the banner estimated for its training.
    pub seconds: f64,
    pub estimated_seconds: f64,
    /// On CUDA: of the trials trained in this process, how many replayed their steps as CUDA
    /// graphs (the rest ran eagerly: Adam, `--cuda-graphs off`, or graphs that could not run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cuda_graphs: Option<GraphedTrials>,
    /// TPE's proposals per batch (`--tpe-batch`), where more than one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpe_batch: Option<usize>,
}

/// [`SweepReport::cuda_graphs`].
#[derive(Debug, Clone, Copy, Serialize)]
pub struct GraphedTrials {
    pub trained: usize,
    pub graphed: usize,
}

/// What [`finish`] needs.
pub struct Finish<'a> {
    pub config: &'a SweepConfig,
    pub test: &'a Split,
    pub split: &'a Dataset,
    pub files: &'a SweepFiles,
    pub runner: Runner<'a>,
    pub rungs: Vec<Rung>,
    pub plan: Plan,
    pub estimate: f64,
    pub started: Instant,
    pub observer: &'a dyn Observer,
}

/// One entry per halving configuration: its last rung's result, `pruned` where it was not
/// promoted from a finished rung; its seconds are every rung's together.
fn collapse_rungs(runs: Vec<Trial>, rungs: &[Rung]) -> Vec<Trial> {
    let mut by_trial: Vec<Trial> = Vec::new();
    for run in runs {
        match by_trial.iter_mut().find(|t| t.trial == run.trial) {
            Some(t) if run.budget_epochs >= t.budget_epochs => {
                *t = Trial { seconds: t.seconds + run.seconds, ..run }
            }
            Some(t) => t.seconds += run.seconds,
            None => by_trial.push(run),
        }
    }
    let pruned = |trial: usize| {
        rungs.iter().any(|r| {
            r.complete
                && !r.promoted.is_empty()
                && r.results.iter().any(|&(t, _)| t == trial)
                && !r.promoted.contains(&trial)
        })
    };
    for t in &mut by_trial {
        if t.status == Status::Ok && pruned(t.trial) {
            t.status = Status::Pruned;
        }
    }
    by_trial.sort_by_key(|t| t.trial);
    by_trial
}

/// The analysis the design supports: main effects for a finished grid, importance otherwise;
/// halving's from its first rung, where every configuration trained alike.
fn analyse(
    config: &SweepConfig,
    plan: &Plan,
    trials: &[Trial],
    rungs: &[Rung],
    stopped: bool,
    validation_images: i64,
    seed: Option<SeedNoise>,
) -> Analysis {
    let first_rung: Vec<(Config, Option<f64>)> = match rungs.first() {
        Some(rung) => rung
            .results
            .iter()
            .filter_map(|&(t, a)| Some((trials.iter().find(|x| x.trial == t)?.config.clone(), a)))
            .collect(),
        // Each configuration once: one drawn again repeats its result, not new evidence.
        None => trials
            .iter()
            .filter(|t| t.status.settled() && t.repeat_of.is_none())
            // A trial at chance is judged by what it measured (about a guess's share), not as 0.
            .map(|t| (t.config.clone(), t.validation_accuracy.or(t.measured_accuracy)))
            .collect(),
    };
    let observations: Vec<Observation> =
        first_rung.iter().map(|(config, accuracy)| Observation { config, accuracy: *accuracy }).collect();
    match config.strategy {
        Strategy::Grid if !stopped && observations.len() == plan.configs.len() => {
            let merged = plan.configs.len() < config.space.grid_size(config.grid_points).0.unwrap_or(0);
            analysis::main_effects(
                &config.space,
                &observations,
                validation_images.max(1) as usize,
                merged,
                seed,
            )
        }
        Strategy::Grid => analysis::importance(&config.space, &observations, "an unfinished grid"),
        Strategy::Random => analysis::importance(&config.space, &observations, "random search"),
        Strategy::Tpe => {
            analysis::importance(&config.space, &observations, "TPE chose where to look from earlier results")
        }
        Strategy::Halving => {
            analysis::importance(&config.space, &observations, "halving's first rung, drawn at random")
        }
    }
}

/// Tests the winner once, saves it, analyses the trials, and writes the report.
pub fn finish(f: Finish) -> Result<SweepReport> {
    let Finish { config, test, split, files, mut runner, rungs, plan, estimate, started, observer } = f;
    let mut finished = std::mem::take(&mut runner.finished);
    if config.strategy == Strategy::Halving {
        finished = collapse_rungs(finished, &rungs);
    }
    // The winner: the best validation accuracy (the longest-trained among equals); pruned
    // trials are out, as in optuna: halving's winner is a survivor of its last rung.
    let winner = finished
        .iter()
        .filter(|t| t.validation_accuracy.is_some() && t.status != Status::Pruned)
        .max_by(|a, b| {
            a.score()
                .total_cmp(&b.score())
                .then(a.budget_epochs.cmp(&b.budget_epochs))
                .then(b.trial.cmp(&a.trial))
        })
        .cloned();
    // A finished grid claims controlled comparisons: the noise they are judged against includes
    // the seed's, measured by training the winner's configuration with two more seeds.
    let finished_grid = config.strategy == Strategy::Grid && runner.stopped.is_none();
    let seed = match (&winner, finished_grid) {
        // Replicates of every configuration (--repeats): their pooled spread.
        (_, true) if config.repeats > 1 => {
            let replicates: Vec<(Vec<String>, Option<f64>)> = finished
                .iter()
                .filter(|t| t.status.settled())
                .map(|t| {
                    let key = t.config.0.iter().filter(|(n, _)| *n != SEED).map(|(_, v)| v.text()).collect();
                    (key, t.validation_accuracy)
                })
                .collect();
            SeedNoise::of_replicates(&replicates)
        }
        (Some(w), true) => runner.seed_replicates(w, 2)?.and_then(SeedNoise::new),
        _ => None,
    };
    // What the trials support saying is settled before the winner retrains (a Ctrl-C then
    // stops the retraining, not the trials).
    let analysis =
        analyse(config, &plan, &finished, &rungs, runner.stopped.is_some(), split.test.len(), seed);
    let mut test_evaluations = 0;
    let best = match winner {
        None => None,
        Some(winner) => {
            let tested = match runner.winner_network(&winner)? {
                Some(trained) => {
                    let x = test.images.f_to_device(runner.device).map_err(torch)?;
                    let y = test.labels.f_to_device(runner.device).map_err(torch)?;
                    let result = evaluate(&trained.net, &x, &y, split.classes, &trained.normalization)?;
                    test_evaluations += 1;
                    if let Some(path) = &files.save_best {
                        let whole = trained.report.epochs.iter().filter(|e| e.complete).count();
                        let save =
                            crate::judge::training::Save::after(&trained.report.stop, whole, path.exists());
                        if save.writes() {
                            crate::weights::save(path, &trained.net, &trained.normalization, split)?;
                        }
                        match save.sentence("--save-best", path) {
                            Some(sentence) => observer.warn(&sentence),
                            None => observer
                                .note(&format!("saved the best trial's weights to {}", path.display())),
                        }
                    }
                    Some(result.accuracy)
                }
                None => {
                    if let Some(path) = &files.save_best {
                        observer.warn(&format!(
                            "a signal stopped the winner's retraining: --save-best {} was not written",
                            path.display()
                        ));
                    }
                    None
                }
            };
            Some(Best {
                trial: winner.trial,
                params: winner.config.clone(),
                epochs: winner.budget_epochs,
                validation_accuracy: winner.score(),
                test_accuracy: tested,
            })
        }
    };
    Ok(SweepReport {
        strategy: config.strategy,
        tpe: (config.strategy == Strategy::Tpe).then_some(config.tpe),
        description: plan.description.clone(),
        seed: config.seed,
        space: config.space.clone(),
        trials: finished,
        plan: if config.strategy == Strategy::Halving { plan.rungs.clone() } else { Vec::new() },
        rungs,
        best,
        test_evaluations,
        stopped: runner.stopped.take(),
        analysis,
        seconds: started.elapsed().as_secs_f64(),
        estimated_seconds: estimate,
        cuda_graphs: runner
            .device
            .is_cuda()
            .then_some(GraphedTrials { trained: runner.trained, graphed: runner.graphed }),
        tpe_batch: (config.strategy == Strategy::Tpe && config.tpe_batch > 1).then_some(config.tpe_batch),
    })
}

/// The report as text: what the strategy did, the trials best first, the winner, the analysis.
pub fn render(report: &SweepReport) -> String {
    let mut text = format!("\n{}\n\n", report.description);
    if let Some(GraphedTrials { trained, graphed }) = report.cuda_graphs.filter(|g| g.trained > 0) {
        text.push_str(&format!(
            "CUDA graphs: {graphed} of the {trained} trials trained replayed their steps as graphs\n\n"
        ));
    }
    let mut sorted: Vec<&Trial> = report.trials.iter().collect();
    sorted.sort_by(|a, b| b.score().total_cmp(&a.score()).then(b.budget_epochs.cmp(&a.budget_epochs)));
    let _ = write!(text, "{:>5}", "trial");
    for n in report.space.names() {
        let _ = write!(text, " {n:>12}");
    }
    let _ = writeln!(text, " {:>6} {:>10} {:>8}  status", "epochs", "validation", "seconds");
    for t in sorted {
        let _ = write!(text, "{:>5}", t.trial);
        for (_, v) in &t.config.0 {
            let _ = write!(text, " {:>12}", v.short());
        }
        let accuracy = t.validation_accuracy.map_or("—".to_string(), |a| format!("{:.2}%", 100.0 * a));
        let _ = writeln!(text, " {:>6} {accuracy:>10} {:>8.1}  {}", t.epochs, t.seconds, t.status.name());
    }
    if let Some(why) = &report.stopped {
        let _ = writeln!(text, "\nstopped early: {why}; the table holds every finished trial");
    }
    match &report.best {
        Some(b) => {
            let tested = b.test_accuracy.map_or("not tested".to_string(), |a| {
                format!("test accuracy {:.2}% (the test set's only use)", 100.0 * a)
            });
            let _ = writeln!(
                text,
                "\nbest: trial {} ({} epoch(s)), validation accuracy {:.2}%, {tested}",
                b.trial,
                b.epochs,
                100.0 * b.validation_accuracy
            );
        }
        None => {
            let mut counts: Vec<(&str, usize)> = Vec::new();
            for t in &report.trials {
                match counts.iter_mut().find(|(n, _)| *n == t.status.name()) {
                    Some((_, c)) => *c += 1,
                    None => counts.push((t.status.name(), 1)),
                }
            }
            let counts: Vec<String> = counts.iter().map(|(n, c)| format!("{c} {n}")).collect();
            if report.trials.is_empty() {
                let _ = writeln!(text, "\nno trial ran");
            } else {
                let _ = writeln!(text, "\nno trial succeeded ({})", counts.join(", "));
            }
        }
    }
    let _ = writeln!(text, "{}", crate::judge::sweep::render(&report.analysis));
    let _ = writeln!(
        text,
        "took {} (estimated {})",
        human_time(report.seconds),
        human_time(report.estimated_seconds)
    );
    text
}
