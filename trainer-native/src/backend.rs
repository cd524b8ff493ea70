//! Which compute device the trainer runs on, and what computes the masking pass's maps and masks.
//! The CPU backend (Flex, pure Rust) is always built in; wgpu (Vulkan/Metal/DX12, lavapipe
//! without a GPU) and CUDA only with the cargo features of the same names, so a plain build needs
//! no GPU toolchain. The WGSL kernels (`kernels`) are always built in: they bring their own wgpu.

use burn::prelude::Device;
use kernels::{Engine, SaliencyKernels, wgpu};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// Burn's Flex backend on the CPU.
    #[default]
    Cpu,
    /// wgpu on the default adapter (build with `--features wgpu`).
    Wgpu,
    /// CUDA device 0 (build with `--features cuda`).
    Cuda,
}

/// What computes XGradCAM maps and masks from the model's activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Masking {
    /// The WGSL kernels on Burn's own device with `--backend wgpu`, Burn tensor ops otherwise.
    #[default]
    Auto,
    /// The WGSL kernels; with a non-wgpu backend on the default wgpu adapter of their own.
    Kernels,
    /// Burn tensor ops on the backend's device.
    Tensor,
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(
        "backend `{0}` is not built into this binary: rebuild with `cargo build --release -p trainer-native --features {0}`"
    )]
    NotBuilt(&'static str),
    #[error(
        "the wgpu backend could not start: {0} (is a Vulkan, Metal or DX12 driver installed? Mesa's lavapipe works without a GPU)"
    )]
    Wgpu(String),
    #[error(
        "the masking kernels found no wgpu device: {0}; use `--masking tensor`, or install a Vulkan driver (Mesa's lavapipe works without a GPU)"
    )]
    Kernels(kernels::KernelError),
}

impl Backend {
    /// The device without autodiff; training wraps it with `Device::autodiff`.
    pub fn device(self) -> Result<Device, BackendError> {
        match self {
            Backend::Cpu => Ok(Device::flex()),
            Backend::Wgpu => shared_wgpu().map(|(device, _)| device),
            #[cfg(feature = "cuda")]
            Backend::Cuda => Ok(Device::cuda(0)),
            #[cfg(not(feature = "cuda"))]
            Backend::Cuda => Err(BackendError::NotBuilt("cuda")),
        }
    }

    /// The masking engine for `masking` on this backend.
    pub fn masking_engine(self, masking: Masking) -> Result<Engine, BackendError> {
        match (masking, self) {
            (Masking::Tensor, _) | (Masking::Auto, Backend::Cpu | Backend::Cuda) => {
                Ok(Engine::Tensor)
            }
            (Masking::Auto | Masking::Kernels, Backend::Wgpu) => {
                let (_, (device, queue)) = shared_wgpu()?;
                Ok(Engine::Kernels(SaliencyKernels::new(device, queue)))
            }
            (Masking::Kernels, Backend::Cpu | Backend::Cuda) => SaliencyKernels::request_blocking()
                .map(Engine::Kernels)
                .map_err(BackendError::Kernels),
        }
    }
}

/// Burn's wgpu device and the wgpu device and queue under it, started once per process (Burn's
/// runtime cannot be initialised twice) so that the kernels share Burn's device.
#[cfg(feature = "wgpu")]
fn shared_wgpu() -> Result<(Device, (wgpu::Device, wgpu::Queue)), BackendError> {
    use std::sync::OnceLock;
    static RUNTIME: OnceLock<Result<(Device, (wgpu::Device, wgpu::Queue)), String>> =
        OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let (device, setup) = Device::wgpu_options()
                .init_with_setup()
                .map_err(|e| e.to_string())?;
            Ok((device, (setup.device, setup.queue)))
        })
        .clone()
        .map_err(BackendError::Wgpu)
}

#[cfg(not(feature = "wgpu"))]
fn shared_wgpu() -> Result<(Device, (wgpu::Device, wgpu::Queue)), BackendError> {
    Err(BackendError::NotBuilt("wgpu"))
}
