//! The memory a training step takes, measured rather than modelled: steps of a few batch sizes,
//! through [`train_epoch`] on the backend that will train, give the peak bytes at those sizes, and
//! a line through the largest two gives larger ones. The page's Lab uses it to refuse, before
//! training, a run that would not fit in WebAssembly's memory, and to name a batch size that fits.
//!
//! Measured natively (masktune/tests/training_memory.rs): below a few images a step's peak is the
//! weights' update, whatever the batch; above, each image adds its activations, a little more
//! per image as the batch grows (at 32 images up to a fifth more than at 2).

use std::ops::ControlFlow;

use burn::module::Module;
use burn::prelude::*;
use peakmem_alloc::PeakMemAllocTrait;

use super::epoch::{Batching, TrainingError, train_epoch};
use super::recipe::Recipe;
use super::rng::training_rng;
use crate::data::ImageSet;

/// The batch sizes a measurement trains a step at, up to the run's batch.
pub const MEASURED_BATCHES: [usize; 4] = [1, 2, 4, 8];

/// Beyond the largest batch measured, each image counts this much more than the last ones
/// measured added: the bytes per image still grow a little with the batch.
const GROWTH_MARGIN: f64 = 1.25;

/// One training step, measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeasuredStep {
    /// The most bytes the allocator counted at once, above what it held before.
    pub peak: u64,
    /// Bytes of one copy of the network's weights.
    pub weights: u64,
}

/// A fresh network of `recipe` trained for one step on all of `images` (its optimizer and RNG
/// its own) on `device`, an autodiff device, with `allocator` counting.
pub async fn measure_step(
    recipe: &Recipe,
    images: &ImageSet,
    batching: &Batching,
    device: &Device,
    allocator: &impl PeakMemAllocTrait,
) -> Result<MeasuredStep, TrainingError> {
    allocator.reset_peak_memory();
    let trained = train_epoch(
        recipe.architecture.init(device),
        &mut recipe.optimizer.build(),
        recipe.optimizer.lr,
        images,
        &Batching {
            batch_size: images.len(),
            ..*batching
        },
        &mut training_rng(0),
        device,
        |_| async { ControlFlow::Continue(()) },
    )
    .await?;
    let weights = (trained.model.num_params() * size_of::<f32>()) as u64;
    drop(trained);
    Ok(MeasuredStep {
        peak: allocator.get_peak_memory() as u64,
        weights,
    })
}

/// The memory of one training step of a network, at any batch size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepMemory {
    /// The largest batch measured, and the peak bytes of its step.
    pub batch: usize,
    pub peak: u64,
    /// Bytes each image added between the two largest batches measured.
    pub per_image: u64,
    /// Bytes of one copy of the weights (a run keeps more than the one it trains).
    pub weights: u64,
}

/// The first `n` images of `set`.
fn first(set: &ImageSet, n: usize) -> ImageSet {
    set.subset(&(0..n).collect::<Vec<_>>())
}

