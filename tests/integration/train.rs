//! Training, weights on disk, evaluate and predict.

use std::sync::atomic::AtomicBool;

use nnopt::data::{image, load, DataSource};
use nnopt::observe::Quiet;
use nnopt::train::{train, Hooks, TrainConfig};
use nnopt::weights;
use tch::nn::Module;
use tch::Device;

use crate::common::{assert_usage_error, fashion_dir, nnopt, nnopt_json, scratch, torch_rng};

fn small_synthetic() -> DataSource {
    DataSource::Synthetic { train: 3000, test: 500 }
}

fn quiet_hooks<'a>(
    stop: &'a AtomicBool,
    on_epoch: &'a mut dyn FnMut(&nnopt::train::EpochMetrics) -> anyhow::Result<()>,
) -> Hooks<'a> {
    Hooks { observer: &Quiet, stop, on_epoch }
}

#[test]
fn one_epoch_of_fashion_mnist_beats_80_percent() {
    let Some(dir) = fashion_dir("train::one_epoch_of_fashion_mnist_beats_80_percent") else { return };
    let v = nnopt_json(&["train", "--data", dir, "--epochs", "1", "--json", "--device", "cpu"]);
    let accuracy = v["final"]["test_accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.80, "1 epoch reached only {accuracy}");
    assert_eq!(v["data"]["train_samples"], 60000);
    assert_eq!(v["data"]["test_samples"], 10000);
    assert_eq!(v["epochs"].as_array().unwrap().len(), 1);
    let matrix = v["final"]["confusion_matrix"].as_array().unwrap();
    assert_eq!(matrix.len(), 10);
    let total: i64 = matrix.iter().flat_map(|r| r.as_array().unwrap()).map(|c| c.as_i64().unwrap()).sum();
    assert_eq!(total, 10000);
    // The normalization printed is the training set's: Fashion-MNIST pixels average 0.2860.
    assert!((v["data"]["mean"].as_f64().unwrap() - 0.2860).abs() < 1e-4);
    // Recognized by its labels' content, so it gets its class names.
    assert_eq!(v["data"]["class_names"][9], "Ankle boot");
}

#[test]
fn same_seed_same_result_and_seeds_differ() {
    let run = |seed: &str| {
        nnopt_json(&[
            "train",
            "--data",
            "synthetic:2000,500",
            "--epochs",
            "2",
            "--seed",
            seed,
            "--json",
            "--device",
            "cpu",
        ])
    };
    let (a, b, c) = (run("3"), run("3"), run("4"));
    assert_eq!(a["final"], b["final"], "same seed, same accuracy and confusion matrix");
    assert_eq!(
        a["epochs"].as_array().unwrap().iter().map(|e| e["train_loss"].clone()).collect::<Vec<_>>(),
        b["epochs"].as_array().unwrap().iter().map(|e| e["train_loss"].clone()).collect::<Vec<_>>()
    );
    assert_ne!(a["epochs"][0]["train_loss"], c["epochs"][0]["train_loss"]);
}

#[test]
fn saved_weights_load_with_identical_predictions() {
    let _rng = torch_rng();
    let data = load(&small_synthetic()).unwrap();
    let stop = AtomicBool::new(false);
    let mut on_epoch = |_: &nnopt::train::EpochMetrics| Ok(());
    let config = TrainConfig { epochs: 2, hidden: vec![24, 16], ..Default::default() };
    let trained = train(&config, &data, Device::Cpu, &mut quiet_hooks(&stop, &mut on_epoch)).unwrap();
    let path = scratch("weights").join("net.safetensors");
    weights::save(&path, &trained.net, &trained.normalization, &data).unwrap();
    let loaded = weights::load(&path, Device::Cpu).unwrap();
    assert_eq!(loaded.widths, [784, 24, 16, 10]);
    assert_eq!(loaded.normalization, Some(trained.normalization));
    assert_eq!(loaded.data.as_deref(), Some("synthetic:3000,500"));
    let x = trained.normalization.apply(&data.test.images, Device::Cpu).unwrap();
    let before = tch::no_grad(|| trained.net.forward(&x));
    let after = tch::no_grad(|| loaded.net.forward(&x));
    assert!(before.equal(&after), "predictions changed through save and load");
    // No temporary file is left beside the weights.
    let names: Vec<_> =
        std::fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, [std::ffi::OsString::from("net.safetensors")]);
}

