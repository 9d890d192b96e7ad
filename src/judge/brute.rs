//! What `nnopt brute-force`'s counts show: from which dimension on a grid and random search
//! need more evaluations than the cap, and what gradient descent needed at the largest one.

use serde::Serialize;

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
    /// The smallest dimension count at which the grid needs more than the cap.
    pub grid_beyond_cap_from: Option<usize>,
    /// The smallest at which random search did not get there within the cap.
    pub random_beyond_cap_from: Option<usize>,
    /// The largest dimension count and log₁₀ of each search's evaluations there (grid, random,
    /// gradient descent).
    pub largest: Option<(usize, [Option<f64>; 3])>,
    /// Whether gradient descent got there, measured, at every dimension count.
    pub descent_always_within_cap: bool,
}

/// Reads `rows` — each a dimension count and its [grid, random search, gradient descent] — in
/// any order, against the cap.
pub fn verdict(rows: &[(usize, [Searched; 3])], cap: u64) -> Verdict {
    let beyond = |search: usize| rows.iter().filter(|(_, s)| !s[search].within_cap).map(|(d, _)| *d).min();
    let largest = rows.iter().max_by_key(|(d, _)| *d).map(|(d, s)| (*d, s.map(|x| x.log10_evaluations)));
    Verdict {
        cap,
        grid_beyond_cap_from: beyond(0),
        random_beyond_cap_from: beyond(1),
        largest,
        descent_always_within_cap: rows.iter().all(|(_, s)| s[2].within_cap),
    }
}

/// 10^log10 in words: `27`, `1.1e22`.
fn count(log10: Option<f64>) -> String {
    match log10 {
        Some(l) if l < 6.0 => format!("{:.0}", 10f64.powf(l)),
        Some(l) => crate::text::sci(l),
        None => "?".into(),
    }
}

impl Verdict {
    /// The verdict in words.
    pub fn sentences(&self) -> Vec<String> {
        let mut out = Vec::new();
        let cap = self.cap;
        match (self.grid_beyond_cap_from, self.random_beyond_cap_from) {
            (Some(g), Some(r)) => out.push(format!(
                "Brute force is not viable past a few dimensions: the grid needs more than {cap} evaluations from d = {g} \
                 on, random search from d = {r} on, and each added dimension multiplies the count."
            )),
            (Some(g), None) => out.push(format!(
                "The grid needs more than {cap} evaluations from d = {g} on; random search got there within the cap at \
                 every d here."
            )),
            (None, Some(r)) => out.push(format!(
                "Random search did not get there within {cap} evaluations from d = {r} on; the grid did at every d here."
            )),
            (None, None) => out.push(format!(
                "At these dimensions every search got there within {cap} evaluations: brute force is still viable \
                 (try --dims 1,2,10,100)."
            )),
        }
        if let (Some((d, [grid, random, descent])), true) = (self.largest, self.descent_always_within_cap) {
            out.push(format!(
                "Gradient descent got there at every d, with {} gradient steps at d = {d} (the grid: {} points, random \
                 search: {} draws): one gradient points downhill in all {d} dimensions at once.",
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
    fn the_first_dimension_past_the_cap_is_named_for_each_search() {
        let rows = [
            (10, [s(false, 22.0), s(false, 19.6), s(true, 30f64.log10())]),
            (1, [s(true, 1.6), s(true, 1.7), s(true, 1.1)]),
            (2, [s(true, 3.5), s(false, 3.5), s(true, 1.2)]),
        ];
        let v = verdict(&rows, 1000);
        assert_eq!((v.grid_beyond_cap_from, v.random_beyond_cap_from), (Some(10), Some(2)));
        let text = v.sentences().join(" ");
        assert!(
            text.contains("not viable") && text.contains("from d = 10 on, random search from d = 2 on"),
            "{text}"
        );
        assert!(
            text.contains("30 gradient steps at d = 10 (the grid: 1.0e22 points, random search: 4.0e19"),
            "{text}"
        );
    }

    #[test]
    fn within_the_cap_everywhere_brute_force_is_not_called_unviable() {
        let none = Searched { within_cap: false, log10_evaluations: None };
        let v = verdict(&[(1, [s(true, 1.6), s(true, 1.7), none])], 100);
        let text = v.sentences().join(" ");
        assert!(text.contains("still viable") && !text.contains("not viable"), "{text}");
        assert!(!text.contains("Gradient descent got there"), "{text}");
    }
}
