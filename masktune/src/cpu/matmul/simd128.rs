//! The page's matrix product (wasm32 with simd128) where the right-hand side's rows are
//! contiguous, as in every product of the convolutions' forward passes and input gradients.
//! Output tiles of 4 rows x 8 columns stay in registers over the whole inner dimension: each
//! step adds a row of `rhs` (two vectors) scaled by one value of `lhs` (a splat load) to each
//! row of the tile. Nothing is packed. gemm's wasm kernels pack the operands on every call and
//! hold 12 x 4 tiles, more vectors than V8 keeps in x86-64's 16 SIMD registers; on the page's
//! models this kernel is faster (docs/BENCHMARKS.md).

use core::arch::wasm32::{
    f32x4_add, f32x4_mul, f32x4_splat, v128, v128_load, v128_load32_splat, v128_store,
};

use super::Matrix;

const LANES: usize = 4;
/// Rows of a tile: 4 rows x 2 vectors = 8 accumulators, plus 2 vectors of `rhs`, one splat and
/// one product, leaves registers to spare.
const TILE_ROWS: usize = 4;

/// `dst = lhs rhs` (or `+=` when `accumulate`), `rhs` with unit column stride, into `lhs.rows x
/// rhs.cols` values of `dst` whose rows are `dst_row_stride` apart.
pub(super) fn matmul_contiguous_rows(
    dst: &mut [f32],
    dst_row_stride: usize,
    lhs: Matrix,
    rhs: Matrix,
    accumulate: bool,
) {
    assert_eq!(rhs.col_stride, 1, "rows of rhs must be contiguous");
    let product = Product::new(dst, dst_row_stride, lhs, rhs, accumulate);
    // Each row tile's values of `lhs` stay in cache while it runs over all columns.
    for row in (0..lhs.rows).step_by(TILE_ROWS) {
        let tile_rows = (lhs.rows - row).min(TILE_ROWS);
        let mut col = 0;
        while col + 2 * LANES <= rhs.cols {
            product.tile::<2>(row, tile_rows, col);
            col += 2 * LANES;
        }
        if col + LANES <= rhs.cols {
            product.tile::<1>(row, tile_rows, col);
            col += LANES;
        }
        for c in col..rhs.cols {
            for r in row..row + tile_rows {
                product.scalar(r, c);
            }
        }
    }
}

/// One product's operands, for this kernel and `simd128_dot`'s. The callers' checks (`Matrix`
/// views inside their slices, `dst` large enough for its rows, see `matmul_strided`) make every
/// address the kernels form valid.
pub(super) struct Product<'a> {
    dst: *mut f32,
    dst_row_stride: usize,
    pub(super) lhs: Matrix<'a>,
    pub(super) rhs: Matrix<'a>,
    accumulate: bool,
}

impl<'a> Product<'a> {
    pub(super) fn new(
        dst: &'a mut [f32],
        dst_row_stride: usize,
        lhs: Matrix<'a>,
        rhs: Matrix<'a>,
        accumulate: bool,
    ) -> Self {
        Product {
            dst: dst.as_mut_ptr(),
            dst_row_stride,
            lhs,
            rhs,
            accumulate,
        }
    }

    /// Writes (or adds, when accumulating) output value `(r, c)`.
    ///
    /// # Safety
    /// `r < lhs.rows` and `c < rhs.cols`: inside `dst`'s rows.
    #[inline(always)]
    pub(super) unsafe fn store(&self, r: usize, c: usize, value: f32) {
        unsafe {
            let at = self.dst.add(r * self.dst_row_stride + c);
            *at = if self.accumulate { *at + value } else { value };
        }
    }
    /// The tile of `rows` (1 to 4) rows from `row` and `VECTORS * 4` columns from `col`.
    #[inline(always)]
    fn tile<const VECTORS: usize>(&self, row: usize, rows: usize, col: usize) {
        match rows {
            1 => self.tile_of::<1, VECTORS>(row, col),
            2 => self.tile_of::<2, VECTORS>(row, col),
            3 => self.tile_of::<3, VECTORS>(row, col),
            _ => self.tile_of::<TILE_ROWS, VECTORS>(row, col),
        }
    }

    #[inline(always)]
    fn tile_of<const ROWS: usize, const VECTORS: usize>(&self, row: usize, col: usize) {
        let (lhs, rhs) = (&self.lhs, &self.rhs);
        let mut acc = [[f32x4_splat(0.0); VECTORS]; ROWS];
        // SAFETY: rows row..row + ROWS < lhs.rows and columns col..col + 4 * VECTORS <= rhs.cols,
        // so every value read lies inside its view and every value written inside `dst`'s rows.
        unsafe {
            let lhs_at = lhs.data.as_ptr().add(row * lhs.row_stride);
            let rhs_at = rhs.data.as_ptr().add(col);
            for k in 0..lhs.cols {
                let rhs_row = rhs_at.add(k * rhs.row_stride);
                let b: [v128; VECTORS] =
                    core::array::from_fn(|v| v128_load(rhs_row.add(v * LANES).cast()));
                for (r, acc_row) in acc.iter_mut().enumerate() {
                    let a = v128_load32_splat(
                        lhs_at.add(r * lhs.row_stride + k * lhs.col_stride).cast(),
                    );
                    for (acc, b) in acc_row.iter_mut().zip(b) {
                        *acc = f32x4_add(*acc, f32x4_mul(a, b));
                    }
                }
            }
            for (r, acc_row) in acc.iter().enumerate() {
                let dst_row = self.dst.add((row + r) * self.dst_row_stride + col);
                for (v, &acc) in acc_row.iter().enumerate() {
                    let at = dst_row.add(v * LANES).cast::<v128>();
                    let value = if self.accumulate {
                        f32x4_add(v128_load(at), acc)
                    } else {
                        acc
                    };
                    v128_store(at, value);
                }
            }
        }
    }

    /// One value of the output, for the columns right of the last tile.
    fn scalar(&self, r: usize, c: usize) {
        let (lhs, rhs) = (&self.lhs, &self.rhs);
        let sum: f32 = (0..lhs.cols)
            .map(|k| {
                lhs.data[r * lhs.row_stride + k * lhs.col_stride] * rhs.data[k * rhs.row_stride + c]
            })
            .sum();
        // SAFETY: r < lhs.rows and c < rhs.cols.
        unsafe { self.store(r, c, sum) }
    }
}
