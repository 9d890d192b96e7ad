//! Unit tests of a sweep's effects: planted effects, noise, unused and lonely values.
use super::*;
use crate::judge::sweep::render;
use crate::train::TrainConfig;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn space(flags: &[(&'static str, &str)]) -> Space {
    let mut s = Space::default();
    for (n, t) in flags {
        s.add(n, t).unwrap();
    }
    s
}

#[test]
fn a_planted_effect_is_found_and_noise_is_not() {
    let s = space(&[("lr", "0.001..1:log"), ("hidden", "16,32,64"), ("weight_decay", "0.00001..0.01:log")]);
    let base = TrainConfig::default();
    let mut rng = StdRng::seed_from_u64(7);
    let configs: Vec<Config> = (0..40).map(|_| s.sample(&mut rng, &base)).collect();
    // Accuracy peaks at lr 0.03; width and weight decay do nothing but noise.
    let scores: Vec<f64> = configs
        .iter()
        .map(|c| {
            let lr = c.get("lr").and_then(Param::number).unwrap();
            0.9 - 0.08 * (lr.log10() + 1.5).powi(2) + 0.005 * (rng.random::<f64>() - 0.5)
        })
        .collect();
    let trials: Vec<Observation> = configs
        .iter()
        .zip(&scores)
        .map(|(config, &accuracy)| Observation { config, accuracy: Some(accuracy) })
        .collect();
    let a = importance(&s, &trials, "random search");
    assert_eq!(a.method, Method::Importance);
    assert_eq!(a.effects[0].name, "lr", "{a:?}");
    assert!(a.effects[0].size > 0.5, "{a:?}");
    assert!(a.effects[0].rank_test.unwrap().clear, "{a:?}");
    assert!(a.effects[1..].iter().all(|e| e.size < 0.1 && !e.rank_test.unwrap().clear), "{a:?}");
    assert!(render(&a).contains("not a controlled experiment"));
}

#[test]
fn too_few_trials_say_so() {
    let s = space(&[("lr", "0.001..1:log"), ("hidden", "16,64")]);
    let base = TrainConfig::default();
    let mut rng = StdRng::seed_from_u64(1);
    let configs: Vec<Config> = (0..3).map(|_| s.sample(&mut rng, &base)).collect();
    let trials: Vec<Observation> =
        configs.iter().map(|config| Observation { config, accuracy: Some(0.5) }).collect();
    let a = importance(&s, &trials, "random search");
    assert_eq!(a.method, Method::TooFew);
    assert!(a.effects.is_empty() && render(&a).contains("too few trials"), "{}", render(&a));
}

#[test]
fn an_unused_hyperparameter_is_left_out_of_its_groups() {
    // The grid of the issue: sgd with momentum 0.5 and 0.9, and adam (momentum n/a).
    let s = space(&[("momentum", "0.5,0.9"), ("optimizer", "sgd,adam")]);
    let grid = s.grid(3, &TrainConfig::default());
    let score = |c: &Config| {
        if c.get("optimizer") == Some(&Param::Optimizer(crate::train::OptimizerKind::Adam)) {
            0.52
        } else {
            0.17
        }
    };
    let trials: Vec<Observation> =
        grid.iter().map(|config| Observation { config, accuracy: Some(score(config)) }).collect();
    let a = main_effects(&s, &trials, 100_000, false, None);
    let momentum = a.effects.iter().find(|e| e.name == "momentum").unwrap();
    assert_eq!(momentum.trials, 2, "only the two sgd trials use momentum");
    assert!(momentum.groups.iter().all(|g| g.value != "n/a" && !g.value.is_empty()), "{momentum:?}");
    assert_eq!(momentum.size, 0.0, "between sgd's own momenta nothing changed");
    assert_eq!(a.effects[0].name, "optimizer", "the difference was the optimizer");
    assert!((a.effects[0].size - 0.35).abs() < 1e-12);
}

#[test]
fn main_effects_group_exact_values_and_say_what_is_noise() {
    let s = space(&[("lr", "0.05,0.05001"), ("hidden", "32,33")]);
    let grid = s.grid(3, &TrainConfig::default());
    assert_eq!(grid.len(), 4);
    let score = |c: &Config| if c.get("lr") == Some(&Param::Float(0.05)) { 0.80 } else { 0.70 };
    let trials: Vec<Observation> =
        grid.iter().map(|config| Observation { config, accuracy: Some(score(config)) }).collect();
    // 300 validation images: a 10-point difference is real, none for hidden is noise.
    let a = main_effects(&s, &trials, 300, false, None);
    let lr = a.effects.iter().find(|e| e.name == "lr").unwrap();
    assert_eq!(lr.groups.len(), 2, "0.05 and 0.05001 are two values, though both print 0.0500");
    assert!(!lr.within_noise);
    let hidden = a.effects.iter().find(|e| e.name == "hidden").unwrap();
    assert!(hidden.within_noise && render(&a).contains(": within noise)"), "{}", render(&a));
    // One configuration: nothing to compare.
    let one = space(&[("lr", "0.05")]);
    let grid = one.grid(3, &TrainConfig::default());
    let trials: Vec<Observation> =
        grid.iter().map(|config| Observation { config, accuracy: Some(0.5) }).collect();
    assert_eq!(main_effects(&one, &trials, 300, false, None).method, Method::TooFew);
}

#[test]
fn a_choice_seen_in_one_trial_does_not_blind_the_model() {
    // The reviewer's case: hidden 8 drawn once among 14 trials; lr carries the effect.
    let s = space(&[("lr", "0.001..1:log"), ("hidden", "8,16,64")]);
    let base = TrainConfig::default();
    let mut rng = StdRng::seed_from_u64(11);
    let mut configs: Vec<Config> = (0..13)
        .map(|_| s.sample(&mut rng, &base))
        .filter(|c| c.get("hidden") != Some(&Param::Hidden(vec![8])))
        .collect();
    let mut lonely = configs[0].clone();
    lonely.0[1].1 = Param::Hidden(vec![8]);
    configs.push(lonely);
    let scores: Vec<f64> = configs
        .iter()
        .map(|c| 0.9 - 0.05 * (c.get("lr").and_then(Param::number).unwrap().log10() + 1.5).powi(2))
        .collect();
    let trials: Vec<Observation> =
        configs.iter().zip(&scores).map(|(config, &a)| Observation { config, accuracy: Some(a) }).collect();
    let a = importance(&s, &trials, "random search");
    assert_eq!(a.method, Method::Importance, "{a:?}");
    assert_eq!(a.effects[0].name, "lr", "{a:?}");
    assert!(a.effects[0].size > 0.3, "{a:?}");
}

#[test]
fn main_effects_average_over_the_other_factors() {
    // A 2×2 factorial: lr adds 0.2, hidden adds 0.02.
    let s = space(&[("lr", "0.01,0.1"), ("hidden", "16,64")]);
    let grid = s.grid(3, &TrainConfig::default());
    let score = |c: &Config| {
        0.5 + if c.get("lr") == Some(&Param::Float(0.1)) { 0.2 } else { 0.0 }
            + if c.get("hidden") == Some(&Param::Hidden(vec![64])) { 0.02 } else { 0.0 }
    };
    let trials: Vec<Observation> =
        grid.iter().map(|config| Observation { config, accuracy: Some(score(config)) }).collect();
    let a = main_effects(&s, &trials, 100_000, false, None);
    let sizes: Vec<(&str, f64)> = a.effects.iter().map(|e| (e.name, (e.size * 1e6).round() / 1e6)).collect();
    assert_eq!(sizes, [("lr", 0.2), ("hidden", 0.02)]);
    assert!(render(&a).contains("controlled comparisons"));
}
