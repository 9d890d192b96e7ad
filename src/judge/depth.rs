//! What `nnopt depth`'s numbers show, in words: which networks learned and which sat at chance,
//! whether the gradient vanished on its way back to the first layer, how many hidden units
//! never turned on, and whether each remedy helped the deep network — each finding carrying the
//! numbers it was read from.

use serde::Serialize;

use super::chance::ChanceBound;

/// One trained network's numbers, as the judge reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct Trained<'a> {
    pub name: &'a str,
    /// Layer widths, input and output included.
    pub widths: &'a [i64],
    pub momentum: f64,
    /// ‖∂L/∂W‖ per layer, fc1 first, over the first steps.
    pub gradient_norms: &'a [f64],
    /// Per hidden layer: [never-active units, width].
    pub dead_units: &'a [[i64; 2]],
    pub final_loss: f64,
    pub test_accuracy: f64,
}

/// The smallest earlier layer's gradient against the last layer's: below 1/100 it has vanished,
/// below 1/2 it shrinks, up to ×2 it keeps its size, beyond that it grows.
pub const VANISHED: f64 = 0.01;
pub const SHRUNK: f64 = 0.5;
pub const GROWN: f64 = 2.0;
/// A loss within 5 % of ln(classes) is where equal probabilities put it; further above, the
/// network does worse than that.
pub const NEAR_CHANCE_LOSS: f64 = 0.05;
/// A remedy helps (or hurts) when the test accuracy moves by at least 5 points: far beyond the
/// binomial noise of 10 000 test images (±0.9 points at 95 %) and the few points seeds move it.
pub const EFFECT: f64 = 0.05;

/// How the gradient's size changed from the last layer back to the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GradientSize {
    Vanishes,
    Shrinks,
    Keeps,
    Grows,
}

/// What a remedy did to the deep network's test accuracy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    Helps,
    Hurts,
    NoClearEffect,
}

/// One finding and its numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Finding {
    /// The test accuracy is within what guessing reaches; `loss_near_chance`: and the loss is
    /// within 5 % of ln(classes).
    AtChance { network: String, loss: f64, chance_loss: f64, accuracy: f64, loss_near_chance: bool },
    /// Better than guessing, but the loss is still within 5 % of ln(classes).
    NearChanceLoss { network: String, loss: f64, chance_loss: f64, accuracy: f64 },
    /// The loss ended more than 5 % above ln(classes) — worse than equal probabilities — or was
    /// not a number at all.
    AboveChanceLoss { network: String, loss: f64, chance_loss: f64 },
    /// The smallest gradient of the layers before the last (at `layer`, fc1 = 1) against the
    /// last layer's.
    Gradient { network: String, layer: usize, smallest: f64, last: f64, ratio: f64, size: GradientSize },
    /// Every layer's gradient was 0 over the probed steps.
    NoGradient { network: String },
    /// Hidden units no probe image turned on.
    DeadUnits { network: String, dead: i64, hidden: i64 },
    /// A remedy against the deep network alone; with the same layers, its fc1 gradient against
    /// the deep network's.
    Remedy {
        remedy: String,
        accuracy: f64,
        deep_accuracy: f64,
        effect: Effect,
        fc1_gradient_ratio: Option<f64>,
        momentum: f64,
        fewer_layers: bool,
    },
}

