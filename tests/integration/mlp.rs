//! `nnopt mlp`: the network's shape and names, PyTorch's numbers, SGD by hand, CUDA agreement.

use nnopt::mlp::{run, MlpConfig, Network, CLASSES, INPUT_FEATURES};
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Reduction, Tensor};

use crate::common::{
    assert_matches_golden, assert_usage_error, cuda_or_skip, golden, max_abs_diff, nnopt_json, nnopt_ok,
    torch_rng,
};

#[test]
fn seed_0_matches_pytorch() {
    // Goldens: scripts/torch-python scripts/reference/mlp.py --seed 0 > tests/goldens/mlp_seed0.json
    assert_matches_golden(
        &nnopt_json(&["mlp", "--seed", "0", "--json", "--device", "cpu"]),
        "mlp_seed0.json",
    );
}

#[test]
fn seed_1_matches_pytorch() {
    // Goldens: scripts/torch-python scripts/reference/mlp.py --seed 1 > tests/goldens/mlp_seed1.json
    let ours = nnopt_json(&["mlp", "--seed", "1", "--json", "--device", "cpu"]);
    assert_eq!(ours["parameters"].as_array().unwrap().len(), 4);
    assert_matches_golden(&ours, "mlp_seed1.json");
}

#[test]
fn prints_as_pytorch_prints_the_module() {
    // PyTorch: print(Net()) for fc1 = nn.Linear(784, 32), fc2 = nn.Linear(32, 10)
    let vs = nn::VarStore::new(Device::Cpu);
    let _rng = torch_rng(); // Network::new draws its initial weights
    let net = Network::new(&vs.root(), &[784, 32, 10]).unwrap();
    assert_eq!(
        net.to_string(),
        "Network(\n  (fc1): Linear(in_features=784, out_features=32, bias=True)\n  \
         (fc2): Linear(in_features=32, out_features=10, bias=True)\n)"
    );
}

