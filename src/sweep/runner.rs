//! The runner: trains trials (each a real `train::train` run, in-process), takes over results
//! from `--resume` and from a configuration drawn again, journals each as it finishes, keeps the
//! best network, and stops on Ctrl-C within a batch in every phase — the timing probe, the
//! trials and the winner's retraining.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Result;
use tch::Device;

use super::journal::{self, Done};
use super::space::Config;
use super::trial::{Status, Trial};
use super::SweepConfig;
use crate::data::{Dataset, Split};
use crate::error::torch;
use crate::observe::{Observer, Quiet};
use crate::train::{self, EpochMetrics, Hooks, Stop, TrainConfig, Trained};

/// Runs trials and keeps what a sweep needs from them.
pub struct Runner<'a> {
    pub config: &'a SweepConfig,
    pub base: TrainConfig,
    pub data: &'a Dataset,
    pub device: Device,
    pub observer: &'a dyn Observer,
    pub stop: &'a AtomicBool,
    pub csv: Option<PathBuf>,
    /// The journal's first line.
    pub identity: String,
    pub resumed: Done,
    pub started: Instant,
    pub finished: Vec<Trial>,
    /// The best trial trained in this process, with its network.
    pub best: Option<(Trial, Trained)>,
    pub stopped: Option<String>,
    /// Trials trained in this process, and how many of them replayed their steps as CUDA
    /// graphs (a trial whose graphs could not run trains eagerly and is not counted).
    pub trained: usize,
    pub graphed: usize,
}

/// `train::train` with no output, stopped by `stop`, counting finished epochs.
fn train_quietly(
    config: &TrainConfig,
    data: &Dataset,
    device: Device,
    stop: &AtomicBool,
    epochs_done: &mut usize,
) -> Result<Trained> {
    let mut on_epoch = |_: &EpochMetrics| {
        *epochs_done += 1;
        Ok(())
    };
    let mut hooks = Hooks { observer: &Quiet, stop, on_epoch: &mut on_epoch };
    train::train(config, data, device, &mut hooks)
}

