//! The code behind the numbers: for each notebook part, the PyTorch a learner would write and the
//! plain tch a Rust reader would write — not nnopt's optimised kernels — each a program that
//! prints the numbers nnopt prints for the same seed (`scripts/parity.sh` runs both and compares).
//! `--code` shows them whole; the tour shows the few lines that do the work.
//!
//! The files live under `examples/` (`examples/pytorch/*.py`, `examples/tch_*.rs`) and are
//! compiled into the binary from there, so what `--code` shows is what CI runs.

use serde::Serialize;

/// A notebook part with code to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Listing {
    Perceptron,
    Autograd,
    Mlp,
    Train,
}

/// One program: where it is in the repository, its text, and how to run it.
#[derive(Debug, Clone, Serialize)]
pub struct Program {
    pub path: &'static str,
    pub run: String,
    pub source: &'static str,
}

/// The two programs for a part, and the nnopt command whose numbers they print.
#[derive(Debug, Clone, Serialize)]
pub struct Code {
    pub listing: Listing,
    pub pytorch: Program,
    pub tch: Program,
    /// The nnopt command printing the same numbers.
    pub same_numbers_as: String,
}

impl Listing {
    /// The programs, with the run commands for `seed` where the program takes one.
    pub fn code(self, seed: u64) -> Code {
        let (py_path, pytorch, tch_path, tch, args, nnopt) = match self {
            Listing::Perceptron => (
                "examples/pytorch/perceptron.py",
                include_str!("../examples/pytorch/perceptron.py"),
                "examples/tch_perceptron.rs",
                include_str!("../examples/tch_perceptron.rs"),
                format!(" {seed}"),
                format!("nnopt perceptron --seed {seed}"),
            ),
            Listing::Autograd => (
                "examples/pytorch/autograd.py",
                include_str!("../examples/pytorch/autograd.py"),
                "examples/tch_autograd.rs",
                include_str!("../examples/tch_autograd.rs"),
                String::new(),
                "nnopt autograd".to_string(),
            ),
            Listing::Mlp => (
                "examples/pytorch/mlp.py",
                include_str!("../examples/pytorch/mlp.py"),
                "examples/tch_mlp.rs",
                include_str!("../examples/tch_mlp.rs"),
                format!(" {seed}"),
                format!("nnopt mlp --seed {seed}"),
            ),
            Listing::Train => (
                "examples/pytorch/train.py",
                include_str!("../examples/pytorch/train.py"),
                "examples/tch_train.rs",
                include_str!("../examples/tch_train.rs"),
                " 1".to_string(),
                "nnopt train --data fashion --epochs 1 --momentum 0 --weight-decay 0 --schedule constant"
                    .to_string(),
            ),
        };
        let example = tch_path.trim_start_matches("examples/").trim_end_matches(".rs");
        Code {
            listing: self,
            pytorch: Program { path: py_path, run: format!("python3 {py_path}{args}"), source: pytorch },
            tch: Program {
                path: tch_path,
                run: match args.is_empty() {
                    true => format!("cargo run --release --example {example}"),
                    false => format!("cargo run --release --example {example} --{args}"),
                },
                source: tch,
            },
            same_numbers_as: nnopt,
        }
    }

    /// The few lines of each program that do the work (the tour shows them): from the first
    /// line holding the marker, as many lines as the step takes.
    pub fn excerpt(self) -> (String, String) {
        let code = self.code(0);
        let (py, rs) = match self {
            Listing::Perceptron => (("for epoch in range", 7), ("for _epoch in 0..epochs", 10)),
            Listing::Autograd => (("w = torch.tensor", 4), ("let w = ", 5)),
            Listing::Mlp => (("optimizer.zero_grad()", 6), ("optimizer.zero_grad()", 6)),
            Listing::Train => (("for epoch in range", 7), ("for _epoch in 0..epochs", 12)),
        };
        (lines_from(code.pytorch.source, py), lines_from(code.tch.source, rs))
    }
}

/// `count` lines of `source` from the first holding `marker`, their common indent removed.
fn lines_from(source: &str, (marker, count): (&str, usize)) -> String {
    let lines: Vec<&str> = source.lines().skip_while(|l| !l.contains(marker)).take(count).collect();
    let indent = lines.iter().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min();
    lines.iter().map(|l| l.get(indent.unwrap_or(0)..).unwrap_or("").trim_end()).collect::<Vec<_>>().join("\n")
}

/// `--code`'s text: both programs whole, each with the command that runs it, and what they
/// compute against the run printed below them: the same numbers, or — where `differs` names
/// flags this run set otherwise — not.
pub fn render(code: &Code, differs: &[String]) -> String {
    let rule = "─".repeat(72);
    let below = match differs {
        [] => "below, what nnopt prints for it.".to_string(),
        _ => format!("this run sets {} otherwise, so the numbers below are not theirs.", differs.join(", ")),
    };
    format!(
        "── PyTorch: {} ── run: {}\n{}\n── tch (Rust): {} ── run: {}\n{}\n{rule}\nBoth print the numbers of `{}`; {below}\n{rule}\n",
        code.pytorch.path,
        code.pytorch.run,
        code.pytorch.source.trim_end(),
        code.tch.path,
        code.tch.run,
        code.tch.source.trim_end(),
        code.same_numbers_as
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Listing; 4] = [Listing::Perceptron, Listing::Autograd, Listing::Mlp, Listing::Train];

    /// Each excerpt is the step itself: the calls a learner must see, as many lines as asked.
    #[test]
    fn each_excerpt_holds_the_step() {
        let wanted: [(&[&str], &[&str]); 4] = [
            (&["w += lr * error", "b += lr * error"], &["w += &error * lr", "b += &error * lr"]),
            (&["torch.autograd.grad(a, (w, b))"], &["run_backward"]),
            (&["loss.backward()", "optimizer.step()"], &["loss.backward()", "optimizer.step()"]),
            (&["loss.backward()", "optimizer.step()"], &["backward_step(&loss)"]),
        ];
        for (listing, (py, rs)) in ALL.into_iter().zip(wanted) {
            let (pytorch, tch) = listing.excerpt();
            for call in py {
                assert!(pytorch.contains(call), "{listing:?}: {call} not in\n{pytorch}");
            }
            for call in rs {
                assert!(tch.contains(call), "{listing:?}: {call} not in\n{tch}");
            }
            assert!(!pytorch.starts_with(' ') && !tch.starts_with(' '), "{listing:?}: indent kept");
        }
    }

    #[test]
    fn the_rendering_shows_both_programs_whole_with_their_commands() {
        for listing in ALL {
            let code = listing.code(3);
            let text = render(&code, &[]);
            assert!(
                text.contains(code.pytorch.source.trim_end()) && text.contains(code.tch.source.trim_end())
            );
            assert!(text.contains(&code.pytorch.run) && text.contains(&code.tch.run));
            assert!(code.tch.run.starts_with("cargo run --release --example tch_"), "{}", code.tch.run);
        }
        assert!(Listing::Perceptron.code(3).pytorch.run.ends_with("perceptron.py 3"));
        let other = render(&Listing::Mlp.code(0), &["--lr 0.3".into(), "--hidden 100".into()]);
        assert!(other
            .contains("this run sets --lr 0.3, --hidden 100 otherwise, so the numbers below are not theirs"));
        assert!(render(&Listing::Mlp.code(0), &[]).contains("below, what nnopt prints for it."));
    }
}
