//! Custom WGSL compute kernels for MaskTune's saliency maps and masking (DESIGN.md steps 2 and 3),
//! with wgpu host code that runs natively (Vulkan/Metal/DX12, lavapipe in CI) and on WebGPU in a
//! browser. All kernels are f32 (the browser's SwiftShader has no f16) and batched.
//!
//! | shader | what |
//! |---|---|
//! | `shaders/cam_weights.wgsl` | XGradCAM channel weights from activations and gradients, or forward-only from a GAP + linear head |
//! | `shaders/cam_map.wgsl` | `ReLU(sum_k w_k A_k)` |
//! | `shaders/scale.wgsl` | min-max, OpenCV INTER_LINEAR resize to the input size, min-max |
//! | `shaders/mask.wgsl` | threshold `mean + 2 std` of the positive values, masking of raw u8 images |
//!
//! `masktune::reference` is the CPU reference each kernel is tested against (`tests/parity.rs`).
//!
//! [`SaliencyKernels`] is a `masktune::engine::MaskingEngine`: the trainer's masking pass and the
//! web page run it on wgpu / WebGPU, and Burn's tensor ops ([`Engine::Tensor`]) on the CPU
//! (`tests/engines.rs` checks that the two give the same maps and masks).
//!
//! # Sharing Burn's device and buffers
//!
//! The device and queue are shared: the page (on WebGPU) and `trainer-native --backend wgpu` give
//! [`SaliencyKernels::new`] the handles of Burn's `WgpuSetup` (this crate pins burn 0.22.1's wgpu,
//! 30.0.2, so the types are the same), so the kernels and the models use one device.
//!
//! Burn's tensor *buffers* are not shared: inputs are uploaded from host slices, which costs one
//! read-back of the activations from Burn. In Burn 0.22 a tensor's wgpu buffer is reachable only
//! through backend internals: with burn's `extension` feature, `Tensor::try_into_primitive::<Wgpu>()`
//! gives a `CubeTensor` whose `client.get_resource(handle)` (cubecl 0.11, needing a direct `cubecl`
//! dependency for the server type) flushes Burn's pending work and returns a `wgpu::Buffer` plus
//! offset and size inside Burn's memory pool, valid while the returned guard lives. That does not
//! work with Burn's `fusion` feature (the primitive is then a fusion handle), pulls Burn's wgpu
//! backend into this crate, and ties it to a pool layout Burn does not promise to keep, so it is
//! not done here. The activations of a batch are small (e.g. 64 x 512 x 7 x 7 f32 = 6 MiB), and
//! reading them back is also what completes Burn's pending work before the kernels' submission.

mod engine;
mod error;
mod gpu;
mod layout;
mod pipelines;
mod saliency_kernels;
mod stages;

pub use engine::Engine;
pub use error::KernelError;
pub use layout::{ChannelWeights, FeatureShape, ImageLayout, PixelFormat};
pub use masktune::masking::MaskStats;
pub use saliency_kernels::SaliencyKernels;
/// The wgpu this crate is built with (Burn 0.22.1's), for callers that hand in a device and queue.
pub use wgpu;
