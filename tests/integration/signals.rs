//! One signal policy (src/cli/signals.rs): SIGINT, SIGTERM and SIGHUP stop `train` and `sweep`
//! at a batch boundary, the work is kept and said, and the process then dies of that signal —
//! so a shell sees 130/143/129 and a `for` loop stops. `tour` passes signals to its part and
//! leaves nothing running. And a sweep killed outright (SIGKILL) at any moment resumes without
//! losing a finished trial.

use std::io::BufRead;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{nnopt_command, scratch, KillOnDrop};

fn send(pid: u32, signal: libc::c_int) {
    // SAFETY: kill(2) with a child's pid (or a group's, negated) and a signal number.
    unsafe { libc::kill(pid as libc::pid_t, signal) };
}

/// Waits until `path` exists (a first epoch or trial finished), at most `limit`; on failure the
/// child's whole process group is killed first, so no long run outlives the test.
fn wait_for(path: &Path, child: &mut Child, limit: Duration) {
    let started = Instant::now();
    while !path.exists() {
        let failed = if child.try_wait().unwrap().is_some() {
            Some("ended")
        } else {
            (started.elapsed() > limit).then_some("ran too long")
        };
        if let Some(why) = failed {
            send_group(child.id(), libc::SIGKILL);
            let _ = child.kill();
            panic!("{why} before {} appeared", path.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `signal` to the process group `leader` leads (where it leads one).
fn send_group(leader: u32, signal: libc::c_int) {
    // SAFETY: kill(2) of a process group (negative pid) with a signal number.
    unsafe { libc::kill(-(leader as libc::pid_t), signal) };
}

/// A long `train` with `--save` and `--metrics`, past its first epoch; 6 000 images make an
/// epoch of 188 batches of 32, so a signal almost always lands inside one. Its own process
/// group, so a failing test can kill it whole.
fn training(dir: &Path) -> Child {
    let (csv, w) = (dir.join("m.csv"), dir.join("w.safetensors"));
    let mut child = nnopt_command(&[
        "--json",
        "train",
        "--data",
        "synthetic:6000,200",
        "--epochs",
        "500",
        "--batch-size",
        "32",
    ])
    .args(["--metrics", csv.to_str().unwrap(), "--save", w.to_str().unwrap()])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .process_group(0)
    .spawn()
    .unwrap();
    // Minutes on a loaded machine (16 test threads on 2 cores); seconds alone.
    wait_for(&csv, &mut child, Duration::from_secs(900));
    child
}

/// Each stopping signal: the run finishes its batch, marks the cut epoch partial (JSON and
/// CSV), saves the weights, says what it kept and by which signal, then dies of that signal.
#[test]
fn sigint_sigterm_and_sighup_keep_the_work_then_end_by_that_signal() {
    for (signal, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGINT, "SIGINT"), (libc::SIGHUP, "SIGHUP")] {
        let dir = scratch(&format!("signal_{name}"));
        let child = training(&dir);
        send(child.id(), signal);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), Some(signal), "{name}: {:?} {stderr}", out.status);
        assert!(stderr.contains(&format!("by {name}")) && stderr.contains("kept"), "{name}: {stderr}");
        assert!(stderr.contains("saved the weights"), "{name}: {stderr}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["stop"]["reason"], "interrupted");
        let epochs = v["epochs"].as_array().unwrap();
        let last = epochs.last().unwrap();
        // Cut inside an epoch (or, rarely, just after its last batch: then it is whole).
        let batches = last["batches"].as_i64().unwrap();
        assert!((1..=188).contains(&batches), "{last}");
        assert_eq!(last["complete"], batches == 188, "{name}: the cut epoch is marked: {last}");
        assert!(epochs[..epochs.len() - 1].iter().all(|e| e["complete"] == true && e["batches"] == 188));
        let csv = std::fs::read_to_string(dir.join("m.csv")).unwrap();
        assert!(csv.starts_with("epoch,") && csv.lines().next().unwrap().ends_with(",batches,complete"));
        let marked = if batches == 188 { ",true" } else { ",false" };
        assert!(csv.trim_end().ends_with(marked), "{name}: the CSV marks it too: {csv}");
        let _rng = crate::common::torch_rng();
        nnopt::weights::load(&dir.join("w.safetensors"), tch::Device::Cpu).unwrap();
    }
}

/// `for s in 1 2; do nnopt train …; done` stops at a Ctrl-C (sent, as a terminal does, to the
/// whole foreground group): the run dies of SIGINT, so bash ends the loop instead of going on.
#[test]
fn ctrl_c_stops_a_shell_loop() {
    let dir = scratch("signal_loop");
    let exe = env!("CARGO_BIN_EXE_nnopt");
    let script = format!(
        "for s in 1 2; do {exe} --device cpu --threads 2 train --data synthetic:6000,200 --epochs 500 \
         --metrics {}/m$s.csv >/dev/null 2>&1; echo \"after run $s\"; done",
        dir.display()
    );
    let mut bash =
        Command::new("bash").args(["-c", &script]).process_group(0).stdout(Stdio::piped()).spawn().unwrap();
    wait_for(&dir.join("m1.csv"), &mut bash, Duration::from_secs(900));
    send_group(bash.id(), libc::SIGINT);
    let out = bash.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("after run"), "the loop went on: {stdout}");
    assert!(!dir.join("m2.csv").exists(), "a second run started");
    assert!(out.status.signal() == Some(libc::SIGINT) || out.status.code() == Some(130), "{:?}", out.status);
}

/// The pids of `parent`'s children, from /proc.
fn children(parent: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // "pid (comm) state ppid …": the comm may hold spaces, so read after its ')'.
        let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1));
        if ppid.and_then(|p| p.parse::<u32>().ok()) == Some(parent) {
            found.push(pid);
        }
    }
    found
}

