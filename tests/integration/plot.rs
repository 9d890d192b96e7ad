//! Pictures: every plotting command writes a PNG of the requested size that decodes and is not
//! one colour, and well-formed SVG; a failed run writes no picture; the terminal chart shows on
//! a terminal and never in piped output.

use std::path::Path;

use crate::common::{nnopt, nnopt_ok, scratch};

/// Decodes a PNG: (width, height, distinct colours seen).
fn decode(path: &Path) -> (u32, u32, usize) {
    let decoder =
        png::Decoder::new(std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let colours: std::collections::HashSet<&[u8]> = buf[..info.buffer_size()].chunks(3).collect();
    (info.width, info.height, colours.len())
}

fn assert_picture(path: &Path, width: u32, height: u32) {
    let (w, h, colours) = decode(path);
    assert_eq!((w, h), (width, height), "{}", path.display());
    assert!(colours > 20, "{}: only {colours} colours, nearly blank", path.display());
}

fn assert_svg(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"), "{}", path.display());
    assert!(text.contains("<text"), "{}: the SVG has no labels", path.display());
    assert!(
        text.matches("<rect").count() + text.matches("<polyline").count() + text.matches("<circle").count()
            > 10,
        "{}: nearly empty",
        path.display()
    );
}

#[test]
fn every_command_draws_png_and_svg() {
    let dir = scratch("plots");
    let p = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let w = p("w.safetensors");
    // (command line, pictures it writes with their sizes)
    type Case = (Vec<String>, Vec<(String, u32, u32)>);
    let cases: Vec<Case> = vec![
        (
            vec!["perceptron".into(), "--plot".into(), p("perceptron.png")],
            vec![(p("perceptron.png"), 900, 760)],
        ),
        (
            vec![
                "train".into(),
                "--data".into(),
                "synthetic:1000,200".into(),
                "--epochs".into(),
                "2".into(),
                "--save".into(),
                w.clone(),
                "--plot".into(),
                p("train.png"),
                "--confusion".into(),
                p("confusion.png"),
            ],
            vec![(p("train.png"), 900, 760), (p("confusion.png"), 900, 820)],
        ),
        (vec!["descent".into(), "--plot".into(), p("descent.png")], vec![(p("descent.png"), 1600, 720)]),
        (
            vec![
                "descent".into(),
                "--surface".into(),
                "rosenbrock".into(),
                "--steps".into(),
                "300".into(),
                "--plot".into(),
                p("rosen.png"),
            ],
            vec![(p("rosen.png"), 1600, 720)],
        ),
        (
            vec![
                "sweep".into(),
                "--data".into(),
                "synthetic:1000,200".into(),
                "--trials".into(),
                "4".into(),
                "--epochs".into(),
                "4".into(),
                "--strategy".into(),
                "halving".into(),
                "--plot".into(),
                p("sweep.png"),
            ],
            // Two hyperparameter panels and halving's rungs.
            vec![(p("sweep.png"), 900, 1020)],
        ),
        (
            vec!["mlp".into(), "--plot".into(), p("mlp.png"), "--graph-image".into(), p("graph.png")],
            vec![(p("mlp.png"), 1548, 308)],
        ),
        (vec!["autograd".into(), "--graph-image".into(), p("autograd-graph.png")], vec![]),
        (
            vec![
                "predict".into(),
                "--weights".into(),
                w.clone(),
                "--index".into(),
                "3".into(),
                "--plot".into(),
                p("predict.png"),
            ],
            vec![(p("predict.png"), 1100, 420)],
        ),
    ];
    for (args, pictures) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        nnopt_ok(&[&["--device", "cpu", "-q"], &args[..]].concat());
        for (path, width, height) in pictures {
            assert_picture(Path::new(path), *width, *height);
        }
        // The same command with .svg instead.
        let svg_args: Vec<String> = args.iter().map(|a| a.replace(".png", ".svg")).collect();
        let svg_args: Vec<&str> = svg_args.iter().map(String::as_str).collect();
        nnopt_ok(&[&["--device", "cpu", "-q"], &svg_args[..]].concat());
        for (path, _, _) in pictures {
            assert_svg(Path::new(&path.replace(".png", ".svg")));
        }
    }
    // The numbers behind the mlp picture are one flag away.
    let csv = dir.join("fc1.csv");
    nnopt_ok(&["--device", "cpu", "-q", "mlp", "--csv", csv.to_str().unwrap()]);
    let rows: Vec<String> = std::fs::read_to_string(&csv).unwrap().lines().map(String::from).collect();
    assert_eq!(rows[0], "unit,pixel,before,after");
    assert_eq!(rows.len(), 1 + 32 * 784);
    // The graph pictures' sizes follow the graph; both are real pictures in both formats.
    for name in ["graph", "autograd-graph"] {
        let (gw, gh, colours) = decode(&dir.join(format!("{name}.png")));
        assert!(gw >= 600 && gh > 300 && colours > 20, "{name} picture {gw}×{gh}");
        assert_svg(&dir.join(format!("{name}.svg")));
    }
    // The numbers behind predict's bars and train's confusion heat map, as CSV.
    let probs = dir.join("probs.csv");
    nnopt_ok(&[
        "--device",
        "cpu",
        "-q",
        "predict",
        "--weights",
        &w,
        "--index",
        "3",
        "--csv",
        probs.to_str().unwrap(),
    ]);
    let probs = std::fs::read_to_string(&probs).unwrap();
    let rows: Vec<&str> = probs.lines().collect();
    assert_eq!(rows[0], "class,name,probability,predicted");
    assert_eq!(rows.len(), 11, "{probs}");
    let total: f64 = rows[1..].iter().map(|r| r.split(',').nth(2).unwrap().parse::<f64>().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-5, "probabilities sum to {total}");
    assert_eq!(rows[1..].iter().filter(|r| r.ends_with(",true")).count(), 1, "{probs}");
    let confusion = dir.join("confusion.csv");
    nnopt_ok(&[
        "--device",
        "cpu",
        "-q",
        "train",
        "--data",
        "synthetic:1000,200",
        "--epochs",
        "1",
        "--confusion-csv",
        confusion.to_str().unwrap(),
    ]);
    let confusion = std::fs::read_to_string(&confusion).unwrap();
    let rows: Vec<&str> = confusion.lines().collect();
    assert_eq!(rows[0], "true\\predicted,0,1,2,3,4,5,6,7,8,9");
    let counted: i64 =
        rows[1..].iter().flat_map(|r| r.split(',').skip(1)).map(|v| v.parse::<i64>().unwrap()).sum();
    assert_eq!((rows.len(), counted), (11, 200), "every test image counted once:\n{confusion}");
}

