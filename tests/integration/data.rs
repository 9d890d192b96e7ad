//! Data: the IDX reader (round trips and every malformed-file case), the synthetic generator.

use std::path::Path;

use nnopt::data::idx::{self, IMAGES_MAGIC, LABELS_MAGIC};
use nnopt::data::{load, synthetic, DataSource};
use tch::Kind;

use crate::common::{nnopt, scratch};

/// Writes a small MNIST-layout data set into `dir`: `n` images of `h`×`w`, labels i % classes.
fn write_set(dir: &Path, n: usize, h: usize, w: usize, classes: u8, gzip: bool) {
    let ext = if gzip { ".gz" } else { "" };
    for prefix in ["train", "t10k"] {
        let pixels: Vec<u8> = (0..n * h * w).map(|i| (i * 7 % 256) as u8).collect();
        let labels: Vec<u8> = (0..n).map(|i| i as u8 % classes).collect();
        let write = |name: String, bytes: Vec<u8>| {
            let bytes = if gzip { idx::gzip(&bytes).unwrap() } else { bytes };
            std::fs::write(dir.join(name), bytes).unwrap();
        };
        write(format!("{prefix}-images-idx3-ubyte{ext}"), idx::encode(&[n, h, w], &pixels));
        write(format!("{prefix}-labels-idx1-ubyte{ext}"), idx::encode(&[n], &labels));
    }
}

#[test]
fn round_trips_raw_and_gzip() {
    for gzip in [false, true] {
        let dir = scratch(&format!("idx_round_trip_{gzip}"));
        write_set(&dir, 12, 5, 4, 3, gzip);
        let data = load(&DataSource::Dir(dir.clone())).unwrap();
        assert_eq!((data.height, data.width, data.classes), (5, 4, 3));
        assert_eq!(data.train.images.size(), [12, 5, 4]);
        assert_eq!(data.train.images.kind(), Kind::Uint8);
        let pixels: Vec<u8> = Vec::try_from(data.test.images.reshape([-1])).unwrap();
        assert_eq!(pixels, (0..12 * 20).map(|i| (i * 7 % 256) as u8).collect::<Vec<_>>());
        let labels: Vec<i64> = Vec::try_from(&data.train.labels).unwrap();
        assert_eq!(labels, (0..12).map(|i| i % 3).collect::<Vec<i64>>());
    }
}

#[test]
fn parse_names_the_file_and_the_problem() {
    let p = Path::new("x-idx3-ubyte");
    let images = idx::encode(&[2, 2, 2], &[0; 8]);
    assert_eq!(idx::parse(&images, p, IMAGES_MAGIC).unwrap().dims, [2, 2, 2]);
    let cases: Vec<(Vec<u8>, u32, &str)> = vec![
        (vec![0, 0], IMAGES_MAGIC, "too short"),
        (b"GIF89a....".to_vec(), IMAGES_MAGIC, "not an IDX file"),
        (vec![0, 0, 0x0d, 3, 0, 0, 0, 1], IMAGES_MAGIC, "element type 0x0d"),
        (idx::encode(&[2], &[0, 1]), IMAGES_MAGIC, "swapped"),
        (images.clone(), LABELS_MAGIC, "swapped"),
        (images[..10].to_vec(), IMAGES_MAGIC, "truncated header"),
        (images[..images.len() - 1].to_vec(), IMAGES_MAGIC, "truncated"),
        ([images.clone(), vec![9]].concat(), IMAGES_MAGIC, "1 bytes after"),
        (idx::encode(&[u32::MAX as usize, u32::MAX as usize, 4], &[]), IMAGES_MAGIC, "too large"),
    ];
    for (bytes, magic, expected) in cases {
        let err = idx::parse(&bytes, p, magic).unwrap_err().to_string();
        assert!(err.starts_with("x-idx3-ubyte: ") && err.contains(expected), "{expected}: {err}");
    }
}

#[test]
fn malformed_directories_are_clean_errors() {
    // Each case replaces (or, with None, deletes) one file of a good set and must give a
    // one-line error naming that file.
    let good = idx::encode(&[12, 5, 4], &[0; 240]);
    let cases: Vec<(&str, &str, Option<Vec<u8>>, &str)> = vec![
        ("missing", "t10k-labels-idx1-ubyte", None, "no t10k-labels-idx1-ubyte"),
        ("counts", "train-labels-idx1-ubyte", Some(idx::encode(&[3], &[0, 1, 2])), "has 12 images but"),
        (
            "label_range",
            "t10k-labels-idx1-ubyte",
            Some(idx::encode(&[12], &[9; 12])),
            "test label 9 is out of range",
        ),
        (
            "sizes",
            "t10k-images-idx3-ubyte",
            Some(idx::encode(&[12, 2, 10], &[0; 240])),
            "training images are 5×4 but test images are 2×10",
        ),
        (
            "gzip",
            "train-images-idx3-ubyte",
            Some(vec![0x1f, 0x8b, 8, 0, 1, 2, 3]),
            "train-images-idx3-ubyte: corrupt gzip data",
        ),
        (
            "truncated",
            "train-images-idx3-ubyte",
            Some(good[..100].to_vec()),
            "train-images-idx3-ubyte: truncated",
        ),
    ];
    for (name, file, contents, expected) in cases {
        let dir = scratch(&format!("idx_bad_{name}"));
        write_set(&dir, 12, 5, 4, 3, false);
        match contents {
            Some(bytes) => std::fs::write(dir.join(file), bytes).unwrap(),
            None => std::fs::remove_file(dir.join(file)).unwrap(),
        }
        let out = nnopt(&["train", "--data", dir.to_str().unwrap(), "--epochs", "1", "--device", "cpu"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().last().unwrap_or("");
        assert!(last.starts_with("nnopt: ") && last.contains(expected), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        assert!(matches!(out.status.code(), Some(1 | 2)), "{name}: {:?}", out.status);
    }
}

#[test]
fn a_missing_directory_is_a_usage_error() {
    let out = nnopt(&["train", "--data", "/no/such/dir", "--device", "cpu"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--data /no/such/dir: no such directory"));
    let out = nnopt(&["train", "--data", "synthetic:5", "--device", "cpu"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("synthetic:TRAIN,TEST"));
}

#[test]
fn synthetic_digits_are_deterministic_and_balanced() {
    let _rng = crate::common::torch_rng();
    let (a, la) = synthetic::generate(1000, 5);
    let (b, lb) = synthetic::generate(1000, 5);
    assert!(a.equal(&b) && la.equal(&lb), "same seed, same images");
    let (c, _) = synthetic::generate(1000, 6);
    assert!(!a.equal(&c), "another seed, other images");
    assert_eq!(a.size(), [1000, 28, 28]);
    let counts: Vec<i64> = Vec::try_from(la.bincount(None::<tch::Tensor>, 10)).unwrap();
    assert_eq!(counts, [100; 10]);
    // Real ink: every image has bright pixels and a mostly dark background.
    let bright = a.ge(128).to_kind(Kind::Float).sum_dim_intlist([1, 2].as_slice(), false, Kind::Float);
    assert!(bright.min().double_value(&[]) >= 5.0);
    assert!(a.to_kind(Kind::Float).mean(None).double_value(&[]) < 80.0);
}