#[test]
fn cli_round_trip_train_save_evaluate_predict() {
    let dir = scratch("cli_round_trip");
    let weights = dir.join("w.safetensors");
    let csv = dir.join("m.csv");
    let (w, m) = (weights.to_str().unwrap(), csv.to_str().unwrap());
    let data = "synthetic:3000,500";
    let trained = nnopt_json(&[
        "train",
        "--data",
        data,
        "--epochs",
        "3",
        "--save",
        w,
        "--metrics",
        m,
        "--json",
        "--device",
        "cpu",
    ]);
    let accuracy = trained["final"]["test_accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.5, "{accuracy}");

    let rows: Vec<String> = std::fs::read_to_string(&csv).unwrap().lines().map(String::from).collect();
    assert_eq!(
        rows[0],
        "epoch,lr,train_loss,test_loss,test_accuracy,seconds,samples_per_second,batches,complete"
    );
    assert_eq!(rows.len(), 4);
    assert!(rows[3].starts_with("3,"));

    let evaluated = nnopt_json(&["evaluate", "--weights", w, "--data", data, "--json", "--device", "cpu"]);
    assert_eq!(evaluated["accuracy"], trained["final"]["test_accuracy"]);
    assert_eq!(evaluated["confusion_matrix"], trained["final"]["confusion_matrix"]);

    let predicted =
        nnopt_json(&["predict", "--weights", w, "--data", data, "--index", "7", "--json", "--device", "cpu"]);
    let probs: Vec<f64> = serde_json::from_value(predicted["probabilities"].clone()).unwrap();
    assert_eq!(probs.len(), 10);
    assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-5);
    let best = probs.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
    assert_eq!(predicted["predicted"], best);

    // The same test image as a PGM and as a PNG file gives the same prediction.
    let images = {
        let _rng = torch_rng();
        load(&DataSource::parse(data).unwrap()).unwrap().test.images
    };
    let pixels: Vec<u8> = Vec::try_from(images.get(7).reshape([-1])).unwrap();
    let pgm = dir.join("seven.pgm");
    std::fs::write(
        &pgm,
        image::encode_pgm(&image::GrayImage { width: 28, height: 28, pixels: pixels.clone() }),
    )
    .unwrap();
    let png_path = dir.join("seven.png");
    let mut png_bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png_bytes, 28, 28);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.write_header().unwrap().write_image_data(&pixels).unwrap();
    }
    std::fs::write(&png_path, png_bytes).unwrap();
    for file in [&pgm, &png_path] {
        let v = nnopt_json(&[
            "predict",
            "--weights",
            w,
            "--image",
            file.to_str().unwrap(),
            "--json",
            "--device",
            "cpu",
        ]);
        assert_eq!(v["predicted"], predicted["predicted"], "{}", file.display());
        assert_eq!(v["probabilities"], predicted["probabilities"], "{}", file.display());
    }
}

