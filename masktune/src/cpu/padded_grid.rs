//! A convolution's input zero-padded and split by the stride into phases, laid out so that
//! every kernel tap reads one strided view of it: the convolution becomes one matrix product
//! per tap, with no im2col matrix.

use super::im2col::{ConvGeometry, valid_outputs};
use super::matmul::Matrix;

/// The input zero-padded on all sides and split by the stride into phases: phase `(a, b)` holds
/// the padded input's rows `stride_h * i + a` and columns `stride_w * j + b`, and each phase is
/// stored channel plane after channel plane, `padded` (the output's height and width plus the
/// kernel's reach divided by the stride) in size. Stride 1 has a single phase, the padded image.
///
/// Output pixel `(oh, ow)` is grid column `oh * padded_w + ow`; kernel tap `(ki, kj)`, at
/// `(dh, dw) = (ki * dilation_h, kj * dilation_w)` in the padded input, reads for every grid
/// column phase `(dh % stride_h, dw % stride_w)` at that column plus `(dh / stride_h) *
/// padded_w + dw / stride_w`: one `channels_in x grid` view per tap. The last columns of each
/// grid row are not outputs (they read into the next row); a row of 4 outputs per such column
/// keeps that waste at most 1/5 (8x8 planes under a 3x3 kernel: faster than the im2col copy it
/// saves, measured), and the smaller planes go through im2col instead.
pub struct PaddedGrid<'a> {
    g: &'a ConvGeometry,
    /// Phases per axis: the stride, or fewer where the kernel reaches fewer (1 for 1x1 kernels).
    phases: [usize; 2],
    padded: [usize; 2],
    /// Columns of the grid: the output's rows times the padded width.
    pub grid: usize,
}

impl<'a> PaddedGrid<'a> {
    pub fn new(g: &'a ConvGeometry) -> Option<Self> {
        let reach = g.reach();
        let shift = [0, 1].map(|d| reach[d] / g.stride[d]);
        let padded = [0, 1].map(|d| g.output[d] + shift[d]);
        (g.output[1] >= 4 * shift[1]).then_some(Self {
            g,
            phases: [0, 1].map(|d| g.stride[d].min(reach[d] + 1)),
            padded,
            grid: g.output[0] * padded[1],
        })
    }

    /// One channel's plane in one phase.
    pub fn plane(&self) -> usize {
        self.padded[0] * self.padded[1]
    }

    /// The padded input's length: its phases' planes, and the values the last plane's last tap
    /// reads past its end (in columns that are not outputs).
    pub fn padded_len(&self) -> usize {
        let phases = self.phases[0] * self.phases[1];
        phases * self.g.channels_in * self.plane() + self.padded[1] - self.g.output[1]
    }

    /// Copies image `n` of the batch `x` into `padded`, inside its border. The border itself is
    /// never written: `padded` must have started as zeros and be used for this geometry only
    /// (as the per-worker scratch of one pass is).
    pub fn pad(&self, x: &[f32], n: usize, padded: &mut [f32]) {
        let image = &x[n * self.g.input_image()..][..self.g.input_image()];
        let step = self.g.stride[1];
        self.for_each_run(|at, from, len| {
            let to = &mut padded[at..at + len];
            if step == 1 {
                to.copy_from_slice(&image[from..from + len]);
            } else {
                to.iter_mut()
                    .zip(image[from..].iter().step_by(step))
                    .for_each(|(to, value)| *to = *value);
            }
        });
    }

    /// The adjoint of [`pad`](Self::pad): writes into `image` (one image, `[channels_in, h, w]`)
    /// the value at each input pixel's place in `padded`. Pixels that no tap reads (past a
    /// truncated output, or between the strides of a 1x1 kernel) are left as they are.
    pub fn unpad(&self, padded: &[f32], image: &mut [f32]) {
        let step = self.g.stride[1];
        self.for_each_run(|at, from, len| {
            let values = &padded[at..at + len];
            if step == 1 {
                image[from..from + len].copy_from_slice(values);
            } else {
                image[from..]
                    .iter_mut()
                    .step_by(step)
                    .zip(values)
                    .for_each(|(to, value)| *to = *value);
            }
        });
    }

    /// Calls `visit(at, from, len)` for every run of input pixels [`pad`](Self::pad) copies:
    /// `len` values from `at` on in the padded input, from the image's index `from` on,
    /// `stride_w` apart (one phase row of one channel).
    fn for_each_run(&self, mut visit: impl FnMut(usize, usize, usize)) {
        let g = self.g;
        let [height, width] = g.input;
        let place = |phase: usize, span: usize, axis: usize| {
            let offset = phase as isize - g.padding[axis] as isize;
            valid_outputs(offset, g.stride[axis], span, self.padded[axis])
        };
        for a in 0..self.phases[0] {
            let rows = place(a, height, 0);
            for b in 0..self.phases[1] {
                let columns = place(b, width, 1);
                if columns.is_empty() {
                    continue;
                }
                let first_column = columns.start * g.stride[1] + b - g.padding[1];
                let phase = (a * self.phases[1] + b) * g.channels_in * self.plane();
                for channel in 0..g.channels_in {
                    for i in rows.clone() {
                        let row = i * g.stride[0] + a - g.padding[0];
                        visit(
                            phase + channel * self.plane() + i * self.padded[1] + columns.start,
                            (channel * height + row) * width + first_column,
                            columns.len(),
                        );
                    }
                }
            }
        }
    }

    /// Where tap `tap`'s (`ki * kernel_w + kj`) view starts in the padded input.
    pub fn tap_offset(&self, tap: usize) -> usize {
        let g = self.g;
        let (dh, dw) = (
            tap / g.kernel[1] * g.dilation[0],
            tap % g.kernel[1] * g.dilation[1],
        );
        let [stride_h, stride_w] = g.stride;
        let phase = (dh % stride_h) * self.phases[1] + dw % stride_w;
        phase * g.channels_in * self.plane() + dh / stride_h * self.padded[1] + dw / stride_w
    }

    /// Tap `tap`'s input: `channels_in x grid`, read from `padded`.
    pub fn tap<'p>(&self, padded: &'p [f32], tap: usize) -> Matrix<'p> {
        let view = &padded[self.tap_offset(tap)..];
        Matrix::strided(view, self.g.channels_in, self.grid, self.plane())
    }

    /// Copies `values` (`channels x output plane`) onto a `channels x grid` matrix, leaving the
    /// columns that are not outputs as they are.
    pub fn onto_grid(&self, values: &[f32], on_grid: &mut [f32]) {
        let width = self.g.output[1];
        for (row, values) in on_grid
            .chunks_exact_mut(self.padded[1])
            .zip(values.chunks_exact(width))
        {
            row[..width].copy_from_slice(values);
        }
    }

    /// The inverse of [`onto_grid`](Self::onto_grid): the outputs of a `channels x grid` matrix.
    pub fn off_grid(&self, on_grid: &[f32], values: &mut [f32]) {
        let width = self.g.output[1];
        for (values, row) in values
            .chunks_exact_mut(width)
            .zip(on_grid.chunks_exact(self.padded[1]))
        {
            values.copy_from_slice(&row[..width]);
        }
    }
}