/// The findings for `nets`: the first is the shallow network, the second the deep one, the rest
/// the deep one with a remedy each.
pub fn findings(nets: &[Trained], chance: &ChanceBound, chance_loss: f64) -> Vec<Finding> {
    let mut out = Vec::new();
    for net in nets {
        let (network, loss, accuracy) = (net.name.to_string(), net.final_loss, net.test_accuracy);
        let near = (loss - chance_loss).abs() <= NEAR_CHANCE_LOSS * chance_loss;
        let above = !loss.is_finite() || loss > (1.0 + NEAR_CHANCE_LOSS) * chance_loss;
        if chance.at_chance(accuracy) {
            out.push(Finding::AtChance {
                network: network.clone(),
                loss,
                chance_loss,
                accuracy,
                loss_near_chance: near,
            });
        } else if near {
            out.push(Finding::NearChanceLoss { network: network.clone(), loss, chance_loss, accuracy });
        }
        if above {
            out.push(Finding::AboveChanceLoss { network, loss, chance_loss });
        }
    }
    for net in nets.iter().take(3) {
        if !net.gradient_norms.is_empty() && net.gradient_norms.iter().all(|g| *g == 0.0) {
            out.push(Finding::NoGradient { network: net.name.into() });
            continue;
        }
        let Some((&last, before)) = net.gradient_norms.split_last() else { continue };
        // Of equal sizes, the layer nearest the output: where the gradient first got that small.
        let smallest = before.iter().copied().enumerate().rev().min_by(|a, b| a.1.total_cmp(&b.1));
        if let (Some((at, smallest)), true) = (smallest, last > 0.0) {
            let ratio = smallest / last;
            let size = match ratio {
                r if r < VANISHED => GradientSize::Vanishes,
                r if r < SHRUNK => GradientSize::Shrinks,
                r if r <= GROWN => GradientSize::Keeps,
                _ => GradientSize::Grows,
            };
            out.push(Finding::Gradient {
                network: net.name.into(),
                layer: at + 1,
                smallest,
                last,
                ratio,
                size,
            });
        }
    }
    for net in nets.iter().take(2) {
        let dead: i64 = net.dead_units.iter().map(|[d, _]| d).sum();
        let hidden: i64 = net.dead_units.iter().map(|[_, w]| w).sum();
        if dead > 0 {
            out.push(Finding::DeadUnits { network: net.name.into(), dead, hidden });
        }
    }
    if let Some(deep) = nets.get(1) {
        // "Fewer layers to cross" is a reason only where the deep network's gradient shrank.
        let deep_shrank = out.iter().any(|f| {
            matches!(f, Finding::Gradient { network, size: GradientSize::Vanishes | GradientSize::Shrinks, .. }
                if network == deep.name)
        });
        for remedy in nets.iter().skip(2) {
            let change = remedy.test_accuracy - deep.test_accuracy;
            let effect = match change {
                c if c >= EFFECT => Effect::Helps,
                c if c <= -EFFECT => Effect::Hurts,
                // A remedy whose loss diverged where the deep network's did not made it worse.
                _ if !remedy.final_loss.is_finite() && deep.final_loss.is_finite() => Effect::Hurts,
                _ => Effect::NoClearEffect,
            };
            let same_layers = remedy.widths == deep.widths;
            let fc1_gradient_ratio =
                match (same_layers, remedy.gradient_norms.first(), deep.gradient_norms.first()) {
                    (true, Some(r), Some(d)) if *d > 0.0 => Some(r / d),
                    _ => None,
                };
            out.push(Finding::Remedy {
                remedy: remedy.name.into(),
                accuracy: remedy.test_accuracy,
                deep_accuracy: deep.test_accuracy,
                effect,
                fc1_gradient_ratio,
                momentum: remedy.momentum,
                fewer_layers: remedy.widths.len() < deep.widths.len() && deep_shrank,
            });
        }
    }
    out
}

