//! How large a run the page may ask for. The lab checks every request with the command line's
//! own parser and validation first (the same one-line messages), then with these bounds, which
//! the command line does not have: a page is one click away from a thousand epochs, and a
//! server should answer the next request too. Each bound names the command that has none.

use anyhow::Result;

use crate::error::usage;

/// A request's body, in bytes.
pub const MAX_BODY: usize = 16 * 1024;
/// Arguments in one request's command line, and characters in each.
pub const MAX_ARGS: usize = 64;
pub const MAX_ARG_LEN: usize = 256;
/// `perceptron --epochs` and `--samples`.
pub const MAX_PERCEPTRON_EPOCHS: usize = 10_000;
pub const MAX_PERCEPTRON_SAMPLES: usize = 10_000;
/// `train --epochs`, and `sweep --epochs` per trial.
pub const MAX_EPOCHS: usize = 100;
/// Trainings in one sweep: its trials, the grid's points, each repeated `--repeats` times.
pub const MAX_TRIALS: usize = 256;
/// `sweep --population`: networks trained at once.
pub const MAX_POPULATION: usize = 64;
/// Units in one hidden layer, and hidden layers.
pub const MAX_WIDTH: usize = 4_096;
pub const MAX_LAYERS: usize = 8;

/// One bounded value of a request: its flag, the value asked for, the lab's bound.
pub struct Bounded<'a> {
    pub flag: &'a str,
    pub value: usize,
    pub max: usize,
}

/// The first value above its bound, as the command line words a refused value, naming the
/// command that runs it unbounded.
pub fn check(command: &str, values: &[Bounded]) -> Result<()> {
    match values.iter().find(|b| b.value > b.max) {
        Some(b) => Err(usage(format!(
            "{} {}: the lab runs at most {}; run `nnopt {command}` on the command line for more",
            b.flag, b.value, b.max
        ))),
        None => Ok(()),
    }
}

/// A request's command line: at most [`MAX_ARGS`] arguments of [`MAX_ARG_LEN`] characters.
pub fn check_args(args: &[String]) -> Result<()> {
    if args.len() > MAX_ARGS {
        return Err(usage(format!("{} arguments: the lab takes at most {MAX_ARGS}", args.len())));
    }
    match args.iter().find(|a| a.chars().count() > MAX_ARG_LEN) {
        Some(a) => Err(usage(format!(
            "an argument of {} characters ({}…): the lab takes at most {MAX_ARG_LEN}",
            a.chars().count(),
            a.chars().take(20).collect::<String>()
        ))),
        None => Ok(()),
    }
}

/// Hidden widths (`--hidden 128,64`): how many layers, and each layer's units. A width below 1
/// is left to the command's own validation to refuse.
pub fn check_hidden(command: &str, flag: &str, widths: &[i64]) -> Result<()> {
    let widths: Vec<usize> = widths.iter().map(|&w| w.max(0) as usize).collect();
    let mut values = vec![Bounded { flag, value: widths.len(), max: MAX_LAYERS }];
    values.extend(widths.iter().map(|&w| Bounded { flag, value: w, max: MAX_WIDTH }));
    check(command, &values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_value_over_its_bound_is_refused_by_name() {
        let ok = [Bounded { flag: "--epochs", value: 100, max: MAX_EPOCHS }];
        assert!(check("train", &ok).is_ok());
        let over = [ok[0].clone_with(101), Bounded { flag: "--trials", value: 9_999, max: MAX_TRIALS }];
        let e = check("train", &over).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--epochs 101: the lab runs at most 100; run `nnopt train` on the command line for more"
        );
        assert_eq!(crate::error::exit_code(&e), 2);
    }

    #[test]
    fn command_lines_and_hidden_widths_are_bounded() {
        assert!(check_args(&vec!["--lr".to_string(); MAX_ARGS]).is_ok());
        assert!(check_args(&vec!["--lr".to_string(); MAX_ARGS + 1])
            .unwrap_err()
            .to_string()
            .contains("at most 64"));
        assert!(check_args(&["x".repeat(MAX_ARG_LEN + 1)]).is_err());
        assert!(check_hidden("train", "--hidden", &[128, 64]).is_ok());
        assert!(check_hidden("train", "--hidden", &[100_000])
            .unwrap_err()
            .to_string()
            .starts_with("--hidden 100000"));
        assert!(check_hidden("train", "--hidden", &[8; 9])
            .unwrap_err()
            .to_string()
            .starts_with("--hidden 9"));
    }

    impl Bounded<'_> {
        fn clone_with(&self, value: usize) -> Self {
            Bounded { flag: self.flag, value, max: self.max }
        }
    }
}
