//! Tick labels: enough digits to tell neighbours apart, and no more.

/// A tick label on an axis spanning [lo, hi]: enough digits to tell neighbouring ticks apart
/// (about ten per axis), whole numbers without ".0", and scientific notation for an axis whose
/// values reach 1e5 or stay below 1e-3 — where `1.5e8` stays `1.5e8`, never rounded to `2e8`.
pub fn tick_label(v: f64, (lo, hi): (f64, f64)) -> String {
    let magnitude = lo.abs().max(hi.abs());
    // A tenth of the span: the spacing of plotters' ticks, give or take a factor of 2.5.
    let step = ((hi - lo).abs() / 10.0).max(magnitude * 1e-12).max(f64::MIN_POSITIVE);
    if v == 0.0 || v.abs() < step * 1e-9 {
        return "0".into();
    }
    // Ticks are multiples of 1, 2 or 5 × 10^k with 10^k ≤ step: k decimal places suffice
    // (one more for a 2.5 step).
    let k = step.log10().floor() as i32 - 1;
    if !(1e-3..1e5).contains(&magnitude) {
        let digits = (v.abs().log10().floor() as i32 - k).clamp(0, 15) as usize;
        let text = format!("{v:.digits$e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.trim_end_matches('0').trim_end_matches('.')
        } else {
            mantissa
        };
        return format!("{mantissa}e{exponent}");
    }
    let decimals = (-k).clamp(0, 15) as usize;
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A tick label on a log axis: ticks are powers of ten and their multiples, each its own
/// magnitude, so three significant digits always tell them apart.
pub fn log_tick_label(v: f64) -> String {
    tick_label(v, (v * 0.5, v * 1.5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_keep_their_digits_at_every_magnitude() {
        // The ticks plotters puts on a 0..2e8 axis: 1.5e8 was printed "2e8" before.
        let axis = (0.0, 2e8);
        let labels: Vec<String> = [0.0, 5e7, 1e8, 1.5e8, 2e8].iter().map(|&v| tick_label(v, axis)).collect();
        assert_eq!(labels, ["0", "5e7", "1e8", "1.5e8", "2e8"]);
        assert_eq!(tick_label(1.25e-4, (0.0, 2e-4)), "1.25e-4");
        assert_eq!(tick_label(-3e6, (-5e6, 5e6)), "-3e6");
        // Mid-range: whole numbers bare, fractions with the digits the spacing needs.
        assert_eq!(tick_label(2.0, (0.0, 10.0)), "2");
        assert_eq!(tick_label(0.25, (0.0, 1.0)), "0.25");
        assert_eq!(tick_label(0.30000000000000004, (0.0, 1.0)), "0.3");
        assert_eq!(tick_label(1.0002, (1.0, 1.001)), "1.0002");
        assert_eq!(tick_label(99.5, (90.0, 100.0)), "99.5");
        // Rounding noise around zero is zero.
        assert_eq!(tick_label(1e-17, (-1.0, 1.0)), "0");
    }

    #[test]
    fn neighbouring_ticks_never_print_the_same() {
        for (lo, hi) in [
            (0.0, 2e8),
            (0.0, 1.0),
            (-1e-5, 1e-5),
            (1e5, 1.001e5),
            (0.1, 0.35),
            (-7.0, 3.0),
            (99.9999999, 100.0000001),
            (1e9, 1e9 + 10.0),
        ] {
            // Every multiple of a tenth of the span (what plotters draws, give or take).
            let step = (hi - lo) / 10.0;
            let labels: Vec<String> = (0..=10).map(|k| tick_label(lo + k as f64 * step, (lo, hi))).collect();
            for pair in labels.windows(2) {
                assert_ne!(pair[0], pair[1], "on [{lo}, {hi}]: {labels:?}");
            }
        }
    }

    #[test]
    fn log_ticks_name_their_power_of_ten() {
        assert_eq!(log_tick_label(1e-12), "1e-12");
        assert_eq!(log_tick_label(1000.0), "1000");
        assert_eq!(log_tick_label(2e9), "2e9");
        assert_eq!(log_tick_label(0.01), "0.01");
    }
}
