//! The strategies: grid, random and TPE behind one ask/tell interface (the shape optuna gives
//! its samplers), and successive halving as a scheduler over random draws. [`plan`] fixes what
//! a strategy will run before anything trains — so the banner can count the training runs
//! honestly and estimate their time — and [`Plan::execute`] runs it.

use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;

use anyhow::Result;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tch::Device;

use super::halving::{self, Rung, RungPlan};
use super::journal::Done;
use super::runner::{measure, Cost, Runner};
use super::space::{Config, Space};
use super::tpe::Tpe;
use super::trial::Trial;
use super::{Strategy, SweepConfig};
use crate::data::Dataset;
use crate::observe::Observer;
use crate::train::TrainConfig;

/// A source of configurations that may learn from finished trials.
pub trait Sampler {
    /// The next configuration to train; `None` when there is nothing left (a finished grid).
    fn ask(&mut self, rng: &mut StdRng) -> Result<Option<Config>>;
    /// A finished trial, for samplers that learn from results.
    fn tell(&mut self, _trial: &Trial) -> Result<()> {
        Ok(())
    }
    /// How many of the next asks may train together, given `population`: draws that do not
    /// depend on results, all of them.
    fn batch(&self, population: usize) -> usize {
        population.max(1)
    }
}

/// Every grid point, in order.
pub struct GridSampler(VecDeque<Config>);

impl Sampler for GridSampler {
    fn ask(&mut self, _: &mut StdRng) -> Result<Option<Config>> {
        Ok(self.0.pop_front())
    }
}

/// Uniform draws (log-uniform for `:log` ranges), with replacement.
pub struct RandomSampler {
    pub space: Space,
    pub base: TrainConfig,
}

impl Sampler for RandomSampler {
    fn ask(&mut self, rng: &mut StdRng) -> Result<Option<Config>> {
        Ok(Some(self.space.sample(rng, &self.base)))
    }
}

/// Random draws for the start-up trials, then TPE.
pub struct TpeSampler {
    random: RandomSampler,
    tpe: Tpe,
    startup: usize,
    asked: usize,
}

impl Sampler for TpeSampler {
    fn ask(&mut self, rng: &mut StdRng) -> Result<Option<Config>> {
        self.asked += 1;
        if self.asked <= self.startup {
            self.random.ask(rng)
        } else {
            self.tpe.ask(rng).map(Some)
        }
    }

    fn tell(&mut self, trial: &Trial) -> Result<()> {
        self.tpe.tell(&trial.config, trial.validation_accuracy)
    }

    /// `tpe_batch` proposals at a time (the constant liar), and never a batch that mixes the
    /// random start-up trials with TPE's: those are proposed only once the start-up is told.
    fn batch(&self, tpe_batch: usize) -> usize {
        let batch = self.tpe.batch(tpe_batch);
        if self.asked < self.startup {
            batch.min(self.startup - self.asked)
        } else {
            batch
        }
    }
}

/// What a strategy will run, fixed before the first trial.
pub struct Plan {
    pub strategy: Strategy,
    /// Grid: every point; random: the draws (repeats included); halving: the distinct first
    /// rung. TPE asks as it goes.
    pub configs: Vec<Config>,
    /// Halving's rungs; one rung of every trial for the others.
    pub rungs: Vec<RungPlan>,
    /// Training runs at most (TPE: each of its trials; the others: exact, repeats aside).
    pub runs: usize,
    /// What the strategy does, in one line of plain words.
    pub description: String,
    rng: StdRng,
    sampler: Box<dyn Sampler>,
}

/// `1×8, 4×2`: configurations × epochs per rung.
fn rungs_text(rungs: &[RungPlan]) -> String {
    let parts: Vec<String> = rungs.iter().map(|r| format!("{}×{}", r.configurations, r.epochs)).collect();
    parts.join(", ")
}

/// Distinct runs among `configs` at `epochs`.
fn distinct_runs(configs: &[Config]) -> usize {
    super::space::distinct(configs.iter().cloned()).len()
}

/// Fixes what `config`'s strategy will run.
pub fn plan(config: &SweepConfig, base: &TrainConfig) -> Plan {
    match config.strategy {
        Strategy::Grid => plan_grid(config, base),
        Strategy::Random => plan_random(config, base),
        Strategy::Tpe => plan_tpe(config, base),
        Strategy::Halving => plan_halving(config, base),
    }
}

