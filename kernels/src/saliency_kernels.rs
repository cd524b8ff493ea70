//! The public entry point: [`SaliencyKernels`], compiled once on a wgpu device, used many times.

use crate::KernelError;
use crate::gpu::Gpu;
use crate::layout::{ChannelWeights, FeatureShape, ImageLayout, expect_len};
use crate::pipelines::Pipelines;
use crate::stages::Stages;
use masktune::masking::MaskStats;

/// The saliency and masking kernels on one wgpu device. Every call uploads its inputs, records
/// all its kernels into one submission and reads the results back asynchronously.
pub struct SaliencyKernels {
    gpu: Gpu,
    pipelines: Pipelines,
}

impl SaliencyKernels {
    /// Compiles the kernels on an existing device and queue, e.g. Burn's own: the `device` and
    /// `queue` of the `WgpuSetup` that `burn::Device::wgpu_options().init_with_setup()` (or
    /// `init_with_setup_async()` in a browser) returns. Burn's `burn::tensor::wgpu::wgpu` is the
    /// same wgpu crate as this one's, so the handles fit as they are. Inputs come from host
    /// slices (see the crate docs on buffers), so Burn's pending work needs no extra flush.
    pub fn new(device: wgpu::Device, queue: wgpu::Queue) -> Self {
        let pipelines = Pipelines::new(&device);
        Self {
            gpu: Gpu { device, queue },
            pipelines,
        }
    }

