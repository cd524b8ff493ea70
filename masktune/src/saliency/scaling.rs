//! Per-image min-max normalisation and bilinear resize of maps `[batch, h, w]`, as
//! pytorch-grad-cam's `scale_cam_image` does with `cv2.resize` (INTER_LINEAR).

use burn::prelude::*;

/// Keeps a constant map at 0 instead of 0/0 (pytorch-grad-cam's value).
const EPS: f32 = 1e-7;

/// `(x - min) / (1e-7 + max - min)` per map.
pub fn min_max_normalise(maps: Tensor<3>) -> Tensor<3> {
    let [batch, height, width] = maps.dims();
    let flat = maps.reshape([batch, height * width]);
    let min = flat.clone().min_dim(1);
    let range = flat.clone().max_dim(1) - min.clone();
    ((flat - min) / range.add_scalar(EPS)).reshape([batch, height, width])
}

/// Resize maps to `[batch, out_height, out_width]` like OpenCV's INTER_LINEAR (half-pixel
/// centres, edge replicate), written as two matrix products with explicit interpolation weights
/// so the result does not depend on a backend's interpolate mode.
pub fn resize_bilinear(maps: Tensor<3>, out_height: usize, out_width: usize) -> Tensor<3> {
    let [batch, height, width] = maps.dims();
    let device = maps.device();
    let rows = interpolation_matrix(out_height, height, &device)
        .unsqueeze::<3>()
        .expand([batch, out_height, height]);
    let columns = interpolation_matrix(out_width, width, &device)
        .transpose()
        .unsqueeze::<3>()
        .expand([batch, width, out_width]);
    rows.matmul(maps).matmul(columns)
}

/// `[dst_len, src_len]` weights: destination `d` samples source `(d + 0.5) * src/dst - 0.5`,
/// clamped to `[0, src_len - 1]`, splitting between the two neighbouring source cells.
fn interpolation_matrix(dst_len: usize, src_len: usize, device: &Device) -> Tensor<2> {
    let scale = src_len as f64 / dst_len as f64;
    let mut weights = vec![0.0f32; dst_len * src_len];
    for d in 0..dst_len {
        let position = ((d as f64 + 0.5) * scale - 0.5).clamp(0.0, (src_len - 1) as f64);
        let left = position.floor() as usize;
        let right = (left + 1).min(src_len - 1);
        let fraction = position - left as f64;
        weights[d * src_len + left] += (1.0 - fraction) as f32;
        weights[d * src_len + right] += fraction as f32;
    }
    Tensor::from_data(TensorData::new(weights, [dst_len, src_len]), device)
}
