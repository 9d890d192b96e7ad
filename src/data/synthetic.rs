//! A synthetic handwritten-digits set, generated in-process so a first `nnopt train` needs no
//! download. It is *synthetic*: digits from a built-in 5×7 bitmap font, each drawn onto 28×28
//! with its own random rotation, scale, shear, shift, stroke width, contrast and noise. It is
//! easier than MNIST and no substitute for it; it is there to train a real classifier in seconds.
//!
//! Everything is done by libtorch in batches (one affine warp with `grid_sample` per chunk), from
//! a fixed seed, so the same arguments always give the same images. Classes are balanced:
//! exactly ⌈n/10⌉ or ⌊n/10⌋ images of each digit, in random order.

use tch::{Device, Kind, Tensor};

/// The glyphs, 7 rows of 5 columns each, `#` = ink.
const FONT: [[&str; 7]; 10] = [
    [".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."],
    ["..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."],
    [".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"],
    ["#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."],
    ["...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."],
    ["#####", "#....", "####.", "....#", "....#", "#...#", ".###."],
    ["..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."],
    ["#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."],
    [".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."],
    [".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."],
];

/// Side of the generated images.
pub const SIZE: i64 = 28;
/// Images generated per libtorch batch (bounds memory at a few tens of MB).
const CHUNK: i64 = 10_000;

/// The ten glyphs as a 10×1×7×5 float tensor of 0/1.
fn glyphs() -> Tensor {
    let pixels: Vec<f32> = FONT
        .iter()
        .flat_map(|rows| rows.iter().flat_map(|row| row.bytes().map(|b| if b == b'#' { 1.0 } else { 0.0 })))
        .collect();
    Tensor::from_slice(&pixels).reshape([10, 1, 7, 5])
}

/// `n` images (n×28×28, u8, white ink on black like MNIST) and their labels (n, i64), the same
/// for the same `seed`. Uses and reseeds libtorch's global generator.
pub fn generate(n: usize, seed: u64) -> (Tensor, Tensor) {
    tch::manual_seed(seed as i64);
    let cpu = (Kind::Float, Device::Cpu);
    let n = n as i64;
    let labels = Tensor::arange(n, (Kind::Int64, Device::Cpu)).remainder(10);
    let labels = labels.index_select(0, &Tensor::randperm(n, (Kind::Int64, Device::Cpu)));
    let font = glyphs();
    let mut chunks = Vec::new();
    let mut start = 0;
    while start < n {
        let len = CHUNK.min(n - start);
        let y = labels.narrow(0, start, len);
        let u = |lo: f64, hi: f64| Tensor::empty([len], cpu).uniform_(lo, hi);
        // The glyph fills about 19×14 of the 28×28 frame at scale 1; the affine map takes output
        // coordinates (normalized to [-1, 1]) to glyph coordinates.
        let angle = u(-0.45, 0.45);
        let scale = u(0.7, 1.2);
        let shear = u(-0.4, 0.4);
        let (tx, ty) = (u(-0.25, 0.25), u(-0.25, 0.25));
        let (sx, sy) = (&scale * (14.0 / 28.0), &scale * (19.0 / 28.0));
        let (cos, sin) = (angle.cos(), angle.sin());
        let a = &cos / &sx;
        let b = (&sin + &shear * &cos) / &sx;
        let c = -&sin / &sy;
        let d = (&cos - &shear * &sin) / &sy;
        let theta = Tensor::stack(&[&a, &b, &(-(&a * &tx + &b * &ty)), &c, &d, &(-(&c * &tx + &d * &ty))], 1)
            .reshape([len, 2, 3]);
        let grid = Tensor::affine_grid_generator(&theta, [len, 1, SIZE, SIZE], false);
        let source = font.index_select(0, &y);
        // Bilinear ink, then a per-image threshold: low thresholds make thick strokes.
        let ink = source.grid_sampler(&grid, 0, 0, false);
        let threshold = u(0.1, 0.65).view([len, 1, 1, 1]);
        let strokes = ((ink - &threshold) / 0.25 + 0.5).clamp(0.0, 1.0);
        let strokes =
            strokes.avg_pool2d([3, 3], [1, 1], [1, 1], false, true, None::<i64>) * 0.5 + strokes * 0.5;
        let contrast = u(0.7, 1.0).view([len, 1, 1, 1]);
        let noise = Tensor::randn([len, 1, SIZE, SIZE], cpu) * u(0.0, 0.25).view([len, 1, 1, 1]);
        let image = (strokes * contrast + noise).clamp(0.0, 1.0);
        chunks.push((image * 255.0).round().to_kind(Kind::Uint8).reshape([len, SIZE, SIZE]));
        start += len;
    }
    (Tensor::cat(&chunks, 0), labels)
}
