//! `nnopt tour`: the library's syllabus ([`nnopt::tour`]) run part by part. Each part's command
//! runs as `nnopt` itself, a child process of this one, so the tour shows exactly what the
//! subcommand prints (and the learner can copy the `$ nnopt …` line above it). On a terminal
//! the tour waits between parts; piped, it runs straight through.

use std::io::{BufRead, IsTerminal, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command as Process, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{anyhow, Context, Result};
use clap::Args;
use serde::Serialize;

use nnopt::observe::Observer;
use nnopt::tour::{self, Part, TourData};

use super::output::Output;
use super::{signals, Global};

#[derive(Debug, Args)]
pub struct TourArgs {
    /// Start at part N (1 = the notebook's claims, 2 = the perceptron, … 11 = training on images).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub part: usize,
    /// Never wait between parts, even on a terminal.
    #[arg(long)]
    pub no_pause: bool,
    /// Write each part's picture into DIR (created if missing): DIR/part02-perceptron.png, …
    #[arg(long, value_name = "DIR")]
    pub plots: Option<std::path::PathBuf>,
}

/// One part as `--json` reports it: the syllabus entry, the command run, and its JSON result.
#[derive(Debug, Serialize)]
struct PartRun {
    #[serde(flatten)]
    part: &'static Part,
    command: Vec<String>,
    data_used: Option<&'static str>,
    /// The picture this part wrote (`--plots`).
    picture: Option<std::path::PathBuf>,
    result: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
struct TourReport {
    parts: Vec<PartRun>,
}

/// Fashion-MNIST's files where Debian's package puts them.
fn fashion_installed() -> bool {
    let dir = Path::new(nnopt::data::FASHION_DIR);
    ["train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"].iter().all(|f| dir.join(f).is_file())
}

/// The data flag for a part that trains on images, and the sentence that says which data it is.
fn data_for(part: &Part) -> (Vec<&'static str>, Option<&'static str>) {
    match (part.data, fashion_installed()) {
        (TourData::None, _) => (Vec::new(), None),
        (TourData::Images, true) => {
            (vec!["--data", "fashion"], Some("Fashion-MNIST: 60 000 training images, 10 000 test images"))
        }
        (TourData::Images, false) => (
            vec!["--data", "synthetic:12000,2000"],
            Some(
                "nnopt's synthetic digits (12 000 + 2 000): Fashion-MNIST is not installed \
                 (bash scripts/setup-data.sh installs it)",
            ),
        ),
    }
}

/// Runs `nnopt <args>` with this run's global flags; with `capture`, returns its stdout. While
/// it runs, every signal the tour gets is passed on to it ([`signals::running_child`]); a part
/// that a signal ended ends the tour the same way, saying where to go on.
fn run_part(
    args: &[String],
    global: &Global,
    capture: bool,
    (out, part): (&Output, usize),
) -> Result<Option<Vec<u8>>> {
    let exe = std::env::current_exe().context("tour: cannot find the nnopt binary to run the parts with")?;
    let mut command = Process::new(exe);
    command.arg("--device").arg(global.device.to_string());
    if let Some(threads) = global.threads {
        command.arg("--threads").arg(threads.to_string());
    }
    if global.quiet {
        command.arg("--quiet");
    }
    command.args(args).stdin(Stdio::null());
    if capture {
        // Inherited stderr; stdout is the part's JSON document.
        command.arg("--json").stdout(Stdio::piped()).stderr(Stdio::inherit());
    }
    // Should the tour itself be killed outright (SIGKILL, which no handler sees), its part gets
    // SIGTERM from the kernel and stops as it would for any signal: never an orphan.
    let tour = std::process::id();
    // SAFETY: between fork and exec only async-signal-safe calls: prctl, getppid, raise.
    unsafe {
        command.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            // The tour may have died before prctl took effect.
            if libc::getppid() as u32 != tour {
                libc::raise(libc::SIGTERM);
            }
            Ok(())
        });
    }
    let mut child = command.spawn().context("tour: cannot start nnopt")?;
    signals::running_child(Some(child.id()));
    // The part's JSON is read while it runs (a full pipe would stop it); then the tour waits
    // for it to end without reaping it, stops passing signals on, and only then reaps it — so a
    // signal is never passed to a pid the system may already have given to another process.
    let reader = child.stdout.take().map(|mut stdout| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut stdout, &mut bytes).map(|_| bytes)
        })
    });
    ended_unreaped(child.id());
    signals::running_child(None);
    let status = child.wait().context("tour: cannot wait for nnopt")?;
    let stdout = match reader.map(|r| r.join()) {
        Some(Ok(Ok(bytes))) => bytes,
        Some(_) => anyhow::bail!("tour: cannot read what `nnopt {}` printed", args.join(" ")),
        None => Vec::new(),
    };
    match status.signal() {
        // Stopped as asked (by the tour's own signal, passed on, or one sent to the part).
        Some(signal) if signals::stopping(signal) => stop_by_signal(out, signal, part),
        Some(signal) => {
            return Err(anyhow!("tour: `nnopt {}` crashed ({})", args.join(" "), signals::name(signal)))
        }
        None => {}
    }
    if !status.success() {
        let code = status.code().map_or("an unknown status".to_string(), |c| format!("code {c}"));
        return Err(anyhow!("tour: `nnopt {}` exited with {code}", args.join(" ")));
    }
    Ok(capture.then_some(stdout))
}

