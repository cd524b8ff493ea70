//! Batch norm in training mode on the CPU for inputs `[batch, channels, spatial...]` stored
//! contiguously: the forward pass in three passes over the activations (the mean and the squared
//! deviations per channel, then the element-wise result per image), the backward in two (sums
//! per channel, then the element-wise result). Burn's generic version builds each
//! statistic from a transposed copy and a chain of element-wise tensors.
//!
//! Forward: `mean_c`, biased `var_c` over (batch, spatial); `y = (x - mean) * gamma / sqrt(var +
//! eps) + beta`. Backward, with `x_hat = (x - mean) / sqrt(var + eps)` and `m` values per channel:
//! `dbeta = sum dy`, `dgamma = sum dy * x_hat`,
//! `dx = gamma / sqrt(var + eps) * (dy - dbeta / m - x_hat * dgamma / m)`.
//!
//! Sums run in f32 lanes within each image's plane and in f64 across planes; the variance is the
//! sum of squared deviations from the mean (a second pass), which loses nothing to cancellation
//! when the mean is large against the spread.

use super::parallel::{for_each_chunk, map};

/// `[batch, channels, spatial]`: the layout of one batch norm input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NormShape {
    pub batch: usize,
    pub channels: usize,
    /// Values per channel and image (the product of the spatial sizes; 1 for `[batch, channels]`).
    pub spatial: usize,
}

impl NormShape {
    fn len(&self) -> usize {
        self.batch * self.channels * self.spatial
    }

    /// Values per channel over the whole batch.
    fn per_channel(&self) -> f64 {
        (self.batch * self.spatial) as f64
    }

    /// The values of channel `c`, image by image.
    fn channel<'a>(&self, values: &'a [f32], c: usize) -> impl Iterator<Item = &'a [f32]> {
        let image = self.channels * self.spatial;
        (0..self.batch).map(move |n| &values[n * image + c * self.spatial..][..self.spatial])
    }
}

/// The output, the batch mean and the biased batch variance (per channel).
pub struct Forward {
    pub output: Vec<f32>,
    pub mean: Vec<f32>,
    pub variance: Vec<f32>,
}

pub fn forward(x: &[f32], gamma: &[f32], beta: &[f32], epsilon: f64, shape: &NormShape) -> Forward {
    check(shape, x, gamma);
    assert_eq!(beta.len(), shape.channels, "beta size");
    let stats = map(shape.channels, |c| {
        let [sum] = channel_sums(shape, x, x, c, |x, _| [x]);
        let mean = sum / shape.per_channel();
        // The corrected two-pass variance: the sum of deviations makes up for `mean`'s rounding.
        let mean_f32 = mean as f32;
        let [deviations, squares] = channel_sums(shape, x, x, c, |x, _| {
            let d = x - mean_f32;
            [d, d * d]
        });
        let variance =
            (squares - deviations * deviations / shape.per_channel()) / shape.per_channel();
        (mean, variance.max(0.0))
    });
    // y = (x - mean) * scale + beta per channel: centred first, so that a large mean costs no
    // precision.
    let affine: Vec<(f32, f32, f32)> = stats
        .iter()
        .zip(gamma.iter().zip(beta))
        .map(|(&(mean, var), (&g, &b))| {
            let scale = f64::from(g) / (var + epsilon).sqrt();
            (mean as f32, scale as f32, b)
        })
        .collect();
    let output = per_image(x, shape, |c, x, y| {
        let (mean, scale, beta) = affine[c];
        y.iter_mut()
            .zip(x)
            .for_each(|(y, &x)| *y = (x - mean) * scale + beta);
    });
    Forward {
        output,
        mean: stats.iter().map(|&(mean, _)| mean as f32).collect(),
        variance: stats.iter().map(|&(_, var)| var as f32).collect(),
    }
}

/// The gradients of the input, gamma and beta.
pub struct Backward {
    pub x: Vec<f32>,
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
}

