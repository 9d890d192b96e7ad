//! Unit tests of the rise's diagnosis from replays, and of the test-loss comparison.
use super::*;

fn replay(before: f64, kicks: &[(usize, f64)], with_derivative: f64, with_cap: Option<f64>) -> EpochReplay {
    EpochReplay {
        epoch: 1,
        loss_before: before,
        kicks: kicks.iter().map(|&(sample, target)| Kick { sample, target }).collect(),
        loss_with_derivative: with_derivative,
        loss_with_cap: with_cap,
    }
}

/// Every sample's update raises every pre-activation (all dot products positive).
fn all_positive(n: usize) -> impl Fn(usize) -> Vec<f64> {
    move |_| vec![1.0; n]
}

#[test]
fn the_largest_rise_is_the_one_explained() {
    // Two rises: 1 → 1.5 (epochs 1–2) and 0.5 → 3 (epochs 5–6).
    assert_eq!(rising_stretch(&[1.0, 1.2, 1.5, 1.0, 0.5, 2.0, 3.0, 2.0]), Some((5, 6)));
    // A rise from the initial loss starts at epoch 1.
    assert_eq!(rising_stretch(&[14.25, 15.08, 14.47, 14.85, 15.5, 3.0]), Some((3, 4)));
    assert_eq!(rising_stretch(&[14.25, 15.08, 14.0]), Some((1, 1)));
}

#[test]
fn a_falling_loss_or_a_tiny_wobble_has_no_rise() {
    assert_eq!(rising_stretch(&[3.0, 2.0, 1.0]), None);
    assert_eq!(rising_stretch(&[3.0, 2.0, 2.001, 1.0]), None);
    assert_eq!(rising_stretch(&[]), None);
    assert_eq!(rising_stretch(&[1.0]), None);
}

#[test]
fn kicks_that_the_derivative_would_have_skipped_are_a_cause() {
    let gains = [0.1, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.5];
    // Sample 9's update lowers sample 3's pre-activation.
    let gram = |_: usize| (0..10).map(|i| if i == 3 { -1.0 } else { 1.0 }).collect::<Vec<f64>>();
    let replays = [
        replay(14.0, &[(0, 0.0), (9, 9.0)], 13.0, None),
        replay(14.8, &[(9, 9.0)], 14.0, None),
        replay(15.2, &[(1, 1.0), (9, 9.0)], 16.0, None),
    ];
    assert_eq!(
        diagnose(&replays, &gains, &gram),
        [RiseCause::InactiveUpdates {
            sample: 9,
            target: 9.0,
            push: 9.0 * 1.5,
            raised: 9,
            samples: 10,
            kicked_epochs: 3,
            explained: 2,
            rising: 3
        }]
    );
    // A sample kicked less often but harder is the one named.
    let replays = [replay(14.0, &[(1, 1.0), (9, 9.0)], 13.0, None), replay(14.8, &[(1, 1.0)], 14.0, None)];
    let named = diagnose(&replays, &gains, &gram);
    assert!(
        matches!(named[..], [RiseCause::InactiveUpdates { sample: 9, kicked_epochs: 1, .. }]),
        "{named:?}"
    );
}

#[test]
fn a_gain_above_two_is_named_only_where_capping_it_removes_the_rise() {
    let gains = [0.5, 2.46, 1.9];
    // Kicks happened, but the derivative-respecting replay rose as well: not a cause.
    let capped_helps = [replay(0.4, &[(2, 3.0)], 0.46, Some(0.39)), replay(0.45, &[], 0.5, Some(0.44))];
    assert_eq!(
        diagnose(&capped_helps, &gains, &all_positive(3)),
        [RiseCause::Overshoot { sample: 1, step_gain: 2.46, explained: 2, rising: 2 }]
    );
    // Capping the largest gain changes nothing: nothing is named.
    let capped_useless = [replay(0.4, &[], 0.46, Some(0.47)), replay(0.45, &[], 0.5, Some(0.52))];
    assert_eq!(diagnose(&capped_useless, &gains, &all_positive(3)), []);
    // No gain above 2: no overshoot, whatever the replays.
    assert_eq!(diagnose(&capped_helps, &[0.5, 1.9], &all_positive(2)), []);
}

