//! The page's matrix product (wasm32 with simd128) where `lhs`'s rows and `rhs`'s columns are
//! contiguous, as in the convolutions' weight gradients (`dy` times the input's taps or im2col
//! matrix, transposed): each output value is the dot product of two contiguous runs. A tile of
//! 2 rows x 4 columns keeps 8 vector sums in registers over the inner dimension, four products
//! at a time, then adds each sum's lanes. gemm's wasm kernels would first pack the transposed
//! operand; this kernel reads both in place (docs/BENCHMARKS.md has the Lab's times).

use core::arch::wasm32::{f32x4_add, f32x4_extract_lane, f32x4_mul, f32x4_splat, v128, v128_load};

use super::Matrix;
use super::simd128::Product;

const LANES: usize = 4;
/// 2 x 4 sums, 2 vectors of `lhs` and one of `rhs` at a time: 11 of V8's 16 SIMD registers on
/// x86-64.
const TILE_ROWS: usize = 2;
const TILE_COLS: usize = 4;

/// `dst = lhs rhs` (or `+=` when `accumulate`), `lhs` with unit column stride and `rhs` with
/// unit row stride, into `lhs.rows x rhs.cols` values of `dst` whose rows are `dst_row_stride`
/// apart.
pub(super) fn matmul_dot_products(
    dst: &mut [f32],
    dst_row_stride: usize,
    lhs: Matrix,
    rhs: Matrix,
    accumulate: bool,
) {
    assert_eq!(lhs.col_stride, 1, "rows of lhs must be contiguous");
    assert_eq!(rhs.row_stride, 1, "columns of rhs must be contiguous");
    let product = Product::new(dst, dst_row_stride, lhs, rhs, accumulate);
    for row in (0..lhs.rows).step_by(TILE_ROWS) {
        let rows = (lhs.rows - row).min(TILE_ROWS);
        for col in (0..rhs.cols).step_by(TILE_COLS) {
            let cols = (rhs.cols - col).min(TILE_COLS);
            match (rows, cols) {
                (TILE_ROWS, TILE_COLS) => dot_tile::<TILE_ROWS, TILE_COLS>(&product, row, col),
                (TILE_ROWS, 3) => dot_tile::<TILE_ROWS, 3>(&product, row, col),
                (TILE_ROWS, 2) => dot_tile::<TILE_ROWS, 2>(&product, row, col),
                (TILE_ROWS, _) => dot_tile::<TILE_ROWS, 1>(&product, row, col),
                (_, TILE_COLS) => dot_tile::<1, TILE_COLS>(&product, row, col),
                (_, 3) => dot_tile::<1, 3>(&product, row, col),
                (_, 2) => dot_tile::<1, 2>(&product, row, col),
                _ => dot_tile::<1, 1>(&product, row, col),
            }
        }
    }
}

/// The `ROWS x COLS` values of the output from `(row, col)`.
#[inline(always)]
#[expect(
    clippy::needless_range_loop,
    reason = "`r` and `c` index the tile in `a`, `acc` and `sums` alike"
)]
fn dot_tile<const ROWS: usize, const COLS: usize>(product: &Product, row: usize, col: usize) {
    let (lhs, rhs) = (&product.lhs, &product.rhs);
    let inner = lhs.cols;
    let vectors_end = inner - inner % LANES;
    let mut acc = [[f32x4_splat(0.0); COLS]; ROWS];
    let mut sums = [[0.0f32; COLS]; ROWS];
    // SAFETY: rows row..row + ROWS < lhs.rows, columns col..col + COLS < rhs.cols and inner
    // indices below lhs.cols = rhs.rows: every value read lies inside its view, and every
    // value written inside `dst`'s rows.
    unsafe {
        let lhs_row = |r: usize| lhs.data.as_ptr().add((row + r) * lhs.row_stride);
        let rhs_col = |c: usize| rhs.data.as_ptr().add((col + c) * rhs.col_stride);
        for k in (0..vectors_end).step_by(LANES) {
            let a: [v128; ROWS] = core::array::from_fn(|r| v128_load(lhs_row(r).add(k).cast()));
            for c in 0..COLS {
                let b = v128_load(rhs_col(c).add(k).cast());
                for r in 0..ROWS {
                    acc[r][c] = f32x4_add(acc[r][c], f32x4_mul(a[r], b));
                }
            }
        }
        for r in 0..ROWS {
            for c in 0..COLS {
                let lanes = acc[r][c];
                let tail: f32 = (vectors_end..inner)
                    .map(|k| *lhs_row(r).add(k) * *rhs_col(c).add(k))
                    .sum();
                sums[r][c] = (f32x4_extract_lane::<0>(lanes) + f32x4_extract_lane::<1>(lanes))
                    + (f32x4_extract_lane::<2>(lanes) + f32x4_extract_lane::<3>(lanes))
                    + tail;
            }
        }
        for (r, sums) in sums.iter().enumerate() {
            for (c, &sum) in sums.iter().enumerate() {
                product.store(row + r, col + c, sum);
            }
        }
    }
}
