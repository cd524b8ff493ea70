//! Plain `f64` reference of the saliency and masking math (DESIGN.md steps 2 and 3), one image at a
//! time, row-major slices, no Burn. The tensor code in `saliency` and `masking` and the WGSL kernels
//! are tested against it; `masking::mask_image` uses its threshold directly.
//!
//! Layouts: activations and gradients are `[channels, height, width]`, maps `[height, width]`.

/// Added to denominators exactly where pytorch-grad-cam adds it, so constant maps give zeros, not NaN.
pub const EPS: f64 = 1e-7;

/// XGradCAM channel weights: `w_k = sum_ij(G_kij * A_kij) / (sum_ij A_kij + 1e-7)`.
pub fn xgradcam_weights(activations: &[f64], gradients: &[f64], channels: usize) -> Vec<f64> {
    assert_eq!(
        activations.len(),
        gradients.len(),
        "activations and gradients differ in size"
    );
    let plane = plane_len(activations.len(), channels);
    (0..channels)
        .map(|k| {
            let a = &activations[k * plane..(k + 1) * plane];
            let g = &gradients[k * plane..(k + 1) * plane];
            let weighted: f64 = a.iter().zip(g).map(|(a, g)| a * g).sum();
            weighted / (a.iter().sum::<f64>() + EPS)
        })
        .collect()
}

/// Grad-CAM channel weights: the spatial mean of the gradient, `w_k = mean_ij G_kij`.
pub fn gradcam_weights(gradients: &[f64], channels: usize) -> Vec<f64> {
    let plane = plane_len(gradients.len(), channels);
    gradients
        .chunks(plane)
        .map(|g| g.iter().sum::<f64>() / plane as f64)
        .collect()
}

/// The class-activation map before any scaling: `ReLU(sum_k w_k A_k)`, `[height, width]`.
pub fn weighted_map(activations: &[f64], weights: &[f64]) -> Vec<f64> {
    let plane = plane_len(activations.len(), weights.len());
    let mut map = vec![0.0; plane];
    for (a, w) in activations.chunks(plane).zip(weights) {
        for (m, a) in map.iter_mut().zip(a) {
            *m += w * a;
        }
    }
    map.iter().map(|m| m.max(0.0)).collect()
}

/// pytorch-grad-cam's `scale_cam_image` without resize: `(x - min) / (1e-7 + max - min)`.
pub fn min_max_normalise(map: &[f64]) -> Vec<f64> {
    let min = map.iter().copied().fold(f64::INFINITY, f64::min);
    let max = map.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    map.iter().map(|x| (x - min) / (EPS + max - min)).collect()
}

/// `cv2.resize(map, (out_width, out_height))` with its default `INTER_LINEAR`: sample at
/// `(dst + 0.5) * src / dst - 0.5` (half-pixel centres), clamp to the border (edge replicate).
pub fn resize_bilinear(
    map: &[f64],
    height: usize,
    width: usize,
    out_height: usize,
    out_width: usize,
) -> Vec<f64> {
    assert_eq!(map.len(), height * width, "map is not height x width");
    let mut out = Vec::with_capacity(out_height * out_width);
    for dy in 0..out_height {
        let (y0, y1, fy) = cv2_source(dy, height, out_height);
        for dx in 0..out_width {
            let (x0, x1, fx) = cv2_source(dx, width, out_width);
            let top = map[y0 * width + x0] * (1.0 - fx) + map[y0 * width + x1] * fx;
            let bottom = map[y1 * width + x0] * (1.0 - fx) + map[y1 * width + x1] * fx;
            out.push(top * (1.0 - fy) + bottom * fy);
        }
    }
    out
}

/// OpenCV's source position for destination index `dst`, as in its `resize` (INTER_LINEAR):
/// the two neighbouring source indices and the weight of the second.
fn cv2_source(dst: usize, src_len: usize, dst_len: usize) -> (usize, usize, f64) {
    let f = (dst as f64 + 0.5) * (src_len as f64 / dst_len as f64) - 0.5;
    let s = f.floor();
    if s < 0.0 {
        (0, 0, 0.0)
    } else if s as usize >= src_len - 1 {
        (src_len - 1, src_len - 1, 0.0)
    } else {
        (s as usize, s as usize + 1, f - s)
    }
}

/// Step 2's tail for one image: map from activations and channel weights, ReLU, min-max, resize
/// to the input size, min-max again. Returns `[out_height, out_width]` in `[0, 1]`.
pub fn saliency_map(
    activations: &[f64],
    weights: &[f64],
    height: usize,
    width: usize,
    out_height: usize,
    out_width: usize,
) -> Vec<f64> {
    let map = min_max_normalise(&weighted_map(activations, weights));
    min_max_normalise(&resize_bilinear(&map, height, width, out_height, out_width))
}

