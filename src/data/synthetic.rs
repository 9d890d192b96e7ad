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
/// Images whose random parameters are drawn at once. The draws fix the images, so this must not
/// change: a different split of the draws would give a different data set for the same seed.
const DRAW: i64 = 2000;
/// Images rendered at once: bounds the float temporaries (the sampling grid alone is 6 KB per
/// image) at a few MB, whatever `DRAW` is. Rendering is per image, so this changes no pixel.
const RENDER: i64 = 100;

/// The ten glyphs as a 10×1×7×5 float tensor of 0/1.
fn glyphs() -> Tensor {
    let pixels: Vec<f32> = FONT
        .iter()
        .flat_map(|rows| rows.iter().flat_map(|row| row.bytes().map(|b| if b == b'#' { 1.0 } else { 0.0 })))
        .collect();
    Tensor::from_slice(&pixels).reshape([10, 1, 7, 5])
}

/// One chunk's random parameters, one value per image (the noise: one per pixel).
struct Draws {
    angle: Tensor,
    scale: Tensor,
    shear: Tensor,
    tx: Tensor,
    ty: Tensor,
    threshold: Tensor,
    contrast: Tensor,
    noise: Tensor,
    noise_scale: Tensor,
}

impl Draws {
    /// Draws `len` images' parameters from libtorch's generator, in the one order that defines
    /// the data set. The noise is drawn into `noise` (at least `len` images; `randn` is `empty`
    /// then `normal_`, so this draws the same numbers): one buffer for every chunk, not a fresh
    /// one each time (6 MB at 2 000 images), which glibc's heap would keep resident.
    fn new(len: i64, noise: &Tensor) -> Self {
        let cpu = (Kind::Float, Device::Cpu);
        let u = |lo: f64, hi: f64| Tensor::empty([len], cpu).uniform_(lo, hi);
        Draws {
            angle: u(-0.45, 0.45),
            scale: u(0.7, 1.2),
            shear: u(-0.4, 0.4),
            tx: u(-0.25, 0.25),
            ty: u(-0.25, 0.25),
            threshold: u(0.1, 0.65),
            contrast: u(0.7, 1.0),
            noise: noise.narrow(0, 0, len).normal_(0.0, 1.0),
            noise_scale: u(0.0, 0.25),
        }
    }

    /// Images `start..start + len` of the chunk, of digits `y`: n×28×28 u8.
    fn render(&self, font: &Tensor, y: &Tensor, start: i64, len: i64) -> Tensor {
        let part = |t: &Tensor| t.narrow(0, start, len);
        let (scale, shear, tx, ty) = (part(&self.scale), part(&self.shear), part(&self.tx), part(&self.ty));
        // The glyph fills about 19×14 of the 28×28 frame at scale 1; the affine map takes output
        // coordinates (normalized to [-1, 1]) to glyph coordinates.
        let (sx, sy) = (&scale * (14.0 / 28.0), &scale * (19.0 / 28.0));
        let angle = part(&self.angle);
        let (cos, sin) = (angle.cos(), angle.sin());
        let a = &cos / &sx;
        let b = (&sin + &shear * &cos) / &sx;
        let c = -&sin / &sy;
        let d = (&cos - &shear * &sin) / &sy;
        let theta = Tensor::stack(&[&a, &b, &(-(&a * &tx + &b * &ty)), &c, &d, &(-(&c * &tx + &d * &ty))], 1)
            .reshape([len, 2, 3]);
        let grid = Tensor::affine_grid_generator(&theta, [len, 1, SIZE, SIZE], false);
        let source = font.index_select(0, y);
        // Bilinear ink, then a per-image threshold: low thresholds make thick strokes.
        let ink = source.grid_sampler(&grid, 0, 0, false);
        let threshold = part(&self.threshold).view([len, 1, 1, 1]);
        let strokes = ((ink - &threshold) / 0.25 + 0.5).clamp(0.0, 1.0);
        let strokes =
            strokes.avg_pool2d([3, 3], [1, 1], [1, 1], false, true, None::<i64>) * 0.5 + strokes * 0.5;
        let contrast = part(&self.contrast).view([len, 1, 1, 1]);
        let noise = part(&self.noise) * part(&self.noise_scale).view([len, 1, 1, 1]);
        let image = (strokes * contrast + noise).clamp(0.0, 1.0);
        (image * 255.0).round().to_kind(Kind::Uint8).reshape([len, SIZE, SIZE])
    }
}

/// `n` images (n×28×28, u8, white ink on black like MNIST) and their labels (n, i64), the same
/// for the same `seed`. Uses and reseeds libtorch's global generator.
pub fn generate(n: usize, seed: u64) -> (Tensor, Tensor) {
    let _only = crate::exclusive::enter();
    tch::manual_seed(seed as i64);
    let n = n as i64;
    let labels = Tensor::arange(n, (Kind::Int64, Device::Cpu)).remainder(10);
    let labels = labels.index_select(0, &Tensor::randperm(n, (Kind::Int64, Device::Cpu)));
    let font = glyphs();
    // Filled chunk by chunk: no list of chunks to concatenate (that held the set twice).
    let images = Tensor::zeros([n, SIZE, SIZE], (Kind::Uint8, Device::Cpu));
    let noise = Tensor::empty([DRAW.min(n), 1, SIZE, SIZE], (Kind::Float, Device::Cpu));
    let mut start = 0;
    while start < n {
        let len = DRAW.min(n - start);
        let draws = Draws::new(len, &noise);
        let mut done = 0;
        while done < len {
            let part = RENDER.min(len - done);
            let y = labels.narrow(0, start + done, part);
            images.narrow(0, start + done, part).copy_(&draws.render(&font, &y, done, part));
            done += part;
        }
        start += len;
    }
    (images, labels)
}
