//! `StepMemory`: steps of up to 8 images against the peak of a real step of 32, counted by the
//! same allocator. A binary of its own, so that no other test allocates while it counts, and its
//! tests take turns ([`COUNTING`]).

use std::alloc::System;
use std::sync::Mutex;

use burn::prelude::*;
use masktune::data::ImageSet;
use masktune::models::Architecture;
use masktune::models::preprocess::Normalization;
use masktune::training::memory::{StepMemory, measure_step};
use masktune::training::{Augmentation, Batching, Recipe, authors_sgd};
use peakmem_alloc::PeakMemAlloc;
use rand::{Rng, SeedableRng};

#[global_allocator]
static ALLOCATOR: PeakMemAlloc<System> = PeakMemAlloc::system();

/// Held by the test that counts: the peak is the whole process's, and tests run in parallel.
static COUNTING: Mutex<()> = Mutex::new(());

/// `n` random RGB images of `side` px in two classes.
fn random_set(n: usize, side: usize) -> ImageSet {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    ImageSet {
        images: (0..n * side * side * 3).map(|_| rng.random()).collect(),
        width: side,
        height: side,
        labels: (0..n as u32).map(|i| i % 2).collect(),
        groups: None,
        class_names: vec!["a".into(), "b".into()],
        group_names: Vec::new(),
    }
}

/// The Lab's networks and larger ones, with their sides.
fn networks() -> Vec<(Architecture, usize)> {
    let vgg = |depth, width| Architecture::Vgg {
        in_channels: 3,
        num_classes: 2,
        depth,
        width,
    };
    vec![
        (Architecture::spurious_mnist(), 28),
        (vgg(11, 16), 64),
        (vgg(16, 32), 32),
        (vgg(11, 64), 64),
        (
            Architecture::CifarResNet {
                in_channels: 3,
                num_classes: 2,
                depth: 8,
                width: 8,
            },
            32,
        ),
        (
            Architecture::ResNet {
                in_channels: 3,
                num_classes: 2,
                depth: 50,
                width: 16,
            },
            64,
        ),
    ]
}

fn recipe_and_batching(architecture: &Architecture, side: usize) -> (Recipe, Batching) {
    let recipe = Recipe {
        architecture: architecture.clone(),
        optimizer: authors_sgd(0.01, 1.0),
        epochs: 1,
        batch_size: 64,
    };
    let batching = Batching {
        batch_size: recipe.batch_size,
        normalization: Normalization::IMAGENET,
        augmentation: Augmentation::crop_flip(side),
    };
    (recipe, batching)
}

#[test]
fn steps_of_up_to_8_images_predict_a_step_of_32_at_most_half_again_as_high_never_low() {
    let _counting = COUNTING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let device = Device::flex().autodiff();
    for (architecture, side) in networks() {
        let (recipe, batching) = recipe_and_batching(&architecture, side);
        let set = random_set(32, side);
        let memory = pollster::block_on(StepMemory::measure(
            &recipe,
            &set,
            &batching,
            &device,
            &ALLOCATOR,
            32,
            u64::MAX,
        ))
        .unwrap();
        let measured =
            pollster::block_on(measure_step(&recipe, &set, &batching, &device, &ALLOCATOR))
                .unwrap()
                .peak;
        let predicted = memory.at(32);
        eprintln!(
            "{architecture} at {side} px: {memory:?}; 32 images: predicted {predicted}, measured {measured}"
        );
        assert_eq!(memory.batch, 8, "{architecture}");
        assert!(
            memory.per_image > 0 && memory.weights > 0,
            "{architecture}: {memory:?}"
        );
        // On threads (the workspace builds masktune's `rayon` feature) a step's peak varies
        // from run to run with the threads' timing: VGG-16's step of 4 images by up to 2.6 MB
        // on 2 cores, which moves the line's slope; seen from 1.11 to 1.34 times the real step.
        let ratio = predicted as f64 / measured as f64;
        assert!(
            (1.0..=1.5).contains(&ratio),
            "{architecture} at {side} px: predicted {predicted} bytes for 32 images, measured {measured}"
        );
    }
}

#[test]
fn no_step_is_tried_that_could_take_more_than_the_limit() {
    let _counting = COUNTING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let device = Device::flex().autodiff();
    let (architecture, side) = (networks()[1].0.clone(), 64);
    let (recipe, batching) = recipe_and_batching(&architecture, side);
    let set = random_set(8, side);
    let measure = |batch, limit| {
        pollster::block_on(StepMemory::measure(
            &recipe, &set, &batching, &device, &ALLOCATOR, batch, limit,
        ))
        .unwrap()
    };
    assert_eq!(measure(8, u64::MAX).batch, 8);
    // A step of twice the images takes at most twice the bytes: with room for less than twice
    // the step of 4 (a tenth less: on threads, a step's peak varies a little from run to run),
    // the step of 8 is not tried.
    let four = measure(4, u64::MAX);
    assert_eq!(four.batch, 4);
    let limit = four.peak / 10 * 18;
    let stopped = measure(8, limit);
    assert_eq!(stopped.batch, 4, "{stopped:?}, limit {limit}");
    assert!(stopped.peak <= limit);
    // A batch smaller than the probes' is measured as it is.
    assert_eq!(measure(3, u64::MAX).batch, 3);
}
