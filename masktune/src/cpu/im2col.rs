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
        self.channels_in * self.kernel_taps()
    }

    /// Taps of the kernel on one channel, `kernel_h * kernel_w`.
    pub fn kernel_taps(&self) -> usize {
        self.kernel[0] * self.kernel[1]
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
}

/// Where every entry of an image's im2col matrix comes from: for each kernel position
/// `(ki, kj)` and output pixel, the index of the input pixel under it in one channel's plane, or
/// [`PADDING`]. The same for every channel, so the matrix is a gather from each plane: one load
/// and one store per entry, no per-row copy or fill (on the small planes that take this path,
/// rows of 2-8 values, those library calls cost more than the values they moved).
pub struct Im2col {
    sources: Vec<usize>,
    /// Output pixels: the length of a row of the matrix.
    plane: usize,
    input_plane: usize,
}

/// The source of an entry that reads the zero padding.
const PADDING: usize = usize::MAX;

impl Im2col {
    pub fn new(g: &ConvGeometry) -> Self {
        let [height, width] = g.input;
        let [out_h, out_w] = g.output;
        // The input row (axis 0) or column (axis 1) that output `o` reads through kernel
        // position `k`, if inside the image.
        let source = |axis: usize, o: usize, k: usize| {
            let at =
                (o * g.stride[axis] + k * g.dilation[axis]) as isize - g.padding[axis] as isize;
            (0..g.input[axis] as isize)
                .contains(&at)
                .then_some(at as usize)
        };
        let mut sources = Vec::with_capacity(g.kernel[0] * g.kernel[1] * out_h * out_w);
        for ki in 0..g.kernel[0] {
            for kj in 0..g.kernel[1] {
                for oh in 0..out_h {
                    sources.extend((0..out_w).map(|ow| {
                        match (source(0, oh, ki), source(1, ow, kj)) {
                            (Some(ih), Some(iw)) => ih * width + iw,
                            _ => PADDING,
                        }
                    }));
                }
            }
        }
        Self {
            sources,
            plane: out_h * out_w,
            input_plane: height * width,
        }
    }

    /// Calls `visit(row, channel_plane, sources)` for every row of the matrix of an image of
    /// `image_len` values: the range of the row's input channel in the image and, per column,
    /// the index in that plane to read.
    fn for_each_row(&self, image_len: usize, mut visit: impl FnMut(usize, Range<usize>, &[usize])) {
        if self.plane == 0 || self.input_plane == 0 {
            return;
        }
        let channels = image_len / self.input_plane;
        let positions = self.sources.chunks_exact(self.plane);
        let per_channel = positions.len();
        for channel in 0..channels {
            let plane = channel * self.input_plane..(channel + 1) * self.input_plane;
            for (k, sources) in positions.clone().enumerate() {
                visit(channel * per_channel + k, plane.clone(), sources);
            }
        }
    }

    /// Writes `image` (`[channels_in, h, w]`) as its im2col matrix (`taps x plane`) into
    /// `col`, row `r` at `col[r * row_stride..]` (`plane` for a matrix of its own, wider to
    /// place several images' matrices side by side), every entry once.
    pub fn write(&self, image: &[f32], col: &mut [f32], row_stride: usize) {
        assert!(row_stride >= self.plane, "im2col rows overlap");
        self.for_each_row(image.len(), |row, plane, sources| {
            let input = &image[plane];
            let out = &mut col[row * row_stride..][..sources.len()];
            for (value, &source) in out.iter_mut().zip(sources) {
                *value = input.get(source).copied().unwrap_or(0.0);
            }
        });
    }

    /// The adjoint of [`write`](Self::write) for a matrix of its own (`row_stride = plane`):
    /// adds every entry of `col` to the input pixel it was read from. `image` must be zeroed by
    /// the caller (or hold values to accumulate onto).
    pub fn add_back(&self, col: &[f32], image: &mut [f32]) {
        self.for_each_row(image.len(), |row, plane, sources| {
            let input = &mut image[plane];
            let values = &col[row * self.plane..][..sources.len()];
            for (&value, &source) in values.iter().zip(sources) {
                if let Some(pixel) = input.get_mut(source) {
                    *pixel += value;
                }
            }
        });
    }
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

    /// <write(x), c> == <x, add_back(c)> for all x and c: `add_back` is `write`'s adjoint.
    #[test]
    fn add_back_is_the_adjoint_of_write() {
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
        let im2col = Im2col::new(&geometry);
        im2col.write(&x, &mut col, geometry.output_plane());
        let mut image = vec![0.0; x.len()];
        im2col.add_back(&c, &mut image);
        let left: f32 = col.iter().zip(&c).map(|(a, b)| a * b).sum();
        let right: f32 = x.iter().zip(&image).map(|(a, b)| a * b).sum();
        assert_eq!(left, right);
        assert!(left != 0.0);
    }
}
