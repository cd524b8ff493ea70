//! The threaded build (feature `threads`, compiled with wasm atomics) needs a shared memory that
//! the compute worker's pool imports (wasm-bindgen-rayon), and the thread-local storage symbols
//! that wasm-bindgen's thread support calls; rustc's wasm32 linker call gives neither by itself.

fn main() {
    println!("cargo::rerun-if-env-changed=CARGO_CFG_TARGET_FEATURE");
    let atomics = std::env::var("CARGO_CFG_TARGET_FEATURE")
        .is_ok_and(|features| features.split(',').any(|feature| feature == "atomics"));
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|arch| arch == "wasm32");
    if !(atomics && wasm) {
        return;
    }
    for arg in [
        "--shared-memory",
        "--import-memory",
        // wasm32's 4 GiB, as the other builds may grow to: the Lab's runs take what fits.
        "--max-memory=4294967296",
        "--export=__wasm_init_tls",
        "--export=__tls_size",
        "--export=__tls_align",
        "--export=__tls_base",
    ] {
        println!("cargo::rustc-link-arg-bins={arg}");
    }
}
