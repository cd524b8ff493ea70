//! A bias-free, ungrouped 2D convolution on the CPU and its two gradients as matrix products
//! with the images' im2col matrices `col_n` (`taps x plane`, see [`super::im2col`]):
//!
//! - output:          `y_n = W col_n`                       (`channels_out x plane`)
//! - input gradient:  `dx_n = col2im(W^T dy_n)`, or for stride 1 a forward convolution of
//!   `dy` with the flipped kernel ([`transposed_convolution`]), or on long rows `W_tap^T dy_n`
//!   per kernel tap ([`input_gradient_by_taps`])
//! - weight gradient: `dW = sum_n dy_n col_n^T`            (`channels_out x taps`)
//!
//! Small planes put several images side by side in one product ([`images_per_product`]);
//! convolutions with long rows take no im2col matrix at all: one product per kernel tap reads
//! the zero-padded image (for strides above 1, split into its phases) in place
//! ([`PaddedGrid`]). Images run in parallel on rayon's threads (feature `rayon`), each worker
//! with its own `col`, which stays in cache. Burn's Flex backend builds its im2col in NHWC
//! tiles one element at a time and takes the weight gradient as a convolution with the output
//! gradient as kernel; in the training step these took most of the time (docs/BENCHMARKS.md).

use core::ops::Range;

use super::im2col::{ConvGeometry, Im2col};
use super::matmul::{Matrix, matmul, matmul_strided};
use super::padded_grid::PaddedGrid;
use super::parallel::{for_each_chunk, sum_over_ranges};

/// `[batch, channels_out, out_h, out_w]` from `x` (`[batch, channels_in, h, w]`) and `weight`
/// (`[channels_out, channels_in, kernel_h, kernel_w]`), all contiguous row-major.
pub fn forward(x: &[f32], weight: &[f32], geometry: &ConvGeometry) -> Vec<f32> {
    let g = geometry;
    g.check_sizes(Some(x), Some(weight), None);
    if let Some(layout) = PaddedGrid::new(g) {
        return forward_by_taps(x, weight, g, &layout);
    }
    let (taps, plane, co) = (g.taps(), g.output_plane(), g.channels_out);
    // No more images per product than the batch has: the scratch is zeroed on every call.
    let group = images_per_product(plane).min(g.batch.max(1));
    let im2col = Im2col::new(g);
    let mut output = vec![0.0f32; g.batch * g.output_image()];
    for_each_chunk(
        &mut output,
        group * g.output_image(),
        (taps + co) * group * plane,
        |i, scratch, out| {
            let images = i * group..i * group + out.len() / g.output_image();
            let columns = images.len() * plane;
            let (col, y) = scratch.split_at_mut(taps * columns);
            im2col_side_by_side(&im2col, x, g, images.clone(), col);
            let w = Matrix::row_major(weight, co, taps);
            let col = Matrix::row_major(&col[..taps * columns], taps, columns);
            if images.len() == 1 {
                matmul(out, w, col, false);
            } else {
                let y = &mut y[..co * columns];
                matmul(y, w, col, false);
                side_by_side(co, plane, images.len(), |image, matrix| {
                    out[image].copy_from_slice(&y[matrix]);
                });
            }
        },
    );
    output
}

/// Images whose im2col matrices go side by side into one matrix product: enough for ~256
/// columns. One image of a small plane (VGG's 4x4: 16 columns) makes a product too narrow to
/// reuse the weights it reads, and a weight gradient whose every product reads and writes the
/// whole gradient.
fn images_per_product(plane: usize) -> usize {
    (256 / plane.max(1)).max(1)
}

/// Writes the im2col matrices of `images` (indices into the batch `x`) side by side into
/// `col`: `taps x (images.len() * plane)`, image `k`'s columns from `k * plane` on.
fn im2col_side_by_side(
    im2col: &Im2col,
    x: &[f32],
    g: &ConvGeometry,
    images: Range<usize>,
    col: &mut [f32],
) {
    let (plane, row_stride) = (g.output_plane(), images.len() * g.output_plane());
    for (k, n) in images.enumerate() {
        let image = &x[n * g.input_image()..][..g.input_image()];
        im2col.write(image, &mut col[k * plane..], row_stride);
    }
}

