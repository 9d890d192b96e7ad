//! Image classification data: MNIST-layout IDX files from a directory, Debian's Fashion-MNIST,
//! or the built-in synthetic digits — as tensors ready for the MLP.

pub mod idx;
pub mod image;
pub mod split;
pub mod synthetic;

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{ensure, Result};
use tch::{Kind, Tensor};

use crate::error::usage;

/// Where Debian's `dataset-fashion-mnist` package puts its files.
pub const FASHION_DIR: &str = "/usr/share/datasets/fashion-mnist";
/// The synthetic set's fixed seed: the same data for every run, whatever `--seed` trains with.
pub const SYNTHETIC_SEED: u64 = 20_261_126;
/// Fashion-MNIST's labels, recognized by content: FNV-1a (64-bit) of the training labels then
/// the test labels, as Debian's dataset-fashion-mnist ships them (measured with
/// `nnopt::data::label_fingerprint`, and by Python over the gunzipped label bytes). A directory is
/// Fashion-MNIST because its labels are, whatever its path says.
pub const FASHION_LABELS_FNV1A: u64 = 0x9c31_dd87_e8f1_095d;
/// Fashion-MNIST's class names, in label order.
pub const FASHION_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// `--data`: a directory of IDX files, `fashion`, or `synthetic` (the default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// The built-in synthetic digits: `train` + `test` images.
    Synthetic { train: usize, test: usize },
    /// A directory holding the four MNIST-layout files.
    Dir(PathBuf),
}

/// `--data`'s default: the built-in synthetic digits, 60 000 + 10 000.
pub const DEFAULT_SPEC: &str = "synthetic";

impl Default for DataSource {
    fn default() -> Self {
        DataSource::Synthetic { train: 60_000, test: 10_000 }
    }
}

impl DataSource {
    /// The `--data` value that names this source again: written into saved weights so
    /// `evaluate`/`predict` default to the data they were trained on. Directories are made
    /// absolute, so the weights work from any working directory.
    pub fn spec(&self) -> String {
        match self {
            DataSource::Synthetic { .. } if *self == DataSource::default() => DEFAULT_SPEC.to_string(),
            DataSource::Synthetic { train, test } => format!("synthetic:{train},{test}"),
            DataSource::Dir(dir) => dir.canonicalize().unwrap_or_else(|_| dir.clone()).display().to_string(),
        }
    }

    /// Every file loading this source may read — each of the four, under every name `find`
    /// looks for, there or not: what no output may be named (a raw file written beside a `.gz`
    /// would be read in its place next time).
    pub fn files(&self) -> Vec<PathBuf> {
        let DataSource::Dir(dir) = self else { return Vec::new() };
        [
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
        ]
        .iter()
        .flat_map(|stem| candidates(stem).map(|name| dir.join(name)))
        .collect()
    }

    /// Parses `--data`: `synthetic` (or `synthetic:TRAIN,TEST` for other sizes), `fashion`
    /// (Debian's Fashion-MNIST) or a directory.
    pub fn parse(text: &str) -> Result<Self> {
        if let Some(sizes) = text.strip_prefix("synthetic:") {
            let bad = || {
                usage(format!(
                    "--data {text}: give synthetic sizes as synthetic:TRAIN,TEST, e.g. synthetic:6000,1000"
                ))
            };
            let (train, test) = sizes.split_once(',').ok_or_else(bad)?;
            let (train, test) = (
                train.trim().parse::<usize>().map_err(|_| bad())?,
                test.trim().parse::<usize>().map_err(|_| bad())?,
            );
            if !(10..=1_000_000).contains(&train) || !(10..=1_000_000).contains(&test) {
                return Err(usage(format!("--data {text}: synthetic sizes must be between 10 and 1000000")));
            }
            return Ok(DataSource::Synthetic { train, test });
        }
        Ok(match text {
            DEFAULT_SPEC => DataSource::default(),
            "fashion" | "fashion-mnist" => DataSource::Dir(PathBuf::from(FASHION_DIR)),
            dir => DataSource::Dir(PathBuf::from(dir)),
        })
    }
}

