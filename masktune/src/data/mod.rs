//! Datasets in one in-memory form shared by the trainer and the page: [`ImageSet`], RGB u8
//! images in row-major HWC order with labels and, where the dataset defines one, a
//! spurious-attribute group. The callers read the files (or fetch them); what happens to the
//! bytes after that (parsing MNIST, the spurious squares, holdouts, subsets) is here, once.
//!
//! Everything random (validation holdouts, subsets, spurious squares) comes from ChaCha8 with an
//! explicit seed, so a seed gives the same data on every platform, the browser included.

pub mod image_folder;
pub mod mnist_idx;
pub mod spurious_mnist;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// N images of `height` x `width` x 3 (RGB) bytes, one label per image.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSet {
    /// N x H x W x 3, row-major HWC.
    pub images: Vec<u8>,
    pub width: usize,
    pub height: usize,
    pub labels: Vec<u32>,
    /// Spurious-attribute group id per image, where the dataset defines one.
    pub groups: Option<Vec<u32>>,
    pub class_names: Vec<String>,
    /// Names of the group ids; empty when `groups` is `None`.
    pub group_names: Vec<String>,
}

/// The three splits of a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub train: ImageSet,
    pub val: ImageSet,
    pub test: ImageSet,
}

impl Split {
    /// The splits of a dataset that ships only train and test: validation is `val_size` training
    /// images held out at random by `val_seed` ([`ImageSet::split_holdout`]).
    pub fn holding_out(
        train_full: ImageSet,
        test: ImageSet,
        val_size: usize,
        val_seed: u64,
    ) -> Split {
        let (train, val) = train_full.split_holdout(val_size, val_seed);
        Split { train, val, test }
    }
}

impl ImageSet {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Bytes of one image (H * W * 3).
    pub fn image_len(&self) -> usize {
        self.width * self.height * 3
    }

    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_len();
        &self.images[i * n..(i + 1) * n]
    }

    pub fn image_mut(&mut self, i: usize) -> &mut [u8] {
        let n = self.image_len();
        &mut self.images[i * n..(i + 1) * n]
    }

    /// The images at `indices`, in that order (repeats allowed).
    pub fn subset(&self, indices: &[usize]) -> ImageSet {
        let mut images = Vec::with_capacity(indices.len() * self.image_len());
        for &i in indices {
            images.extend_from_slice(self.image(i));
        }
        ImageSet {
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            groups: self
                .groups
                .as_ref()
                .map(|g| indices.iter().map(|&i| g[i]).collect()),
            ..self.empty_like()
        }
    }

    /// `min(n, len)` images drawn without replacement, in shuffled order
    /// ([`subset_positions`]).
    pub fn shuffled_subset(&self, n: usize, seed: u64) -> ImageSet {
        self.subset(&subset_positions(self.len(), n, seed))
    }

    /// Splits off `n` images chosen at random by `seed` as a holdout: returns (rest, holdout),
    /// both keeping the original order ([`holdout_positions`]). Used for validation sets taken
    /// from a training set.
    pub fn split_holdout(&self, n: usize, seed: u64) -> (ImageSet, ImageSet) {
        let (rest, holdout) = holdout_positions(self.len(), n, seed);
        (self.subset(&rest), self.subset(&holdout))
    }

    /// Number of images per class, indexed by label.
    pub fn class_counts(&self) -> Vec<usize> {
        counts(&self.labels, self.class_names.len())
    }

    /// Number of images per group, indexed by group id; `None` without groups.
    pub fn group_counts(&self) -> Option<Vec<usize>> {
        self.groups
            .as_ref()
            .map(|g| counts(g, self.group_names.len()))
    }

    /// Same shape and names, no images.
    fn empty_like(&self) -> ImageSet {
        ImageSet {
            images: Vec::new(),
            width: self.width,
            height: self.height,
            labels: Vec::new(),
            groups: self.groups.as_ref().map(|_| Vec::new()),
            class_names: self.class_names.clone(),
            group_names: self.group_names.clone(),
        }
    }
}

fn counts(ids: &[u32], n: usize) -> Vec<usize> {
    let mut c = vec![0; n];
    for &id in ids {
        c[id as usize] += 1;
    }
    c
}

/// ChaCha8 stream ids: each use of a seed reads its own stream, so that e.g. the validation
/// holdout and the spurious squares drawn with the same seed are independent.
pub mod stream {
    pub const HOLDOUT: u64 = 1;
    pub const SUBSET: u64 = 2;
    pub const SQUARES_TRAIN: u64 = 3;
    pub const SQUARES_VAL: u64 = 4;
}

pub fn seeded_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// A seeded random permutation of 0..n.
/// The positions [`ImageSet::shuffled_subset`] keeps of a set of `len` images, in its order: a
/// caller can choose images before it decodes them.
pub fn subset_positions(len: usize, n: usize, seed: u64) -> Vec<usize> {
    let mut order = permutation(len, seed, stream::SUBSET);
    order.truncate(n.min(len));
    order
}

/// The positions [`ImageSet::split_holdout`] puts in (rest, holdout) of a set of `len` images,
/// each in order.
pub fn holdout_positions(len: usize, n: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let order = permutation(len, seed, stream::HOLDOUT);
    let n = n.min(len);
    let mut holdout = order[..n].to_vec();
    let mut rest = order[n..].to_vec();
    holdout.sort_unstable();
    rest.sort_unstable();
    (rest, holdout)
}

pub fn permutation(n: usize, seed: u64, stream: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut seeded_rng(seed, stream));
    order
}