/// Calls `copy(image, matrix)` for every channel of `count` images: the index range of that
/// channel's `plane` values in the images' `[channels][plane]` blocks (one after the other), and
/// in one `channels x (count * plane)` matrix with the images side by side.
fn side_by_side(
    channels: usize,
    plane: usize,
    count: usize,
    mut copy: impl FnMut(Range<usize>, Range<usize>),
) {
    for k in 0..count {
        for c in 0..channels {
            let image = (k * channels + c) * plane;
            let matrix = (c * count + k) * plane;
            copy(image..image + plane, matrix..matrix + plane);
        }
    }
}

/// The forward pass as one matrix product per kernel tap, each reading the zero-padded image's
/// phases in place ([`PaddedGrid`]): the only copy is the padding, once per image. The
/// products fill a grid wider than the output, whose rows are then copied out without the
/// columns that are not outputs.
fn forward_by_taps(x: &[f32], weight: &[f32], g: &ConvGeometry, layout: &PaddedGrid) -> Vec<f32> {
    let co = g.channels_out;
    let padded_len = layout.padded_len();
    let mut output = vec![0.0f32; g.batch * g.output_image()];
    for_each_chunk(
        &mut output,
        g.output_image(),
        padded_len + co * layout.grid,
        |n, scratch, out| {
            let (padded, on_grid) = scratch.split_at_mut(padded_len);
            layout.pad(x, n, padded);
            for tap in 0..g.kernel_taps() {
                matmul(
                    on_grid,
                    tap_weights(weight, g, tap),
                    layout.tap(padded, tap),
                    tap > 0,
                );
            }
            layout.off_grid(on_grid, out);
        },
    );
    output
}

/// `dL/dx` (`[batch, channels_in, h, w]`) from `weight` and `dL/dy`.
pub fn input_gradient(weight: &[f32], output_grad: &[f32], geometry: &ConvGeometry) -> Vec<f32> {
    let g = geometry;
    g.check_sizes(None, Some(weight), Some(output_grad));
    if let Some((flipped, transposed)) = transposed_convolution(weight, g) {
        return forward(output_grad, &flipped, &transposed);
    }
    if let Some(layout) = PaddedGrid::new(g) {
        return input_gradient_by_taps(weight, output_grad, g, &layout);
    }
    let (taps, plane) = (g.taps(), g.output_plane());
    let im2col = Im2col::new(g);
    let mut input_grad = vec![0.0f32; g.batch * g.input_image()];
    for_each_chunk(
        &mut input_grad,
        g.input_image(),
        taps * plane,
        |n, col, image| {
            let w_t = Matrix::row_major(weight, g.channels_out, taps).transposed();
            let dy = Matrix::row_major(
                &output_grad[n * g.output_image()..][..g.output_image()],
                g.channels_out,
                plane,
            );
            matmul(col, w_t, dy, false);
            im2col.add_back(col, image);
        },
    );
    input_grad
}

/// The input gradient on the grid of [`forward_by_taps`], where [`transposed_convolution`]
/// does not apply (strides above 1, padding beyond the reach): every tap adds `W_tap^T dy` to
/// its view of the padded input's gradient, with `dy` spread onto the grid (zero in the columns
/// that are not outputs, so that those add nothing), and the input's pixels take theirs from
/// their places.
fn input_gradient_by_taps(
    weight: &[f32],
    output_grad: &[f32],
    g: &ConvGeometry,
    layout: &PaddedGrid,
) -> Vec<f32> {
    let co = g.channels_out;
    let padded_len = layout.padded_len();
    let mut input_grad = vec![0.0f32; g.batch * g.input_image()];
    for_each_chunk(
        &mut input_grad,
        g.input_image(),
        padded_len + co * layout.grid,
        |n, scratch, image| {
            let (padded_grad, dy_on_grid) = scratch.split_at_mut(padded_len);
            layout.onto_grid(
                &output_grad[n * g.output_image()..][..g.output_image()],
                dy_on_grid,
            );
            let dy = Matrix::row_major(dy_on_grid, co, layout.grid);
            padded_grad.fill(0.0);
            for tap in 0..g.kernel_taps() {
                let w_t = tap_weights(weight, g, tap).transposed();
                let view = &mut padded_grad[layout.tap_offset(tap)..];
                matmul_strided(view, layout.plane(), w_t, dy, true);
            }
            layout.unpad(padded_grad, image);
        },
    );
    input_grad
}

