//! `nnopt descent`: autograd gradients against the formulas' derivatives, the closed forms,
//! torch.optim's trajectories, and the claims the default run makes.

use nnopt::descent::{run_one, DescentConfig, Minimum, Optimizer, RunSpec, Surface};
use serde_json::Value;
use tch::Tensor;

use crate::common::{golden, nnopt, nnopt_json, scratch};

fn spec(optimizer: Optimizer, lr: f64, momentum: f64, steps: usize) -> RunSpec {
    RunSpec { optimizer, lr, momentum, steps, continued: 5000, tol: 1e-12, device: tch::Device::Cpu, seed: 0 }
}

fn minima(surface: Surface) -> Vec<Minimum> {
    surface.minima().unwrap()
}

#[test]
fn autograd_gradients_equal_the_analytic_derivatives() {
    use std::f64::consts::PI;
    let k = 0.15 * PI;
    // The derivatives, by hand here only, to check autograd against.
    type Derivative = Box<dyn Fn(&[f64]) -> Vec<f64>>;
    let cases: Vec<(Surface, Derivative)> = vec![
        (Surface::Quadratic, Box::new(|x| vec![2.0 * x[0]])),
        (Surface::Cosine, Box::new(move |x| vec![(k * x[0]).cos() - k * x[0] * (k * x[0]).sin()])),
        (Surface::IllConditioned, Box::new(|x| vec![0.2 * x[0], 4.0 * x[1]])),
        (
            Surface::Rosenbrock,
            Box::new(|x| {
                vec![2.0 * (x[0] - 1.0) - 400.0 * x[0] * (x[1] - x[0] * x[0]), 200.0 * (x[1] - x[0] * x[0])]
            }),
        ),
        (
            Surface::Rastrigin,
            Box::new(|x| x.iter().map(|&v| 2.0 * v + 20.0 * PI * (2.0 * PI * v).sin()).collect()),
        ),
        (Surface::Saddle, Box::new(|x| vec![2.0 * x[0], -2.0 * x[1]])),
        (Surface::Step, Box::new(|_| vec![0.0])),
    ];
    // Sample points spread over each domain (away from ⌊x²⌋'s jumps for the step surface).
    let samples: [[f64; 2]; 5] = [[3.0, -1.5], [2.5, 0.7], [-7.0, 2.2], [0.3, -1.2], [-1.43, 0.05]];
    for (surface, derivative) in cases {
        for sample in samples {
            let at = &sample[..surface.dimensions()];
            let x = Tensor::from_slice(at).set_requires_grad(true);
            let grad = Tensor::run_backward(&[surface.f(&x)], &[&x], false, false).remove(0);
            let grad: Vec<f64> = Vec::try_from(grad).unwrap();
            let expected = derivative(at);
            for (g, e) in grad.iter().zip(&expected) {
                assert!(
                    (g - e).abs() <= 1e-10 * (1.0 + e.abs()),
                    "{} at {at:?}: autograd {g}, analytic {e}",
                    surface.name()
                );
            }
        }
    }
}

#[test]
fn gd_on_x_squared_shrinks_by_0_6_per_step() {
    let run =
        run_one(Surface::Quadratic, &minima(Surface::Quadratic), spec(Optimizer::Gd, 0.2, 0.0, 30), &[10.0])
            .unwrap();
    for (n, p) in run.trajectory.iter().enumerate() {
        let expected = 10.0 * 0.6f64.powi(n as i32);
        assert!((p[0] - expected).abs() <= 1e-12 * expected, "step {n}: {} vs {expected}", p[0]);
    }
    assert_eq!(run.trajectory.len(), 31);
}

#[test]
fn ill_conditioned_gd_diverges_where_momentum_converges() {
    let s = Surface::IllConditioned;
    let start = [-5.0, -2.0];
    let gd =
        run_one(s, &minima(s), RunSpec { tol: 1e-6, ..spec(Optimizer::Gd, 0.6, 0.0, 1000) }, &start).unwrap();
    assert_eq!(serde_json::to_value(gd.end.status).unwrap(), "diverged");
    // |1 − 0.6·4| = 1.4 per step along x₂: out past 1000× the domain within ~25 steps.
    assert!(gd.end.steps < 40, "{}", gd.end.steps);
    let momentum =
        run_one(s, &minima(s), RunSpec { tol: 1e-6, ..spec(Optimizer::Momentum, 0.6, 0.5, 1000) }, &start)
            .unwrap();
    assert_eq!(serde_json::to_value(momentum.end.status).unwrap(), "converged");
    assert_eq!(momentum.end.minimum.map(|m| m.global), Some(true));
}

