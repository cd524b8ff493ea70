//! What the module's memory holds, for the Lab's report and its leak test.
//!
//! Wasm linear memory only grows, and how far it grows depends on where the allocator happened to
//! place a run's buffers (a fragmented free list asks for more pages). The bytes still allocated
//! after a run are what a leak would raise, so every allocation is counted.

use std::alloc::System;

use cap::Cap;
use wasm_bindgen::JsCast;

use crate::protocol::lab::WorkerMemory;

// The module's allocator (the page and the worker alike), counting the bytes it holds; no limit.
#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

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