/// For a stride-1 convolution, `dL/dx` is itself a convolution, of `dL/dy` with the kernel
/// flipped in space and its channel axes swapped, padded by `dilation * (kernel - 1) - padding`:
/// `dx[ci, i] = sum over co, k of dy[co, i + padding - k * dilation] w[co, ci, k]`. As a forward
/// convolution its matrix products have the kernel taps times the output channels as inner
/// dimension, where `W^T dy` has only the output channels (16 in the first ResNet stage) and
/// writes and re-reads a full im2col matrix per image. Returns that kernel and geometry, or
/// `None` (strided convolutions, or padding wider than the kernel's reach).
fn transposed_convolution(weight: &[f32], g: &ConvGeometry) -> Option<(Vec<f32>, ConvGeometry)> {
    let [kernel_h, kernel_w] = g.kernel;
    let reach = g.reach();
    if g.stride != [1, 1] || (0..2).any(|d| g.padding[d] > reach[d]) {
        return None;
    }
    let mut flipped = vec![0.0f32; weight.len()];
    for co in 0..g.channels_out {
        for ci in 0..g.channels_in {
            for ki in 0..kernel_h {
                for kj in 0..kernel_w {
                    let from = ((co * g.channels_in + ci) * kernel_h + ki) * kernel_w + kj;
                    let (fi, fj) = (kernel_h - 1 - ki, kernel_w - 1 - kj);
                    flipped[((ci * g.channels_out + co) * kernel_h + fi) * kernel_w + fj] =
                        weight[from];
                }
            }
        }
    }
    let transposed = ConvGeometry {
        channels_in: g.channels_out,
        channels_out: g.channels_in,
        input: g.output,
        output: g.input,
        padding: [0, 1].map(|d| reach[d] - g.padding[d]),
        ..*g
    };
    Some((flipped, transposed))
}

/// `dL/dW` (`[channels_out, channels_in, kernel_h, kernel_w]`) from `x` and `dL/dy`.
pub fn weight_gradient(x: &[f32], output_grad: &[f32], geometry: &ConvGeometry) -> Vec<f32> {
    let g = geometry;
    g.check_sizes(Some(x), None, Some(output_grad));
    if let Some(layout) = PaddedGrid::new(g) {
        return weight_gradient_by_taps(x, output_grad, g, &layout);
    }
    let (taps, plane, co) = (g.taps(), g.output_plane(), g.channels_out);
    let group = images_per_product(plane);
    let im2col = Im2col::new(g);
    sum_over_ranges(g.batch, co * taps, |images| {
        let mut gradient = vec![0.0f32; co * taps];
        let mut col = vec![0.0f32; taps * group * plane];
        let mut dy_together = vec![0.0f32; co * group * plane];
        for (i, start) in images.clone().step_by(group).enumerate() {
            let together = start..(start + group).min(images.end);
            let columns = together.len() * plane;
            im2col_side_by_side(&im2col, x, g, together.clone(), &mut col);
            let output_grad = &output_grad[start * g.output_image()..];
            side_by_side(co, plane, together.len(), |image, matrix| {
                dy_together[matrix].copy_from_slice(&output_grad[image]);
            });
            let dy = Matrix::row_major(&dy_together[..co * columns], co, columns);
            let col_t = Matrix::row_major(&col[..taps * columns], taps, columns).transposed();
            matmul(&mut gradient, dy, col_t, i > 0);
        }
        gradient
    })
}

/// The weight gradient on the grid of [`forward_by_taps`]: tap `(ki, kj)`'s weights get
/// `dy tap^T`, with `dy` spread onto the grid (zero in the columns that are not outputs, so
/// that those add nothing).
fn weight_gradient_by_taps(
    x: &[f32],
    output_grad: &[f32],
    g: &ConvGeometry,
    layout: &PaddedGrid,
) -> Vec<f32> {
    let (co, ci) = (g.channels_out, g.channels_in);
    let len = co * g.taps();
    let by_tap = sum_over_ranges(g.batch, len, |images| {
        let mut gradient = vec![0.0f32; len];
        let mut padded = vec![0.0f32; layout.padded_len()];
        let mut dy_on_grid = vec![0.0f32; co * layout.grid];
        for (i, n) in images.enumerate() {
            layout.pad(x, n, &mut padded);
            layout.onto_grid(
                &output_grad[n * g.output_image()..][..g.output_image()],
                &mut dy_on_grid,
            );
            let dy = Matrix::row_major(&dy_on_grid, co, layout.grid);
            for (tap, gradient) in gradient.chunks_exact_mut(co * ci).enumerate() {
                matmul(gradient, dy, layout.tap(&padded, tap).transposed(), i > 0);
            }
        }
        gradient
    });
    let mut gradient = vec![0.0f32; by_tap.len()];
    for (standard, taps_first) in taps_first(g) {
        gradient[standard] = by_tap[taps_first];
    }
    gradient
}