pub fn backward(
    x: &[f32],
    gamma: &[f32],
    mean: &[f32],
    variance: &[f32],
    epsilon: f64,
    output_grad: &[f32],
    shape: &NormShape,
) -> Backward {
    check(shape, x, gamma);
    assert_eq!(output_grad.len(), shape.len(), "output gradient size");
    let inv_std: Vec<f64> = variance
        .iter()
        .map(|&v| 1.0 / (f64::from(v) + epsilon).sqrt())
        .collect();
    // (sum dy, sum dy * x_hat) per channel.
    let sums = map(shape.channels, |c| {
        let mu = mean[c];
        let [dy_sum, dy_centred_sum] =
            channel_sums(shape, x, output_grad, c, |x, dy| [dy, dy * (x - mu)]);
        (dy_sum, dy_centred_sum * inv_std[c])
    });
    // dx = a * dy + b * (x - mean) + d per channel, from the formula above.
    let coefficients: Vec<(f32, f32, f32)> = (0..shape.channels)
        .map(|c| {
            let s = inv_std[c];
            let (dy_mean, dy_xhat_mean) = (
                sums[c].0 / shape.per_channel(),
                sums[c].1 / shape.per_channel(),
            );
            let a = f64::from(gamma[c]) * s;
            let b = -a * dy_xhat_mean * s;
            (a as f32, b as f32, (-a * dy_mean) as f32)
        })
        .collect();
    let mut dx = vec![0.0f32; shape.len()];
    let image = shape.channels * shape.spatial;
    for_each_chunk(&mut dx, image, 0, |n, _, dx| {
        for (c, dx) in dx.chunks_exact_mut(shape.spatial).enumerate() {
            let (a, b, d) = coefficients[c];
            let mu = mean[c];
            let at = n * image + c * shape.spatial;
            let (xs, dys) = (
                &x[at..][..shape.spatial],
                &output_grad[at..][..shape.spatial],
            );
            for ((dx, &x), &dy) in dx.iter_mut().zip(xs).zip(dys) {
                *dx = a * dy + b * (x - mu) + d;
            }
        }
    });
    Backward {
        x: dx,
        gamma: sums.iter().map(|&(_, g)| g as f32).collect(),
        beta: sums.iter().map(|&(b, _)| b as f32).collect(),
    }
}

fn check(shape: &NormShape, x: &[f32], gamma: &[f32]) {
    assert_eq!(x.len(), shape.len(), "input size");
    assert_eq!(gamma.len(), shape.channels, "gamma size");
}

/// Independent f32 accumulators per sum: the compiler keeps them in vector registers, where a
/// single accumulator makes every addition wait for the one before.
const LANES: usize = 16;

/// For every channel: the sums over the batch of the `K` terms `terms(a_i, b_i)`, `a` and `b`
/// being two tensors of `shape` (the same one twice where a term reads only one). Within an image's
/// plane in f32 lanes, across planes in f64.
fn channel_sums<const K: usize>(
    shape: &NormShape,
    a: &[f32],
    b: &[f32],
    c: usize,
    terms: impl Fn(f32, f32) -> [f32; K],
) -> [f64; K] {
    let mut total = [0.0f64; K];
    for (a, b) in shape.channel(a, c).zip(shape.channel(b, c)) {
        let mut lanes = [[0.0f32; LANES]; K];
        let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
        let tail = a_chunks.remainder().iter().zip(b_chunks.remainder());
        for (a, b) in a_chunks.zip(b_chunks) {
            for l in 0..LANES {
                let t = terms(a[l], b[l]);
                for k in 0..K {
                    lanes[k][l] += t[k];
                }
            }
        }
        for (&a, &b) in tail {
            let t = terms(a, b);
            for k in 0..K {
                total[k] += f64::from(t[k]);
            }
        }
        for k in 0..K {
            total[k] += lanes[k].iter().map(|&v| f64::from(v)).sum::<f64>();
        }
    }
    total
}

