//! Error kinds and exit codes, in one place.
//!
//! Every command returns `anyhow::Result`. A [`UsageError`] anywhere in the chain means the
//! user asked for something that cannot be (a flag's value, a device that is not there): exit
//! code 2, like clap's own parse errors. Everything else is a runtime failure: exit code 1.

use std::fmt;

/// A bad flag value or an unavailable resource the user named; exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Builds a usage error (exit code 2) from a full-sentence message naming the flag and the fix.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// Returns early with a usage error when `condition` does not hold.
pub fn ensure_usage(condition: bool, message: impl FnOnce() -> String) -> anyhow::Result<()> {
    if condition {
        Ok(())
    } else {
        Err(usage(message()))
    }
}

/// A learning rate (or any step size) must be a finite number above 0.
pub fn ensure_positive(flag: &str, value: f64) -> anyhow::Result<()> {
    ensure_usage(value.is_finite() && value > 0.0, || {
        format!("{flag} must be a finite number > 0, got {value}")
    })
}

/// The process exit code for a failed command: 2 for usage errors, 1 for everything else.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err.chain().any(|cause| cause.is::<UsageError>()) {
        2
    } else {
        1
    }
}

/// Turns a libtorch error into a one-line message.
///
/// libtorch appends a C++ backtrace ("Exception raised from … frame #0 …") to its messages;
/// users need only the first line.
pub fn torch(err: tch::TchError) -> anyhow::Error {
    let text = err.to_string();
    let first = text.lines().next().unwrap_or("libtorch error").trim();
    anyhow::anyhow!("libtorch: {first}")
}
