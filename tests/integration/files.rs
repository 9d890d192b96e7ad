//! Nothing a user gave is lost: no output over another output or over an input (however the
//! path is spelled), a failed run never replaces a good file, and a sweep's journal survives a
//! crash that tore its last row.

use std::path::Path;

use crate::common::{nnopt, nnopt_command, scratch};

/// `nnopt ARGS` in `dir`.
fn nnopt_in(dir: &Path, args: &[&str]) -> std::process::Output {
    nnopt_command(args).current_dir(dir).output().unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A small MNIST-layout data directory (`dir/data`), for the rows that name its files.
fn data(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    for prefix in ["train", "t10k"] {
        let pixels: Vec<u8> = (0..40 * 784).map(|i| (i * 7 % 256) as u8).collect();
        let labels: Vec<u8> = (0..40).map(|i| i % 4).collect();
        let images = nnopt::data::idx::encode(&[40, 28, 28], &pixels);
        std::fs::write(data.join(format!("{prefix}-images-idx3-ubyte")), images).unwrap();
        let labels = nnopt::data::idx::encode(&[40], &labels);
        std::fs::write(data.join(format!("{prefix}-labels-idx1-ubyte")), labels).unwrap();
    }
    data
}

/// Every way to name one file twice — two outputs, or an output and an input; spelled the same,
/// with `./`, through a symbolic link, a hard link or `..` — is a usage error naming both flags,
/// and no file is touched.
#[test]
fn one_file_named_twice_is_refused_naming_both_flags() {
    let dir = scratch("files_named_twice");
    data(&dir);
    for (name, bytes) in [("jr.csv", "a journal\n"), ("w.safetensors", "weights"), ("i.png", "picture")] {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    std::os::unix::fs::symlink("w.safetensors", dir.join("link.safetensors")).unwrap();
    std::fs::hard_link(dir.join("w.safetensors"), dir.join("hard.safetensors")).unwrap();
    std::fs::create_dir(dir.join("sub")).unwrap();
    let sweep = ["sweep", "--data", "synthetic:300,50", "--lr", "0.1", "--epochs", "1"];
    let train = ["train", "--data", "synthetic:300,50", "--epochs", "1"];
    #[rustfmt::skip]
    let rows: Vec<(Vec<&str>, [&str; 2])> = vec![
        (vec!["--csv", "new.csv", "--save-best", "new.csv"], ["--csv", "--save-best"]),
        (vec!["--resume", "jr.csv", "--save-best", "jr.csv"], ["--resume", "--save-best"]),
        (vec!["--resume", "jr.csv", "--plot", "x.svg", "--csv", "x.svg"], ["--csv", "--plot"]),
        (vec!["--save", "m.csv", "--metrics", "m.csv", "--confusion-csv", "m.csv"], ["--save", "--metrics"]),
        (vec!["--save", "x.safetensors", "--metrics", "./x.safetensors"], ["--save", "--metrics"]),
        (vec!["--plot", "a.png", "--confusion", "a.png"], ["--plot", "--confusion"]),
        (vec!["--metrics", "sub/../m.csv", "--confusion-csv", "m.csv"], ["--metrics", "--confusion-csv"]),
        (vec!["--save", "w.safetensors", "--metrics", "link.safetensors"], ["--save", "--metrics"]),
        (vec!["--save", "w.safetensors", "--metrics", "hard.safetensors"], ["--save", "--metrics"]),
    ];
    let mut failures = Vec::new();
    let mut check = |args: Vec<&str>, flags: [&str; 2]| {
        let before: Vec<(String, Vec<u8>)> = ["jr.csv", "w.safetensors", "i.png"]
            .iter()
            .map(|n| (n.to_string(), std::fs::read(dir.join(n)).unwrap()))
            .collect();
        let out = nnopt_in(&dir, &args);
        let err = stderr(&out);
        if out.status.code() != Some(2) || !flags.iter().all(|f| err.contains(f)) || err.lines().count() != 1
        {
            failures.push(format!("{args:?}: exit {:?}: {err}", out.status.code()));
        }
        for (name, bytes) in before {
            if std::fs::read(dir.join(&name)).unwrap() != bytes {
                failures.push(format!("{args:?} changed {name}"));
            }
        }
        for made in ["new.csv", "m.csv", "x.safetensors", "a.png", "x.svg"] {
            if dir.join(made).exists() {
                failures.push(format!("{args:?} wrote {made}"));
            }
        }
    };
    for (flags_args, flags) in rows {
        let base: &[&str] =
            if flags_args[0] == "--csv" || flags_args[0] == "--resume" { &sweep } else { &train };
        check(base.iter().copied().chain(flags_args).collect(), flags);
    }
    // Outputs over inputs, in the other commands.
    check(
        vec!["train", "--data", "data", "--epochs", "1", "--metrics", "data/train-labels-idx1-ubyte"],
        ["--data", "--metrics"],
    );
    check(
        vec!["predict", "--weights", "w.safetensors", "--index", "0", "--csv", "w.safetensors"],
        ["--weights", "--csv"],
    );
    check(
        vec!["predict", "--weights", "link.safetensors", "--index", "0", "--csv", "w.safetensors"],
        ["--weights", "--csv"],
    );
    check(
        vec!["predict", "--weights", "w.safetensors", "--image", "i.png", "--plot", "i.png"],
        ["--image", "--plot"],
    );
    check(vec!["mlp", "--csv", "x.svg", "--plot", "x.svg"], ["--csv", "--plot"]);
    check(
        vec!["autograd", "--graph-dot", "x.svg", "--graph-image", "x.svg"],
        ["--graph-dot", "--graph-image"],
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A run that diverges exits 1 and leaves an existing `--save` file byte for byte as it was
/// (it says so); where none existed it writes none.
#[test]
fn a_diverged_run_leaves_the_saved_weights_as_they_were() {
    let dir = scratch("files_diverged");
    let w = dir.join("w.safetensors");
    let ws = w.to_str().unwrap();
    let train = ["train", "--data", "synthetic:600,100", "--batch-size", "32"];
    let good = nnopt(&[&train[..], &["--epochs", "1", "--save", ws]].concat());
    assert!(good.status.success(), "{}", stderr(&good));
    let before = std::fs::read(&w).unwrap();
    let bad = nnopt(&[&train[..], &["--epochs", "3", "--lr", "1e4", "--save", ws]].concat());
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("--save") && stderr(&bad).contains("was not written"), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("the file there was left as it was"), "{}", stderr(&bad));
    assert_eq!(std::fs::read(&w).unwrap(), before, "the good weights were replaced");
    let fresh = dir.join("fresh.safetensors");
    let bad =
        nnopt(&[&train[..], &["--epochs", "3", "--lr", "1e4", "--save", fresh.to_str().unwrap()]].concat());
    assert_eq!(bad.status.code(), Some(1));
    assert!(!fresh.exists(), "a diverged run wrote weights");
}

/// The sweep's grid over `lrs`, one epoch a trial, in `dir`.
fn sweep_in(dir: &Path, lrs: &str, files: &[&str]) -> std::process::Output {
    let args = ["sweep", "--strategy", "grid", "--data", "synthetic:600,100", "--epochs", "1", "--lr", lrs];
    nnopt_in(dir, &[&args[..], files].concat())
}

/// The journal's rows after its two heading lines.
fn rows(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().skip(2).map(String::from).collect()
}

#[test]
fn resume_and_csv_naming_one_file_continue_it() {
    let dir = scratch("files_resume_same");
    let first = sweep_in(&dir, "0.1,0.2", &["--csv", "r.csv"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let before = rows(&dir.join("r.csv"));
    assert_eq!(before.len(), 2);
    let again = sweep_in(&dir, "0.1,0.2,0.3", &["--resume", "./r.csv", "--csv", "r.csv"]);
    assert!(again.status.success(), "{}", stderr(&again));
    let after = rows(&dir.join("r.csv"));
    assert_eq!(after.len(), 3, "{after:?}");
    assert_eq!(after[..2], before[..], "the finished trials' rows stand");
}

/// An empty journal, or one cut inside its heading, records no trial: `--csv` takes an empty one
/// as new, `--resume` says so and runs every trial. A file that is not a journal is refused untouched.
#[test]
fn empty_and_heading_only_journals_start_over_and_others_are_refused() {
    let dir = scratch("files_empty_journal");
    std::fs::write(dir.join("e.csv"), "").unwrap();
    let out = sweep_in(&dir, "0.1", &["--csv", "e.csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(rows(&dir.join("e.csv")).len(), 1);
    let identity = std::fs::read_to_string(dir.join("e.csv")).unwrap().lines().next().unwrap().to_string();
    for (name, text) in [
        ("empty.csv", String::new()),
        ("identity.csv", format!("{identity}\n")),
        ("cut.csv", format!("{identity}\nlr,budg")),
        ("heading.csv", format!("{identity}\nlr,{}\n", nnopt::sweep::journal::CSV_TAIL.join(","))),
    ] {
        std::fs::write(dir.join(name), &text).unwrap();
        let out = sweep_in(&dir, "0.1", &["--resume", name]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        if name != "heading.csv" {
            assert!(stderr(&out).contains("records no finished trial"), "{name}: {}", stderr(&out));
        }
        let after = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(after.starts_with(&format!("{identity}\nlr,budget_epochs")), "{name}: {after}");
        assert_eq!(rows(&dir.join(name)).len(), 1, "{name}: {after}");
    }
    std::fs::write(dir.join("notes.txt"), "my notes, no newline").unwrap();
    let out = sweep_in(&dir, "0.1", &["--resume", "notes.txt"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("not a sweep journal"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(dir.join("notes.txt")).unwrap(), "my notes, no newline");
}

/// A crash that tore the last row (no newline, or fewer cells) loses only that row: `--resume`
/// drops it with a note, trains that configuration again, and every other row stands. A
/// malformed row elsewhere is still refused, the file untouched.
#[test]
fn a_torn_last_row_is_dropped_and_trained_again() {
    let dir = scratch("files_torn_journal");
    let first = sweep_in(&dir, "0.1,0.2,0.3", &["--csv", "j.csv"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let whole = std::fs::read_to_string(dir.join("j.csv")).unwrap();
    let kept = rows(&dir.join("j.csv"))[..2].to_vec();
    let last = whole.trim_end().rsplit('\n').next().unwrap().to_string();
    let head = &whole[..whole.len() - last.len() - 1];
    let cells: Vec<&str> = last.split(',').collect();
    for (case, torn) in [
        ("no newline", format!("{head}{}", &last[..last.len() - 3])),
        ("no newline, whole cells", format!("{head}{last}")),
        ("fewer cells", format!("{head}{}\n", cells[..3].join(","))),
    ] {
        let path = dir.join("t.csv");
        std::fs::write(&path, &torn).unwrap();
        let out = sweep_in(&dir, "0.1,0.2,0.3", &["--resume", "t.csv"]);
        let err = stderr(&out);
        assert!(out.status.success(), "{case}: {err}");
        assert!(err.contains("cut short") && err.contains("trained again"), "{case}: {err}");
        let after = rows(&path);
        assert_eq!(after.len(), 3, "{case}: {after:?}");
        assert_eq!(after[..2], kept[..], "{case}: the finished rows stand");
        assert!(after[2].starts_with("0.3,"), "{case}: {after:?}");
        // And the journal resumes cleanly again: nothing glued, nothing torn.
        let out = sweep_in(&dir, "0.1,0.2,0.3", &["--resume", "t.csv"]);
        assert!(out.status.success() && !stderr(&out).contains("cut short"), "{case}: {}", stderr(&out));
    }
    let broken = whole.replacen(&kept[0], "0.1,1,1,x,0.5,ok,1", 1);
    std::fs::write(dir.join("b.csv"), &broken).unwrap();
    let out = sweep_in(&dir, "0.1,0.2,0.3", &["--resume", "b.csv"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("row 3 is malformed"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(dir.join("b.csv")).unwrap(), broken);
}