#[test]
fn the_words_name_the_sample_the_share_and_what_was_not_checked() {
    let rise = LossRise {
        replayed: Vec::new(),
        from_epoch: 1,
        to_epoch: 35,
        start_loss: 14.25,
        peak_loss: 28.32,
        final_loss: 5.28,
        still_rising: false,
        causes: vec![RiseCause::InactiveUpdates {
            sample: 9,
            target: 9.0,
            push: 20.3,
            raised: 10,
            samples: 10,
            kicked_epochs: 30,
            explained: 33,
            rising: 35,
        }],
        largest_step_gain: (9, 2.26),
    };
    let text = describe_rise(&rise, 0.001).join("\n");
    assert!(text.contains("over epochs 1–35 (14.250000 → 28.320000) and ended at 5.280000"), "{text}");
    assert!(text.contains("sample 9 (y = 9)") && text.contains("lr·y·(|x|² + 1) = 20.30"), "{text}");
    assert!(
        text.contains("33 of the 35 rising epochs replayed would not have raised the loss\n")
            || text.ends_with("33 of the 35 rising epochs replayed would not have raised the loss"),
        "{text}"
    );
    assert!(!text.contains("made the rise"), "33 of 35 is not all: {text}");
    let overshoot = LossRise {
        still_rising: true,
        causes: vec![RiseCause::Overshoot { sample: 9, step_gain: 2.5, explained: 3, rising: 3 }],
        ..rise.clone()
    };
    let text = describe_rise(&overshoot, 0.001).join("\n");
    assert!(
        text.contains("still rising when the run ended") && text.contains("--lr below 0.0008 "),
        "{text}"
    );
    let none = LossRise { causes: Vec::new(), ..rise };
    assert!(describe_rise(&none, 0.001).join("\n").contains("nnopt names no cause"));
    assert_eq!(significant_below(0.0008121856399392289), "0.00081");
    assert_eq!(significant_below(0.000819), "0.00081", "rounded down, never above the bound");
    assert_eq!(significant_below(2.5), "2.5");
    assert_eq!(significant_below(150.0), "150");
}

#[test]
fn the_test_loss_is_set_beside_training_samples_with_its_targets() {
    let c = compare_test((&[0.0, 1.0, 2.0, 9.0], &[0.0, 1.0, 2.0, 19.0]), (&[1.0, 2.0], &[2.0, 2.0]));
    assert_eq!(c.shared_targets, 2);
    assert_eq!(c.train_loss_same_targets, Some(0.0));
    assert_eq!(c.test_loss, 0.25);
    assert!(describe_test(&c, false).contains("clearly worse"));
    // Only the shared targets count on both sides: one training sample (target 0) beside
    // the test sample with target 0, not beside all five.
    let one = compare_test((&[0.0], &[2.0]), (&[0.0, 1.0, 2.0], &[0.0, 0.0, 0.0]));
    assert_eq!((one.test_loss, one.train_loss_same_targets, one.shared_targets), (0.0, Some(2.0), 1));
    assert!(
        describe_test(&one, false).contains("the training sample's 2.0000"),
        "{}",
        describe_test(&one, false)
    );
    let close =
        TestComparison { test_loss: 0.0658, train_loss_same_targets: Some(0.0643), shared_targets: 5 };
    assert!(describe_test(&close, false).contains("about the same"));
    assert!(describe_test(&close, true).contains("says nothing"));
    let none = compare_test((&[5.0], &[5.0]), (&[1.0], &[1.0]));
    assert_eq!(none.train_loss_same_targets, None);
    assert!(describe_test(&none, false).contains("share no target"));
}
