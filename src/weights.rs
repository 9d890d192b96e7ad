//! Trained weights on disk: safetensors with PyTorch's parameter names.
//!
//! The file holds `fc1.weight`, `fc1.bias`, `fc2.weight`, … as float32, exactly the `state_dict`
//! of a PyTorch `Network` with the same layer widths, so `safetensors.torch.load_file` followed
//! by `net.load_state_dict` takes it unchanged. The input normalization and the layer widths
//! travel in the safetensors header's string metadata, which PyTorch ignores. Files are written
//! atomically (temporary file, fsync, rename).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use tch::{nn, Device, Kind, Tensor};

use crate::data::{Dataset, Normalization};
use crate::error::{guard, torch};
use crate::mlp::{Network, MAX_PARAMETERS};

/// More layers than any network nnopt trains (`--hidden` takes at most 8 widths).
const MAX_LAYERS: usize = 64;

/// A network restored from a weights file.
pub struct Loaded {
    /// Holds the parameters; keep it alive as long as `net` is used.
    pub vs: nn::VarStore,
    pub net: Network,
    /// Layer widths, input first: `[784, 32, 10]`.
    pub widths: Vec<i64>,
    /// The normalization the network was trained with, when the file records it.
    pub normalization: Option<Normalization>,
    /// The `--data` value of the set it was trained on, when the file records it.
    pub data: Option<String>,
    /// The class names of that set, when it has them.
    pub class_names: Option<Vec<String>>,
    /// What the network was trained on, where the file records it (nnopt files from this
    /// version on); see [`crate::provenance`].
    pub record: Option<crate::provenance::DataRecord>,
    /// The range of the training images' own mean brightness and contrast (0–1), where recorded:
    /// an image outside them looks nothing like what the network saw.
    pub image_ranges: Option<ImageRanges>,
    /// The header's string metadata.
    pub metadata: HashMap<String, String>,
}