    /// Requests an adapter (honouring `WGPU_BACKEND` and friends) and a device with the
    /// adapter's full limits. Async, as a browser requires.
    pub async fn request() -> Result<Self, KernelError> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|error| KernelError::NoAdapter(error.to_string()))?;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("masktune kernels"),
                required_limits: adapter.limits(),
                ..Default::default()
            })
            .await
            .map_err(|error| KernelError::Device(error.to_string()))?;
        Ok(Self::new(device, queue))
    }

    /// [`Self::request`], blocking (native only).
    #[cfg(not(target_family = "wasm"))]
    pub fn request_blocking() -> Result<Self, KernelError> {
        pollster::block_on(Self::request())
    }

    /// The device the kernels run on.
    pub fn device(&self) -> &wgpu::Device {
        &self.gpu.device
    }

    fn stages(&self) -> Stages<'_> {
        Stages {
            gpu: &self.gpu,
            pipelines: &self.pipelines,
        }
    }

    /// A command encoder for one operation, and the error scope that catches whatever the device
    /// rejects while it is recorded and submitted (a browser only logs such errors otherwise, and
    /// the results would read back as zeros).
    fn encoder(&self) -> (wgpu::CommandEncoder, wgpu::ErrorScopeGuard) {
        let scope = self
            .gpu
            .device
            .push_error_scope(wgpu::ErrorFilter::Validation);
        let encoder = self
            .gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        (encoder, scope)
    }

    /// Channel weights `[batch, channels]` for `activations` of `shape`.
    pub async fn channel_weights(
        &self,
        activations: &[f32],
        shape: FeatureShape,
        weights: ChannelWeights<'_>,
    ) -> Result<Vec<f32>, KernelError> {
        shape.check(activations)?;
        let (mut encoder, scope) = self.encoder();
        let activations = self
            .gpu
            .upload("activations", bytemuck::cast_slice(activations))?;
        let weights = self
            .stages()
            .weights(&mut encoder, &activations, shape, weights)?;
        let staging = self.gpu.stage(&mut encoder, &weights);
        let [bytes] = self.finish(encoder, scope, [staging]).await?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    /// Saliency maps `[batch, out_height, out_width]` in `[0, 1]`: `ReLU(sum_k w_k A_k)`,
    /// min-max normalised, resized like OpenCV's INTER_LINEAR, min-max normalised again.
    pub async fn saliency_maps(
        &self,
        activations: &[f32],
        shape: FeatureShape,
        weights: ChannelWeights<'_>,
        out_height: usize,
        out_width: usize,
    ) -> Result<Vec<f32>, KernelError> {
        shape.check(activations)?;
        let (mut encoder, scope) = self.encoder();
        let maps = self.encode_maps(
            &mut encoder,
            activations,
            shape,
            weights,
            out_height,
            out_width,
        )?;
        let staging = self.gpu.stage(&mut encoder, &maps);
        let [bytes] = self.finish(encoder, scope, [staging]).await?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    /// MaskTune's masking of raw `images` in place with their saliency `maps`
    /// (`[batch, height, width]`, the images' resolution): per image, pixels whose map value
    /// exceeds `mean + 2 * std` of the positive values get 0 in every colour channel.
    pub async fn mask_images(
        &self,
        maps: &[f32],
        images: &mut [u8],
        layout: ImageLayout,
    ) -> Result<Vec<MaskStats>, KernelError> {
        let batch = layout.batch(maps.len(), images.len())?;
        let (mut encoder, scope) = self.encoder();
        let maps = self.gpu.upload("maps", bytemuck::cast_slice(maps))?;
        let stats = self.encode_mask(&mut encoder, &maps, images, batch, layout)?;
        let [thresholds, hidden, masked] = self.finish(encoder, scope, stats).await?;
        Ok(read_mask(images, &masked, &thresholds, &hidden))
    }

    /// The whole of MaskTune steps 2 and 3 after the network: saliency maps at the images'
    /// resolution, returned, and the images masked in place, in one submission.
    pub async fn saliency_and_mask(
        &self,
        activations: &[f32],
        shape: FeatureShape,
        weights: ChannelWeights<'_>,
        images: &mut [u8],
        layout: ImageLayout,
    ) -> Result<(Vec<f32>, Vec<MaskStats>), KernelError> {
        shape.check(activations)?;
        expect_len(
            "image bytes",
            images.len(),
            shape.batch * layout.pixels() * layout.format.channels(),
        )?;
        let (mut encoder, scope) = self.encoder();
        let maps = self.encode_maps(
            &mut encoder,
            activations,
            shape,
            weights,
            layout.height,
            layout.width,
        )?;
        let [thresholds, hidden, masked] =
            self.encode_mask(&mut encoder, &maps, images, shape.batch, layout)?;
        let maps = self.gpu.stage(&mut encoder, &maps);
        let [maps, thresholds, hidden, masked] = self
            .finish(encoder, scope, [maps, thresholds, hidden, masked])
            .await?;
        let stats = read_mask(images, &masked, &thresholds, &hidden);
        Ok((bytemuck::pod_collect_to_vec(&maps), stats))
    }

    fn encode_maps(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        activations: &[f32],
        shape: FeatureShape,
        weights: ChannelWeights<'_>,
        out_height: usize,
        out_width: usize,
    ) -> Result<wgpu::Buffer, KernelError> {
        let stages = self.stages();
        let activations = self
            .gpu
            .upload("activations", bytemuck::cast_slice(activations))?;
        let weights = stages.weights(encoder, &activations, shape, weights)?;
        let cam = stages.cam_map(encoder, &activations, &weights, shape)?;
        stages.scale(encoder, &cam, shape, out_height, out_width)
    }

    /// Uploads `images` (zero-padded to whole words), records thresholding and masking, and
    /// returns the staging buffers of thresholds, hidden-pixel counts and masked images.
    fn encode_mask(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        maps: &wgpu::Buffer,
        images: &[u8],
        batch: usize,
        layout: ImageLayout,
    ) -> Result<[wgpu::Buffer; 3], KernelError> {
        let mut padded = images.to_vec();
        padded.resize(images.len().next_multiple_of(4), 0);
        let images = self.gpu.upload("images", &padded)?;
        let (thresholds, hidden) = self.stages().mask(encoder, maps, &images, batch, layout)?;
        Ok([
            self.gpu.stage(encoder, &thresholds),
            self.gpu.stage(encoder, &hidden),
            self.gpu.stage(encoder, &images),
        ])
    }

    async fn finish<const N: usize>(
        &self,
        encoder: wgpu::CommandEncoder,
        scope: wgpu::ErrorScopeGuard,
        staging: [wgpu::Buffer; N],
    ) -> Result<[Vec<u8>; N], KernelError> {
        let bytes = self.gpu.finish(encoder, scope, &staging).await?;
        Ok(bytes.try_into().expect("one read-back per staging buffer"))
    }
}

/// Copies the masked bytes back into `images` and pairs thresholds with hidden-pixel counts.
fn read_mask(images: &mut [u8], masked: &[u8], thresholds: &[u8], hidden: &[u8]) -> Vec<MaskStats> {
    images.copy_from_slice(&masked[..images.len()]);
    let thresholds: Vec<f32> = bytemuck::pod_collect_to_vec(thresholds);
    let hidden: Vec<u32> = bytemuck::pod_collect_to_vec(hidden);
    thresholds
        .into_iter()
        .zip(hidden)
        .map(|(threshold, hidden)| MaskStats {
            threshold,
            masked_pixels: hidden as usize,
        })
        .collect()
}
