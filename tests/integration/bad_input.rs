//! The bad-input table: every way a user can get a command wrong, one row each — the command
//! line, the exit code (2: usage, 1: runtime), and a piece of the message. Every row must end in
//! a short message on stderr, nothing on stdout, no panic and no libtorch backtrace. Later
//! commands add their rows here.

use std::path::{Path, PathBuf};

use nnopt::data::idx;
use safetensors::tensor::TensorView;
use safetensors::Dtype;

use crate::common::{nnopt, scratch};

/// A small, valid MNIST-layout set (12 images of 5×4, 3 classes) in `dir`.
fn write_set(dir: &Path) {
    for prefix in ["train", "t10k"] {
        let pixels: Vec<u8> = (0..12 * 20).map(|i| (i * 7 % 256) as u8).collect();
        let labels: Vec<u8> = (0..12).map(|i| i % 3).collect();
        std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), idx::encode(&[12, 5, 4], &pixels))
            .unwrap();
        std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), idx::encode(&[12], &labels)).unwrap();
    }
}

/// A data directory like `write_set`'s with `file` replaced by `contents` (deleted for None,
/// made a directory for `Some(b"<dir>")`).
fn data_dir(root: &Path, name: &str, file: &str, contents: Option<&[u8]>) -> String {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    write_set(&dir);
    let path = dir.join(file);
    std::fs::remove_file(&path).unwrap();
    match contents {
        Some(b"<dir>") => std::fs::create_dir(&path).unwrap(),
        Some(bytes) => std::fs::write(&path, bytes).unwrap(),
        None => {}
    }
    dir.to_str().unwrap().to_string()
}

/// A safetensors file of float32 zeros with these tensors and, with `metadata`, a record of
/// the data set they fit.
fn weights_file(root: &Path, name: &str, tensors: &[(&str, Vec<usize>)], metadata: bool) -> String {
    let meta: &[(&str, &str)] = &[("data", "synthetic:100,20"), ("widths", "784,2,10")];
    weights_with(root, name, tensors, metadata.then_some(meta), 0.0)
}

