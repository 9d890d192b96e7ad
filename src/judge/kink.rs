//! autograd's verdict on a = relu(w·x + b): which side of relu's kink the pre-activation lies,
//! reasoned on the float32 value the unit computed (not a float64 re-computation, which can put
//! 0.1·3 − 0.3 on the wrong side), and whether the central difference it is checked against
//! straddles the kink.

/// What the gradients mean, and a note where the central difference of `step` straddles the
/// kink (empty otherwise).
pub fn explain(x: f64, w: f64, b: f64, grad_w: f64, step: f64) -> (String, String) {
    // Computed as the unit computes it, in float32, one operation at a time (w·x, then + b): with
    // x = 3, w = 0.1, b = −0.3 that is exactly 0, where float64 would say 5.6e-17 > 0.
    let z = (w as f32) * (x as f32) + (b as f32);
    // The central difference (in float64) moves z by up to h·max(|x|, 1): closer to 0 than that,
    // its two sides straddle relu's kink and it averages them.
    let straddles = (w * x + b).abs() < step * x.abs().max(1.0);
    // (Where float32 puts z on the kink itself, the sentence above says so already.)
    let kink = if straddles && z != 0.0 {
        format!(
            "\nz = {z} lies within the central difference's step ({step:e}·max(|x|, 1)) of relu's kink at 0, \
             so the difference averages the two sides and need not equal autograd's one-sided slope."
        )
    } else {
        String::new()
    };
    let meaning = if z > 0.0 {
        format!(
            "w·x + b = {z} > 0, so relu'(z) = 1 and relu passes it through unchanged: da/dw = 1·x = {} and da/db = 1.\n\
             Nudging w by a small ε moves a by about {}·ε; gradient descent uses exactly this slope.",
            x, grad_w
        )
    } else if z < 0.0 {
        format!(
            "w·x + b = {z} < 0, so relu'(z) = 0: relu outputs 0 and is flat there, da/dw = da/db = 0.\n\
             A small change to w or b changes nothing, so gradient descent cannot move this unit \
             for this input (a \"dead\" ReLU)."
        )
    } else if w * x + b == 0.0 {
        "w·x + b = 0 in float32 (as the unit computes it) is relu's kink: autograd uses relu'(0) = 0, so \
         both gradients are 0, while the central difference averages the two sides (x/2 and 1/2)."
            .to_string()
    } else if !straddles {
        format!(
            "w·x + b = 0 in float32 (as the unit computes it, from x, w and b rounded to float32) is relu's kink: \
             autograd uses relu'(0) = 0, so both gradients are 0. The central difference works in float64, where \
             w·x + b = {}, farther from 0 than its step reaches: it measures that side's slope alone.",
            w * x + b
        )
    } else if ((w * x + b) / (2.0 * step)).abs() < 5e-7 {
        // Off the centre by z/2h, below the six printed digits: it reads as the average.
        format!(
            "w·x + b = 0 in float32 (as the unit computes it, from x, w and b rounded to float32) is relu's kink: \
             autograd uses relu'(0) = 0, so both gradients are 0. The central difference works in float64, where \
             w·x + b = {:e}, so near the kink's centre that it averages the two sides (x/2 and 1/2), off by z/2h = \
             {:.1e}.",
            w * x + b,
            (w * x + b) / (2.0 * step)
        )
    } else {
        format!(
            "w·x + b = 0 in float32 (as the unit computes it, from x, w and b rounded to float32) is relu's kink: \
             autograd uses relu'(0) = 0, so both gradients are 0. The central difference works in float64, where \
             w·x + b = {}: it straddles the kink off its centre, so it lands between the two sides' slopes (0 and \
             x for w, 0 and 1 for b), off their average by z/2h = {:.3e}.",
            w * x + b,
            (w * x + b) / (2.0 * step)
        )
    };
    (meaning, kink)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_side_of_the_kink_is_the_float32_one() {
        // 0.1·3 − 0.3 is 5.6e-17 in float64 and exactly 0 in float32.
        let (meaning, _) = explain(3.0, 0.1, -0.3, 0.0, 1e-6);
        assert!(
            meaning.starts_with("w·x + b = 0 in float32") && meaning.contains("averages the two sides"),
            "{meaning}"
        );
        let (meaning, kink) = explain(1.0, 0.5, 0.25, 1.0, 1e-6);
        assert!(meaning.contains("> 0") && kink.is_empty(), "{meaning}");
        let (_, kink) = explain(1.0, 0.5, -0.4999999, 1.0, 1e-6);
        assert!(kink.contains("straddle") || kink.contains("within the central difference's step"), "{kink}");
        // x rounds to 2²⁴ in float32, so z is 0 there and 1 in float64: no "average" claimed.
        let (meaning, _) = explain(16777217.0, 1.0, -16777216.0, 0.0, 1e-6);
        assert!(meaning.contains("off its centre") && !meaning.contains("averages"), "{meaning}");
    }
}
