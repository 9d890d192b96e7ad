//! The lab's one long run at a time — a training run or a sweep — as a child `nnopt` process
//! (libtorch's generator is one per process: a child's numbers are its own, whatever the page
//! does meanwhile). The child is the command line's own `nnopt train` or `nnopt sweep`, so it
//! keeps its work on a signal as it does in a terminal: the page's Stop and the lab's Ctrl-C send
//! it SIGINT. The run lives in the server, not the page: a page closed and opened again finds it
//! ([`Jobs::snapshot`]) and follows it again.

use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use nnopt::sweep::journal::Table;
use nnopt::train::{curves, read_metrics_csv, EpochMetrics};
use serde::Serialize;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _};
use tokio::sync::watch;

/// How often a running job's files are read again for the page.
const POLL: Duration = Duration::from_millis(250);
/// The end of the child's stderr the page is shown (its errors and warnings).
const STDERR_TAIL: usize = 4_096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Train,
    Sweep,
}

impl Kind {
    pub fn command(self) -> &'static str {
        match self {
            Kind::Train => "train",
            Kind::Sweep => "sweep",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Kind::Train => "a training run",
            Kind::Sweep => "a sweep",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Running,
    /// Asked to stop: it finishes its batch, keeps its work and ends.
    Stopping,
    /// Ran to its end (exit 0).
    Finished,
    /// A signal stopped it, its work kept.
    Stopped,
    /// Its command refused its flags or files before it ran (exit 2).
    Refused,
    /// It failed or crashed.
    Failed,
}

impl State {
    /// Whether the job has ended, one way or another.
    pub fn is_over(self) -> bool {
        !matches!(self, State::Running | State::Stopping)
    }
}

/// A job as the page sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub id: u64,
    pub kind: Kind,
    /// The command it runs, as a user would type it (without the lab's own files).
    pub command: String,
    pub state: State,
    /// Seconds since 1970 when it started.
    pub started: u64,
    /// How it ended, in words ("finished", "stopped by SIGINT: the work done is kept", …).
    pub ended: Option<String>,
    pub exit_code: Option<i32>,
    /// Training: the epochs so far, from its `--metrics` file.
    pub epochs: Vec<EpochMetrics>,
    /// A sweep: its journal so far (with `--resume`, the resumed trials first).
    pub table: Option<Table>,
    pub journal: Option<PathBuf>,
    /// The trials the journal held before this sweep (those `--resume` continues).
    #[serde(skip)]
    resumed: usize,
    /// The loss and accuracy so far (training), or the trials so far (a sweep), as SVG.
    pub live_svg: Option<String>,
    /// When it has ended: the command's own `--plot` picture, and training's `--confusion`.
    pub plot_svg: Option<String>,
    pub confusion_svg: Option<String>,
    /// When it has ended: what the command printed.
    pub stdout: String,
    /// The end of what it has said on stderr so far: progress, warnings, errors.
    pub stderr: String,
    /// Who asked it to stop ("from the page", "with the lab"); the follower sends the signal.
    #[serde(skip)]
    stop_asked: Option<&'static str>,
    #[serde(skip)]
    dir: PathBuf,
    #[serde(skip)]
    data: String,
}

/// A sweep's journal, as the lab follows it.
pub struct Followed {
    pub path: PathBuf,
    /// The trials it holds already, which `--resume` continues.
    pub resumed: usize,
}

/// Why a job was not started.
pub enum Refused {
    /// Another runs (HTTP 409): the message names it.
    Busy(String),
    Failed(anyhow::Error),
}

/// The lab's job slot.
pub struct Jobs {
    job: Mutex<Option<Job>>,
    /// Where jobs keep the files the lab reads (metrics, pictures): the lab's own directory.
    dir: PathBuf,
    /// The lab's `--device` and `--threads`, which its jobs run with.
    device: String,
    threads: Option<usize>,
    /// Bumped at every change, for the pages following along.
    version: watch::Sender<u64>,
}