/// Grid: every combination of the values given, each range as `grid_points` values.
fn plan_grid(config: &SweepConfig, base: &TrainConfig) -> Plan {
    let rng = StdRng::seed_from_u64(config.seed);
    let (space, epochs) = (&config.space, config.epochs);
    let one_rung = |n| vec![RungPlan { configurations: n, epochs }];
    let points = space.grid(config.grid_points, base);
    let repeats = match config.repeats {
        1 => String::new(),
        r => format!(", each from {r} seeds (--repeats)"),
    };
    let ranges = if space.dims.iter().any(|(_, d)| d.is_range()) {
        format!(" (each range as {} values)", config.grid_points)
    } else {
        String::new()
    };
    Plan {
        strategy: config.strategy,
        description: format!(
            "grid: every combination of the values given{ranges}, {} configurations{repeats} of {epochs} epoch(s) — a controlled comparison",
            points.len() / config.repeats.max(1)
        ),
        runs: points.len(),
        rungs: one_rung(points.len()),
        sampler: Box::new(GridSampler(points.clone().into())),
        configs: points,
        rng,
    }
}

/// Random: `trials` configurations drawn from `--seed`; one drawn again reuses its result.
fn plan_random(config: &SweepConfig, base: &TrainConfig) -> Plan {
    let rng = StdRng::seed_from_u64(config.seed);
    let (space, epochs) = (&config.space, config.epochs);
    let random = || RandomSampler { space: space.clone(), base: base.clone() };
    let one_rung = |n| vec![RungPlan { configurations: n, epochs }];
    // Drawn now from a copy of the generator: the sampler draws the same ones again.
    let mut copy = StdRng::seed_from_u64(config.seed);
    let draws: Vec<Config> = (0..config.trials).map(|_| space.sample(&mut copy, base)).collect();
    let distinct = distinct_runs(&draws);
    let repeats = if distinct < draws.len() {
        format!(" ({distinct} distinct: a configuration drawn again reuses its result)")
    } else {
        String::new()
    };
    Plan {
        strategy: config.strategy,
        description: format!(
            "random: {} configurations drawn uniformly (log-uniformly for :log ranges) from --seed {}{repeats}, {epochs} epoch(s) each",
            config.trials, config.seed
        ),
        runs: distinct,
        rungs: one_rung(config.trials),
        configs: draws,
        sampler: Box::new(random()),
        rng,
    }
}

/// TPE: random start-up trials, then each next configuration where good trials are denser.
fn plan_tpe(config: &SweepConfig, base: &TrainConfig) -> Plan {
    let rng = StdRng::seed_from_u64(config.seed);
    let (space, epochs) = (&config.space, config.epochs);
    let random = || RandomSampler { space: space.clone(), base: base.clone() };
    let one_rung = |n| vec![RungPlan { configurations: n, epochs }];
    // A space TPE cannot model is refused by validate(); building it cannot fail after.
    let tpe = Tpe::new(config.tpe, space, base);
    let form = match config.tpe {
        super::TpeForm::Multivariate => "all hyperparameters jointly (optuna 5's default, multivariate)",
        super::TpeForm::Independent => "each hyperparameter on its own (hyperopt's form, independent)",
    };
    let sampler: Box<dyn Sampler> = match tpe {
        Ok(tpe) => Box::new(TpeSampler { random: random(), tpe, startup: config.startup_trials, asked: 0 }),
        Err(_) => Box::new(random()),
    };
    let batch = match config.tpe {
        super::TpeForm::Multivariate if config.tpe_batch > 1 => format!(
            ", {} at a time (those still training count as failures meanwhile, optuna's constant liar)",
            config.tpe_batch
        ),
        _ => String::new(),
    };
    Plan {
        strategy: config.strategy,
        description: format!(
            "TPE: after {} random trials, each next configuration is drawn where good trials (the best 10 %) \
             are denser than poor ones, {form}{batch}; {} trials of {epochs} epoch(s)",
            config.startup_trials.min(config.trials),
            config.trials
        ),
        runs: config.trials,
        rungs: one_rung(config.trials),
        configs: Vec::new(),
        sampler,
        rng,
    }
}

