//! Which compute device the trainer runs on. The CPU backend (Flex, pure Rust) is always built in;
//! wgpu (Vulkan/Metal/DX12, lavapipe without a GPU) and CUDA only with the cargo features of the
//! same names, so a plain build needs no GPU toolchain.

use burn::prelude::Device;
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

#[derive(Debug, thiserror::Error)]
#[error("backend `{0}` is not built into this binary: rebuild with `cargo build --release -p trainer-native --features {0}`")]
pub struct BackendUnavailable(&'static str);

impl Backend {
    /// The device without autodiff; training wraps it with `Device::autodiff`.
    pub fn device(self) -> Result<Device, BackendUnavailable> {
        match self {
            Backend::Cpu => Ok(Device::flex()),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
            #[cfg(not(feature = "wgpu"))]
            Backend::Wgpu => Err(BackendUnavailable("wgpu")),
            #[cfg(feature = "cuda")]
            Backend::Cuda => Ok(Device::cuda(0)),
            #[cfg(not(feature = "cuda"))]
            Backend::Cuda => Err(BackendUnavailable("cuda")),
        }
    }
}
