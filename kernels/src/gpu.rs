//! Buffers, dispatches and read-back on a wgpu device: the plumbing shared by all kernels.

use crate::KernelError;
use futures_channel::oneshot;
use wgpu::util::DeviceExt;

/// Invocations per workgroup of the grid-stride kernels (weights, `cam_map`, `apply_mask`).
const GRID_WORKGROUP: usize = 256;
/// Upper bound on the workgroups of one grid-stride dispatch (below every device's limit).
const MAX_GRID_WORKGROUPS: usize = 1024;

/// Workgroups for a grid-stride kernel over `items`: enough to cover them, at most
/// [`MAX_GRID_WORKGROUPS`]. Software devices (lavapipe, SwiftShader) pay per workgroup, and
/// 1024 x 256 invocations still fill a large GPU.
pub(crate) fn grid(items: usize) -> u32 {
    items.div_ceil(GRID_WORKGROUP).clamp(1, MAX_GRID_WORKGROUPS) as u32
}

/// A device and queue plus the helpers that talk to them.
#[derive(Clone)]
pub(crate) struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
}

impl Gpu {
    /// A storage buffer holding `contents` (4-byte multiple).
    pub fn upload(&self, what: &'static str, contents: &[u8]) -> Result<wgpu::Buffer, KernelError> {
        self.check_size(what, contents.len())?;
        Ok(self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(what),
                contents,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            }))
    }

    /// A storage buffer of `values` 32-bit values for a kernel to write.
    pub fn output(&self, what: &'static str, values: usize) -> Result<wgpu::Buffer, KernelError> {
        let bytes = values * 4;
        self.check_size(what, bytes)?;
        Ok(self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(what),
            size: bytes as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        }))
    }

    /// A uniform buffer of `u32` kernel parameters (WGSL pads uniform structs to 16 bytes).
    pub fn params(&self, values: &[u32]) -> wgpu::Buffer {
        debug_assert_eq!(values.len() % 4, 0, "uniform structs are 16-byte multiples");
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("params"),
                contents: bytemuck::cast_slice(values),
                usage: wgpu::BufferUsages::UNIFORM,
            })
    }

    fn check_size(&self, what: &'static str, bytes: usize) -> Result<(), KernelError> {
        let limits = self.device.limits();
        let limit = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        if bytes as u64 > limit {
            return Err(KernelError::TooLarge {
                what,
                bytes: bytes as u64,
                limit,
            });
        }
        if bytes == 0 {
            return Err(KernelError::Shape(format!("{what} is empty")));
        }
        Ok(())
    }

    /// Records one dispatch of `pipeline` with `bindings` (binding number, buffer) on group 0.
    pub fn dispatch(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        pipeline: &wgpu::ComputePipeline,
        bindings: &[(u32, &wgpu::Buffer)],
        workgroups: u32,
    ) {
        let entries: Vec<_> = bindings
            .iter()
            .map(|&(binding, buffer)| wgpu::BindGroupEntry {
                binding,
                resource: buffer.as_entire_binding(),
            })
            .collect();
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(workgroups, 1, 1);
    }

    /// Workgroups for a per-item kernel over `count` items (one workgroup per item).
    pub fn per_item(&self, count: usize) -> Result<u32, KernelError> {
        let limit = self.device.limits().max_compute_workgroups_per_dimension;
        u32::try_from(count)
            .ok()
            .filter(|&groups| groups <= limit)
            .ok_or(KernelError::TooManyWorkgroups { count, limit })
    }

    /// Copies `buffer` into a fresh mappable buffer at the end of `encoder`'s work.
    pub fn stage(&self, encoder: &mut wgpu::CommandEncoder, buffer: &wgpu::Buffer) -> wgpu::Buffer {
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("read-back"),
            size: buffer.size(),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, buffer.size());
        staging
    }

    /// Submits `encoder` and returns the bytes of each staging buffer once the device is done,
    /// or the error `scope` caught (an invalid submission runs nothing).
    pub async fn finish(
        &self,
        encoder: wgpu::CommandEncoder,
        scope: wgpu::ErrorScopeGuard,
        staging: &[wgpu::Buffer],
    ) -> Result<Vec<Vec<u8>>, KernelError> {
        self.queue.submit([encoder.finish()]);
        if let Some(error) = scope.pop().await {
            return Err(KernelError::Rejected(error.to_string()));
        }
        let mapped: Vec<_> = staging
            .iter()
            .map(|buffer| {
                let (sender, receiver) = oneshot::channel();
                buffer.map_async(wgpu::MapMode::Read, .., move |result| {
                    // The receiver only disappears if the caller's future was dropped.
                    let _ = sender.send(result);
                });
                receiver
            })
            .collect();
        // Natively this blocks until the work is done and the map callbacks have run. In a
        // browser it returns at once and the page's event loop fires the callbacks, which is why
        // everything above this is async.
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|error| KernelError::Readback(error.to_string()))?;
        for receiver in mapped {
            receiver
                .await
                .map_err(|_| KernelError::Readback("the map callback was dropped".into()))?
                .map_err(|error| KernelError::Readback(error.to_string()))?;
        }
        staging
            .iter()
            .map(|buffer| {
                let bytes = buffer
                    .get_mapped_range(..)
                    .map_err(|error| KernelError::Readback(error.to_string()))?
                    .to_vec();
                buffer.unmap();
                Ok(bytes)
            })
            .collect()
    }
}