impl Runner<'_> {
    /// Whether the sweep must stop before another trial.
    pub fn should_stop(&mut self) -> bool {
        let trained_any = !self.finished.is_empty();
        self.must_stop(trained_any)
    }

    /// Whether the sweep must stop before another trial (or population), `trained_any` saying
    /// whether one has run: the budget is read between trials, never before the first, since a
    /// sweep that ran nothing would have no winner to report, however small the budget.
    fn must_stop(&mut self, trained_any: bool) -> bool {
        if self.stopped.is_some() {
            return true;
        }
        if self.stop.load(Ordering::Relaxed) {
            self.stopped = Some("interrupted by a signal".into());
        } else if let Some(m) = self.config.max_minutes {
            if trained_any && self.started.elapsed().as_secs_f64() >= m * 60.0 {
                self.stopped = Some(format!("--max-minutes {m} reached"));
            }
        }
        self.stopped.is_some()
    }

    /// Trains (or takes from `--resume`, or from this run) one configuration for `budget` epochs.
    pub fn run(&mut self, trial: usize, config: &Config, budget: usize) -> Result<Trial> {
        let key = (config.key(), budget);
        if let Some(done) = self.resumed.get(&key) {
            // A configuration drawn again takes the same row: a repeat, not new evidence.
            let earlier = self.finished.iter().find(|t| t.budget_epochs == budget && t.config.key() == key.0);
            let repeat_of = earlier.map(|e| e.repeat_of.unwrap_or(e.trial));
            let done = Trial { trial, config: config.clone(), repeat_of, ..done.clone() };
            self.finish(done.clone(), None)?;
            return Ok(done);
        }
        // Drawn again in this run: the same hyperparameters, budget and seed train the same
        // network, so the result is taken over.
        let again = self
            .finished
            .iter()
            .find(|t| t.budget_epochs == budget && t.config.key() == key.0 && t.status.settled());
        if let Some(earlier) = again {
            let repeat = Trial {
                trial,
                config: config.clone(),
                seconds: 0.0,
                resumed: false,
                repeat_of: Some(earlier.repeat_of.unwrap_or(earlier.trial)),
                ..earlier.clone()
            };
            let note = format!(
                "trial {trial} repeats trial {}'s configuration: its result, not trained again",
                earlier.trial
            );
            self.observer.note(&note);
            self.finish(repeat.clone(), None)?;
            return Ok(repeat);
        }
        let train_config = TrainConfig { epochs: budget, ..config.train_config(&self.base) };
        let started = Instant::now();
        let mut epochs_done = 0;
        let trained = train_quietly(&train_config, self.data, self.device, self.stop, &mut epochs_done);
        let outcome = trained.map_err(|e| (e, epochs_done));
        self.conclude(trial, config, budget, outcome, started.elapsed().as_secs_f64())
    }

    /// Records a trained trial: its status from how the run ended, or `failed` where it could
    /// not train (out of memory, a value the optimizer cannot hold) — said, scored as optuna
    /// scores a failed trial, and the sweep goes on.
    fn conclude(
        &mut self,
        trial: usize,
        config: &Config,
        budget: usize,
        outcome: std::result::Result<Trained, (anyhow::Error, usize)>,
        seconds: f64,
    ) -> Result<Trial> {
        let result = |status, accuracy: Option<f64>, epochs| Trial {
            trial,
            config: config.clone(),
            epochs,
            budget_epochs: budget,
            validation_accuracy: accuracy,
            measured_accuracy: accuracy,
            seconds,
            status,
            resumed: false,
            repeat_of: None,
        };
        let trained = match outcome {
            Ok(trained) => trained,
            Err((e, epochs_done)) => {
                self.observer.warn(&format!("trial {trial} failed: {e:#}"));
                let failed = result(Status::Failed, None, epochs_done);
                self.finish(failed.clone(), None)?;
                return Ok(failed);
            }
        };
        self.trained += 1;
        self.graphed += usize::from(trained.report.config.cuda_graphs);
        let accuracy = trained.report.final_metrics.test_accuracy;
        let status = match trained.report.stop {
            Stop::Finished if self.at_chance(&trained) => Status::Chance,
            Stop::Finished => Status::Ok,
            Stop::Diverged { .. } => Status::Diverged,
            Stop::Stalled { .. } => Status::Stalled,
            Stop::Dead { .. } => Status::Dead,
            Stop::Interrupted { .. } => Status::Interrupted,
        };
        let measured = matches!(status, Status::Ok | Status::Chance).then_some(accuracy);
        let done = Trial {
            validation_accuracy: measured.filter(|_| status == Status::Ok),
            ..result(status, measured, trained.report.epochs.len())
        };
        self.finish(done.clone(), Some(trained))?;
        Ok(done)
    }

    /// Runs several trials of one budget, training together ([`crate::population`]) those that
    /// can share a population (one network shape, batch size and SGD), `--population` at a
    /// time; the rest — and trials taken from `--resume` or repeating an earlier configuration —
    /// go as [`Runner::run`] takes them. Trials are recorded in the order given.
    pub fn run_many(&mut self, trials: &[(usize, Config)], budget: usize) -> Result<Vec<Trial>> {
        // Which trials train here: not resumed, not a repeat of a finished trial or of an
        // earlier one in this batch.
        let mut fresh: Vec<usize> = Vec::new();
        for (i, (_, config)) in trials.iter().enumerate() {
            let key = (config.key(), budget);
            let known = self.resumed.contains_key(&key)
                || self
                    .finished
                    .iter()
                    .any(|t| t.budget_epochs == budget && t.config.key() == key.0 && t.status.settled())
                || fresh.iter().any(|&j| trials[j].1.key() == key.0);
            if !known {
                fresh.push(i);
            }
        }
        let configs: Vec<TrainConfig> = trials
            .iter()
            .map(|(_, c)| TrainConfig { epochs: budget, ..c.train_config(&self.base) })
            .collect();
        // Populations: compatible trials, in order, at most `population` each.
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for &i in &fresh {
            let config = &configs[i];
            let open = groups.iter_mut().find(|g| {
                g.len() < self.config.population && crate::population::compatible(&configs[g[0]], config)
            });
            match open {
                Some(group) => group.push(i),
                None => groups.push(vec![i]),
            }
        }
        let mut trained: Vec<Option<(Trained, f64)>> = (0..trials.len()).map(|_| None).collect();
        let mut trained_any = !self.finished.is_empty();
        for group in groups.iter().filter(|g| g.len() > 1) {
            if self.must_stop(trained_any) {
                break;
            }
            trained_any = true;
            let members: Vec<TrainConfig> = group.iter().map(|&i| configs[i].clone()).collect();
            let started = Instant::now();
            match crate::population::train_population(&members, self.data, self.device, &Quiet, self.stop) {
                Ok(members) => {
                    // Each member's share of the population's time.
                    let share = started.elapsed().as_secs_f64() / group.len() as f64;
                    for (&i, member) in group.iter().zip(members) {
                        trained[i] = Some((member, share));
                    }
                }
                // Too large together (memory): each trains alone below.
                Err(e) => self.observer.note(&format!(
                    "sweep: {} trials could not train together ({e:#}); training them one at a time",
                    group.len()
                )),
            }
        }
        // Trained results are recorded even after a stop (journaled, so --resume keeps them);
        // what has not trained yet is not started.
        let mut done = Vec::new();
        for (i, (trial, config)) in trials.iter().enumerate() {
            let finished = match trained[i].take() {
                Some((member, seconds)) => self.conclude(*trial, config, budget, Ok(member), seconds)?,
                None if self.should_stop() => continue,
                None => self.run(*trial, config, budget)?,
            };
            done.push(finished);
        }
        Ok(done)
    }

    /// Whether a trained network did no better than chance on its validation images.
    fn at_chance(&self, trained: &Trained) -> bool {
        let m = &trained.report.final_metrics;
        crate::judge::chance::ChanceBound::of_confusion(&m.confusion_matrix).at_chance(m.test_accuracy)
    }

    /// Records a finished trial: journal row, progress line, best so far.
    fn finish(&mut self, trial: Trial, trained: Option<Trained>) -> Result<()> {
        // Only settled results are journaled, so --resume runs the others again.
        if !trial.resumed && trial.status.settled() {
            if let Some(path) = &self.csv {
                journal::append(path, &self.config.space, &self.identity, &trial)?;
            }
        }
        self.observer.advance();
        let accuracy = trial.validation_accuracy.map_or("—".to_string(), |a| format!("{:.2}%", 100.0 * a));
        let from = if trial.resumed { " (from --resume)" } else { "" };
        let line = format!(
            "trial {:>3}  {}  {} epoch(s)  validation {accuracy}  {:.1} s  {}{from}",
            trial.trial,
            trial.config.describe(),
            trial.epochs,
            trial.seconds,
            trial.status.name()
        );
        self.observer.line(&line);
        if trial.status == Status::Interrupted {
            self.stopped = Some("interrupted by a signal".into());
        }
        let better = self.best.as_ref().is_none_or(|(b, _)| {
            trial.score() > b.score() || (trial.score() == b.score() && trial.budget_epochs > b.budget_epochs)
        });
        if let (Some(trained), true) = (trained, better && trial.validation_accuracy.is_some()) {
            self.best = Some((trial.clone(), trained));
        }
        self.finished.push(trial);
        Ok(())
    }

    /// The winner's network: kept from this run, or trained again by its seed when its result
    /// came from `--resume` or from the first rung of halving (alone: a winner first trained in
    /// a population agrees with it to float rounding, not bit for bit). `None` when
    /// Ctrl-C stopped the retraining.
    pub fn winner_network(&mut self, winner: &Trial) -> Result<Option<Trained>> {
        if let Some((t, _)) = &self.best {
            if t.trial == winner.trial && t.budget_epochs == winner.budget_epochs {
                return Ok(self.best.take().map(|(_, trained)| trained));
            }
        }
        let config = TrainConfig { epochs: winner.budget_epochs, ..winner.config.train_config(&self.base) };
        let trained = train_quietly(&config, self.data, self.device, self.stop, &mut 0)?;
        if matches!(trained.report.stop, Stop::Interrupted { .. }) {
            self.stopped =
                Some("interrupted by a signal while retraining the winner: it was not tested".into());
            return Ok(None);
        }
        Ok(Some(trained))
    }
}