/// Successive halving: distinct configurations in rungs, the better half training again.
fn plan_halving(config: &SweepConfig, base: &TrainConfig) -> Plan {
    let mut rng = StdRng::seed_from_u64(config.seed);
    let (space, epochs) = (&config.space, config.epochs);
    let random = || RandomSampler { space: space.clone(), base: base.clone() };
    let draw = random();
    let configs = halving::distinct(config.trials, || draw.space.sample(&mut rng, &draw.base));
    let rungs = halving::plan(configs.len(), epochs, config.factor);
    let few = if configs.len() < config.trials {
        format!(" (the space holds no more: --trials {} asked for more)", config.trials)
    } else {
        String::new()
    };
    let last = rungs.last().map_or(1, |r| r.configurations);
    let factor = config.factor;
    let multiplying = rungs.windows(2).all(|r| r[1].epochs == factor * r[0].epochs);
    let growth = if multiplying {
        format!("{factor} times the epochs")
    } else {
        format!("{factor} times the epochs, at most --epochs {epochs}")
    };
    let short = if last > 1 {
        format!("; {} rung(s), as scikit-learn plans them, so the best of the last {last} wins", rungs.len())
    } else {
        String::new()
    };
    let description = if rungs.len() == 1 {
        let why = match epochs < factor {
            true => format!("--epochs {epochs} is below --factor {factor}, so no second rung fits"),
            false => format!(
                "{} configuration(s), fewer than --factor {factor}, leave nothing to divide",
                configs.len()
            ),
        };
        format!(
            "successive halving with one rung, as scikit-learn plans it ({why}): {} distinct configurations{few} \
             train {} epoch(s) each and the best wins (a random search)",
            configs.len(),
            rungs[0].epochs
        )
    } else {
        format!(
            "successive halving: {} distinct configurations{few} in rungs of {} (configurations × epochs): \
             the best 1/{factor} of each rung (by validation accuracy) trains again, from scratch, with {growth}{short}",
            configs.len(),
            rungs_text(&rungs)
        )
    };
    Plan {
        strategy: config.strategy,
        description,
        runs: rungs.iter().map(|r| r.configurations).sum(),
        rungs,
        configs,
        sampler: Box::new(draw),
        rng,
    }
}

/// The mean cost of four configurations drawn from the space (with their own generator, so the
/// sweep's draws are untouched), each timed on eight batches.
pub fn probe_cost(
    config: &SweepConfig,
    base: &TrainConfig,
    data: &Dataset,
    device: Device,
    stop: &AtomicBool,
) -> Result<Cost> {
    let mut rng = StdRng::seed_from_u64(config.seed ^ 0x0c05_7ed0);
    let mut costs = Vec::new();
    for _ in 0..4 {
        let c = config.space.sample(&mut rng, base).train_config(base);
        costs.push(measure(data, &c, device, stop, 8)?);
        // A signal stops the probe with the batch it came in, not one batch of each next probe.
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
    }
    Ok(Cost::mean(&costs))
}

impl Plan {
    /// Prints the budget and the time estimate on stderr; returns the estimate in seconds.
    pub fn announce(&mut self, data: &Dataset, resumed: &Done, cost: Cost, observer: &dyn Observer) -> f64 {
        // Runs --resume's file already holds: known in advance for the first rung's
        // configurations (halving's later rungs depend on results).
        let epochs = self.rungs[0].epochs;
        let held = super::space::distinct(self.configs.iter().cloned())
            .iter()
            .filter(|c| resumed.contains_key(&(c.key(), epochs)))
            .count();
        let to_train = self.runs.saturating_sub(held);
        let epochs: usize = match self.strategy {
            Strategy::Halving => self.rungs.iter().map(|r| r.configurations * r.epochs).sum(),
            _ => to_train * self.rungs[0].epochs,
        };
        let estimate =
            to_train as f64 * cost.per_trial + epochs as f64 * data.train.len() as f64 * cost.per_sample;
        // TPE's runs depend on results, and so do halving's later rungs once some are resumed.
        let halving_resumed = self.strategy == Strategy::Halving && !resumed.is_empty();
        let up_to = if self.strategy == Strategy::Tpe || halving_resumed { "up to " } else { "" };
        let resumed_note = if resumed.is_empty() {
            String::new()
        } else {
            format!(
                " ({} result(s) in --resume's file are taken as they are; a winner among them trains once more \
                 to be tested)",
                resumed.len()
            )
        };
        observer.note(&format!(
            "sweep: {}\nsweep: {up_to}{to_train} training run(s){resumed_note}, {epochs} epochs of {} training images; \
             about {} (timed on 4 configurations of the space); {} validation images score them",
            self.description,
            data.train.len(),
            human_time(estimate),
            data.test.len()
        ));
        estimate
    }

