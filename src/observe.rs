//! How a long computation reports progress without printing: an [`Observer`] it calls, whose
//! methods all default to doing nothing. The library never writes to stdout or stderr; the
//! `nnopt` binary's progress bars and lines are one implementation, [`Quiet`] another, and a
//! program using the library may bring its own.
//!
//! ```
//! use nnopt::observe::Observer;
//!
//! /// Counts the epochs a training run reports.
//! struct Epochs(std::cell::Cell<usize>);
//!
//! impl Observer for Epochs {
//!     fn line(&self, _text: &str) {
//!         self.0.set(self.0.get() + 1);
//!     }
//! }
//! let seen = Epochs(std::cell::Cell::new(0));
//! seen.line("epoch 1/1 …");
//! assert_eq!(seen.0.get(), 1);
//! ```

/// Receives what a run has to say while it runs.
pub trait Observer {
    /// A loop of `total` steps begins (epochs, batches, trials): `what` names the steps.
    fn start(&self, _what: &str, _total: u64) {}
    /// One step of the current loop is done.
    fn advance(&self) {}
    /// The current loop is over.
    fn finish(&self) {}
    /// One line of the result, as soon as it is known (an epoch's figures, a finished trial).
    fn line(&self, _text: &str) {}
    /// Something worth knowing that is not the result (loading, saving, a note on the input).
    fn note(&self, _text: &str) {}
    /// Something the user must know to trust the result (a dead network, a stalled loss).
    fn warn(&self, _text: &str) {}
}

/// An observer that hears nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Observer for Quiet {}