impl Runner<'_> {
    /// The winner's configuration trained again with `more` other seeds (the sweep's seed plus
    /// 1, 2, …) on the same split: its validation accuracies, the winner's own first — the
    /// seed-to-seed noise, measured. `None` where Ctrl-C stopped it or a retraining failed.
    pub fn seed_replicates(&mut self, winner: &Trial, more: u64) -> Result<Option<Vec<f64>>> {
        let Some(own) = winner.validation_accuracy else { return Ok(None) };
        let mut accuracies = vec![own];
        for k in 1..=more {
            let base = winner.config.train_config(&self.base);
            let config =
                TrainConfig { epochs: winner.budget_epochs, seed: base.seed.wrapping_add(k), ..base };
            self.observer.note(&format!(
                "measuring seed noise: trial {}'s configuration again with seed {}",
                winner.trial, config.seed
            ));
            let trained = match train_quietly(&config, self.data, self.device, self.stop, &mut 0) {
                Ok(trained) => trained,
                Err(e) => {
                    let warning = format!(
                        "retraining for seed noise failed ({e:#}): only the binomial noise is counted"
                    );
                    self.observer.warn(&warning);
                    return Ok(None);
                }
            };
            if trained.report.stop != Stop::Finished {
                return Ok(None);
            }
            accuracies.push(trained.report.final_metrics.test_accuracy);
        }
        Ok(Some(accuracies))
    }
}