impl Jobs {
    pub fn new(dir: PathBuf, device: String, threads: Option<usize>) -> Arc<Self> {
        Arc::new(Jobs { job: Mutex::new(None), dir, device, threads, version: watch::channel(0).0 })
    }

    fn lock(&self) -> MutexGuard<'_, Option<Job>> {
        // A panic in a handler poisons nothing this guards that the next request cannot read.
        self.job.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn changed(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    /// The job, running or the last one ended (`None`: none yet).
    pub fn snapshot(&self) -> Option<Job> {
        self.lock().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Starts `nnopt <kind> args…` unless a job runs. `data` is the run's `--data`, for its
    /// pictures' titles; `journal` a sweep's journal to follow, if it is the sweep's own.
    pub fn start(
        self: &Arc<Self>,
        kind: Kind,
        args: &[String],
        data: String,
        journal: Option<Followed>,
    ) -> Result<Job, Refused> {
        let mut slot = self.lock();
        if let Some(job) = slot.as_ref().filter(|j| !j.state.is_over()) {
            let age = now().saturating_sub(job.started);
            return Err(Refused::Busy(format!(
                "{} is running ({}, started {age} s ago): stop it or wait for it to end; the lab runs one \
                 training run or sweep at a time",
                job.kind.what(),
                job.command
            )));
        }
        let id = slot.as_ref().map_or(1, |j| j.id + 1);
        let dir = self.dir.join(format!("job-{id}"));
        let spawned = std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))
            .and_then(|()| self.spawn(kind, args, &dir));
        let child = spawned.map_err(Refused::Failed)?;
        let job = Job {
            id,
            kind,
            command: super::request::shown(kind.command(), args),
            state: State::Running,
            started: now(),
            ended: None,
            exit_code: None,
            epochs: Vec::new(),
            table: None,
            resumed: journal.as_ref().map_or(0, |j| j.resumed),
            journal: journal.map(|j| j.path),
            live_svg: None,
            plot_svg: None,
            confusion_svg: None,
            stdout: String::new(),
            stderr: String::new(),
            stop_asked: None,
            dir,
            data,
        };
        *slot = Some(job.clone());
        drop(slot);
        self.changed();
        tokio::spawn(follow(self.clone(), id, child));
        Ok(job)
    }

