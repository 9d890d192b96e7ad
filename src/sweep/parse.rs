//! The flags' text as a search space: a list (`0.01,0.05`, `32,64,128x64`, `sgd,adam`) or a
//! range (`1e-3..1`, log-uniform with `:log`), each value checked as `train` would check it,
//! errors naming the flag the user typed.

use anyhow::Result;

use super::space::{apply, flag, Domain, Param, Space};
use crate::error::usage;
use crate::train::{OptimizerKind, TrainConfig};

impl Space {
    /// Adds a hyperparameter parsed from its flag's text (here, not in `space.rs`: parsing
    /// depends on the space, never the other way round).
    pub fn add(&mut self, name: &'static str, text: &str) -> Result<()> {
        let domain = parse_domain(name, text)?;
        self.dims.push((name, domain));
        Ok(())
    }
}

/// Parses one flag's value: a list (`a,b,c`) or a range (`lo..hi[:log]`), checked as `train`
/// would check each value, errors naming the flag.
pub fn parse_domain(name: &str, text: &str) -> Result<Domain> {
    let f = flag(name);
    let bad = |why: String| usage(format!("{f} {text}: {why}"));
    let list = |parse: &dyn Fn(&str) -> Result<Param>| -> Result<Vec<Param>> {
        text.split(',').map(|v| parse(v.trim())).collect()
    };
    let number = |s: &str| s.trim().parse::<f64>().map_err(|_| bad(format!("'{s}' is not a number")));
    let domain = match name {
        "hidden" => Domain::Hidden(
            text.split(',')
                .map(|choice| {
                    let widths: Result<Vec<i64>, _> =
                        choice.split('x').map(|w| w.trim().parse::<i64>()).collect();
                    widths.map_err(|_| bad(format!("'{choice}' is not widths like 64 or 256x128")))
                })
                .collect::<Result<_>>()?,
        ),
        "optimizer" => Domain::Optimizers(
            text.split(',')
                .map(|o| match o.trim() {
                    "sgd" => Ok(OptimizerKind::Sgd),
                    "adam" => Ok(OptimizerKind::Adam),
                    other => Err(bad(format!("'{other}' is not an optimizer; use sgd or adam"))),
                })
                .collect::<Result<_>>()?,
        ),
        _ => {
            let int = name == "batch_size";
            let (range, log) = text.strip_suffix(":log").map_or((text, false), |r| (r, true));
            if let Some((lo, hi)) = range.split_once("..") {
                let (lo, hi) = (number(lo)?, number(hi)?);
                if lo >= hi || lo.is_nan() || hi.is_nan() {
                    return Err(bad(format!("the range is empty or reversed ({lo} is not below {hi})")));
                }
                if log && lo <= 0.0 {
                    return Err(bad("a :log range needs a lower end above 0".into()));
                }
                // Integers are drawn from lo to hi inclusive: the ends must be integers, or a
                // draw could land outside the range (2.5..2.7 → 2) or on 0.
                if int && (lo.fract() != 0.0 || hi.fract() != 0.0) {
                    return Err(bad("a range of whole numbers needs whole-number ends, like 32..256".into()));
                }
                check(name, &[Param::Float(lo), Param::Float(hi)])?;
                return Ok(Domain::Range { lo, hi, log, int });
            }
            let values = if int {
                list(&|v| {
                    v.parse::<i64>().map(Param::Int).map_err(|_| bad(format!("'{v}' is not a whole number")))
                })?
            } else {
                list(&|v| number(v).map(Param::Float))?
            };
            let numbers = values.iter().map(|p| p.number().unwrap_or(f64::NAN));
            if int {
                Domain::Ints(numbers.map(|x| x as i64).collect())
            } else {
                Domain::Floats(numbers.collect())
            }
        }
    };
    check(name, &domain.values(1))?;
    Ok(domain)
}

/// Refuses a value `train` would refuse, with train's own message naming the flag.
fn check(name: &str, values: &[Param]) -> Result<()> {
    for value in values {
        let mut config = TrainConfig::default();
        apply(&mut config, name, value);
        if name == "momentum" {
            config.optimizer = OptimizerKind::Sgd;
        }
        config.validate()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_ranges_parse_and_bad_ones_name_their_flag() {
        assert_eq!(parse_domain("lr", "0.01,0.05").unwrap(), Domain::Floats(vec![0.01, 0.05]));
        assert_eq!(
            parse_domain("lr", "1e-3..1:log").unwrap(),
            Domain::Range { lo: 1e-3, hi: 1.0, log: true, int: false }
        );
        assert_eq!(parse_domain("batch_size", "32,64").unwrap(), Domain::Ints(vec![32, 64]));
        assert_eq!(
            parse_domain("hidden", "16,128x64").unwrap(),
            Domain::Hidden(vec![vec![16], vec![128, 64]])
        );
        for (name, text, says) in [
            ("lr", "1..0.1", "empty or reversed"),
            ("lr", "0..1:log", "above 0"),
            ("lr", "0.1,fast", "'fast' is not a number"),
            ("batch_size", "2.5..8", "whole-number ends"),
            ("batch_size", "1.5", "not a whole number"),
            ("weight_decay", "x", "--weight-decay x"),
            ("optimizer", "sgd,rmsprop", "'rmsprop' is not an optimizer"),
        ] {
            let err = parse_domain(name, text).unwrap_err().to_string();
            assert!(err.contains(says) && err.contains(&flag(name)), "{name} {text}: {err}");
        }
    }
}
