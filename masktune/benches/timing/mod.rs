//! The benches' clock (a folder, so that Cargo does not take it for a bench of its own).

use std::time::Instant;

/// Median milliseconds of `repeats` calls after two warm-up calls.
pub fn median_ms(repeats: usize, mut f: impl FnMut()) -> f64 {
    f();
    f();
    let mut times: Vec<f64> = (0..repeats)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