#[test]
fn library_optimizers_follow_torch_optim() {
    // Goldens: scripts/torch-python scripts/reference/descent.py > tests/goldens/descent.json
    let cases = golden("descent.json");
    for case in cases.as_array().unwrap() {
        let surface = Surface::parse(case["surface"].as_str().unwrap()).unwrap();
        let optimizer = Optimizer::parse(case["optimizer"].as_str().unwrap()).unwrap();
        let lr = case["lr"].as_f64().unwrap();
        let momentum = case["momentum"].as_f64().unwrap_or(0.0);
        let start: Vec<f64> = serde_json::from_value(case["start"].clone()).unwrap();
        let expected: Vec<Vec<f64>> = serde_json::from_value(case["trajectory"].clone()).unwrap();
        assert_eq!(expected.len(), 21, "the golden holds the start and 20 steps");
        let run = run_one(surface, &minima(surface), spec(optimizer, lr, momentum, 20), &start).unwrap();
        assert_eq!(run.trajectory.len(), 21, "{case}");
        for (n, (ours, theirs)) in run.trajectory.iter().zip(&expected).enumerate() {
            for (a, b) in ours.iter().zip(theirs) {
                assert!(
                    // 1e-9 relative: on this machine they agree to ~1e-15, but the goldens may be
                    // read on a CPU whose vectorised cos rounds differently.
                    (a - b).abs() <= 1e-9 * (1.0 + b.abs()),
                    "{} {} step {n}: nnopt {a}, torch.optim {b}",
                    surface.name(),
                    optimizer.name()
                );
            }
        }
    }
}

#[test]
fn the_default_run_shows_one_trapped_and_one_escaping() {
    let v = nnopt_json(&["--json", "descent"]);
    assert_eq!(v["surface"]["name"], "cosine");
    let runs = v["runs"].as_array().unwrap();
    let minimum =
        |name: &str| runs.iter().find(|r| r["optimizer"] == name).unwrap()["final"]["minimum"].clone();
    assert_eq!(minimum("gd")["global"], false, "gd is trapped");
    assert_eq!(minimum("momentum")["global"], true, "momentum escapes");
    // The minima listed are the formula's: f'(x) = cos(kx) − kx·sin(kx) = 0 there.
    let k = 0.15 * std::f64::consts::PI;
    for m in v["surface"]["minima"].as_array().unwrap() {
        let x = m["point"][0].as_f64().unwrap();
        assert!(((k * x).cos() - k * x * (k * x).sin()).abs() < 1e-9, "{m}");
    }
    let text = String::from_utf8(nnopt(&["descent"]).stdout).unwrap();
    assert!(
        text.contains("gd, rmsprop: converged to the local minimum on [-10, 10] at -1.8257 from -6.5000.\n"),
        "{text}"
    );
    // Those that swung say for how long: momentum swings past the local minimum, and on.
    assert!(
        text.contains("momentum: converged to the global minimum on [-10, 10] at 7.2694 from -6.5000, after swinging around it"),
        "{text}"
    );
    assert!(
        text.contains(
            "nesterov: converged to the local minimum on [-10, 10] at -1.8257 from -6.5000, after swinging"
        ),
        "{text}"
    );
    // The rules in play are printed above the table.
    assert!(text.contains("momentum       v ← μ·v + g;  x ← x − lr·v"), "{text}");
}

#[test]
fn the_step_surface_stalls_and_says_to_search() {
    let v = nnopt_json(&["--json", "descent", "--surface", "step"]);
    for run in v["runs"].as_array().unwrap() {
        assert_eq!(run["final"]["status"], "stalled", "{run}");
        assert_eq!(run["final"]["steps"], 0);
        assert_eq!(run["trajectory"].as_array().unwrap().len(), 1);
    }
    assert!(v["summary"].as_str().unwrap().contains("--optimizers random-search"));
}

