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
use super::space::{flag, Config, Domain, Param, Space, SEED};
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

/// `sweep --plot`: validation accuracy against each hyperparameter (log axis for a `:log`
/// range), the best trial ringed; for halving, every configuration's accuracy per rung.
pub fn figure(report: &SweepReport) -> crate::plot::Figure {
    use crate::plot::{Figure, Panel, Series, Style};
    let best = report.best.as_ref().map(|b| b.trial);
    let mut panels = Vec::new();
    for (i, (name, domain)) in report.space.dims.iter().enumerate() {
        // Lists of words (widths, optimizers) go on a category axis: index k is choice k.
        let choices = match domain {
            Domain::Hidden(_) | Domain::Optimizers(_) => domain.values(1),
            _ => Vec::new(),
        };
        let x = |p: &Param| match p {
            Param::Float(v) => *v,
            Param::Int(v) => *v as f64,
            other => choices.iter().position(|c| c == other).map_or(f64::NAN, |k| k as f64),
        };
        let points: Vec<Scored> = report
            .trials
            .iter()
            .map(|t| Scored {
                x: x(&t.config.0[i].1),
                accuracy: t.validation_accuracy,
                epochs: t.epochs,
                best: Some(t.trial) == best,
                interrupted: t.status == Status::Interrupted,
            })
            .collect();
        let log_x = matches!(domain, Domain::Range { log: true, .. });
        panels.push(accuracy_panel(name, choices.iter().map(Param::text).collect(), log_x, &points));
    }
    if let Some(first) = report.rungs.first() {
        let mut series = Vec::new();
        for &(t, _) in &first.results {
            // A failed run has no accuracy: it is left out, not drawn at 0 %.
            let points: Vec<(f64, f64)> = report
                .rungs
                .iter()
                .filter_map(|r| {
                    r.results
                        .iter()
                        .find(|x| x.0 == t)
                        .and_then(|x| x.1)
                        .map(|a| (r.epochs as f64, 100.0 * a))
                })
                .collect();
            series.push(Series::new(format!("trial {t}"), points, Style::LinePoints));
        }
        panels.push(Panel::Chart {
            x_categories: Vec::new(),
            title: "successive halving: accuracy per rung (the best half goes on)".into(),
            x_label: "epochs trained (log scale)".into(),
            y_label: "validation accuracy (%)".into(),
            log_x: true,
            log_y: false,
            series,
            background: Vec::new(),
        });
    }
    Figure::stacked(900, 340, panels)
}

/// [`figure`]'s accuracy panels from a journal alone (`nnopt lab` draws a sweep's trials as they
/// finish, and any journal opened): validation accuracy against each hyperparameter, one series
/// per epoch count, trials with no accuracy at 0 %, the best ringed. The journal does not say
/// which ranges were `:log`: a numeric column spanning 100× or more is drawn on a log axis.
pub fn journal_figure(table: &super::journal::Table) -> crate::plot::Figure {
    let accuracy = |row: &[String]| -> Option<f64> {
        // At chance, the accuracy measured is no score (as `Trial::validation_accuracy`).
        let chance = table.cell(row, "status") == Some(Status::Chance.name());
        table.cell(row, "validation_accuracy")?.parse::<f64>().ok().filter(|_| !chance)
    };
    let epochs = |row: &[String]| table.cell(row, "epochs").and_then(|e| e.parse().ok()).unwrap_or(0);
    let best = table
        .rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some((i, accuracy(r)?)))
        .fold(
            None,
            |b: Option<(usize, f64)>, (i, a)| if b.is_some_and(|(_, x)| x >= a) { b } else { Some((i, a)) },
        )
        .map(|(i, _)| i);
    let panels = (0..table.hyperparameters())
        .map(|c| {
            let numbers: Option<Vec<f64>> = table.rows.iter().map(|r| r[c].parse::<f64>().ok()).collect();
            let mut choices: Vec<String> = Vec::new();
            if numbers.is_none() {
                for r in &table.rows {
                    if !choices.contains(&r[c]) {
                        choices.push(r[c].clone());
                    }
                }
            }
            let log_x = numbers.as_ref().is_some_and(|v| {
                let (lo, hi) = v.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
                lo > 0.0 && hi / lo >= 100.0
            });
            let points: Vec<Scored> = table
                .rows
                .iter()
                .enumerate()
                .map(|(i, r)| Scored {
                    x: match &numbers {
                        Some(v) => v[i],
                        None => choices.iter().position(|v| *v == r[c]).map_or(f64::NAN, |k| k as f64),
                    },
                    accuracy: accuracy(r),
                    epochs: epochs(r),
                    best: Some(i) == best,
                    // A journal holds no interrupted trial: those train again.
                    interrupted: false,
                })
                .collect();
            accuracy_panel(&table.columns[c], choices.clone(), log_x, &points)
        })
        .collect();
    crate::plot::Figure::stacked(900, 340, panels)
}

/// One trial on one hyperparameter's axis, for [`accuracy_panel`].
struct Scored {
    x: f64,
    /// `None`: the trial failed (it diverged, died, stalled or scored at chance).
    accuracy: Option<f64>,
    epochs: usize,
    best: bool,
    /// Stopped by a signal: not a failure, so not drawn at 0 %.
    interrupted: bool,
}

/// Validation accuracy against one hyperparameter, the one picture of [`figure`] and
/// [`journal_figure`]: one series per epoch count (a trial trained 1 epoch is not comparable
/// with one trained 8, and the legend says which is which), trials with no accuracy drawn at
/// 0 %, marked, not left out, the best ringed.
fn accuracy_panel(name: &str, categories: Vec<String>, log_x: bool, points: &[Scored]) -> crate::plot::Panel {
    use crate::plot::{Panel, Series, Style};
    let mut counts: Vec<usize> = points.iter().filter(|p| p.accuracy.is_some()).map(|p| p.epochs).collect();
    counts.sort_unstable();
    counts.dedup();
    let mut series: Vec<Series> = counts
        .iter()
        .map(|&e| {
            let drawn =
                points.iter().filter(|p| p.epochs == e).filter_map(|p| Some((p.x, 100.0 * p.accuracy?)));
            let label = match counts.len() {
                1 => "trials".to_string(),
                _ => format!("trials, {e} epoch(s)"),
            };
            Series::new(label, drawn.collect(), Style::Points)
        })
        .collect();
    let failed: Vec<(f64, f64)> =
        points.iter().filter(|p| p.accuracy.is_none() && !p.interrupted).map(|p| (p.x, 0.0)).collect();
    if !failed.is_empty() {
        series.push(Series::new("trials with no accuracy, drawn at 0 %", failed, Style::Highlight));
    }
    let top = points.iter().filter(|p| p.best).filter_map(|p| Some((p.x, 100.0 * p.accuracy?))).collect();
    series.push(Series::new("best", top, Style::Highlight));
    Panel::Chart {
        x_categories: categories,
        title: format!("validation accuracy vs {}", flag(name)),
        x_label: format!("{}{}", flag(name), if log_x { " (log scale)" } else { "" }),
        y_label: "validation accuracy (%)".into(),
        log_x,
        log_y: false,
        series,
        background: Vec::new(),
    }
}

impl crate::report::Report for SweepReport {
    fn text(&self) -> String {
        render(self)
    }
    /// A sweep where no trial succeeded draws no picture: an empty chart passed off as a result.
    fn figure(&self) -> Result<Option<crate::plot::Figure>> {
        Ok(self.best.is_some().then(|| figure(self)))
    }
}