impl Finding {
    /// The finding in one or two plain sentences.
    pub fn sentence(&self) -> String {
        let pct = |a: f64| format!("{:.1} %", 100.0 * a);
        match self {
            Finding::AtChance { network, loss, chance_loss, accuracy, loss_near_chance } => {
                let loss = match loss_near_chance {
                    true => format!(
                        ", and its loss {loss:.4} is near ln(classes) = {chance_loss:.4}, the loss of giving every \
                         class the same probability"
                    ),
                    false => String::new(),
                };
                format!("{network}: learned nothing — test accuracy {} is what guessing gets{loss}", pct(*accuracy))
            }
            Finding::AboveChanceLoss { network, loss, chance_loss } if !loss.is_finite() => format!(
                "{network}: its loss became {loss} — the steps diverged (ln(classes) = {chance_loss:.4} is where \
                 equal probabilities put it)"
            ),
            Finding::AboveChanceLoss { network, loss, chance_loss } => format!(
                "{network}: its loss {loss:.4} ended above ln(classes) = {chance_loss:.4}: worse than giving every \
                 class the same probability"
            ),
            Finding::NearChanceLoss { network, loss, chance_loss, accuracy } => format!(
                "{network}: barely learned — test accuracy {} beats guessing, but its loss {loss:.4} is still within \
                 5 % of ln(classes) = {chance_loss:.4}, the loss of giving every class the same probability",
                pct(*accuracy)
            ),
            Finding::Gradient { network, layer, smallest, last, ratio, size } => {
                let how = match size {
                    GradientSize::Vanishes => "the gradient vanishes on its way back",
                    GradientSize::Shrinks => "the gradient shrinks on its way back",
                    GradientSize::Keeps => "the gradient keeps its size on its way back",
                    GradientSize::Grows => "the gradient grows on its way back",
                };
                format!(
                    "{network}: {how} — ‖∂L/∂W‖ is {last:.1e} at the last layer and {smallest:.1e} at fc{layer}, the \
                     smallest before it ({} of it)",
                    fraction(*ratio)
                )
            }
            Finding::NoGradient { network } => {
                format!("{network}: no gradient reached any layer's weights — with every one 0, no weight can move")
            }
            Finding::DeadUnits { network, dead, hidden } => format!(
                "{network}: {dead} of its {hidden} hidden units never turn on for any of the probe images (dead \
                 ReLUs pass no gradient back)"
            ),
            Finding::Remedy { remedy, accuracy, deep_accuracy, effect, fc1_gradient_ratio, momentum, fewer_layers } => {
                let what = match effect {
                    Effect::Helps => "helps",
                    Effect::Hurts => "hurts",
                    Effect::NoClearEffect => "makes no clear difference",
                };
                let why = match (fc1_gradient_ratio, *momentum > 0.0, fewer_layers) {
                    // A reason is given only for a remedy that helped.
                    _ if *effect != Effect::Helps => String::new(),
                    (Some(r), _, _) if *r >= 10.0 => {
                        format!("; its gradient at fc1 is {} the deep network's: the gradient gets through", fraction(*r))
                    }
                    (Some(r), true, _) if (0.5..=2.0).contains(r) => format!(
                        "; its gradient at fc1 is {} the deep network's, so what changed is the step: the velocity \
                         adds up to 1/(1 − μ) = {:.0}× the gradient along a steady direction",
                        fraction(*r),
                        1.0 / (1.0 - momentum)
                    ),
                    (None, _, true) => "; fewer layers for the gradient to cross".to_string(),
                    _ => String::new(),
                };
                format!(
                    "{remedy}: {what} — test accuracy {} against the deep network's {}{why}",
                    pct(*accuracy),
                    pct(*deep_accuracy)
                )
            }
        }
    }
}

/// A ratio as a reader takes it in: `×1.3`, `1/40`, `1/2 300`.
fn fraction(ratio: f64) -> String {
    if ratio == 0.0 {
        return "none".into();
    }
    if ratio >= 10.0 {
        return format!("×{:.0}", round_to_two_figures(ratio));
    }
    if ratio >= 0.5 {
        return format!("×{ratio:.2}");
    }
    let inverse = 1.0 / ratio;
    if inverse < 10.0 {
        format!("1/{inverse:.1}")
    } else {
        format!("1/{:.0}", round_to_two_figures(inverse))
    }
}