#[test]
fn each_status_is_where_the_run_really_ended() {
    let run = |args: &[&str]| -> Value {
        let v = nnopt_json(&[&["--json", "descent"], args].concat());
        v["runs"][0]["final"].clone()
    };
    // The top of cosine's ridge (f'(x) = 0 between the minima, f = +1.19): the gradient
    // vanishes but f falls both ways — a maximum is no minimum, whatever basin it sits in.
    let top = run(&["--start", "1.82568457867234", "--optimizers", "gd"]);
    assert_eq!((top["status"].as_str(), top["minimum"].is_null()), (Some("stalled"), true), "{top}");
    let near_top = run(&["--start", "1.82", "--tol", "0.01", "--optimizers", "gd"]);
    assert_eq!(near_top["status"], "stalled", "{near_top}");
    // A maximum of rastrigin, and the saddle's centre reached along x₁.
    let peak =
        run(&["--surface", "rastrigin", "--start", "0.50255,0.50255", "--tol", "0.01", "--optimizers", "gd"]);
    assert_eq!(peak["status"], "stalled", "{peak}");
    // Each stall says why: a plateau (points to a search), a ridge top or saddle.
    let said = |args: &[&str]| {
        nnopt_json(&[&["--json", "descent"], args].concat())["summary"].as_str().unwrap().to_string()
    };
    let plateau = said(&["--surface", "step", "--start=3.465", "--optimizers", "gd"]);
    assert!(plateau.contains("flat there") && plateau.contains("random-search"), "{plateau}");
    let centre = said(&["--surface", "saddle", "--start", "0,0", "--optimizers", "gd"]);
    assert!(centre.contains("a maximum or a saddle point"), "{centre}");
    let saddle = run(&["--surface", "saddle", "--start", "1,0", "--optimizers", "gd", "--lr", "0.1"]);
    assert_eq!(saddle["status"], "stalled", "{saddle}");
    assert!(saddle["point"][0].as_f64().unwrap().abs() < 1e-6, "{saddle}");
    // Rastrigin's nearest local minimum from (2.1, 0.1), not the global one at the origin.
    let local =
        run(&["--surface", "rastrigin", "--start", "2.1,0.1", "--optimizers", "gd", "--steps", "2000"]);
    assert_eq!(
        (local["status"].as_str(), &local["minimum"]["global"]),
        (Some("converged"), &Value::Bool(false)),
        "{local}"
    );
    // Out of steps, still in the basin; and a step so large the point overflows.
    let short = run(&["--surface", "quadratic", "--start", "10", "--steps", "3", "--optimizers", "gd"]);
    assert_eq!((short["status"].as_str(), short["steps"].as_u64()), (Some("max-steps"), Some(3)), "{short}");
    let blown = run(&["--surface", "quadratic", "--start", "10", "--lr", "1e308", "--optimizers", "gd"]);
    assert_eq!(blown["status"], "diverged", "{blown}");
    assert!(blown["gradient_norm"].is_null() && blown["minimum"].is_null(), "{blown}");
    // --list names every surface with its minima, in text and JSON.
    let list = nnopt_json(&["--json", "descent", "--list"]);
    let names: Vec<&str> =
        list["surfaces"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, Surface::ALL.iter().map(|s| s.name()).collect::<Vec<_>>());
    let text = String::from_utf8(nnopt(&["descent", "--list"]).stdout).unwrap();
    assert!(text.contains("rastrigin") && text.contains("7.2694"), "{text}");
    // --list prints every optimizer's rule, and --help does too.
    for o in Optimizer::ALL {
        assert!(text.contains(o.rule()), "--list lacks {}'s rule:\n{text}", o.name());
        assert_eq!(
            list["optimizers"].as_array().unwrap().iter().filter(|x| x["rule"] == o.rule()).count(),
            1
        );
    }
    let help = String::from_utf8(nnopt(&["descent", "--help"]).stdout).unwrap();
    assert!(help.contains(Optimizer::Adam.rule()), "{help}");
}