#[test]
fn a_failed_run_draws_nothing_and_bad_paths_fail_first() {
    let dir = scratch("plots_fail");
    let picture = dir.join("never.png");
    // Diverges: exit 1, and no picture, not even half of one.
    let out = nnopt(&["--device", "cpu", "perceptron", "--lr", "1e30", "--plot", picture.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!picture.exists());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "no temporary file left either");
    // A path that cannot be written (no such directory; a directory that takes no new file:
    // /sys, even for root), or a format nnopt does not draw, fails before any work.
    for (path, expected) in [
        ("/no/such/dir/p.png", "does not exist"),
        ("/sys/nnopt-p.png", "cannot create a file in /sys"),
        ("plot.jpg", ".png or .svg"),
    ] {
        let out = nnopt(&["--device", "cpu", "train", "--epochs", "50", "--plot", path]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(expected) && !stderr.contains("loading"), "{stderr}");
    }
    // One unwritable output among several: nothing is written, not even the good ones.
    let graph = dir.join("graph.png");
    let out =
        nnopt(&["--device", "cpu", "mlp", "--graph-image", graph.to_str().unwrap(), "--plot", "/sys/m.png"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!graph.exists(), "a picture from a run that failed");
    // A sweep where no trial succeeds (lr 1e6 and 1e7), with `extra` flags.
    let sweep = dir.join("sweep.png");
    let best = dir.join("best.safetensors");
    let failing_sweep = |extra: &[&str]| {
        let base = ["--device", "cpu", "sweep", "--data", "synthetic:500,100", "--epochs", "1"];
        let search = ["--strategy", "grid", "--lr", "1e6,1e7", "--optimizer", "sgd"];
        nnopt(&[&base[..], &search[..], &["--plot", sweep.to_str().unwrap()][..], extra].concat())
    };
    // It cannot deliver --save-best: it fails, without a picture or weights.
    let out = failing_sweep(&["--save-best", best.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!sweep.exists() && !best.exists(), "files from a sweep that failed");
    // Without --save-best the sweep reports its failures and exits 0, but still draws nothing.
    let out = failing_sweep(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("no trial succeeded, so --plot") && !sweep.exists(), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("no trial succeeded ("));
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "no temporary file left either");
}

#[test]
fn the_terminal_chart_shows_on_a_terminal_only() {
    let bin = env!("CARGO_BIN_EXE_nnopt");
    // `script` gives the command a pseudo-terminal for stdout.
    let out = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &format!("{bin} --device cpu perceptron --epochs 30"), "/dev/null"])
        .env_remove("RUST_BACKTRACE")
        .output();
    let Ok(out) = out else {
        eprintln!(
            "SKIPPED the_terminal_chart_shows_on_a_terminal_only: util-linux `script` is not installed"
        );
        return;
    };
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(tty.contains("loss ") && tty.contains('▁'), "no chart on a terminal:\n{tty}");
    // train and descent end with theirs too.
    for (command, label) in [
        ("train --data synthetic:500,100 --epochs 3", "train loss"),
        ("descent --optimizers gd,momentum", "momentum f"),
    ] {
        let out = std::process::Command::new("script")
            .args(["-q", "-e", "-c", &format!("{bin} --device cpu {command}"), "/dev/null"])
            .output()
            .unwrap();
        let tty = String::from_utf8_lossy(&out.stdout);
        assert!(tty.contains(label) && tty.contains('▁'), "no chart for {command} on a terminal:\n{tty}");
        let piped = nnopt_ok(&[&["--device", "cpu"], &command.split(' ').collect::<Vec<_>>()[..]].concat());
        assert!(!piped.contains('▁') && !piped.contains('█'), "a chart in piped output of {command}");
    }
    let piped = nnopt_ok(&["--device", "cpu", "perceptron", "--epochs", "30"]);
    assert!(!piped.contains('▁') && !piped.contains('█'), "a chart in piped output");
    // On a terminal too, --json and --quiet print no chart.
    for flag in ["--json", "--quiet"] {
        let out = std::process::Command::new("script")
            .args([
                "-q",
                "-e",
                "-c",
                &format!("{bin} --device cpu {flag} perceptron --epochs 30"),
                "/dev/null",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains('▁') && !text.contains('█'), "a chart with {flag} on a terminal:\n{text}");
    }
}
