//! The im2col matrix of one image and its adjoint: one row per kernel tap (input channel,
//! kernel row, kernel column), one column per output pixel, holding the input value under that
//! tap (0 in the padding). A convolution is then one matrix product per image.

use core::ops::Range;

/// The shapes and options of one bias-free, ungrouped 2D convolution (NCHW).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    pub batch: usize,
    pub channels_in: usize,
    pub channels_out: usize,
    /// Input height and width.
    pub input: [usize; 2],
    pub kernel: [usize; 2],
    /// Output height and width.
    pub output: [usize; 2],
    pub stride: [usize; 2],
    /// Padding before the first row and column (the end padding follows from `output`).
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
}

impl ConvGeometry {
    /// Rows of the im2col matrix.
    pub fn taps(&self) -> usize {
        self.channels_in * self.kernel[0] * self.kernel[1]
    }

    /// Columns of the im2col matrix.
    pub fn output_plane(&self) -> usize {
        self.output[0] * self.output[1]
    }

    pub fn input_image(&self) -> usize {
        self.channels_in * self.input[0] * self.input[1]
    }

    pub fn output_image(&self) -> usize {
        self.channels_out * self.output_plane()
    }

    /// How far the dilated kernel reaches beyond its first tap, per axis: `dilation * (kernel - 1)`.
    pub fn reach(&self) -> [usize; 2] {
        [0, 1].map(|d| self.dilation[d] * (self.kernel[d] - 1))
    }

    /// Calls `visit(row, out_row, input_row, columns, first)` for every (tap, output row): row
    /// `row` of the im2col matrix and output row `out_row`; where the tap's input row lies
    /// inside the image and reaches some column, `input_row` is it (an index into the image's
    /// rows, channels stacked), `columns` the output columns whose input column is inside the
    /// image and `first` the input column the first of them reads. Everything else reads the
    /// padding.
    fn for_each_tap_row(
        &self,
        mut visit: impl FnMut(usize, usize, Option<usize>, Range<usize>, usize),
    ) {
        let [height, width] = self.input;
        let [kernel_h, kernel_w] = self.kernel;
        for channel in 0..self.channels_in {
            for ki in 0..kernel_h {
                let row_offset = (ki * self.dilation[0]) as isize - self.padding[0] as isize;
                for kj in 0..kernel_w {
                    let row = (channel * kernel_h + ki) * kernel_w + kj;
                    let col_offset = (kj * self.dilation[1]) as isize - self.padding[1] as isize;
                    let columns = valid_outputs(col_offset, self.stride[1], width, self.output[1]);
                    let first = (columns.start * self.stride[1]) as isize + col_offset;
                    for out_row in 0..self.output[0] {
                        let ih = (out_row * self.stride[0]) as isize + row_offset;
                        let inside = (0..height as isize).contains(&ih) && !columns.is_empty();
                        let input_row = inside.then(|| channel * height + ih as usize);
                        visit(row, out_row, input_row, columns.clone(), first as usize);
                    }
                }
            }
        }
    }
}

/// Writes `image` (`[channels_in, h, w]`) as its im2col matrix (`taps x plane`) into `col`,
/// row `r` at `col[r * row_stride..]` (`plane` for a matrix of its own, wider to place several
/// images' matrices side by side), every entry once (no clearing pass first: in the training
/// step that pass alone cost ~5 %).
pub fn im2col(image: &[f32], geometry: &ConvGeometry, col: &mut [f32], row_stride: usize) {
    let width = geometry.input[1];
    let out_w = geometry.output[1];
    let plane = geometry.output_plane();
    let stride = geometry.stride[1];
    let rows = geometry.taps();
    assert!(row_stride >= plane, "im2col rows overlap");
    assert!(
        rows == 0 || col.len() >= (rows - 1) * row_stride + plane,
        "im2col size"
    );
    geometry.for_each_tap_row(|row, out_row, input_row, columns, first| {
        let out = &mut col[row * row_stride + out_row * out_w..][..out_w];
        let Some(input_row) = input_row else {
            out.fill(0.0);
            return;
        };
        out[..columns.start].fill(0.0);
        out[columns.end..].fill(0.0);
        let input = &image[input_row * width..][..width];
        let out = &mut out[columns];
        if stride == 1 {
            out.copy_from_slice(&input[first..first + out.len()]);
        } else {
            for (k, value) in out.iter_mut().enumerate() {
                *value = input[first + k * stride];
            }
        }
    });
}

