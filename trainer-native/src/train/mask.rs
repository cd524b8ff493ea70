//! DESIGN.md steps 2 and 3: XGradCAM of the *best* ERM model for each training image's
//! *predicted* class, thresholded at mean + 2 std of its positive values, and the salient pixels
//! set to 0 in the raw image. Writes `masked_train.bin` and an examples PNG.

use std::time::Instant;

use burn::prelude::*;
use masktune::engine::{MaskingEngine, RawImages};
use masktune::models::preprocess::{InputSize, images_to_tensor};
use masktune::readback::read;
use masktune::saliency::{GradientPath, Target, class_gradients};
use pollster::block_on;
use serde::{Deserialize, Serialize};

use super::checkpoint::{self, Stage};
use super::config::RunConfig;
use super::error::{Result, TrainError};
use super::examples_grid::{Example, write_grid};
use super::masked_set;
use super::report::update_section;
use super::run_dir::RunDir;
use crate::backend::{Backend, Masking};
use crate::data::ImageSet;
use crate::progress::images_bar;

/// Example rows in the PNG (four of each CelebA group).
const EXAMPLES: usize = 16;

/// Masking statistics of one group of the training set (for CelebA: is the rare group's mask
/// like the others'?).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupMasking {
    pub group: String,
    pub images: usize,
    pub mean_masked_fraction: f64,
    pub unmasked_images: usize,
}

/// The `mask` section of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaskReport {
    pub images: usize,
    /// ERM epoch (1-based) of the best checkpoint used.
    pub source_epoch: usize,
    /// Mean share of pixels masked per image.
    pub mean_masked_fraction: f64,
    /// Images in which nothing was masked.
    pub unmasked_images: usize,
    /// Share of training images whose prediction (the explained class) was right.
    pub explained_class_accuracy: f64,
    /// What computed the maps and masks (`--masking`).
    #[serde(default)]
    pub engine: String,
    /// Per group, where the training set has groups.
    #[serde(default)]
    pub groups: Option<Vec<GroupMasking>>,
    pub seconds: f64,
}