/// What one trial costs, measured: seconds of preparation (fitting the normalization to the
/// training images, building the network) and per training sample of an epoch (its batches
/// and its share of the per-epoch evaluation of the validation split).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Cost {
    pub per_trial: f64,
    pub per_sample: f64,
}

impl Cost {
    /// The seconds of one trial of `epochs` on `training` images.
    pub fn trial(&self, training: i64, epochs: usize) -> f64 {
        self.per_trial + epochs as f64 * training as f64 * self.per_sample
    }

    /// The mean of several measurements.
    pub fn mean(costs: &[Cost]) -> Cost {
        let n = costs.len().max(1) as f64;
        Cost {
            per_trial: costs.iter().map(|c| c.per_trial).sum::<f64>() / n,
            per_sample: costs.iter().map(|c| c.per_sample).sum::<f64>() / n,
        }
    }
}

/// Times `config`'s network and batch size on `batches` batches: two epochs, the second timed
/// after the first has warmed the allocator and the kernels up, with a validation slice in the
/// same ratio to training as the sweep's; and the normalization fitted to the whole training
/// split, as every trial fits it. Stopped by Ctrl-C like everything else.
pub fn measure(
    data: &Dataset,
    config: &TrainConfig,
    device: Device,
    stop: &AtomicBool,
    batches: i64,
) -> Result<Cost> {
    let n = (batches * config.batch_size).min(data.train.len());
    let part = |split: &Split, len: i64| -> Result<Split> {
        Ok(Split {
            images: split.images.f_narrow(0, 0, len).map_err(torch)?,
            labels: split.labels.f_narrow(0, 0, len).map_err(torch)?,
        })
    };
    let validation = ((data.test.len() as f64 * n as f64 / data.train.len().max(1) as f64).ceil() as i64)
        .clamp(1, data.test.len());
    let probe = Dataset {
        name: data.name.clone(),
        train: part(&data.train, n)?,
        test: part(&data.test, validation)?,
        height: data.height,
        width: data.width,
        classes: data.classes,
        spec: data.spec.clone(),
        class_names: None,
        fingerprint: data.fingerprint,
    };
    let config = TrainConfig { epochs: 2, ..config.clone() };
    let started = Instant::now();
    let trained = train_quietly(&config, &probe, device, stop, &mut 0)?;
    let wall = started.elapsed().as_secs_f64();
    let epochs: Vec<f64> = trained.report.epochs.iter().map(|e| e.seconds).collect();
    let Some(&last) = epochs.last() else { return Ok(Cost::default()) };
    // The probe's time outside its epochs is the fixed part of a trial's preparation; the fit
    // over every training image is timed where it costs what it will.
    let fixed = (wall - epochs.iter().sum::<f64>()).max(0.0);
    let fit_started = Instant::now();
    crate::data::Normalization::fit(&data.train.images)?;
    let fit = fit_started.elapsed().as_secs_f64();
    Ok(Cost { per_trial: fixed + fit, per_sample: last / n as f64 })
}
