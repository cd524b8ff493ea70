//! What the module's memory holds and how far it can grow, for the Lab's report, its leak test
//! and its check that a run fits before it trains.
//!
//! Wasm linear memory only grows, and how far it grows depends on where the allocator happened to
//! place a run's buffers (a fragmented free list asks for more pages). The bytes still allocated
//! after a run are what a leak would raise, so every allocation is counted; so is the most
//! allocated at once, which a training step's measurement reads. An allocation the memory could
//! not grow for is noted: Rust then aborts without a panic, and the page would hear only that
//! the module trapped ([`super::stop_report`] says why).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use cap::Cap;
use peakmem_alloc::PeakMemAlloc;
use wasm_bindgen::JsCast;

use crate::protocol::lab::WorkerMemory;

/// The most bytes allocated at once since its last reset.
pub static PEAK: PeakMemAlloc<System> = PeakMemAlloc::new(System);

// The module's allocator (the page and the worker alike), counting the bytes it holds; no limit.
#[global_allocator]
static ALLOCATOR: NotingFailures<Cap<&PeakMemAlloc<System>>> =
    NotingFailures::new(Cap::new(&PEAK, usize::MAX));

/// The size in bytes of the last allocation the module's memory could not grow for, if one
/// failed.
pub fn failed_allocation() -> Option<usize> {
    ALLOCATOR.last_failure()
}

/// An allocator that notes the size of the last allocation it could not make.
struct NotingFailures<A> {
    inner: A,
    /// 0 while none failed.
    last_failure: AtomicUsize,
}

impl<A> NotingFailures<A> {
    const fn new(inner: A) -> Self {
        Self {
            inner,
            last_failure: AtomicUsize::new(0),
        }
    }

    fn last_failure(&self) -> Option<usize> {
        Some(self.last_failure.load(Ordering::Relaxed)).filter(|&size| size > 0)
    }

    fn noted(&self, allocation: *mut u8, size: usize) -> *mut u8 {
        if allocation.is_null() {
            self.last_failure.store(size, Ordering::Relaxed);
        }
        allocation
    }
}

// SAFETY: every call goes to the inner allocator unchanged.
unsafe impl<A: GlobalAlloc> GlobalAlloc for NotingFailures<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.noted(unsafe { self.inner.alloc(layout) }, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.noted(unsafe { self.inner.alloc_zeroed(layout) }, layout.size())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { self.inner.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.noted(
            unsafe { self.inner.realloc(ptr, layout, new_size) },
            new_size,
        )
    }
}

/// The most the linear memory can grow to: wasm32's 4 GiB (the threaded build declares its
/// shared memory that large, build.rs).
const MAX_LINEAR_MEMORY: u64 = 4 << 30;

/// The bytes a run may have allocated at once: what the linear memory can grow to, less a
/// margin for the allocator's fragmentation.
pub const USABLE_BYTES: u64 = MAX_LINEAR_MEMORY / 10 * 8;

/// Why the module's memory stops where it does, in words for the user.
pub const LIMIT_REASON: &str = "WebAssembly's memory stops at 4 GiB";

/// The bytes allocated now and the size of the linear memory.
pub fn now() -> WorkerMemory {
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    let linear = memory
        .buffer()
        .unchecked_into::<js_sys::ArrayBuffer>()
        .byte_length();
    WorkerMemory {
        allocated_bytes: ALLOCATOR.inner.allocated() as u64,
        linear_memory_bytes: linear as u64,
    }
}

#[cfg(test)]
mod tests {
    use std::alloc::{GlobalAlloc, Layout, System};

    use burn::prelude::*;
    use masktune::data::ImageSet;
    use masktune::models::preprocess::Normalization;
    use masktune::training::memory::{StepMemory, measure_step};
    use masktune::training::{Augmentation, Batching, Recipe};
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::{NotingFailures, PEAK};

    /// Gives what it is asked for up to `limit` bytes at a time, as a memory that cannot grow
    /// further would.
    struct Limited {
        limit: usize,
    }

    unsafe impl GlobalAlloc for Limited {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            if layout.size() > self.limit {
                return std::ptr::null_mut();
            }
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[wasm_bindgen_test]
    fn the_last_allocation_that_failed_is_noted() {
        let allocator = NotingFailures::new(Limited { limit: 1000 });
        let layout = |size| Layout::from_size_align(size, 8).unwrap();
        let allocate = |size| unsafe { allocator.alloc(layout(size)) };
        let kept = allocate(1000);
        assert!(!kept.is_null());
        assert_eq!(allocator.last_failure(), None);
        assert!(allocate(5000).is_null());
        assert!(allocate(3000).is_null());
        assert_eq!(allocator.last_failure(), Some(3000));
        // Growing is allocating too.
        assert!(unsafe { allocator.realloc(kept, layout(1000), 7000) }.is_null());
        assert_eq!(allocator.last_failure(), Some(7000));
        unsafe { allocator.dealloc(kept, layout(1000)) };
    }

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