    fn spawn(&self, kind: Kind, args: &[String], dir: &Path) -> Result<tokio::process::Child> {
        let exe = std::env::current_exe().context("cannot find the nnopt binary to run the job with")?;
        let mut command = tokio::process::Command::new(exe);
        command.args(["--device", &self.device]);
        if let Some(n) = self.threads {
            command.args(["--threads", &n.to_string()]);
        }
        command.arg(kind.command()).args(args);
        let file = |name: &str| dir.join(name).to_string_lossy().into_owned();
        match kind {
            Kind::Train => command.args([
                "--metrics",
                &file("metrics.csv"),
                "--plot",
                &file("plot.svg"),
                "--confusion",
                &file("confusion.svg"),
            ]),
            Kind::Sweep => command.args(["--plot", &file("plot.svg")]),
        };
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        // A group of its own: a terminal's Ctrl-C reaches the lab only, which stops the job once
        // (a second signal would make the job quit without keeping its work).
        command.process_group(0);
        let lab = std::process::id() as libc::pid_t;
        // SAFETY: async-signal-safe calls only, between fork and exec.
        unsafe {
            command.pre_exec(move || {
                // The lab stops its job with SIGINT: a lab started with it ignored (`cmd &` in a
                // script) must not hand that on, or Stop would never stop the job.
                for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                    libc::signal(signal, libc::SIG_DFL);
                }
                // Should the lab be killed outright, the kernel sends the job SIGTERM, which stops
                // it as Ctrl-C does, its work kept. (Sent when the thread that spawned it ends:
                // the runtime's worker threads last as long as the lab.) A lab already gone
                // before this call would leave it running: then it does not start at all.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                if libc::getppid() != lab {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
        command.spawn().context("cannot start the job")
    }

    /// Asks the running job to stop as Ctrl-C does (it keeps what it did), `by` whom: the job
    /// as it stands, or `None` when none runs. Asked twice, it is asked once.
    pub fn stop(&self, by: &'static str) -> Option<Job> {
        let mut slot = self.lock();
        let job = slot.as_mut().filter(|j| !j.state.is_over())?;
        if job.stop_asked.is_none() {
            // The signal itself is sent by `follow`, which reaps the process: never to a pid
            // that has been reaped (and may be another process's by now).
            job.stop_asked = Some(by);
            job.state = State::Stopping;
        }
        let job = job.clone();
        drop(slot);
        self.changed();
        Some(job)
    }

    /// Stops the running job, if any, and waits until it has ended (the lab's own shutdown).
    pub async fn stop_and_wait(&self) {
        self.stop("with the lab");
        let mut version = self.subscribe();
        while self.snapshot().is_some_and(|j| !j.state.is_over()) {
            if version.changed().await.is_err() {
                return;
            }
        }
    }

    /// Reads the job's files again and takes `stderr` so far; returns whether anything changed.
    fn refresh(&self, id: u64, stderr: String) -> bool {
        let Some((kind, dir, journal, data)) = self
            .lock()
            .as_ref()
            .filter(|j| j.id == id)
            .map(|j| (j.kind, j.dir.clone(), j.journal.clone(), j.data.clone()))
        else {
            return false;
        };
        // Read and drawn outside the lock: a page asking meanwhile is not held up.
        let (epochs, table) = match kind {
            Kind::Train => {
                let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap_or_default();
                (read_metrics_csv(&text).unwrap_or_default(), None)
            }
            Kind::Sweep => (Vec::new(), journal.and_then(|path| nnopt::lab::journal::read(&path).ok())),
        };
        let stderr = without(&stderr, &dir);
        let grown = self.lock().as_ref().is_some_and(|j| j.epochs.len() != epochs.len() || j.table != table);
        let live_svg = match (grown, &table, epochs.is_empty()) {
            (false, _, _) => None,
            (true, Some(t), _) if !t.rows.is_empty() => nnopt::sweep::figure::journal_figure(t).svg().ok(),
            (true, None, false) => curves(&epochs, &data).svg().ok(),
            _ => None,
        };
        let mut slot = self.lock();
        let Some(job) = slot.as_mut().filter(|j| j.id == id) else { return false };
        let news = job.stderr != stderr;
        job.stderr = stderr;
        if !grown {
            return news;
        }
        job.live_svg = live_svg;
        job.epochs = epochs;
        job.table = table;
        true
    }
}

/// Follows a job until its process ends: its files read again every [`POLL`], its stderr
/// (progress, warnings) passed on as it comes, and at the end how it ended and its pictures.
async fn follow(jobs: Arc<Jobs>, id: u64, mut child: tokio::process::Child) {
    let stdout = child.stdout.take();
    let stdout = tokio::spawn(async move {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = stdout {
            let _ = pipe.read_to_end(&mut bytes).await;
        }
        String::from_utf8_lossy(&bytes).into_owned()
    });
    let stderr = Arc::new(Mutex::new(String::new()));
    let reader = child.stderr.take().map(|pipe| {
        let stderr = stderr.clone();
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut tail = stderr.lock().unwrap_or_else(|p| p.into_inner());
                tail.push_str(&line);
                tail.push('\n');
                let cut = tail.len().saturating_sub(STDERR_TAIL);
                if cut > 0 {
                    *tail = tail[tail.ceil_char_boundary(cut)..].to_string();
                }
            }
        })
    });
    // Polled rather than awaited: this task alone reaps the process and signals it, so a stop
    // is never sent to a pid already reaped.
    let mut signalled = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Err(e) => break Err(e),
            Ok(None) => {}
        }
        let asked = jobs.lock().as_ref().filter(|j| j.id == id).and_then(|j| j.stop_asked);
        if let (Some(_), false, Some(pid)) = (asked, signalled, child.id()) {
            // SAFETY: kill(2) on our own child, not yet reaped (try_wait above said so).
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
            signalled = true;
        }
        tokio::time::sleep(POLL).await;
        let progress = stderr.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if jobs.refresh(id, progress) {
            jobs.changed();
        }
    };
    if let Some(reader) = reader {
        let _ = reader.await;
    }
    let stderr = stderr.lock().unwrap_or_else(|p| p.into_inner()).clone();
    jobs.refresh(id, stderr.clone());
    let stdout = stdout.await.unwrap_or_default();
    {
        let mut slot = jobs.lock();
        if let Some(job) = slot.as_mut().filter(|j| j.id == id) {
            let svg = |name: &str| std::fs::read_to_string(job.dir.join(name)).ok();
            job.plot_svg = svg("plot.svg");
            job.confusion_svg = svg("confusion.svg");
            // The pictures are in the job now: the lab's directory keeps nothing of a job's.
            let _ = std::fs::remove_dir_all(&job.dir);
            // What it had done: its epochs, the last perhaps cut short; a sweep's trials, which
            // its journal keeps.
            let complete = job.epochs.iter().filter(|e| e.complete).count();
            let done = match (job.kind, &job.table, job.epochs.last().filter(|e| !e.complete)) {
                (Kind::Train, _, None) => format!("after {complete} epoch(s)"),
                (Kind::Train, _, Some(cut)) => format!(
                    "after {complete} complete epoch(s) and {} batch(es) of epoch {}",
                    cut.batches, cut.epoch
                ),
                (Kind::Sweep, table, _) => {
                    let (held, path) = (table.as_ref().map_or(0, |t| t.rows.len()), job.journal.as_deref());
                    let path = path.unwrap_or(Path::new("")).display();
                    match job.resumed {
                        0 => format!("after {held} trial(s), kept in {path}"),
                        before => format!(
                            "after {} trial(s) in this run; {path} holds {held}",
                            held.saturating_sub(before)
                        ),
                    }
                }
            };
            let (state, ended, code) = match &status {
                Ok(s) => ended(s, &stderr, job.stop_asked, &done),
                Err(e) => (State::Failed, format!("lost: {e}"), None),
            };
            if state == State::Refused {
                // Refused before it ran: a journal it named holds another sweep's rows, not its own.
                job.table = None;
                job.live_svg = None;
            }
            job.ended = Some(ended);
            job.exit_code = code;
            job.stdout = without(&stdout, &job.dir);
            job.stderr = without(&job.stderr, &job.dir);
            job.state = state;
        }
    }
    jobs.changed();
}

