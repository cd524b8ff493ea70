//! Work split over rayon's threads with the feature `rayon` (the trainer), run in order on the
//! calling thread without it (the page).

use core::ops::Range;

/// Runs `f(i, scratch, chunk)` for every `chunk_len`-long chunk `i` of `out`. `scratch` is a
/// buffer of `scratch_len` values per worker task, holding whatever the task's previous chunk
/// left in it.
pub fn for_each_chunk(
    out: &mut [f32],
    chunk_len: usize,
    scratch_len: usize,
    f: impl Fn(usize, &mut [f32], &mut [f32]) + Sync + Send,
) {
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        out.par_chunks_mut(chunk_len).enumerate().for_each_init(
            || vec![0.0f32; scratch_len],
            |scratch, (i, chunk)| f(i, scratch, chunk),
        );
    }
    #[cfg(not(feature = "rayon"))]
    {
        let mut scratch = vec![0.0f32; scratch_len];
        for (i, chunk) in out.chunks_mut(chunk_len).enumerate() {
            f(i, &mut scratch, chunk);
        }
    }
}

/// `f(i)` for every `i < count`.
pub fn map<T: Send>(count: usize, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        (0..count).into_par_iter().map(f).collect()
    }
    #[cfg(not(feature = "rayon"))]
    (0..count).map(f).collect()
}

/// The element-wise sum of `partial(range)` over `0..count` split into one contiguous range per
/// worker thread (`len` zeros for `count == 0`): each worker accumulates into one buffer of its
/// own, and the buffers are added at the end.
pub fn sum_over_ranges(
    count: usize,
    len: usize,
    partial: impl Fn(Range<usize>) -> Vec<f32> + Sync + Send,
) -> Vec<f32> {
    #[cfg(feature = "rayon")]
    let workers = rayon::current_num_threads();
    #[cfg(not(feature = "rayon"))]
    let workers = 1;
    let parts = workers.clamp(1, count.max(1));
    let ranges = (0..parts)
        .map(|p| count * p / parts..count * (p + 1) / parts)
        .filter(|range| !range.is_empty());
    let add = |mut sum: Vec<f32>, other: Vec<f32>| {
        sum.iter_mut().zip(&other).for_each(|(s, o)| *s += o);
        sum
    };
    #[cfg(feature = "rayon")]
    let sum = {
        use rayon::prelude::*;
        ranges
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(partial)
            .reduce_with(add)
    };
    #[cfg(not(feature = "rayon"))]
    let sum = ranges.map(partial).reduce(add);
    sum.unwrap_or_else(|| vec![0.0; len])
}
