//! Unit tests of a descent run's motion, swing, nearness and swing count, on planted paths.
use super::*;

fn line(xs: &[f64]) -> Vec<Vec<f64>> {
    xs.iter().map(|&x| vec![x]).collect()
}

#[test]
fn a_swing_between_5_and_minus_5_is_a_steady_oscillation() {
    let xs: Vec<f64> = (0..=100).map(|k| if k % 2 == 0 { 5.0 } else { -5.0 }).collect();
    let losses = vec![25.0; xs.len()];
    let (m, o) = motion(&line(&xs), &losses, None, &[]);
    assert_eq!(m, Motion::Oscillating);
    let o = o.unwrap();
    assert_eq!(o.between, [vec![5.0], vec![-5.0]], "the last two turning points");
    assert_eq!(o.amplitude, Amplitude::Steady);
}

#[test]
fn a_growing_and_a_shrinking_swing_are_told_apart() {
    let grow: Vec<f64> = (0..=20).map(|k| 2.0 * (-1.4f64).powi(k)).collect();
    let losses: Vec<f64> = grow.iter().map(|x| x * x).collect();
    assert_eq!(motion(&line(&grow), &losses, None, &[]).1.unwrap().amplitude, Amplitude::Growing);
    let shrink: Vec<f64> = (0..=20).map(|k| 2.0 * (-0.6f64).powi(k)).collect();
    let losses: Vec<f64> = shrink.iter().map(|x| x * x).collect();
    assert_eq!(motion(&line(&shrink), &losses, None, &[]).1.unwrap().amplitude, Amplitude::Shrinking);
}

#[test]
fn steady_descent_crawling_and_climbing() {
    // gd on x² at lr 0.01: the loss falls ~4 % per step.
    let xs: Vec<f64> = (0..=100).map(|k| 10.0 * 0.98f64.powi(k)).collect();
    let losses: Vec<f64> = xs.iter().map(|x| x * x).collect();
    assert_eq!(motion(&line(&xs), &losses, None, &[]), (Motion::Descending, None));
    // A loss that falls by a millionth per step: moving, going nowhere soon.
    let xs: Vec<f64> = (0..=100).map(|k| 1.0 + 1e-6 * k as f64).collect();
    let losses: Vec<f64> = (0..=100).map(|k| 1.0 - 1e-6 * k as f64).collect();
    assert_eq!(motion(&line(&xs), &losses, None, &[]).0, Motion::Crawling);
    let losses: Vec<f64> = (0..=100).map(|k| k as f64).collect();
    assert_eq!(motion(&line(&xs), &losses, None, &[]).0, Motion::Climbing);
}

#[test]
fn a_swing_whose_loss_stays_put_is_no_descent() {
    // gd at lr 0.5 on 0.1·x₁² + 2·x₂²: x₂ swings ±2 for ever, x₁ creeps to 0; f → 8.
    let points: Vec<Vec<f64>> =
        (0..=60).map(|k| vec![5.0 * 0.95f64.powi(k), if k % 2 == 0 { 2.0 } else { -2.0 }]).collect();
    let losses: Vec<f64> = points.iter().map(|p| 0.1 * p[0] * p[0] + 2.0 * p[1] * p[1]).collect();
    let (m, o) = motion(&points, &losses, Some(0.0), &[]);
    assert_eq!(m, Motion::Oscillating, "{o:?}");
    assert_eq!(o.unwrap().amplitude, Amplitude::Steady);
}

#[test]
fn a_slow_ring_reports_its_turning_points_and_its_shrinking_peaks() {
    // Momentum on x²: a damped cycle of about 20 steps around 0, still falling overall.
    let xs: Vec<f64> = (0..=200).map(|k| 2.5 * 0.99f64.powi(k) * (k as f64 * 0.3).cos()).collect();
    let losses: Vec<f64> = xs.iter().map(|x| x * x).collect();
    let (m, o) = motion(&line(&xs), &losses, Some(0.0), &[]);
    assert!(matches!(m, Motion::Descending | Motion::Oscillating), "{m:?}");
    let o = o.expect("the swing is reported");
    assert!(o.between[0][0] * o.between[1][0] < 0.0, "on opposite sides of 0: {o:?}");
    assert_eq!(o.amplitude, Amplitude::Shrinking);
    // A six-step cycle that neither grows nor shrinks.
    let cycle = [-3.25, 1.23, -0.34, 2.0, -1.5, 0.7];
    let xs: Vec<f64> = (0..=60).map(|k| cycle[k % 6]).collect();
    let losses: Vec<f64> = xs.iter().map(|x| x * x).collect();
    let (m, o) = motion(&line(&xs), &losses, Some(0.0), &[]);
    assert_eq!((m, o.unwrap().amplitude), (Motion::Oscillating, Amplitude::Steady));
}

#[test]
fn negative_losses_are_judged_by_their_size() {
    // The cosine surface's losses are negative; falling from −1 to −2 is descending.
    let xs: Vec<f64> = (0..=10).map(|k| k as f64).collect();
    let losses: Vec<f64> = (0..=10).map(|k| -1.0 - 0.1 * k as f64).collect();
    assert_eq!(motion(&line(&xs), &losses, None, &[]).0, Motion::Descending);
}

#[test]
fn very_short_runs_still_get_a_verdict() {
    assert_eq!(motion(&line(&[5.0, -5.0]), &[25.0, 25.0], Some(0.0), &[]).0, Motion::Undetermined);
    assert_eq!(
        motion(&line(&[10.0, 6.0, 3.6, 2.16]), &[100.0, 36.0, 12.96, 4.67], Some(0.0), &[]).0,
        Motion::Descending
    );
}

#[test]
fn leaving_the_domain_is_found_at_its_first_step() {
    let d = Domain(vec![[-10.0, 10.0]]);
    assert_eq!(left_domain_at(&d, &line(&[-9.5, -9.9, -10.2, -13.6])), Some(2));
    assert_eq!(left_domain_at(&d, &line(&[-9.5, -1.0])), None);
    assert_eq!(left_domain_at(&d, &line(&[0.0, f64::NAN])), Some(1));
}

#[test]
fn only_a_run_that_got_there_reached_the_minimum() {
    let global = Minimum { point: vec![0.0], value: 0.0, global: true };
    let basin = Some(&global);
    // Swinging at ±5 in the basin: nothing reached.
    assert_eq!(reached(Status::MaxSteps, &[5.0], 25.0, basin, 1e-6), None);
    assert_eq!(reached(Status::Converged, &[1e-7], 1e-14, basin, 1e-6), Some(global.clone()));
    assert_eq!(reached(Status::MaxSteps, &[5e-7], 2.5e-13, basin, 1e-6), Some(global.clone()));
    // A search that landed on the minimum's value (a flat minimum).
    assert_eq!(reached(Status::Searched, &[0.4], 0.0, basin, 1e-6), Some(global.clone()));
    assert_eq!(reached(Status::Diverged, &[0.0], 0.0, basin, 1e-6), None);
    assert_eq!(reached(Status::Stalled, &[0.0], 0.0, basin, 1e-6), None);
    assert_eq!(reached(Status::Converged, &[-13.66], -13.5, None, 1e-6), None, "outside: no basin");
}