impl fmt::Display for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSource::Synthetic { train, test } => write!(f, "synthetic digits ({train} + {test})"),
            DataSource::Dir(dir) => write!(f, "{}", dir.display()),
        }
    }
}

/// Images (N×H×W, u8) and their labels (N, i64), on the CPU.
#[derive(Debug)]
pub struct Split {
    pub images: Tensor,
    pub labels: Tensor,
}

impl Split {
    pub fn len(&self) -> i64 {
        self.labels.size()[0]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A training and a test split of the same image size.
#[derive(Debug)]
pub struct Dataset {
    /// What it is, for reports: `synthetic digits` or the directory.
    pub name: String,
    pub train: Split,
    pub test: Split,
    pub height: i64,
    pub width: i64,
    /// Number of classes: the largest training label + 1.
    pub classes: i64,
    /// The `--data` value that loads this set again ([`DataSource::spec`]).
    pub spec: String,
    /// Class names where the set is known: the synthetic digits, and sets recognized by their
    /// content (Fashion-MNIST by its labels, MNIST by its label counts).
    pub class_names: Option<Vec<String>>,
    /// FNV-1a of the training labels and of the first images, as loaded (before any split): what
    /// a weights file records to tell later whether `--data` is the set it was trained on.
    pub fingerprint: u64,
}

impl Dataset {
    /// Pixels per image, the network's input width.
    pub fn features(&self) -> i64 {
        self.height * self.width
    }
}

/// Loads the data set `source` names.
pub fn load(source: &DataSource) -> Result<Dataset> {
    let data = load_source(source);
    release_freed_memory();
    data
}

/// Hands the heap memory freed while loading (decompression buffers, the generator's float
/// temporaries: tens of MB) back to the operating system. glibc keeps freed heap pages resident
/// for reuse; training never reuses them at that size, so they would only raise the peak RSS.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages to the kernel; it touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn load_source(source: &DataSource) -> Result<Dataset> {
    match source {
        DataSource::Synthetic { train, test } => {
            let (train_images, train_labels) = synthetic::generate(*train, SYNTHETIC_SEED);
            let fingerprint = fingerprint(&train_images, &train_labels)?;
            let (test_images, test_labels) = synthetic::generate(*test, SYNTHETIC_SEED + 1);
            Ok(Dataset {
                name: source.to_string(),
                train: Split { images: train_images, labels: train_labels },
                test: Split { images: test_images, labels: test_labels },
                height: synthetic::SIZE,
                width: synthetic::SIZE,
                classes: 10,
                spec: source.spec(),
                class_names: Some(digit_names()),
                fingerprint,
            })
        }
        DataSource::Dir(dir) => load_dir(dir),
    }
}

/// Finds `stem` (e.g. `train-images-idx3-ubyte`) in `dir`, raw or `.gz`, with `-` or `.` before
/// `idx` (both spellings circulate).
fn find(dir: &Path, stem: &str) -> Result<PathBuf> {
    candidates(stem).map(|name| dir.join(name)).find(|p| p.exists()).ok_or_else(|| {
        let hint = if dir == Path::new(FASHION_DIR) {
            " (install it with: apt-get install dataset-fashion-mnist)".to_string()
        } else {
            String::from(" (MNIST itself: scripts/fetch-mnist.sh DIR)")
        };
        usage(format!(
            "--data {}: no {stem} or {stem}.gz there; a data directory holds train-images-idx3-ubyte, \
             train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte{hint}",
            dir.display()
        ))
    })
}

/// The names `stem` may have, in the order they are looked for.
fn candidates(stem: &str) -> impl Iterator<Item = String> {
    let dotted = stem.replacen("-idx", ".idx", 1);
    [stem.to_string(), format!("{stem}.gz"), dotted.clone(), format!("{dotted}.gz")].into_iter()
}

fn load_split(dir: &Path, prefix: &str) -> Result<(Split, i64, i64)> {
    let images_path = find(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels_path = find(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let (dims, images) = idx::read(&images_path, idx::IMAGES_MAGIC, ByteTensor::new)?;
    let (n, h, w) = idx::image_dims(&dims, &images_path)?;
    let (_, labels) = idx::read(&labels_path, idx::LABELS_MAGIC, idx::vec_buffer)?;
    ensure!(
        labels.len() == n,
        "{} has {n} images but {} has {} labels",
        images_path.display(),
        labels_path.display(),
        labels.len()
    );
    ensure!(n > 0, "{}: no images", images_path.display());
    let images = images.0.f_reshape([n as i64, h as i64, w as i64]).map_err(crate::error::torch)?;
    let labels = Tensor::from_slice(&labels).to_kind(Kind::Int64);
    Ok((Split { images, labels }, h as i64, w as i64))
}

/// A CPU byte tensor that the IDX reader fills in place: Fashion-MNIST's 47 MB of training
/// images are decoded once, into the tensor, not into a `Vec` that is then copied (which made
/// the data's peak twice its size).
struct ByteTensor(Tensor);

impl ByteTensor {
    fn new(count: usize) -> Result<Self> {
        // Zeros, not `empty`: the reader's `&mut [u8]` must point at initialized bytes. The pages
        // are written by the reader anyway, so this costs time (~10 ms for 47 MB), not memory.
        Ok(ByteTensor(
            Tensor::f_zeros([count as i64], (Kind::Uint8, tch::Device::Cpu)).map_err(crate::error::torch)?,
        ))
    }
}

impl idx::Buffer for ByteTensor {
    fn bytes(&mut self) -> &mut [u8] {
        let n = self.0.numel();
        if n == 0 {
            return &mut [];
        }
        debug_assert!(self.0.device() == tch::Device::Cpu && self.0.kind() == Kind::Uint8);
        debug_assert!(self.0.is_contiguous());
        // SAFETY: the tensor comes from `ByteTensor::new`: `Tensor::zeros` of `n` Uint8 elements
        // on the CPU (so initialized), contiguous, and owned by `self` alone (no view or clone of
        // it exists until the reader returns it), so its data pointer addresses `n` initialized,
        // writable bytes, aliased by nothing else, for as long as `self` is mutably borrowed.
        unsafe { std::slice::from_raw_parts_mut(self.0.data_ptr() as *mut u8, n) }
    }
}

fn load_dir(dir: &Path) -> Result<Dataset> {
    ensure_dir(dir)?;
    let (train, h, w) = load_split(dir, "train")?;
    let (test, th, tw) = load_split(dir, "t10k")?;
    ensure!(
        (h, w) == (th, tw),
        "{}: training images are {h}×{w} but test images are {th}×{tw}",
        dir.display()
    );
    // Both splits hold at least one label (load_split), so max() and int64_value cannot fail.
    let classes = train.labels.max().int64_value(&[]) + 1;
    ensure!(classes >= 2, "{}: the training labels hold a single class", dir.display());
    // Classes are 0..K−1, K taken from the largest label: one stray label (250 in a 10-class
    // set) would otherwise make a 251-class network without a word. Every class must be seen.
    let counts = train.labels.f_bincount(None::<Tensor>, classes).map_err(crate::error::torch)?;
    let counts: Vec<i64> = Vec::try_from(&counts).map_err(crate::error::torch)?;
    let missing: Vec<usize> = counts.iter().enumerate().filter(|(_, &c)| c == 0).map(|(k, _)| k).collect();
    if let Some(&first) = missing.first() {
        anyhow::bail!(
            "{}: the training labels run to {} but {} of the classes 0–{} have no image (first: {first}); \
             labels must be 0 to K−1 with every class present",
            dir.display(),
            classes - 1,
            missing.len(),
            classes - 1
        );
    }
    let test_max = test.labels.max().int64_value(&[]);
    ensure!(
        test_max < classes,
        "{}: test label {test_max} is out of range: the training labels have {classes} classes (0 to {})",
        dir.display(),
        classes - 1
    );
    let labels_hash = label_fingerprint(&[&train.labels, &test.labels])?;
    let class_names = (labels_hash == FASHION_LABELS_FNV1A && classes == 10)
        .then(|| FASHION_CLASSES.iter().map(|s| s.to_string()).collect())
        .or_else(|| is_mnist(&counts, &test.labels).then(digit_names));
    let fingerprint = fingerprint(&train.images, &train.labels)?;
    Ok(Dataset {
        name: dir.display().to_string(),
        train,
        test,
        height: h,
        width: w,
        classes,
        spec: DataSource::Dir(dir.to_path_buf()).spec(),
        class_names,
        fingerprint,
    })
}

/// "0" to "9": the digit sets' class names.
pub fn digit_names() -> Vec<String> {
    (0..10).map(|d| d.to_string()).collect()
}

/// MNIST's label counts per digit, training then test split (LeCun et al.'s files): a set with
/// exactly these is MNIST, whatever its directory is called.
const MNIST_TRAIN_COUNTS: [i64; 10] = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
const MNIST_TEST_COUNTS: [i64; 10] = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];

fn is_mnist(train_counts: &[i64], test_labels: &Tensor) -> bool {
    let test: Option<Vec<i64>> =
        test_labels.f_bincount(None::<Tensor>, 10).ok().and_then(|t| Vec::try_from(&t).ok());
    train_counts == MNIST_TRAIN_COUNTS && test.as_deref() == Some(&MNIST_TEST_COUNTS[..])
}

/// How many leading training images the fingerprint hashes.
const FINGERPRINT_IMAGES: i64 = 16;

/// FNV-1a over the training labels, then the bytes of the first 16 training images.
pub fn fingerprint(images: &Tensor, labels: &Tensor) -> Result<u64> {
    let labels_hash = label_fingerprint(&[labels])?;
    let n = FINGERPRINT_IMAGES.min(images.size()[0]);
    let head = images
        .f_narrow(0, 0, n)
        .and_then(|t| t.f_to_kind(Kind::Uint8))
        .and_then(|t| t.f_reshape([-1]))
        .map_err(crate::error::torch)?;
    let bytes: Vec<u8> = Vec::try_from(&head).map_err(crate::error::torch)?;
    Ok(bytes.iter().fold(labels_hash, |hash, &b| (hash ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)))
}

/// FNV-1a (64-bit) over the label bytes of `splits` in order: cheap, and enough to tell a
/// known data set from another (the labels of 70 000 images are never the same by chance).
pub fn label_fingerprint(splits: &[&Tensor]) -> Result<u64> {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for labels in splits {
        let values: Vec<i64> = Vec::try_from(*labels).map_err(crate::error::torch)?;
        for v in values {
            hash ^= v as u8 as u64;
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    Ok(hash)
}

fn ensure_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let hint = if dir == Path::new(FASHION_DIR) {
        "; install it with: apt-get install dataset-fashion-mnist"
    } else {
        "; give a directory of MNIST-layout files, `fashion`, or `synthetic`"
    };
    Err(usage(format!("--data {}: no such directory{hint}", dir.display())))
}

/// Per-pixel scaling fitted on the training images: x ↦ (x/255 − mean) / std.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalization {
    pub mean: f64,
    pub std: f64,
}

impl Normalization {
    /// Where a mean of pixels scaled to [0, 1] lies.
    pub const MEAN_RANGE: (f64, f64) = (0.0, 1.0);
    /// Where their standard deviation lies: at most 0.5·√(n/(n − 1)) ≤ 0.71 (half the pixels
    /// 0, half 1); at least the deviation of one grey level among a billion pixels (1.2e-7).
    /// One rule for what `fit` makes and what a weights file may record (below 1e-9 the inputs
    /// would be blown up by more than a billion).
    pub const STD_RANGE: (f64, f64) = (1e-9, 1.0);

    /// The mean and standard deviation of all training pixels, scaled to [0, 1].
    ///
    /// Computed from the 256-bin histogram of the bytes, in float64: exact, and without a
    /// float64 copy of the whole set (60 000 × 784 pixels would be 376 MB).
    pub fn fit(images: &Tensor) -> Result<Self> {
        // Counted in Rust a few MB at a time: an int64 copy for bincount would be 8 bytes per
        // pixel (376 MB for Fashion-MNIST), the largest allocation of a whole training run.
        let flat = images.f_reshape([-1]).map_err(crate::error::torch)?;
        let total = flat.size()[0];
        // Four histograms filled in turn: with one, runs of equal bytes (the background's 0s)
        // make every increment wait for the one before it to reach memory (four independent
        // chains instead), and a sweep fits once per trial.
        let mut lanes = [[0u64; 256]; 4];
        let mut bytes = vec![0u8; (1 << 22).min(total.max(0) as usize)];
        let mut start = 0;
        while start < total {
            let len = (1 << 22).min(total - start);
            let chunk = flat
                .f_narrow(0, start, len)
                .and_then(|c| c.f_to_kind(Kind::Uint8))
                .map_err(crate::error::torch)?;
            let bytes = &mut bytes[..len as usize];
            chunk.f_copy_data_u8(bytes, len as usize).map_err(crate::error::torch)?;
            let mut quads = bytes.chunks_exact(4);
            for q in &mut quads {
                lanes[0][q[0] as usize] += 1;
                lanes[1][q[1] as usize] += 1;
                lanes[2][q[2] as usize] += 1;
                lanes[3][q[3] as usize] += 1;
            }
            for &v in quads.remainder() {
                lanes[0][v as usize] += 1;
            }
            start += len;
        }
        let counts: Vec<u64> = (0..256).map(|v| lanes.iter().map(|lane| lane[v]).sum()).collect();
        let n = counts.iter().sum::<u64>() as f64;
        ensure!(n > 1.0, "the training set has fewer than 2 pixels; it cannot be normalized");
        let level = |v: usize| v as f64 / 255.0;
        let mean = counts.iter().enumerate().map(|(v, &c)| level(v) * c as f64).sum::<f64>() / n;
        let var = counts.iter().enumerate().map(|(v, &c)| (level(v) - mean).powi(2) * c as f64).sum::<f64>()
            / (n - 1.0);
        let std = var.sqrt();
        ensure!(
            std >= Self::STD_RANGE.0,
            "the training images are all one color (their standard deviation is {std}); they cannot be normalized"
        );
        Ok(Normalization { mean, std })
    }

    /// N×H×W u8 images → N×(H·W) float32, normalized, on `device`.
    pub fn apply(&self, images: &Tensor, device: tch::Device) -> Result<Tensor> {
        let n = images.size()[0];
        // `copy = true`: a new tensor even if `images` were float already, so the in-place
        // steps below can never write into the caller's data.
        let mut x = images
            .f_to_device(device)
            .and_then(|x| x.f_to_dtype(Kind::Float, false, true))
            .and_then(|x| x.f_reshape([n, -1]))
            .map_err(crate::error::torch)?;
        // In place on that fresh copy: the same three float32 operations in the same order (so
        // the same numbers), without a temporary for each of them.
        x.f_div_scalar_(255.0)
            .and_then(|mut x| x.f_sub_scalar_(self.mean))
            .and_then(|mut x| x.f_div_scalar_(self.std))
            .map_err(crate::error::torch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The histogram's mean and standard deviation are the pixels' own, computed directly in
    /// float64, over more than one 4 Mi-pixel chunk with a count not divisible by four (so the
    /// lanes' remainder is counted too). To 1e-9: the direct sum of 5 M floats carries ~1e-11
    /// of rounding, while dropping the 2 pixels past the last group of four would move the mean
    /// by ~1.4e-6 of itself.
    #[test]
    fn the_normalization_is_the_pixels_mean_and_std() {
        let n = (1usize << 22) + (1 << 20) + 3;
        // A skewed byte pattern, mostly 0 as an image's background is, with a run of 255 at the end.
        let bytes: Vec<u8> =
            (0..n).map(|i| if i % 7 < 4 { 0 } else { ((i * 37) % 256) as u8 }).chain([255u8; 3]).collect();
        let images = Tensor::from_slice(&bytes).view([1, -1]);
        let fit = Normalization::fit(&images).unwrap();
        let values: Vec<f64> = bytes.iter().map(|&b| b as f64 / 255.0).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64;
        assert!((fit.mean - mean).abs() < 1e-9 * mean, "mean {} vs {mean}", fit.mean);
        assert!((fit.std - var.sqrt()).abs() < 1e-9 * var.sqrt(), "std {} vs {}", fit.std, var.sqrt());
    }
}
