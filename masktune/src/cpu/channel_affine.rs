//! A batch norm at inference time is a per-channel affine map (`y = x * scale + shift`, with
//! `scale = gamma / sqrt(running_var + eps)` and `shift = beta - running_mean * scale`). Applied
//! to a layer's output in place, together with the ReLU that follows it, it costs one pass
//! over the activations instead of Burn's chain of element-wise tensors (five passes and as
//! many allocations per layer, plus five more ops on the statistics).

use super::parallel::for_each_chunk;

/// The scale and shift per channel of a batch norm with these `[gamma, beta, mean, variance]`.
pub fn from_batch_norm(statistics: [&[f32]; 4], epsilon: f64) -> (Vec<f32>, Vec<f32>) {
    let [gamma, beta, mean, variance] = statistics;
    let channels = gamma.len();
    assert!(
        [beta, mean, variance].iter().all(|s| s.len() == channels),
        "batch norm statistics of different sizes"
    );
    let scale: Vec<f32> = gamma
        .iter()
        .zip(variance)
        .map(|(&g, &v)| g / (v + epsilon as f32).sqrt())
        .collect();
    let shift = beta
        .iter()
        .zip(mean)
        .zip(&scale)
        .map(|((&b, &m), &s)| b - m * s)
        .collect();
    (scale, shift)
}

/// `values` (`[batch, channels, plane]`, contiguous) becomes `values * scale[c] + shift[c]`,
/// clamped at zero when `relu`.
pub fn apply(values: &mut [f32], scale: &[f32], shift: &[f32], plane: usize, relu: bool) {
    let channels = scale.len();
    assert_eq!(shift.len(), channels, "shift size");
    assert_eq!(values.len() % (channels * plane).max(1), 0, "values size");
    for_each_chunk(values, channels * plane, 0, |_, _, image| {
        for ((values, &scale), &shift) in image.chunks_exact_mut(plane).zip(scale).zip(shift) {
            if relu {
                // `max` would turn a NaN into 0; ReLU keeps it, as PyTorch's does.
                values.iter_mut().for_each(|v| {
                    let y = *v * scale + shift;
                    *v = if y < 0.0 { 0.0 } else { y };
                });
            } else {
                values.iter_mut().for_each(|v| *v = *v * scale + shift);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_and_shift_of_a_batch_norm() {
        let (scale, shift) =
            from_batch_norm([&[2.0, 0.5], &[1.0, -1.0], &[3.0, 0.0], &[3.75, 0.0]], 0.25);
        assert_eq!(scale, [1.0, 1.0]);
        assert_eq!(shift, [-2.0, -1.0]);
    }

    #[test]
    fn scales_and_shifts_each_channel_of_each_image() {
        // Two images, two channels, planes of two values.
        let mut values = [1.0, -2.0, 3.0, 4.0, 5.0, 6.0, -7.0, f32::NAN];
        apply(&mut values, &[2.0, -1.0], &[1.0, 0.5], 2, false);
        assert_eq!(&values[..7], &[3.0, -3.0, -2.5, -3.5, 11.0, 13.0, 7.5]);
        assert!(values[7].is_nan());

        let mut values = [1.0, -2.0, 3.0, 4.0, 5.0, 6.0, -7.0, f32::NAN];
        apply(&mut values, &[2.0, -1.0], &[1.0, 0.5], 2, true);
        assert_eq!(&values[..7], &[3.0, 0.0, 0.0, 0.0, 11.0, 13.0, 7.5]);
        assert!(values[7].is_nan(), "ReLU keeps NaN");
    }
}