/// Saves `net`'s parameters, the `normalization` and which `data` they were trained on to
/// `path` (safetensors), atomically.
pub fn save(path: &Path, net: &Network, normalization: &Normalization, data: &Dataset) -> Result<()> {
    // The metadata says what the network reads and answers; a file where they disagree would be
    // refused on load, so it is never written.
    let widths = net.widths();
    ensure!(
        widths.first() == Some(&(data.height * data.width)) && widths.last() == Some(&data.classes),
        "{}: the network ({:?}) does not fit {} ({}×{} images, {} classes); nothing written",
        path.display(),
        widths,
        data.name,
        data.height,
        data.width,
        data.classes
    );
    let params: Vec<(String, Vec<usize>, Vec<u8>)> = net
        .parameters()
        .into_iter()
        .map(|(name, t)| {
            let t = t
                .f_detach()
                .and_then(|t| t.f_to_device(Device::Cpu))
                .and_then(|t| t.f_to_kind(Kind::Float))
                .and_then(|t| t.f_contiguous())
                .map_err(torch)?;
            let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
            let values = Vec::<f32>::try_from(&t.f_reshape([-1]).map_err(torch)?).map_err(torch)?;
            let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            Ok((name, shape, bytes))
        })
        .collect::<Result<_>>()?;
    let views: Vec<(String, TensorView)> = params
        .iter()
        .map(|(name, shape, bytes)| Ok((name.clone(), TensorView::new(Dtype::F32, shape.clone(), bytes)?)))
        .collect::<Result<_, safetensors::SafeTensorError>>()
        .map_err(|e| anyhow::anyhow!("{}: cannot encode the weights: {e:?}", path.display()))?;
    let widths: Vec<String> = net.widths().iter().map(i64::to_string).collect();
    let mut metadata = HashMap::from([
        ("format".to_string(), "pt".to_string()),
        ("nnopt_version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
        ("widths".to_string(), widths.join(",")),
        ("normalization_mean".to_string(), normalization.mean.to_string()),
        ("normalization_std".to_string(), normalization.std.to_string()),
        ("dataset".to_string(), data.name.clone()),
        ("data".to_string(), data.spec.clone()),
        ("classes".to_string(), data.classes.to_string()),
        ("image_height".to_string(), data.height.to_string()),
        ("image_width".to_string(), data.width.to_string()),
        ("data_fingerprint".to_string(), format!("{:016x}", data.fingerprint)),
    ]);
    let ((m0, m1), (s0, s1)) = image_ranges(&data.train.images)?;
    metadata.insert("image_mean_range".to_string(), format!("{m0},{m1}"));
    metadata.insert("image_std_range".to_string(), format!("{s0},{s1}"));
    if let Some(names) = &data.class_names {
        metadata.insert("class_names".to_string(), serde_json::to_string(names)?);
    }
    let bytes = safetensors::serialize(views, &Some(metadata))
        .map_err(|e| anyhow::anyhow!("{}: cannot encode the weights: {e:?}", path.display()))?;
    crate::fsutil::write_atomic(path, &bytes)
}

/// The `--data` a weights file records (its metadata's `data`), read from its header alone;
/// `None` where the file cannot be read or records none. For `predict`, which reads that data
/// when no `--data` is given, to know its files before writing anything.
pub fn recorded_data(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    let mut len = [0u8; 8];
    file.read_exact(&mut len).ok()?;
    // A safetensors header is JSON of a few kB; a larger length is not one nnopt wrote.
    let len = usize::try_from(u64::from_le_bytes(len)).ok().filter(|&n| n <= 1 << 20)?;
    let mut header = vec![0u8; len];
    file.read_exact(&mut header).ok()?;
    let header: serde_json::Value = serde_json::from_slice(&header).ok()?;
    header.get("__metadata__")?.get("data")?.as_str().map(str::to_string)
}

/// Loads a weights file, checking every tensor's presence, type and shape.
pub fn load(path: &Path, device: Device) -> Result<Loaded> {
    crate::device::prepare(device);
    let p = path.display();
    let bytes = std::fs::read(path).with_context(|| format!("{p}: cannot read the weights file"))?;
    let (_, header) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| anyhow::anyhow!("{p}: not a safetensors file ({e:?})"))?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let file = SafeTensors::deserialize(&bytes)
        .map_err(|e| anyhow::anyhow!("{p}: not a safetensors file ({e:?})"))?;

    let (widths, tensors) = read_layers(&file, path)?;
    check_metadata(&metadata, &widths, path)?;

    let mut vs = nn::VarStore::new(Device::Cpu);
    let net = Network::zeroed(&vs.root(), &widths)?;
    // `parameters()` lists fc1.weight, fc1.bias, fc2.weight, … — the order read above.
    tch::no_grad(|| {
        for ((_, loaded), (_, mut param)) in tensors.iter().zip(net.parameters()) {
            param.f_copy_(loaded).map_err(torch)?;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    guard(&format!("{p}: moving the weights to {}", crate::device::name(device)), || vs.set_device(device))?;
    let normalization = read_normalization(&metadata, path)?;
    let data = metadata.get("data").cloned();
    let class_names = metadata
        .get("class_names")
        .and_then(|names| serde_json::from_str::<Vec<String>>(names).ok())
        .filter(|names| names.len() as i64 == widths[widths.len() - 1]);
    let record = crate::provenance::DataRecord::from_metadata(&metadata, &class_names);
    let image_ranges =
        read_range(&metadata, "image_mean_range", path)?.zip(read_range(&metadata, "image_std_range", path)?);
    Ok(Loaded { vs, net, widths, normalization, data, class_names, metadata, record, image_ranges })
}

/// The layers a weights file holds — fc1.weight, fc1.bias, fc2.weight, … until one is missing,
/// each weight fixing the next layer's input width — as the network's widths and its tensors in
/// `Network::parameters` order; anything else in the file is refused.
#[allow(clippy::type_complexity)]
fn read_layers(file: &SafeTensors, path: &Path) -> Result<(Vec<i64>, Vec<(String, Tensor)>)> {
    let p = path.display();
    let mut widths = Vec::new();
    let mut tensors = Vec::new();
    for layer in 1..=MAX_LAYERS + 1 {
        ensure!(layer <= MAX_LAYERS, "{p}: more than {MAX_LAYERS} layers; not a network nnopt makes");
        let weight_name = format!("fc{layer}.weight");
        let Ok(weight) = file.tensor(&weight_name) else {
            ensure!(
                layer > 1,
                "{p}: missing tensor fc1.weight (nnopt's weights are fc1.weight, fc1.bias, fc2.weight, …)"
            );
            break;
        };
        let &[out, input] = weight.shape() else {
            bail!(
                "{p}: tensor {weight_name} has shape {:?}; expected [out_features, in_features]",
                weight.shape()
            );
        };
        ensure!(
            out > 0 && input > 0,
            "{p}: tensor {weight_name} has shape {:?}; a layer needs at least one input and one output",
            weight.shape()
        );
        if let Some(&previous) = widths.last() {
            ensure!(
                input as i64 == previous,
                "{p}: tensor {weight_name} takes {input} inputs but fc{} gives {previous} outputs",
                layer - 1
            );
        } else {
            widths.push(input as i64);
        }
        widths.push(out as i64);
        let bias_name = format!("fc{layer}.bias");
        let bias = file.tensor(&bias_name).map_err(|_| anyhow::anyhow!("{p}: missing tensor {bias_name}"))?;
        ensure!(
            bias.shape() == [out],
            "{p}: tensor {bias_name} has shape {:?}; expected [{out}] to match {weight_name}",
            bias.shape()
        );
        tensors.push((weight_name.clone(), to_tensor(path, &weight_name, &weight)?));
        tensors.push((bias_name.clone(), to_tensor(path, &bias_name, &bias)?));
    }

    let expected: Vec<String> =
        (1..widths.len()).flat_map(|l| [format!("fc{l}.weight"), format!("fc{l}.bias")]).collect();
    let mut extra: Vec<&String> = file.names().into_iter().filter(|n| !expected.contains(n)).collect();
    extra.sort();
    ensure!(
        extra.is_empty(),
        "{p}: unexpected tensor(s) {extra:?}; nnopt's weights are exactly {}",
        expected.join(", ")
    );
    Ok((widths, tensors))
}

/// The metadata describes the tensors; where it contradicts them the file was edited or
/// damaged, and which of the two is right cannot be known: refuse rather than guess.
fn check_metadata(metadata: &HashMap<String, String>, widths: &[i64], path: &Path) -> Result<()> {
    let p = path.display();
    let header_number = |key: &str| metadata.get(key).cloned();
    let recorded = |key: &str, actual: i64, what: &str| -> Result<()> {
        if let Some(text) = header_number(key) {
            ensure!(
                text.trim().parse::<i64>().ok() == Some(actual),
                "{p}: its metadata says {key} = {text} but the tensors have {actual} {what}; the file is damaged"
            );
        }
        Ok(())
    };
    recorded("classes", widths[widths.len() - 1], "outputs")?;
    if let Some(text) = header_number("widths") {
        let joined: Vec<String> = widths.iter().map(i64::to_string).collect();
        ensure!(
            text == joined.join(","),
            "{p}: its metadata says widths = {text} but the tensors are {}; the file is damaged",
            joined.join(",")
        );
    }
    if let (Some(h), Some(w)) = (header_number("image_height"), header_number("image_width")) {
        let (h, w) = (h.parse::<i64>().unwrap_or(-1), w.parse::<i64>().unwrap_or(-1));
        ensure!(
            h > 0 && w > 0 && h.checked_mul(w) == Some(widths[0]),
            "{p}: its metadata says the images are {h}×{w} but the network takes {} inputs; the file is damaged",
            widths[0]
        );
    }
    let parameters: i64 = widths.windows(2).map(|w| (w[0] + 1) * w[1]).sum();
    ensure!(
        parameters <= MAX_PARAMETERS,
        "{p}: {parameters} parameters, more than nnopt's limit of {MAX_PARAMETERS}"
    );

    Ok(())
}

/// The input normalization the weights were trained with, where the file records one: a mean
/// and a standard deviation that `Normalization::fit` can make ([`Normalization::MEAN_RANGE`],
/// [`Normalization::STD_RANGE`]). Anything else cannot describe a usable network: refused,
/// the field named.
fn read_normalization(metadata: &HashMap<String, String>, path: &Path) -> Result<Option<Normalization>> {
    let p = path.display();
    let field = |key: &str, low: f64, high: f64| -> Result<Option<f64>> {
        let Some(text) = metadata.get(key) else { return Ok(None) };
        match text.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && (low..=high).contains(&v) => Ok(Some(v)),
            _ => bail!(
                "{p}: its metadata says {key} = {text}, which no training set of pixels scaled to [0, 1] \
                 gives (it lies in [{low}, {high}]); the file is damaged or was edited"
            ),
        }
    };
    let (mean, std) = (Normalization::MEAN_RANGE, Normalization::STD_RANGE);
    let mean = field("normalization_mean", mean.0, mean.1)?;
    let std = field("normalization_std", std.0, std.1)?;
    Ok(match (mean, std) {
        (Some(mean), Some(std)) => Some(Normalization { mean, std }),
        (None, None) => None,
        (Some(_), None) => {
            bail!("{p}: its metadata has normalization_mean but no normalization_std; the file is damaged")
        }
        (None, Some(_)) => {
            bail!("{p}: its metadata has normalization_std but no normalization_mean; the file is damaged")
        }
    })
}

/// A recorded (low, high) range of single images' mean or contrast: both in [0, 1], in order;
/// `None` where the file has none (older files), an error naming the field where it is wrong.
fn read_range(metadata: &HashMap<String, String>, key: &str, path: &Path) -> Result<Option<(f64, f64)>> {
    let Some(text) = metadata.get(key) else { return Ok(None) };
    let parsed = text
        .split_once(',')
        .and_then(|(a, b)| Some((a.trim().parse::<f64>().ok()?, b.trim().parse::<f64>().ok()?)));
    match parsed {
        Some((a, b)) if a.is_finite() && b.is_finite() && 0.0 <= a && a <= b && b <= 1.0 => Ok(Some((a, b))),
        _ => bail!(
            "{}: its metadata says {key} = {text}; expected LOW,HIGH with 0 ≤ LOW ≤ HIGH ≤ 1; the file is damaged or was edited",
            path.display()
        ),
    }
}

/// (mean, contrast) ranges of single images, each (low, high), in [0, 1].
pub type ImageRanges = ((f64, f64), (f64, f64));

/// The 0.1 % and 99.9 % quantiles of the training images' own mean and standard deviation
/// (pixels scaled to [0, 1]): 998 of 1000 training images fall inside both. Computed a few
/// thousand images at a time, in float32 (never a float copy of the whole set).
pub fn image_ranges(images: &Tensor) -> Result<ImageRanges> {
    let n = images.size()[0];
    let (mut means, mut stds) = (Vec::with_capacity(n as usize), Vec::with_capacity(n as usize));
    let mut start = 0;
    while start < n {
        let len = 4096.min(n - start);
        let chunk = images
            .f_narrow(0, start, len)
            .and_then(|c| c.f_to_kind(Kind::Float))
            .and_then(|c| c.f_reshape([len, -1]))
            .map_err(torch)?
            / 255.0;
        let mean = chunk.f_mean_dim(1, false, Kind::Float).map_err(torch)?;
        let std = chunk.f_std_correction(1, 0, false).map_err(torch)?;
        means.extend(Vec::<f32>::try_from(&mean).map_err(torch)?);
        stds.extend(Vec::<f32>::try_from(&std).map_err(torch)?);
        start += len;
    }
    let quantiles = |mut v: Vec<f32>| -> (f64, f64) {
        v.sort_by(f32::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize] as f64;
        (at(0.001), at(0.999))
    };
    ensure!(!means.is_empty(), "no training images to measure");
    Ok((quantiles(means), quantiles(stds)))
}

/// A float32 safetensors view as a CPU tensor; other types are refused, naming the tensor.
fn to_tensor(path: &Path, name: &str, view: &TensorView) -> Result<Tensor> {
    ensure!(
        view.dtype() == Dtype::F32,
        "{}: tensor {name} is {:?}; nnopt's weights are F32",
        path.display(),
        view.dtype()
    );
    let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
    let values: Vec<f32> =
        view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        bail!(
            "{}: tensor {name} holds {} at element {i}; the weights are damaged or diverged",
            path.display(),
            values[i]
        );
    }
    Tensor::from_slice(&values).f_reshape(&shape).map_err(torch)
}