/// A new tensor of `x`'s shape, channel `c` of each image written by `f(c, x_values, out)`.
fn per_image(
    x: &[f32],
    shape: &NormShape,
    f: impl Fn(usize, &[f32], &mut [f32]) + Sync + Send,
) -> Vec<f32> {
    let mut out = vec![0.0f32; shape.len()];
    let image = shape.channels * shape.spatial;
    for_each_chunk(&mut out, image, 0, |n, _, out| {
        for (c, out) in out.chunks_exact_mut(shape.spatial).enumerate() {
            f(c, &x[n * image + c * shape.spatial..][..shape.spatial], out);
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Planes longer than `LANES` with a remainder: both paths of `channel_sums`.
    const SHAPE: NormShape = NormShape {
        batch: 4,
        channels: 3,
        spatial: 37,
    };
    /// Activations around 3, and around 1000 with the same spread (where the variance as
    /// `E[x^2] - mean^2` in f32 would cancel to noise).
    const OFFSETS: [f32; 2] = [3.0, 1000.0];
    const EPS: f64 = 1e-5;

    fn values(len: usize, seed: usize, offset: f32) -> Vec<f32> {
        (0..len)
            .map(|i| ((i + seed) * 7919 % 1013) as f32 / 1013.0 - 0.5 + offset)
            .collect()
    }

    /// The batch norm loss `sum(y * r)` in f64, straight from the definition.
    fn loss(x: &[f64], gamma: &[f64], beta: &[f64], r: &[f32]) -> f64 {
        let s = SHAPE;
        let mut total = 0.0;
        for c in 0..s.channels {
            let idx: Vec<usize> = (0..s.batch)
                .flat_map(|n| (0..s.spatial).map(move |k| (n * s.channels + c) * s.spatial + k))
                .collect();
            let mean = idx.iter().map(|&i| x[i]).sum::<f64>() / idx.len() as f64;
            let var = idx.iter().map(|&i| (x[i] - mean).powi(2)).sum::<f64>() / idx.len() as f64;
            for &i in &idx {
                let y = (x[i] - mean) / (var + EPS).sqrt() * gamma[c] + beta[c];
                total += y * f64::from(r[i]);
            }
        }
        total
    }

    #[test]
    fn forward_matches_the_definition() {
        OFFSETS
            .into_iter()
            .for_each(forward_matches_the_definition_around);
    }

    fn forward_matches_the_definition_around(offset: f32) {
        let x = values(SHAPE.len(), 1, offset);
        let (gamma, beta) = (values(3, 2, 1.0), values(3, 3, 0.0));
        let ours = forward(&x, &gamma, &beta, EPS, &SHAPE);
        for c in 0..SHAPE.channels {
            let channel: Vec<f64> = SHAPE
                .channel(&x, c)
                .flatten()
                .map(|&v| f64::from(v))
                .collect();
            let mean = channel.iter().sum::<f64>() / channel.len() as f64;
            let var =
                channel.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / channel.len() as f64;
            assert!((f64::from(ours.mean[c]) - mean).abs() < 1e-6 * mean.abs());
            assert!((f64::from(ours.variance[c]) - var).abs() < 1e-6, "{offset}");
            for (y, v) in SHAPE.channel(&ours.output, c).flatten().zip(&channel) {
                let expected =
                    (v - mean) / (var + EPS).sqrt() * f64::from(gamma[c]) + f64::from(beta[c]);
                assert!((f64::from(*y) - expected).abs() < 1e-4, "{y} vs {expected}");
            }
        }
    }

    /// The gradients against central finite differences of the f64 loss.
    #[test]
    fn backward_matches_finite_differences() {
        OFFSETS
            .into_iter()
            .for_each(backward_matches_finite_differences_around);
    }

    fn backward_matches_finite_differences_around(offset: f32) {
        let x = values(SHAPE.len(), 1, offset);
        let (gamma, beta) = (values(3, 2, 1.0), values(3, 3, 0.0));
        let r = values(SHAPE.len(), 4, 0.0);
        let stats = forward(&x, &gamma, &beta, EPS, &SHAPE);
        let ours = backward(&x, &gamma, &stats.mean, &stats.variance, EPS, &r, &SHAPE);
        let wide = |v: &[f32]| v.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>();
        let (x64, g64, b64) = (wide(&x), wide(&gamma), wide(&beta));
        let numeric = |which: usize, i: usize| {
            let h = 1e-6;
            let mut args = [x64.clone(), g64.clone(), b64.clone()];
            args[which][i] += h;
            let up = loss(&args[0], &args[1], &args[2], &r);
            args[which][i] -= 2.0 * h;
            let down = loss(&args[0], &args[1], &args[2], &r);
            (up - down) / (2.0 * h)
        };
        for (which, grads) in [&ours.x, &ours.gamma, &ours.beta].into_iter().enumerate() {
            for (i, &g) in grads.iter().enumerate() {
                let expected = numeric(which, i);
                assert!(
                    (f64::from(g) - expected).abs() < 1e-3,
                    "offset {offset}, argument {which}, element {i}: {g} vs {expected}"
                );
            }
        }
    }
}
