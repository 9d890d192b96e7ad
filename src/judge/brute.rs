//! What `nnopt brute-force`'s counts show: where each search got there within the cap, whether
//! brute force is viable at all (a count past 10¹² evaluations, whatever the cap), and what
//! gradient descent needed at the largest dimension count.

use serde::Serialize;

use crate::text::count_from_log10;

/// Past this many evaluations a search is not viable: 10¹² is hours of a fast computer's work
/// for a function as cheap as a bowl, and a training run per evaluation makes it centuries.
pub const NOT_VIABLE_LOG10: f64 = 12.0;

/// One search at one dimension count, as the judge reads it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Searched {
    /// Run and got within ε inside the cap.
    pub within_cap: bool,
    /// log₁₀ of the evaluations, measured or computed (none where there is no formula).
    pub log10_evaluations: Option<f64>,
}

/// The counts, read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub cap: u64,
    /// Per search (grid, random search, gradient descent): the dimension counts at which it got
    /// there within the cap, and those at which it did not (each in the rows' order).
    pub within_cap: [(Vec<usize>, Vec<usize>); 3],
    /// The smallest dimension count at which the grid or random search needs more than 10¹²
    /// evaluations, with both searches' counts there.
    pub not_viable_from: Option<(usize, [Searched; 3])>,
    /// The largest dimension count and its three searches.
    pub largest: Option<(usize, [Searched; 3])>,
}

/// Reads `rows` — each a dimension count and its [grid, random search, gradient descent].
pub fn verdict(rows: &[(usize, [Searched; 3])], cap: u64) -> Verdict {
    let split = |search: usize| -> (Vec<usize>, Vec<usize>) {
        let (yes, no): (Vec<_>, Vec<_>) = rows.iter().partition(|(_, s)| s[search].within_cap);
        (yes.iter().map(|(d, _)| *d).collect(), no.iter().map(|(d, _)| *d).collect())
    };
    let not_viable_from =
        rows.iter().filter(|(_, s)| too_many(&s[0]) || too_many(&s[1])).min_by_key(|(d, _)| *d).copied();
    Verdict {
        cap,
        within_cap: [split(0), split(1), split(2)],
        not_viable_from,
        largest: rows.iter().max_by_key(|(d, _)| *d).copied(),
    }
}

/// Whether a search's count passes 10¹² evaluations.
fn too_many(s: &Searched) -> bool {
    s.log10_evaluations.is_some_and(|l| l >= NOT_VIABLE_LOG10)
}

/// A search's count at one dimension, labelled as the table labels it.
fn count(s: &Searched) -> String {
    match (s.log10_evaluations, s.within_cap) {
        (Some(l), true) => count_from_log10(l),
        (Some(l), false) => format!("{} (computed)", count_from_log10(l)),
        (None, _) => "an unknown number of".into(),
    }
}

/// `1, 2 and 10`.
fn list(dims: &[usize]) -> String {
    let text: Vec<String> = dims.iter().map(usize::to_string).collect();
    match text.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => text.join(""),
    }
}

impl Verdict {
    /// The verdict in words.
    pub fn sentences(&self) -> Vec<String> {
        let mut out = Vec::new();
        let names = ["the grid", "random search", "gradient descent"];
        let parts: Vec<String> = names
            .iter()
            .zip(&self.within_cap)
            .map(|(name, (yes, no))| match (yes.is_empty(), no.is_empty()) {
                (false, true) => format!("{name} at every d"),
                (true, false) => format!("{name} at no d"),
                _ => format!("{name} at d = {} (not at {})", list(yes), list(no)),
            })
            .collect();
        out.push(format!("Within {} evaluations: {}.", crate::text::group(self.cap), parts.join("; ")));
        match &self.not_viable_from {
            Some((d, [grid, random, _])) => {
                let grid = (format!("the grid needs {} points", count(grid)), too_many(grid));
                let random = (format!("random search needs {} draws", count(random)), too_many(random));
                let (beyond, within): (Vec<_>, Vec<_>) = [grid, random].into_iter().partition(|(_, over)| *over);
                let beyond: Vec<String> = beyond.into_iter().map(|(text, _)| text).collect();
                let within: String = within.into_iter().map(|(text, _)| format!(" ({text})")).collect();
                out.push(format!(
                    "Brute force is not viable past a few dimensions: at d = {d} {}, beyond 10¹² evaluations{within}, \
                     and each added dimension multiplies the count.",
                    beyond.join(" and ")
                ));
            }
            None => out.push(
                "At these dimensions no search needs 10¹² evaluations: brute force is still viable here (try \
                 --dims 1,2,10,100)."
                    .into(),
            ),
        }
        if let (Some((d, [grid, random, descent])), true) = (&self.largest, self.within_cap[2].1.is_empty()) {
            out.push(format!(
                "Gradient descent got there at every d, with {} gradient steps at d = {d} (the grid: {} points, \
                 random search: {} draws): one gradient points downhill in all {d} dimensions at once.",
                count(descent),
                count(grid),
                count(random)
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(within_cap: bool, log10: f64) -> Searched {
        Searched { within_cap, log10_evaluations: Some(log10) }
    }

    #[test]
    fn each_search_is_said_where_it_got_there_and_viability_does_not_hang_on_the_cap() {
        let rows = [
            (1, [s(true, 1.6), s(true, 1.7), s(true, 1.1)]),
            (2, [s(true, 3.5), s(false, 3.5), s(true, 1.2)]),
            (10, [s(false, 22.0), s(false, 19.6), s(true, 30f64.log10())]),
        ];
        let text = verdict(&rows, 1000).sentences().join(" ");
        assert!(text.contains("Within 1 000 evaluations: the grid at d = 1 and 2 (not at 10)"), "{text}");
        assert!(
            text.contains("random search at d = 1 (not at 2 and 10); gradient descent at every d."),
            "{text}"
        );
        assert!(
            text.contains("not viable") && text.contains("at d = 10 the grid needs 1.0e22 (computed) points"),
            "{text}"
        );
        assert!(text.contains("30 gradient steps at d = 10"), "{text}");
        // Only the search past 10¹² is said to be beyond it.
        let six = [(6, [s(false, 12.56), s(false, 11.29), s(true, 1.2)])];
        let text = verdict(&six, 1000).sentences().join(" ");
        assert!(
            text.contains("at d = 6 the grid needs 3.6e12 (computed) points, beyond 10¹² evaluations (random search needs 1.9e11 (computed) draws)"),
            "{text}"
        );
        // A small cap makes every search miss it, yet counts of a few thousand are viable.
        let small = [
            (1, [s(false, 1.7), s(false, 1.7), s(true, 1.1)]),
            (2, [s(false, 3.5), s(false, 3.5), s(true, 1.2)]),
        ];
        let text = verdict(&small, 30).sentences().join(" ");
        assert!(
            text.contains("the grid at no d")
                && text.contains("still viable")
                && !text.contains("not viable"),
            "{text}"
        );
    }

    #[test]
    fn descent_is_credited_only_where_it_got_there_everywhere() {
        let none = Searched { within_cap: false, log10_evaluations: None };
        let text = verdict(&[(1, [s(true, 1.6), s(true, 1.7), none])], 100).sentences().join(" ");
        assert!(!text.contains("Gradient descent got there"), "{text}");
        assert_eq!(list(&[1, 2, 10]), "1, 2 and 10");
        assert_eq!(list(&[7]), "7");
    }
}
