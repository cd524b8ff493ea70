//! Matrix products on the calling thread (the gemm crate; in the page, our simd128 kernels where
//! they apply), over strided views of slices: the convolutions read im2col matrices, padded
//! images and weights in place through them.

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128_dot;

/// A strided view of a matrix inside a slice.
#[derive(Clone, Copy)]
pub struct Matrix<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Matrix<'a> {
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert_eq!(data.len(), rows * cols, "matrix size");
        Self::strided(data, rows, cols, cols)
    }

    /// `rows x cols` values, row `r` starting at `data[r * row_stride]`.
    pub fn strided(data: &'a [f32], rows: usize, cols: usize, row_stride: usize) -> Self {
        assert!(fits(data.len(), rows, cols, row_stride), "matrix size");
        Self {
            data,
            rows,
            cols,
            row_stride,
            col_stride: 1,
        }
    }

    /// `rows x cols` values, value `(r, c)` at `data[r * row_stride + c * col_stride]`.
    pub fn with_strides(
        data: &'a [f32],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Self {
        let last = (rows.saturating_sub(1)) * row_stride + (cols.saturating_sub(1)) * col_stride;
        assert!(rows == 0 || cols == 0 || last < data.len(), "matrix size");
        Self {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        }
    }

    pub fn transposed(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
}

/// Whether a `rows x cols` matrix with unit column stride and rows `row_stride` apart lies inside
/// `len` values.
fn fits(len: usize, rows: usize, cols: usize, row_stride: usize) -> bool {
    rows == 0 || cols == 0 || (rows - 1) * row_stride + cols <= len
}

/// `dst = lhs rhs` (or `dst += lhs rhs` when `accumulate`), `dst` row-major
/// `lhs.rows x rhs.cols`.
pub fn matmul(dst: &mut [f32], lhs: Matrix, rhs: Matrix, accumulate: bool) {
    assert_eq!(dst.len(), lhs.rows * rhs.cols, "destination size");
    matmul_strided(dst, rhs.cols, lhs, rhs, accumulate);
}

/// [`matmul`] into `lhs.rows x rhs.cols` values of `dst` whose rows are `dst_row_stride` apart.
pub fn matmul_strided(
    dst: &mut [f32],
    dst_row_stride: usize,
    lhs: Matrix,
    rhs: Matrix,
    accumulate: bool,
) {
    assert_eq!(lhs.cols, rhs.rows, "inner dimensions");
    let (rows, cols) = (lhs.rows, rhs.cols);
    assert!(
        dst_row_stride >= cols && fits(dst.len(), rows, cols, dst_row_stride),
        "destination size"
    );
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if rhs.col_stride == 1 {
        return simd128::matmul_contiguous_rows(dst, dst_row_stride, lhs, rhs, accumulate);
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if lhs.col_stride == 1 && rhs.row_stride == 1 {
        return simd128_dot::matmul_dot_products(dst, dst_row_stride, lhs, rhs, accumulate);
    }
    // Views are built by `strided` or `with_strides` (+ `transposed`), which check that every
    // index gemm forms,
    // i * row_stride + j * col_stride for i < rows and j < cols, lies inside `data`; the same
    // holds for `dst` (checked above, rows not overlapping), which is borrowed mutably and so
    // aliases neither input.
    unsafe {
        gemm::gemm(
            rows,
            cols,
            lhs.cols,
            dst.as_mut_ptr(),
            1,
            dst_row_stride as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}