/// Whether `pid` is still a live process (not gone, not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| !rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

/// A signal to the tour alone (as `kill` or systemd sends it) reaches the part running, the tour
/// waits for it and ends by that signal, saying where to go on; no part is left running — even
/// when the tour is killed outright (SIGKILL).
#[test]
fn the_tour_passes_signals_on_and_leaves_no_part_running() {
    for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGKILL] {
        let mut tour = KillOnDrop(
            nnopt_command(&["tour", "--no-pause", "--part", "11"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let pid = tour.0.id();
        let started = Instant::now();
        let part = loop {
            if let Some(&child) = children(pid).first() {
                break child;
            }
            assert!(tour.0.try_wait().unwrap().is_none(), "the tour ended before its part started");
            assert!(started.elapsed() < Duration::from_secs(600), "no part started");
            std::thread::sleep(Duration::from_millis(10));
        };
        // Most often past the part's start-up, into its work; earlier, the part dies of the
        // signal's default action — the tour must end the same way in both cases.
        std::thread::sleep(Duration::from_millis(300));
        send(pid, signal);
        let status = tour.0.wait().unwrap();
        let mut stderr = String::new();
        for line in std::io::BufReader::new(tour.0.stderr.take().unwrap()).lines() {
            stderr.push_str(&line.unwrap());
            stderr.push('\n');
        }
        assert_eq!(status.signal(), Some(signal), "{status:?}: {stderr}");
        // Killed outright, the tour cannot speak; its part still ends (the kernel sends it SIGTERM).
        assert!(signal == libc::SIGKILL || stderr.contains("go on with --part 11"), "{stderr}");
        let ended = Instant::now();
        while alive(part) && ended.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(50));
        }
        if alive(part) {
            send(part, libc::SIGKILL);
            panic!("the tour's part {part} was still running after the tour ended");
        }
    }
}

/// 500 one-epoch trials (minutes in all), each journaled as it ends (a population of 1).
const SWEEP: [&str; 18] = [
    "sweep",
    "--strategy",
    "grid",
    "--data",
    "synthetic:6000,100",
    "--epochs",
    "1",
    "--lr",
    "1e-3..1:log",
    "--grid-points",
    "100",
    "--momentum",
    "0,0.3,0.5,0.7,0.9",
    "--population",
    "1",
    "--batch-size",
    "16",
    "--quiet",
];

/// A sweep killed with SIGKILL at 20 random moments, resumed each time: every trial a journal
/// held before a kill is still there, unchanged, after it, and every resume reads the journal
/// back. (A single small `write` is not torn by SIGKILL; torn rows are tests/integration/files.rs's.)
#[test]
fn a_sweep_killed_20_times_loses_no_finished_trial() {
    let dir = scratch("signal_sigkill");
    let journal = dir.join("j.csv");
    let mut held: Vec<String> = Vec::new();
    // A splitmix-style generator: the kill times differ run to run only through the seed.
    let mut state: u64 =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z ^ (z >> 27)
    };
    for kill in 0..20 {
        let file = if journal.exists() { "--resume" } else { "--csv" };
        let mut sweep = KillOnDrop(
            nnopt_command(&SWEEP)
                .args([file, journal.to_str().unwrap()])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        // Each run first finishes a trial of its own (however slow a loaded machine makes its
        // start), then is killed at a random moment: within a trial, or while it appends.
        let started = Instant::now();
        let rows = |p: &Path| std::fs::read_to_string(p).map(|t| t.matches('\n').count()).unwrap_or(0);
        let before = rows(&journal).max(2);
        while rows(&journal) <= before {
            assert!(started.elapsed() < Duration::from_secs(900), "kill {kill}: no trial finished");
            if let Some(status) = sweep.0.try_wait().unwrap() {
                let mut stderr = String::new();
                std::io::Read::read_to_string(&mut sweep.0.stderr.take().unwrap(), &mut stderr).unwrap();
                panic!("kill {kill}: the sweep ended by itself ({status:?}): {stderr}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(next() % 300));
        send(sweep.0.id(), libc::SIGKILL);
        sweep.0.wait().unwrap();
        let Ok(text) = std::fs::read_to_string(&journal) else { continue };
        // The rows written whole (a torn last one is the resume's to drop).
        let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        let now: Vec<String> = whole.lines().skip(2).map(String::from).collect();
        for row in &held {
            assert!(now.contains(row), "kill {kill}: the finished trial {row:?} was lost");
        }
        held = now;
    }
    assert!(held.len() >= 20, "20 runs, each past a trial of its own, kept only {} trials", held.len());
    // A last resume reads it all back (--max-minutes: it starts no new trial), and loses nothing.
    let out = nnopt_command(&SWEEP)
        .args(["--max-minutes", "0.0001", "--resume", journal.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(text.ends_with('\n'), "the journal ends in a whole row");
    let last: Vec<String> = text.lines().skip(2).map(String::from).collect();
    assert!(held.iter().all(|row| last.contains(row)));
}
