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
#[path = "depth_tests.rs"]
mod tests;
