//! One trial: a configuration trained for a budget of epochs, and how it ended. A trial that
//! learned nothing is told apart from one that learned: `chance` is decided by a binomial
//! bound on the validation set's size, not a fixed margin.

use serde::Serialize;

use super::space::Config;

/// How a trial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Stopped by successive halving after a rung.
    Pruned,
    /// The loss became non-finite: scored as a failure.
    Diverged,
    /// The loss never moved: scored as a failure.
    Stalled,
    /// The ReLUs died: one output for every image. Scored as a failure.
    Dead,
    /// Trained to the end, but not clearly better than always guessing the most common class
    /// (see [`chance_bound`]): it learned nothing (yet). Scored as a failure.
    Chance,
    /// Training failed with an error (e.g. out of memory for a wide network): recorded with the
    /// error, scored as a failure, and the sweep goes on.
    Failed,
    /// Ctrl-C during the trial.
    Interrupted,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Ok,
        Status::Pruned,
        Status::Diverged,
        Status::Stalled,
        Status::Dead,
        Status::Chance,
        Status::Failed,
        Status::Interrupted,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Pruned => "pruned",
            Status::Diverged => "diverged",
            Status::Stalled => "stalled",
            Status::Dead => "dead",
            Status::Chance => "chance",
            Status::Failed => "failed",
            Status::Interrupted => "interrupted",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == text)
    }

    /// Whether the result stands: an interrupted trial is not finished, and a failed one may
    /// succeed another time (memory freed, a different machine). Only settled results are
    /// written to the CSV or taken over by a configuration drawn again.
    pub fn settled(self) -> bool {
        !matches!(self, Status::Interrupted | Status::Failed)
    }
}

/// The accuracy a model that learned nothing stays below, but for a one-in-a-thousand fluke:
/// always guessing the most common class scores `majority` on average, and over `n` validation
/// images its accuracy is binomial, with standard deviation √(p(1 − p)/n). The bound is 3.09
/// standard deviations above (a one-sided tail of 0.001, the normal approximation) plus half
/// an image (the continuity correction).
pub fn chance_bound(majority: f64, n: usize) -> f64 {
    let n = n.max(1) as f64;
    majority + 3.09 * (majority * (1.0 - majority) / n).sqrt() + 0.5 / n
}

/// One finished trial.
#[derive(Debug, Clone, Serialize)]
pub struct Trial {
    pub trial: usize,
    #[serde(rename = "params")]
    pub config: Config,
    /// The epochs it trained: fewer where it diverged, stalled or failed.
    pub epochs: usize,
    /// The budget it was given (halving's rung); with the configuration, what identifies a run.
    pub budget_epochs: usize,
    /// `None` for a trial that failed (scored as 0).
    pub validation_accuracy: Option<f64>,
    pub seconds: f64,
    pub status: Status,
    /// Read back from `--resume`'s CSV instead of trained in this run.
    pub resumed: bool,
    /// The earlier trial of this run with the same configuration, whose result this one takes.
    pub repeat_of: Option<usize>,
}

impl Trial {
    /// What the samplers and the analysis score: the validation accuracy, 0 for a failure.
    pub fn score(&self) -> f64 {
        self.validation_accuracy.unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chance_depends_on_the_validation_set_s_size() {
        // Ten balanced classes, 6000 validation images (Fashion-MNIST's 10 %): 11.17 % is chance.
        let bound = chance_bound(0.1, 6000);
        assert!(bound > 0.1117 && bound < 0.113, "{bound}");
        // 100 images: even 19 % could be luck; 60 000: 10.5 % is not.
        assert!(chance_bound(0.1, 100) > 0.19);
        assert!(chance_bound(0.1, 60_000) < 0.105);
        assert!(chance_bound(1.0, 10) > 1.0, "one class: nothing is better than chance");
    }

    #[test]
    fn statuses_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.name()), Some(s));
        }
        assert!(Status::Ok.settled() && !Status::Failed.settled() && !Status::Interrupted.settled());
    }
}