/// Masks every image of `train` with the best ERM checkpoint of `run`; `masking` chooses what
/// computes the maps and masks after the network.
pub fn mask(
    config: &RunConfig,
    train: &ImageSet,
    run: &RunDir,
    backend: Backend,
    masking: Masking,
    batch_size: usize,
) -> Result<MaskReport> {
    let start = Instant::now();
    let device = backend.device()?;
    let engine = backend.masking_engine(masking)?;
    let best = checkpoint::load(&run.best(), Stage::Erm, Some(config), &device)?;
    // Evaluation mode: batch norm uses its running statistics, as the authors' `model.eval()`.
    let model = best.model.valid();
    let size = InputSize {
        height: train.height,
        width: train.width,
    };
    let plane = train.width * train.height;
    let mut masked = train.images.clone();
    let mut right = 0usize;
    let examples = example_indices(train, EXAMPLES);
    let mut example_maps: Vec<Vec<f32>> = vec![Vec::new(); examples.len()];
    let mut fraction_of = vec![0.0f64; train.len()];
    let bar = images_bar(train.len(), "masking");
    let indices: Vec<usize> = (0..train.len()).collect();
    for chunk in indices.chunks(batch_size) {
        let bytes = chunk[0] * train.image_len()..(chunk[chunk.len() - 1] + 1) * train.image_len();
        let images = images_to_tensor(
            &train.images[bytes.clone()],
            chunk.len(),
            size,
            &config.normalization,
            &device,
        )
        .map_err(|e| TrainError::compute("cannot preprocess a batch", e))?;
        // All models end in GAP + linear, where the forward-only path is XGradCAM's exact gradient.
        let found = class_gradients(&model, images, &Target::Predicted, GradientPath::Auto)
            .map_err(|e| TrainError::compute("saliency", e))?;
        let targets: Vec<i64> = block_on(read(found.targets.clone()))
            .map_err(|e| TrainError::compute("saliency", e))?;
        let raw = RawImages {
            bytes: &mut masked[bytes],
            height: train.height,
            width: train.width,
            channels: 3,
        };
        let (maps, stats) = block_on(engine.maps_and_masks(found, raw))
            .map_err(|e| TrainError::compute("masking", e))?;
        for (k, &i) in chunk.iter().enumerate() {
            fraction_of[i] = stats[k].masked_pixels as f64 / plane as f64;
            right += usize::from(targets[k] == i64::from(train.labels[i]));
            if let Some(e) = examples.iter().position(|&x| x == i) {
                example_maps[e] = maps[k * plane..(k + 1) * plane].to_vec();
            }
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let source_epoch = best.header.epochs_done;
    masked_set::write(&run.masked_train(), train, &masked, source_epoch)?;
    let rows: Vec<Example> = examples
        .iter()
        .zip(&example_maps)
        .map(|(&i, map)| Example {
            original: train.image(i),
            map,
            masked: &masked[i * train.image_len()..(i + 1) * train.image_len()],
        })
        .collect();
    write_grid(&run.mask_examples(), train.width, train.height, &rows)?;
    let all = masking_of("all", fraction_of.iter().copied());
    let report = MaskReport {
        images: train.len(),
        source_epoch,
        mean_masked_fraction: all.mean_masked_fraction,
        unmasked_images: all.unmasked_images,
        explained_class_accuracy: right as f64 / train.len().max(1) as f64,
        engine: engine.name().into(),
        groups: train.groups.as_ref().map(|groups| {
            (0..train.group_names.len())
                .map(|g| {
                    let of_group = fraction_of
                        .iter()
                        .zip(groups)
                        .filter(|&(_, &group)| group as usize == g)
                        .map(|(&f, _)| f);
                    masking_of(&train.group_names[g], of_group)
                })
                .collect()
        }),
        seconds: start.elapsed().as_secs_f64(),
    };
    eprintln!(
        "masked {} images with the epoch-{source_epoch} model ({}): {:.2}% of pixels on average, {} untouched",
        report.images,
        report.engine,
        100.0 * report.mean_masked_fraction,
        report.unmasked_images
    );
    for g in report.groups.iter().flatten() {
        eprintln!(
            "  {}: {:.2}% of pixels on average, {} of {} untouched",
            g.group,
            100.0 * g.mean_masked_fraction,
            g.unmasked_images,
            g.images
        );
    }
    update_section(&run.report(), "mask", &report)?;
    Ok(report)
}

/// The statistics of the images whose masked fractions are `fractions`.
fn masking_of(group: &str, fractions: impl Iterator<Item = f64>) -> GroupMasking {
    let (mut images, mut sum, mut unmasked) = (0, 0.0, 0);
    for f in fractions {
        images += 1;
        sum += f;
        unmasked += usize::from(f == 0.0);
    }
    GroupMasking {
        group: group.into(),
        images,
        mean_masked_fraction: sum / images.max(1) as f64,
        unmasked_images: unmasked,
    }
}

/// The images shown in the examples PNG: the first `count`, or where the set has groups, the
/// first of each group in turn (shown group by group), so that a rare group (CelebA's blond men)
/// is shown too.
pub fn example_indices(train: &ImageSet, count: usize) -> Vec<usize> {
    let Some(groups) = &train.groups else {
        return (0..train.len().min(count)).collect();
    };
    let mut by_group: Vec<std::collections::VecDeque<usize>> =
        vec![Default::default(); train.group_names.len()];
    for (i, &g) in groups.iter().enumerate() {
        if let Some(queue) = by_group.get_mut(g as usize) {
            queue.push_back(i);
        }
    }
    let mut chosen = Vec::with_capacity(count);
    while chosen.len() < count && by_group.iter().any(|q| !q.is_empty()) {
        for queue in &mut by_group {
            if chosen.len() < count
                && let Some(i) = queue.pop_front()
            {
                chosen.push(i);
            }
        }
    }
    chosen.sort_unstable_by_key(|&i| (groups[i], i));
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_with_groups(groups: Option<Vec<u32>>, len: usize) -> ImageSet {
        ImageSet {
            images: vec![0; len * 3],
            width: 1,
            height: 1,
            labels: vec![0; len],
            groups,
            class_names: vec!["a".into(), "b".into()],
            group_names: (0..3).map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn examples_take_every_group_in_turn() {
        // Group 2 is rare and last: it is shown all the same.
        let set = set_with_groups(Some(vec![0, 0, 1, 0, 1, 0, 0, 2]), 8);
        assert_eq!(example_indices(&set, 5), vec![0, 1, 2, 4, 7]);
        assert_eq!(example_indices(&set, 3), vec![0, 2, 7]);
        assert_eq!(example_indices(&set, 20).len(), 8);
        assert_eq!(example_indices(&set_with_groups(None, 8), 3), vec![0, 1, 2]);
    }
}
