//! masktune's CPU layer tests (masktune/tests/cpu_layers.rs) run again in the browser: in the
//! page's wasm build the convolutions' matrix products go through masktune's simd128 kernel
//! (masktune/src/cpu/matmul/simd128.rs), not gemm, and must still give Burn's outputs,
//! gradients and statistics.
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_dedicated_worker);

#[path = "../../masktune/tests/cpu_layers.rs"]
mod cpu_layers;
