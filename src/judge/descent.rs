//! A descent run's verdict in words: one sentence that claims what [`Final`] holds and no
//! more. Each motion, swing, heading and stop has its own clause, so a verdict is never told
//! with another's words (an oscillation with too few turning points once fell through to
//! "crawling").

use crate::descent::report::{fmt_loss, fmt_point};
use crate::descent::surface::Domain;

use super::motion::{Amplitude, Final, Heading, Motion, Oscillation, Stall, Status};

/// What one run did, from `start`, on `domain`.
pub fn sentence(start: &[f64], e: &Final, domain: &Domain) -> String {
    let domain = domain.describe();
    let (from, at) = (fmt_point(start), fmt_point(&e.point));
    let left = match (e.left_domain_at, e.status) {
        (Some(step), status) if status != Status::Diverged => format!("; it left {domain} at step {step}"),
        _ => String::new(),
    };
    let reached = |what: &str| match &e.minimum {
        Some(m) if fmt_point(&m.point) == at => {
            format!("{what} the {} minimum on {domain} at {}", m.kind(), fmt_point(&m.point))
        }
        // At its value, away from its point: a flat minimum, as ⌊x²⌋'s on (−1, 1).
        Some(m) if e.loss <= m.value => {
            format!("{what} the {} minimum's value on {domain} (f = {})", m.kind(), fmt_loss(m.value))
        }
        // Within --tol, or where the gradient fell below it a little off the minimum.
        Some(m) => format!(
            "{what} the {} minimum on {domain} at {} (it stopped at {at}, f = {})",
            m.kind(),
            fmt_point(&m.point),
            fmt_loss(e.loss)
        ),
        None => match &e.near {
            Some(n) => format!(
                "reached no minimum, but ended {:.1e} from the {} minimum at {} (f {:.1e} above its value)",
                n.distance,
                n.minimum.kind(),
                fmt_point(&n.minimum.point),
                n.above
            ),
            None => "reached no minimum".to_string(),
        },
    };
    let text = match e.status {
        Status::Diverged => format!("diverged from {from} at step {} (the point ran away)", e.steps),
        Status::Stalled => {
            let why = match e.stall {
                Some(Stall::Flat) => "the loss is flat there (gradient exactly 0), so no gradient step moves it; a search needs no gradient (--optimizers random-search)",
                Some(Stall::CurvesDown) => "the gradient vanished, yet f still falls along some direction (a maximum or a saddle point, not a minimum)",
                _ => "the gradient vanished away from every minimum (a nearly flat region), so gradient steps no longer move it",
            };
            format!("stalled at {at} from {from}: {why}")
        }
        Status::Converged if e.minimum.is_some() => {
            let swung = match e.swung {
                Some(s) => {
                    format!(
                        ", after swinging around it: it turned back {} times between steps {} and {}",
                        s.turns, s.from, s.to
                    )
                }
                None => String::new(),
            };
            format!("{} from {from}{swung}", reached("converged to"))
        }
        Status::Converged => format!(
            "converged at {at} from {from}: a minimum outside {domain}, where the listed minima say nothing"
        ),
        Status::Searched => {
            let basin = match (&e.basin, &e.minimum) {
                (Some(b), None) => format!(", in the {} minimum's basin", b.kind()),
                _ => String::new(),
            };
            format!(
                "sampled {} point(s); the best is {at} with f = {}{basin}: {}",
                e.steps,
                fmt_loss(e.loss),
                reached("it has")
            )
        }
        Status::MaxSteps => {
            let heading = e.heading.as_ref().map_or(String::new(), |h| format!("; {}", heading(h)));
            format!(
                "ran out of steps at {at} from {from}, {}; {}{heading}",
                doing(e.motion, e.oscillation.as_ref()),
                reached("it is within --tol of")
            )
        }
    };
    text + &left
}

/// What a run out of steps was doing.
fn doing(motion: Option<Motion>, oscillation: Option<&Oscillation>) -> String {
    let between = |o: &Oscillation| match (fmt_point(&o.between[0]), fmt_point(&o.between[1])) {
        // A swing narrower than the printed digits.
        (a, b) if a == b => format!("within the printed digits of {a}"),
        (a, b) => format!("between {a} and {b}"),
    };
    match (motion, oscillation) {
        (Some(Motion::Oscillating), Some(o)) => format!("oscillating {} ({})", between(o), swing(o)),
        (Some(Motion::Oscillating), None) => {
            "oscillating (with too few turning points to say between what)".into()
        }
        (Some(Motion::Descending), Some(o)) => {
            format!("still descending while swinging {} (more --steps would go further)", between(o))
        }
        (Some(Motion::Descending), None) => "still descending (more --steps would go further)".into(),
        (Some(Motion::Climbing), _) => "climbing (the loss rose over its last steps)".into(),
        (Some(Motion::Travelling), _) => {
            "moving on without turning back, its loss rising and falling as it crosses the surface's bumps"
                .into()
        }
        (Some(Motion::Crawling), _) => {
            "crawling (its loss changed by less than 1 % of what is left to fall over its last steps)".into()
        }
        (Some(Motion::Undetermined) | None, _) => "after too few steps to tell what it was doing".into(),
    }
}