/// The adjoint of [`im2col`]: adds every entry of `col` to the input pixel it was read from.
/// `image` must be zeroed by the caller (or hold values to accumulate onto).
pub fn col2im(col: &[f32], geometry: &ConvGeometry, image: &mut [f32]) {
    let width = geometry.input[1];
    let out_w = geometry.output[1];
    let plane = geometry.output_plane();
    let stride = geometry.stride[1];
    geometry.for_each_tap_row(|row, out_row, input_row, columns, first| {
        let Some(input_row) = input_row else {
            return;
        };
        let input = &mut image[input_row * width..][..width];
        let values = &col[row * plane + out_row * out_w..][..out_w][columns];
        if stride == 1 {
            let target = &mut input[first..first + values.len()];
            target.iter_mut().zip(values).for_each(|(t, v)| *t += v);
        } else {
            for (k, value) in values.iter().enumerate() {
                input[first + k * stride] += value;
            }
        }
    });
}

/// The output columns `ow` whose input column `ow * stride + offset` lies inside `0..width`.
pub fn valid_outputs(offset: isize, stride: usize, width: usize, out_w: usize) -> Range<usize> {
    let stride = stride as isize;
    // The smallest ow with ow * stride + offset >= 0, and the smallest with it >= width.
    let start = if offset >= 0 {
        0
    } else {
        (-offset + stride - 1) / stride
    };
    let end = (width as isize - offset + stride - 1)
        .div_euclid(stride)
        .max(0);
    let end = (end as usize).min(out_w);
    (start as usize).min(end)..end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_outputs_are_exactly_the_in_bounds_columns() {
        for offset in -4isize..4 {
            for stride in 1..4 {
                for width in 1..7 {
                    let out_w = 6;
                    let range = valid_outputs(offset, stride, width, out_w);
                    for ow in 0..out_w {
                        let iw = (ow * stride) as isize + offset;
                        let inside = iw >= 0 && iw < width as isize;
                        assert_eq!(
                            range.contains(&ow),
                            inside,
                            "{offset} {stride} {width} {ow}"
                        );
                    }
                }
            }
        }
    }

    /// <im2col(x), c> == <x, col2im(c)> for all x and c: col2im is im2col's adjoint.
    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        let geometry = ConvGeometry {
            batch: 1,
            channels_in: 2,
            channels_out: 1,
            input: [7, 6],
            kernel: [3, 2],
            output: [4, 3],
            stride: [2, 2],
            padding: [1, 0],
            dilation: [1, 2],
        };
        let x: Vec<f32> = (0..geometry.input_image())
            .map(|i| (i % 5) as f32 - 2.0)
            .collect();
        let c: Vec<f32> = (0..geometry.taps() * geometry.output_plane())
            .map(|i| (i % 7) as f32 - 3.0)
            .collect();
        // NaN wherever im2col would fail to write.
        let mut col = vec![f32::NAN; c.len()];
        im2col(&x, &geometry, &mut col, geometry.output_plane());
        let mut image = vec![0.0; x.len()];
        col2im(&c, &geometry, &mut image);
        let left: f32 = col.iter().zip(&c).map(|(a, b)| a * b).sum();
        let right: f32 = x.iter().zip(&image).map(|(a, b)| a * b).sum();
        assert_eq!(left, right);
        assert!(left != 0.0);
    }
}
