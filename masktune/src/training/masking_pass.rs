//! DESIGN.md steps 2 and 3 over a whole training set, as the trainer's `mask` step and the
//! page's Lab run it: XGradCAM of the *best* ERM model for each image's *predicted* class,
//! thresholded at mean + 2 std of its positive values, and the salient pixels set to 0 in the
//! raw image. `engine` computes the maps and masks after the network (WGSL kernels or Burn
//! tensor ops).

use std::collections::VecDeque;
use std::future::Future;
use std::ops::ControlFlow;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::epoch::{BatchDone, TrainingError};
use crate::data::ImageSet;
use crate::engine::{MaskingEngine, RawImages};
use crate::models::AnyModel;
use crate::models::preprocess::{InputSize, Normalization, images_to_tensor};
use crate::readback::read;
use crate::saliency::{GradientPath, Target, class_gradients};

/// The masked training set and what the masking did.
pub struct MaskedSet {
    /// The training set, every image masked (same order, labels and groups).
    pub masked: ImageSet,
    /// Share of each image's pixels that were hidden.
    pub masked_fraction: Vec<f64>,
    /// Training images whose prediction (the explained class) was right.
    pub explained_right: usize,
    /// The XGradCAM maps (`height * width`, in [0, 1]) of the images `examples` named, in order.
    pub example_maps: Vec<Vec<f32>>,
}

/// Masking statistics of a group of images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupMasking {
    pub group: String,
    pub images: usize,
    pub mean_masked_fraction: f64,
    pub unmasked_images: usize,
}

/// Masks every image of `set` with `model` (put in evaluation mode here: batch norm uses its
/// running statistics, as the authors' `model.eval()`), keeping the maps of `examples`.
#[allow(clippy::too_many_arguments)]
pub async fn mask_set<E, F, Next>(
    model: &AnyModel,
    set: &ImageSet,
    batch_size: usize,
    normalization: &Normalization,
    device: &Device,
    engine: &E,
    examples: &[usize],
    mut after_batch: F,
) -> Result<MaskedSet, TrainingError>
where
    E: MaskingEngine + ?Sized,
    F: FnMut(BatchDone) -> Next,
    Next: Future<Output = ControlFlow<()>>,
{
    let failed = |context| {
        move |e: String| TrainingError::Compute {
            context,
            message: e,
        }
    };
    let model = model.valid();
    let size = InputSize {
        height: set.height,
        width: set.width,
    };
    let plane = set.width * set.height;
    let image_len = set.image_len();
    let mut masked = set.clone();
    let mut masked_fraction = vec![0.0; set.len()];
    let mut explained_right = 0;
    let mut example_maps = vec![Vec::new(); examples.len()];
    for (k, bytes) in masked.images.chunks_mut(batch_size * image_len).enumerate() {
        let first = k * batch_size;
        let count = bytes.len() / image_len;
        let images = images_to_tensor(bytes, count, size, normalization, device)
            .map_err(|e| failed("cannot preprocess a batch")(e.to_string()))?;
        // All models end in GAP + linear, where the forward-only path is XGradCAM's exact gradient.
        let found = class_gradients(&model, images, &Target::Predicted, GradientPath::Auto)
            .map_err(|e| failed("saliency")(e.to_string()))?;
        let targets: Vec<i64> = read(found.targets.clone())
            .await
            .map_err(failed("saliency"))?;
        let raw = RawImages {
            bytes,
            height: set.height,
            width: set.width,
            channels: 3,
        };
        let (maps, stats) = engine
            .maps_and_masks(found, raw)
            .await
            .map_err(failed("masking"))?;
        for j in 0..count {
            let i = first + j;
            masked_fraction[i] = stats[j].masked_pixels as f64 / plane as f64;
            explained_right += usize::from(targets[j] == i64::from(set.labels[i]));
            if let Some(e) = examples.iter().position(|&x| x == i) {
                example_maps[e] = maps[j * plane..(j + 1) * plane].to_vec();
            }
        }
        let progress = BatchDone {
            images: first + count,
            of: set.len(),
            batch_loss: None,
            mean_loss: None,
            accuracy: None,
        };
        if after_batch(progress).await.is_break() {
            return Err(TrainingError::Stopped);
        }
    }
    Ok(MaskedSet {
        masked,
        masked_fraction,
        explained_right,
        example_maps,
    })
}

impl MaskedSet {
    /// The masking statistics of all images, then of each group where the set has groups.
    pub fn groups(&self) -> (GroupMasking, Option<Vec<GroupMasking>>) {
        let all = group_masking("all", self.masked_fraction.iter().copied());
        let set = &self.masked;
        let groups = set.groups.as_ref().map(|groups| {
            (0..set.group_names.len())
                .map(|g| {
                    let of_group = self
                        .masked_fraction
                        .iter()
                        .zip(groups)
                        .filter(|&(_, &group)| group as usize == g)
                        .map(|(&f, _)| f);
                    group_masking(&set.group_names[g], of_group)
                })
                .collect()
        });
        (all, groups)
    }
}

/// The statistics of the images whose masked fractions are `fractions`.
fn group_masking(group: &str, fractions: impl Iterator<Item = f64>) -> GroupMasking {
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

/// The images shown as examples: the first of each group in turn (shown group by group), so that
/// a rare group (CelebA's blond men) is shown too; by class where the set has no groups.
pub fn example_indices(train: &ImageSet, count: usize) -> Vec<usize> {
    let (kinds, of) = match &train.groups {
        Some(groups) => (train.group_names.len(), groups),
        None => (train.class_names.len(), &train.labels),
    };
    let mut by_kind: Vec<VecDeque<usize>> = vec![VecDeque::new(); kinds];
    for (i, &k) in of.iter().enumerate() {
        if let Some(queue) = by_kind.get_mut(k as usize) {
            queue.push_back(i);
        }
    }
    let mut chosen = Vec::with_capacity(count);
    while chosen.len() < count && by_kind.iter().any(|q| !q.is_empty()) {
        for queue in &mut by_kind {
            if chosen.len() < count
                && let Some(i) = queue.pop_front()
            {
                chosen.push(i);
            }
        }
    }
    chosen.sort_unstable_by_key(|&i| (of[i], i));
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
    fn examples_take_every_group_or_class_in_turn() {
        // Group 2 is rare and last: it is shown all the same.
        let set = set_with_groups(Some(vec![0, 0, 1, 0, 1, 0, 0, 2]), 8);
        assert_eq!(example_indices(&set, 5), vec![0, 1, 2, 4, 7]);
        assert_eq!(example_indices(&set, 3), vec![0, 2, 7]);
        assert_eq!(example_indices(&set, 20).len(), 8);
        // Without groups, the classes take turns.
        let mut by_class = set_with_groups(None, 8);
        by_class.labels = vec![0, 0, 0, 0, 0, 1, 1, 0];
        assert_eq!(example_indices(&by_class, 3), vec![0, 1, 5]);
        assert_eq!(example_indices(&by_class, 4), vec![0, 1, 5, 6]);
    }
}
