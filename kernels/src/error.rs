//! Everything the kernels' host code can fail with.

/// An error from [`crate::SaliencyKernels`].
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error(
        "no wgpu adapter found ({0}); without a GPU, install Mesa's lavapipe \
         (apt-get install mesa-vulkan-drivers; scripts/setup.sh does)"
    )]
    NoAdapter(String),
    #[error("the wgpu device could not be created: {0}")]
    Device(String),
    #[error("invalid input: {0}")]
    Shape(String),
    #[error("{what} needs {bytes} bytes, more than this device binds ({limit} bytes)")]
    TooLarge {
        what: &'static str,
        bytes: u64,
        limit: u64,
    },
    #[error("{count} workgroups in one dispatch dimension, the device allows {limit}")]
    TooManyWorkgroups { count: usize, limit: u32 },
    #[error("the device rejected the kernels' work, so nothing ran: {0}")]
    Rejected(String),
    #[error("reading results back from the device failed: {0}")]
    Readback(String),
}