    /// Runs the plan; halving's rungs as they ran.
    pub fn execute(&mut self, runner: &mut Runner) -> Result<Vec<Rung>> {
        let epochs = runner.config.epochs;
        if self.strategy != Strategy::Halving {
            // Grid and random draws do not depend on results, so `--population` of them train
            // together; TPE proposes `--tpe-batch` at a time (1: after each result).
            let population = match self.strategy {
                Strategy::Tpe => runner.config.tpe_batch,
                _ => runner.config.population,
            };
            let mut next = 0;
            while next < self.rungs[0].configurations {
                let batch = self.sampler.batch(population);
                let mut asked = Vec::new();
                while asked.len() < batch && next < self.rungs[0].configurations {
                    let Some(c) = self.sampler.ask(&mut self.rng)? else { break };
                    next += 1;
                    asked.push((next, c));
                }
                if asked.is_empty() || runner.should_stop() {
                    break;
                }
                for trial in runner.run_many(&asked, epochs)? {
                    self.sampler.tell(&trial)?;
                }
            }
            return Ok(Vec::new());
        }
        let mut rungs = Vec::new();
        let mut alive: Vec<usize> = (0..self.configs.len()).collect();
        for (r, rung) in self.rungs.iter().enumerate() {
            // A rung's configurations are known before any trains: they train as populations.
            let asked: Vec<(usize, Config)> =
                alive.iter().map(|&i| (i + 1, self.configs[i].clone())).collect();
            let ranked = if runner.should_stop() {
                Vec::new()
            } else {
                runner
                    .run_many(&asked, rung.epochs)?
                    .iter()
                    .map(|t| (t.trial, t.validation_accuracy, t.measured_accuracy))
                    .collect::<Vec<_>>()
            };
            // Ranked by what each measured: a trial at chance keeps its real accuracy.
            let scores: Vec<(usize, f64)> =
                ranked.iter().map(|&(t, _, measured)| (t, measured.unwrap_or(-1.0))).collect();
            let results: Vec<(usize, Option<f64>)> = ranked.iter().map(|&(t, a, _)| (t, a)).collect();
            let complete = runner.stopped.is_none();
            let next = self.rungs.get(r + 1).filter(|_| complete);
            let promoted = next.map_or(Vec::new(), |n| halving::promote(&scores, n.configurations));
            rungs.push(Rung { epochs: rung.epochs, results, promoted: promoted.clone(), complete });
            if !complete {
                break;
            }
            alive = promoted.iter().map(|t| t - 1).collect();
        }
        Ok(rungs)
    }
}

pub fn human_time(seconds: f64) -> String {
    if seconds < 90.0 {
        format!("{seconds:.1} s")
    } else {
        format!("{:.1} min", seconds / 60.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::TpeForm;

    /// TPE's batches never mix the random start-up trials with its own proposals, and the
    /// independent form proposes one at a time; random draws take the whole population.
    #[test]
    fn tpe_batches_stop_at_the_start_up_and_random_draws_take_the_population() {
        let mut space = Space::default();
        space.add("lr", "0.001..1:log").unwrap();
        let base = TrainConfig::default();
        let random = || RandomSampler { space: space.clone(), base: base.clone() };
        let sampler = |form, asked| TpeSampler {
            random: random(),
            tpe: Tpe::new(form, &space, &base).unwrap(),
            startup: 4,
            asked,
        };
        let batches: Vec<usize> =
            [0, 2, 4, 9].iter().map(|&a| sampler(TpeForm::Multivariate, a).batch(8)).collect();
        assert_eq!(batches, [4, 2, 8, 8]);
        assert_eq!(sampler(TpeForm::Independent, 5).batch(8), 1);
        assert_eq!(sampler(TpeForm::Multivariate, 5).batch(1), 1, "--tpe-batch 1: after every result");
        assert_eq!(random().batch(8), 8);
    }
}
