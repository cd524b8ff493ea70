//! Convolution and linear weights stored as 8-bit integers with one f32 scale per output channel
//! (symmetric, `w ≈ q * scale` with `q` in -127..=127): a quarter of the f32 bytes, the usual
//! weight-only quantisation of browser runtimes. Reading multiplies back to f32, so every reader
//! of one bundle computes with the same values. Biases and batch norms stay f32.
//!
//! In the burnpack container a quantised weight `name` is an `I8` tensor of the weight's shape,
//! and its scales are the f32 tensor `name` + [`SCALE_SUFFIX`], one per output channel.

use std::collections::HashMap;

use burn::store::bridge;
use burn::store::burn_pack::Tensor as PackTensor;
use burn::tensor::{DType, Element, Shape, TensorData};

use super::BundleError;

/// Name suffix of a quantised weight's scales.
const SCALE_SUFFIX: &str = ".int8_scale";
/// The largest magnitude stored: symmetric, so that -w and w quantise alike.
const Q_MAX: f32 = 127.0;

/// Quantises the f32 weights of convolutions (`[out, in, kh, kw]`) and linear layers (Burn's
/// `[in, out]`) and appends their scales; every other tensor passes through.
pub fn quantize(tensors: Vec<PackTensor>) -> Result<Vec<PackTensor>, BundleError> {
    let mut out = Vec::with_capacity(tensors.len());
    for tensor in tensors {
        let Some(axis) = output_axis(&tensor) else {
            out.push(tensor);
            continue;
        };
        let (name, param_id, shape) = (tensor.name.clone(), tensor.param_id, tensor.shape.clone());
        let weights = stored_values::<f32>(tensor)?;
        let (values, scales) = quantize_values(&weights, &shape, axis);
        let channels = scales.len();
        out.push(bridge::from_data(
            TensorData::new(values, shape),
            name.clone(),
            param_id,
        ));
        out.push(bridge::from_data(
            TensorData::new(scales, [channels]),
            format!("{name}{SCALE_SUFFIX}"),
            None,
        ));
    }
    Ok(out)
}

/// Replaces every quantised weight and its scales by the f32 weight they stand for.
pub fn dequantize(tensors: Vec<PackTensor>) -> Result<Vec<PackTensor>, BundleError> {
    if !tensors.iter().any(|tensor| tensor.dtype == DType::I8) {
        return Ok(tensors);
    }
    let (scale_tensors, others): (Vec<_>, Vec<_>) = tensors
        .into_iter()
        .partition(|tensor| tensor.name.ends_with(SCALE_SUFFIX));
    let mut scales = HashMap::new();
    for tensor in scale_tensors {
        let weight = tensor.name[..tensor.name.len() - SCALE_SUFFIX.len()].to_string();
        scales.insert(weight, stored_values::<f32>(tensor)?);
    }
    let mut out = Vec::with_capacity(others.len());
    for tensor in others {
        if tensor.dtype != DType::I8 {
            out.push(tensor);
            continue;
        }
        let name = tensor.name.clone();
        let scales = scales.remove(&name).ok_or_else(|| {
            BundleError::InvalidWeights(format!("int8 tensor '{name}' has no scales"))
        })?;
        let axis = output_axis_of(&tensor.shape).ok_or_else(|| {
            BundleError::InvalidWeights(format!(
                "int8 tensor '{name}' of shape {:?} is not a convolution or linear weight",
                tensor.shape
            ))
        })?;
        if scales.len() != tensor.shape[axis] {
            return Err(BundleError::InvalidWeights(format!(
                "int8 tensor '{name}' has {} output channels but {} scales",
                tensor.shape[axis],
                scales.len()
            )));
        }
        let (param_id, shape) = (tensor.param_id, tensor.shape.clone());
        let values = stored_values::<i8>(tensor)?;
        let weights = dequantize_values(&values, &scales, &shape, axis);
        out.push(bridge::from_data(
            TensorData::new(weights, shape),
            name,
            param_id,
        ));
    }
    if let Some(orphan) = scales.keys().next() {
        return Err(BundleError::InvalidWeights(format!(
            "scales for '{orphan}', which is not an int8 tensor"
        )));
    }
    Ok(out)
}

