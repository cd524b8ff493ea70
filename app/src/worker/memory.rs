//! What the module's memory holds and how far it can grow, for the Lab's report, its leak test
//! and its check that a run fits before it trains.
//!
//! Wasm linear memory only grows, and how far it grows depends on where the allocator happened to
//! place a run's buffers (a fragmented free list asks for more pages). The bytes still allocated
//! after a run are what a leak would raise, so every allocation is counted; so is the most
//! allocated at once, which a training step's measurement reads.

use std::alloc::System;

use cap::Cap;
use peakmem_alloc::PeakMemAlloc;
use wasm_bindgen::JsCast;

use crate::protocol::lab::WorkerMemory;

/// The most bytes allocated at once since its last reset.
pub static PEAK: PeakMemAlloc<System> = PeakMemAlloc::new(System);

// The module's allocator (the page and the worker alike), counting the bytes it holds; no limit.
#[global_allocator]
static ALLOCATOR: Cap<&PeakMemAlloc<System>> = Cap::new(&PEAK, usize::MAX);

/// The most the linear memory can grow to: the threaded build declares a shared memory of at
/// most 1 GiB (build.rs), the others may grow to wasm32's 4 GiB.
const MAX_LINEAR_MEMORY: u64 = if cfg!(target_feature = "atomics") {
    1 << 30
} else {
    4 << 30
};

/// The bytes a run may have allocated at once: what the linear memory can grow to, less a
/// margin for the allocator's fragmentation.
pub const USABLE_BYTES: u64 = MAX_LINEAR_MEMORY / 10 * 8;

/// Why the module's memory stops where it does, in words for the user.
pub const LIMIT_REASON: &str = if cfg!(target_feature = "atomics") {
    "the threaded build's memory stops at 1 GiB"
} else {
    "WebAssembly's memory stops at 4 GiB"
};

/// The bytes allocated now and the size of the linear memory.
pub fn now() -> WorkerMemory {
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    let linear = memory
        .buffer()
        .unchecked_into::<js_sys::ArrayBuffer>()
        .byte_length();
    WorkerMemory {
        allocated_bytes: ALLOCATOR.allocated() as u64,
        linear_memory_bytes: linear as u64,
    }
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;
    use masktune::data::ImageSet;
    use masktune::models::preprocess::Normalization;
    use masktune::training::memory::{StepMemory, measure_step};
    use masktune::training::{Augmentation, Batching, Recipe};
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::PEAK;

    /// In the module's memory, counted by its own allocator, as natively
    /// (masktune/tests/training_memory.rs): the Lab's folder network.
    #[wasm_bindgen_test]
    async fn steps_of_up_to_eight_images_give_at_least_the_memory_of_a_step_of_32() {
        let (images, side) = (32, 32);
        let set = ImageSet {
            images: vec![128; images * side * side * 3],
            width: side,
            height: side,
            labels: (0..images as u32).map(|i| i % 2).collect(),
            groups: None,
            class_names: vec!["a".into(), "b".into()],
            group_names: Vec::new(),
        };
        let recipe = Recipe::image_folder(2);
        let batching = Batching {
            batch_size: recipe.batch_size,
            normalization: Normalization::IMAGENET,
            augmentation: Augmentation::crop_flip(side),
        };
        let device = Device::flex().autodiff();
        let memory =
            StepMemory::measure(&recipe, &set, &batching, &device, &PEAK, images, u64::MAX)
                .await
                .unwrap();
        let measured = measure_step(&recipe, &set, &batching, &device, &PEAK)
            .await
            .unwrap()
            .peak;
        let ratio = memory.at(images) as f64 / measured as f64;
        assert!(
            (1.0..=1.3).contains(&ratio),
            "{memory:?}: {measured} bytes measured for {images} images"
        );
    }
}