#[test]
fn bad_weights_name_the_tensor() {
    let _rng = torch_rng();
    let dir = scratch("bad_weights");
    let data = load(&DataSource::Synthetic { train: 100, test: 20 }).unwrap();
    let norm = nnopt::data::Normalization::fit(&data.train.images).unwrap();
    // A network for 100-pixel images cannot read 28×28 ones.
    let vs = tch::nn::VarStore::new(Device::Cpu);
    let small = nnopt::mlp::Network::new(&vs.root(), &[100, 8, 10]).unwrap();
    let path = dir.join("small.safetensors");
    // Recorded as trained on 10×10 images (the metadata must describe the network it holds).
    let mut small_images = data;
    (small_images.height, small_images.width) = (10, 10);
    weights::save(&path, &small, &norm, &small_images).unwrap();
    let out = nnopt(&[
        "evaluate",
        "--weights",
        path.to_str().unwrap(),
        "--data",
        "synthetic:100,20",
        "--device",
        "cpu",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("takes 100 inputs") && stderr.contains("784 pixels"), "{stderr}");

    // A file missing fc2.bias.
    let tensors = safetensors::serialize(
        [
            (
                "fc1.weight",
                safetensors::tensor::TensorView::new(
                    safetensors::Dtype::F32,
                    vec![2, 784],
                    &[0u8; 2 * 784 * 4],
                )
                .unwrap(),
            ),
            (
                "fc1.bias",
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2], &[0u8; 8]).unwrap(),
            ),
            (
                "fc2.weight",
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![10, 2], &[0u8; 80])
                    .unwrap(),
            ),
        ],
        &None,
    )
    .unwrap();
    let missing = dir.join("missing.safetensors");
    std::fs::write(&missing, tensors).unwrap();
    let err = weights::load(&missing, Device::Cpu).err().expect("must fail").to_string();
    assert!(err.contains("missing tensor fc2.bias"), "{err}");

    // Not a safetensors file at all, and a file that does not exist.
    let junk = dir.join("junk.safetensors");
    std::fs::write(&junk, b"hello").unwrap();
    for (file, expected) in
        [(junk.to_str().unwrap(), "not a safetensors file"), ("/no/such.safetensors", "cannot read")]
    {
        let out = nnopt(&["predict", "--weights", file, "--index", "0", "--device", "cpu"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(expected) && !stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn divergence_stops_with_advice_and_saves_no_untrained_weights() {
    let dir = scratch("diverge");
    let path = dir.join("w.safetensors");
    let out = nnopt(&[
        "train",
        "--data",
        "synthetic:2000,200",
        "--epochs",
        "3",
        "--lr",
        "1e6",
        "--save",
        path.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("at epoch") && stderr.contains("batch") && stderr.contains("lower --lr"),
        "{stderr}"
    );
    // It diverged in its first epoch: the restored weights are the untrained ones, not saved.
    assert!(stderr.contains("was not written") && stderr.contains("untrained"), "{stderr}");
    assert!(!path.exists(), "untrained weights were saved");
}

#[test]
fn reading_losses_in_batches_changes_when_not_what() {
    // --sync-every sets how often the host reads the loss (64 batches on a GPU); the numbers and a
    // divergence's verdict and restored weights are those of reading every batch.
    let dir = scratch("sync_every");
    let run = |every: &str, lr: &str| {
        let w = dir.join(format!("w{every}_{lr}.safetensors"));
        let mut args = vec!["--device", "cpu", "--json", "--quiet", "train", "--data", "synthetic:2000,200"];
        args.extend(["--epochs", "2", "--lr", lr, "--save", w.to_str().unwrap()]);
        if !every.is_empty() {
            args.extend(["--sync-every", every]);
        }
        let out = nnopt(&args);
        let diverged = lr == "1e6";
        assert_eq!(
            out.status.code(),
            Some(if diverged { 1 } else { 0 }),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        // A run that diverged in its first epoch saves nothing (its weights are the untrained ones).
        if diverged {
            assert!(!w.exists());
            return (v, Vec::new());
        }
        let _rng = torch_rng();
        let params: Vec<Vec<f32>> = weights::load(&w, Device::Cpu)
            .unwrap()
            .net
            .parameters()
            .iter()
            .map(|(_, t)| Vec::try_from(t.reshape([-1])).unwrap())
            .collect();
        (v, params)
    };
    let (a, wa) = run("", "0.05");
    let (b, wb) = run("7", "0.05");
    assert_eq!(a["config"]["sync_every"], 1, "the CPU's default, reported");
    assert_eq!(b["config"]["sync_every"], 7);
    let losses = |v: &serde_json::Value| {
        v["epochs"].as_array().unwrap().iter().map(|e| e["train_loss"].clone()).collect::<Vec<_>>()
    };
    assert_eq!(losses(&a), losses(&b));
    assert_eq!(a["final"], b["final"]);
    assert_eq!(wa, wb);
    let (c, _) = run("1", "1e6");
    let (d, _) = run("50", "1e6");
    assert_eq!(c["stop"]["reason"], "diverged");
    assert_eq!(c["stop"], d["stop"], "the same batch is named");
    assert_eq!(c["final"], d["final"], "the epoch's starting weights are restored either way");
}

#[test]
fn bad_flags_are_usage_errors() {
    for (args, flag) in [
        (&["--epochs", "0"][..], "--epochs"),
        (&["--batch-size", "0"], "--batch-size"),
        (&["--lr", "-1"], "--lr"),
        (&["--momentum", "1"], "--momentum"),
        (&["--weight-decay", "-1"], "--weight-decay"),
        (&["--hidden", "0"], "--hidden"),
        (&["--sync-every", "0"], "--sync-every"),
        (&["--cuda-graphs", "on"], "--cuda-graphs"),
        (&["--save", "/no/such/dir/w.safetensors"], "--save"),
        (&["--metrics", "/no/such/dir/m.csv"], "--metrics"),
    ] {
        assert_usage_error(&[&["train", "--device", "cpu"], args].concat(), flag);
    }
}

#[test]
fn dry_run_takes_one_batch_per_epoch() {
    let v = nnopt_json(&[
        "train",
        "--dry-run",
        "--data",
        "synthetic:2000,200",
        "--epochs",
        "2",
        "--json",
        "--device",
        "cpu",
    ]);
    assert_eq!(v["epochs"].as_array().unwrap().len(), 2);
    assert_eq!(v["config"]["dry_run"], true);
    assert!(v["epochs"][0]["samples_per_second"].as_f64().unwrap() > 0.0);
}

/// On CUDA, the step replayed as a CUDA graph computes what eager CUDA computes: the same
/// kernels in the same order. Every epoch's numbers agree within 1e-6, for one network (the
/// cosine schedule: a capture per epoch's rate; a last, shorter batch) and for a population of
/// networks (the rates as tensors: one capture for the run).
#[test]
fn cuda_graphs_replay_what_eager_cuda_computes() {
    if !crate::common::cuda_or_skip("train::cuda_graphs_replay_what_eager_cuda_computes") {
        return;
    }
    let _rng = torch_rng();
    let data = load(&DataSource::Synthetic { train: 3000, test: 500 }).unwrap();
    let never = AtomicBool::new(false);
    // The cosine schedule (a capture per epoch, the last batch eager) and a constant rate (the
    // last, shorter batch captured too, from the second epoch).
    for schedule in [nnopt::train::Schedule::Cosine, nnopt::train::Schedule::Constant] {
        let run = |graphs: bool| {
            let config = TrainConfig {
                epochs: 3,
                batch_size: 100,
                limit: Some(2950),
                schedule,
                cuda_graphs: Some(graphs),
                ..Default::default()
            };
            let mut on_epoch = |_: &nnopt::train::EpochMetrics| Ok(());
            train(&config, &data, Device::Cuda(0), &mut quiet_hooks(&never, &mut on_epoch)).unwrap().report
        };
        let (eager, graphed) = (run(false), run(true));
        assert!(graphed.config.cuda_graphs && !eager.config.cuda_graphs, "the graphed run must say so");
        assert_eq!(eager.epochs.len(), graphed.epochs.len());
        for (a, b) in eager.epochs.iter().zip(&graphed.epochs) {
            for (what, x, y) in
                [("train loss", a.train_loss, b.train_loss), ("test loss", a.test_loss, b.test_loss)]
            {
                assert!((x - y).abs() <= 1e-6 * x.abs(), "{schedule:?} epoch {}: {what} {x} vs {y}", a.epoch);
            }
            assert!((a.test_accuracy - b.test_accuracy).abs() <= 1e-6, "{schedule:?} epoch {}", a.epoch);
        }
    }
    let population = |graphs: bool| {
        let configs: Vec<TrainConfig> = [0.01, 0.05, 0.2]
            .iter()
            .enumerate()
            .map(|(i, &lr)| TrainConfig {
                epochs: 2,
                lr: Some(lr),
                seed: i as u64,
                limit: Some(2950),
                batch_size: 100,
                cuda_graphs: Some(graphs),
                ..Default::default()
            })
            .collect();
        nnopt::population::train_population(&configs, &data, Device::Cuda(0), &Quiet, &never).unwrap()
    };
    for (a, b) in population(false).iter().zip(&population(true)) {
        assert!(b.report.config.cuda_graphs);
        for (x, y) in a.report.epochs.iter().zip(&b.report.epochs) {
            assert!((x.train_loss - y.train_loss).abs() <= 1e-6 * x.train_loss.abs(), "{x:?} vs {y:?}");
        }
    }
}

/// The failure path of CUDA graphs, on a GPU: a capture made to fail (`NNOPT_TEST_FAIL_CAPTURE`,
/// set for the child only, puts a copy to the host inside the capture) leaves the side stream,
/// drops the graph and trains on eagerly — no crash in the caching allocator, a warning, and
/// the numbers an eager run gives.
#[test]
fn a_failed_capture_goes_on_eagerly_with_eager_numbers() {
    if !crate::common::cuda_or_skip("train::a_failed_capture_goes_on_eagerly_with_eager_numbers") {
        return;
    }
    let run = |graphs: &str, fail: bool| {
        let mut command = crate::common::nnopt_command(&[
            "--device",
            "cuda",
            "--json",
            "train",
            "--data",
            "synthetic:3000,500",
            "--epochs",
            "2",
            "--batch-size",
            "100",
            "--cuda-graphs",
            graphs,
        ]);
        if fail {
            command.env(nnopt::cuda_graph::FAIL_CAPTURE, "1");
        }
        let out = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "--cuda-graphs {graphs} (failing: {fail}): {stderr}");
        (serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(), stderr)
    };
    let (eager, _) = run("off", false);
    let (failed, stderr) = run("on", true);
    assert!(stderr.contains("CUDA graphs failed"), "{stderr}");
    assert_eq!(failed["config"]["cuda_graphs"], false, "a run whose capture failed did not replay");
    let (a, b) = (eager["epochs"].as_array().unwrap(), failed["epochs"].as_array().unwrap());
    assert_eq!(a.len(), b.len(), "both ran every epoch");
    for (a, b) in a.iter().zip(b) {
        let (x, y) = (a["train_loss"].as_f64().unwrap(), b["train_loss"].as_f64().unwrap());
        assert!((x - y).abs() <= 1e-6 * x.abs(), "epoch {}: {x} vs {y}", a["epoch"]);
    }
}

/// On CUDA the written-out backward pass (`nnopt::backprop`, what `train` steps with) gives
/// autograd's loss and gradients: bit for bit is tested on the CPU; here, each tensor to 1e-6 of
/// its largest entry, since cuBLAS may pick another kernel for an output at an offset into the
/// flat buffer (an entry near 0 may then differ by more than 1e-6 of itself).
#[test]
fn written_out_gradients_are_autograds_on_cuda() {
    if !crate::common::cuda_or_skip("train::written_out_gradients_are_autograds_on_cuda") {
        return;
    }
    let _rng = torch_rng();
    let device = Device::Cuda(0);
    tch::manual_seed(3);
    let vs = tch::nn::VarStore::new(device);
    let net = nnopt::mlp::Network::new(&vs.root(), &[784, 32, 10]).unwrap();
    let x = tch::Tensor::randn([128, 784], (tch::Kind::Float, device));
    let y = tch::Tensor::randint(10, [128], (tch::Kind::Int64, device));
    let loss = net.forward(&x).log_softmax(-1, tch::Kind::Float).nll_loss(&y);
    loss.backward();
    // One flat buffer with each gradient a view into it, as `train` gives them.
    let parameters = net.parameters();
    let total: i64 = parameters.iter().map(|(_, p)| p.numel() as i64).sum();
    let flat = tch::Tensor::full([total], f64::NAN, (tch::Kind::Float, device));
    let mut offset = 0;
    let grads: Vec<tch::Tensor> = parameters
        .iter()
        .map(|(_, p)| {
            let n = p.numel() as i64;
            offset += n;
            flat.narrow(0, offset - n, n).view(p.size().as_slice())
        })
        .collect();
    let mut backprop = nnopt::backprop::Backprop::new(device).unwrap();
    let ours = backprop.loss_and_gradients(&net, &x, &y, &grads).unwrap();
    // max |a − b| against 1e-6 of max |b|, per tensor.
    let gap = |a: &tch::Tensor, b: &tch::Tensor| {
        let worst = (a - b).abs().max().double_value(&[]);
        (worst, worst <= 1e-6 * b.abs().max().double_value(&[]))
    };
    let (worst, close) = gap(&ours, &loss.detach());
    assert!(close, "loss {ours} vs {loss}: |Δ| {worst}");
    for ((name, p), mine) in parameters.iter().zip(&grads) {
        let theirs = p.grad();
        assert!(theirs.abs().max().double_value(&[]) > 0.0, "{name}: autograd gave no gradient");
        let (worst, close) = gap(mine, &theirs);
        assert!(close, "{name}: max |Δ| {worst}");
        eprintln!("{name}: max |Δ| from autograd on CUDA {worst:e}");
    }
}
