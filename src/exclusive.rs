//! One entry point at a time: libtorch has one random generator per process, and nnopt's entry
//! points (`train`, a population, `perceptron`, `mlp`, the synthetic digits) seed it and draw
//! from it. Two threads doing that at once would interleave their draws — each run's numbers
//! would depend on the other's timing, silently. So every entry point holds [`enter`]'s guard
//! while it runs: a second thread waits for the first to finish instead of racing it. The lock
//! is re-entrant on one thread (a sweep calls `train`, which enters again).
//!
//! It is held while the entry point calls back into its caller (an [`crate::observe::Observer`],
//! `train`'s `on_epoch`): a callback that hands work to another thread which calls an entry
//! point, and waits for it, waits forever. Call entry points from the callback's own thread.

use std::cell::Cell;
use std::sync::{Mutex, MutexGuard};

static GENERATOR: Mutex<()> = Mutex::new(());

thread_local! {
    /// How many entry points this thread is inside.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Held while an entry point runs; dropping the outermost releases the process's generator.
pub struct Exclusive {
    _guard: Option<MutexGuard<'static, ()>>,
}

/// Waits until no other thread is inside an entry point, then holds the generator for this one.
pub fn enter() -> Exclusive {
    let outermost = DEPTH.with(|d| d.get()) == 0;
    // A panic elsewhere poisons nothing this lock protects (it guards no data).
    let guard = outermost.then(|| GENERATOR.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
    DEPTH.with(|d| d.set(d.get() + 1));
    Exclusive { _guard: guard }
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get() - 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Nested entries on one thread do not deadlock; two threads never hold it at once.
    #[test]
    fn one_thread_at_a_time_and_reentrant() {
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (inside, most) = (inside.clone(), most.clone());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        let _outer = enter();
                        let _inner = enter();
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1, "two threads were inside at once");
        assert_eq!(DEPTH.with(|d| d.get()), 0);
    }
}
