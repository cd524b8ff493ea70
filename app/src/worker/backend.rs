//! Choice of the worker's compute backend: WebGPU through Burn, with the custom WGSL kernels on
//! Burn's own device for the maps and masks, when the browser offers an adapter (Chromium offers
//! it to workers too); otherwise Burn's pure-Rust CPU backend (Flex) compiled to wasm with SIMD,
//! with Burn tensor ops for the maps.

use std::rc::Rc;

use burn::prelude::*;
#[cfg(feature = "webgpu")]
use burn::tensor::wgpu::{WgpuInitError, wgpu};
use kernels::Engine;
#[cfg(feature = "webgpu")]
use kernels::SaliencyKernels;
use wasm_bindgen::JsCast;

#[cfg(test)]
use crate::protocol::SELF_CHECK_EXPECTED;
use crate::protocol::{BackendKind, BackendReport};

use super::threads;

/// The device every computation of the worker runs on, and how it was chosen.
#[derive(Clone)]
pub struct ComputeBackend {
    pub device: Device,
    /// What computes the XGradCAM maps and masks.
    pub engine: Rc<Engine>,
    pub kind: BackendKind,
    /// Adapter description (WebGPU) or why WebGPU was not used (CPU fallback).
    pub detail: String,
    /// The WebGPU adapter is a software one (SwiftShader, lavapipe), running on the CPU.
    pub software_adapter: bool,
    /// Threads of the CPU backend ([`threads`]).
    pub cpu_threads: usize,
}

impl ComputeBackend {
    fn cpu(detail: String) -> Self {
        ComputeBackend {
            device: Device::flex(),
            engine: Rc::new(Engine::Tensor),
            kind: BackendKind::Cpu,
            detail,
            software_adapter: false,
            cpu_threads: 1,
        }
    }

    /// What the user reads: WebGPU, or on the CPU how the wasm was built and its threads.
    pub fn label(&self) -> String {
        match self.kind {
            BackendKind::WebGpu => "WebGPU".into(),
            BackendKind::Cpu => {
                let simd = if cfg!(target_feature = "simd128") {
                    "SIMD, "
                } else {
                    ""
                };
                let threads = match self.cpu_threads {
                    1 => "1 thread".to_string(),
                    n => format!("{n} threads"),
                };
                format!("CPU (WebAssembly, {simd}{threads})")
            }
        }
    }

    /// What the Lab trains on: this backend, except that a software WebGPU adapter gives way to
    /// the CPU backend, which trains the Lab's network about 30x faster (SwiftShader in headless
    /// Chromium: 137 s against 4.5 s for an epoch of 2,000 images).
    pub fn for_training(&self) -> ComputeBackend {
        if self.software_adapter {
            ComputeBackend {
                cpu_threads: self.cpu_threads,
                ..ComputeBackend::cpu(format!(
                    "the WebGPU {} trains far slower than the CPU backend",
                    self.detail
                ))
            }
        } else {
            self.clone()
        }
    }
}

/// The CPU builds (the page's own and the threaded one) have no WebGPU backend: app/worker.js
/// runs the WebGPU build instead where the page asks for WebGPU.
#[cfg(not(feature = "webgpu"))]
pub async fn pick_backend() -> ComputeBackend {
    ComputeBackend::cpu("the page's default".into())
}

/// Initialises WebGPU if the browser has an adapter; any failure falls back to the CPU.
#[cfg(feature = "webgpu")]
pub async fn pick_backend() -> ComputeBackend {
    match Device::wgpu_options().init_with_setup_async().await {
        Ok((device, setup)) => {
            let info = setup.adapter.get_info();
            // Browsers may hide the adapter's name; its type still tells a GPU from a software one.
            let name = if info.name.is_empty() {
                "adapter"
            } else {
                info.name.as_str()
            };
            let kind = match info.device_type {
                wgpu::DeviceType::Cpu => "software, runs on the CPU",
                wgpu::DeviceType::DiscreteGpu => "discrete GPU",
                wgpu::DeviceType::IntegratedGpu => "integrated GPU",
                _ => "GPU",
            };
            // Burn's device and queue: the kernels read Burn's results after Burn has finished.
            let kernels = SaliencyKernels::new(setup.device, setup.queue);
            ComputeBackend {
                device,
                engine: Rc::new(Engine::Kernels(kernels)),
                kind: BackendKind::WebGpu,
                detail: format!("{name} ({kind})"),
                software_adapter: info.device_type == wgpu::DeviceType::Cpu,
                cpu_threads: 1,
            }
        }
        Err(error) => ComputeBackend::cpu(match error {
            WgpuInitError::AdapterUnavailable { .. } => {
                "this browser offers no WebGPU adapter".into()
            }
            other => format!("WebGPU failed to start: {other}"),
        }),
    }
}

/// A 2x2 matrix product whose result is known, run on the chosen backend: it proves the backend
/// really computes before any model is loaded.
pub async fn self_check(device: &Device) -> Result<Vec<f32>, String> {
    let a = Tensor::<2>::from_floats([[1.0, 2.0], [3.0, 4.0]], device);
    let b = Tensor::<2>::from_floats([[5.0, 6.0], [7.0, 8.0]], device);
    let data = a
        .matmul(b)
        .into_data_async()
        .await
        .map_err(|error| format!("reading the result failed: {error:?}"))?;
    data.try_to_vec::<f32>()
        .map_err(|error| format!("unexpected result type: {error:?}"))
}

/// Starts the CPU backend's threads, picks the backend and proves that it computes: what the
/// worker reports when it starts.
pub async fn start() -> (ComputeBackend, BackendReport) {
    let pool = threads::start().await;
    let mut backend = pick_backend().await;
    backend.cpu_threads = pool.threads;
    if let (BackendKind::Cpu, Some(reason)) = (backend.kind, &pool.single_because) {
        backend.detail = format!("{}; one thread: {reason}", backend.detail);
    }
    let check = self_check(&backend.device).await;
    let report = BackendReport {
        kind: backend.kind,
        label: backend.label(),
        detail: backend.detail.clone(),
        check,
    };
    (backend, report)
}

/// The worker's clock in milliseconds, for the step timings shown to the user.
pub fn now_ms() -> f64 {
    js_sys::global()
        .unchecked_into::<web_sys::WorkerGlobalScope>()
        .performance()
        .map_or(0.0, |p| p.now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    async fn cpu_self_check_gives_the_exact_product() {
        let result = self_check(&Device::flex()).await.unwrap();
        assert_eq!(result, SELF_CHECK_EXPECTED);
    }

    #[wasm_bindgen_test]
    fn the_cpu_label_tells_simd_and_threads() {
        let one = ComputeBackend::cpu("no adapter".into());
        assert_eq!(one.label(), "CPU (WebAssembly, SIMD, 1 thread)");
        let pool = ComputeBackend {
            cpu_threads: 4,
            ..one
        };
        assert_eq!(pool.label(), "CPU (WebAssembly, SIMD, 4 threads)");
    }

    #[wasm_bindgen_test]
    async fn picked_backend_computes_the_exact_product() {
        let backend = pick_backend().await;
        let result = self_check(&backend.device).await.unwrap();
        assert_eq!(result, SELF_CHECK_EXPECTED, "on {:?}", backend.kind);
    }
}
