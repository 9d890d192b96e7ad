//! One policy for the signals that ask a program to stop — SIGINT (Ctrl-C), SIGTERM (`kill`,
//! `timeout`, systemd, `docker stop`, Slurm) and SIGHUP (the terminal closed):
//!
//! 1. the first asks the run to stop at the next batch boundary; it evaluates, keeps and says
//!    what was done (`--save`, `--metrics`, the journal);
//! 2. then the program dies of that same signal ([`die_of_received_signal`]): the default
//!    handler is restored and the signal raised again, so the shell sees 130, 143 or 129 and a
//!    `for` loop in bash stops, as it would for any program killed by it;
//! 3. a second signal, half a second or more after the first, quits at once (signals
//!    microseconds apart — a terminal's Ctrl-C reaching a whole process group, `timeout` and
//!    process managers — are one);
//! 4. `tour` runs its parts as child processes: every signal is passed on to the running
//!    part ([`running_child`]), the tour waits for it, and ends as the part ended — never
//!    leaving it running behind.
//!
//! A signal the process inherited as ignored (`nohup`'s SIGHUP) stays ignored. Everything the
//! handler does is async-signal-safe: atomics, `clock_gettime`, `write`, `kill`, `signal`,
//! `raise`.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, Ordering};
use std::time::Duration;

/// The signals that stop a run.
const STOPPING: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// A second signal sooner than this after the first is the same one (debounce).
pub const DEBOUNCE: Duration = Duration::from_millis(500);

/// Raised by the first signal: the run stops at its next batch boundary.
static STOP: AtomicBool = AtomicBool::new(false);
/// The first signal's number (0: none yet).
static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// When the first came (CLOCK_MONOTONIC, in ms; 0: none yet).
static FIRST_AT_MS: AtomicI64 = AtomicI64::new(0);
/// Whether the first signal's note is printed (not with `--quiet`).
static QUIET: AtomicBool = AtomicBool::new(false);
/// The tour's running part (0: none): every signal is passed on to it.
static CHILD: AtomicI32 = AtomicI32::new(0);

/// Installs the handler for SIGINT, SIGTERM and SIGHUP and returns the flag the first raises.
/// `quiet` silences the note it prints. Installing twice is harmless.
pub fn stop_flag(quiet: bool) -> &'static AtomicBool {
    QUIET.store(quiet, Ordering::SeqCst);
    for signal in STOPPING {
        // SAFETY: sigaction with a zeroed struct, an empty mask and a handler that only makes
        // async-signal-safe calls; the old action is read into a struct we own.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_IGN {
                continue; // nohup and friends: ignored on purpose by whoever started us
            }
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            // Interrupted system calls resume (a read of the data, a wait for a child).
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
    &STOP
}

/// The signal that stopped the run, if one did.
pub fn received() -> Option<libc::c_int> {
    Some(RECEIVED.load(Ordering::SeqCst)).filter(|&s| s != 0)
}

/// Whether `signal` is one that asks to stop (a part of the tour that died of another, such as
/// SIGSEGV or the OOM killer's SIGKILL, crashed).
pub fn stopping(signal: libc::c_int) -> bool {
    STOPPING.contains(&signal)
}

/// A signal's name as a shell user knows it.
pub fn name(signal: libc::c_int) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT (Ctrl-C)",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        _ => "a signal",
    }
}

/// Ends the process as `signal` would have: the default handler restored and the signal
/// raised, so the parent sees death by it (a shell: 128 + its number). Output is flushed first.
pub fn die_of(signal: libc::c_int) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // SAFETY: restoring the default action and raising a signal have no memory preconditions.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        let mut unblock: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut unblock);
        libc::sigaddset(&mut unblock, signal);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &unblock, std::ptr::null_mut());
        libc::raise(signal);
    }
    // Only where the signal cannot kill (it is ignored): the status a shell would show.
    std::process::exit(128 + signal)
}

/// After a run stopped by a signal has kept its work: die of that signal (step 2 of the policy).
/// Returns when no signal came.
pub fn die_of_received_signal() {
    if let Some(signal) = received() {
        die_of(signal)
    }
}

/// While the tour's part `pid` runs, every signal is passed on to it; `None` when it has ended.
/// A signal that came just before the part started is passed on now, so none is lost between
/// the check and the start.
pub fn running_child(pid: Option<u32>) {
    CHILD.store(pid.map_or(0, |p| p as i32), Ordering::SeqCst);
    if let (Some(pid), Some(signal)) = (pid, received()) {
        // SAFETY: kill(2) with our own child's pid and a signal number.
        unsafe { libc::kill(pid as libc::pid_t, signal) };
    }
}

/// Milliseconds on the monotonic clock (async-signal-safe).
fn now_ms() -> i64 {
    // SAFETY: clock_gettime writes into the timespec we own.
    let mut t: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as i64 * 1000 + t.tv_nsec as i64 / 1_000_000
}

/// The note the first signal prints, one per signal (no formatting in a handler).
fn note(signal: libc::c_int) -> &'static [u8] {
    match signal {
        libc::SIGINT => b"\nnnopt: Ctrl-C: stopping after this batch, keeping what was done (Ctrl-C again to quit now)\n",
        libc::SIGTERM => b"\nnnopt: SIGTERM: stopping after this batch, keeping what was done (a second signal quits now)\n",
        _ => b"\nnnopt: SIGHUP: stopping after this batch, keeping what was done (a second signal quits now)\n",
    }
}

extern "C" fn on_signal(signal: libc::c_int) {
    // The code this interrupted may be about to read errno: keep it as it was.
    // SAFETY: __errno_location returns this thread's errno, valid for the thread's life.
    let errno = unsafe { *libc::__errno_location() };
    let child = CHILD.load(Ordering::SeqCst);
    if child > 0 {
        // The tour: the part decides (its first signal stops at a batch, a second quits); the
        // tour waits for it and ends as it ended.
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(child, signal) };
    }
    // The first signal is the one that sets the time (never 0 on a monotonic clock that
    // started at boot; `max` makes sure): one compare-and-swap, so two signals handled at once
    // on two threads cannot both be "first", nor the second see no time and quit.
    let now = now_ms().max(1);
    match FIRST_AT_MS.compare_exchange(0, now, Ordering::SeqCst, Ordering::SeqCst) {
        Ok(_) => {
            RECEIVED.store(signal, Ordering::SeqCst);
            STOP.store(true, Ordering::SeqCst);
            if !QUIET.load(Ordering::SeqCst) && child == 0 {
                let text = note(signal);
                // SAFETY: write(2) to stderr from a buffer that lives forever.
                unsafe { libc::write(2, text.as_ptr().cast(), text.len()) };
            }
        }
        Err(_) if child > 0 => {} // the tour waits for its part, which quits at once
        Err(first) if now - first < DEBOUNCE.as_millis() as i64 => {}
        // SAFETY: signal(2) and raise(3) are async-signal-safe; the signal is blocked while
        // this handler runs, so it lands, with its default action, as the handler returns.
        Err(_) => unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        },
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}