impl StepMemory {
    /// Trains a fresh network of `recipe` for one step on the first images of `set`, at each of
    /// [`MEASURED_BATCHES`] up to `batch` (the two largest twice; `batching` otherwise),
    /// counting the bytes allocated above what was allocated before by `allocator`, the
    /// program's global allocator. After the step of one image, a step that could take more
    /// than `limit` bytes is not tried (a step of `k` times the images takes at most `k` times
    /// the bytes). `device` is an autodiff device. The model, its optimizer and the RNG are the
    /// measurement's own: initialise the run's model afterwards, since initialising this one
    /// draws from the device's RNG.
    pub async fn measure(
        recipe: &Recipe,
        set: &ImageSet,
        batching: &Batching,
        device: &Device,
        allocator: &impl PeakMemAllocTrait,
        batch: usize,
        limit: u64,
    ) -> Result<StepMemory, TrainingError> {
        let batch = batch.clamp(1, set.len().max(1));
        let mut peaks: Vec<(usize, u64)> = Vec::new();
        let mut weights = 0;
        for size in MEASURED_BATCHES.map(|b| b.min(batch)) {
            let last = peaks.last().copied();
            if last.is_some_and(|(measured, peak)| {
                measured == size || peak * size as u64 / measured as u64 > limit
            }) {
                continue;
            }
            let step = measure_step(recipe, &first(set, size), batching, device, allocator).await?;
            peaks.push((size, step.peak));
            weights = step.weights;
        }
        // A step may also allocate what the process keeps for every later step (a thread's
        // buffers for matrix products, 1 MiB, when that thread first takes part, which depends on
        // the threads' timing), and a step of 4 that did once predicted a step of 32 at half its
        // size. The two steps the line goes through are taken again, keeping the lower peak.
        let line = peaks.len().saturating_sub(2);
        for (size, peak) in &mut peaks[line..] {
            let again =
                measure_step(recipe, &first(set, *size), batching, device, allocator).await?;
            *peak = (*peak).min(again.peak);
        }
        Ok(StepMemory::through(&peaks, weights))
    }

    /// The line through the two largest of the `(batch, peak bytes)` measured (in increasing
    /// batch order; one is a step whose batch is all there is).
    pub fn through(peaks: &[(usize, u64)], weights: u64) -> StepMemory {
        let &(batch, peak) = peaks.last().expect("at least one step measured");
        let per_image = match peaks.len().checked_sub(2).map(|i| peaks[i]) {
            Some((before, before_peak)) => {
                peak.saturating_sub(before_peak) / (batch - before) as u64
            }
            None => 0,
        };
        StepMemory {
            batch,
            peak,
            per_image,
            weights,
        }
    }

    /// Bytes per image beyond the largest batch measured.
    fn per_image_beyond(&self) -> u64 {
        (self.per_image as f64 * GROWTH_MARGIN).ceil() as u64
    }

    /// Bytes a step of `batch` images takes.
    pub fn at(&self, batch: usize) -> u64 {
        if batch <= self.batch {
            self.peak
                .saturating_sub(self.per_image * (self.batch - batch) as u64)
        } else {
            self.peak + self.per_image_beyond() * (batch - self.batch) as u64
        }
    }

    /// The largest batch whose step takes at most `bytes` (0 if not even one image fits).
    pub fn largest_batch(&self, bytes: u64) -> usize {
        if bytes >= self.peak {
            let more = (bytes - self.peak).checked_div(self.per_image_beyond());
            return more.map_or(usize::MAX, |more| self.batch.saturating_add(more as usize));
        }
        let fewer = (self.peak - bytes).div_ceil(self.per_image.max(1)) as usize;
        self.batch.saturating_sub(fewer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beyond_the_largest_batch_measured_each_image_counts_a_quarter_more() {
        let step = StepMemory::through(&[(1, 90), (2, 100), (4, 140), (8, 220)], 10);
        assert_eq!((step.batch, step.peak, step.per_image), (8, 220, 20));
        assert_eq!(step.at(8), 220);
        assert_eq!(step.at(6), 180, "below: the line");
        assert_eq!(
            step.at(12),
            220 + 4 * 25,
            "beyond: a quarter more per image"
        );
        assert_eq!(step.largest_batch(320), 12);
        assert_eq!(step.largest_batch(319), 11);
        assert_eq!(step.largest_batch(181), 6);
        assert_eq!(step.largest_batch(180), 6);
        assert_eq!(step.largest_batch(179), 5);
        assert_eq!(step.largest_batch(10), 0, "not even one image");
    }

    #[test]
    fn a_step_of_every_image_there_is_is_all_that_can_be_measured() {
        let step = StepMemory::through(&[(1, 90)], 10);
        assert_eq!(step.at(1), 90);
        assert_eq!(step.largest_batch(90), usize::MAX);
        assert_eq!(step.largest_batch(89), 0);
    }
}