/// The swing's size, with the widths it was judged from.
fn swing(o: &Oscillation) -> String {
    // The widths the growth was judged from, not merely the first and the last.
    let (first, last) = super::motion::judged_widths(&o.widths).unwrap_or((0.0, 0.0));
    let (low, high) = o.widths.iter().fold((f64::INFINITY, 0.0f64), |(l, h), &w| (l.min(w), h.max(w)));
    match o.amplitude {
        Amplitude::Growing => format!("its swing growing: {first:.4} to {last:.4} between turning points"),
        Amplitude::Steady => {
            format!("its swing steady, {low:.4} to {high:.4} between turning points: not settling")
        }
        Amplitude::Shrinking => {
            format!("its swing shrinking: {first:.4} to {last:.4} between turning points")
        }
        Amplitude::Varying => {
            let coming = o.next.iter().copied().fold(0.0, f64::max);
            format!(
                "its swing changing size: {first:.4} to {last:.4} between turning points, and continued, its next \
                 swings reach {coming:.4}"
            )
        }
        Amplitude::Undetermined => "too few turning points to tell whether its swing grows or shrinks".into(),
    }
}

/// Where the run goes when it is continued from its whole state.
fn heading(h: &Heading) -> String {
    const CONTINUED: &str = "continued from where it stopped (its point and its optimizer's state)";
    let steps = |n: &usize| if *n == 1 { "1 more step".to_string() } else { format!("{n} more steps") };
    match h {
        Heading::Minimum { minimum, after_steps } => format!(
            "{CONTINUED}, it converges to the {} minimum at {} after {}",
            minimum.kind(),
            fmt_point(&minimum.point),
            steps(after_steps)
        ),
        Heading::Elsewhere { status, point, after_steps } => format!(
            "{CONTINUED}, it {} at {} after {}, at no listed minimum",
            if *status == Status::Stalled { "stalls" } else { "converges" },
            fmt_point(point),
            steps(after_steps)
        ),
        Heading::Away { after_steps } => format!("{CONTINUED}, it diverges after {}", steps(after_steps)),
        Heading::Unknown { steps } => format!(
            "continued for {steps} more steps it does not come to rest, so where it is heading is not known"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descent::surface::Minimum;
    use crate::judge::motion::{Near, Swung};

    fn end(status: Status) -> Final {
        Final {
            point: vec![1.0],
            loss: 1.0,
            steps: 10,
            status,
            motion: None,
            oscillation: None,
            heading: None,
            near: None,
            swung: None,
            stall: None,
            gradient_norm: None,
            minimum: None,
            basin: None,
            left_domain_at: None,
        }
    }

    /// Every variant's sentence and JSON differ from every other's: none borrows another's words.
    #[test]
    fn every_verdict_has_its_own_sentence_and_json() {
        let m = Minimum { point: vec![0.0], value: 0.0, global: true };
        let osc = |amplitude| Oscillation {
            between: [vec![1.0], vec![-1.0]],
            amplitude,
            widths: vec![2.0, 1.0],
            next: vec![1.5],
        };
        let mut finals = Vec::new();
        for motion in [
            Motion::Descending,
            Motion::Oscillating,
            Motion::Crawling,
            Motion::Climbing,
            Motion::Travelling,
            Motion::Undetermined,
        ] {
            finals.push(Final { motion: Some(motion), ..end(Status::MaxSteps) });
        }
        for amplitude in [
            Amplitude::Growing,
            Amplitude::Steady,
            Amplitude::Shrinking,
            Amplitude::Undetermined,
            Amplitude::Varying,
        ] {
            finals.push(Final {
                motion: Some(Motion::Oscillating),
                oscillation: Some(osc(amplitude)),
                ..end(Status::MaxSteps)
            });
        }
        for heading in [
            Heading::Minimum { minimum: m.clone(), after_steps: 3 },
            Heading::Elsewhere { status: Status::Stalled, point: vec![2.0], after_steps: 3 },
            Heading::Elsewhere { status: Status::Converged, point: vec![2.0], after_steps: 3 },
            Heading::Away { after_steps: 3 },
            Heading::Unknown { steps: 3 },
        ] {
            finals.push(Final {
                motion: Some(Motion::Crawling),
                heading: Some(heading),
                ..end(Status::MaxSteps)
            });
        }
        finals.push(Final {
            near: Some(Near { minimum: m.clone(), distance: 1e-5, above: 1e-10 }),
            motion: Some(Motion::Crawling),
            ..end(Status::MaxSteps)
        });
        for stall in [Stall::Flat, Stall::CurvesDown, Stall::NearlyFlat] {
            finals.push(Final { stall: Some(stall), ..end(Status::Stalled) });
        }
        finals.push(end(Status::Diverged));
        finals.push(end(Status::Converged));
        finals.push(Final { minimum: Some(m.clone()), ..end(Status::Converged) });
        finals.push(Final {
            minimum: Some(m.clone()),
            swung: Some(Swung { from: 3, to: 253, turns: 40 }),
            ..end(Status::Converged)
        });
        finals.push(end(Status::Searched));
        let domain = Domain(vec![[-10.0, 10.0]]);
        let sentences: Vec<String> = finals.iter().map(|f| sentence(&[5.0], f, &domain)).collect();
        let json: Vec<String> = finals.iter().map(|f| serde_json::to_string(f).unwrap()).collect();
        for i in 0..finals.len() {
            for j in 0..i {
                assert_ne!(sentences[i], sentences[j], "two verdicts, one sentence");
                assert_ne!(json[i], json[j], "two verdicts, one JSON");
            }
        }
        assert!(sentences[1].contains("too few turning points to say between what"), "{}", sentences[1]);
        assert!(
            !sentences.iter().any(|s| s.contains("diverging")),
            "a growing swing is not called divergence"
        );
    }
}