#[test]
fn parameters_have_pytorch_names_and_shapes() {
    // PyTorch: [(n, list(p.shape)) for n, p in Net().named_parameters()]
    let vs = nn::VarStore::new(Device::Cpu);
    let _rng = torch_rng(); // Network::new draws its initial weights
    let net = Network::new(&vs.root(), &[784, 32, 10]).unwrap();
    let names: Vec<(String, Vec<i64>)> = net.parameters().into_iter().map(|(n, t)| (n, t.size())).collect();
    let expected = [
        ("fc1.weight", vec![32, 784]),
        ("fc1.bias", vec![32]),
        ("fc2.weight", vec![10, 32]),
        ("fc2.bias", vec![10]),
    ];
    assert_eq!(names, expected.map(|(n, s)| (n.to_string(), s)));
    let mut stored: Vec<String> = vs.variables().into_keys().collect();
    stored.sort();
    assert_eq!(stored, ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"]);
}

#[test]
fn initialisation_is_pytorchs_nn_linear() {
    // PyTorch: torch.manual_seed(0); l = nn.Linear(784, 32) → l.weight[0, :3], l.bias[:3]; bounds ±1/√784
    // (values from tests/goldens/mlp_seed0.json's fc1_weight_row0_before, the same first draw).
    let _rng = torch_rng();
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let net = Network::new(&vs.root(), &[784, 32, 10]).unwrap();
    let fc1 = net.layers().next().unwrap();
    let row: Vec<f64> = Vec::try_from(fc1.ws.get(0).narrow(0, 0, 10).to_kind(Kind::Double)).unwrap();
    let golden_row: Vec<f64> =
        serde_json::from_value(golden("mlp_seed0.json")["fc1_weight_row0_before"].clone()).unwrap();
    assert_eq!(row, golden_row);
    let bound = 1.0 / 28.0;
    assert!(fc1.ws.abs().max().double_value(&[]) <= bound);
    assert!(fc1.bs.as_ref().unwrap().abs().max().double_value(&[]) <= bound);
}

#[test]
fn an_sgd_step_is_w_minus_lr_grad() {
    let _rng = torch_rng();
    tch::manual_seed(3);
    let lr = 0.05;
    let vs = nn::VarStore::new(Device::Cpu);
    let net = Network::new(&vs.root(), &[INPUT_FEATURES, 16, CLASSES]).unwrap();
    let mut sgd = nn::Sgd::default().build(&vs, lr).unwrap();
    let input = Tensor::randn([4, 1, 28, 28], (Kind::Float, Device::Cpu));
    let target = Tensor::randn([4, CLASSES], (Kind::Float, Device::Cpu));
    sgd.zero_grad();
    net.forward(&input).mse_loss(&target, Reduction::Mean).backward();
    let expected: Vec<(Tensor, String)> =
        net.parameters().into_iter().map(|(n, p)| ((p.detach() - p.grad() * lr).copy(), n)).collect();
    let before: Vec<Tensor> = net.parameters().iter().map(|(_, p)| p.detach().copy()).collect();
    sgd.step();
    for (((want, name), (_, got)), old) in expected.iter().zip(net.parameters()).zip(&before) {
        let diff = (got.detach() - want).abs().max().double_value(&[]);
        assert!(diff <= 1e-7, "{name}: |Δ| = {diff}");
        // And the step moved every parameter tensor (each has a non-zero gradient here).
        let moved = (got.detach() - old).abs().max().double_value(&[]);
        assert!(moved > 0.0, "{name} did not move");
    }
}

#[test]
fn text_walks_the_notebook_cells() {
    let text = nnopt_ok(&["mlp", "--device", "cpu", "--full"]);
    for expected in [
        "Network(\n  (fc1): Linear(in_features=784, out_features=32, bias=True)",
        "torch.Size([1, 1, 28, 28])\n",
        "]], grad_fn=<AddmmBackward0>)\n# params",
        "\n4\nParameter containing:\ntensor([[",
        "       requires_grad=True)\ntorch.Size([32, 784])\n",
        "grad_fn=<MseLossBackward0>)\n",
        "before\nNone\nafter\ntensor([",
        "grad_fn=<SliceBackward0>)",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn hidden_width_and_lr_apply_and_are_validated() {
    let v = nnopt_json(&["mlp", "--hidden", "8", "--json", "--device", "cpu"]);
    assert_eq!(v["parameters"][0]["shape"], serde_json::json!([8, 784]));
    assert_eq!(v["fc1_bias_grad"].as_array().unwrap().len(), 8);
    for (args, flag) in [
        (&["--hidden", "0"][..], "--hidden"),
        (&["--lr", "-1"], "--lr"),
        (&["--hidden", "-3"], "--hidden"),
        (&["--lr", "nan"], "--lr"),
    ] {
        assert_usage_error(&[&["mlp"], args].concat(), flag);
    }
}

#[test]
fn library_and_cli_agree() {
    let _rng = torch_rng();
    let report = run(&MlpConfig::default(), Device::Cpu).unwrap();
    let cli = nnopt_json(&["mlp", "--json", "--device", "cpu"]);
    assert!(serde_json::to_value(&report).unwrap() == cli, "the library and the CLI disagree");
}

#[test]
fn cuda_agrees_with_cpu() {
    if !cuda_or_skip("mlp::cuda_agrees_with_cpu") {
        return;
    }
    let _rng = torch_rng();
    let cpu = serde_json::to_value(run(&MlpConfig::default(), Device::Cpu).unwrap()).unwrap();
    let mut cuda = serde_json::to_value(run(&MlpConfig::default(), Device::Cuda(0)).unwrap()).unwrap();
    // The numbers are compared, not the device's name (on an H200 this test failed on
    // "$.device differs" alone: the largest difference was 1.2e-7).
    cuda["device"] = cpu["device"].clone();
    let diff = max_abs_diff(&cuda, &cpu, "$");
    assert!(diff <= 1e-5, "CPU and CUDA differ by {diff}");
}

#[test]
fn one_sgd_step_says_its_rule_and_what_it_bought() {
    let v = crate::common::nnopt_json(&["--device", "cpu", "--json", "mlp"]);
    let (before, after) = (v["loss"].as_f64().unwrap(), v["loss_after_step"].as_f64().unwrap());
    assert!(after < before, "one step of descent lowers the loss on its own input: {before} → {after}");
    let text = crate::common::nnopt_ok(&["--device", "cpu", "mlp"]);
    assert!(
        text.contains("θ ← θ − lr·∇L") && text.contains("before the step") && text.contains("after ("),
        "{text}"
    );
}

/// The step's facts agree with the tensors the report carries: fc1.bias.grad's zeros are the
/// units ReLU switched off, and the step lowered the loss on its input.
#[test]
fn the_steps_facts_agree_with_its_tensors() {
    for seed in ["0", "7"] {
        let v = nnopt_json(&["--device", "cpu", "--json", "mlp", "--seed", seed]);
        let zeros = v["fc1_bias_grad"].as_array().unwrap().iter().filter(|g| g.as_f64() == Some(0.0)).count();
        assert_eq!(v["step"]["fc1_bias_grad_zeros"], zeros, "seed {seed}");
        assert_eq!(v["step"]["fc1_inactive_units"], zeros, "seed {seed}: every zero is an inactive unit");
        let before: Vec<f64> =
            v["fc1_weight_row0_before"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        let after: Vec<f64> =
            v["fc1_weight_row0_after"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        let row0_largest = before.iter().zip(&after).map(|(b, a)| (a - b).abs()).fold(0.0, f64::max);
        let largest = v["step"]["fc1_largest_change"].as_f64().unwrap().abs();
        assert!(largest >= row0_largest && largest > 0.0, "seed {seed}: {largest} < {row0_largest}");
        assert!(v["loss_after_step"].as_f64().unwrap() < v["loss"].as_f64().unwrap(), "seed {seed}");
    }
    let text = nnopt_ok(&["--device", "cpu", "mlp"]);
    assert!(text.contains("fc2.bias.grad is g itself"), "{text}");
    assert!(text.contains("14 of the 32 entries are 0: 14 fc1 units"), "{text}");
}