/// Waits until process `pid` has ended, leaving it to be reaped (`waitid` with `WNOWAIT`).
fn ended_unreaped(pid: u32) {
    loop {
        // SAFETY: waitid writes into the siginfo we own; WNOWAIT leaves the child reapable.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let r =
            unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT) };
        // Interrupted by a signal (passed on by the handler): wait again.
        if r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return;
        }
    }
}

/// Waits for Enter (go on) or q (stop), asked on stderr; true to go on. The line is read on a
/// thread of its own, so a signal (`stop`) ends the wait: a read interrupted by a signal
/// would otherwise just resume.
fn go_on(next: &Part, stop: &AtomicBool) -> bool {
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "\n── Enter: part {} ({}) · q: quit ── ", next.number, next.title);
    let _ = stderr.flush();
    let (sender, answer) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let read = std::io::stdin().lock().read_line(&mut line);
        let _ = sender.send(read.map(|n| (n, line)));
    });
    loop {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        match answer.recv_timeout(std::time::Duration::from_millis(50)) {
            Ok(Ok((0, _))) | Ok(Err(_)) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return false
            }
            Ok(Ok((_, line))) => return !line.trim().eq_ignore_ascii_case("q"),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
}

/// Stops the tour after a signal, saying where to go on, and dies of that signal (the part it
/// was passed on to has already ended).
fn stop_by_signal(out: &Output, signal: libc::c_int, part: usize) -> ! {
    out.note(&format!("tour: stopped by {}; go on with --part {part}", signals::name(signal)));
    signals::die_of(signal)
}

pub fn run_tour(args: TourArgs, global: &Global, out: &Output) -> Result<()> {
    let parts = tour::parts_from(args.part)?;
    // A device the parts cannot use is this command's usage error, said before any part runs.
    global.device.resolve()?;
    if let Some(dir) = &args.plots {
        pictures_dir(dir)?;
    }
    // Signals reach the part running (its own handling: `train` finishes its batch) and the
    // tour, which waits for the part to end and then ends as it did, rather than die under it.
    let stop = signals::stop_flag(true);
    let pause =
        !args.no_pause && !out.json && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let mut runs = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        if let Some(signal) = signals::received() {
            stop_by_signal(out, signal, part.number);
        }
        let (data_args, data_used) = data_for(part);
        let mut command: Vec<String> =
            part.command.iter().chain(data_args.iter()).map(|s| s.to_string()).collect();
        let picture = args.plots.as_deref().and_then(|dir| tour::picture_args(part, dir));
        if let Some((flag, file)) = &picture {
            command.extend([flag.to_string(), file.display().to_string()]);
        }
        let picture = picture.map(|(_, file)| file);
        if !out.json {
            out.line(&tour::introduce(part, data_used));
            if !command.is_empty() {
                out.line(&format!("$ nnopt {}", command.join(" ")));
            }
        }
        let result = match command.is_empty() {
            true => None,
            false => run_part(&command, global, out.json, (out, part.number))?,
        };
        let result = result
            .map(|stdout| serde_json::from_slice(&stdout))
            .transpose()
            .with_context(|| format!("tour: `nnopt {}` printed no JSON document", command.join(" ")))?;
        runs.push(PartRun { part, command, data_used, picture, result });
        if let Some(next) = parts.get(i + 1) {
            if pause && !go_on(next, stop) {
                if let Some(signal) = signals::received() {
                    stop_by_signal(out, signal, next.number);
                }
                out.note(&format!("tour: stopped; go on later with --part {}", next.number));
                break;
            }
            out.line("");
        }
    }
    if let Some(dir) = &args.plots {
        let written: Vec<String> = runs
            .iter()
            .filter_map(|r| r.picture.as_ref()?.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        out.note(&format!("tour: {} picture(s) in {}: {}", written.len(), dir.display(), written.join(", ")));
    }
    if out.json {
        out.result(&TourReport { parts: runs }, |_| String::new())?;
    }
    Ok(())
}

/// `--plots DIR`: a directory, made if missing; a file there is refused before any part runs.
fn pictures_dir(dir: &Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(nnopt::error::usage(format!(
            "--plots {}: not a directory; name a directory for the pictures",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| anyhow!("--plots {}: cannot create it: {e}", dir.display()))?;
    // Writable, checked before any part runs rather than found out by the first picture.
    let probe = dir.join(nnopt::fsutil::unique_name(".nnopt-plots-probe"));
    std::fs::File::create(&probe).map_err(|e| {
        anyhow!("--plots {}: cannot write there: {e}; name a directory you can write", dir.display())
    })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}