/// `text` without the lines that name the lab's own files for a job (`wrote …/plot.svg
/// (--plot)`): the user never asked for them, and they are gone when the job has ended.
fn without(text: &str, dir: &Path) -> String {
    let dir = dir.display().to_string();
    text.lines().filter(|l| !l.contains(&dir)).map(|l| format!("{l}\n")).collect()
}

/// How a job ended: its state, in words, and its exit code; `asked`: who asked it to stop, if
/// anyone; `done`: what it had done, said where a signal stopped it.
fn ended(status: &ExitStatus, stderr: &str, asked: Option<&str>, done: &str) -> (State, String, Option<i32>) {
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    let said = last.trim_start_matches("nnopt: ");
    match (status.code(), status.signal()) {
        (Some(0), _) => (State::Finished, "finished".into(), Some(0)),
        (Some(2), _) => (State::Refused, format!("refused: {said}"), Some(2)),
        (Some(code), _) => (State::Failed, format!("failed (exit {code}): {said}"), Some(code)),
        (None, Some(signal)) if crate::cli::signals::stopping(signal) => {
            let by = match asked {
                Some(who) => format!("stopped {who} (SIGINT, as Ctrl-C)"),
                None => format!("stopped by {}", crate::cli::signals::name(signal)),
            };
            (State::Stopped, format!("{by} {done}"), None)
        }
        (None, Some(signal)) => {
            (State::Failed, format!("crashed ({})", crate::cli::signals::name(signal)), None)
        }
        (None, None) => (State::Failed, "ended".into(), None),
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