/// Masking threshold (step 3): `mean + 2 * std` of the values `> 0`, with the population standard
/// deviation (ddof = 0, numpy's `nanstd` default, as in the authors' `masking.py`).
/// With no positive value the authors' threshold is NaN and masks nothing; 0 is returned instead,
/// which masks nothing either, since no value exceeds it.
pub fn mask_threshold(map: &[f64]) -> f64 {
    let positive = || map.iter().copied().filter(|&v| v > 0.0);
    let count = positive().count();
    if count == 0 {
        return 0.0;
    }
    let mean = positive().sum::<f64>() / count as f64;
    let variance = positive().map(|v| (v - mean).powi(2)).sum::<f64>() / count as f64;
    mean + 2.0 * variance.sqrt()
}

fn plane_len(len: usize, channels: usize) -> usize {
    assert!(
        channels > 0 && len.is_multiple_of(channels),
        "{len} values are not {channels} channels"
    );
    len / channels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_matches_opencv_on_known_values() {
        // cv2.resize(np.float32([[0, 1]]), (4, 1)) == [[0, 0.25, 0.75, 1]]
        assert_eq!(
            resize_bilinear(&[0.0, 1.0], 1, 2, 1, 4),
            vec![0.0, 0.25, 0.75, 1.0]
        );
        // Downscaling by 2 averages pairs (OpenCV switches to INTER_AREA there: same numbers).
        assert_eq!(
            resize_bilinear(&[0.0, 2.0, 4.0, 8.0], 1, 4, 1, 2),
            vec![1.0, 6.0]
        );
        // Same size is the identity.
        let map = [0.1, 0.7, 0.3, 0.9, 0.2, 0.4];
        assert_eq!(resize_bilinear(&map, 2, 3, 2, 3), map.to_vec());
    }

    #[test]
    fn resize_matches_opencv_output() {
        // Printed by cv2.resize (opencv-python-headless, float64 input, default INTER_LINEAR).
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(a, b)| (a - b).abs() < 1e-12);
        let up = [0.0, 0.5, 1.0, 0.25, 1.0, 0.0];
        let cv2_up = [
            0.0,
            0.2,
            0.5,
            0.8,
            1.0,
            0.0,
            0.2,
            0.5,
            0.8,
            1.0,
            0.05357142857142856,
            0.275,
            0.6071428571428571,
            0.7142857142857143,
            0.7857142857142858,
            0.125,
            0.375,
            0.75,
            0.6,
            0.5,
            0.1964285714285714,
            0.475,
            0.8928571428571428,
            0.4857142857142859,
            0.2142857142857144,
            0.25,
            0.55,
            1.0,
            0.4,
            0.0,
            0.25,
            0.55,
            1.0,
            0.4,
            0.0,
        ];
        assert!(close(&resize_bilinear(&up, 2, 3, 7, 5), &cv2_up));
        // np.arange(20).reshape(5, 4) ** 1.5 / 80 resized to 3 x 3 (a non-integer downscale).
        let down: Vec<f64> = (0..20).map(|i| f64::from(i).powf(1.5) / 80.0).collect();
        let cv2_down = [
            0.03693079158854094,
            0.069862776236855,
            0.11452542556980448,
            0.29195226039551586,
            0.3663923537605237,
            0.4459107084817308,
            0.7186832324724289,
            0.817033387506587,
            0.9192936238815375,
        ];
        assert!(close(&resize_bilinear(&down, 5, 4, 3, 3), &cv2_down));
    }

    #[test]
    fn normalise_constant_map_gives_zeros() {
        assert_eq!(min_max_normalise(&[3.0; 4]), vec![0.0; 4]);
    }

    #[test]
    fn threshold_uses_population_std_of_positive_values() {
        // positives 1 and 3: mean 2, population std 1.
        assert_eq!(mask_threshold(&[0.0, 1.0, -5.0, 3.0]), 4.0);
        assert_eq!(mask_threshold(&[0.0, -1.0]), 0.0);
    }

    #[test]
    fn xgradcam_with_constant_gradient_is_that_gradient() {
        let a = [1.0, 3.0, 0.0, 0.0];
        let w = xgradcam_weights(&a, &[0.5; 4], 2);
        assert!((w[0] - 0.5).abs() < 1e-6 && w[1] == 0.0);
        assert_eq!(gradcam_weights(&[1.0, 3.0, 2.0, 2.0], 2), vec![2.0, 2.0]);
        assert_eq!(weighted_map(&a, &[1.0, 1.0]), vec![1.0, 3.0]);
    }
}