/// A safetensors file whose every value is `fill`, with this metadata.
fn weights_with(
    root: &Path,
    name: &str,
    tensors: &[(&str, Vec<usize>)],
    metadata: Option<&[(&str, &str)]>,
    fill: f32,
) -> String {
    let buffers: Vec<Vec<u8>> =
        tensors.iter().map(|(_, s)| fill.to_le_bytes().repeat(s.iter().product::<usize>())).collect();
    let views: Vec<(&str, TensorView)> = tensors
        .iter()
        .zip(&buffers)
        .map(|((n, s), b)| (*n, TensorView::new(Dtype::F32, s.clone(), b).unwrap()))
        .collect();
    let meta = metadata.map(|pairs| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
    let path = root.join(name);
    std::fs::write(&path, safetensors::serialize(views, &meta).unwrap()).unwrap();
    path.to_str().unwrap().to_string()
}

/// The tensors of a 784-2-10 network.
fn net(inputs: usize) -> Vec<(&'static str, Vec<usize>)> {
    vec![
        ("fc1.weight", vec![2, inputs]),
        ("fc1.bias", vec![2]),
        ("fc2.weight", vec![10, 2]),
        ("fc2.bias", vec![10]),
    ]
}

/// A PGM file with this header and body.
fn pgm(root: &Path, name: &str, bytes: &[u8]) -> String {
    let path = root.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_string()
}

/// Our errors are one line (`nnopt: …`), last, after at most a progress note or two; clap's
/// own parse errors are its short block of at most five lines (the error, the usage or a tip,
/// "For more information, try '--help'.").
fn short(stderr: &str) -> bool {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let ours = lines.iter().filter(|l| l.starts_with("nnopt: ")).count();
    match (lines.first(), lines.last()) {
        (Some(first), _) if first.starts_with("error: ") => lines.len() <= 5,
        (_, Some(last)) if last.starts_with("nnopt: ") => ours == 1 && lines.len() <= 3,
        _ => false,
    }
}

#[test]
fn every_bad_input_is_a_short_clean_error() {
    let root = scratch("bad_input");
    let r = root.as_path();
    let good = idx::encode(&[12, 5, 4], &[0; 240]);
    let file = pgm(r, "a-file", b"not a directory");
    let existing_dir: PathBuf = root.join("a-dir");
    std::fs::create_dir_all(&existing_dir).unwrap();
    let dir = existing_dir.to_str().unwrap();
    let ok_weights = weights_file(r, "ok.safetensors", &net(784), true);
    let cuda = crate::common::has_cuda();

    let in_file = format!("{file}/w.safetensors");
    let huge_image = {
        let mut bytes = b"P5\n28 28\n255\n".to_vec();
        bytes.extend([0u8; 784]);
        bytes
    };
    let ascii_over: Vec<u8> = [b"P2\n28 28\n255\n".to_vec(), "300 ".repeat(784).into_bytes()].concat();
    // One stray training label: 9 in a set of classes 0–2.
    let stray_labels: Vec<u8> = (0..12).map(|i| if i == 5 { 9 } else { i % 3 }).collect();
    let paths = [
        ("empty", data_dir(r, "empty", "train-images-idx3-ubyte", Some(b""))),
        ("truncated", data_dir(r, "truncated", "train-images-idx3-ubyte", Some(&good[..100]))),
        ("magic", data_dir(r, "magic", "train-images-idx3-ubyte", Some(b"\x12\x34\x56\x78rest"))),
        ("counts", data_dir(r, "counts", "train-labels-idx1-ubyte", Some(&idx::encode(&[3], &[0, 1, 2])))),
        ("label", data_dir(r, "label", "t10k-labels-idx1-ubyte", Some(&idx::encode(&[12], &[7; 12])))),
        ("gz", data_dir(r, "gz", "train-images-idx3-ubyte", Some(&[0x1f, 0x8b, 8, 0, 1, 2, 3]))),
        ("dirfile", data_dir(r, "dirfile", "train-labels-idx1-ubyte", Some(b"<dir>"))),
        ("missing", data_dir(r, "missing", "t10k-labels-idx1-ubyte", None)),
        ("swapped", data_dir(r, "swapped", "train-images-idx3-ubyte", Some(&idx::encode(&[12], &[0; 12])))),
        ("stray", data_dir(r, "stray", "train-labels-idx1-ubyte", Some(&idx::encode(&[12], &stray_labels)))),
    ];
    let data = |name: &str| paths.iter().find(|(n, _)| *n == name).unwrap().1.as_str();
    let w_missing = weights_file(r, "missing.safetensors", &net(784)[..3], true);
    let w_extra =
        weights_file(r, "extra.safetensors", &[net(784), vec![("fc9.other", vec![1])]].concat(), true);
    let w_zero =
        weights_file(r, "zero.safetensors", &[("fc1.weight", vec![10, 0]), ("fc1.bias", vec![10])], true);
    let w_shape =
        weights_file(r, "shape.safetensors", &[("fc1.weight", vec![10]), ("fc1.bias", vec![10])], true);
    let w_bias = weights_file(
        r,
        "bias.safetensors",
        &[
            ("fc1.weight", vec![2, 784]),
            ("fc1.bias", vec![3]),
            ("fc2.weight", vec![10, 2]),
            ("fc2.bias", vec![10]),
        ],
        true,
    );
    let w_small = weights_with(r, "small.safetensors", &net(100), Some(&[("data", "synthetic:100,20")]), 0.0);
    // Image sizes whose product overflows i64 to the network's 784 inputs.
    let w_overflow = weights_with(
        r,
        "overflow.safetensors",
        &net(784),
        Some(&[("data", "synthetic:100,20"), ("image_height", "4611686018427388100"), ("image_width", "4")]),
        0.0,
    );
    // Metadata that contradicts the tensors: 7 classes recorded, 10 outputs stored.
    let w_classes = weights_with(
        r,
        "classes.safetensors",
        &net(784),
        Some(&[("data", "synthetic:100,20"), ("classes", "7")]),
        0.0,
    );
    let w_nometa = weights_file(r, "nometa.safetensors", &net(784), false);
    let junk = pgm(r, "junk.safetensors", b"hello");
    let w_nan_norm = weights_with(
        r,
        "nan_norm.safetensors",
        &net(784),
        Some(&[("normalization_mean", "nan"), ("normalization_std", "1")]),
        0.0,
    );
    let w_tiny_std = weights_with(
        r,
        "tiny_std.safetensors",
        &net(784),
        Some(&[("data", "synthetic:100,20"), ("normalization_mean", "0.3"), ("normalization_std", "1e-30")]),
        0.0,
    );
    let w_huge_mean = weights_with(
        r,
        "huge_mean.safetensors",
        &net(784),
        Some(&[("data", "synthetic:100,20"), ("normalization_mean", "1e30"), ("normalization_std", "0.3")]),
        0.0,
    );
    let w_bad_range = weights_with(
        r,
        "bad_range.safetensors",
        &net(784),
        Some(&[("data", "synthetic:100,20"), ("image_mean_range", "0.9,0.1"), ("image_std_range", "0,1")]),
        0.0,
    );
    let w_nan =
        weights_with(r, "nan.safetensors", &net(784), Some(&[("data", "synthetic:100,20")]), f32::NAN);
    let w_etc = weights_with(r, "etc.safetensors", &net(784), Some(&[("data", "/etc")]), 0.0);
    let wrong_size = pgm(r, "small.pgm", b"P5\n2 2\n255\n\x00\x01\x02\x03");
    let deep = pgm(r, "deep.pgm", b"P5\n28 28\n65535\n");
    let over = pgm(r, "over.pgm", &ascii_over);
    let not_image = pgm(r, "notes.txt", b"hello");
    let fine_image = pgm(r, "fine.pgm", &huge_image);
    // 784 pixels, but 56 wide and 14 high: not a 28×28 image's rows.
    let oblong = pgm(r, "oblong.pgm", &[b"P5\n56 14\n255\n".to_vec(), vec![0u8; 784]].concat());

    let _ = fine_image;

    let (no_cuda_code, no_cuda_text) = if cuda { (0, "") } else { (2, "CUDA is not available") };
    #[rustfmt::skip]
    let rows: Vec<(Vec<&str>, i32, &str)> = vec![
        // Devices.
        (vec!["--device", "tpu", "autograd"], 2, "not a device"),
        (vec!["--device", "cuda:x", "autograd"], 2, "CUDA index must be a number"),
        (vec!["--device", "cuda:99", "autograd"], 2, "--device cuda:99"),
        (vec!["--device", "mps", "autograd"], 2, "--device mps"),
        (vec!["--device", "", "autograd"], 2, "not a device"),
        (vec!["--threads", "-1", "autograd"], 2, "'--threads <N>'"),
        // Learning rates.
        (vec!["perceptron", "--lr", "nan"], 2, "--lr"),
        (vec!["perceptron", "--lr", "inf"], 2, "--lr"),
        (vec!["perceptron", "--lr", "0"], 2, "--lr"),
        (vec!["perceptron", "--lr", "-1"], 2, "--lr"),
        (vec!["perceptron", "--lr", "1e400"], 2, "--lr"),
        (vec!["mlp", "--lr", "0"], 2, "--lr"),
        (vec!["train", "--lr", "nan"], 2, "--lr"),
        (vec!["train", "--lr", "-0.1"], 2, "--lr"),
        // Epochs, batch, samples, seeds.
        (vec!["perceptron", "--epochs", "0"], 2, "--epochs"),
        (vec!["perceptron", "--epochs", "1000000000000"], 2, "--epochs"),
        (vec!["train", "--epochs", "0"], 2, "--epochs"),
        (vec!["train", "--epochs", "1000000000000"], 2, "--epochs"),
        (vec!["train", "--batch-size", "0"], 2, "--batch-size"),
        (vec!["train", "--batch-size", "-5"], 2, "--batch-size"),
        (vec!["perceptron", "--samples", "1000000000"], 2, "--samples"),
        (vec!["perceptron", "--every", "0"], 2, "--every must be at least 1"),
        (vec!["perceptron", "--every", "18446744073709551616"], 2, "--every"),
        (vec!["tour", "--part", "0"], 2, "--part must be between 1 and 11"),
        (vec!["tour", "--part", "12"], 2, "--part must be between 1 and 11"),
        (vec!["tour", "--part", "x"], 2, "--part"),
        (vec!["perceptron", "--samples", "100000", "--epochs", "100000"], 2, "lower one of them"),
        (vec!["perceptron", "--seed", "abc"], 2, "--seed"),
        (vec!["perceptron", "--seed", "-1"], 2, "-1"),
        // Network sizes.
        (vec!["train", "--hidden", "0"], 2, "--hidden"),
        (vec!["train", "--hidden", ",,"], 2, "--hidden"),
        (vec!["train", "--hidden", "65536,65536"], 2, "parameters"),
        (vec!["train", "--hidden", "1,2,3,4,5,6,7,8,9"], 2, "--hidden"),
        (vec!["mlp", "--hidden", "0"], 2, "--hidden"),
        (vec!["mlp", "--hidden", "100000000"], 2, "--hidden"),
        // Optimizer settings.
        (vec!["train", "--optimizer", "adam", "--momentum", "0.5"], 2, "--momentum"),
        (vec!["train", "--momentum", "1"], 2, "--momentum"),
        (vec!["train", "--weight-decay", "-1"], 2, "--weight-decay"),
        (vec!["train", "--optimizer", "rmsprop"], 2, "--optimizer"),
        // Data.
        (vec!["train", "--data", "/no/such/dir"], 2, "no such directory"),
        (vec!["train", "--data", "synthetic:5,5"], 2, "between 10 and 1000000"),
        (vec!["train", "--data", "synthetic:abc"], 2, "synthetic:TRAIN,TEST"),
        (vec!["train", "--data", data("missing")], 2, "no t10k-labels-idx1-ubyte"),
        (vec!["train", "--data", data("empty")], 1, "too short for an IDX header"),
        (vec!["train", "--data", data("truncated")], 1, "truncated"),
        (vec!["train", "--data", data("magic")], 1, "not an IDX file"),
        (vec!["train", "--data", data("counts")], 1, "has 12 images but"),
        (vec!["train", "--data", data("label")], 1, "test label 7 is out of range"),
        (vec!["train", "--data", data("gz")], 1, "corrupt gzip data"),
        (vec!["train", "--data", data("dirfile")], 1, "is a directory"),
        (vec!["train", "--data", data("swapped")], 1, "swapped"),
        // Weights.
        (vec!["evaluate", "--weights", "/no/such.safetensors"], 1, "cannot read"),
        (vec!["evaluate", "--weights", &junk], 1, "not a safetensors file"),
        (vec!["evaluate", "--weights", &w_missing], 1, "missing tensor fc2.bias"),
        (vec!["evaluate", "--weights", &w_extra], 1, "unexpected tensor"),
        (vec!["evaluate", "--weights", &w_zero], 1, "at least one input"),
        (vec!["evaluate", "--weights", &w_shape], 1, "expected [out_features, in_features]"),
        (vec!["evaluate", "--weights", &w_tiny_std], 1, "normalization_std = 1e-30"),
        (vec!["evaluate", "--weights", &w_huge_mean], 1, "normalization_mean = 1e30"),
        (vec!["predict", "--weights", &w_huge_mean, "--index", "0"], 1, "normalization_mean = 1e30"),
        (vec!["evaluate", "--weights", &w_bad_range], 1, "image_mean_range = 0.9,0.1"),
        (vec!["evaluate", "--weights", &w_bias], 1, "fc1.bias has shape [3]"),
        (vec!["evaluate", "--weights", &w_small], 2, "takes 100 inputs"),
        (vec!["evaluate", "--weights", &w_nometa], 2, "does not record which data set"),
        (vec!["evaluate", "--weights", &ok_weights, "--data", data("missing")], 2, "no t10k-labels"),
        (vec!["evaluate", "--weights", dir], 1, "cannot read"),
        (vec!["evaluate", "--weights", &w_nan_norm, "--data", "synthetic:100,20"], 1, "normalization_mean = nan"),
        (vec!["evaluate", "--weights", &w_nan], 1, "holds NaN"),
        (vec!["evaluate", "--weights", &w_etc], 1, "the data set it records (/etc) does not load"),
        // Predict.
        (vec!["predict", "--weights", &ok_weights, "--index", "999999"], 2, "--index 999999"),
        (vec!["predict", "--weights", &ok_weights, "--index", "-1"], 2, "-1"),
        (vec!["predict", "--weights", &ok_weights], 2, "<--index <INDEX>|--image <FILE>>"),
        (vec!["predict", "--weights", &ok_weights, "--image", "/no/such.png"], 1, "cannot read"),
        (vec!["predict", "--weights", &ok_weights, "--image", &wrong_size], 1, "the network takes 28×28"),
        (vec!["predict", "--weights", &ok_weights, "--image", &oblong], 1, "the image is 56×14"),
        (vec!["evaluate", "--weights", &w_classes], 1, "metadata says classes = 7"),
        (vec!["evaluate", "--weights", &w_overflow], 1, "the file is damaged"),
        (vec!["mlp", "--csv", "/dev/null"], 2, "--csv /dev/null: exists and is not a regular file"),
        (vec!["train", "--data", data("stray"), "--epochs", "1"], 1, "have no image (first: 3)"),
        (vec!["autograd", "--x", "1e30", "--w", "1e30"], 2, "overflows float32"),
        (vec!["autograd", "--b", "1e39"], 2, "--b 1000000000000000000000000000000000000000 does not fit float32"),
        (vec!["--json", "completions", "bash"], 2, "--json"),
        (vec!["train", "--plot", "/sys/nnopt-t.png"], 2, "--plot /sys/nnopt-t.png: cannot create a file"),
        (vec!["mlp", "--csv", "/dev/stdout"], 2, "--csv /dev/stdout"),
        (vec!["train", "--weight-decay", "abc"], 2, "--weight-decay"),
        (vec!["train", "--momentum", "abc"], 2, "--momentum"),
        (vec!["train", "--limit", "abc"], 2, "--limit"),
        (vec!["perceptron", "--samples", "abc"], 2, "--samples"),
        (vec!["sweep", "--trials", "abc"], 2, "--trials"),
        (vec!["sweep", "--validation", "abc"], 2, "--validation"),
        (vec!["descent", "--steps", "abc"], 2, "--steps"),
        (vec!["predict", "--weights", &ok_weights, "--index", "abc"], 2, "--index"),
        (vec!["predict", "--weights", &ok_weights, "--image", &deep], 1, "maxval 65535"),
        (vec!["predict", "--weights", &ok_weights, "--image", &over], 1, "above the maxval"),
        (vec!["predict", "--weights", &ok_weights, "--image", &not_image], 1, "not a PGM or PNG"),
        (vec!["predict", "--weights", &w_nometa, "--image", &fine_image], 2, "records no input normalization"),
        // Output paths.
        (vec!["train", "--save", "/no/such/dir/w.safetensors"], 2, "--save"),
        (vec!["train", "--save", &in_file], 2, "--save"),
        (vec!["train", "--save", dir], 2, "is a directory"),
        (vec!["train", "--metrics", "/no/such/dir/m.csv"], 2, "--metrics"),
        (vec!["train", "--metrics", dir], 2, "is a directory"),
        (vec!["mlp", "--graph-dot", "/no/such/dir/g.dot"], 2, "--graph-dot"),
        (vec!["autograd", "--graph-dot", dir], 2, "is a directory"),
        (vec!["mlp", "--graph-dot", &in_file], 2, "--graph-dot"),
        // descent.
        (vec!["descent", "--surface", "banana"], 2, "choose from quadratic, cosine"),
        (vec!["descent", "--optimizers", "gd,sgdx"], 2, "unknown optimizer 'sgdx'"),
        (vec!["descent", "--start", "1,2"], 2, "cosine is 1-D"),
        (vec!["descent", "--surface", "rosenbrock", "--start", "1"], 2, "--start X1,X2"),
        (vec!["descent", "--start", "a"], 2, "'a' is not a number"),
        (vec!["descent", "--lr", "0"], 2, "--lr"),
        (vec!["descent", "--lr", "-0.1"], 2, "--lr"),
        (vec!["descent", "--lr", "inf"], 2, "--lr"),
        (vec!["descent", "--lr", "nan"], 2, "--lr"),
        (vec!["descent", "--steps", "0"], 2, "--steps"),
        (vec!["descent", "--steps", "100000000"], 2, "--steps"),
        (vec!["descent", "--momentum", "1.5"], 2, "--momentum"),
        (vec!["descent", "--tol", "0"], 2, "--tol"),
        (vec!["descent", "--starts", "0"], 2, "--starts"),
        (vec!["descent", "--starts", "3", "--start", "1"], 2, "not both"),
        (vec!["descent", "--csv", "/no/such/dir/t.csv"], 2, "--csv"),
        (vec!["descent", "--start", "11"], 2, "outside cosine's domain"),
        (vec!["descent", "--start", "1e308"], 2, "outside cosine's domain"),
        (vec!["descent", "--tol", "100"], 2, "--tol 100 is too loose"),
        (vec!["descent", "--starts", "100", "--steps", "100000"], 2, "lower --steps or --starts"),
        (vec!["descent", "--optimizers", "nesterov", "--momentum", "0"], 2, "nesterov needs --momentum above 0"),
        (vec!["descent", "--optimizers", "gd,momentum", "--lr", "0.1,0.2,0.3"], 2, "--lr lists 3 values for 2 optimizers"),
        (vec!["descent", "--optimizers", "gd,momentum", "--momentum", "0.5,0.9,0.1"], 2, "--momentum lists 3"),
        (vec!["descent", "--lr", "0.1,0.2"], 2, "--optimizers is not given"),
        (vec!["descent", "--optimizers", "gd,banana,adam"], 2, "unknown optimizer 'banana'"),
        (vec!["descent", "--optimizers", "gd,adam", "--lr", "0.1,0"], 2, "--lr must be a finite number > 0, got 0"),
        (vec!["descent", "--optimizers", "gd,adam", "--lr=0.1,-0.5"], 2, "--lr must be a finite number > 0, got -0.5"),
        (vec!["descent", "--optimizers", "gd,adam", "--lr", "0.1,nan"], 2, "--lr must be a finite number > 0, got NaN"),
        (vec!["descent", "--optimizers", "gd,adam,gd", "--lr", "0.1,,0.2"], 2, "--lr"),
        (vec!["descent", "--optimizers", "gd,"], 2, "--optimizers has an empty item"),
        (vec!["descent", "--start", "nan"], 2, "every coordinate must be a finite number"),
        (vec!["descent", "--optimizers", "gd,momentum", "--momentum", "0.5,1"], 2, "--momentum must be in [0, 1)"),
        (vec!["descent", "--optimizers", "gd,nesterov", "--momentum", "0.5,0"], 2, "nesterov needs --momentum above 0"),
        (vec!["descent", "--lr", "0.1,abc"], 2, "--lr"),
        (vec!["--device", "cuda:7", "descent"], 2, "--device cuda:7"),
        // sweep.
        (vec!["sweep", "--lr", "1..0.1"], 2, "empty or reversed"),
        (vec!["sweep", "--lr", "0.1..0.1"], 2, "empty or reversed"),
        (vec!["sweep", "--lr", "0..1:log"], 2, "above 0"),
        (vec!["sweep", "--lr", "0.1,fast"], 2, "'fast' is not a number"),
        (vec!["sweep", "--lr", "-1,0.1"], 2, "--lr"),
        (vec!["sweep", "--batch-size", "0,32"], 2, "--batch-size"),
        (vec!["sweep", "--batch-size", "1.5"], 2, "not a whole number"),
        (vec!["sweep", "--hidden", "32,abc"], 2, "--hidden"),
        (vec!["sweep", "--hidden", "0"], 2, "--hidden"),
        (vec!["sweep", "--momentum", "0.5..1.5"], 2, "--momentum"),
        (vec!["sweep", "--optimizer", "sgd,rmsprop"], 2, "--optimizer"),
        (vec!["sweep", "--trials", "0"], 2, "--trials"),
        (vec!["sweep", "--validation", "1.5"], 2, "--validation"),
        (vec!["sweep", "--tpe", "bayes"], 2, "--tpe"),
        (vec!["train", "--schedule", "linear"], 2, "--schedule"),
        (vec!["sweep", "--strategy", "halving", "--trials", "8", "--epochs", "0"], 2, "--epochs must be between 1"),
        (vec!["sweep", "--strategy", "bayes"], 2, "--strategy"),
        (vec!["sweep", "--resume", "/no/such.csv"], 2, "--resume"),
        (vec!["sweep", "--csv", &file], 2, "the file exists"),
        (vec!["sweep", "--save-best", "/no/such/dir/b.safetensors"], 2, "--save-best"),
        (vec!["sweep", "--max-minutes", "0"], 2, "--max-minutes"),
        // Pictures.
        (vec!["perceptron", "--plot", "loss.jpg"], 2, ".png or .svg"),
        (vec!["train", "--confusion", "/no/such/dir/c.png"], 2, "--confusion"),
        (vec!["mlp", "--graph-image", "graph.gif"], 2, "--graph-image"),
        (vec!["descent", "--plot", dir], 2, "--plot"),
        // Values of the wrong type.
        (vec!["train", "--epochs", "abc"], 2, "--epochs"),
        (vec!["train", "--batch-size", "1.5"], 2, "--batch-size"),
        (vec!["train", "--lr", "fast"], 2, "--lr"),
        (vec!["train", "--log-interval", "-1"], 2, "-1"),
        (vec!["train", "--sync-every", "0"], 2, "--sync-every must be at least 1"),
        (vec!["autograd", "--x", "abc"], 2, "--x"),
        (vec!["autograd", "--w", "nan"], 2, "--w"),
        (vec!["mlp", "--seed", "1.5"], 2, "--seed"),
        (vec!["completions", "tcsh"], 2, "tcsh"),
        (vec!["frobnicate"], 2, "frobnicate"),
    ];
    assert!(rows.len() >= 45, "the table lost rows: {}", rows.len());
    let mut failures = Vec::new();
    let mut checked = 0;
    for (args, code, text) in &rows {
        let mut full = vec!["--device", "cpu"];
        if args[0] == "--device" {
            full.clear();
        }
        full.extend(args.iter().copied());
        let out = nnopt(&full);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let problems: Vec<&str> = [
            (out.status.code() != Some(*code), "exit code"),
            (!stderr.contains(text), "message"),
            (stderr.contains("panicked") || stderr.contains("internal error"), "panic"),
            (stderr.contains("libc10") || stderr.contains("frame #"), "libtorch backtrace"),
            (!short(&stderr), "not one line of ours, or more than clap's usual 5"),
            (!out.stdout.is_empty(), "stdout not empty"),
        ]
        .into_iter()
        .filter_map(|(bad, what)| bad.then_some(what))
        .collect();
        if !problems.is_empty() {
            failures.push(format!("{full:?}: {problems:?} (exit {:?})\n{stderr}", out.status.code()));
        }
        checked += 1;
    }
    // Only where CUDA is absent is plain `cuda` an error.
    if no_cuda_code == 2 {
        // The tour checks the global flags before any part starts: the CUDA message, exit 2.
        let out = nnopt(&["--device", "cuda", "tour", "--part", "2"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(2) || !stderr.contains(no_cuda_text) || !out.stdout.is_empty() {
            failures.push(format!("--device cuda tour: {stderr}"));
        }
        let out = nnopt(&["--device", "cuda", "autograd"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(2) || !stderr.contains(no_cuda_text) || stderr.lines().count() != 1 {
            failures.push(format!("--device cuda: {stderr}"));
        }
    }
    assert!(failures.is_empty(), "{} of {checked} rows failed:\n{}", failures.len(), failures.join("\n"));
}