#[test]
fn every_surface_runs_with_json_and_csv() {
    let dir = scratch("descent_csv");
    for surface in Surface::ALL {
        let csv = dir.join(format!("{}.csv", surface.name()));
        let v = nnopt_json(&[
            "--json",
            "descent",
            "--surface",
            surface.name(),
            "--steps",
            "50",
            "--csv",
            csv.to_str().unwrap(),
        ]);
        let runs = v["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 5);
        let points: usize = runs.iter().map(|r| r["trajectory"].as_array().unwrap().len()).sum();
        let rows = std::fs::read_to_string(&csv).unwrap().lines().count();
        assert_eq!(rows, points + 1, "{}: one CSV row per trajectory point", surface.name());
        // The CSV holds the JSON's numbers: the first run's first step, coordinates and loss.
        // (The step surface stalls at its start: no first step to compare.)
        if runs[0]["trajectory"].as_array().unwrap().len() > 1 {
            let text = std::fs::read_to_string(&csv).unwrap();
            let second: Vec<&str> = text.lines().nth(2).unwrap().split(',').collect();
            let dims = runs[0]["start"].as_array().unwrap().len();
            assert_eq!(second[4], "1", "{}: step column", surface.name());
            for (d, coordinate) in second[5..5 + dims].iter().enumerate() {
                assert_eq!(coordinate.parse::<f64>().unwrap(), runs[0]["trajectory"][1][d].as_f64().unwrap());
            }
        }
        for r in runs {
            assert_eq!(r["trajectory"][0], r["start"]);
            // Each step taken adds one point (a diverged run stops at the escaping point).
            let steps = r["final"]["steps"].as_u64().unwrap() as usize;
            assert_eq!(r["trajectory"].as_array().unwrap().len(), steps + 1);
            assert_eq!(r["final"]["point"], r["trajectory"][steps]);
        }
    }
    // Negative starts without `=`, and seeded spreads are reproducible and differ by seed.
    let v =
        nnopt_json(&["--json", "descent", "--surface", "saddle", "--start", "-5,-2", "--optimizers", "gd"]);
    assert_eq!(v["runs"][0]["start"], serde_json::json!([-5.0, -2.0]));
    let spread = |seed: &str| -> Value {
        nnopt_json(&["--json", "descent", "--starts", "4", "--seed", seed, "--optimizers", "gd"])
    };
    let (a, b, c) = (spread("1"), spread("1"), spread("2"));
    let starts =
        |v: &Value| v["runs"].as_array().unwrap().iter().map(|r| r["start"].clone()).collect::<Vec<_>>();
    assert_eq!(starts(&a), starts(&b));
    assert_ne!(starts(&a), starts(&c));
    assert_eq!(starts(&a).len(), 4);
}

#[test]
fn the_library_default_is_the_cli_default() {
    let quiet = nnopt::observe::Quiet;
    let report = nnopt::descent::run(&DescentConfig::default(), tch::Device::Cpu, &quiet).unwrap();
    let cli = nnopt_json(&["--device", "cpu", "--json", "descent"]);
    assert_eq!(serde_json::to_value(&report).unwrap(), cli, "the library and the CLI disagree");
    // With --momentum 0, nesterov (which would be plain gd) is left out of the default list.
    let v = nnopt_json(&["--json", "descent", "--momentum", "0"]);
    let names: Vec<&str> =
        v["runs"].as_array().unwrap().iter().map(|r| r["optimizer"].as_str().unwrap()).collect();
    assert_eq!(names, ["gd", "momentum", "adam", "rmsprop"]);
    let v = nnopt_json(&["--json", "descent", "--optimizers", "adam,gd,adam", "--lr", "0.2,0.2,0.05"]);
    let names: Vec<(&str, f64)> = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["optimizer"].as_str().unwrap(), r["lr"].as_f64().unwrap()))
        .collect();
    assert_eq!(
        names,
        [("adam", 0.2), ("gd", 0.2), ("adam", 0.05)],
        "the list as given, rates paired in order"
    );
}

/// The runs of `nnopt --json descent ARGS`.
fn runs(args: &[&str]) -> Vec<Value> {
    let v = nnopt_json(&[&["--json", "--device", "cpu", "descent"], args].concat());
    v["runs"].as_array().unwrap().clone()
}

#[test]
fn a_swing_at_lr_1_is_an_oscillation_that_reached_nothing() {
    let r = &runs(&["--surface", "quadratic", "--lr", "1", "--start", "5", "--optimizers", "gd"])[0];
    let end = &r["final"];
    assert_eq!(end["status"], "max-steps", "{end}");
    assert_eq!(end["motion"], "oscillating", "{end}");
    assert_eq!(
        end["oscillation"]["between"],
        serde_json::json!([[5.0], [-5.0]]),
        "its last two turning points"
    );
    assert!(end["minimum"].is_null(), "x = ±5 on x² reached no minimum: {end}");
    assert_eq!(end["basin"]["global"], true, "it is still in the bowl");
    let said = r["outcome"].as_str().unwrap();
    assert!(
        said.contains("oscillating between 5.0000 and -5.0000") && said.contains("reached no minimum"),
        "{said}"
    );
    assert!(!r["rule"].as_str().unwrap().is_empty());
}