/// Tap `(ki, kj)`'s weights as a `channels_out x channels_in` matrix, read in place from the
/// standard layout `[channels_out][channels_in][kernel_h][kernel_w]` (gemm packs it anyway, so
/// the strides cost nothing; re-laying the weights out took a fifth of a forward pass).
fn tap_weights<'a>(weight: &'a [f32], g: &ConvGeometry, tap: usize) -> Matrix<'a> {
    let taps = g.kernel_taps();
    Matrix::with_strides(
        &weight[tap..],
        g.channels_out,
        g.channels_in,
        g.channels_in * taps,
        taps,
    )
}

/// For every weight, its index in the standard layout `[channels_out][channels_in][kernel_h]
/// [kernel_w]` and in the layout with the taps outermost, `[kernel_h][kernel_w][channels_out]
/// [channels_in]`: tap `(ki, kj)`'s weights as one `channels_out x channels_in` matrix.
fn taps_first(g: &ConvGeometry) -> impl Iterator<Item = (usize, usize)> {
    let (co, ci, taps) = (g.channels_out, g.channels_in, g.kernel_taps());
    (0..co * ci).flat_map(move |oc| (0..taps).map(move |tap| (oc * taps + tap, tap * co * ci + oc)))
}

impl ConvGeometry {
    /// Panics unless the given input, weight and output gradient have this geometry's sizes.
    fn check_sizes(&self, x: Option<&[f32]>, weight: Option<&[f32]>, output_grad: Option<&[f32]>) {
        let expected = [
            ("input", x, self.batch * self.input_image()),
            ("weight", weight, self.channels_out * self.taps()),
            (
                "output gradient",
                output_grad,
                self.batch * self.output_image(),
            ),
        ];
        for (what, values, len) in expected {
            if let Some(values) = values {
                assert_eq!(values.len(), len, "{what} size");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Input index read by output `(oh, ow)` through tap `(ki, kj)`, if inside the image.
    fn source(
        g: &ConvGeometry,
        oh: usize,
        ow: usize,
        ki: usize,
        kj: usize,
    ) -> Option<(usize, usize)> {
        let ih = (oh * g.stride[0] + ki * g.dilation[0]) as isize - g.padding[0] as isize;
        let iw = (ow * g.stride[1] + kj * g.dilation[1]) as isize - g.padding[1] as isize;
        let inside =
            (0..g.input[0] as isize).contains(&ih) && (0..g.input[1] as isize).contains(&iw);
        inside.then_some((ih as usize, iw as usize))
    }

    /// The three results by their definitions, in f64, one multiply-add at a time.
    fn reference(x: &[f32], w: &[f32], dy: &[f32], g: &ConvGeometry) -> [Vec<f64>; 3] {
        let [h, wd] = g.input;
        let [oh_n, ow_n] = g.output;
        let [kh, kw] = g.kernel;
        let mut y = vec![0.0f64; g.batch * g.output_image()];
        let mut dx = vec![0.0f64; x.len()];
        let mut dw = vec![0.0f64; w.len()];
        for n in 0..g.batch {
            for co in 0..g.channels_out {
                for oh in 0..oh_n {
                    for ow in 0..ow_n {
                        let yi = ((n * g.channels_out + co) * oh_n + oh) * ow_n + ow;
                        for ci in 0..g.channels_in {
                            for ki in 0..kh {
                                for kj in 0..kw {
                                    let Some((ih, iw)) = source(g, oh, ow, ki, kj) else {
                                        continue;
                                    };
                                    let xi = ((n * g.channels_in + ci) * h + ih) * wd + iw;
                                    let wi = ((co * g.channels_in + ci) * kh + ki) * kw + kj;
                                    y[yi] += f64::from(x[xi]) * f64::from(w[wi]);
                                    dx[xi] += f64::from(w[wi]) * f64::from(dy[yi]);
                                    dw[wi] += f64::from(x[xi]) * f64::from(dy[yi]);
                                }
                            }
                        }
                    }
                }
            }
        }
        [y, dx, dw]
    }

    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i + seed) * 7919 % 1013) as f32 / 1013.0 - 0.5)
            .collect()
    }

    fn check(g: ConvGeometry) {
        let x = values(g.batch * g.input_image(), 1);
        let w = values(g.channels_out * g.taps(), 2);
        let dy = values(g.batch * g.output_image(), 3);
        let ours = [
            forward(&x, &w, &g),
            input_gradient(&w, &dy, &g),
            weight_gradient(&x, &dy, &g),
        ];
        let expected = reference(&x, &w, &dy, &g);
        for (what, (ours, expected)) in ["output", "input gradient", "weight gradient"]
            .iter()
            .zip(ours.iter().zip(&expected))
        {
            assert_eq!(ours.len(), expected.len(), "{what}");
            for (i, (a, b)) in ours.iter().zip(expected).enumerate() {
                let close = (f64::from(*a) - b).abs() <= 1e-4 * (1.0 + b.abs());
                assert!(close, "{g:?}: {what} element {i}: {a} vs {b}");
            }
        }
    }

    fn geometry(
        input: [usize; 2],
        kernel: usize,
        stride: usize,
        padding: usize,
        dilation: usize,
    ) -> ConvGeometry {
        let out = |side: usize| (side + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;
        ConvGeometry {
            batch: 5,
            channels_in: 3,
            channels_out: 4,
            input,
            kernel: [kernel, kernel],
            output: [out(input[0]), out(input[1])],
            stride: [stride, stride],
            padding: [padding, padding],
            dilation: [dilation, dilation],
        }
    }

    /// Output rows too short for `PaddedGrid`: the im2col matrices.
    #[test]
    fn matches_the_definitions_for_the_models_convolutions() {
        let cases = [
            geometry([9, 7], 3, 1, 1, 1), // "same" 3x3 (VGG, ResNet)
            geometry([9, 7], 3, 1, 0, 1), // unpadded 3x3 (the MNIST network)
            geometry([9, 6], 3, 2, 1, 1), // strided 3x3 (ResNet downsampling)
        ];
        for g in cases {
            assert!(PaddedGrid::new(&g).is_none(), "{g:?}");
            check(g);
        }
    }

    /// Convolutions with output rows of at least 4 per column of reach (divided by the stride) go
    /// through `forward_by_taps` and `weight_gradient_by_taps`, and their input gradients, at
    /// stride 1 as a forward convolution, otherwise through `input_gradient_by_taps`.
    #[test]
    fn matches_the_definitions_on_long_rows() {
        let cases = [
            geometry([5, 8], 3, 1, 1, 1),
            geometry([5, 18], 3, 1, 1, 1),
            geometry([5, 20], 3, 1, 0, 1),
            geometry([6, 40], 3, 1, 2, 2),
            geometry([6, 37], 5, 1, 2, 1),
            geometry([4, 6], 1, 1, 1, 1),
            // Strided: the padded input split into phases.
            geometry([9, 10], 3, 2, 1, 1), // ResNet downsampling
            geometry([9, 11], 3, 2, 0, 1),
            geometry([9, 10], 1, 2, 0, 1), // 1x1 projection: one phase of four
            geometry([11, 16], 3, 2, 2, 2),
            geometry([12, 17], 5, 3, 2, 1),
        ];
        for g in cases {
            assert!(PaddedGrid::new(&g).is_some(), "{g:?}");
            check(g);
        }
        let mut g = geometry([5, 18], 3, 1, 1, 1);
        g.output = [4, 17];
        check(g);
        let mut g = geometry([9, 10], 3, 2, 1, 1);
        g.output = [4, 4];
        check(g);
        let mut g = geometry([9, 13], 3, 1, 1, 1);
        (g.stride, g.output) = ([2, 1], [5, 13]);
        check(g);
    }

    #[test]
    fn matches_the_definitions_with_dilation_wide_padding_and_asymmetric_output() {
        check(geometry([8, 9], 3, 1, 2, 2));
        check(geometry([7, 8], 5, 3, 3, 1));
        // Padding beyond the kernel's reach: the input gradient through col2im at stride 1.
        check(geometry([6, 7], 1, 1, 1, 1));
        // An output smaller than the padding allows (asymmetric end padding).
        let mut g = geometry([9, 7], 3, 1, 1, 1);
        g.output = [8, 6];
        check(g);
    }
}
