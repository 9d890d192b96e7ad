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

/// Rejects a learning rate that float32, in which the networks compute, rounds to 0 (1e-320):
/// every step would be no step.
pub fn ensure_float32_rate(flag: &str, value: f64) -> anyhow::Result<()> {
    ensure_positive(flag, value)?;
    ensure_usage((value as f32) > 0.0, || {
        format!(
            "{flag} {value:e} rounds to 0 in float32, in which the network computes (its smallest positive \
             number is {:.1e}): no step would move a weight; give a larger rate",
            f32::from_bits(1)
        )
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

thread_local! {
    /// Set while [`guard`] runs a tch call that may panic: the panic is turned into an error
    /// there, so the hook must not print it as a bug.
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs a tch call that has no fallible (`f_`) twin — `Optimizer::step`, `zero_grad`,
/// `VarStore::set_device` unwrap libtorch's errors inside tch — and turns its panic (CUDA out
/// of memory, a device assert) into a one-line error naming `what` was being done.
pub fn guard<T>(what: &str, call: impl FnOnce() -> T) -> anyhow::Result<T> {
    GUARDED.with(|g| g.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(call));
    GUARDED.with(|g| g.set(false));
    result.map_err(|payload| anyhow::anyhow!("{what}: libtorch: {}", panic_line(payload.as_ref())))
}

/// Exit code of a panic that escaped: an internal error, i.e. a bug.
pub const EXIT_BUG: i32 = 101;

/// Whether the current thread is inside [`guard`], whose panics are turned into errors: a
/// panic hook stays silent for those.
pub fn panicking_inside_guard() -> bool {
    GUARDED.with(|g| g.get())
}

/// What the panic hook prints: the panic's first line (no C++ backtrace) and where to report it.
pub fn panic_report(payload: &(dyn std::any::Any + Send), place: Option<&str>) -> String {
    let first = panic_line(payload);
    let place = place.map(|p| format!(" at {p}")).unwrap_or_default();
    format!(
        "nnopt: internal error{place}: {first}\nthis is a bug in nnopt, please report it \
         (run with RUST_BACKTRACE=1 for details)"
    )
}

/// The first line of a panic's message (tch's carry libtorch's C++ backtrace after it).
fn panic_line(payload: &(dyn std::any::Any + Send)) -> &str {
    let text = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    let text = text.strip_prefix("called `Result::unwrap()` on an `Err` value: ").unwrap_or(text);
    // `lines().next()` is None only for an empty text, which is then the answer.
    text.lines().next().unwrap_or(text).trim()
}
