//! Spurious MNIST (DESIGN.md): digits 0-4 are class 0 and 5-9 class 1; a 4x4 red square at the
//! top-left is put on 99 % of class-0 and 1 % of class-1 training images, so "red square" is a
//! near-perfect shortcut for class 0.
//!
//! Exact fractions: per class, round(p * n) images get the square, chosen by a seeded ChaCha8
//! permutation. Validation (held out of MNIST train by the caller) is built the same way
//! with its own random stream. Two test sets from MNIST test: "original" (no squares) and
//! "biased" (the square on every class-1 image and on no class-0 image).
//! Group id = 2 * label + has_square.

use super::{ImageSet, Split, permutation, stream};

pub const RED: [u8; 3] = [255, 0, 0];

#[derive(Debug, Clone, PartialEq)]
pub struct SpuriousConfig {
    /// Side of the square in pixels.
    pub square: usize,
    /// Fraction of class-0 (digits 0-4) train/val images that get the square.
    pub p_class0: f64,
    /// Fraction of class-1 (digits 5-9) train/val images that get the square.
    pub p_class1: f64,
    /// Seeds the validation holdout and the choice of squared images.
    pub seed: u64,
}

impl Default for SpuriousConfig {
    fn default() -> Self {
        SpuriousConfig {
            square: 4,
            p_class0: 0.99,
            p_class1: 0.01,
            seed: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SpuriousMnist {
    pub train: ImageSet,
    pub val: ImageSet,
    /// MNIST test with binary labels and no squares.
    pub test_original: ImageSet,
    /// MNIST test with the square on every class-1 image and no class-0 image.
    pub test_biased: ImageSet,
}

/// Builds spurious MNIST from an MNIST split (10 digit classes, RGB).
pub fn build(mnist: &Split, config: &SpuriousConfig) -> SpuriousMnist {
    let train = binarize(&mnist.train);
    let val = binarize(&mnist.val);
    let test = binarize(&mnist.test);
    let (p0, p1) = (config.p_class0, config.p_class1);
    let with_squares = |set: &ImageSet, stream| {
        let squared = choose_squared(
            &set.labels,
            |label| if label == 0 { p0 } else { p1 },
            config.seed,
            stream,
        );
        apply_squares(set, &squared, config.square)
    };
    SpuriousMnist {
        train: with_squares(&train, stream::SQUARES_TRAIN),
        val: with_squares(&val, stream::SQUARES_VAL),
        test_original: apply_squares(&test, &vec![false; test.len()], config.square),
        test_biased: apply_squares(
            &test,
            &test.labels.iter().map(|&l| l == 1).collect::<Vec<_>>(),
            config.square,
        ),
    }
}

/// The two classes: digits 0-4 and 5-9.
pub const CLASS_NAMES: [&str; 2] = ["0-4", "5-9"];

/// Digits 0-4 -> 0, 5-9 -> 1.
fn binarize(set: &ImageSet) -> ImageSet {
    ImageSet {
        labels: set.labels.iter().map(|&d| u32::from(d >= 5)).collect(),
        class_names: CLASS_NAMES.map(String::from).to_vec(),
        ..set.clone()
    }
}

/// For each class, exactly round(p * n) of its images, chosen by a seeded permutation.
fn choose_squared(labels: &[u32], p: impl Fn(u32) -> f64, seed: u64, stream: u64) -> Vec<bool> {
    let order = permutation(labels.len(), seed, stream);
    let mut squared = vec![false; labels.len()];
    for class in 0..2 {
        let members: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| labels[i] == class)
            .collect();
        let k = (p(class) * members.len() as f64).round() as usize;
        for &i in &members[..k.min(members.len())] {
            squared[i] = true;
        }
    }
    squared
}

/// Paints the red square where `squared` says so and sets the groups.
fn apply_squares(set: &ImageSet, squared: &[bool], side: usize) -> ImageSet {
    let mut out = set.clone();
    for (i, _) in squared.iter().enumerate().filter(|(_, s)| **s) {
        let width = out.width;
        let image = out.image_mut(i);
        for y in 0..side.min(set.height) {
            for x in 0..side.min(width) {
                let p = (y * width + x) * 3;
                image[p..p + 3].copy_from_slice(&RED);
            }
        }
    }
    out.groups = Some(
        set.labels
            .iter()
            .zip(squared)
            .map(|(&l, &s)| 2 * l + u32::from(s))
            .collect(),
    );
    out.group_names = [
        "0-4, no square",
        "0-4, square",
        "5-9, no square",
        "5-9, square",
    ]
    .map(String::from)
    .to_vec();
    out
}