/// `v` to two significant figures (2 345 → 2 300).
pub fn round_to_two_figures(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10f64.powi(v.log10().floor() as i32 - 1);
    (v / scale).round() * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEEP: [i64; 5] = [784, 16, 16, 16, 10];
    const LESS: [i64; 4] = [784, 16, 16, 10];

    fn net<'a>(
        name: &'a str,
        (widths, momentum): (&'a [i64], f64),
        norms: &'a [f64],
        dead: &'a [[i64; 2]],
        (loss, accuracy): (f64, f64),
    ) -> Trained<'a> {
        Trained {
            name,
            widths,
            momentum,
            gradient_norms: norms,
            dead_units: dead,
            final_loss: loss,
            test_accuracy: accuracy,
        }
    }

    /// The findings of a run shaped like `nnopt depth --data fashion`'s (seed 0).
    #[test]
    fn a_deep_network_near_chance_with_a_shrinking_gradient_and_each_remedy_is_said_so() {
        let chance = ChanceBound::new(0.1, 10_000);
        let nets = [
            net("shallow", (&[784, 32, 10], 0.0), &[1.2, 0.84], &[[0, 32]], (0.44, 0.838)),
            net(
                "deep",
                (&DEEP, 0.0),
                &[5e-3, 8.7e-4, 7.4e-4, 4e-2],
                &[[1, 16], [6, 16], [0, 16]],
                (2.2895, 0.193),
            ),
            net(
                "deep, He init",
                (&DEEP, 0.0),
                &[1.6, 0.49, 0.39, 0.46],
                &[[0, 16], [2, 16], [0, 16]],
                (0.57, 0.75),
            ),
            net("deep, momentum 0.9", (&DEEP, 0.9), &[5e-3, 9.6e-4, 9e-4, 3.9e-2], &[], (0.61, 0.829)),
            net("2 layers", (&LESS, 0.0), &[0.16, 0.033, 0.05], &[], (0.53, 0.804)),
            net("stuck", (&DEEP, 0.0), &[0.0, 0.0, 0.0, 0.0], &[], (2.31, 0.1)),
        ];
        let found = findings(&nets, &chance, 10f64.ln());
        let text: Vec<String> = found.iter().map(Finding::sentence).collect();
        let has = |start: &str, part: &str| text.iter().any(|t| t.starts_with(start) && t.contains(part));
        assert!(has("deep: barely learned", "2.2895") && has("stuck: learned nothing", "10.0 %"), "{text:?}");
        assert!(!text
            .iter()
            .any(|t| t.starts_with("shallow: barely") || t.starts_with("deep, He init: barely")));
        assert!(
            has("deep: the gradient shrinks", "7.4e-4 at fc3") && has("deep: the gradient shrinks", "1/54"),
            "{text:?}"
        );
        assert!(has("deep, He init: the gradient keeps", "fc3"), "{text:?}");
        assert!(has("deep: 7 of its 48 hidden units", "never turn on"), "{text:?}");
        assert!(
            has("deep, He init: helps", "×320 the deep network's: the gradient gets through"),
            "{text:?}"
        );
        assert!(
            has("deep, momentum 0.9: helps", "×1.00 the deep network's, so what changed is the step"),
            "{text:?}"
        );
        assert!(has("deep, momentum 0.9: helps", "= 10×"), "{text:?}");
        assert!(has("2 layers: helps", "fewer layers"), "{text:?}");
        assert!(has("stuck: hurts", "10.0 % against the deep network's 19.3 %"), "{text:?}");
    }

    #[test]
    fn the_gradient_bounds_and_the_effect_bounds_are_where_they_say() {
        let chance = ChanceBound::new(0.1, 10_000);
        let base = net("deep", (&DEEP, 0.0), &[0.01, 1.0], &[], (1.0, 0.50));
        for (first, size) in [
            (0.0099, GradientSize::Vanishes),
            (0.0101, GradientSize::Shrinks),
            (0.49, GradientSize::Shrinks),
            (0.5, GradientSize::Keeps),
            (2.0, GradientSize::Keeps),
            (2.01, GradientSize::Grows),
        ] {
            let norms = [first, 1.0];
            let nets = [base.clone(), net("deep", (&DEEP, 0.0), &norms, &[], (1.0, 0.5))];
            let found = findings(&nets, &chance, 10f64.ln());
            let want = Finding::Gradient {
                network: "deep".into(),
                layer: 1,
                smallest: first,
                last: 1.0,
                ratio: first,
                size,
            };
            assert!(found.contains(&want), "{found:?}");
        }
        for (accuracy, effect) in
            [(0.551, Effect::Helps), (0.549, Effect::NoClearEffect), (0.449, Effect::Hurts)]
        {
            let nets = [base.clone(), base.clone(), net("r", (&DEEP, 0.0), &[], &[], (1.0, accuracy))];
            let found = findings(&nets, &chance, 10f64.ln());
            assert!(
                found.iter().any(|f| matches!(f, Finding::Remedy { effect: e, .. } if *e == effect)),
                "{accuracy}: {found:?}"
            );
        }
    }

    /// A loss far above ln(classes), or not a number, is never called "near" it; a remedy that
    /// did not help gets no reason.
    #[test]
    fn a_loss_above_chance_and_a_remedy_without_effect_are_said_as_they_are() {
        let chance = ChanceBound::new(0.1, 10_000);
        let ln10 = 10f64.ln();
        let nets = [
            net("shallow", (&DEEP, 0.0), &[1.0, 1.0], &[], (4.05, 0.3)),
            net("deep", (&DEEP, 0.0), &[1e-3, 1.0], &[], (390.8, 0.1)),
            net("deep, He init", (&DEEP, 0.0), &[1.0, 1.0], &[], (f64::NAN, 0.1)),
            net("2 layers", (&LESS, 0.0), &[1.0, 1.0], &[], (1.0, 0.5)),
            net("deep, momentum 0.9", (&DEEP, 0.9), &[1e-3, 1.0], &[], (2.0, 0.12)),
        ];
        let text: Vec<String> = findings(&nets, &chance, ln10).iter().map(Finding::sentence).collect();
        let has = |start: &str, part: &str| text.iter().any(|t| t.starts_with(start) && t.contains(part));
        assert!(has("shallow: its loss 4.0500 ended above ln(classes)", "worse than"), "{text:?}");
        assert!(!text.iter().any(|t| t.contains("barely learned")), "{text:?}");
        assert!(
            has("deep: learned nothing", "what guessing gets") && !has("deep: learned nothing", "near ln"),
            "{text:?}"
        );
        assert!(has("deep, He init: its loss became NaN", "diverged"), "{text:?}");
        assert!(
            has("deep, momentum 0.9: makes no clear difference", "19")
                || has("deep, momentum 0.9: makes no clear difference", "12.0 %"),
            "{text:?}"
        );
        assert!(!text.iter().any(|t| t.contains("makes no clear difference") && t.contains(';')), "{text:?}");
        assert!(has("deep, He init: hurts", "10.0 %"), "a remedy that diverged hurts: {text:?}");
        // The deep network's gradient vanished (1/1000): fewer layers to cross is a reason.
        assert!(has("2 layers: helps", "fewer layers"), "{text:?}");
        // Where it kept its size, fewer layers helps with no reason about the gradient.
        let kept =
            [nets[0].clone(), net("deep", (&DEEP, 0.0), &[0.8, 1.0], &[], (2.0, 0.1)), nets[3].clone()];
        let text: Vec<String> = findings(&kept, &chance, ln10).iter().map(Finding::sentence).collect();
        assert!(
            text.iter().any(|t| t.starts_with("2 layers: helps") && !t.contains("fewer layers")),
            "{text:?}"
        );
    }

    #[test]
    fn a_network_with_no_gradient_anywhere_is_said_so() {
        let chance = ChanceBound::new(0.1, 10_000);
        let nets = [net("shallow", (&DEEP, 0.0), &[0.0, 0.0], &[], (2.3, 0.1))];
        let text: Vec<String> = findings(&nets, &chance, 10f64.ln()).iter().map(Finding::sentence).collect();
        assert!(
            text.iter().any(|t| t.starts_with("shallow: no gradient reached any layer's weights")),
            "{text:?}"
        );
        assert!(!text.iter().any(|t| t.contains("inf")), "{text:?}");
    }

    #[test]
    fn ratios_read_as_fractions() {
        assert_eq!(fraction(2.0), "×2.00");
        assert_eq!(fraction(320.0), "×320");
        assert_eq!(fraction(0.25), "1/4.0");
        assert_eq!(fraction(0.0), "none");
        assert_eq!(fraction(0.99), "×0.99");
        assert_eq!(fraction(1.0 / 2345.0), "1/2300");
        assert_eq!(round_to_two_figures(2345.0), 2300.0);
    }
}
