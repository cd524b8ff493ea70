//! Recording each kernel into a command encoder. Intermediate results stay in device buffers,
//! so a whole pipeline is one submission with one read-back at the end.

use crate::KernelError;
use crate::gpu::{Gpu, grid};
use crate::layout::{ChannelWeights, FeatureShape, ImageLayout, expect_len};
use crate::pipelines::Pipelines;

/// Dimensions as the kernels' `u32` parameters (checked, so indices cannot wrap in a shader).
fn dims<const N: usize>(values: [usize; N]) -> Result<[u32; N], KernelError> {
    let mut out = [0; N];
    for (out, value) in out.iter_mut().zip(values) {
        *out = u32::try_from(value)
            .map_err(|_| KernelError::Shape(format!("dimension {value} exceeds u32")))?;
    }
    Ok(out)
}

pub(crate) struct Stages<'a> {
    pub gpu: &'a Gpu,
    pub pipelines: &'a Pipelines,
}

impl Stages<'_> {
    /// Channel weights `[batch, channels]` of the uploaded `activations`.
    pub fn weights(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        activations: &wgpu::Buffer,
        shape: FeatureShape,
        weights: ChannelWeights<'_>,
    ) -> Result<wgpu::Buffer, KernelError> {
        let count = shape.batch * shape.channels;
        let [batch, channels, plane] = dims([shape.batch, shape.channels, shape.plane()])?;
        match weights {
            ChannelWeights::Given(given) => {
                expect_len("channel weights", given.len(), count)?;
                self.gpu.upload("weights", bytemuck::cast_slice(given))
            }
            ChannelWeights::XGradCam { gradients } => {
                expect_len("gradients", gradients.len(), shape.values())?;
                let gradients = self
                    .gpu
                    .upload("gradients", bytemuck::cast_slice(gradients))?;
                let out = self.gpu.output("weights", count)?;
                let params = self.gpu.params(&[batch, channels, plane, 0]);
                self.gpu.dispatch(
                    encoder,
                    &self.pipelines.xgradcam_weights,
                    &[(0, &params), (1, activations), (2, &gradients), (5, &out)],
                    grid(count),
                );
                Ok(out)
            }
            ChannelWeights::GapLinear {
                classifier,
                classes,
                targets,
            } => {
                expect_len(
                    "classifier weights",
                    classifier.len(),
                    classes * shape.channels,
                )?;
                expect_len("targets", targets.len(), shape.batch)?;
                if let Some(&target) = targets.iter().find(|&&t| t as usize >= classes) {
                    return Err(KernelError::Shape(format!(
                        "target class {target} out of range for {classes} classes"
                    )));
                }
                let classifier = self
                    .gpu
                    .upload("classifier", bytemuck::cast_slice(classifier))?;
                let targets = self.gpu.upload("targets", bytemuck::cast_slice(targets))?;
                let out = self.gpu.output("weights", count)?;
                let [classes] = dims([classes])?;
                let params = self.gpu.params(&[batch, channels, plane, classes]);
                self.gpu.dispatch(
                    encoder,
                    &self.pipelines.gap_linear_weights,
                    &[
                        (0, &params),
                        (1, activations),
                        (3, &classifier),
                        (4, &targets),
                        (5, &out),
                    ],
                    grid(count),
                );
                Ok(out)
            }
        }
    }

    /// `ReLU(sum_k w_k A_k)`, `[batch, height * width]`.
    pub fn cam_map(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        activations: &wgpu::Buffer,
        weights: &wgpu::Buffer,
        shape: FeatureShape,
    ) -> Result<wgpu::Buffer, KernelError> {
        let count = shape.batch * shape.plane();
        let [batch, channels, plane] = dims([shape.batch, shape.channels, shape.plane()])?;
        let out = self.gpu.output("cam", count)?;
        let params = self.gpu.params(&[batch, channels, plane, 0]);
        self.gpu.dispatch(
            encoder,
            &self.pipelines.cam_map,
            &[(0, &params), (1, activations), (2, weights), (3, &out)],
            grid(count),
        );
        Ok(out)
    }

    /// Min-max, resize to `out_height x out_width`, min-max: `[batch, out_height * out_width]`.
    pub fn scale(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        cam: &wgpu::Buffer,
        shape: FeatureShape,
        out_height: usize,
        out_width: usize,
    ) -> Result<wgpu::Buffer, KernelError> {
        if out_height == 0 || out_width == 0 {
            return Err(KernelError::Shape("empty output size".into()));
        }
        let params = self
            .gpu
            .params(&dims([shape.height, shape.width, out_height, out_width])?);
        let out = self
            .gpu
            .output("maps", shape.batch * out_height * out_width)?;
        self.gpu.dispatch(
            encoder,
            &self.pipelines.scale,
            &[(0, &params), (1, cam), (2, &out)],
            self.gpu.per_item(shape.batch)?,
        );
        Ok(out)
    }

    /// Thresholds the maps and zeroes the hidden pixels of `images` (packed bytes, padded to
    /// whole words) in place. Returns the buffers of thresholds `[batch]` (f32) and hidden
    /// pixel counts `[batch]` (u32).
    pub fn mask(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        maps: &wgpu::Buffer,
        images: &wgpu::Buffer,
        batch: usize,
        layout: ImageLayout,
    ) -> Result<(wgpu::Buffer, wgpu::Buffer), KernelError> {
        let words = (images.size() / 4) as usize;
        let [batch_u, pixels, channels, colour, words_u] = dims([
            batch,
            layout.pixels(),
            layout.format.channels(),
            layout.format.colour_channels(),
            words,
        ])?;
        let params = self
            .gpu
            .params(&[batch_u, pixels, channels, colour, words_u, 0, 0, 0]);
        let thresholds = self.gpu.output("thresholds", batch)?;
        let hidden = self.gpu.output("hidden pixels", batch)?;
        self.gpu.dispatch(
            encoder,
            &self.pipelines.threshold,
            &[(0, &params), (1, maps), (2, &thresholds), (3, &hidden)],
            self.gpu.per_item(batch)?,
        );
        self.gpu.dispatch(
            encoder,
            &self.pipelines.apply_mask,
            &[(0, &params), (1, maps), (2, &thresholds), (4, images)],
            grid(words),
        );
        Ok((thresholds, hidden))
    }
}