#[test]
fn d2l_s_three_figures_in_one_run() {
    let r = runs(&[
        "--surface",
        "ill-conditioned",
        "--optimizers",
        "gd,gd,momentum",
        "--lr",
        "0.4,0.6,0.6",
        "--momentum",
        "0.5",
        "--start=-5,-2",
        "--steps",
        "20",
    ]);
    let got: Vec<(&str, f64)> =
        r.iter().map(|r| (r["optimizer"].as_str().unwrap(), r["lr"].as_f64().unwrap())).collect();
    assert_eq!(got, [("gd", 0.4), ("gd", 0.6), ("momentum", 0.6)]);
    assert_eq!(r[2]["momentum"], 0.5);
    assert!(r.iter().all(|r| r["rule"].as_str().is_some_and(|s| s.contains("x ←"))));
    // gd at 0.6: x₂ is multiplied by 1 − 0.6·4 = −1.4 per step: 2·1.4²⁰ ≈ 1673.
    let gd = &r[1]["final"];
    let x2 = gd["point"][1].as_f64().unwrap();
    assert!(gd["status"] == "diverged" || x2.abs() > 1000.0, "{gd}");
    assert_eq!(gd["oscillation"]["amplitude"], "growing", "{gd}");
    assert!(gd["left_domain_at"].as_u64().is_some() && gd["minimum"].is_null(), "{gd}");
    // gd at 0.4 still descends (x₁ shrinks by 0.92 per step), and has not arrived.
    assert_eq!(
        (r[0]["final"]["motion"].as_str(), r[0]["final"]["minimum"].is_null()),
        (Some("descending"), true)
    );
}

#[test]
fn a_run_that_leaves_the_domain_is_never_called_its_minimum() {
    let r = &runs(&["--start=-9.5", "--optimizers", "gd"])[0];
    let end = &r["final"];
    assert_eq!(end["left_domain_at"], 1, "{end}");
    assert!(end["minimum"].is_null() && end["basin"].is_null(), "{end}");
    assert!(end["point"][0].as_f64().unwrap() < -10.0, "{end}");
    let said = r["outcome"].as_str().unwrap();
    assert!(said.contains("left [-10, 10] at step 1") && said.contains("outside [-10, 10]"), "{said}");
}

#[test]
fn only_runs_that_got_to_1_1_reached_rosenbrock_s_minimum() {
    let r = runs(&["--surface", "rosenbrock"]);
    let mut reached = 0;
    for run in &r {
        let end = &run["final"];
        let p: Vec<f64> = serde_json::from_value(end["point"].clone()).unwrap();
        let away = ((p[0] - 1.0).powi(2) + (p[1] - 1.0).powi(2)).sqrt() > 1e-3;
        if away {
            assert!(end["minimum"].is_null(), "{} ended at {p:?} yet reached a minimum", run["optimizer"]);
        } else {
            reached += 1;
        }
    }
    assert!(reached >= 2, "momentum and nesterov reach (1, 1)");
    // Adam's end (−0.058, 0.004) is reported as running out of steps, not as a minimum.
    let adam = r.iter().find(|x| x["optimizer"] == "adam").unwrap();
    assert_eq!(adam["final"]["status"], "max-steps");
}

#[test]
fn where_gradients_stall_a_search_finds_the_minimum() {
    let r = runs(&["--surface", "step", "--optimizers", "gd,random-search,grid-search", "--seed", "3"]);
    assert_eq!(r[0]["final"]["status"], "stalled");
    for search in &r[1..] {
        let end = &search["final"];
        assert_eq!((end["status"].as_str(), end["loss"].as_f64()), (Some("searched"), Some(0.0)), "{end}");
        assert_eq!(end["minimum"]["global"], true, "{end}");
        assert!(search["lr"].is_null(), "a search takes no learning rate");
        // The trajectory is the best point so far: its loss never rises.
        let losses: Vec<f64> = serde_json::from_value(search["losses"].clone()).unwrap();
        assert!(losses.windows(2).all(|w| w[1] <= w[0]));
    }
    // Seeded: the same seed finds the same point, another seed another.
    let again = runs(&["--surface", "step", "--optimizers", "random-search", "--seed", "3"]);
    assert_eq!(again[0]["final"]["point"], r[1]["final"]["point"]);
    let other = runs(&["--surface", "step", "--optimizers", "random-search", "--seed", "4"]);
    assert_ne!(other[0]["final"]["point"], r[1]["final"]["point"]);
    // On a smooth surface, a search of 100 points does not land on x² = 0 exactly: no minimum.
    let q = runs(&["--surface", "quadratic", "--optimizers", "random-search"]);
    assert!(q[0]["final"]["minimum"].is_null() && q[0]["final"]["loss"].as_f64().unwrap() > 0.0);
}