/// The output-channel axis of a tensor that is quantised: f32 weights of rank 4 (convolutions)
/// or 2 (linear layers).
fn output_axis(tensor: &PackTensor) -> Option<usize> {
    let is_weight = tensor.dtype == DType::F32 && tensor.name.ends_with(".weight");
    is_weight.then(|| output_axis_of(&tensor.shape)).flatten()
}

fn output_axis_of(shape: &Shape) -> Option<usize> {
    match shape.num_dims() {
        4 => Some(0),
        2 => Some(1),
        _ => None,
    }
}

/// A stored tensor's values as `E`, the element type it must have.
fn stored_values<E: Element>(tensor: PackTensor) -> Result<Vec<E>, BundleError> {
    let name = tensor.name.clone();
    let error = |cause: String| BundleError::InvalidWeights(format!("'{name}': {cause}"));
    bridge::into_data(tensor)
        .map_err(|e| error(e.to_string()))?
        .try_into_vec::<E>()
        .map_err(|e| error(format!("{e:?}")))
}

/// The channel of each element of a row-major tensor of `shape`, along `axis`.
fn channel_of(shape: &Shape, axis: usize) -> impl Fn(usize) -> usize {
    let inner: usize = shape.iter().skip(axis + 1).product();
    let channels = shape[axis];
    move |index| (index / inner) % channels
}

/// Symmetric per-channel quantisation: each channel's largest magnitude maps to ±127.
fn quantize_values(weights: &[f32], shape: &Shape, axis: usize) -> (Vec<i8>, Vec<f32>) {
    let channel = channel_of(shape, axis);
    let mut scales = vec![0.0f32; shape[axis]];
    for (index, w) in weights.iter().enumerate() {
        let scale = &mut scales[channel(index)];
        *scale = scale.max(w.abs());
    }
    for scale in &mut scales {
        *scale /= Q_MAX;
    }
    let values = weights
        .iter()
        .enumerate()
        .map(|(index, w)| match scales[channel(index)] {
            0.0 => 0,
            scale => (w / scale).round().clamp(-Q_MAX, Q_MAX) as i8,
        })
        .collect();
    (values, scales)
}

/// The f32 weights that quantised values and their channels' scales stand for.
///
/// Not inlined, for the page: the browser compiles a hot wasm function again, optimised, on a
/// background thread. Inlined, this loop made that all of `Bundle::from_bytes` (42 kB of wasm,
/// about 100 ms of compiling on every model load on a 2-core machine); alone it takes a few ms.
#[inline(never)]
fn dequantize_values(values: &[i8], scales: &[f32], shape: &Shape, axis: usize) -> Vec<f32> {
    let channel = channel_of(shape, axis);
    values
        .iter()
        .enumerate()
        .map(|(index, &q)| f32::from(q) * scales[channel(index)])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_output_channel_gets_its_own_scale() {
        // A linear layer's weight in Burn's [in, out] layout: output channels are columns.
        let shape = Shape::new([3, 2]);
        let weights = [0.5, -0.011, -1.27, 0.02, 0.3, -0.001];
        let (values, scales) = quantize_values(&weights, &shape, 1);
        assert_eq!(scales, [1.27 / 127.0, 0.02 / 127.0]);
        assert_eq!(values, [50, -70, -127, 127, 30, -6]);
        let back = dequantize_values(&values, &scales, &shape, 1);
        for ((w, b), channel) in weights.iter().zip(&back).zip([0, 1, 0, 1, 0, 1]) {
            assert!((w - b).abs() <= scales[channel] / 2.0, "{w} -> {b}");
        }
    }

    #[test]
    fn a_channel_of_zeros_stays_zero() {
        let shape = Shape::new([2, 1, 1, 2]);
        let (values, scales) = quantize_values(&[0.0, 0.0, 1.0, -0.5], &shape, 0);
        assert_eq!(scales, [0.0, 1.0 / 127.0]);
        assert_eq!(values, [0, 0, 127, -64]);
        assert_eq!(
            dequantize_values(&values, &scales, &shape, 0)[..2],
            [0.0, 0.0]
        );
    }
}
