//! One trial: a configuration trained for a budget of epochs, and how it ended. A trial that
//! learned nothing is told apart from one that learned: `chance` is decided by the exact
//! binomial bound of [`crate::judge::chance`], not a fixed margin.

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
    /// (see [`crate::judge::chance`]): it learned nothing (yet). Scored as a failure.
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
    /// The accuracy measured, also for a trial at chance (scored as a failure, yet ranked by what
    /// it scored where halving promotes).
    #[serde(skip)]
    pub measured_accuracy: Option<f64>,
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
    fn statuses_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.name()), Some(s));
        }
        assert!(Status::Ok.settled() && !Status::Failed.settled() && !Status::Interrupted.settled());
    }
}
