//! Unit tests of `nnopt depth`'s findings, on numbers shaped like real runs and on the bounds.
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
    assert!(!text.iter().any(|t| t.starts_with("shallow: barely") || t.starts_with("deep, He init: barely")));
    assert!(
        has("deep: the gradient shrinks", "7.4e-4 at fc3") && has("deep: the gradient shrinks", "1/54"),
        "{text:?}"
    );
    assert!(has("deep, He init: the gradient keeps", "fc3"), "{text:?}");
    assert!(has("deep: 7 of its 48 hidden units", "never turn on"), "{text:?}");
    assert!(has("deep, He init: helps", "×320 the deep network's: the gradient gets through"), "{text:?}");
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
    for (accuracy, effect) in [(0.551, Effect::Helps), (0.549, Effect::NoClearEffect), (0.449, Effect::Hurts)]
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
    let kept = [nets[0].clone(), net("deep", (&DEEP, 0.0), &[0.8, 1.0], &[], (2.0, 0.1)), nets[3].clone()];
    let text: Vec<String> = findings(&kept, &chance, ln10).iter().map(Finding::sentence).collect();
    assert!(text.iter().any(|t| t.starts_with("2 layers: helps") && !t.contains("fewer layers")), "{text:?}");
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
